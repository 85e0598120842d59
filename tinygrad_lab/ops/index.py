"""Integer-array ("advanced") indexing <-> csrc/index.c.

``t[key]`` where the key holds int64 tensors, lists or NumPy arrays of ints, or bool masks,
possibly mixed with ints, slices, None and ``...``. Semantics are PyTorch's, which are NumPy's
except in one corner:

- the index arrays broadcast together to a shape B; a bool mask stands for the int64 positions of
  its true elements (``torch.nonzero``), one index array per dim it covers, and must match those
  dims' sizes exactly; a 0-d bool (``True``/``False``) adds a dim of size 1 or 0;
- when the advanced indices are adjacent, B replaces them in the result; otherwise B comes first;
- negative indices wrap; an index out of range raises IndexError naming the value, the dim of
  the indexed tensor and its size;
- ints (and 0-d int64 tensors) select first, like basic indexing, so they never separate two
  advanced indices and never count as one: ``x[0, :, [0, 1]]`` has shape (3, 2) for x of shape
  (2, 3, 4), as in PyTorch (NumPy would give (2, 3)). An ``...`` covering no dims does not
  separate them either (PyTorch again);
- a key that is a list is one index array (``x[[0, 1]]``), never a tuple of indices, as in NumPy.

How: the basic parts of the key become a view (``shape.BasicIndex``: no copy); the index arrays
become one int64 offset per position of B (``tl_index_offsets``, which also checks the bounds);
then ``Gather`` reads the view at those offsets. Its derivative is ``GatherBackward``
(tl_gather_backward: zeros, then ``+=`` at the same offsets, so repeated indices accumulate), an
op whose own derivative is again ``Gather``: gradients of any order work.

Along one dim (PyTorch's gather / scatter / scatter_add, masked_fill): ``_DimPlan`` turns an
int64 index into one element offset per index position (tl_dim_offsets, which checks the bounds:
no negative wrapping there, as PyTorch), then ``GatherDim`` reads them with the same gather
kernel, its derivative ``GatherDimBackward`` scatter-adds into zeros, and ``ScatterDim`` writes
or adds a source at them (tl_scatter_dim) into a copy of the input.

This module owns ``Tensor.__getitem__``: basic keys become shape.BasicIndex views, the others
come here.
"""
import operator

import numpy as np

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import Function
from ..creation import copy as _copy, tensor
from ..kernels import check, ffi, i64
from ..tensor import Tensor, _check_shape, _contiguous_strides, _empty, _make, _wrap_dim, tensor_method
from . import elementwise as _elementwise
from .elementwise import where
from .reduce import _torch_dim
from .shape import (BasicIndex, IndexBackward, _is_int, broadcast_shapes, expand, parse_basic_index,
                    reshape, unsqueeze)


class ShapeMismatch(RuntimeError, ValueError):
    """gather / scatter's index and source sizes do not fit: PyTorch's RuntimeError, and this
    project's ValueError for a shape problem."""


class IndexTypeError(IndexError, TypeError):
    """A key element of a type that cannot index (float tensors, strings...). It is both an
    IndexError (as NumPy and PyTorch raise) and a TypeError (this project's rule for dtypes)."""


_VALID = ("only integers, slices (`:`), ellipsis (`...`), None, and int64 or bool tensors "
          "(or lists / NumPy arrays of ints or bools) are valid indices")


def _int_ptr(t):
    return ffi.cast("int64_t *", t._ptr)


# ---- the key ------------------------------------------------------------------------------------

def _as_index_tensor(k):
    """A list / tuple / NumPy array key element -> an int64 or bool tensor."""
    if isinstance(k, np.ndarray):
        if k.dtype.kind in "iu":
            return tensor(k, dtype=dtypes.int64)
        if k.dtype.kind == "b":
            return tensor(k)
        raise IndexTypeError(f"{_VALID}; got a NumPy array of dtype {k.dtype}")
    try:
        t = tensor(k)
    except (TypeError, ValueError) as e:
        raise IndexTypeError(f"{_VALID}; got a {type(k).__name__} that is not a rectangular list "
                             f"of ints or bools ({e})") from None
    if t.dtype.is_floating_point:
        if t.numel() == 0:
            return tensor(np.zeros(t.shape, np.int64))  # [] indexes nothing (an empty int64 array)
        raise IndexTypeError(f"{_VALID}; got a {type(k).__name__} of floats")
    return t


def _classify(k):
    """One key element -> (kind, value): 'none', 'ellipsis', 'slice', 'int', 'array' (int64
    tensor, ndim >= 1) or 'mask' (bool tensor, any ndim)."""
    if k is None:
        return "none", None
    if k is Ellipsis:
        return "ellipsis", None
    if isinstance(k, slice):
        return "slice", k
    if isinstance(k, (bool, np.bool_)):
        return "mask", tensor(bool(k))
    if _is_int(k):
        return "int", operator.index(k)
    if isinstance(k, (list, tuple, np.ndarray)):
        k = _as_index_tensor(k)
    if not isinstance(k, Tensor):
        raise IndexTypeError(f"{_VALID}; got {type(k).__name__} {k!r}")
    if k.dtype is dtypes.bool_:
        return "mask", k
    if k.dtype is not dtypes.int64:
        raise IndexTypeError(f"tensors used as indices must be int64 (long) or bool tensors, got "
                             f"a {k.dtype!r} tensor of shape {k.shape}; convert it with .long()")
    if k.ndim == 0:
        return "int", int(k.item())  # a 0-d int64 tensor selects like an int (as in PyTorch)
    return "array", k


def _nonzero(mask):
    """(count, ndim) int64 positions of the true elements of a bool tensor, in C order."""
    count = ffi.new("int64_t *")
    check(K.tl_nonzero(ffi.NULL, 0, count, mask._ptr, K.strides(mask), mask.ndim,
                       i64(mask.shape)), "nonzero")
    n = count[0]
    out = _empty((n, mask.ndim), dtypes.int64)
    check(K.tl_nonzero(_int_ptr(out), n, count, mask._ptr, K.strides(mask), mask.ndim,
                       i64(mask.shape)), "nonzero")
    return out


def _parse(x, key):
    """Split ``key`` into a basic key for parse_basic_index (advanced entries replaced by full
    slices, or None for a 0-d bool's new dim) and the list of advanced entries
    (dim of the basic view, int64 index tensor, dim of x it indexes or None)."""
    items = [_classify(k) for k in (key if isinstance(key, tuple) else (key,))]
    kinds = [kd for kd, _ in items]
    if kinds.count("ellipsis") > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(v.ndim if kd == "mask" else 1 for kd, v in items
               if kd in ("slice", "int", "array", "mask"))
    if used > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {used}, shape {x.shape})")
    fill = [("slice", slice(None))] * (x.ndim - used)
    if "ellipsis" in kinds:
        i = kinds.index("ellipsis")
        items = items[:i] + fill + items[i + 1:]
    else:
        items = items + fill
    basic, adv, d, vd = [], [], 0, 0  # d: dim of x, vd: dim of the basic view
    for kind, v in items:
        if kind == "int":
            basic.append(v)
            d += 1
        elif kind in ("none", "slice"):
            basic.append(v)
            vd += 1
            d += kind == "slice"
        elif kind == "array":
            basic.append(slice(None))
            adv.append((vd, v, d))
            vd += 1
            d += 1
        elif v.ndim == 0:  # 0-d bool: a new dim of size 1, indexed by [0] (True) or [] (False)
            basic.append(None)
            adv.append((vd, tensor(np.zeros(1 if v.item() else 0, np.int64)), None))
            vd += 1
        else:
            if v.shape != x.shape[d:d + v.ndim]:
                raise IndexError(f"the shape of the mask {v.shape} at index {d} does not match the "
                                 f"shape of the indexed tensor {x.shape[d:d + v.ndim]} (tensor shape "
                                 f"{x.shape})")
            pos = _nonzero(v)
            for j in range(v.ndim):
                basic.append(slice(None))
                adv.append((vd, pos[:, j], d))
                vd += 1
                d += 1
    return tuple(basic), adv


# ---- the plan shared by Gather and GatherBackward ---------------------------------------------------

class _Plan:
    """Everything about one advanced index that does not depend on the data: the shape of the
    tensor being indexed (the basic view), which of its dims the index arrays cover, the
    broadcast index shape B, and where B lands in the result. The kernels' index space is
    (B..., R...) with R the uncovered dims in order."""

    def __init__(self, src_shape, adv_dims, idx, bshape, xshape, xdims):
        self.src_shape = src_shape
        self.xshape, self.xdims = xshape, xdims           # for error messages: the user's tensor
        self.adv_dims = adv_dims
        self.idx = idx                                    # int64 tensors, broadcast to B by strides
        self.bshape = bshape
        self.rest = tuple(d for d in range(len(src_shape)) if d not in adv_dims)
        adjacent = adv_dims[-1] - adv_dims[0] + 1 == len(adv_dims)
        self.pos = adv_dims[0] if adjacent else 0         # where B goes among the rest dims
        rest_shape = tuple(src_shape[d] for d in self.rest)
        self.out_shape = _check_shape(rest_shape[:self.pos] + bshape + rest_shape[self.pos:],
                                      "index result shape")
        self.space = bshape + rest_shape
        self._offs = {}

    def space_strides(self, out_strides):
        """Strides of a result-shaped tensor, reordered to the (B, R) index space."""
        p, nb = self.pos, len(self.bshape)
        return i64(out_strides[p:p + nb] + out_strides[:p] + out_strides[p + nb:])

    def rest_strides(self, strides):
        return i64([strides[d] for d in self.rest])

    def offsets(self, strides):
        """int64 tensor over B: the element offset of each indexed position in a tensor of
        ``src_shape`` with ``strides``, computed once per layout. An index out of range raises
        IndexError naming the value and the dim of the user's tensor."""
        key = tuple(strides[d] for d in self.adv_dims)
        offs = self._offs.get(key)
        if offs is None:
            offs = _empty(self.bshape, dtypes.int64)
            bad = ffi.new("int64_t *")
            optr, bsh = _int_ptr(offs), i64(self.bshape)
            for j, (d, t) in enumerate(zip(self.adv_dims, self.idx)):
                n = self.src_shape[d]
                rc = K.tl_index_offsets(optr, _int_ptr(t), i64(K.broadcast_strides(t, self.bshape)),
                                        len(self.bshape), bsh, n, strides[d], int(j > 0), bad)
                if rc == K.TL_EINDEX:
                    raise IndexError(f"index {bad[0]} is out of bounds for dimension {self.xdims[j]} "
                                     f"with size {n} (indexing a tensor of shape {self.xshape})")
                check(rc, "index offsets")
            self._offs[key] = offs
        return offs

    def gather(self, src):
        """out[b, r] = src[offs[b] + r] (tl_gather_forward), a fresh contiguous result."""
        offs = self.offsets(src._strides)
        out = _empty(self.out_shape, src.dtype)
        check(K.tl_gather_forward(src.dtype.code, out._ptr, self.space_strides(out._strides),
                                  src._ptr, self.rest_strides(src._strides), _int_ptr(offs),
                                  len(self.space), len(self.bshape), i64(self.space)), "gather")
        return out

    def gather_backward(self, g):
        """zeros of src_shape, then += g at the gathered positions (tl_gather_backward)."""
        gx = _empty(self.src_shape, g.dtype)
        offs = self.offsets(gx._strides)
        check(K.tl_gather_backward(g.dtype.code, gx._ptr, gx.numel(), self.rest_strides(gx._strides),
                                   g._ptr, self.space_strides(g._strides), _int_ptr(offs),
                                   len(self.space), len(self.bshape), i64(self.space)), "gather backward")
        return gx


class Gather(Function):
    """out = src[index arrays]: one C gather over the (B, R) index space."""

    @staticmethod
    def forward(ctx, src, plan):
        ctx.plan = plan
        ctx.save_for_backward(*plan.idx)  # an in-place change to an index makes backward raise
        return plan.gather(src)

    @staticmethod
    def formula(ctx, g):
        return GatherBackward.apply(g, ctx.plan), None


class GatherBackward(Function):
    """The VJP of Gather: zeros shaped like the indexed tensor, ``+=`` g at the gathered
    positions (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, g, plan):
        ctx.plan = plan
        return plan.gather_backward(g)

    @staticmethod
    def formula(ctx, gg):
        return Gather.apply(gg, ctx.plan), None


# ---- entry points -------------------------------------------------------------------------------

def advanced_index(x, key):
    """``x[key]`` for keys with index arrays or masks (see the module docstring)."""
    basic, adv = _parse(x, key)
    nkey = parse_basic_index(x, basic)  # validates the ints and slices
    if all(isinstance(k, slice) and k == slice(0, n, 1) for k, n in zip(nkey, x.shape)):
        v = x                           # nothing basic to apply
    else:
        v = BasicIndex.apply(x, nkey)
    if not adv:
        return v                        # only ints given as 0-d tensors
    vdims = tuple(a[0] for a in adv)
    idx = [a[1] for a in adv]
    try:
        bshape = broadcast_shapes(*(t.shape for t in idx))
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together with "
                         "shapes " + ", ".join(str(t.shape) for t in idx)) from None
    plan = _Plan(v.shape, vdims, idx, bshape, x.shape, [a[2] for a in adv])
    plan.offsets(v._strides)            # checks the bounds before any gather
    return Gather.apply(v, plan)


@tensor_method()
def index_select(x, dim, index):
    """The entries of ``x`` at positions ``index`` (1-D or 0-d int64) along ``dim``; the result
    keeps x's number of dims."""
    if not isinstance(index, Tensor):
        index = _as_index_tensor(index)
    if index.dtype is not dtypes.int64 or index.ndim > 1:
        raise IndexTypeError(f"index_select: index must be a 0-d or 1-D int64 tensor, got "
                             f"{index.dtype!r} of shape {index.shape}")
    if x.ndim == 0:
        raise IndexError("index_select: cannot index a 0-d tensor along a dim")
    d = _wrap_dim(dim, x.ndim)
    if index.ndim == 0:
        index = _make(index._shared(), (1,), (1,), index._offset, index.dtype)
    return advanced_index(x, (slice(None),) * d + (index,))


@tensor_method("__getitem__")
def getitem(x, key):
    """``x[key]``: a view for basic keys (ints, slices, None, ...), a gather otherwise."""
    nkey = parse_basic_index(x, key)
    if nkey is None:
        return advanced_index(x, key)
    return BasicIndex.apply(x, nkey)


# ---- gather / scatter along one dim (torch.gather, Tensor.scatter, scatter_add) -----------------

class _DimPlan:
    """One index along ``dim`` (shape ``ishape``, int64) into tensors of shape ``xshape``: the
    element offsets of x[p_0, ..., index[p], ..., p_n] for each index position p, per layout.
    0-d tensors are handled as shape (1,)."""

    def __init__(self, name, xshape, dim, index):
        self.name, self.dim, self.index = name, dim, index
        self.xshape = xshape or (1,)
        self.ishape = index.shape or (1,)
        self._offs = {}

    def offsets(self, strides):
        """int64 offsets (ishape, contiguous) into a tensor of xshape with ``strides``; an index
        out of range raises RuntimeError naming it, the dim and its size (as PyTorch)."""
        strides = tuple(strides) or (1,)
        offs = self._offs.get(strides)
        if offs is None:
            offs = _empty(self.ishape, dtypes.int64)
            bad = ffi.new("int64_t *")
            idx = self.index
            ist = i64(idx._strides) if idx.ndim and not idx._contig else ffi.NULL
            size = self.xshape[self.dim]
            rc = K.tl_dim_offsets(_int_ptr(offs), _int_ptr(idx), ist, len(self.ishape),
                                  i64(self.ishape), self.dim, size, i64(strides), bad)
            if rc == K.TL_EINDEX:
                raise RuntimeError(f"index {bad[0]} is out of bounds for dimension {self.dim} "
                                   f"with size {size}")
            check(rc, f"{self.name} offsets")
            self._offs[strides] = offs
        return offs

    def gather(self, x):
        """out[p] = x[..., index[p], ...] (tl_gather_forward), shaped like the index."""
        out = _empty(self.index.shape, x.dtype)
        n = len(self.ishape)
        check(K.tl_gather_forward(x.dtype.code, out._ptr, ffi.NULL, x._ptr, ffi.NULL,
                                  _int_ptr(self.offsets(x._strides)), n, n, i64(self.ishape)),
              self.name)
        return out

    def scatter_into(self, out, src, accumulate):
        """out[..., index[p], ...] = (or +=) src[p] in place (tl_scatter_dim); ``out`` contiguous,
        ``src`` at least index-shaped (read over the index's shape) or 0-d (one value)."""
        sst = src._strides if src.ndim else (0,) * len(self.ishape)
        check(K.tl_scatter_dim(out.dtype.code, out._ptr, src._ptr, i64(sst[:len(self.ishape)]),
                           _int_ptr(self.offsets(out._strides)), len(self.ishape),
                           i64(self.ishape), int(accumulate)), self.name)
        return out

    def scatter_add_zeros(self, g, shape):
        """zeros of ``shape`` (x's), then += g at the indexed positions (tl_gather_backward)."""
        gx = _empty(shape, g.dtype)
        n = len(self.ishape)
        g = g if g._contig else _copy(g)
        check(K.tl_gather_backward(g.dtype.code, gx._ptr, gx.numel(), ffi.NULL, g._ptr, ffi.NULL,
                                   _int_ptr(self.offsets(_contiguous_strides(shape))), n, n,
                                   i64(self.ishape)), f"{self.name} backward")
        return gx


class GatherDim(Function):
    """out[p] = x[p_0, ..., index[p], ..., p_n] along plan.dim (torch.gather). Derivative:
    GatherDimBackward (scatter-add of g into zeros; repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, x, plan):
        ctx.plan, ctx.xshape = plan, x.shape
        ctx.save_for_backward(plan.index)   # an in-place change to the index makes backward raise
        return plan.gather(x)

    @staticmethod
    def vjp(ctx, g):
        return ctx.plan.scatter_add_zeros(g, ctx.xshape), None

    @staticmethod
    def formula(ctx, g):
        return GatherDimBackward.apply(g, ctx.plan, ctx.xshape), None


class GatherDimBackward(Function):
    """The VJP of GatherDim: zeros of x's shape, ``+=`` g at the gathered positions. Its own
    derivative is GatherDim again."""

    @staticmethod
    def forward(ctx, g, plan, xshape):
        ctx.plan = plan
        return plan.scatter_add_zeros(g, xshape)

    @staticmethod
    def vjp(ctx, gg):
        return ctx.plan.gather(gg), None, None

    @staticmethod
    def formula(ctx, gg):
        return GatherDim.apply(gg, ctx.plan), None, None


def _pad_to(g, shape):
    """g (a leading corner of ``shape``) placed in zeros of ``shape``: the gradient of a source
    larger than the index, which scatter reads only over the index's shape."""
    if g.shape == shape:
        return g
    return IndexBackward.apply(g, shape, tuple(slice(0, n, 1) for n in g.shape))


class ScatterDim(Function):
    """out = a copy of x with src[p] written (accumulate False: Tensor.scatter) or added
    (accumulate True: scatter_add) at x[..., index[p], ...]; src is at least index-shaped, or a
    0-d value. Derivatives (PyTorch's): x gets g, with the written positions zeroed for scatter;
    src gets g gathered at the index (for scatter too, even where a repeated index was
    overwritten), padded with zeros where src is larger than the index."""

    @staticmethod
    def forward(ctx, x, src, plan, accumulate):
        ctx.plan, ctx.accumulate, ctx.src_shape = plan, accumulate, src.shape
        ctx.save_for_backward(plan.index)
        return plan.scatter_into(_copy(x), src, accumulate)

    @staticmethod
    def vjp(ctx, g):
        plan = ctx.plan
        gx = g if ctx.accumulate else plan.scatter_into(_copy(g), _zero(g.dtype), False)
        gs = None
        if ctx.needs_input_grad[1]:
            gs = _pad_to(plan.gather(g), ctx.src_shape)
        return gx, gs, None, None

    @staticmethod
    def formula(ctx, g):
        plan = ctx.plan
        gx = g if ctx.accumulate else ScatterDim.apply(g, _zero(g.dtype), plan, False)
        gs = None
        if ctx.needs_input_grad[1]:
            gs = _pad_to(GatherDim.apply(g, plan), ctx.src_shape)
        return gx, gs, None, None


def _zero(dtype):
    return tensor(0, dtype=dtype)


def _check_index(name, x, dim, index):
    """PyTorch's checks of gather/scatter's index: an int64 Tensor with x's number of dims, no
    larger than x apart from ``dim``. Returns the wrapped dim."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): input must be a Tensor, got {type(x).__name__}")
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): index must be a Tensor, got {type(index).__name__}")
    d = _torch_dim(dim, x.shape)
    if index.dtype is not dtypes.int64:
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {index.dtype!r}")
    if max(index.ndim, 1) != max(x.ndim, 1):
        raise ShapeMismatch(f"{name}(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index shape {index.shape}, input shape {x.shape})")
    for i, (a, b) in enumerate(zip(index.shape, x.shape)):
        if i != d and a > b:
            raise ShapeMismatch(f"{name}(): Size does not match at dimension {i} expected index "
                               f"{list(index.shape)} to be no larger than self {list(x.shape)} "
                               f"apart from dimension {d}")
    return d


@tensor_method()
def gather(input, dim, index):  # noqa: A002  (PyTorch's parameter name)
    """torch.gather: out[i][j][k] = input[index[i][j][k]][j][k] (for dim 0), shaped like index
    (int64, as many dims as input, no larger apart from ``dim``; no negative indices)."""
    d = _check_index("gather", input, dim, index)
    return GatherDim.apply(input, _DimPlan("gather", input.shape, d, index))


def _scatter(name, x, dim, index, src, accumulate):
    d = _check_index(name, x, dim, index)
    if isinstance(src, Tensor):
        if src.dtype is not x.dtype:
            raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype "
                               f"({x.dtype!r} vs {src.dtype!r})")
        if src.ndim and (src.ndim != index.ndim or any(a > b for a, b in zip(index.shape, src.shape))):
            raise ShapeMismatch(f"{name}(): Expected index {list(index.shape)} to be no larger than "
                               f"self {list(x.shape)} apart from dimension {d} and to be no larger "
                               f"size than src {list(src.shape)}")
    elif accumulate:
        raise TypeError(f"{name}(): src must be a Tensor, got {type(src).__name__}")
    else:
        src = tensor(src).to(x.dtype)   # a Python number: one value scattered everywhere
    return ScatterDim.apply(x, src, _DimPlan(name, x.shape, d, index), accumulate)


@tensor_method()
def scatter(input, dim, index, src=None, *, value=None):  # noqa: A002
    """Out-of-place Tensor.scatter: a copy of input with src[i][j][k] written at
    [index[i][j][k]][j][k] (dim 0); ``src`` may be a Tensor (same dtype, at least index-shaped)
    or a number (also as ``value=``). Repeated indices: one of the writes wins."""
    if src is None:
        if value is None:
            raise TypeError("scatter(): missing the src (or value) argument")
        src = value
    return _scatter("scatter", input, dim, index, src, False)


@tensor_method()
def scatter_add(input, dim, index, src):  # noqa: A002
    """Out-of-place Tensor.scatter_add: a copy of input with src[i][j][k] added at
    [index[i][j][k]][j][k] (dim 0); repeated indices accumulate."""
    return _scatter("scatter_add", input, dim, index, src, True)


def _value_for(x, value, name):
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"{name} only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        return value.to(x.dtype)
    return tensor(value).to(x.dtype)


@tensor_method()
def masked_fill(input, mask, value):  # noqa: A002
    """``value`` where the bool ``mask`` is True, ``input`` elsewhere (mask and input broadcast);
    ``value`` is a number or a 0-d Tensor (which gets the gradient summed over the mask), cast
    to input's dtype."""
    if not isinstance(mask, Tensor) or mask.dtype is not dtypes.bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {got}")
    return where(mask, _value_for(input, value, "masked_fill_"), input)


# ---- tril / triu / trace ------------------------------------------------------------------------

_TRI_MASKS = {}  # (rows, cols, diagonal, upper) -> the bool mask of the kept entries


def _tri_mask(rows, cols, k, upper):
    key = (rows, cols, k, upper)
    m = _TRI_MASKS.get(key)
    if m is None:
        j_minus_i = np.arange(cols)[None, :] - np.arange(rows)[:, None]
        m = tensor(j_minus_i >= k if upper else j_minus_i <= k)
        if len(_TRI_MASKS) > 256:
            _TRI_MASKS.clear()
        _TRI_MASKS[key] = m
    return m


def _tri(name, x, diagonal, upper):
    """where(mask, x, 0) with the (rows, cols) mask of the last two dims broadcast over the
    batch: one existing differentiable op (Where), so the gradient is the same mask applied to g
    and entries outside the triangle become 0 even when they are NaN or inf, as in PyTorch."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    k = operator.index(diagonal)
    # (where looked up at call time: tl.amp wraps it for half tensors)
    return _elementwise.where(_tri_mask(x.shape[-2], x.shape[-1], k, upper), x, tensor(0, dtype=x.dtype))


@tensor_method()
def tril(input, diagonal=0):  # noqa: A002  (PyTorch's parameter names)
    """torch.tril: the lower triangle of the last two dims (entries with j - i <= diagonal),
    zeros elsewhere."""
    return _tri("tril", input, diagonal, False)


@tensor_method()
def triu(input, diagonal=0):  # noqa: A002
    """torch.triu: the upper triangle of the last two dims (entries with j - i >= diagonal),
    zeros elsewhere."""
    return _tri("triu", input, diagonal, True)


@tensor_method()
def trace(input):  # noqa: A002
    """torch.trace: the sum of the main diagonal of a matrix (a 0-d tensor; int64 for integer
    input). Its gradient is g on the diagonal (Diagonal's derivative), zeros elsewhere."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input.dtype is dtypes.bool_:
        raise TypeError('"trace" not implemented for a bool tensor')
    return input.diagonal().sum()


# ---- repeat_interleave / take_along_dim ---------------------------------------------------------

@tensor_method()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):  # noqa: A002
    """torch.repeat_interleave: each entry along ``dim`` repeated ``repeats`` times in place
    (dim None: of the flattened tensor). ``repeats`` is an int, or an int64 tensor with one count
    per entry (0-d / one element: the same count for all). An int count is unsqueeze + expand +
    flatten (one copy; the gradient sums the copies); per-entry counts are one index_select with
    the repeated positions (the gradient scatter-adds). ``repeat_interleave(counts)`` of an
    int64 vector alone gives each position i counts[i] times, as PyTorch."""
    if repeats is None:
        if not isinstance(input, Tensor) or input.dtype is not dtypes.int64 or input.ndim > 1:
            raise RuntimeError("repeat_interleave(repeats): repeats must be a 0-dim or 1-dim int64 tensor")
        counts = _counts(input.reshape(-1), None)
        return tensor(np.repeat(np.arange(counts.size, dtype=np.int64), counts))
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        d = _torch_dim(dim, input.shape)
        x = input if input.ndim else input.reshape(1)
    n = x.shape[d]
    if isinstance(repeats, Tensor):
        if repeats.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        if repeats.numel() != 1 or repeats.ndim == 1 and n != 1 and repeats.shape[0] != 1:
            counts = _counts(repeats, n)
            if output_size is not None and output_size != int(counts.sum()):
                raise RuntimeError(f"repeat_interleave: output_size {output_size} is not the sum "
                                   f"of the repeats ({int(counts.sum())})")
            # (index_select looked up at call time: tl.amp wraps it for half tensors)
            return index_select(x, d, tensor(np.repeat(np.arange(n, dtype=np.int64), counts)))
        repeats = int(_counts(repeats.reshape(-1), None)[0])
    r = operator.index(repeats)
    if r < 0:
        raise RuntimeError("Repeats must be non-negative")
    if output_size is not None and output_size != n * r:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} is not {n} * {r}")
    shape = x.shape
    out = expand(unsqueeze(x, d + 1), shape[:d + 1] + (r,) + shape[d + 1:])
    return reshape(out, shape[:d] + (n * r,) + shape[d + 1:])


def _counts(repeats, n):
    """repeats (an int64 tensor) as NumPy counts: its size must be n (when given), none < 0."""
    if repeats.dtype is not dtypes.int64:
        raise TypeError(f"repeat_interleave: repeats must be an int or an int64 tensor, got "
                        f"{repeats.dtype!r}")
    counts = repeats.detach().numpy().reshape(-1)
    if n is not None and counts.size != n:
        raise ShapeMismatch(f"repeats must have the same size as input along dim, but got "
                            f"repeats.size(0) = {counts.size} and input.size(0) = {n}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return counts


@tensor_method()
def take_along_dim(input, indices, dim=None):  # noqa: A002
    """torch.take_along_dim: input's entries at ``indices`` along ``dim`` (dim None: of both
    flattened); input and indices broadcast together apart from ``dim``. Negative indices count
    from the end (as PyTorch and NumPy's take_along_axis); one out of range raises
    RuntimeError (gather's check: PyTorch's CPU kernel does not check). gather underneath, so
    the gradient scatter-adds (repeated indices accumulate)."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"take_along_dim(): argument 'indices' must be Tensor, not "
                        f"{type(indices).__name__}")
    if indices.dtype is not dtypes.int64:
        raise RuntimeError(f"gather(): Expected dtype int32/int64 for index, got {indices.dtype!r}")
    if dim is None:
        x, idx, d = input.reshape(-1), indices.reshape(-1), 0
    else:
        d = _torch_dim(dim, input.shape)
        if input.ndim != indices.ndim:
            raise ShapeMismatch(f"torch.take_along_dim(): input and indices should have the same "
                                f"number of dimensions, but got {input.ndim} dimensions for input, "
                                f"and {indices.ndim} dimensions for indices")
        x, idx = input, indices
        if x.ndim:
            ones_x = x.shape[:d] + (1,) + x.shape[d + 1:]
            ones_i = idx.shape[:d] + (1,) + idx.shape[d + 1:]
            for i, (a, b) in enumerate(zip(ones_x, ones_i)):
                if a != b and a != 1 and b != 1:
                    raise ShapeMismatch(f"The size of tensor a ({a}) must match the size of tensor "
                                        f"b ({b}) at non-singleton dimension {i}")
            common = broadcast_shapes(ones_x, ones_i)
            xs = common[:d] + (x.shape[d],) + common[d + 1:]
            ist = common[:d] + (idx.shape[d],) + common[d + 1:]
            x = x if x.shape == xs else x.expand(xs)
            idx = idx if idx.shape == ist else idx.expand(ist).contiguous()
    n = x.shape[d] if x.ndim else 1
    # (gather looked up at call time: tl.amp wraps it for half tensors)
    return gather(x, d, where(idx < 0, idx + n, idx))
