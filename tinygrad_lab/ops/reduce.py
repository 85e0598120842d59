"""Reductions <-> csrc/reduce.c: sum, max, min, argmax, argmin as kernels; mean (a fused
sum-and-divide for the full reduction), var and logsumexp composed from them."""
import builtins

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import _ONE, Function, _grad_enabled, _record
from ..kernels import MAX_DIMS, check, i64
from ..tensor import _SHAPES, _empty, _make, _numel, _shape_info, _wrap_dim, tensor_method
from .elementwise import _unary_kernel, exp, log, where
from .shape import expand, reshape


def _dims(x, dim):
    """dim=None -> all dims; an int or a tuple of ints (negative allowed) -> sorted tuple."""
    if dim is None:
        return tuple(range(x.ndim))
    ds = dim if isinstance(dim, (tuple, list)) else (dim,)
    out = tuple(sorted(_wrap_dim(d, x.ndim) for d in ds))
    if len(set(out)) != len(out):
        raise ValueError(f"dim {dim} repeats a dimension (tensor shape {x.shape})")
    if x.ndim == 0:
        return ()
    return out


def _keep_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _reduce_kernel(code, x, dims, out_dtype):
    if x._contig and len(dims) == len(x._shape) and code != K.TL_ARGMAX and code != K.TL_ARGMIN:
        # a full reduction of a contiguous tensor: one flat run (the common loss.sum() case)
        out = _empty((), out_dtype)
        rc = K.tl_reduce_flat(code, x.dtype.code, out._ptr, x._ptr,
                              (_SHAPES.get(x._shape) or _shape_info(x._shape))[1])
        if rc:
            check(rc, "reduce")
        return out
    keep = [d for d in range(x.ndim) if d not in dims]
    perm = keep + list(dims)
    out = _empty(tuple(x.shape[d] for d in keep), out_dtype)
    check(K.tl_reduce(code, x.dtype.code, out._ptr, x._ptr, i64([x._strides[d] for d in perm]),
                      x.ndim, i64([x.shape[d] for d in perm]), len(dims)), "reduce")
    return out


def _finish(out, x, dims, keepdim):
    return reshape(out, _keep_shape(x.shape, dims)) if keepdim else out


class Sum(Function):
    """Sum over ``dims`` (a sorted tuple; the output drops them). VJP: g broadcast back."""

    @classmethod
    def apply(cls, x, dims):
        if x._contig and len(dims) == len(x._shape):
            # everything to a 0-d tensor, one flat run (the loss.sum() case, written out flat)
            out = _empty((), x.dtype)
            rc = K.tl_reduce_flat(K.TL_SUM, x.dtype.code, out._ptr, x._ptr,
                                  (_SHAPES.get(x._shape) or _shape_info(x._shape))[1])
            if rc:
                check(rc, "sum")
        else:
            out = _reduce_kernel(K.TL_SUM, x, dims, x.dtype)
        if _grad_enabled() and x.requires_grad:
            ctx = _record(cls, out, (x,), _ONE)
            ctx.in_shape, ctx.dims = x._shape, dims
        return out

    @staticmethod
    def vjp(ctx, g):
        # the broadcast view itself (stride 0 along the reduced dims): the validating reshape +
        # expand of the formula cost ~20% of a small fwd+bwd (callgrind)
        in_shape, dims = ctx.in_shape, ctx.dims
        if len(dims) == len(in_shape):   # (the x.sum() case: every stride 0)
            return _make(g._shared(), in_shape, _ZEROS[len(dims)], g._offset, g.dtype)
        gs = iter(g._strides)
        strides = tuple(0 if d in dims else next(gs) for d in range(len(in_shape)))
        return _make(g._shared(), in_shape, strides, g._offset, g.dtype)

    @staticmethod
    def formula(ctx, g):
        return expand(reshape(g, _keep_shape(ctx.in_shape, ctx.dims)), ctx.in_shape)


@tensor_method()
def sum(x, dim=None, keepdim=False):  # noqa: A001
    """Sum over ``dim`` (None = all, an int, or a tuple). bool and int64 sum to int64."""
    if dim is None and not keepdim and x._contig and x.dtype.is_floating_point:
        return Sum.apply(x, _ALL_DIMS[len(x._shape)])   # the loss.sum() case
    dims = _dims(x, dim)
    if x.dtype is dtypes.bool_:
        x = x.to(dtypes.int64)
    if not dims and x.ndim:
        return x
    return _finish(Sum.apply(x, dims), x, dims, keepdim)


_ALL_DIMS = [tuple(range(n)) for n in range(MAX_DIMS + 1)]
_ZEROS = [(0,) * n for n in range(MAX_DIMS + 1)]  # strides of a value broadcast to n dims


class Mean(Function):
    """The mean of every element of a contiguous float tensor, a 0-d tensor: the sum kernel, then
    the division in place (one node where sum / n makes two). VJP: g / n broadcast back."""

    @classmethod
    def apply(cls, x):
        out = _empty((), x.dtype)
        n = _numel(x._shape)
        p = out._ptr
        check(K.tl_reduce_flat(K.TL_SUM, x.dtype.code, p, x._ptr, n), "mean")
        check(K.tl_unary_flat(K.TL_DIV_SCALAR, x.dtype.code, p, p, 1, float(n), 0.0), "mean")
        if _grad_enabled() and x.requires_grad:
            _record(cls, out, (x,), _ONE).in_shape = x._shape
        return out

    @staticmethod
    def vjp(ctx, g):
        gn = _unary_kernel(K.TL_DIV_SCALAR, g, float(_numel(ctx.in_shape)))
        return _make(gn._shared(), ctx.in_shape, _ZEROS[len(ctx.in_shape)], 0, g.dtype)

    @staticmethod
    def formula(ctx, g):
        n = float(_numel(ctx.in_shape))
        return expand(reshape(g / n, _keep_shape(ctx.in_shape, _ALL_DIMS[len(ctx.in_shape)])),
                      ctx.in_shape)


@tensor_method()
def mean(x, dim=None, keepdim=False):
    """Mean over ``dim``; integer inputs give the default float dtype."""
    if dim is None and not keepdim and x._contig and x.dtype.is_floating_point:
        return Mean.apply(x)        # everything to a 0-d tensor (the loss.mean() case)
    dims = _dims(x, dim)
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    return sum(x, dim, keepdim) / float(_numel([x.shape[d] for d in dims]))


class _ReduceExtremum(Function):
    """max / min values; the gradient is split evenly among tied maxima (as PyTorch's
    reduction-to-scalar max; PyTorch's max(dim) picks one index instead)."""

    code = None

    @classmethod
    def forward(cls, ctx, x, dims):
        y = _reduce_kernel(cls.code, x, dims, x.dtype)
        ctx.dims = dims
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def formula(ctx, g):
        x, y = ctx._saved
        ks = _keep_shape(x.shape, ctx.dims)
        hit = x == reshape(y, ks)
        count = sum(hit, ctx.dims, keepdim=True).to(g.dtype)
        return where(hit, reshape(g, ks) / count, 0.0), None


class Max(_ReduceExtremum):
    code = K.TL_MAX


class Min(_ReduceExtremum):
    code = K.TL_MIN


def _extreme(fn, name, x, dim, keepdim):
    dims = _dims(x, dim)
    if x.numel() == 0:
        raise ValueError(f"{name}() of an empty tensor (shape {x.shape}) has no identity; "
                         "reduce over a non-empty dim")
    if x.dtype is dtypes.bool_:
        x = x.to(dtypes.int64)
    if not dims and x.ndim:
        return x
    return _finish(fn.apply(x, dims), x, dims, keepdim)


@tensor_method()
def max(x, dim=None, keepdim=False):  # noqa: A001
    """Largest value (a Tensor, not a (values, indices) pair); NaN propagates."""
    return _extreme(Max, "max", x, dim, keepdim)


@tensor_method()
def min(x, dim=None, keepdim=False):  # noqa: A001
    return _extreme(Min, "min", x, dim, keepdim)


def _arg(code, name, x, dim, keepdim):
    if x.numel() == 0:
        raise ValueError(f"{name}() of an empty tensor (shape {x.shape})")
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int or None, got {dim!r}")
    if x.dtype is dtypes.bool_:
        x = x.to(dtypes.int64)
    dims = _dims(x, dim)
    out = _reduce_kernel(code, x, dims, dtypes.int64)
    if keepdim:
        return reshape(out, _keep_shape(x.shape, dims) if dim is not None else (1,) * x.ndim)
    return out


@tensor_method()
def argmax(x, dim=None, keepdim=False):
    """Index of the first maximum (int64); with dim=None, into the flattened tensor."""
    return _arg(K.TL_ARGMAX, "argmax", x, dim, keepdim)


@tensor_method()
def argmin(x, dim=None, keepdim=False):
    return _arg(K.TL_ARGMIN, "argmin", x, dim, keepdim)


@tensor_method()
def var(x, dim=None, keepdim=False, unbiased=True, correction=None):
    """Variance; unbiased=True divides by N - 1 (Bessel), as PyTorch."""
    dims = _dims(x, dim)
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    n = _numel([x.shape[d] for d in dims])
    c = (1 if unbiased else 0) if correction is None else correction
    d = x - mean(x, dims if dims else None, keepdim=True)
    return sum(d * d, dims if dims else None, keepdim) / float(builtins.max(n - c, 0))


@tensor_method()
def std(x, dim=None, keepdim=False, unbiased=True):
    return var(x, dim, keepdim, unbiased) ** 0.5


@tensor_method()
def logsumexp(x, dim=None, keepdim=False):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m = max, so it never overflows."""
    dims = _dims(x, dim)
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    if not dims and x.ndim:
        return x
    m = max(x, dims, keepdim=True).detach()
    m = where((m == float("inf")) | (m == float("-inf")), 0.0, m)
    r = log(sum(exp(x - m), dims, keepdim=True)) + m
    return r if keepdim else reshape(r, tuple(n for i, n in enumerate(x.shape) if i not in dims))
