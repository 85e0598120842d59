"""Every op, one line each, through the public harness ``tl.testing.check_op``: forward against
a NumPy reference in float64 and float32, the same values and gradients for strided, transposed
and stride-0 inputs and a strided output gradient, plain against create_graph backward, float64
gradcheck and gradgradcheck of every differentiable input, NaN propagation, inputs left
unmodified -- over shape cases that include broadcasting, 0-d and zero-size tensors (and, for
each op's first case, the broadcast / 0-d / empty variants check_op generates itself).

`test_every_op_is_covered` fails when an op is added to tinygrad_lab (any Function subclass in
tinygrad_lab.ops) without a line in SPECS below, so no op can land untested. The same SPECS drive
tests/test_derivatives.py (each op's C VJP against its formula).
"""
import math

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import OPS

from tinygrad_lab.testing import check_op

from . import conv_ref
from .helpers import noncontiguous, rng_array, rng_for


def _erf(a):
    return np.vectorize(math.erf, otypes=[np.float64])(a) if np.size(a) else np.asarray(a, np.float64)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _gelu(a):
    return 0.5 * a * (1 + _erf(a / math.sqrt(2)))


U = [(3, 4), (), (0, 3), (2, 1, 3)]                          # unary shape cases
B = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)),   # binary shape cases (broadcasting)
     ((), (3,)), ((0, 3), (3,)), ((2, 3), ())]
R = [((3, 4), None), ((3, 4), 0), ((3, 4), -1), ((2, 3, 2), (0, 2)), ((), None), ((2, 0), 1)]


class Spec:
    """One op's test: `fn` on tl tensors, `ref` on NumPy arrays, cases of input shapes, the value
    domain of the inputs, and extra keyword arguments (`grad`: the inputs to differentiate;
    `gc_kw`: gradcheck's; `nan=False` for an op whose math does not propagate NaN)."""

    def __init__(self, fn, ref, cases, low=-2.0, high=2.0, grad=True, reduce=False, gc_kw=None,
                 nan=True):
        self.fn, self.ref, self.cases = fn, ref, cases
        self.low, self.high, self.grad, self.reduce, self.gc_kw = low, high, grad, reduce, gc_kw
        self.nan, self.name = nan, None


def _where_ref(c, a, b):
    return np.where(c > 0, a, b)


def _np_log_softmax(x, axis=-1):
    if x.ndim == 0:
        return np.zeros_like(x)
    m = np.max(x, axis=axis, keepdims=True) if x.size else 0.0
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def _classes(shape):
    """Deterministic int64 class indices for scores of `shape` ((N, C, d...) -> (N, d...))."""
    out = (shape[0],) + shape[2:]
    return np.arange(int(np.prod(out)), dtype=np.int64).reshape(out) * 7 % shape[1]


def _pick(x, shape):
    """x[n, target[n, d...], d...] for the targets _classes(shape) gives."""
    t = _classes(shape)
    return np.take_along_axis(x, t[:, None], axis=1)[:, 0]


def _bce_ref(x, t):
    return -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))


SPECS = {
    # ---- unary (csrc/elementwise.c) ----
    "Neg":       Spec(lambda x: -x, lambda x: -x, U),
    "Abs":       Spec(tl.abs, np.abs, U),
    "Exp":       Spec(tl.exp, np.exp, U),
    "Log":       Spec(tl.log, np.log, U, low=0.2, high=3.0),
    "Sqrt":      Spec(tl.sqrt, np.sqrt, U, low=0.2, high=3.0),
    "Erf":       Spec(tl.erf, _erf, U),
    "Sin":       Spec(tl.sin, np.sin, U),
    "Cos":       Spec(tl.cos, np.cos, U),
    "Tanh":      Spec(tl.tanh, np.tanh, U),
    "Sigmoid":   Spec(tl.sigmoid, _sigmoid, U),
    "Relu":      Spec(tl.relu, lambda x: np.maximum(x, 0), U),
    "LeakyRelu": Spec(lambda x: tl.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x), U),
    "Gelu":      Spec(tl.gelu, _gelu, U),
    "Clamp":     Spec(lambda x: tl.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), U),
    "PowScalar": Spec(lambda x: x ** 2.5, lambda x: x ** 2.5, U, low=0.2, high=2.0),
    "AddScalar": Spec(lambda x: x + 0.75 - 2, lambda x: x + 0.75 - 2, U),
    "MulScalar": Spec(lambda x: 3 * (x * -1.5), lambda x: 3 * (x * -1.5), U),
    "RsubScalar": Spec(lambda x: 1.25 - x, lambda x: 1.25 - x, U),
    "DivScalar": Spec(lambda x: x / 3, lambda x: x / 3, U),
    "RdivScalar": Spec(lambda x: 2.5 / x, lambda x: 2.5 / x, U, low=0.5, high=2.0),
    # PyTorch's other common unary ops and activations (tests/test_more_unary_ops.py has more)
    "Reciprocal": Spec(tl.reciprocal, lambda x: 1 / x, U, low=0.5, high=2.0),
    "Rsqrt":     Spec(tl.rsqrt, lambda x: 1 / np.sqrt(x), U, low=0.2, high=3.0),
    "Log1p":     Spec(tl.log1p, np.log1p, U, low=-0.5, high=2.0),
    "Expm1":     Spec(tl.expm1, np.expm1, U),
    "Sign":      Spec(tl.sign, np.sign, U, nan=False),    # sign(NaN) = 0, as PyTorch
    "Silu":      Spec(F.silu, lambda x: x / (1 + np.exp(-x)), U),
    "Softplus":  Spec(lambda x: F.softplus(x, 2.0, 3.0),  # both sides of beta * x = threshold
                      lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2), U),
    "Softplus1": Spec(F.softplus, lambda x: np.log1p(np.exp(x)), U),
    "Elu":       Spec(lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), U),
    "Elu1":      Spec(F.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)), U),
    "Hardtanh":  Spec(lambda x: F.hardtanh(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), U),
    "LogSigmoid": Spec(F.logsigmoid, lambda x: -np.logaddexp(0, -x), U),
    "Mish":      Spec(F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x))), U),
    "Softsign":  Spec(F.softsign, lambda x: x / (1 + np.abs(x)), U),
    # rounding (tests/test_math_ops.py has more): zero gradients, frac's is g
    "Floor":     Spec(tl.floor, np.floor, U),
    "Ceil":      Spec(tl.ceil, np.ceil, U),
    "Trunc":     Spec(tl.trunc, np.trunc, U),
    "Round":     Spec(tl.round, np.round, U),                 # (NumPy's round is half to even too)
    "Round1":    Spec(lambda x: tl.round(x, decimals=1), lambda x: np.round(x, 1), U),
    "Frac":      Spec(tl.frac, lambda x: x - np.trunc(x), U),
    # activations (tests/test_more_activations.py has more); 0.7 is a special point of
    # tests/test_derivatives.py: the shrink bounds and the threshold sit on it
    "Hardsigmoid": Spec(F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, U, low=-4.0, high=4.0),
    "Hardswish": Spec(F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, U, low=-4.0, high=4.0),
    "Celu":      Spec(lambda x: F.celu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x / 0.7)), U),
    "Softshrink": Spec(lambda x: F.softshrink(x, 0.7),
                       lambda x: np.where(x > 0.7, x - 0.7, np.where(x < -0.7, x + 0.7, 0.0)), U),
    "Hardshrink": Spec(lambda x: F.hardshrink(x, 0.7), lambda x: np.where(np.abs(x) > 0.7, x, 0.0), U),
    "Threshold": Spec(lambda x: F.threshold(x, 0.7, -2.0), lambda x: np.where(x <= 0.7, -2.0, x), U),
    # trig and hyperbolic (tests/test_math_ops.py has more)
    "Tan":       Spec(tl.tan, np.tan, U, low=-1.2, high=1.2),
    "Asin":      Spec(tl.asin, np.arcsin, U, low=-0.9, high=0.9),
    "Acos":      Spec(tl.acos, np.arccos, U, low=-0.9, high=0.9),
    "Atan":      Spec(tl.atan, np.arctan, U),
    "Sinh":      Spec(tl.sinh, np.sinh, U),
    "Cosh":      Spec(tl.cosh, np.cosh, U),
    "Asinh":     Spec(tl.asinh, np.arcsinh, U),
    "Acosh":     Spec(tl.acosh, np.arccosh, U, low=1.1, high=3.0),
    "Atanh":     Spec(tl.atanh, np.arctanh, U, low=-0.9, high=0.9),
    # ---- binary with broadcasting ----
    "Add":       Spec(lambda a, b: a + b, np.add, B),
    "Sub":       Spec(lambda a, b: a - b, np.subtract, B),
    "Mul":       Spec(lambda a, b: a * b, np.multiply, B),
    "Div":       Spec(lambda a, b: a / b, np.divide, B, low=0.5, high=2.0),
    "Pow":       Spec(lambda a, b: a ** b, np.power, B, low=0.5, high=2.0),
    "Maximum":   Spec(tl.maximum, np.maximum, B),
    "Minimum":   Spec(tl.minimum, np.minimum, B),
    "Atan2":     Spec(tl.atan2, np.arctan2, B),
    "Logaddexp": Spec(tl.logaddexp, np.logaddexp, B),
    "Hypot":     Spec(tl.hypot, np.hypot, B),
    # lerp (weight a tensor, or a number on each side of 0.5), nan_to_num
    "Lerp":      Spec(tl.lerp, lambda a, b, w: a + w * (b - a),
                      [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ()), ((0, 2), (2,), (0, 2))]),
    "Lerp1":     Spec(lambda a, b: tl.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a), B),
    "Lerp2":     Spec(lambda a, b: tl.lerp(a, b, 0.8), lambda a, b: a + 0.8 * (b - a), B),
    "Addcmul":   Spec(lambda a, b, c: tl.addcmul(a, b, c, value=0.5), lambda a, b, c: a + 0.5 * b * c,
                      [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ()), ((0, 2), (2,), (0, 2))]),
    "Addcdiv":   Spec(lambda a, b, c: tl.addcdiv(a, b, c, value=-2.0), lambda a, b, c: a - 2.0 * b / c,
                      [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ()), ((0, 2), (2,), (0, 2))],
                      low=0.5, high=2.0),
    "NanToNum":  Spec(lambda x: tl.nan_to_num(x, 0.5, 3.0, -4.0),
                      lambda x: np.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-4.0), U, nan=False),
    "Where":     Spec(lambda c, a, b: tl.where(c > 0, a, b), _where_ref,
                      [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ()), ((0, 2), (2,), (0, 2))], grad=(1, 2)),
    # ---- reductions (csrc/reduce.c); case = (shape, dim) ----
    "Sum":       Spec(tl.sum, np.sum, R, reduce=True),
    "Mean":      Spec(tl.mean, np.mean, [(3, 4), (2, 3, 4), (), (5,)]),
    "Max":       Spec(tl.max, np.max, [c for c in R if 0 not in c[0]], reduce=True),
    "Min":       Spec(tl.min, np.min, [c for c in R if 0 not in c[0]], reduce=True),
    "Norm":      Spec(lambda x, dim=None, keepdim=False: tl.norm(x, 2, dim, keepdim),
                      lambda x, axis=None, keepdims=False: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)),
                      [c for c in R if 0 not in c[0]], reduce=True),
    "Norm3":     Spec(lambda x: tl.norm(x, 3.0, 1), lambda x: np.sum(np.abs(x) ** 3, axis=1) ** (1 / 3),
                      [(3, 4), (2, 5)]),
    # torch.cdist (a formula alone, PyTorch's derivative; tests/test_stats.py): p = 2, 1, inf, 0.5
    "Cdist":     Spec(tl.cdist, lambda a, b: _cdist_ref(a, b, 2),
                      [((3, 4), (2, 4)), ((2, 1, 3), (1, 2, 3)), ((0, 2), (3, 2))]),
    "Cdist1":    Spec(lambda a, b: tl.cdist(a, b, 1.0), lambda a, b: _cdist_ref(a, b, 1), [((3, 4), (2, 4))]),
    "Cdist2":    Spec(lambda a, b: tl.cdist(a, b, float("inf")), lambda a, b: _cdist_ref(a, b, np.inf),
                      [((3, 4), (2, 4))]),
    "Cdist3":    Spec(lambda a, b: tl.cdist(a, b, 0.5), lambda a, b: _cdist_ref(a, b, 0.5), [((2, 3), (2, 3))]),
    # cumsum and prod along a dim (tests/test_scans_products.py); Amax/Amin are Max/Min
    "Cumsum":    Spec(lambda x: tl.cumsum(x, 1), lambda x: np.cumsum(x, 1), [(3, 4), (2, 3, 2), (0, 3)]),
    "Cumsum1":   Spec(lambda x: x.cumsum(-1), lambda x: np.cumsum(x, -1) if x.ndim else x, [(), (5,)]),
    "Prod":      Spec(tl.prod, np.prod, [((3, 4), 0), ((3, 4), -1), ((2, 3, 2), 1), ((2, 0), 1), ((0, 2), 0)],
                      reduce=True),
    "Prod1":     Spec(lambda x: x.prod(), np.prod, [(3, 4), (), (0, 3), (5,)]),
    # sorting, order statistics and scans along a dim (csrc/sort.c; tests/test_sort_ops.py)
    "Sort":      Spec(lambda x: tl.sort(x, 1, descending=True).values, lambda x: -np.sort(-x, 1),
                      [(3, 4), (2, 3, 2), (0, 3)], nan=False),   # (NaN moves: the largest value)
    "Sort1":     Spec(lambda x: x.sort().values, lambda x: np.sort(x, -1) if x.ndim else x, [(), (5,)],
                      nan=False),
    "Sort2":     Spec(lambda x: x.topk(2, 0, largest=False).values, lambda x: np.sort(x, 0)[:2],
                      [(3, 4), (4,)], nan=False),
    "Kthvalue":  Spec(lambda x: tl.kthvalue(x, 2, 1).values, lambda x: np.sort(x, 1)[:, 1],
                      [(3, 4), (2, 3, 2)], nan=False),
    "Kthvalue1": Spec(lambda x: x.median(0, keepdim=True).values,
                      lambda x: np.sort(x, 0)[(len(x) - 1) // 2][None] if x.ndim else x, [(4, 3), (5,)],
                      nan=False),
    "Median":    Spec(tl.median, lambda x: np.sort(x, None)[(x.size - 1) // 2] if x.size else np.nan,
                      [(3, 4), (), (5,)]),
    "Cummax":    Spec(lambda x: x.cummax(1).values, lambda x: np.maximum.accumulate(x, 1),
                      [(3, 4), (2, 3, 2), (0, 3)]),
    "Cummax1":   Spec(lambda x: tl.cummin(x, 0).values, lambda x: np.minimum.accumulate(x, 0) if x.ndim else x,
                      [(4, 3), ()]),
    "Cumprod":   Spec(lambda x: tl.cumprod(x, 1), lambda x: np.cumprod(x, 1), [(3, 4), (2, 3, 2), (0, 3)]),
    "Cumprod1":  Spec(lambda x: x.cumprod(-1), lambda x: np.cumprod(x, -1) if x.ndim else x, [(), (5,)]),
    "Logcumsumexp": Spec(lambda x: tl.logcumsumexp(x, 1), lambda x: np.logaddexp.accumulate(x, 1),
                         [(3, 4), (2, 3, 2), (0, 3)]),
    "Logcumsumexp1": Spec(lambda x: x.logcumsumexp(-1), lambda x: np.logaddexp.accumulate(x, -1) if x.ndim else x,
                          [(), (5,)]),
    # ---- shape ops (views and copies, csrc/copy.c) ----
    "Reshape":   Spec(lambda x: x.reshape(2, -1), lambda x: x.reshape(2, -1), [(3, 4), (2, 3, 1), (2, 0)]),
    "Permute":   Spec(lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), [(2, 3, 4), (0, 2, 3)]),
    "Expand":    Spec(lambda x: x.expand(2, 3, 4), lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1), (4,), ()]),
    "BasicIndex": Spec(lambda x: x[1:, None, ::2], lambda x: x[1:, None, ::2], [(3, 5), (4, 3, 2)]),
    "IndexBackward": Spec(lambda x: tl.ops.shape.IndexBackward.apply(x, (4, 3), (slice(1, 4, 2), 2)),
                          lambda x: _index_backward_ref(x), [(2,)]),
    "Copy":      Spec(lambda x: x.T.contiguous(), lambda x: x.T.copy(), [(3, 4), (0, 2)]),
    "Cast":      Spec(lambda x: x.to(tl.float32 if x.dtype is tl.float64 else tl.float64).to(x.dtype), lambda x: x.astype(np.float32).astype(np.float64),
                      [(3, 4), ()], gc_kw=dict(eps=1e-3, atol=1e-4)),  # float32 rounding inside
    "Cat":       Spec(lambda a, b: tl.cat([a, b], 1), lambda a, b: np.concatenate([a, b], 1),
                      [((2, 3), (2, 1)), ((2, 0), (2, 2))]),
    # flip (a copy through negated strides), diagonal (a strided view) and its VJP, which is also
    # torch.diag of a vector (tests/test_shape_ops_more.py)
    "Flip":      Spec(lambda x: x.flip((0, -1)), lambda x: np.flip(x, (0, -1)), [(3, 4), (2, 3, 2), (0, 3)]),
    "Flip1":     Spec(lambda x: x.flip(0), lambda x: np.flip(x, 0) if x.ndim else x, [(5,), (3, 1)]),
    "Diagonal":  Spec(lambda x: x.diagonal(1, -1, 0), lambda x: np.diagonal(x, 1, -1, 0), [(3, 4), (2, 3, 4), (0, 3)]),
    "Diagonal1": Spec(lambda x: x.diagonal(-1), lambda x: np.diagonal(x, -1), [(4, 3), (3, 2, 2)]),
    "DiagonalBackward": Spec(lambda v: tl.diag(v, 1), lambda v: np.diag(v, 1), [(3,), (0,), (1,)]),
    # F.pad's constant mode (tl_fill + tl_copy into the interior; tests/test_pad.py)
    "ConstantPad": Spec(lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), lambda x: np.pad(x, ((0, 0),) * (x.ndim - 2) + ((0, 1), (1, 2)), constant_values=0.5),
                        [(3, 4), (2, 3, 2), (0, 3)]),
    "ConstantPad1": Spec(lambda x: F.pad(x, (2, -1)), lambda x: np.pad(x[..., :-1], ((0, 0),) * (x.ndim - 1) + ((2, 0),)),
                         [(3, 4), (5,)]),
    # ---- matrix multiplication (csrc/matmul.c); VJP = matmul on transposed views ----
    "Matmul":    Spec(lambda a, b: a @ b, np.matmul,
                      [((3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 1, 3, 4), (3, 4, 2)),
                       ((4,), (4,)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]),
    "Linear":    Spec(lambda x, w, b: tl.nn.functional.linear(x, w, b), lambda x, w, b: x @ w.T + b,
                      [((3, 4), (5, 4), (5,)), ((1, 2), (3, 2), (3,)), ((0, 3), (2, 3), (2,)),
                       ((2, 0), (3, 0), (3,))]),
    "LinearAct": Spec(lambda x, w, b: tl.nn.functional.linear_act(x, w, b, "tanh"),
                      lambda x, w, b: np.tanh(x @ w.T + b),
                      [((3, 4), (5, 4), (5,)), ((0, 3), (2, 3), (2,)), ((2, 0), (3, 0), (3,))]),
    # record-time fusion (ops/linalg.py): x @ W + b and an activation of it, as written
    "Addmm":     Spec(lambda x, w, b: x @ w + b, lambda x, w, b: x @ w + b,
                      [((3, 4), (4, 5), (5,)), ((1, 2), (2, 3), (3,)), ((0, 3), (3, 2), (2,)),
                       ((2, 0), (0, 3), (3,))]),
    "AddmmAct":  Spec(lambda x, w, b: (x @ w + b).tanh(), lambda x, w, b: np.tanh(x @ w + b),
                      [((3, 4), (4, 5), (5,)), ((0, 3), (3, 2), (2,)), ((2, 0), (0, 3), (3,))]),
    "AddmmAct1": Spec(lambda x, w, b: (x @ w + b).sigmoid(), lambda x, w, b: _sigmoid(x @ w + b),
                      [((3, 4), (4, 5), (5,))]),
    "AddmmAct2": Spec(lambda x, w, b: (x @ w + b).relu(), lambda x, w, b: np.maximum(x @ w + b, 0),
                      [((3, 4), (4, 5), (5,))]),
    # ---- factorisations and solves (csrc/linalg.c; tests/test_linalg.py): the inputs are made
    # well-conditioned (entries in [-0.5, 0.5] plus 3 I: _wc) or positive-definite (_spd) ----
    "Inv":       Spec(lambda a: tl.linalg.inv(_wc(a)), lambda a: np.linalg.inv(_wc(a)),
                      [(3, 3), (2, 4, 4), (0, 0), (2, 0, 0)], low=-0.5, high=0.5),
    "Solve":     Spec(lambda a, b: tl.linalg.solve(_wc(a), b), lambda a, b: np.linalg.solve(_wc(a), b),
                      [((3, 3), (3, 2)), ((2, 1, 3, 3), (3, 3, 1)), ((0, 0), (0, 2))], low=-0.5, high=0.5),
    "Solve1":    Spec(lambda a, b: tl.linalg.solve(_wc(a), b), lambda a, b: np.linalg.solve(_wc(a), b[..., None])[..., 0],
                      [((3, 3), (3,)), ((2, 3, 3), (2, 3))], low=-0.5, high=0.5),
    "Det":       Spec(lambda a: tl.linalg.det(_wc(a)), lambda a: np.linalg.det(_wc(a)),
                      [(3, 3), (2, 4, 4), (0, 0), (1, 1)], low=-0.5, high=0.5),
    "Slogdet":   Spec(lambda a: tl.linalg.slogdet(_wc(a) - 4 * _eye(a)).logabsdet,    # (det < 0 too)
                      lambda a: np.linalg.slogdet(_wc(a) - 4 * _eye(a))[1], [(3, 3), (2, 4, 4), (0, 0)],
                      low=-0.5, high=0.5),
    "Cholesky":  Spec(lambda a: tl.linalg.cholesky(_spd(a)), lambda a: np.linalg.cholesky(_spd(a)),
                      [(3, 3), (2, 4, 4), (0, 0)]),
    "SolveTriangular": Spec(lambda a, b: tl.linalg.solve_triangular(_wc(a), b, upper=True),
                            lambda a, b: np.linalg.solve(np.triu(_wc(a)), b),
                            [((3, 3), (3, 2)), ((2, 1, 3, 3), (3, 3, 2)), ((0, 0), (0, 1))], low=-0.5, high=0.5),
    "SolveTriangular1": Spec(lambda a, b: tl.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
                             lambda a, b: np.linalg.solve(np.tril(a, -1) + _eye(a), b), [((3, 3), (3, 2))],
                             low=-0.5, high=0.5),
    "Eigh":      Spec(lambda a: tuple(tl.linalg.eigh(_spread(a))), lambda a: _eigh_ref(_spread(a)),
                      [(3, 3), (2, 4, 4), (0, 0)], low=-0.5, high=0.5),
    "Eigh1":     Spec(lambda a: tl.linalg.eigvalsh(_spread(a), UPLO="U"), lambda a: np.linalg.eigvalsh(_spread(a)),
                      [(3, 3), (2, 1, 1)], low=-0.5, high=0.5),
    "Qr":        Spec(lambda a: tuple(tl.linalg.qr(a)), lambda a: np.linalg.qr(a),
                      [(5, 3), (2, 4, 4), (0, 0), (3, 0)]),
    "Qr1":       Spec(lambda a: tuple(tl.linalg.qr(a, "complete")), lambda a: np.linalg.qr(a, "complete"),
                      [(3, 3), (2, 2, 3)], grad=False),   # (complete, m > n: not differentiable)
    "LuFactor":  Spec(lambda a: tl.linalg.lu_factor(_wc(a).flip(-2)).LU, lambda a: _lu_ref(np.flip(_wc(a), -2)),
                      [(3, 3), (2, 4, 4), (0, 0)], low=-0.5, high=0.5),     # (flipped rows: pivoting)
    # ---- integer-array indexing (csrc/index.c) ----
    "Gather":    Spec(lambda x: x[[2, 0, 2], 1:], lambda x: x[[2, 0, 2], 1:], [(3, 4), (4, 2, 3)]),
    "GatherBackward": Spec(lambda g: _gather_backward(g), lambda g: _gather_backward_ref(g), [(3, 3)]),
    # torch.gather / scatter / scatter_add along a dim (csrc/index.c; tests/test_gather_scatter.py)
    "GatherDim": Spec(lambda x: tl.gather(x, 1, tl.tensor(_along(x.shape, 1, 5))),
                      lambda x: np.take_along_axis(x, _along(x.shape, 1, 5), 1), [(3, 4), (2, 3, 2), (0, 3)]),
    "GatherDimBackward": Spec(lambda g: _gather_dim_backward(g), lambda g: _scatter_ref(np.zeros((3, 4)), g, 1, True),
                              [(3, 5)]),
    "ScatterDim": Spec(lambda x, s: x.scatter_add(1, tl.tensor(_along(x.shape, 1, 3)), s),
                       lambda x, s: _scatter_ref(x, s, 1, True), [((3, 4), (3, 3)), ((2, 3, 2), (2, 3, 2))]),
    "ScatterDim1": Spec(lambda x, s: x.scatter(1, tl.tensor(_unique_along(x.shape, 1, 2)), s),
                        lambda x, s: _scatter_ref(x, s, 1, False), [((3, 4), (3, 2))]),
    # scatter_reduce along a dim (csrc/index.c; tests/test_index_reduce.py): one line per reduction
    "ScatterReduce": Spec(lambda x, s: _scatter_reduce(x, s, "sum", True),
                          lambda x, s: _scatter_reduce_ref(x, s, "sum", True), [((3, 4), (3, 3))]),
    "ScatterReduce1": Spec(lambda x, s: _scatter_reduce(x, s, "prod", True),
                           lambda x, s: _scatter_reduce_ref(x, s, "prod", True), [((3, 4), (3, 3))]),
    "ScatterReduce2": Spec(lambda x, s: _scatter_reduce(x, s, "mean", False),
                           lambda x, s: _scatter_reduce_ref(x, s, "mean", False), [((3, 4), (3, 3))]),
    "ScatterReduce3": Spec(lambda x, s: _scatter_reduce(x, s, "amax", True),
                           lambda x, s: _scatter_reduce_ref(x, s, "amax", True), [((3, 4), (3, 3))]),
    "ScatterReduce4": Spec(lambda x, s: _scatter_reduce(x, s, "amin", False),
                           lambda x, s: _scatter_reduce_ref(x, s, "amin", False), [((3, 4), (3, 3))]),
    # ---- softmax family and fused losses (csrc/nn.c); class-index losses use _classes ----
    "Softmax":   Spec(lambda x: tl.softmax(x, -1), lambda x: np.exp(_np_log_softmax(x)),
                      [(3, 4), (2, 3, 4), (0, 3), ()]),
    "LogSoftmax": Spec(lambda x: tl.log_softmax(x, -1), _np_log_softmax, [(3, 4), (2, 3, 4), (0, 3), ()]),
    "CrossEntropy": Spec(lambda x: F.cross_entropy(x, tl.tensor(_classes(x.shape)), reduction="none"),
                         lambda x: -_pick(_np_log_softmax(x, 1), x.shape), [(3, 4), (0, 4), (4, 3, 2)]),
    "NllLoss":   Spec(lambda x: F.nll_loss(x, tl.tensor(_classes(x.shape)), reduction="none"),
                      lambda x: -_pick(x, x.shape), [(3, 4), (0, 4), (4, 3, 2)]),
    "BinaryCrossEntropy": Spec(lambda x, t: F.binary_cross_entropy(x, t, reduction="none"), _bce_ref,
                               [((3, 4), (3, 4)), ((0, 2), (0, 2))], low=0.05, high=0.95),
    "BinaryCrossEntropyWithLogits": Spec(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
        lambda x, t: np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))),
        [((3, 4), (3, 4)), ((0, 2), (0, 2))]),
    "MseLoss":   Spec(lambda x, t: F.mse_loss(x, t, reduction="none"), lambda x, t: (x - t) ** 2,
                      [((3, 4), (3, 4)), ((0, 2), (0, 2)), ((), ())]),
    # ---- convolution and pooling (csrc/conv.c); the *Backward ops are recorded VJPs ----
    "Conv2d":    Spec(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
                      lambda x, w, b: conv_ref.conv2d(x, w, b, stride=2, padding=1, groups=2),
                      [((2, 4, 5, 4), (4, 2, 3, 3), (4,)), ((1, 2, 3, 3), (2, 1, 3, 2), (2,))]),
    "Conv2d1":   Spec(lambda x, w: F.conv2d(x, w, padding=(2, 1), dilation=(2, 1)),
                      lambda x, w: conv_ref.conv2d(x, w, padding=(2, 1), dilation=(2, 1)),
                      [((2, 3, 4, 4), (2, 3, 2, 3)), ((1, 1, 3, 5), (3, 1, 3, 1))]),
    "ConvTranspose2d": Spec(lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, groups=2),
                            lambda x, w, b: conv_ref.conv_transpose2d(x, w, b, 2, 1, 1, groups=2),
                            [((2, 4, 3, 2), (4, 1, 3, 2), (2,)), ((1, 2, 2, 3), (2, 3, 2, 2), (6,))]),
    "ConvTranspose2d1": Spec(lambda x, w: F.conv_transpose2d(x, w, padding=(1, 0), dilation=(2, 1)),
                             lambda x, w: conv_ref.conv_transpose2d(x, w, padding=(1, 0), dilation=(2, 1)),
                             [((2, 3, 3, 3), (3, 2, 2, 3))]),
    "Im2col":    Spec(lambda x: F.unfold(x, (2, 3), padding=1, stride=(2, 1)),
                      lambda x: _unfold_ref(x, (2, 3), 1, (2, 1)), [(2, 3, 4, 4), (1, 2, 3, 2)]),
    "Col2im":    Spec(lambda c: F.fold(c, (3, 4), (2, 2), padding=1, stride=2),
                      lambda c: _fold_ref(c, (3, 4), (2, 2), 1, 2), [(2, 12, 6), (1, 4, 6)]),
    "MaxPool2d": Spec(lambda x: F.max_pool2d(x, 2, padding=1), lambda x: conv_ref.max_pool2d(x, 2, padding=1),
                      [(2, 3, 4, 5), (1, 2, 3, 3)]),
    "MaxPool2d1": Spec(lambda x: F.max_pool2d(x, (3, 2), (2, 1), 1, (1, 2), ceil_mode=True),
                       lambda x: conv_ref.max_pool2d(x, (3, 2), (2, 1), 1, (1, 2), ceil_mode=True),
                       [(1, 2, 5, 6)]),
    "MaxPool2dBackward": Spec(lambda g: _pool_backward(g, lambda s: F.max_pool2d(s, 2)),
                              lambda g: _max_pool_backward_ref(g), [(2, 2, 2, 2)]),
    "AvgPool2d": Spec(lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: conv_ref.avg_pool2d(x, 3, 2, 1),
                      [(2, 3, 5, 4), (1, 1, 3, 3)]),
    "AvgPool2d1": Spec(lambda x: F.avg_pool2d(x, 2, 1, 1, ceil_mode=True, count_include_pad=False),
                       lambda x: conv_ref.avg_pool2d(x, 2, 1, 1, ceil_mode=True, count_include_pad=False),
                       [(1, 2, 4, 3)]),
    "AvgPool2d2": Spec(lambda x: F.avg_pool2d(x, (2, 3), divisor_override=5),
                       lambda x: conv_ref.avg_pool2d(x, (2, 3), divisor_override=5), [(1, 2, 4, 6)]),
    "AvgPool2dBackward": Spec(lambda g: _pool_backward(g, lambda s: F.avg_pool2d(s, 3, 2, 1)),
                              lambda g: _avg_pool_backward_ref(g), [(2, 2, 2, 2)]),
    "AdaptiveAvgPool2d": Spec(lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
                              lambda x: conv_ref.adaptive_pool2d(x, (3, 2), np.mean),
                              [(2, 2, 5, 4), (1, 1, 2, 3)]),
    "AdaptiveAvgPool2dBackward": Spec(lambda g: _pool_backward(g, lambda s: F.adaptive_avg_pool2d(s, (3, 2))),
                                      lambda g: conv_ref.adaptive_avg_pool2d_adjoint(g, (4, 4)), [(2, 2, 3, 2)]),
    "AdaptiveMaxPool2d": Spec(lambda x: F.adaptive_max_pool2d(x, (2, 3)),
                              lambda x: conv_ref.adaptive_pool2d(x, (2, 3), np.max),
                              [(2, 2, 5, 4), (1, 1, 3, 5)]),
    # 3-D (the same kernels with a depth dimension; tests/test_conv3d.py)
    "Conv3d":    Spec(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1, groups=2),
                      lambda x, w, b: conv_ref.conv3d(x, w, b, stride=(1, 2, 1), padding=1, groups=2),
                      [((2, 4, 3, 4, 3), (4, 2, 2, 3, 2), (4,)), ((1, 2, 2, 3, 3), (2, 1, 1, 3, 2), (2,))]),
    "Conv3d1":   Spec(lambda x, w: F.conv3d(x, w, padding=(0, 2, 1), dilation=(1, 2, 1)),
                      lambda x, w: conv_ref.conv3d(x, w, padding=(0, 2, 1), dilation=(1, 2, 1)),
                      [((1, 2, 3, 4, 3), (2, 2, 2, 2, 3))]),
    "ConvTranspose3d": Spec(lambda x, w, b: F.conv_transpose3d(x, w, b, 2, 1, 1, groups=2),
                            lambda x, w, b: conv_ref.conv_transpose3d(x, w, b, 2, 1, 1, groups=2),
                            [((1, 4, 2, 3, 2), (4, 1, 3, 2, 2), (2,))]),
    "MaxPool3d": Spec(lambda x: F.max_pool3d(x, 2, padding=1), lambda x: conv_ref.max_pool3d(x, 2, padding=1),
                      [(2, 2, 3, 4, 3), (1, 1, 2, 3, 3)]),
    "MaxPool3d1": Spec(lambda x: F.max_pool3d(x, (2, 3, 2), (1, 2, 1), (1, 1, 0), (2, 1, 1), ceil_mode=True),
                       lambda x: conv_ref.max_pool3d(x, (2, 3, 2), (1, 2, 1), (1, 1, 0), (2, 1, 1), ceil_mode=True),
                       [(1, 2, 4, 5, 3)]),
    "AvgPool3d": Spec(lambda x: F.avg_pool3d(x, 3, 2, 1), lambda x: conv_ref.avg_pool3d(x, 3, 2, 1),
                      [(2, 2, 3, 5, 4)]),
    "AvgPool3d1": Spec(lambda x: F.avg_pool3d(x, 2, 1, 1, ceil_mode=True, count_include_pad=False),
                       lambda x: conv_ref.avg_pool3d(x, 2, 1, 1, ceil_mode=True, count_include_pad=False),
                       [(1, 2, 3, 4, 3)]),
    "AvgPool3d2": Spec(lambda x: F.avg_pool3d(x, (1, 2, 3), divisor_override=5),
                       lambda x: conv_ref.avg_pool3d(x, (1, 2, 3), divisor_override=5), [(1, 2, 2, 4, 6)]),
    "AdaptiveAvgPool3d": Spec(lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)),
                              lambda x: conv_ref.adaptive_pool3d(x, (2, 3, 2), np.mean),
                              [(2, 2, 3, 5, 4), (1, 1, 1, 2, 3)]),
    "AdaptiveMaxPool3d": Spec(lambda x: F.adaptive_max_pool3d(x, (2, 2, 3)),
                              lambda x: conv_ref.adaptive_pool3d(x, (2, 2, 3), np.max),
                              [(2, 2, 3, 5, 4), (1, 1, 2, 3, 5)]),
    # the smooth-L1 family (csrc/nn.inc smooth_l1_loss_*; tests/test_more_losses.py); 0.7 and 0.5
    # are special points of tests/test_derivatives.py: the kinks |d| = beta / delta
    "L1Loss":    Spec(lambda x, t: F.l1_loss(x, t, reduction="none"), lambda x, t: np.abs(x - t),
                      [((3, 4), (3, 4)), ((0, 2), (0, 2)), ((), ())]),
    "SmoothL1Loss": Spec(lambda x, t: F.smooth_l1_loss(x, t, reduction="none", beta=0.7),
                         lambda x, t: _smooth_l1_ref(x - t, 0.7), [((3, 4), (3, 4)), ((0, 2), (0, 2))]),
    "HuberLoss": Spec(lambda x, t: F.huber_loss(x, t, reduction="none", delta=0.5),
                      lambda x, t: _huber_ref(x - t, 0.5),
                      [((3, 4), (3, 4)), ((0, 2), (0, 2))]),
    "Overwrite": Spec(lambda a, b: _overwrite(a, b), lambda a, b: np.broadcast_to(b, a.shape) * 2,
                      [((2, 3), (3,)), ((2, 2), ())]),
}


for _name, _spec in SPECS.items():
    _spec.name = _name


def _eye(a):
    """The identity matching the last dim of ``a`` (a tl tensor or NumPy array; 0-d: 3 x 3)."""
    n = a.shape[-1] if a.ndim else 3
    return tl.eye(n, dtype=a.dtype) if isinstance(a, tl.Tensor) else np.eye(n)


def _wc(a):
    """A well-conditioned matrix from entries in [-0.5, 0.5]: a + 3 I (||a|| <= n / 2 < 3)."""
    return a + 3 * _eye(a)


def _spd(a):
    """A symmetric positive-definite matrix: a a^T + I."""
    return a @ (a.mT if isinstance(a, tl.Tensor) else np.swapaxes(a, -1, -2)) + _eye(a)


def _spread(a):
    """A symmetric matrix with well-separated eigenvalues from entries in [-0.5, 0.5]:
    a + a^T + 10 diag(0, 1, ...) (|eigenvalue_i - 10 i| <= ||a + a^T|| <= n < 5)."""
    n = a.shape[-1]
    if isinstance(a, tl.Tensor):
        return a + a.mT + tl.diag(tl.arange(n, dtype=a.dtype) * 10.0)
    return a + np.swapaxes(a, -1, -2) + np.diag(np.arange(n) * 10.0)


def _eigh_ref(s):
    """np.linalg.eigh with tl's sign convention: each eigenvector's largest-magnitude component
    positive."""
    w, v = np.linalg.eigh(s)
    if not v.size:
        return w, v
    big = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    return w, v * np.where(big < 0, -1.0, 1.0)


def _lu_ref(a):
    """The packed LU of P A = L U with partial pivoting (the first largest |pivot|), per matrix."""
    out = np.array(a, dtype=np.float64)
    for b in np.ndindex(out.shape[:-2]):
        m = out[b]
        for j in range(m.shape[0]):
            p = j + int(np.argmax(np.abs(m[j:, j])))
            m[[j, p]] = m[[p, j]]
            m[j + 1:, j] /= m[j, j]
            m[j + 1:, j + 1:] -= np.outer(m[j + 1:, j], m[j, j + 1:])
    return out


def _index_backward_ref(x):
    out = np.zeros((4, 3))
    out[1:4:2, 2] = x
    return out


def _gather_backward(g):
    """The VJP of x[[2, 0, 2], 1:] applied to g, recorded (create_graph) so it is an op."""
    src = tl.zeros(3, 4, dtype=g.dtype, requires_grad=True)
    (gx,) = tl.autograd.grad(src[[2, 0, 2], 1:], src, g, create_graph=True)
    return gx


def _gather_backward_ref(g):
    out = np.zeros((3, 4))
    np.add.at(out, ([2, 0, 2], slice(1, None)), g)
    return out


def _unfold_ref(x, k, p, s):
    """(N, C*kh*kw, L) blocks of x: the conv of x with one-hot filters (one per (c, i, j))."""
    C, (kh, kw) = x.shape[1], k
    eye = np.eye(C * kh * kw).reshape(C * kh * kw, C, kh, kw)
    out = conv_ref.conv2d(x, eye, stride=s, padding=p)
    return out.reshape(out.shape[0], out.shape[1], out.shape[2] * out.shape[3])


def _fold_ref(c, size, k, p, s):
    """fold = the adjoint of unfold: the transposed Jacobian of _unfold_ref applied to c."""
    N, CK, L = c.shape
    C = CK // (k[0] * k[1])
    out = np.zeros((N, C) + size)
    for idx in np.ndindex(C, *size):
        e = np.zeros((1, C) + size)
        e[(0,) + idx] = 1.0
        out[(slice(None),) + idx] = np.einsum("nkl,kl->n", c, _unfold_ref(e, k, p, s)[0])
    return out


_POOL_SRC = np.random.default_rng(7).standard_normal((2, 2, 4, 4))


def _pool_backward(g, pool):
    """The VJP of ``pool`` at _POOL_SRC applied to g, recorded (create_graph) so it is an op."""
    src = tl.tensor(_POOL_SRC, dtype=g.dtype, requires_grad=True)
    (gx,) = tl.autograd.grad(pool(src), src, g, create_graph=True)
    return gx


def _max_pool_backward_ref(g):
    wins = _POOL_SRC.reshape(2, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 2, 2, 2, 4)
    arg = np.argmax(wins, -1)
    out = np.zeros((2, 2, 4, 4))
    for n, c, oh, ow in np.ndindex(2, 2, 2, 2):
        i, j = divmod(arg[n, c, oh, ow], 2)
        out[n, c, 2 * oh + i, 2 * ow + j] += g[n, c, oh, ow]
    return out


def _avg_pool_backward_ref(g):
    out = np.zeros((2, 2, 4, 4))
    for n, c, oh, ow in np.ndindex(2, 2, 2, 2):
        h0, w0 = 2 * oh - 1, 2 * ow - 1
        for h in range(max(h0, 0), min(h0 + 3, 4)):
            for w in range(max(w0, 0), min(w0 + 3, 4)):
                out[n, c, h, w] += g[n, c, oh, ow] / 9
    return out
def _along(shape, dim, n):
    """A deterministic int64 index for gather/scatter_add along ``dim`` of a tensor of ``shape``:
    ``shape`` with n at ``dim``, values in range, with repeats."""
    ishape = shape[:dim] + (n,) + shape[dim + 1:]
    return np.arange(int(np.prod(ishape)), dtype=np.int64).reshape(ishape) * 7 % max(shape[dim], 1)


def _unique_along(shape, dim, n):
    """Like _along, without repeats along ``dim`` (scatter's overwritten values have no defined
    gradient)."""
    ishape = shape[:dim] + (n,) + shape[dim + 1:]
    rows = np.indices(ishape).sum(0) - np.indices(ishape)[dim]
    return ((np.indices(ishape)[dim] + rows) % shape[dim]).astype(np.int64)


def _scatter_ref(x, s, dim, add):
    """out = x with s written (or added) at ``_along``'s (or _unique_along's) positions."""
    out = np.array(x, dtype=np.float64)
    idx = _along(x.shape, dim, s.shape[dim]) if add else _unique_along(x.shape, dim, s.shape[dim])
    for p in np.ndindex(idx.shape):
        q = p[:dim] + (idx[p],) + p[dim + 1:]
        out[q] = out[q] + s[p] if add else s[p]
    return out


def _scatter_reduce(x, s, reduce, include_self):
    return x.scatter_reduce(1, tl.tensor(_along(x.shape, 1, s.shape[1])), s, reduce,
                            include_self=include_self)


def _scatter_reduce_ref(x, s, reduce, include_self):
    """x with s reduced into it at _along's positions along dim 1 (NumPy, one element at a time)."""
    out = np.array(x, dtype=np.float64)
    idx = _along(x.shape, 1, s.shape[1])
    vals = {}
    for p in np.ndindex(idx.shape):
        vals.setdefault((p[0], idx[p]), [out[p[0], idx[p]]] if include_self else []).append(s[p])
    red = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce]
    for q, v in vals.items():
        out[q] = red(np.array(v, np.float64))
    return out


def _gather_dim_backward(g):
    """The VJP of gather(x, 1, _along((3, 4), 1, 5)) applied to g, recorded (create_graph)."""
    src = tl.zeros(3, 4, dtype=g.dtype, requires_grad=True)
    (gx,) = tl.autograd.grad(tl.gather(src, 1, tl.tensor(_along((3, 4), 1, 5))), src, g, create_graph=True)
    return gx


def _smooth_l1_ref(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


def _huber_ref(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def _cdist_ref(a, b, p):
    return np.linalg.norm(a[..., :, None, :] - b[..., None, :, :], ord=p, axis=-1)


def _overwrite(a, b):
    t = a * 1.0          # a non-leaf copy, so copy_ may write into it
    t.copy_(b)
    return t * 2


def test_every_op_is_covered():
    missing = sorted(set(OPS) - {_op_of(n) for n in SPECS})
    assert not missing, f"ops without a line in tests/test_ops.py SPECS: {missing}"


def _op_of(spec_name):
    """The op a SPECS line tests: its name, or the name less a trailing digit (a second line
    for another case of the same op: Norm3 is Norm with p = 3; an op whose own name ends in a
    digit, Expm1, is itself)."""
    return spec_name if spec_name in OPS else spec_name.rstrip("0123456789")


def _cases():
    for name, spec in SPECS.items():
        for i, case in enumerate(spec.cases):
            yield pytest.param(name, case, id=f"{name}-{i}")


def calls(spec, case):
    """The (fn, ref, input shapes) one case of a spec stands for (a reduction case is two calls:
    keepdim False and True)."""
    if spec.reduce:
        shape, dim = case
        return [((lambda x, d=dim, k=keepdim: spec.fn(x, d, keepdim=k)),
                 (lambda x, d=dim, k=keepdim: spec.ref(x, axis=d, keepdims=k)), [shape])
                for keepdim in (False, True)]
    shapes = list(case) if case and all(isinstance(s, tuple) for s in case) else [case]
    return [(spec.fn, spec.ref, shapes)]


def specs_for(op):
    """The SPECS lines of op ``op`` (its own, and numbered extra ones such as Norm3)."""
    return [spec for n, spec in SPECS.items() if _op_of(n) == op]


# forward tolerances (rtol, atol relative to max(1, max |reference|)) against the references
TOLERANCES = {tl.float64: (1e-10, 1e-12), tl.float32: (2e-5, 2e-6)}
VARIANTS = tl.testing.VARIANTS                              # layouts and generated shapes
LAYOUTS = ("noncontiguous", "transposed", "expanded")       # layouts only


def run_case(spec, case, generate=False):
    """check_op on every call of one case of ``spec``; ``generate``: also the shape variants
    check_op makes itself (broadcast, 0-d, empty)."""
    variants = VARIANTS if generate else LAYOUTS
    for fn, ref, shapes in calls(spec, case):
        rng = rng_for(getattr(fn, "__name__", ""), tuple(shapes), spec.low, spec.high)
        ins = [tl.tensor(rng_array(s, spec.low, spec.high, rng), dtype=tl.float64) for s in shapes]
        check_op(fn, *ins, ref=ref, grad=spec.grad, variants=variants, tolerances=TOLERANCES,
                 gradcheck_kwargs=spec.gc_kw, nan=spec.nan, name=spec.name)


def check_spec(name):
    """Every case of op ``name`` through check_op (tools/mutate_derivatives.py runs this)."""
    for spec in specs_for(name):
        for i, case in enumerate(spec.cases):
            run_case(spec, case, generate=i == 0)


@pytest.mark.parametrize("name,case", list(_cases()))
def test_op(name, case):
    spec = SPECS[name]
    run_case(spec, case, generate=case == spec.cases[0])


def test_noncontiguous_helper_really_is_strided():
    x = noncontiguous(rng_array((3, 4), -1, 1, np.random.default_rng(0)), tl.float64)
    assert not x.is_contiguous()


# ---- numerical stability at the extremes --------------------------------------------------------

def test_stable_formulations_do_not_overflow():
    x = tl.tensor([-1e4, -1000.0, -50.0, 0.0, 50.0, 1000.0, 1e4], dtype=tl.float32, requires_grad=True)
    s = x.sigmoid()
    np.testing.assert_allclose(s.detach().numpy(), [0, 0, 1.9287e-22, 0.5, 1, 1, 1], rtol=1e-4, atol=1e-30)
    s.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    big = tl.tensor([[1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4, -1e4]], dtype=tl.float32)
    lse = big.logsumexp(1).numpy()
    np.testing.assert_allclose(lse, [1e4 + np.log1p(np.exp(-1.0)), -1e4 + np.log(3.0)], rtol=1e-6)
    assert tl.tensor([float("-inf")] * 3).logsumexp(0).item() == float("-inf")
    F = tl.nn.functional
    logits = tl.tensor([[1e4, -1e4, 0.0], [0.0, 1e4, 1e4]], requires_grad=True)
    loss = F.cross_entropy(logits, tl.tensor([1, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), (2e4 + np.log(2.0)) / 2, rtol=1e-6)
    bl = F.binary_cross_entropy_with_logits(tl.tensor([1e4, -1e4]), tl.tensor([0.0, 1.0]))
    np.testing.assert_allclose(bl.item(), 1e4, rtol=1e-6)
    bce = F.binary_cross_entropy(tl.tensor([0.0, 1.0]), tl.tensor([1.0, 0.0]))
    assert bce.item() == 100.0   # log(0) clamped at -100, as PyTorch
