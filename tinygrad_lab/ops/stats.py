"""nansum, nanmean, var_mean, std_mean, aminmax, dist, cdist, cov, corrcoef: PyTorch's
statistics and distance helpers, composed of existing ops (their gradients are those ops'),
except ``Cdist``, an op of its own only for its derivative: PyTorch's cdist gives every element
tied for the maximum the full gradient (p = inf) and 0 for p = 0, which the norm it is built
from does not. (cdist's GEMM form for p = 2, PyTorch's too, is a composite.)
"""
import builtins
import collections
import math
import operator

from .. import dtypes
from ..tensor import Tensor, tensor_method
from ..autograd.engine import Function
from ..creation import ones_like
from ..creation import tensor as _tensor
from . import elementwise as _elementwise
from . import reduce as _reduce
from .elementwise import isnan, sign
from .index import ShapeMismatch
from .linalg import DtypeMismatch, matmul
from .reduce import _sqrt_or_zero, amax, amin, mean, std, sum, var
from .shape import broadcast_shapes, cat, diag, reshape, squeeze, sum_to, transpose, unsqueeze


def _where(cond, a, b):
    return _elementwise.where(cond, a, b)   # looked up per call: tl.amp's half-input wrapper


def _norm(x, p, dim=None):
    return _reduce.norm(x, p, dim)          # (likewise)


class FloatOnly(RuntimeError, TypeError):
    """A floating-point-only function given integers: PyTorch's RuntimeError, and this
    project's TypeError for a dtype problem."""


def _tensor_arg(name, arg, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(t).__name__}")


# ---- nansum, nanmean ----------------------------------------------------------------------------

@tensor_method()
def nansum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002  (PyTorch's names)
    """torch.nansum: sum with NaNs counted as 0 (their gradient is 0); integers sum as sum."""
    _tensor_arg("nansum", "input", input)
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.is_floating_point:
        input = _where(isnan(input), 0.0, input)
    return sum(input, dim, keepdim)


@tensor_method()
def nanmean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """torch.nanmean: the mean of the non-NaN elements (NaN where all are NaN)."""
    _tensor_arg("nanmean", "input", input)
    if dtype is not None:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        raise FloatOnly(f"nanmean(): expected input to have floating point or complex dtype but "
                        f"got {input.dtype!r}")
    count = sum(isnan(input).logical_not(), dim, keepdim)
    return nansum(input, dim, keepdim) / count


# ---- var_mean, std_mean -------------------------------------------------------------------------

def _moments(name, spread, input, dim, unbiased, keepdim, correction):
    _tensor_arg(name, "input", input)
    if isinstance(dim, bool):     # the var_mean(input, unbiased) overload
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): pass unbiased or correction, not both")
    if not input.dtype.is_floating_point:
        raise FloatOnly(f"{name} only support floating point and complex dtypes")
    c = correction if correction is not None else (0 if unbiased is False else 1)
    return spread(input, dim, keepdim, correction=c), mean(input, dim, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """torch.var_mean: (var, mean) over ``dim``; the variance divides by N - correction
    (default 1; ``unbiased=False`` is 0)."""
    return _moments("var_mean", var, input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """torch.std_mean: (std, mean), with var_mean's arguments."""
    return _moments("std_mean", std, input, dim, unbiased, keepdim, correction)


# ---- aminmax ------------------------------------------------------------------------------------

aminmax_result = collections.namedtuple("aminmax", ["min", "max"])   # torch.return_types.aminmax


@tensor_method()
def aminmax(input, *, dim=None, keepdim=False):  # noqa: A002
    """torch.aminmax: the named tuple (min, max) over ``dim`` (None: every element; with
    keepdim, every dim kept as size 1). Tied extremes share the gradient, as amin/amax."""
    _tensor_arg("aminmax", "input", input)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        lo, hi = amin(input), amax(input)
        if keepdim:
            lo, hi = reshape(lo, (1,) * input.ndim), reshape(hi, (1,) * input.ndim)
    else:
        if isinstance(dim, (tuple, list)):
            raise TypeError("aminmax(): dim must be an int or None")
        d = operator.index(dim)
        if input.numel() == 0 and input.ndim and input.shape[d % input.ndim] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d % input.ndim} to have non-zero "
                             f"size.")
        lo, hi = amin(input, d, keepdim), amax(input, d, keepdim)
    if input.dtype is dtypes.bool_:
        lo, hi = lo.to(dtypes.bool_), hi.to(dtypes.bool_)
    return aminmax_result(lo, hi)


# ---- dist, cdist --------------------------------------------------------------------------------

_FALSE = _tensor(False)


def _zero_grad_term(x, dims):
    """0 with a 0 gradient for ``x`` (PyTorch's p = 0 norms are differentiable, with gradient 0)."""
    return sum(_where(_FALSE, x, 0.0), dims)


@tensor_method()
def dist(input, other, p=2):  # noqa: A002
    """torch.dist: the p-norm of input - other (broadcast), a 0-d tensor."""
    _tensor_arg("dist", "input", input)
    _tensor_arg("dist", "other", other)
    for t in (input, other):
        if not t.dtype.is_floating_point:
            raise FloatOnly(f"norm(): input dtype should be either floating point or complex. "
                            f"Got {t.dtype!r} instead.")
    d = input - other
    out = _norm(d, p)
    if p == 0 and d.requires_grad:
        out = out + _zero_grad_term(d, None)
    return out


def _cdist_diffs(x1, x2):
    """x1 (..., P, M) - x2 (..., R, M) -> (..., P, R, M)."""
    return unsqueeze(x1, -2) - unsqueeze(x2, -3)


def _cdist_norm(d, p):
    if p == math.inf:
        return amax(d.abs(), -1)
    out = _norm(d, p, -1)
    return out + _zero_grad_term(d, -1) if p == 0 and d.requires_grad else out


class Cdist(Function):
    """dist[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p, with PyTorch's derivative
    (aten/src/ATen/native/Distance.cpp, _cdist_backward), per difference d = x1_i - x2_j:
    p = 0: 0; p = 1: sign(d); p < 2: sign(d) |d|^(p-1) / dist^(p-1), 0 where dist == 0 or (p < 1)
    d == 0; p = 2: d / dist; p = inf: sign(d) where |d| == dist (every tied maximum gets it all);
    other p: d |d|^(p-2) / dist^(p-1); each 0 where dist == 0. The broadcast batch dims are
    summed back by sum_to. A formula alone (no C kernel of its own): it recomputes dist with ops,
    so its own derivative (create_graph) is right."""

    @staticmethod
    def forward(ctx, x1, x2, p):
        ctx.p = p
        ctx.save_for_backward(x1, x2)
        return _cdist_norm(_cdist_diffs(x1, x2), p)

    @staticmethod
    def formula(ctx, g):
        x1, x2 = ctx.saved_tensors
        p = ctx.p
        d = _cdist_diffs(x1, x2)
        y = unsqueeze(_cdist_norm(d, p), -1)
        g = unsqueeze(g, -1)
        zero = y == 0
        safe_y = _where(zero, 1.0, y)
        if p == 0:
            gd = d * 0.0 * g
        elif p == 1:
            gd = sign(d) * g
        elif p == math.inf:
            gd = _where(d.abs() == y, sign(d), 0.0) * g
        elif p == 2:
            gd = _where(zero, 0.0, d / safe_y) * g
        elif p < 2:
            dead = zero | (d == 0) if p < 1 else zero
            safe_d = _where(d == 0, 1.0, d.abs())
            gd = _where(dead, 0.0, sign(d) * safe_d ** (p - 1) / safe_y ** (p - 1)) * g
        else:
            gd = _where(zero, 0.0, d * d.abs() ** (p - 2) / safe_y ** (p - 1)) * g
        need1, need2 = ctx.needs_input_grad[:2]
        g1 = sum_to(sum(gd, -2), x1.shape) if need1 else None
        g2 = sum_to(-sum(gd, -3), x2.shape) if need2 else None
        return g1, g2, None


def _euclidean_dist(x1, x2):
    """PyTorch's matmul form of the p = 2 distance (aten's _euclidean_dist):
    sqrt(max(|a|^2 + |b|^2 - 2 a.b, 0)) from one GEMM of x1 and x2 padded with their squared
    norms and ones; O(P R) memory instead of the differences' O(P R M). Its gradient is 0 where
    that is 0, as PyTorch's _euclidean_dist_backward."""
    n1 = sum(x1 * x1, -1, keepdim=True)
    n2 = sum(x2 * x2, -1, keepdim=True)
    a = cat([x1 * -2.0, n1, ones_like(n1)], -1)
    b = cat([x2, ones_like(n2), n2], -1)
    return _sqrt_or_zero(matmul(a, transpose(b, -1, -2)).clamp(min=0.0))


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """torch.cdist: the p-norm distance between each row of x1 (..., P, M) and each row of
    x2 (..., R, M) -> (..., P, R), batch dims broadcast. As PyTorch: p = 2 with more than 25
    rows on a side (``compute_mode`` "use_mm_for_euclid_dist_if_necessary", the default), or
    any size with "use_mm_for_euclid_dist", is the GEMM form (_euclidean_dist, which can lose
    digits to cancellation); otherwise the norms of the differences, with PyTorch's derivative
    (``Cdist``: 0 at zero distance, tied maxima of p = inf get the whole gradient)."""
    _tensor_arg("cdist", "x1", x1)
    _tensor_arg("cdist", "x2", x2)
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise ShapeMismatch(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
        if not t.dtype.is_floating_point:
            raise FloatOnly(f"cdist only supports floating-point dtypes, {name} got: {t.dtype!r}")
    if x1.dtype is not x2.dtype:
        raise DtypeMismatch(f"cdist: expected both inputs to have the same dtype, but found "
                            f"{x1.dtype!r} and {x2.dtype!r}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ShapeMismatch(f"X1 and X2 must have the same number of columns. X1: "
                            f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    try:
        broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise ShapeMismatch(f"cdist: the batch dims of X1 {list(x1.shape)} and X2 "
                            f"{list(x2.shape)} do not broadcast") from None
    large = builtins.max(x1.shape[-2], x2.shape[-2]) > 25
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                   compute_mode == "use_mm_for_euclid_dist_if_necessary" and large):
        return _euclidean_dist(x1, x2)
    return Cdist.apply(x1, x2, float(p))


# ---- cov, corrcoef ------------------------------------------------------------------------------

def _weights(name, w, n, integral):
    if w is None:
        return None
    _tensor_arg("cov", name, w)
    if w.ndim > 1:
        raise ShapeMismatch(f"cov(): expected {name} to have one or fewer dimensions but got "
                            f"{name} with {w.ndim} dimensions")
    if w.numel() != n:
        raise ShapeMismatch(f"cov(): expected {name} to have the same numel as there are "
                            f"observations in the input but got {w.numel()} != {n}")
    if integral and w.dtype.is_floating_point:
        raise FloatOnly(f"cov(): expected {name} to have integral dtype but got {w.dtype!r}")
    if not integral and not w.dtype.is_floating_point:
        raise FloatOnly(f"cov(): expected {name} to have floating point dtype but got {w.dtype!r}")
    if n and amin(w.detach()).item() < 0:
        raise RuntimeError(f"cov(): {name} cannot be negative")
    return w


@tensor_method()
def cov(input, *, correction=1, fweights=None, aweights=None):  # noqa: A002
    """torch.cov: the covariance matrix of the variables in the rows of ``input`` (a 1-D input
    is one variable), observations in the columns; ``fweights`` (integer frequencies) and
    ``aweights`` (observation weights) as numpy.cov; the normaliser is sum(w) - correction (with
    aweights, sum(w) - correction * sum(w * aweights) / sum(w)), clamped at 0 as PyTorch does.
    A 1-variable result is 0-d."""
    _tensor_arg("cov", "input", input)
    if input.ndim > 2:
        raise ShapeMismatch(f"cov(): expected input to have two or fewer dimensions but got an "
                            f"input with {input.ndim} dimensions")
    x = reshape(input, (1, -1)) if input.ndim < 2 else input
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    n = x.shape[1]
    fw = _weights("fweights", fweights, n, True)
    aw = _weights("aweights", aweights, n, False)
    w = fw if aw is None else (aw if fw is None else fw * aw)
    if w is None:
        avg = mean(x, 1)
        norm_factor = float(n - correction)
    else:
        w = w.to(x.dtype) if not w.dtype.is_floating_point else w
        w_sum = sum(w)
        avg = sum(x * w, 1) / w_sum
        if aw is not None and correction != 0:
            norm_factor = w_sum - correction * sum(w * aw) / w_sum
        else:
            norm_factor = w_sum - correction
    if isinstance(norm_factor, Tensor):
        if norm_factor.item() <= 0:
            norm_factor = norm_factor * 0.0
    elif norm_factor <= 0:
        norm_factor = 0.0
    xc = x - unsqueeze(avg, 1)
    c = matmul(xc, transpose(xc * w if w is not None else xc, 0, 1))
    out = c / norm_factor
    return squeeze(out) if out.shape == (1, 1) else out


@tensor_method()
def corrcoef(input):  # noqa: A002
    """torch.corrcoef: Pearson's correlation coefficients, cov(input) / (std_i std_j), clipped
    to [-1, 1] as PyTorch does (a 1-variable result is x / x: 1, or NaN)."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    sd = diag(c).sqrt()
    c = c / unsqueeze(sd, 1)
    c = c / unsqueeze(sd, 0)
    return c.clamp(-1.0, 1.0)


__all__ = ["nansum", "nanmean", "var_mean", "std_mean", "aminmax", "dist", "cdist", "cov",
           "corrcoef"]
