"""index_add, index_copy, index_fill, scatter_reduce, masked_scatter (+ their ``_`` forms) and
Tensor.where <-> csrc/index.c.

All of them are gather / scatter along one dim (ops/index.py's ``_DimPlan``, tl_dim_offsets):

- index_add / index_copy: a 1-D ``index`` along ``dim`` is expanded (stride 0, no copy) to the
  source's shape, then ``ScatterDim`` adds / writes the source there: scatter_add's and scatter's
  kernels and derivatives (self gets g, with the written positions zeroed for index_copy; the
  source gets g gathered at the index);
- index_fill: a bool mask scattered from the index, then ``where`` (so a 0-d value tensor gets
  the gradient summed over the filled positions, as PyTorch);
- masked_scatter: the mask's true positions (tl_nonzero, C order) index_copy the source's first
  elements into the flattened input;
- scatter_reduce: ``ScatterReduce``, one C kernel (tl_scatter_reduce) for sum, prod, mean, amax
  and amin, with PyTorch's derivatives written with tl ops (derivatives.yaml's
  scatter_reduce_backward): amax/amin split the gradient evenly among the tied elements
  (self's included), prod divides by each factor with a separate path for a single zero (and
  its double backward raises when two zeros meet at one position, as PyTorch's).
"""
import operator

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import Function, _grad_enabled
from ..creation import copy as _copy, tensor, zeros
from ..kernels import check, i64
from ..tensor import Tensor, _contiguous_strides, _empty, tensor_method
from . import elementwise as _elementwise
from .index import (GatherDim, IndexTypeError, ScatterDim, ShapeMismatch, _check_index, _DimPlan,
                    _int_ptr, _nonzero, _pad_to, _value_for, _zero)
from .inplace import _inplace, _same_shape_
from .reduce import _torch_dim
from .shape import BasicIndex, broadcast_shapes

_REDUCES = {"sum": 0, "prod": 1, "mean": 2, "amax": 3, "amin": 4}


def _plan(name, xshape, d, index, exc=RuntimeError):
    """A _DimPlan whose bounds are checked now; an index out of range raises ``exc`` (PyTorch
    raises IndexError for some of these ops, RuntimeError for others)."""
    plan = _DimPlan(name, xshape, d, index)
    try:
        plan.offsets(_contiguous_strides(plan.xshape))
    except RuntimeError as e:
        if exc is RuntimeError:
            raise
        raise exc(f"{name}(): {e}") from None
    return plan


def _vector_index(name, index):
    """index_add/copy/fill's index: an int64 tensor of at most one dim, as a 1-D tensor."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): index must be a Tensor, got {type(index).__name__}")
    if index.dtype is not dtypes.int64:
        raise IndexTypeError(f"{name}(): Expected dtype int64 for index, got {index.dtype!r}")
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector, but got dim: {index.ndim} "
                         f"with size {list(index.shape)}")
    return index.reshape(-1)


def _along(index, d, shape):
    """The 1-D ``index`` as a gather/scatter index of ``shape`` along ``d``: a stride-0 view."""
    view = index.reshape((1,) * d + (index.shape[0],) + (1,) * (len(shape) - d - 1))
    return view.expand(shape)


def _index_source(name, x, dim, index, source):
    """Validate index_add/index_copy's arguments (PyTorch's checks) -> (x as >= 1-D, wrapped
    dim, 1-D index, source as >= 1-D)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): input must be a Tensor, got {type(x).__name__}")
    if not isinstance(source, Tensor):
        raise TypeError(f"{name}(): source must be a Tensor, got {type(source).__name__}")
    index = _vector_index(name, index)
    d = _torch_dim(dim, x.shape)
    if source.dtype is not x.dtype:
        raise RuntimeError(f"{name}(): self ({x.dtype!r}) and source ({source.dtype!r}) must have "
                           f"the same dtype")
    xs, ss = x.shape or (1,), source.shape or (1,)
    if x.ndim == 0 and source.ndim == 0:
        x, source = x.reshape(1), source.reshape(1)
    if len(xs) != len(ss) or x.ndim != source.ndim or any(
            a != b for i, (a, b) in enumerate(zip(xs, ss)) if i != d):
        raise ShapeMismatch(f"{name}(): source tensor shape must match self tensor shape, "
                            f"excluding the specified dimension. Got self.shape = "
                            f"{list(x.shape)} source.shape = {list(source.shape)}")
    if index.shape[0] != ss[d]:
        raise ShapeMismatch(f"{name}(): Number of indices ({index.shape[0]}) should be equal to "
                            f"source.size(dim) ({ss[d]}), for dim: {d}")
    return x, d, index, source


@tensor_method()
def index_add(input, dim, index, source, *, alpha=1):  # noqa: A002  (PyTorch's names)
    """A copy of ``input`` with ``alpha * source`` added along ``dim`` at the positions ``index``
    (1-D int64, len = source.size(dim); repeated indices accumulate). Gradients: input gets g,
    source gets alpha * g.index_select(dim, index)."""
    shape = input.shape if isinstance(input, Tensor) else None
    x, d, index, source = _index_source("index_add", input, dim, index, source)
    if alpha != 1:
        source = source * alpha
    plan = _plan("index_add", x.shape, d, _along(index, d, source.shape))
    return ScatterDim.apply(x, source, plan, True).reshape(shape)


@tensor_method()
def index_copy(input, dim, index, source):  # noqa: A002
    """A copy of ``input`` with the slices of ``source`` written along ``dim`` at the positions
    ``index`` (1-D int64; with repeated indices one of the writes wins). Gradients: input gets g
    with the written slices zeroed, source gets g.index_select(dim, index)."""
    shape = input.shape if isinstance(input, Tensor) else None
    x, d, index, source = _index_source("index_copy", input, dim, index, source)
    plan = _plan("index_copy", x.shape, d, _along(index, d, source.shape), IndexError)
    return ScatterDim.apply(x, source, plan, False).reshape(shape)


@tensor_method()
def index_fill(input, dim, index, value):  # noqa: A002
    """A copy of ``input`` with the slices at ``index`` (int64, at most 1-D; negative indices
    count from the end) along ``dim`` set to ``value`` (a number or a 0-d tensor, which gets the
    gradient summed over the filled elements)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"index_fill(): input must be a Tensor, got {type(input).__name__}")
    if isinstance(index, Tensor) and index.dtype is dtypes.int64 and index.ndim > 1:
        raise ShapeMismatch("index_fill(): Index has to be a vector/scalar")
    index = _vector_index("index_fill", index)
    d = _torch_dim(dim, input.shape)
    xshape = input.shape or (1,)
    n = xshape[d]
    index = _elementwise.where(index < 0, index + n, index)   # wraps, as PyTorch's index_fill
    value = _value_for(input, value, "index_fill_")
    mask = zeros(xshape, dtype=dtypes.bool_)
    ishape = xshape[:d] + (index.shape[0],) + xshape[d + 1:]
    plan = _plan("index_fill", xshape, d, _along(index, d, ishape), IndexError)
    plan.scatter_into(mask, tensor(True), False)
    # (where looked up at call time: tl.amp wraps it for half tensors)
    return _elementwise.where(mask.reshape(input.shape), value, input)


@tensor_method()
def masked_scatter(input, mask, source):  # noqa: A002
    """``input`` (broadcast with the bool ``mask``) with its masked elements replaced, in C
    order, by the first elements of ``source`` (which needs at least as many as the mask has
    true elements). Gradients: input gets g where the mask is false, source's first elements
    get g at the masked positions (zeros after them)."""
    if not isinstance(mask, Tensor) or mask.dtype is not dtypes.bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {got}")
    if not isinstance(input, Tensor) or not isinstance(source, Tensor):
        raise TypeError("masked_scatter(): input and source must be Tensors")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{input.dtype!r} and {source.dtype!r}")
    shape = broadcast_shapes(input.shape, mask.shape)
    x = input if input.shape == shape else input.expand(shape)
    m = mask if mask.shape == shape else mask.expand(shape)
    pos = _nonzero(m.reshape(-1))[:, 0]
    k = pos.shape[0]
    if source.numel() < k:
        raise RuntimeError(f"masked_scatter: Number of elements of source ({source.numel()}) < "
                           f"number of ones in mask ({k})")
    src = source.reshape(-1)[:k]
    return index_copy(x.reshape(-1), 0, pos, src).reshape(shape)


@tensor_method("where")
def where_method(input, condition, other):  # noqa: A002
    """Tensor.where(condition, other): ``tl.where(condition, self, other)``."""
    return _elementwise.where(condition, input, other)


# ---- scatter_reduce ------------------------------------------------------------------------------

class ScatterReduce(Function):
    """out = a copy of x reduced (sum, prod, mean, amax, amin) with src at
    x[..., index[p], ...] (tl_scatter_reduce); include_self False leaves self's value out at
    every position the index hits. The derivative is PyTorch's (see the module docstring),
    written with tl ops only: no separate C VJP."""

    @staticmethod
    def forward(ctx, x, src, plan, reduce, include_self):
        ctx.plan, ctx.reduce, ctx.include_self, ctx.src_shape = plan, reduce, include_self, src.shape
        out = _copy(x)
        counts = _empty(plan.xshape, dtypes.int64) if reduce == "mean" else None
        ni = len(plan.ishape)
        sst = src._strides if src.ndim else (0,) * ni
        check(K.tl_scatter_reduce(out.dtype.code, out._ptr, K.NULL if counts is None else _int_ptr(counts),
                                  src._ptr, i64(sst[:ni]), _int_ptr(plan.offsets(out._strides)),
                                  ni, i64(plan.ishape), _REDUCES[reduce], int(include_self)),
              "scatter_reduce")
        ctx.save_for_backward(x, src, out, plan.index)
        return out

    @staticmethod
    def formula(ctx, g):
        x, src, out, _ = ctx.saved_tensors
        plan, reduce, include_self = ctx.plan, ctx.reduce, ctx.include_self
        if src.shape != plan.index.shape:    # (src is read over the index's corner only)
            src = BasicIndex.apply(src, tuple(slice(0, n, 1) for n in plan.index.shape))

        def gather(t):
            return GatherDim.apply(t, plan)

        def scatter_add(t, s):
            return ScatterDim.apply(t, s, plan, True)

        if reduce == "sum":
            gx, gs = g, gather(g)
        elif reduce == "mean":
            n = scatter_add(_full_like(g, 1.0 if include_self else 0.0), _full_like(src, 1.0))
            n = _elementwise.where(n == 0, _zero(g.dtype) + 1, n)
            gx, gs = g / n, gather(g) / gather(n)
        elif reduce == "prod":
            gx, gs = _prod_grads(x, src, out, g, plan, include_self, gather, scatter_add)
        else:   # amax / amin: split evenly among the elements equal to the result
            value = gather(out)
            self_is = (x == out).to(g.dtype)
            src_is = (src == value).to(g.dtype)
            gd = g / scatter_add(self_is, src_is)
            gx, gs = self_is * gd, src_is * gather(gd)
        if not include_self:
            gx = ScatterDim.apply(gx, _zero(g.dtype), plan, False)
        gx = gx if ctx.needs_input_grad[0] else None
        gs = _pad_to(gs, ctx.src_shape) if ctx.needs_input_grad[1] else None
        return gx, gs, None, None, None


def _full_like(t, v):
    return _zero(t.dtype).expand(t.shape) + v


def _prod_grads(x, src, out, g, plan, include_self, gather, scatter_add):
    """PyTorch's prod gradients: self by g * (the product with self masked to 1 where it is 0)
    / masked self; src by g * out / src, except where src is the only zero reaching its
    position (g * the product with that zero masked to 1)."""
    one = _zero(g.dtype) + 1
    masked_self = _elementwise.where(x == 0, one, x)
    gx = g * ScatterReduce.apply(masked_self, src, plan, "prod", include_self) / masked_self
    src_zero = src == 0
    zeros = scatter_add(_full_like(x, 0.0), src_zero.to(g.dtype))
    num_zeros = gather(zeros)
    single = _elementwise.logical_and(src_zero, num_zeros == 1)
    masked_src_result = ScatterReduce.apply(x, _elementwise.where(single, one, src), plan, "prod",
                                            include_self)
    gs = _elementwise.where(single, gather(g * masked_src_result),
                            gather(g * out) / _elementwise.where(src_zero, one, src))
    if _grad_enabled() and bool((num_zeros > 1).any()):
        gs = _ProdDoubleBackward.apply(gs)
    return gx, gs


class _ProdDoubleBackward(Function):
    """Passes scatter_reduce('prod')'s src gradient through; its own derivative raises (as
    PyTorch's DelayedError): the formula is wrong when two zeros reach one position."""

    @staticmethod
    def forward(ctx, gs):
        return _copy(gs)

    @staticmethod
    def formula(ctx, gg):
        raise RuntimeError("scatter_reduce(): Double backward is unsupported for src when >1 zeros "
                           "in src are scattered to the same position")


@tensor_method()
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):  # noqa: A002
    """A copy of ``input`` with ``src`` reduced into it along ``dim`` at ``index`` (gather's
    index rules; src at least index-shaped, same dtype), ``reduce`` one of 'sum', 'prod',
    'mean', 'amax', 'amin'; include_self=False leaves input's own values out where the index
    hits. mean divides by the number of values reduced (floor division for int64); amax/amin
    propagate NaN. float32/float64/int64."""
    if reduce not in _REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce!r}")
    d = _check_index("scatter_reduce", input, dim, index)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): src must be a Tensor, got {type(src).__name__}")
    if src.dtype is not input.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype "
                           f"({input.dtype!r} vs {src.dtype!r})")
    if max(src.ndim, 1) != max(index.ndim, 1) or any(a > b for a, b in zip(index.shape, src.shape)):
        raise ShapeMismatch(f"scatter_reduce(): Expected index {list(index.shape)} to be no larger "
                            f"than self {list(input.shape)} apart from dimension {d} and to be no "
                            f"larger size than src {list(src.shape)}")
    if input.dtype is dtypes.bool_ or input.dtype.is_half:
        raise TypeError(f"scatter_reduce(): not implemented for {input.dtype!r} tensors")
    include_self = operator.truth(include_self)
    return ScatterReduce.apply(input, src, _DimPlan("scatter_reduce", input.shape, d, index),
                               reduce, include_self)


# ---- in place -----------------------------------------------------------------------------------
# (the functions are looked up at call time, as in ops/inplace.py)

@tensor_method()
def index_add_(t, dim, index, source, *, alpha=1):
    """In-place index_add."""
    return _inplace(t, "index_add_", lambda a: index_add(a, dim, index, source, alpha=alpha), (source,))


@tensor_method()
def index_copy_(t, dim, index, source):
    """In-place index_copy."""
    return _inplace(t, "index_copy_", lambda a: index_copy(a, dim, index, source), (source,))


@tensor_method()
def index_fill_(t, dim, index, value):
    """In-place index_fill."""
    return _inplace(t, "index_fill_", lambda a: index_fill(a, dim, index, value), (value,))


@tensor_method()
def scatter_reduce_(t, dim, index, src, reduce, *, include_self=True):
    """In-place scatter_reduce."""
    return _inplace(t, "scatter_reduce_",
                    lambda a: scatter_reduce(a, dim, index, src, reduce, include_self=include_self),
                    (src,))


@tensor_method()
def masked_scatter_(t, mask, source):
    """In-place masked_scatter (the mask broadcasts to t, not t to the mask)."""
    if isinstance(mask, Tensor):
        _same_shape_(t, broadcast_shapes(t.shape, mask.shape), "masked_scatter_")
    return _inplace(t, "masked_scatter_", lambda a: masked_scatter(a, mask, source), (source,))

