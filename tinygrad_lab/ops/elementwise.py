"""Elementwise ops <-> csrc/elementwise.c: unary, binary (broadcasting), where.

A unary op is one class of three lines: its C op ``code`` (csrc/elementwise.c's table holds the
forward and the C VJP of that code side by side), what its VJP reads (``saves``: x and/or y),
and ``deriv``, the same derivative written with Tensor ops (what runs under create_graph=True,
so gradients of gradients work to any order). tests/test_derivatives.py checks that the C VJP
and ``deriv`` agree for every op.

Binary ops' derivatives are formulas with ops; mul, div, pow, maximum and minimum also have a
fused two-output C VJP (tl_binary_backward, its table in csrc/elementwise.c).
"""
import numbers
import struct

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import _ONE, Function, _grad_enabled, _record
from ..creation import tensor, zeros_like
from ..kernels import NULL, check, i64
from ..tensor import _SHAPES, Tensor, _empty, _shape_info, tensor_method
from .shape import broadcast_shapes, sum_to

INF = float("inf")


def _strides(t, shape=None):
    """C strides of ``t`` seen as ``shape`` (broadcast), or NULL for the contiguous fast path."""
    if shape is None or t._shape == shape:
        return NULL if t._contig else i64(t._strides)
    return i64(K.broadcast_strides(t, shape))


def _scalar(v, dtype):
    """A 0-d tensor holding Python number ``v`` (the fill kernel; no NumPy round trip)."""
    t = _empty((), dtype)
    check(K.tl_fill(dtype.code, t._ptr, NULL, 0, NULL, float(v), int(v) if dtype is dtypes.int64 else 0),
          "scalar")
    return t


# ---------------------------------------------------------------------------------------------
# Unary ops
# ---------------------------------------------------------------------------------------------

def _unary_kernel(code, x, p0=0.0, p1=0.0):
    shape = x._shape
    y = _empty(shape, x.dtype)
    if x._contig:
        rc = K.tl_unary_flat(code, x.dtype.code, y._ptr, x._ptr, _SHAPES[shape][1], p0, p1)
    else:
        rc = K.tl_unary_forward(code, x.dtype.code, y._ptr, NULL, x._ptr, i64(x._strides),
                                len(shape), _SHAPES[shape][2], p0, p1)
    if rc:
        check(rc, "unary op")
    return y


def _unary_vjp_kernel(code, g, x, y, p0, p1):
    shape = g._shape
    gx = _empty(shape, g.dtype)
    x = x if x is not None else g  # unused operands: pass g (the kernel never reads them)
    y = y if y is not None else g
    if g._contig and x._contig and y._contig:
        rc = K.tl_unary_backward_flat(code, g.dtype.code, gx._ptr, g._ptr, x._ptr, y._ptr,
                                      _SHAPES[shape][1], p0, p1)
    else:
        rc = K.tl_unary_backward(code, g.dtype.code, gx._ptr, g._ptr, K.strides(g), x._ptr,
                                 K.strides(x), y._ptr, K.strides(y), len(shape), _SHAPES[shape][2],
                                 p0, p1)
    if rc:
        check(rc, "unary backward")
    return gx


class _Unary(Function):
    """y = f(x) for a float tensor x (and up to two Python-number parameters p0, p1). A subclass
    is one row of the unary table: ``code`` (forward and C VJP in csrc/elementwise.c),
    ``saves`` (what the VJP reads: "x", "y", both or neither) and ``deriv(g, x, y, p0, p1)``, the
    VJP with Tensor ops."""

    code = None
    saves = ""
    fusable = False   # an activation a fresh linear layer's node can absorb (Function.fuse_act)

    @staticmethod
    def deriv(g, x, y, p0, p1):
        raise NotImplementedError

    @classmethod
    def apply(cls, x, p0=0.0, p1=0.0):
        """The op's forward: the kernel, and the graph node when ``x`` requires grad."""
        y = _unary_kernel(cls.code, x, p0, p1)
        if _grad_enabled() and x.requires_grad:
            if cls.fusable:
                node = x.grad_fn
                if node is not None and node._fn.fuse_act is not None \
                        and node._fn.fuse_act(node, x, y, cls):
                    return y   # act(x @ W + b) as one node (ops/linalg.py)
            saves = cls.saves
            ctx = _record(cls, y, (x,), _ONE,
                          (x if "x" in saves else None, y if "y" in saves else None) if saves else None)
            ctx.params = (p0, p1)
        return y

    @staticmethod
    def vjp(ctx, g):
        x, y = ctx._saved or (None, None)   # ops that save nothing skip saving
        return _unary_vjp_kernel(ctx._fn.code, g, x, y, *ctx.params)

    @staticmethod
    def formula(ctx, g):
        x, y = ctx._saved or (None, None)
        return ctx._fn.deriv(g, x, y, *ctx.params)


# The unary table. deriv(g, x, y, p, q): g the output gradient, x the input, y the output, p and q
# the op's parameters; the C VJP computes the same expression (csrc/elementwise.c).

class Neg(_Unary):
    code, saves = K.TL_NEG, ""
    deriv = staticmethod(lambda g, x, y, p, q: -g)


class Abs(_Unary):
    code, saves = K.TL_ABS, "x"
    # g * sign(x) with sign(NaN) = sign(0) = 0, multiplied (PyTorch's g * sgn(x)): a NaN or inf g
    # at x = 0 gives NaN, a NaN x with a finite g gives +-0
    deriv = staticmethod(lambda g, x, y, p, q: g * ((x > 0).to(x.dtype) - (x < 0).to(x.dtype)))


class Exp(_Unary):
    code, saves = K.TL_EXP, "y"
    deriv = staticmethod(lambda g, x, y, p, q: g * y)


class Log(_Unary):
    code, saves = K.TL_LOG, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g / x)


class Sqrt(_Unary):
    code, saves = K.TL_SQRT, "y"
    deriv = staticmethod(lambda g, x, y, p, q: g / (2.0 * y))


class Erf(_Unary):
    code, saves = K.TL_ERF, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * 1.1283791670955126 * exp(-(x * x)))


class Sin(_Unary):
    code, saves = K.TL_SIN, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * cos(x))


class Cos(_Unary):
    code, saves = K.TL_COS, "x"
    deriv = staticmethod(lambda g, x, y, p, q: -(g * sin(x)))


class Tanh(_Unary):
    code, saves = K.TL_TANH, "y"
    fusable = True
    deriv = staticmethod(lambda g, x, y, p, q: g * (1.0 - y * y))


class Sigmoid(_Unary):
    code, saves = K.TL_SIGMOID, "y"
    fusable = True
    deriv = staticmethod(lambda g, x, y, p, q: g * y * (1.0 - y))


class Relu(_Unary):        # zero where x <= 0 only: a NaN input passes g (as PyTorch)
    code, saves = K.TL_RELU, "x"
    fusable = True
    deriv = staticmethod(lambda g, x, y, p, q: where(x <= 0, 0.0, g))


class LeakyRelu(_Unary):   # p: the negative slope
    code, saves = K.TL_LEAKY_RELU, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where(x > 0, g, g * p))


class Gelu(_Unary):        # exact: x * Phi(x); d/dx = Phi(x) + x * phi(x)
    code, saves = K.TL_GELU, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * (0.5 * (1.0 + erf(x * 0.7071067811865476))
                                                    + x * 0.3989422804014327 * exp(-0.5 * x * x)))


class Clamp(_Unary):       # p, q: the bounds; the gradient flows where p <= x <= q (not at NaN)
    code, saves = K.TL_CLAMP, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where((x >= p) & (x <= q), g, 0.0))


class PowScalar(_Unary):   # x ** p
    code, saves = K.TL_POW_SCALAR, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * 0.0 if p == 0 else g * p * x ** (p - 1))


# A tensor with a Python number p (x + 0.5, 2 * x, 1 - x, x / n, 1 / x): no 0-d tensor, no
# broadcasting. op_name: the op the user wrote (x * 2 shows MulBackward).

class AddScalar(_Unary):   # x + p
    code, saves, op_name = K.TL_ADD_SCALAR, "", "Add"
    deriv = staticmethod(lambda g, x, y, p, q: g)


class MulScalar(_Unary):   # x * p
    code, saves, op_name = K.TL_MUL_SCALAR, "", "Mul"
    deriv = staticmethod(lambda g, x, y, p, q: g * p)


class RsubScalar(_Unary):  # p - x
    code, saves, op_name = K.TL_RSUB_SCALAR, "", "Sub"
    deriv = staticmethod(lambda g, x, y, p, q: -g)


class DivScalar(_Unary):   # x / p
    code, saves, op_name = K.TL_DIV_SCALAR, "", "Div"
    deriv = staticmethod(lambda g, x, y, p, q: g / p)


class RdivScalar(_Unary):  # p / x
    code, saves, op_name = K.TL_RDIV_SCALAR, "x", "Div"
    deriv = staticmethod(lambda g, x, y, p, q: -(g * p) / (x * x))


# PyTorch's common unary ops and activations (csrc/elementwise.c's rows of the same names give
# the forward and C VJP, written as PyTorch's kernels write them). Each saves its input x, never
# its output: where PyTorch's derivative reads the result, it is recomputed from x.

class Reciprocal(_Unary):  # 1 / x; d = -g * (1/x)^2 (PyTorch's -g * y * y)
    code, saves = K.TL_RECIPROCAL, "x"
    deriv = staticmethod(lambda g, x, y, p, q: -g * (reciprocal(x) * reciprocal(x)))


class Rsqrt(_Unary):       # 1 / sqrt(x); d = -0.5 * g * (1 / sqrt(x))^3
    code, saves = K.TL_RSQRT, "x"
    deriv = staticmethod(lambda g, x, y, p, q: -0.5 * g * (rsqrt(x) * rsqrt(x) * rsqrt(x)))


class Log1p(_Unary):       # log(1 + x), accurate near 0; d = g / (x + 1)
    code, saves = K.TL_LOG1P, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g / (x + 1.0))


class Expm1(_Unary):       # e^x - 1, accurate near 0; d = g * (y + 1), y recomputed (PyTorch's)
    code, saves = K.TL_EXPM1, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * (expm1(x) + 1.0))


class Sign(_Unary):        # -1, 0 or 1 (0 at NaN, as PyTorch); the gradient is 0 everywhere
    code, saves = K.TL_SIGN, ""
    zero_derivative = True   # (tools/mutate_derivatives.py: scaling a 0 gradient changes nothing)
    deriv = staticmethod(lambda g, x, y, p, q: zeros_like(g))   # (0 even where g is NaN)


class Silu(_Unary):        # x * sigmoid(x); d = s * (1 + x * (1 - s))
    code, saves = K.TL_SILU, "x"

    @staticmethod
    def deriv(g, x, y, p, q):
        s = sigmoid(x)
        return g * s * (1.0 + x * (1.0 - s))


class Softplus(_Unary):    # p = beta, q = threshold: x above it, log1p(e^(beta x)) / beta below
    code, saves = K.TL_SOFTPLUS, "x"

    @staticmethod
    def deriv(g, x, y, p, q):
        z = exp(x * p)
        return where(x * p > q, g, g * z / (z + 1.0))


class Elu(_Unary):         # p = alpha, q = scale (selu: its constants); x > 0: scale * x
    code, saves = K.TL_ELU, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where(x > 0, g * q, g * (p * q) * exp(x)))


class Hardtanh(_Unary):    # clamp(x, p, q); the gradient is g strictly inside (0 at NaN)
    code, saves = K.TL_HARDTANH, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where((x > p) & (x < q), g, 0.0))


class LogSigmoid(_Unary):  # min(x, 0) - log1p(e^-|x|); d = 1 - z / (1 + z) (x < 0) or z / (1 + z)
    code, saves = K.TL_LOG_SIGMOID, "x"

    @staticmethod
    def deriv(g, x, y, p, q):
        z = exp(-abs(x))
        return g * where(x < 0, 1.0 - z / (1.0 + z), z / (1.0 + z))


class Mish(_Unary):        # x * tanh(softplus(x)); d = t + x * sigmoid(x) * (1 - t^2)
    code, saves = K.TL_MISH, "x"

    @staticmethod
    def deriv(g, x, y, p, q):
        t = tanh(log1p(exp(x)))
        return g * (t + x * sigmoid(x) * (1.0 - t * t))


class Softsign(_Unary):    # x / (1 + |x|); d as PyTorch's composite x / (|x| + 1) gives it
    code, saves = K.TL_SOFTSIGN, "x"

    @staticmethod
    def deriv(g, x, y, p, q):
        d = abs(x) + 1.0
        return g / d + -g * ((x / d) / d) * sign(x)


# Rounding (csrc/elementwise.c's FLOOR, CEIL, TRUNC, ROUND, FRAC rows). Nothing saved: the
# gradient of floor, ceil, round and trunc is 0 everywhere (PyTorch's zeros_like(grad): 0 even
# at a NaN input or where g is NaN or inf), frac's is g.

class _Rounding(_Unary):
    saves = ""
    zero_derivative = True   # (tools/mutate_derivatives.py: scaling a 0 gradient changes nothing)
    deriv = staticmethod(lambda g, x, y, p, q: zeros_like(g))


class Floor(_Rounding):    # the largest integer <= x
    code = K.TL_FLOOR


class Ceil(_Rounding):     # the smallest integer >= x
    code = K.TL_CEIL


class Trunc(_Rounding):    # x rounded toward 0
    code = K.TL_TRUNC


class Round(_Rounding):    # half to even; p = 10^|decimals| (1: plain round), q = 1 for decimals < 0
    code = K.TL_ROUND


class Frac(_Unary):        # x - trunc(x); d = g
    code, saves = K.TL_FRAC, ""
    deriv = staticmethod(lambda g, x, y, p, q: g)


# Trig and hyperbolic (csrc/elementwise.c's rows of the same names): PyTorch's derivatives.yaml
# expressions. Each saves x (tan's result is recomputed from it, as the C row does).

class Tan(_Unary):         # d = g * (1 + tan(x)^2)
    code, saves = K.TL_TAN, "x"

    @staticmethod
    def deriv(g, x, y, p, q):
        t = tan(x)
        return g * (1.0 + t * t)


class Asin(_Unary):        # d = g * rsqrt(-x * x + 1): inf at +-1, NaN outside [-1, 1]
    code, saves = K.TL_ASIN, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * rsqrt(-x * x + 1.0))


class Acos(_Unary):        # d = g * -rsqrt(-x * x + 1)
    code, saves = K.TL_ACOS, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * -rsqrt(-x * x + 1.0))


class Atan(_Unary):        # d = g / (x * x + 1)
    code, saves = K.TL_ATAN, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g / (x * x + 1.0))


class Sinh(_Unary):        # d = g * cosh(x) (both overflow where e^|x| does: PyTorch's vectorised)
    code, saves = K.TL_SINH, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * cosh(x))


class Cosh(_Unary):        # d = g * sinh(x)
    code, saves = K.TL_COSH, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * sinh(x))


class Asinh(_Unary):       # d = g * rsqrt(x * x + 1)
    code, saves = K.TL_ASINH, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * rsqrt(x * x + 1.0))


class Acosh(_Unary):       # d = g * rsqrt(x * x - 1): inf at 1, NaN below
    code, saves = K.TL_ACOSH, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g * rsqrt(x * x - 1.0))


class Atanh(_Unary):       # d = g / (1 - x * x): inf at +-1
    code, saves = K.TL_ATANH, "x"
    deriv = staticmethod(lambda g, x, y, p, q: g / (1.0 - x * x))


# Activations (csrc/elementwise.c's rows of the same names: PyTorch's kernels, the vectorised
# answers at NaN). Each saves x.

_ONE_SIXTH_F = 0.1666666716337204   # float(1/6): PyTorch's hardsigmoid derivative constant


class Hardsigmoid(_Unary):  # min(max(x + 3, 0), 6) / 6; d = g / 6 strictly inside (-3, 3)
    code, saves = K.TL_HARDSIGMOID, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where((x > -3.0) & (x < 3.0), g * _ONE_SIXTH_F, 0.0))


class Hardswish(_Unary):   # x * hardsigmoid(x); d = 0 (x <= -3), g (x >= 3), g (x / 3 + 1/2)
    code, saves = K.TL_HARDSWISH, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where(x <= -3.0, 0.0,
                                                     where(x >= 3.0, g, g * (x / 3.0 + 0.5))))


def _celu_backward_scale(alpha):
    """PyTorch's celu backward input scale, 1.0 / alpha.toFloat() (alpha rounded to float32)."""
    return 1.0 / struct.unpack("f", struct.pack("f", alpha))[0]


class Celu(_Unary):        # p = alpha, q = 1 / alpha: x > 0: x, else alpha (e^(x / alpha) - 1)
    code, saves = K.TL_CELU, "x"

    @staticmethod
    def deriv(g, x, y, p, q):
        s = _celu_backward_scale(p)
        return where(x > 0, g, g * s * p * exp(x * s))


class Softshrink(_Unary):  # p = lambda: x - p above p, x + p below -p, 0 between (NaN stays)
    code, saves = K.TL_SOFTSHRINK, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where((x < -p) | (x > p), g, 0.0))


class Hardshrink(_Unary):  # p = lambda: x outside [-p, p], 0 inside
    code, saves = K.TL_HARDSHRINK, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where((x < -p) | (x > p), g, 0.0))


class Threshold(_Unary):   # p = threshold, q = value: q where x <= p, else x
    code, saves = K.TL_THRESHOLD, "x"
    deriv = staticmethod(lambda g, x, y, p, q: where(x <= p, 0.0, g))


def _float_input(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x if x.dtype.is_floating_point else x.to(dtypes.get_default_dtype())


@tensor_method("neg", "__neg__")
def neg(x):
    if x.dtype is dtypes.bool_:
        raise TypeError("negation of a bool tensor is not supported; use ~ or logical ops")
    if x.dtype is dtypes.int64:
        return _unary_kernel(K.TL_NEG, x)
    return Neg.apply(x)


@tensor_method("abs", "__abs__")
def abs(x):  # noqa: A001
    if x.dtype is dtypes.int64:
        return _unary_kernel(K.TL_ABS, x)
    return Abs.apply(_float_input(x, "abs"))


@tensor_method("__pos__")
def pos(x):
    return x


# (written out, not made by a factory, so that ``def exp`` finds it; integer inputs are converted
# to the default float dtype first, as in PyTorch)

@tensor_method()
def exp(x):
    """Elementwise e ** x."""
    return Exp.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "exp"))


@tensor_method()
def log(x):
    """Elementwise natural logarithm."""
    return Log.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "log"))


@tensor_method()
def sqrt(x):
    return Sqrt.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "sqrt"))


@tensor_method()
def erf(x):
    return Erf.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "erf"))


@tensor_method()
def sin(x):
    return Sin.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "sin"))


@tensor_method()
def cos(x):
    return Cos.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "cos"))


@tensor_method()
def tanh(x):
    return Tanh.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "tanh"))


@tensor_method("tan")
def tan(x):
    return Tan.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "tan"))


@tensor_method("asin", "arcsin")
def asin(x):
    """Elementwise arcsine (NaN outside [-1, 1]); ``arcsin`` is its alias."""
    return Asin.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "asin"))


@tensor_method("acos", "arccos")
def acos(x):
    """Elementwise arccosine (NaN outside [-1, 1]); ``arccos`` is its alias."""
    return Acos.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "acos"))


@tensor_method("atan", "arctan")
def atan(x):
    return Atan.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "atan"))


@tensor_method()
def sinh(x):
    """Elementwise hyperbolic sine; +-inf once e^|x| overflows (|x| > 88.72 in float32, 709.78
    in float64), as PyTorch's vectorised kernel (libm stays finite a little further)."""
    return Sinh.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "sinh"))


@tensor_method()
def cosh(x):
    """Elementwise hyperbolic cosine; inf once e^|x| overflows, as sinh."""
    return Cosh.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "cosh"))


@tensor_method("asinh", "arcsinh")
def asinh(x):
    return Asinh.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "asinh"))


@tensor_method("acosh", "arccosh")
def acosh(x):
    """Elementwise inverse hyperbolic cosine (NaN below 1)."""
    return Acosh.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "acosh"))


@tensor_method("atanh", "arctanh")
def atanh(x):
    """Elementwise inverse hyperbolic tangent (+-inf at +-1, NaN outside [-1, 1])."""
    return Atanh.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "atanh"))


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


@tensor_method()
def square(x):
    """x * x elementwise, as PyTorch's square: pow(x, 2) (a PowBackward node; int64 stays int64,
    bool gives int64)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"square: expected a Tensor, got {type(x).__name__}")
    return pow(x.to(dtypes.int64) if x.dtype is dtypes.bool_ else x, 2)


@tensor_method()
def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return Sigmoid.apply(x if type(x) is Tensor and x.dtype.is_floating_point
                         else _float_input(x, "sigmoid"))


@tensor_method()
def relu(x):
    return Relu.apply(x if type(x) is Tensor and x.dtype.is_floating_point else _float_input(x, "relu"))


@tensor_method()
def leaky_relu(x, negative_slope=0.01):
    return LeakyRelu.apply(_float_input(x, "leaky_relu"), float(negative_slope))


@tensor_method()
def gelu(x, approximate="none"):
    """Exact GELU, x * Phi(x) with the Gaussian CDF (no tanh approximation)."""
    if approximate != "none":
        raise ValueError(f"gelu: only approximate='none' (the exact erf form) is implemented, got {approximate!r}")
    return Gelu.apply(_float_input(x, "gelu"))


@tensor_method()
def reciprocal(x):
    """Elementwise 1 / x (1 / 0 = inf); integer inputs give the default float dtype."""
    return Reciprocal.apply(_float_input(x, "reciprocal"))


@tensor_method()
def rsqrt(x):
    """Elementwise 1 / sqrt(x) (inf at 0, NaN below); integer inputs give the default float dtype."""
    return Rsqrt.apply(_float_input(x, "rsqrt"))


@tensor_method()
def log1p(x):
    """Elementwise log(1 + x), accurate for tiny |x| (where log(1 + x) rounds 1 + x away)."""
    return Log1p.apply(_float_input(x, "log1p"))


@tensor_method()
def expm1(x):
    """Elementwise e^x - 1, accurate for tiny |x| (where exp(x) - 1 cancels)."""
    return Expm1.apply(_float_input(x, "expm1"))


@tensor_method()
def sign(x):
    """-1, 0 or 1 elementwise in x's dtype (0 at NaN, as PyTorch; int64 stays int64, bool is
    returned as a copy); its gradient is 0."""
    if not isinstance(x, Tensor):
        raise TypeError(f"sign: expected a Tensor, got {type(x).__name__}")
    if x.dtype is dtypes.int64:
        return _unary_kernel(K.TL_SIGN, x)
    if x.dtype is dtypes.bool_:
        return x.clone()
    return Sign.apply(x)


def _rounding_input(x, name):
    """``x`` for floor/ceil/round/trunc: None for an int64 tensor (PyTorch returns a copy of
    integers, whose values are already integral), a TypeError for bool (PyTorch: "not
    implemented for 'Bool'")."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.dtype is dtypes.int64:
        return None
    if x.dtype is dtypes.bool_:
        raise TypeError(f"{name}: input must be a floating-point or integer tensor, got dtype {x.dtype!r}")
    return x


@tensor_method()
def floor(x):
    """The largest integer <= x, elementwise (float in, float out; an int64 tensor is returned
    as a copy, as PyTorch). Its gradient is 0."""
    f = _rounding_input(x, "floor")
    return x.clone() if f is None else Floor.apply(f)


@tensor_method()
def ceil(x):
    """The smallest integer >= x, elementwise (an int64 tensor is returned as a copy). Its
    gradient is 0."""
    f = _rounding_input(x, "ceil")
    return x.clone() if f is None else Ceil.apply(f)


@tensor_method("trunc", "fix")
def trunc(x):
    """x rounded toward zero, elementwise (``fix`` is its alias, as in PyTorch; an int64 tensor
    is returned as a copy). Its gradient is 0."""
    f = _rounding_input(x, "trunc")
    return x.clone() if f is None else Trunc.apply(f)


fix = trunc


def _round_scale(decimals):
    """(10^|decimals|, 1 if decimals < 0 else 0): ROUND's parameters (PyTorch's
    std::pow(10, decimals) in double; beyond 10^308 it is inf, as there)."""
    if isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    d = int(decimals)
    try:
        scale = 10.0 ** (-d if d < 0 else d)   # (abs is the tensor op here)
    except OverflowError:
        scale = INF
    return scale, (1.0 if d < 0 else 0.0)


@tensor_method()
def round(x, *, decimals=None):  # noqa: A001
    """x rounded to the nearest integer, halves to even (PyTorch's default: 0.5 -> 0, 1.5 -> 2,
    2.5 -> 2), elementwise; ``decimals=d`` rounds to d decimal places (negative: to the left of
    the point) as PyTorch computes it: nearbyint(x * 10^d) / 10^d. An int64 tensor without
    ``decimals`` is returned as a copy; PyTorch refuses integers with ``decimals`` (so does tl:
    TypeError). Its gradient is 0."""
    if decimals is None:
        f = _rounding_input(x, "round")
        return x.clone() if f is None else Round.apply(f, 1.0, 0.0)
    scale, neg = _round_scale(decimals)
    if not isinstance(x, Tensor):
        raise TypeError(f"round: expected a Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"round: decimals= needs a floating-point tensor, got dtype {x.dtype!r}")
    return Round.apply(x, scale, neg)


@tensor_method()
def frac(x):
    """x - trunc(x), elementwise, with x's sign (frac(-2.5) = -0.5; NaN at +-inf). Float
    inputs only, as PyTorch. Its gradient is g."""
    return Frac.apply(_activation_input(x, "frac"))


def _activation_input(x, name):
    """``x`` for an activation PyTorch defines on floating-point tensors only (silu, elu, ...):
    a TypeError naming the op and the dtype otherwise (PyTorch: "not implemented for 'Long'")."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name}: input must be a floating-point tensor, got dtype {x.dtype!r}")
    return x


def _number(v, what, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: {what} must be a number, got {type(v).__name__}")
    return float(v)


def silu(x):
    """x * sigmoid(x) (the swish activation)."""
    return Silu.apply(_activation_input(x, "silu"))


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (PyTorch's
    reversion to the linear function for numerical stability)."""
    return Softplus.apply(_activation_input(x, "softplus"), _number(beta, "beta", "softplus"),
                          _number(threshold, "threshold", "softplus"))


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) for x <= 0."""
    return Elu.apply(_activation_input(x, "elu"), _number(alpha, "alpha", "elu"), 1.0)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """scale * elu(x, alpha) with the self-normalising constants (alpha ~ 1.6733, scale ~ 1.0507);
    recorded as an Elu node, as PyTorch's EluBackward0."""
    return Elu.apply(_activation_input(x, "selu"), SELU_ALPHA, SELU_SCALE)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """clamp(x, min_val, max_val) with a zero gradient at and beyond the bounds. int64 inputs
    stay int64 (PyTorch's integer hardtanh); bool inputs raise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"hardtanh: expected a Tensor, got {type(x).__name__}")
    lo, hi = _number(min_val, "min_val", "hardtanh"), _number(max_val, "max_val", "hardtanh")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, "
                         f"max_val={max_val}")
    if x.dtype is dtypes.bool_:
        raise TypeError("hardtanh: bool inputs are not supported")
    if x.dtype is dtypes.int64:
        return clamp(x, min_val, max_val)
    return Hardtanh.apply(x, lo, hi)


def logsigmoid(x):
    """log(sigmoid(x)), computed as min(x, 0) - log1p(exp(-|x|)): no overflow for large |x|."""
    return LogSigmoid.apply(_activation_input(x, "logsigmoid"))


def mish(x):
    """x * tanh(softplus(x))."""
    return Mish.apply(_activation_input(x, "mish"))


def softsign(x):
    """x / (1 + |x|); integer inputs give the default float dtype (PyTorch's composite)."""
    if isinstance(x, Tensor) and x.dtype is dtypes.bool_:
        raise TypeError("softsign: input must not be a bool tensor (abs is not defined for bool)")
    return Softsign.apply(_float_input(x, "softsign"))


def hardsigmoid(x):
    """min(max(x + 3, 0), 6) / 6: a piecewise-linear sigmoid."""
    return Hardsigmoid.apply(_activation_input(x, "hardsigmoid"))


def hardswish(x):
    """x * hardsigmoid(x) (MobileNetV3's activation)."""
    return Hardswish.apply(_activation_input(x, "hardswish"))


def celu(x, alpha=1.0):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); alpha = 0 raises, as PyTorch."""
    a = _number(alpha, "alpha", "celu")
    if a == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return Celu.apply(_activation_input(x, "celu"), a, 1.0 / a)


def softshrink(x, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between; lambd must be >= 0 (PyTorch's
    RuntimeError otherwise)."""
    lam = _number(lambd, "lambd", "softshrink")
    if not lam >= 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}")
    return Softshrink.apply(_activation_input(x, "softshrink"), lam)


def hardshrink(x, lambd=0.5):
    """x outside [-lambd, lambd], 0 inside."""
    return Hardshrink.apply(_activation_input(x, "hardshrink"), _number(lambd, "lambd", "hardshrink"))


def threshold(x, threshold, value):  # noqa: A002
    """value where x <= threshold, else x (NaN passes). int64 inputs stay int64 (PyTorch's
    integer threshold: both numbers cast to integers, toward 0), composed with where."""
    if not isinstance(x, Tensor):
        raise TypeError(f"threshold: expected a Tensor, got {type(x).__name__}")
    th, v = _number(threshold, "threshold", "threshold"), _number(value, "value", "threshold")
    if x.dtype is dtypes.bool_:
        raise TypeError("threshold: bool inputs are not supported")
    if x.dtype is dtypes.int64:
        return where(x <= int(th), int(v), x)
    return Threshold.apply(x, th, v)


@tensor_method("clamp", "clip")
def clamp(x, min=None, max=None):  # noqa: A002
    """Limit values to [min, max]; either bound may be None. The gradient flows where
    min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for n, v in (("min", min), ("max", max)):
        if v is not None and not isinstance(v, numbers.Real):
            raise TypeError(f"clamp: {n} must be a number or None, got {type(v).__name__}")
    lo = -INF if min is None else float(min)
    hi = INF if max is None else float(max)
    if x.dtype is dtypes.int64:
        x = x.to(dtypes.get_default_dtype()) if not all(
            v is None or float(v).is_integer() for v in (min, max)) else x
    if x.dtype is dtypes.int64:  # integer clamp: compose from maximum/minimum
        r = x
        if min is not None:
            r = maximum(r, tensor(int(min)))
        if max is not None:
            r = minimum(r, tensor(int(max)))
        return r
    return Clamp.apply(_float_input(x, "clamp"), lo, hi)


clip = clamp


# ---------------------------------------------------------------------------------------------
# Binary ops
# ---------------------------------------------------------------------------------------------

def _operands(a, b, name):
    """Promote two operands (Tensors or Python numbers) to a common dtype, as tensors."""
    if type(b) is float and isinstance(a, Tensor) and a.dtype.is_floating_point:
        return a, _scalar(b, a.dtype), a.dtype                    # the common x * 0.5 case
    at, bt = isinstance(a, Tensor), isinstance(b, Tensor)
    if at and bt:
        dt = dtypes.promote_tensors(a, b)
    elif at:
        if not isinstance(b, (numbers.Number,)) or isinstance(b, complex):
            raise TypeError(f"{name}: unsupported operand type {type(b).__name__}; expected a Tensor or a number")
        dt = dtypes.promote_scalar(a.dtype, b)
        b = _scalar(b, dt)
    elif bt:
        if not isinstance(a, (numbers.Number,)) or isinstance(a, complex):
            raise TypeError(f"{name}: unsupported operand type {type(a).__name__}; expected a Tensor or a number")
        dt = dtypes.promote_scalar(b.dtype, a)
        a = _scalar(a, dt)
    else:
        raise TypeError(f"{name}: expected at least one Tensor")
    return a, b, dt


def _binary_kernel(code, a, b, out_dtype=None):
    key = (a._shape, a._strides, b._shape, b._strides)
    plan = _BROADCAST.get(key)
    if plan is None:  # the output shape and both operands' C strides, worked out once per layout
        shape = a._shape
        if b._shape != shape:
            shape = broadcast_shapes(shape, b._shape)
        plan = (shape, NULL if a._contig and a._shape == shape else _strides(a, shape),
                NULL if b._contig and b._shape == shape else _strides(b, shape), len(shape),
                (_SHAPES.get(shape) or _shape_info(shape))[2])
        if len(_BROADCAST) > 4096:
            _BROADCAST.clear()
        _BROADCAST[key] = plan
    out = _empty(plan[0], out_dtype or a.dtype)
    rc = K.tl_binary_forward(code, a.dtype.code, out._ptr, NULL, a._ptr, plan[1], b._ptr, plan[2],
                             plan[3], plan[4])
    if rc:
        check(rc, "binary op")
    return out


_BROADCAST = {}  # (a's shape and strides, b's) -> _binary_kernel's plan


_BOOL_ARITH = {K.TL_ADD: K.TL_MAXIMUM, K.TL_MUL: K.TL_MINIMUM}  # or / and, as PyTorch


def _arith(fn):
    """The forward of binary op ``fn``: promotion, the kernel, and the graph node when an input
    requires grad. The common case -- two contiguous float tensors of one dtype and shape -- is
    written out flat: it is most of a small network's ops. (A closure per op, so ``a * b`` is
    one Python call, and its variables are cheaper to read than class attributes.)"""
    code, saves, name, float_only = fn.code, fn.saves, fn.__name__.lower(), fn.float_only
    fuses = fn.fuses_bias   # Add: a bias added to a fresh matmul output fuses (ops/linalg.py)

    def apply(a, b):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype is b.dtype
                and a.dtype.is_floating_point):
            tb = type(b)
            if tb is float or tb is int:
                if isinstance(a, Tensor) and a.dtype.is_floating_point and fn in _WITH_SCALAR:
                    op, p = _WITH_SCALAR[fn](b)             # float tensor (op) Python number
                    return op.apply(a, p)
            elif type(a) in (float, int) and isinstance(b, Tensor) and b.dtype.is_floating_point \
                    and fn in _SCALAR_WITH:
                op, p = _SCALAR_WITH[fn](a)                  # Python number (op) float tensor
                return op.apply(b, p)
            a, b, dt = _operands(a, b, name)
            if dt is dtypes.bool_ and code in _BOOL_ARITH:
                a, b = a.to(dt), b.to(dt)
                return _binary_kernel(_BOOL_ARITH[code], a, b)
            if dt is dtypes.bool_ and code == K.TL_SUB:
                raise TypeError("subtraction of two bool tensors is not supported; use logical_xor-style "
                                "ops or convert with .long()")
            if dt is dtypes.bool_ or (float_only and not dt.is_floating_point):
                dt = dtypes.int64 if not float_only else dtypes.get_default_dtype()
            a, b = a.to(dt), b.to(dt)
            if not dt.is_floating_point:
                broadcast_shapes(a.shape, b.shape)
                return _binary_kernel(code, a, b)  # integers carry no gradient
        shape = a._shape
        if b._shape == shape and a._contig and b._contig:
            out = _empty(shape, a.dtype)
            rc = K.tl_binary_flat(code, a.dtype.code, out._ptr, a._ptr, b._ptr, _SHAPES[shape][1])
            if rc:
                check(rc, name)
        else:
            out = _binary_kernel(code, a, b)   # broadcasting or strided views
        ra, rb = a.requires_grad, b.requires_grad
        if (ra or rb) and _grad_enabled():
            if fuses and ra:
                node = a.grad_fn
                if node is not None and node._fn.fuse_add is not None \
                        and node._fn.fuse_add(node, a, b, out):
                    return out
            _record(fn, out, (a, b), (ra, rb),
                    None if not saves else (a if rb else None, b if ra else None) if saves == "ab?"
                    else (a, b) if saves == "ab" else (a, b, out))
        return out

    apply.__name__ = apply.__qualname__ = name
    return apply


def _binary_vjp(ctx, g, code, a, b):
    """The C VJP of binary op ``code`` (tl_binary_backward: both input gradients in one pass over
    the broadcast shape, each computed only when needed), summed back to the inputs' shapes."""
    need_a, need_b = ctx.needs_input_grad
    x, y = ctx._inputs
    shape, dt = g._shape, g.dtype
    ga = _empty(shape, dt) if need_a else None
    gb = _empty(shape, dt) if need_b else None
    same = x._shape == shape and y._shape == shape   # (mul passes g for an operand not needed)
    if same and g._contig and a._contig and b._contig and a._shape == shape and b._shape == shape:
        rc = K.tl_binary_backward_flat(code, dt.code, ga._ptr if need_a else NULL,
                                       gb._ptr if need_b else NULL, g._ptr, a._ptr, b._ptr,
                                       _SHAPES[shape][1])
        if rc:
            check(rc, "binary backward")
        return ga, gb
    rc = K.tl_binary_backward(code, dt.code, ga._ptr if need_a else NULL,
                              gb._ptr if need_b else NULL,
                              g._ptr, NULL if g._contig else i64(g._strides),  # g: output's shape
                              a._ptr, NULL if a._contig and a._shape == shape else _strides(a, shape),
                              b._ptr, NULL if b._contig and b._shape == shape else _strides(b, shape),
                              len(shape), _SHAPES[shape][2])
    if rc:
        check(rc, "binary backward")
    if same:  # no broadcasting to undo
        return ga, gb
    return (sum_to(ga, x._shape) if need_a else None, sum_to(gb, y._shape) if need_b else None)


class _Binary(Function):
    """out = a (op) b elementwise with broadcasting. ``saves`` says what the derivative reads
    from ctx._saved: "" nothing, "ab" both inputs, "ab?" each input only when the other one
    needs its gradient (mul), "aby" the inputs and the output. Each subclass's ``apply`` is its
    forward, made by _arith."""

    code = None
    saves = ""
    float_only = False   # integer inputs give the default float dtype (div, pow)
    fuses_bias = False   # Add: ``a + b`` may fuse with the node that made a (Function.fuse_add)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.apply = staticmethod(_arith(cls))


class Add(_Binary):
    code, fuses_bias = K.TL_ADD, True

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._inputs
        return (sum_to(g, a._shape) if ctx.needs_input_grad[0] else None,
                sum_to(g, b._shape) if ctx.needs_input_grad[1] else None)


class Sub(_Binary):
    code = K.TL_SUB

    @staticmethod
    def vjp(ctx, g):   # -g by the kernel directly (the formula's -g is a recorded-op call)
        a, b = ctx._inputs
        return (sum_to(g, a._shape) if ctx.needs_input_grad[0] else None,
                sum_to(_unary_kernel(K.TL_NEG, g), b._shape) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._inputs
        return (sum_to(g, a._shape) if ctx.needs_input_grad[0] else None,
                sum_to(-g, b._shape) if ctx.needs_input_grad[1] else None)


class Mul(_Binary):
    code, saves = K.TL_MUL, "ab?"

    @staticmethod
    def vjp(ctx, g):
        # both products in one C pass; an operand not needed is never read
        a, b = ctx._saved
        return _binary_vjp(ctx, g, K.TL_MUL, g if a is None else a, g if b is None else b)

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._saved
        need_a, need_b = ctx.needs_input_grad
        x, y = ctx._inputs
        return (sum_to(g * b, x._shape) if need_a else None,
                sum_to(g * a, y._shape) if need_b else None)


class Div(_Binary):
    code, saves, float_only = K.TL_DIV, "ab", True

    @staticmethod
    def vjp(ctx, g):
        return _binary_vjp(ctx, g, K.TL_DIV, *ctx._saved)

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._saved
        ga = sum_to(g / b, a.shape) if ctx.needs_input_grad[0] else None
        # -g * ((a / b) / b), PyTorch's order: b * b would overflow to inf (inf / inf = NaN)
        # where a / b / b is still inf or finite
        gb = sum_to(-g * ((a / b) / b), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(_Binary):
    code, saves, float_only = K.TL_POW, "aby", True

    @staticmethod
    def vjp(ctx, g):   # (the kernel recomputes a ** b where it needs it: y is not read)
        a, b, _ = ctx._saved
        return _binary_vjp(ctx, g, K.TL_POW, a, b)

    @staticmethod
    def formula(ctx, g):
        a, b, y = ctx._saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # d/da a**b = b * a**(b-1); zero where b == 0 (as PyTorch)
            ga = sum_to(where(b == 0, 0.0, g * b * a ** (b - 1.0)), a.shape)
        if ctx.needs_input_grad[1]:
            # d/db a**b = a**b * log(a); defined as 0 at a == 0 for b >= 0 (as PyTorch)
            gb = sum_to(where((a == 0) & (b >= 0), 0.0, g * y * log(a)), b.shape)
        return ga, gb


class Atan2(_Binary):
    """atan2(a, b): the angle of the point (b, a), in (-pi, pi]. PyTorch's atan2_backward:
    ga = g * b * recip, gb = g * -a * recip, recip = 1 / (a a + b b), and 0 where a a + b b is 0
    (a zero gradient at the origin, where 0 * inf would be NaN)."""
    code, saves, float_only = K.TL_ATAN2, "ab", True

    @staticmethod
    def vjp(ctx, g):
        return _binary_vjp(ctx, g, K.TL_ATAN2, *ctx._saved)

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._saved
        d = a * a + b * b
        recip = where(d == 0, 0.0, reciprocal(d))
        return (sum_to(g * b * recip, a.shape) if ctx.needs_input_grad[0] else None,
                sum_to(g * -a * recip, b.shape) if ctx.needs_input_grad[1] else None)


class Logaddexp(_Binary):
    """log(e^a + e^b) without overflow (PyTorch's kernel: max(a, b) + log1p(e^-|a - b|), a where
    a == b is infinite). Derivatives (derivatives.yaml): g / (1 + e^(b - a)), g / (1 + e^(a - b))."""
    code, saves, float_only = K.TL_LOGADDEXP, "ab", True

    @staticmethod
    def vjp(ctx, g):
        return _binary_vjp(ctx, g, K.TL_LOGADDEXP, *ctx._saved)

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._saved
        return (sum_to(g / (1.0 + exp(b - a)), a.shape) if ctx.needs_input_grad[0] else None,
                sum_to(g / (1.0 + exp(a - b)), b.shape) if ctx.needs_input_grad[1] else None)


class Hypot(_Binary):
    """sqrt(a^2 + b^2) without overflow (libm's hypot, as PyTorch). Derivatives: g * a / result,
    g * b / result, the result recomputed (NaN at a = b = 0, as PyTorch's 0 / 0)."""
    code, saves, float_only = K.TL_HYPOT, "ab", True

    @staticmethod
    def vjp(ctx, g):
        return _binary_vjp(ctx, g, K.TL_HYPOT, *ctx._saved)

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._saved
        h = Hypot.apply(a, b)
        return (sum_to(g * a / h, a.shape) if ctx.needs_input_grad[0] else None,
                sum_to(g * b / h, b.shape) if ctx.needs_input_grad[1] else None)


class _Extremum(_Binary):
    """maximum / minimum: the gradient goes to the winning input; ties split it evenly between
    a and b (as PyTorch)."""

    saves = "ab"

    @staticmethod
    def vjp(ctx, g):
        return _binary_vjp(ctx, g, ctx._fn.code, *ctx._saved)

    @staticmethod
    def formula(ctx, g):
        a, b = ctx._saved
        half = where(a == b, g * 0.5, g)
        a_loses = a < b if ctx._fn.code == K.TL_MAXIMUM else a > b
        b_loses = b < a if ctx._fn.code == K.TL_MAXIMUM else b > a
        return (sum_to(where(a_loses, 0.0, half), a.shape) if ctx.needs_input_grad[0] else None,
                sum_to(where(b_loses, 0.0, half), b.shape) if ctx.needs_input_grad[1] else None)


class Maximum(_Extremum):
    code = K.TL_MAXIMUM


class Minimum(_Extremum):
    code = K.TL_MINIMUM


# Python-number operands go to the scalar unary ops (the number keeps the tensor's dtype, as
# PyTorch's promotion says): op class -> (v -> (unary op, its parameter))
_WITH_SCALAR = {
    Add: lambda v: (AddScalar, float(v)),
    Sub: lambda v: (AddScalar, -float(v)),
    Mul: lambda v: (MulScalar, float(v)),
    Div: lambda v: (DivScalar, float(v)),
}
_SCALAR_WITH = {
    Add: lambda v: (AddScalar, float(v)),
    Sub: lambda v: (RsubScalar, float(v)),
    Mul: lambda v: (MulScalar, float(v)),
    Div: lambda v: (RdivScalar, float(v)),
}

tensor_method("__add__")(Add.apply)       # (the operators: no alpha argument to check)
tensor_method("__sub__")(Sub.apply)
mul = tensor_method("mul", "__mul__")(Mul.apply)
div = tensor_method("div", "__truediv__")(Div.apply)
div.__doc__ = "True division: integer inputs give the default float dtype."
maximum = tensor_method()(Maximum.apply)
atan2 = arctan2 = tensor_method("atan2", "arctan2")(Atan2.apply)


def _float_pair(a, b, name):
    """PyTorch defines logaddexp and hypot on floating-point inputs: two integer (or bool)
    operands raise TypeError (PyTorch: "not implemented for 'Long'"); one float operand promotes."""
    if not (isinstance(a, Tensor) and a.dtype.is_floating_point) and \
            not (isinstance(b, Tensor) and b.dtype.is_floating_point) and \
            not isinstance(a, float) and not isinstance(b, float):
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            raise TypeError(f"{name}: needs a floating-point operand, got "
                            f"{getattr(a, 'dtype', type(a).__name__)!r} and {getattr(b, 'dtype', type(b).__name__)!r}")


@tensor_method()
def logaddexp(a, b):
    """log(exp(a) + exp(b)) elementwise with broadcasting, without overflow."""
    _float_pair(a, b, "logaddexp")
    return Logaddexp.apply(a, b)


@tensor_method()
def hypot(a, b):
    """sqrt(a^2 + b^2) elementwise with broadcasting, without overflow or underflow."""
    _float_pair(a, b, "hypot")
    return Hypot.apply(a, b)
atan2.__doc__ = ("atan2(input, other): elementwise arctangent of input / other in the quadrant of "
                 "the point (other, input), with broadcasting; integer inputs give the default float dtype.")
minimum = tensor_method()(Minimum.apply)


@tensor_method()
def add(a, b, alpha=1):
    if alpha != 1:
        b = b * alpha
    return Add.apply(a, b)


@tensor_method()
def sub(a, b, alpha=1):
    if alpha != 1:
        b = b * alpha
    return Sub.apply(a, b)


@tensor_method("pow", "__pow__")
def pow(a, b):  # noqa: A001
    """a ** b. A Python-number exponent uses the scalar kernel (its VJP is in C too). An int64
    tensor to a non-negative int power stays int64 (computed in float64: exact below 2**53)."""
    if isinstance(a, Tensor) and isinstance(b, numbers.Real) and not isinstance(b, bool):
        if a.dtype is dtypes.int64 and isinstance(b, numbers.Integral) and b >= 0:
            return PowScalar.apply(a.to(dtypes.float64), float(b)).to(dtypes.int64)
        return PowScalar.apply(_float_input(a, "pow"), float(b))
    return Pow.apply(a, b)


@tensor_method("__radd__")
def radd(a, b):
    return add(b, a)


@tensor_method("__rsub__")
def rsub(a, b):
    return sub(b, a)


@tensor_method("__rmul__")
def rmul(a, b):
    if type(b) is float and type(a) is Tensor and a.dtype.is_floating_point:
        # lr * grad, the hand-written update's product: the scalar op _arith would pick
        # (_WITH_SCALAR[Mul]), without its two lookups and calls
        return MulScalar.apply(a, b)
    return mul(b, a)


@tensor_method("__rtruediv__")
def rdiv(a, b):
    return div(b, a)


@tensor_method("__rpow__")
def rpow(a, b):
    return pow(b, a)


def _compare(code, name):
    def op(a, b):
        a, b, dt = _operands(a, b, name)
        a, b = a.to(dt), b.to(dt)
        return _binary_kernel(code, a, b, dtypes.bool_)
    op.__name__ = name
    return op


eq = tensor_method("eq", "__eq__")(_compare(K.TL_EQ, "eq"))
ne = tensor_method("ne", "__ne__")(_compare(K.TL_NE, "ne"))
lt = tensor_method("lt", "__lt__")(_compare(K.TL_LT, "lt"))
le = tensor_method("le", "__le__")(_compare(K.TL_LE, "le"))
gt = tensor_method("gt", "__gt__")(_compare(K.TL_GT, "gt"))
ge = tensor_method("ge", "__ge__")(_compare(K.TL_GE, "ge"))


@tensor_method("logical_and", "__and__")
def logical_and(a, b):
    a, b = a.to(dtypes.bool_), b.to(dtypes.bool_)
    return _binary_kernel(K.TL_MINIMUM, a, b)


@tensor_method("logical_or", "__or__")
def logical_or(a, b):
    a, b = a.to(dtypes.bool_), b.to(dtypes.bool_)
    return _binary_kernel(K.TL_MAXIMUM, a, b)


@tensor_method("logical_not", "__invert__")
def logical_not(a):
    return eq(a.to(dtypes.bool_), False)


@tensor_method()
def isnan(x):
    """True where x is NaN (a bool tensor; never for integer dtypes)."""
    x = x.detach()
    return ne(x, x)


@tensor_method()
def isinf(x):
    """True where x is +inf or -inf."""
    x = x.detach()
    return eq(abs(x), INF) if x.dtype.is_floating_point else ne(x, x)


@tensor_method()
def isfinite(x):
    """True where x is neither NaN nor +-inf (x - x is 0 exactly there, NaN elsewhere)."""
    x = x.detach()
    return eq(sub(x, x), 0) if x.dtype.is_floating_point else eq(x, x)


# ---------------------------------------------------------------------------------------------
# where
# ---------------------------------------------------------------------------------------------

class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        shape = broadcast_shapes(cond.shape, a.shape, b.shape)
        ctx.cond = cond
        out = _empty(shape, a.dtype)
        check(K.tl_where_forward(a.dtype.code, out._ptr, cond._ptr, _strides(cond, shape),
                                 a._ptr, _strides(a, shape), b._ptr, _strides(b, shape),
                                 len(shape), i64(shape)), "where")
        return out

    @staticmethod
    def vjp(ctx, g):
        # the where kernel itself, once per input needing a gradient: g where the input was
        # picked, a broadcast 0 elsewhere (the formula's where(c, g, 0.0) without its
        # promotion and checks)
        dt = g.dtype
        if dt is not dtypes.float32 and dt is not dtypes.float64:
            return Where.formula(ctx, g)
        c, shape = ctx.cond, g._shape
        zero = _scalar(0.0, dt)
        zs, cs, gs = i64((0,) * len(shape)), _strides(c, shape), K.strides(g)
        dims = (_SHAPES.get(shape) or _shape_info(shape))[2]
        out = [None, None, None]
        for k in (1, 2):
            if ctx.needs_input_grad[k]:
                o = _empty(shape, dt)
                picked, other = (g._ptr, gs), (zero._ptr, zs)
                a, b = (picked, other) if k == 1 else (other, picked)
                check(K.tl_where_forward(dt.code, o._ptr, c._ptr, cs, a[0], a[1], b[0], b[1],
                                         len(shape), dims), "where backward")
                out[k] = sum_to(o, ctx._inputs[k]._shape)
        return tuple(out)

    @staticmethod
    def formula(ctx, g):
        c = ctx.cond
        ga = sum_to(where(c, g, 0.0), ctx._inputs[1].shape) if ctx.needs_input_grad[1] else None
        gb = sum_to(where(c, 0.0, g), ctx._inputs[2].shape) if ctx.needs_input_grad[2] else None
        return None, ga, gb


def where(cond, a, b):
    """Elementwise ``a if cond else b`` with broadcasting; ``cond`` is a bool tensor."""
    if not isinstance(cond, Tensor):
        raise TypeError(f"where: cond must be a bool Tensor, got {type(cond).__name__}")
    if cond.dtype is not dtypes.bool_:
        cond = cond.to(dtypes.bool_)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        dt = dtypes.promote_scalar(dtypes.int64, a) if isinstance(a, int) and isinstance(b, int) else dtypes.get_default_dtype()
        a, b = _scalar(a, dt), _scalar(b, dt)
    else:
        a, b, dt = _operands(a, b, "where")
        a, b = a.to(dt), b.to(dt)
    broadcast_shapes(cond.shape, a.shape, b.shape)
    return Where.apply(cond, a, b)



# ---------------------------------------------------------------------------------------------
# lerp, addcmul, addcdiv, nan_to_num (composites of the kernels above)
# ---------------------------------------------------------------------------------------------

class Lerp(Function):
    """start + weight * (end - start), computed as PyTorch's lerp kernel does (for |weight| < 0.5
    start + weight * (end - start), else end - (end - start) * (1 - weight): exact at weight 1).
    Derivatives (derivatives.yaml): g * (1 - weight), g * weight, g * (end - start) -- written
    as such, not through the forward's where (whose unpicked branch would turn 0 * inf into a
    NaN gradient)."""

    @staticmethod
    def forward(ctx, start, end, weight):
        diff = end - start
        if isinstance(weight, Tensor):
            ctx.save_for_backward(start, end, weight)
            return where(abs(weight) < 0.5, start + weight * diff, end - diff * (1.0 - weight))
        ctx.save_for_backward(start, end)
        ctx.weight = weight
        if -0.5 < weight < 0.5:
            return start + diff * weight
        return end - diff * (1.0 - weight)

    @staticmethod
    def formula(ctx, g):
        start, end, *w = ctx.saved_tensors
        w = w[0] if w else ctx.weight
        need = ctx.needs_input_grad
        gs = sum_to(g * (1.0 - w), start.shape) if need[0] else None
        ge = sum_to(g * w, end.shape) if need[1] else None
        gw = sum_to(g * (end - start), w.shape) if len(need) > 2 and need[2] else None
        return gs, ge, gw


@tensor_method()
def lerp(input, end, weight):  # noqa: A002
    """Linear interpolation ``input + weight * (end - input)`` with broadcasting; ``weight`` is a
    number or a tensor. Floating-point tensors only (as PyTorch; two float dtypes promote,
    where PyTorch requires one)."""
    for what, t in (("input", input), ("end", end)):
        if not isinstance(t, Tensor):
            raise TypeError(f"lerp: {what} must be a Tensor, got {type(t).__name__}")
    ts = (input, end, weight) if isinstance(weight, Tensor) else (input, end)
    if not all(t.dtype.is_floating_point for t in ts):
        raise TypeError("lerp: input, end and weight must be floating-point tensors, got "
                        + ", ".join(repr(t.dtype) for t in ts))
    dt = dtypes.promote_tensors(input, end)
    if isinstance(weight, Tensor):
        dt = dtypes.promote_tensors(input if input.dtype is dt else end, weight)   # (pairwise)
        broadcast_shapes(input.shape, end.shape, weight.shape)
        return Lerp.apply(input.to(dt), end.to(dt), weight.to(dt))
    w = _number(weight, "weight", "lerp")
    return Lerp.apply(input.to(dt), end.to(dt), w)


class Addcmul(Function):
    """input + value * tensor1 * tensor2 (PyTorch's order: (value * tensor1) * tensor2).
    Derivatives (derivatives.yaml): g, g * (tensor2 * value), g * (tensor1 * value)."""

    @staticmethod
    def forward(ctx, input, t1, t2, value):  # noqa: A002
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        return input + (t1 if value == 1 else t1 * value) * t2

    @staticmethod
    def formula(ctx, g):
        t1, t2 = ctx.saved_tensors
        v, need = ctx.value, ctx.needs_input_grad
        i = ctx._inputs[0]
        return (sum_to(g, i.shape) if need[0] else None,
                sum_to(g * (t2 * v), t1.shape) if need[1] else None,
                sum_to(g * (t1 * v), t2.shape) if need[2] else None, None)


class Addcdiv(Function):
    """input + value * tensor1 / tensor2 (PyTorch's order: (value * tensor1) / tensor2).
    Derivatives (derivatives.yaml): g, g * (value / tensor2),
    -g * (value * tensor1 / (tensor2 * tensor2))."""

    @staticmethod
    def forward(ctx, input, t1, t2, value):  # noqa: A002
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        return input + (t1 if value == 1 else t1 * value) / t2

    @staticmethod
    def formula(ctx, g):
        t1, t2 = ctx.saved_tensors
        v, need = ctx.value, ctx.needs_input_grad
        i = ctx._inputs[0]
        return (sum_to(g, i.shape) if need[0] else None,
                sum_to(g * (v / t2), t1.shape) if need[1] else None,
                sum_to(-g * (v * t1 / (t2 * t2)), t2.shape) if need[2] else None, None)


def _addc_operands(input, t1, t2, value, name):  # noqa: A002
    """The three tensors of addcmul/addcdiv in their common dtype, checked to broadcast, and
    ``value`` (PyTorch's promotion: the Python number does not widen the tensors; for integer
    tensors it is cast to an integer, as PyTorch casts the Scalar: 0.5 -> 0)."""
    for what, t in (("input", input), ("tensor1", t1), ("tensor2", t2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
    if isinstance(value, bool) or not isinstance(value, numbers.Number) or isinstance(value, complex):
        raise TypeError(f"{name}: value must be a number, got {type(value).__name__}")
    dt = dtypes.promote_tensors(input, t1)
    # (the operand that decided dt stands for both in the second step: promotion is pairwise)
    dt = dtypes.promote_tensors(input if input.dtype is dt else t1, t2)
    broadcast_shapes(input.shape, t1.shape, t2.shape)
    return input.to(dt), t1.to(dt), t2.to(dt), value if dt.is_floating_point else int(value)


@tensor_method()
def addcmul(input, tensor1, tensor2, *, value=1):  # noqa: A002
    """``input + value * tensor1 * tensor2`` with broadcasting (PyTorch's order: (value *
    tensor1) * tensor2, its derivatives)."""
    return Addcmul.apply(*_addc_operands(input, tensor1, tensor2, value, "addcmul"))


@tensor_method()
def addcdiv(input, tensor1, tensor2, *, value=1):  # noqa: A002
    """``input + value * tensor1 / tensor2`` with broadcasting (PyTorch's order: (value *
    tensor1) / tensor2, its derivatives). Integer tensor1 and tensor2 raise RuntimeError, as
    PyTorch."""
    if isinstance(tensor1, Tensor) and isinstance(tensor2, Tensor) and \
            not tensor1.dtype.is_floating_point and not tensor2.dtype.is_floating_point:
        raise RuntimeError("addcdiv: integer division with addcdiv is not supported (as PyTorch); "
                           "use input + value * tensor1 // tensor2 or convert to float")
    return Addcdiv.apply(*_addc_operands(input, tensor1, tensor2, value, "addcdiv"))


_FLOAT_MAX = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308,
              "float16": 65504.0, "bfloat16": 3.3895313892515355e38}


class NanToNum(Function):
    """NaN -> nan, +inf -> posinf, -inf -> neginf; derivative (derivatives.yaml):
    g * isfinite(x), a product (so a NaN g at a replaced element still gives NaN)."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        dt = x.dtype
        return where(isfinite(x), x, where(isnan(x), _scalar(nan, dt),
                                           where(x > 0, _scalar(posinf, dt), _scalar(neginf, dt))))

    @staticmethod
    def formula(ctx, g):
        (x,) = ctx.saved_tensors
        return g * isfinite(x).to(g.dtype), None, None, None


@tensor_method()
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):  # noqa: A002
    """``input`` with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (by
    default the largest and lowest finite value of its dtype), as PyTorch. Integer and bool
    tensors are returned as a copy."""
    if not isinstance(input, Tensor):
        raise TypeError(f"nan_to_num: expected a Tensor, got {type(input).__name__}")
    vals = [_number(v, n, "nan_to_num") if v is not None else None
            for n, v in (("nan", nan), ("posinf", posinf), ("neginf", neginf))]
    if not input.dtype.is_floating_point:
        return input.clone()
    big = _FLOAT_MAX[input.dtype.name]
    n, p, m = vals
    return NanToNum.apply(input, n, big if p is None else p, -big if m is None else m)
