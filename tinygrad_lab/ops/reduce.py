"""Reductions <-> csrc/reduce.c: sum, max, min, argmax, argmin as kernels; mean (a fused
sum-and-divide for the full reduction), var and logsumexp composed from them; amax / amin (max /
min over a tuple of dims); cumsum and prod along a dim (tl_cumsum, tl_prod_forward/_backward)."""
import builtins
import operator

from .. import dtypes
from .. import kernels as K
from ..creation import arange, copy as _copy
from ..autograd.engine import _ONE, Function, _grad_enabled, _record
from ..kernels import MAX_DIMS, NULL, check, i64
from ..tensor import (_SHAPES, Tensor, _empty, _init_fields, _make, _new_tensor, _numel, _shape_info,
                      _wrap_dim, tensor_method)
from .elementwise import _unary_kernel, exp, log, where
from .shape import DimOutOfRange, _torch_dim, expand, reshape, transpose, unsqueeze  # noqa: F401


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


def _numpy_names(name, dim, keepdim, axis, keepdims):
    """(dim, keepdim) from PyTorch's names or NumPy's (``axis``, ``keepdims``), which every
    reduction accepts too."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: got both dim={dim!r} and axis={axis!r}; pass one")
        dim = axis
    return dim, keepdim if keepdims is None else bool(keepdims)


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
        in_shape, dims = ctx.in_shape, ctx.dims
        if len(dims) == len(in_shape):   # the x.sum() case
            if ctx._inputs[0].grad_fn is None:
                # x is a leaf: g's one value written out over its shape by one copy kernel
                # reading g as a stride-0 broadcast, a fresh contiguous gradient that the engine
                # adopts as x.grad (the broadcast view below would be copied there: ~20% of
                # x.sum().backward())
                n = len(in_shape)
                gx = _empty(in_shape, g.dtype)
                code = g.dtype.code
                rc = K.tl_copy(code, gx._ptr, NULL, code, g._ptr, _ZERO_STRIDES[n], n,
                               (_SHAPES.get(in_shape) or _shape_info(in_shape))[2])
                if rc:
                    check(rc, "sum backward")
                return gx
            # else the broadcast view itself, which the next VJP reads (materialising it costs
            # more than that VJP's strided path): every stride 0, so contiguous only with
            # exactly one element (no _make scan); the validating reshape + expand of the
            # formula cost ~20% of a small fwd+bwd (callgrind)
            return _init_fields(_new_tensor(Tensor), g._shared(), g._data, in_shape,
                                _ZEROS[len(dims)], g._offset, g.dtype,
                                (_SHAPES.get(in_shape) or _shape_info(in_shape))[1] == 1)
        # the broadcast view (stride 0 along the reduced dims)
        gs = iter(g._strides)
        strides = tuple(0 if d in dims else next(gs) for d in range(len(in_shape)))
        return _make(g._shared(), in_shape, strides, g._offset, g.dtype)

    @staticmethod
    def formula(ctx, g):
        return expand(reshape(g, _keep_shape(ctx.in_shape, ctx.dims)), ctx.in_shape)


@tensor_method()
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """Sum over ``dim`` (None = all, an int, or a tuple). bool and int64 sum to int64."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names("sum", dim, keepdim, axis, keepdims)
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
_ZERO_STRIDES = [i64(z) for z in _ZEROS]            # the same as C arrays (NULL for 0-d)


class Mean(Function):
    """The mean of every element of a contiguous float tensor, a 0-d tensor: the sum kernel, then
    the division in place (one node where sum / n makes two). VJP: g / n broadcast back.

    With ``dims`` (a sorted tuple; the output drops them), for a float16/bfloat16 ``x``: the sum
    accumulated and kept in float32 (tl_reduce_to, no float32 copy of x), divided there,
    rounded once -- the bits of x.float().mean(dims) rounded back, where a sum rounded to half
    and divided in half would round twice."""

    @classmethod
    def apply(cls, x, dims=None):
        if dims is not None:
            return cls._half(x, dims)
        out = _empty((), x.dtype)
        n = _numel(x._shape)
        p = out._ptr
        check(K.tl_reduce_flat(K.TL_SUM, x.dtype.code, p, x._ptr, n), "mean")
        check(K.tl_unary_flat(K.TL_DIV_SCALAR, x.dtype.code, p, p, 1, float(n), 0.0), "mean")
        if _grad_enabled() and x.requires_grad:
            ctx = _record(cls, out, (x,), _ONE)
            ctx.in_shape, ctx.dims = x._shape, None
        return out

    @classmethod
    def _half(cls, x, dims):
        shape = x._shape
        keep = [d for d in range(len(shape)) if d not in dims]
        perm = keep + list(dims)
        s = _empty(tuple(shape[d] for d in keep), dtypes.float32)
        check(K.tl_reduce_to(K.TL_SUM, x.dtype.code, K.TL_F32, s._ptr, x._ptr,
                             i64([x._strides[d] for d in perm]), len(shape),
                             i64([shape[d] for d in perm]), len(dims)), "mean")
        n = float(_numel([shape[d] for d in dims]))
        check(K.tl_unary_flat(K.TL_DIV_SCALAR, K.TL_F32, s._ptr, s._ptr, _numel(s._shape), n, 0.0),
              "mean")
        out = _empty(s._shape, x.dtype)
        K.copy_into(out, s)
        if _grad_enabled() and x.requires_grad:
            ctx = _record(cls, out, (x,), _ONE)
            ctx.in_shape, ctx.dims = shape, dims
        return out

    @staticmethod
    def vjp(ctx, g):
        in_shape, dims = ctx.in_shape, ctx.dims
        if dims is not None:           # a half x's mean over dims (Mean._half)
            n = float(_numel([in_shape[d] for d in dims]))
            return Sum.vjp(ctx, _unary_kernel(K.TL_DIV_SCALAR, g, n))
        # g / n written out over the input's shape by one kernel reading g as a stride-0
        # broadcast: a contiguous fresh gradient, which the engine adopts as a leaf's .grad
        # (a broadcast view of g / n would be copied there: two kernels more)
        gx = _empty(in_shape, g.dtype)
        rc = K.tl_unary_forward(K.TL_DIV_SCALAR, g.dtype.code, gx._ptr, NULL, g._ptr,
                                i64(_ZEROS[len(in_shape)]), len(in_shape), i64(in_shape),
                                float(_numel(in_shape)), 0.0)
        if rc:
            check(rc, "mean backward")
        return gx

    @staticmethod
    def formula(ctx, g):
        in_shape = ctx.in_shape
        dims = _ALL_DIMS[len(in_shape)] if ctx.dims is None else ctx.dims
        n = float(_numel([in_shape[d] for d in dims]))
        return expand(reshape(g / n, _keep_shape(in_shape, dims)), in_shape)


@tensor_method()
def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Mean over ``dim``; integer inputs give the default float dtype."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names("mean", dim, keepdim, axis, keepdims)
    if x.dtype.is_half:
        dims = _dims(x, dim)
        return _finish(Mean.apply(x, dims), x, dims, keepdim)
    if dim is None and not keepdim and x._contig and x.dtype.is_floating_point:
        return Mean.apply(x)        # everything to a 0-d tensor (the loss.mean() case)
    dims = _dims(x, dim)
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    return sum(x, dim, keepdim) / float(_numel([x.shape[d] for d in dims]))


class _ReduceExtremum(Function):
    """max / min values; the gradient is split evenly among tied maxima (as PyTorch's
    reduction-to-scalar max; PyTorch's max(dim) picks one index instead). Where the result is
    NaN, the NaN elements are the maxima and take the gradient (as PyTorch)."""

    code = None

    @classmethod
    def forward(cls, ctx, x, dims):
        y = _reduce_kernel(cls.code, x, dims, x.dtype)
        ctx.dims = dims
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def vjp(ctx, g):
        # one C pass (tl_reduce_extremum_backward): count the hits of each output, then write
        # g / count at them; the reduced dims permuted to the end as in _reduce_kernel
        x, y = ctx._saved
        if x.dtype is not dtypes.float32 and x.dtype is not dtypes.float64:
            return _ReduceExtremum.formula(ctx, g)   # (half: the formula's float32 kernels)
        dims, shape = ctx.dims, x._shape
        gx = _empty(shape, x.dtype)
        if not g._contig:
            g = g.contiguous()
        if x._contig and len(dims) == len(shape):    # everything to one value: one flat run
            rc = K.tl_reduce_extremum_backward(x.dtype.code, gx._ptr, NULL, g._ptr, x._ptr, NULL,
                                               y._ptr, 1, i64((_numel(shape),)), 1)
        else:
            perm = [d for d in range(len(shape)) if d not in dims] + list(dims)
            gst = gx._strides
            rc = K.tl_reduce_extremum_backward(
                x.dtype.code, gx._ptr, i64([gst[d] for d in perm]), g._ptr, x._ptr,
                i64([x._strides[d] for d in perm]), y._ptr, len(shape),
                i64([shape[d] for d in perm]), len(dims))
        if rc:
            check(rc, f"{ctx._fn.__name__.lower()} backward")
        return gx, None

    @staticmethod
    def formula(ctx, g):
        x, y = ctx._saved
        ks = _keep_shape(x.shape, ctx.dims)
        y = reshape(y, ks)
        hit = (x == y) | ((x != x) & (y != y))
        if g.dtype.is_half:    # g / count in float32 (a bfloat16 count > 256 is not exact),
            #                   rounded once: the float32 computation's bits
            count = sum(hit, ctx.dims, keepdim=True).to(dtypes.float32)
            return where(hit, reshape(g, ks) / count, 0.0).to(g.dtype), None
        count = sum(hit, ctx.dims, keepdim=True).to(g.dtype)
        return where(hit, reshape(g, ks) / count, 0.0), None


class Max(_ReduceExtremum):
    code = K.TL_MAX


class Min(_ReduceExtremum):
    code = K.TL_MIN


def _check_empty(name, x, dim, dims, hint=""):
    """PyTorch's errors for max/min/argmax/argmin of a 0-element tensor: RuntimeError (IndexError
    for argmax/argmin) without a dim, IndexError for reducing over a size-0 dim; reducing over
    non-empty dims only is allowed (an empty result)."""
    if dim is None or (not dims and x.ndim):
        err = RuntimeError if hint else IndexError
        raise err(f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
                  + hint)
    for d in dims:
        if x._shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _extreme(fn, name, x, dim, keepdim):
    dims = _dims(x, dim)
    if x.numel() == 0:
        _check_empty(name, x, dim, dims,
                     " Specify the reduction dim with the 'dim' argument.")
    if x.dtype is dtypes.bool_:
        x = x.to(dtypes.int64)
    if not dims and x.ndim:
        return x
    return _finish(fn.apply(x, dims), x, dims, keepdim)


@tensor_method()
def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """Largest value (a Tensor, not a (values, indices) pair); NaN propagates."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names("max", dim, keepdim, axis, keepdims)
    return _extreme(Max, "max", x, dim, keepdim)


@tensor_method()
def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names("min", dim, keepdim, axis, keepdims)
    return _extreme(Min, "min", x, dim, keepdim)


def _arg(code, name, x, dim, keepdim):
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int or None, got {dim!r}")
    if x.dtype is dtypes.bool_:
        x = x.to(dtypes.int64)
    dims = _dims(x, dim)
    if x.numel() == 0:
        _check_empty(name, x, dim, dims)
    out = _reduce_kernel(code, x, dims, dtypes.int64)
    if keepdim:
        return reshape(out, _keep_shape(x.shape, dims) if dim is not None else (1,) * x.ndim)
    return out


@tensor_method()
def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the first maximum (int64); with dim=None, into the flattened tensor."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names("argmax", dim, keepdim, axis, keepdims)
    return _arg(K.TL_ARGMAX, "argmax", x, dim, keepdim)


@tensor_method()
def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names("argmin", dim, keepdim, axis, keepdims)
    return _arg(K.TL_ARGMIN, "argmin", x, dim, keepdim)


@tensor_method()
def var(x, dim=None, keepdim=False, unbiased=True, correction=None, *, axis=None, keepdims=None):
    """Variance: the sum of squared deviations divided by N - correction (default 1, Bessel's;
    ``unbiased=False`` means correction 0), as PyTorch."""
    dim, keepdim = _numpy_names("var", dim, keepdim, axis, keepdims)
    dims = _dims(x, dim)
    c = (1 if unbiased else 0) if correction is None else correction
    if x.dtype.is_half:
        return _half_var(x, dims, keepdim, c, None)
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    n = _numel([x.shape[d] for d in dims])
    d = x - mean(x, dims if dims else None, keepdim=True)
    return sum(d * d, dims if dims else None, keepdim) / float(builtins.max(n - c, 0))


def _half_var(x, dims, keepdim, c, then):
    """var (then=None) or std (then=_sqrt_or_zero) of a float16/bfloat16 tensor, computed in
    float32 and rounded once. Without autograd, over given dims: the mean (tl_reduce_to) and the
    sum of squared deviations (tl_reduce_sqdev) read the halves themselves, with the float32
    arithmetic of the composed formula, so the bits are those of var(x.float()) rounded back,
    and no float32 copy of x is made. With autograd (or no dims): that composition on x.float()."""
    if not dims or (x.requires_grad and _grad_enabled()):
        v = var(x.to(dtypes.float32), dims, keepdim, correction=c)
        return (then(v) if then else v).to(x.dtype)
    shape = x._shape
    keep = [d for d in range(len(shape)) if d not in dims]
    perm = keep + list(dims)
    st, sh = i64([x._strides[d] for d in perm]), i64([shape[d] for d in perm])
    out_shape = tuple(shape[d] for d in keep)
    n, m = _numel([shape[d] for d in dims]), _numel(out_shape)
    center, v = _empty(out_shape, dtypes.float32), _empty(out_shape, dtypes.float32)
    check(K.tl_reduce_to(K.TL_SUM, x.dtype.code, K.TL_F32, center._ptr, x._ptr, st, len(shape), sh,
                         len(dims)), "var")
    check(K.tl_unary_flat(K.TL_DIV_SCALAR, K.TL_F32, center._ptr, center._ptr, m, float(n), 0.0),
          "var")
    check(K.tl_reduce_sqdev(x.dtype.code, v._ptr, x._ptr, st, len(shape), sh, len(dims),
                            center._ptr), "var")
    check(K.tl_unary_flat(K.TL_DIV_SCALAR, K.TL_F32, v._ptr, v._ptr, m,
                          float(builtins.max(n - c, 0)), 0.0), "var")
    return _finish((then(v) if then else v).to(x.dtype), x, dims, keepdim)


def _sqrt_or_zero(v):
    """std from var: sqrt, with a 0 gradient where v == 0 (see std)."""
    zero = v == 0
    return where(zero, 0.0, where(zero, 1.0, v) ** 0.5)


@tensor_method()
def std(x, dim=None, keepdim=False, unbiased=True, correction=None, *, axis=None, keepdims=None):
    """Standard deviation: the square root of var (same arguments). Its gradient is 0 where
    the deviation is 0 (a constant input), as PyTorch's std_backward, not 0 * inf = NaN."""
    if x.dtype.is_half:     # the root taken in float32, rounded once
        dim, keepdim = _numpy_names("std", dim, keepdim, axis, keepdims)
        c = (1 if unbiased else 0) if correction is None else correction
        return _half_var(x, _dims(x, dim), keepdim, c, _sqrt_or_zero)
    return _sqrt_or_zero(var(x, dim, keepdim, unbiased, correction, axis=axis, keepdims=keepdims))


@tensor_method()
def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m = max, so it never overflows."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names("logsumexp", dim, keepdim, axis, keepdims)
    dims = _dims(x, dim)
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    if not dims and x.ndim:
        return x
    if _numel([x.shape[d] for d in dims]) == 0:   # an empty sum: log(0) = -inf, as PyTorch
        r = log(sum(exp(x), dims, keepdim=True))
    else:
        m = max(x, dims, keepdim=True).detach()
        m = where((m == float("inf")) | (m == float("-inf")), 0.0, m)
        r = log(sum(exp(x - m), dims, keepdim=True)) + m
    return r if keepdim else reshape(r, tuple(n for i, n in enumerate(x.shape) if i not in dims))


# ---- any / all and norms ------------------------------------------------------------------------

@tensor_method()
def any(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """True where some element along ``dim`` is nonzero (NaN counts as nonzero); a bool tensor."""
    dim, keepdim = _numpy_names("any", dim, keepdim, axis, keepdims)
    return sum(x.detach() != 0, dim, keepdim) > 0


@tensor_method()
def all(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """True where every element along ``dim`` is nonzero; a bool tensor (True when empty)."""
    dim, keepdim = _numpy_names("all", dim, keepdim, axis, keepdims)
    return sum(x.detach() == 0, dim, keepdim) == 0


class Norm(Function):
    """y = (sum |x|^p)^(1/p) over ``dims`` for a finite p > 0 other than 1 (p = 1, +-inf and 0
    are composed from abs, sum, max and min in norm() below). Its derivative,
    g * sign(x) |x|^(p-1) / y^(p-1), is 0 where y == 0: the norm has no derivative at the zero
    vector, and PyTorch picks 0 there (sqrt(sum(x*x)) would give NaN); so does an element
    that is 0 when p < 1. ``vjp`` uses the y
    forward saved; ``formula`` computes y again with ops, so that its own derivative (through
    y) is right."""

    @staticmethod
    def forward(ctx, x, p, dims, keepdim):
        # (not recording: |x| ** p in one kernel, the same values as _norm_keepdim's two)
        y = _norm_keepdim(x, p, dims) if p == 2 else \
            sum(_unary_kernel(K.TL_NORM_TERM, x, p, p - 1.0), dims, keepdim=True) ** (1.0 / p)
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        ctx.save_for_backward(x, y)
        return y if keepdim else reshape(y, tuple(n for i, n in enumerate(x.shape) if i not in dims))

    @staticmethod
    def vjp(ctx, g):
        # one C pass: the backward of the TL_NORM_TERM row (csrc/elementwise.c), g and the norm y
        # broadcast over the reduced dims as stride-0 views
        x, y = ctx._saved
        shape, p = x._shape, ctx.p
        if ctx.keepdim:
            gst = K.broadcast_strides(g, shape)
        else:   # g lacks the reduced dims: stride 0 there
            it = iter(g._strides)
            gst = tuple(0 if d in ctx.dims else next(it) for d in range(len(shape)))
        gx = _empty(shape, x.dtype)
        rc = K.tl_unary_backward(K.TL_NORM_TERM, x.dtype.code, gx._ptr, g._ptr, i64(gst), x._ptr,
                                 K.strides(x), y._ptr, i64(K.broadcast_strides(y, shape)),
                                 len(shape), i64(shape), p, p - 1.0)
        if rc:
            check(rc, "norm backward")
        return gx, None, None, None

    @staticmethod
    def formula(ctx, g):
        x = ctx._saved[0]
        y = _norm_keepdim(x, ctx.p, ctx.dims)
        return _norm_vjp(g, x, y, ctx.p, ctx.keepdim), None, None, None


def _norm_keepdim(x, p, dims):
    s = sum(x * x if p == 2 else x.abs() ** p, dims, keepdim=True)
    return s.sqrt() if p == 2 else s ** (1.0 / p)


def _norm_vjp(g, x, y, p, keepdim):
    if not keepdim:
        g = reshape(g, y.shape)
    if p == 2:
        r = x / y
    else:
        sign = where(x > 0, 1.0, where(x < 0, -1.0, 0.0))
        r = where(x == 0, 0.0, sign * x.abs() ** (p - 1.0) / y ** (p - 1.0))  # (p < 1: 0 * inf)
    return where(y == 0, 0.0, r) * g


@tensor_method()
def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over ``dim`` (None: all elements, as one vector): p a positive number, inf
    (max |x|), -inf (min |x|), 0 (the count of nonzeros) or 'fro' (2)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"norm: expected a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise TypeError(f"norm: the input must be a floating-point tensor, got {x.dtype!r} "
                        "(convert it with .float())")
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    p = float(p)
    if p != p or (p < 0 and p != -INF):
        raise ValueError(f"norm: p must be >= 0, inf or -inf, got {p}")
    dims = _dims(x, dim)
    if not dims and x.ndim:
        dims = ()
    if p == INF:
        return max(x.abs(), dims, keepdim)
    if p == -INF:
        return min(x.abs(), dims, keepdim)
    if p == 0:
        return sum(x.detach() != 0, dims, keepdim).to(x.dtype)
    if p == 1:
        return sum(x.abs(), dims, keepdim)
    return Norm.apply(x, p, dims, keepdim)


def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):  # noqa: A002
    """``tl.linalg.vector_norm``: the ``ord``-norm of ``x`` seen as vectors along ``dim``."""
    return norm(x, ord, dim, keepdim, dtype)


INF = float("inf")


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    """``tl.linalg.matrix_norm``: the ``ord``-norm of the matrices in dims ``dim`` of A: 'fro'
    (sqrt of the sum of squares), 1 / -1 (largest / smallest column sum of |a|), inf / -inf (of
    row sums). 'nuc', 2 and -2 need singular values: NotImplementedError (no SVD yet)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.matrix_norm(): argument 'input' must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        A = A.to(dtype)
    if not A.dtype.is_floating_point:
        raise TypeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as "
                        f"input. Got {A.dtype!r}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim!r}")
    d0, d1 = (_torch_dim(d, A.shape) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs the singular values "
                                  "(no SVD in tinygrad_lab yet)")
    if ord == "fro":
        return norm(A, 2, (d0, d1), keepdim)
    if ord not in (1, -1, INF, -INF):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)   # 1: sum down columns, max across
    s = sum(A.abs(), inner, keepdim=True)
    r = amax(s, outer, keepdim=True) if ord > 0 else amin(s, outer, keepdim=True)
    return r if keepdim else reshape(r, tuple(n for i, n in enumerate(A.shape) if i not in (d0, d1)))


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """``tl.linalg.norm``: a vector norm (``dim`` an int, or a 1-D input) or a matrix norm
    (``dim`` a 2-tuple, or a 2-D input with ``ord`` given); ``ord=None``: the 2-norm of the
    flattened input (Frobenius for matrices)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.norm(): argument 'input' must be Tensor, not {type(A).__name__}")
    if dim is not None:
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    return vector_norm(A, ord, None, keepdim, dtype)


# ---- amax / amin, cumsum, prod (PyTorch's names and rules) --------------------------------------

def _amax_dims(name, x, dim):
    """amax/amin's dim: an int or a tuple (() = every dim); repeats raise RuntimeError."""
    ds = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    wrapped = [_torch_dim(d, x.shape) for d in ds]
    for i, d in enumerate(wrapped):
        if d in wrapped[:i]:
            raise RuntimeError(f"{name}(): dim {d} appears multiple times in the list of dims")
    return ds or None


@tensor_method()
def amax(input, dim=(), keepdim=False):  # noqa: A002  (PyTorch's parameter name)
    """Largest value over ``dim`` (an int or a tuple; () = all). The gradient is split evenly
    among tied maxima; NaN propagates."""
    return _extreme(Max, "amax", input, _amax_dims("amax", input, dim), keepdim)


@tensor_method()
def amin(input, dim=(), keepdim=False):  # noqa: A002
    """Smallest value over ``dim`` (an int or a tuple; () = all); ties share the gradient."""
    return _extreme(Min, "amin", input, _amax_dims("amin", input, dim), keepdim)


def _split(shape, d):
    """(outer, n, inner) of a contiguous tensor of ``shape`` around dim d (0-d: (1, 1, 1))."""
    shape = shape or (1,)
    return _numel(shape[:d]), shape[d], _numel(shape[d + 1:])


def _cumsum_kernel(x, dim, reverse):
    x = x if x._contig else _copy(x)
    out = _empty(x.shape, x.dtype)
    check(K.tl_cumsum(x.dtype.code, out._ptr, x._ptr, *_split(x.shape, dim), int(reverse)), "cumsum")
    return out


class Cumsum(Function):
    """out[..., i, ...] = sum over j <= i along ``dim`` (``reverse``: j >= i). VJP: the reverse
    cumsum of g (tl_cumsum again), which is also the formula's, as an op."""

    @staticmethod
    def forward(ctx, x, dim, reverse):
        ctx.dim, ctx.reverse = dim, reverse
        return _cumsum_kernel(x, dim, reverse)

    @staticmethod
    def vjp(ctx, g):
        return _cumsum_kernel(g, ctx.dim, not ctx.reverse), None, None

    @staticmethod
    def formula(ctx, g):
        return Cumsum.apply(g, ctx.dim, not ctx.reverse), None, None


def _int_or_float(name, x, dtype):
    """The dtype cumsum / prod compute in: ``dtype`` if given, int64 for bool / int64 inputs (as
    PyTorch), float32 for float16 / bfloat16 (rounded back at the end)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): input must be a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype is dtypes.bool_:
        return x.to(dtypes.int64), None
    if x.dtype.is_half:
        return x.to(dtypes.float32), x.dtype
    return x, None


@tensor_method()
def cumsum(input, dim, *, dtype=None):  # noqa: A002
    """Running sum along ``dim`` (torch.cumsum); bool and int64 inputs sum to int64."""
    d = _torch_dim(dim, input.shape)
    x, back = _int_or_float("cumsum", input, dtype)
    out = Cumsum.apply(x, d, False)
    return out if back is None else out.to(back)


def _prod_others(x, dim):
    """The product of the other elements of each slice along ``dim`` (None: of all elements),
    shaped like x, with differentiable ops: the slice repeated n times with the diagonal set to
    1, then its product (O(n^2) memory: the create_graph formula of Prod only)."""
    shape = x.shape
    if dim is None:
        x, dim = reshape(x, (_numel(shape),)), 0
    xt = transpose(x, dim, -1) if x.ndim else reshape(x, (1,))
    n = xt.shape[-1]
    rep = expand(unsqueeze(xt, -2), *xt.shape[:-1], n, n)
    ar = arange(n)
    eye = reshape(ar, (n, 1)) == ar
    others = Prod.apply(where(eye, 1.0, rep), rep.ndim - 1)
    if not x.ndim:
        return reshape(others, ())
    return reshape(transpose(others, dim, -1), shape)


class Prod(Function):
    """y = the product over ``dim`` (None: of every element; the output drops the dim).
    Derivative as PyTorch's: g * y / x when no element of x is 0; else g times the product of
    the other elements of the slice (one zero gets the product of the others, two give 0;
    tl_prod_backward). The formula computes the products of the others with Prod itself, so
    second derivatives are right with zeros too. One difference: for a product of all elements
    with two or more zeros and an Inf or NaN, PyTorch's plain backward returns zeros outright
    where this gives NaN (as PyTorch's create_graph backward does)."""

    @staticmethod
    def forward(ctx, x, dim):
        x = x if x._contig else _copy(x)
        o, n, i = (1, x.numel(), 1) if dim is None else _split(x.shape, dim)
        y = _empty(() if dim is None else x.shape[:dim] + x.shape[dim + 1:], x.dtype)
        check(K.tl_prod_forward(x.dtype.code, y._ptr, x._ptr, o, n, i), "prod")
        ctx.dim, ctx.split = dim, (o, n, i)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def vjp(ctx, g):
        x, y = ctx._saved
        gx = _empty(x.shape, x.dtype)
        g = g if g._contig else _copy(g)
        check(K.tl_prod_backward(x.dtype.code, gx._ptr, g._ptr, x._ptr, y._ptr, *ctx.split),
              "prod backward")
        return gx, None

    @staticmethod
    def formula(ctx, g):
        x, y = ctx._saved
        keep = tuple(1 for _ in x.shape) if ctx.dim is None else \
            tuple(1 if d == ctx.dim else n for d, n in enumerate(x.shape))
        gk = reshape(g, keep)
        if not any(x == 0).item():
            return gk * (reshape(y, keep) / x), None
        return gk * _prod_others(x, ctx.dim), None


@tensor_method()
def prod(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Product of all elements (dim None) or along ``dim`` (torch.prod); bool and int64 inputs
    multiply in int64. The gradient is right with zeros in the input (see Prod)."""
    d = None if dim is None else _torch_dim(dim, input.shape)
    x, back = _int_or_float("prod", input, dtype)
    out = Prod.apply(x, d)
    if keepdim and d is not None and x.ndim:
        out = reshape(out, tuple(1 if k == d else n for k, n in enumerate(x.shape)))
    return out if back is None else out.to(back)
