"""Shape ops <-> csrc/copy.c: views (reshape, permute, expand, basic indexing) and copies
(contiguous, clone, to, cat). Views only compute a new (shape, strides, offset) over the same
storage; copies and the backward of indexing run the C strided-copy kernel.

Each op's derivative is one ``formula`` (views of the gradient, or sums: no C VJP of their own).
"""
import operator

import numpy as np

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import Function, _grad_enabled
from ..creation import copy as _copy, full, zeros
from ..tensor import (Tensor, _check_shape, _contiguous_strides, _empty, _make, _numel, _wrap_dim,
                      tensor_method)


class DimOutOfRange(IndexError, ValueError):
    """A dim out of range: PyTorch's IndexError, and this project's ValueError for a bad dim."""


def _torch_dim(dim, shape):
    """A possibly negative dim of a tensor of ``shape`` (0-d counts as 1 dim), as PyTorch:
    DimOutOfRange (an IndexError) out of range, naming the shape."""
    n = max(len(shape), 1)
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"dim must be an int, got {type(dim).__name__}") from None
    if not -n <= d < n:
        raise DimOutOfRange(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                            f"but got {dim}) for a tensor of shape {tuple(shape)}")
    return d % n


def _view(x, shape, strides, offset):
    return _make(x._shared(), tuple(shape), tuple(strides), offset, x.dtype)


# ---- reshape ------------------------------------------------------------------------------------

def _infer_shape(shape, numel, old):
    """Resolve one -1 and check the element count; ValueError names both shapes."""
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise ValueError(f"reshape: invalid size {s} in shape {shape}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise ValueError(f"cannot reshape tensor of shape {old} into shape {shape}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise ValueError(f"cannot reshape tensor of shape {old} ({numel} elements) into shape "
                         f"{shape} ({known} elements)")
    return _check_shape(shape)


def _view_strides(old_shape, old_strides, new_shape):
    """Strides that express ``new_shape`` over the same memory, or None when a copy is needed
    (the view is possible when each group of merged/split dims is itself contiguous)."""
    old = [(n, s) for n, s in zip(old_shape, old_strides) if n != 1]
    new_strides = [0] * len(new_shape)
    i = 0  # position in old
    j = 0
    while j < len(new_shape):
        if new_shape[j] == 1:
            new_strides[j] = 1
            j += 1
            continue
        if i >= len(old):
            return None
        # take old dims until their product covers the new dims group
        size_old = old[i][0]
        while i + 1 < len(old) and old[i][1] == old[i + 1][1] * old[i + 1][0] and size_old < new_shape[j]:
            i += 1
            size_old *= old[i][0]
        # split the contiguous chunk of old dims just taken into new dims whose product == size_old
        stride = old[i][1]
        group, size_new = [], 1
        while j < len(new_shape) and size_new < size_old:
            group.append(j)
            size_new *= new_shape[j]
            j += 1
        while j < len(new_shape) and new_shape[j] == 1:  # trailing ones join the group
            group.append(j)
            j += 1
        if size_new != size_old:
            return None
        for k in reversed(group):
            new_strides[k] = stride
            stride *= new_shape[k]
        i += 1
    return tuple(new_strides) if i == len(old) else None


def _recording(x):
    return _grad_enabled() and x.requires_grad


def _apply_view(fn, x, *args):
    """fn.apply, or when nothing is recorded just the view itself (no graph node)."""
    if _recording(x):
        return fn.apply(x, *args)
    return fn.view(x, *args)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return Reshape.view(x, shape)

    @staticmethod
    def view(x, shape):
        if x.is_contiguous():
            return _view(x, shape, _contiguous_strides(shape), x._offset)
        st = _view_strides(x.shape, x._strides, shape)
        if st is not None:
            return _view(x, shape, st, x._offset)
        c = _copy(x)
        return _view(c, shape, _contiguous_strides(shape), 0)

    @staticmethod
    def formula(ctx, g):
        return reshape(g, ctx.in_shape), None


def _shape_arg(shape, what="shape"):
    """reshape/view (and repeat, tile, unflatten: ``what`` names them in the error) accept
    varargs or one sequence of ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{what} must be ints, got {shape!r}") from None


@tensor_method()
def reshape(x, *shape):
    shape = _infer_shape(_shape_arg(shape), x.numel(), x.shape)
    return _apply_view(Reshape, x, shape)


@tensor_method()
def view(x, *shape):
    """Like reshape, but refuses (ValueError) when the result could not share memory."""
    shape = _infer_shape(_shape_arg(shape), x.numel(), x.shape)
    if not x.is_contiguous() and _view_strides(x.shape, x._strides, shape) is None:
        raise ValueError(f"view: shape {shape} is not compatible with the strides {x._strides} of "
                         f"a tensor of shape {x.shape}; use reshape() (which may copy)")
    return Reshape.apply(x, shape)


@tensor_method()
def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s = _wrap_dim(start_dim, x.ndim, "start_dim", shape=x.shape)
    e = _wrap_dim(end_dim, x.ndim, "end_dim", shape=x.shape)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    shape = x.shape[:s] + (_numel(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return reshape(x, shape)


@tensor_method()
def squeeze(x, dim=None):
    """Drop size-1 dims (all, or the given ones); a dim whose size is not 1 is left alone."""
    if dim is None:
        dims = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = {d for d in (_wrap_dim(d, x.ndim, shape=x.shape) for d in dims) if x.ndim and x.shape[d] == 1}
    if not dims:
        return x
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in dims))


@tensor_method()
def unsqueeze(x, dim):
    d = _wrap_dim(dim, x.ndim + 1, shape=x.shape)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


# ---- permute / transpose ------------------------------------------------------------------------

class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return Permute.view(x, dims)

    @staticmethod
    def view(x, dims):
        return _view(x, [x._shape[d] for d in dims], [x._strides[d] for d in dims], x._offset)

    @staticmethod
    def formula(ctx, g):
        inv = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inv[d] = i
        return Permute.apply(g, tuple(inv)), None


@tensor_method()
def permute(x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    dims = tuple(_wrap_dim(d, x.ndim, shape=x.shape) for d in dims) if x.ndim else tuple(dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of a "
                         f"tensor of shape {x.shape}")
    return _apply_view(Permute, x, dims)


@tensor_method()
def transpose(x, d0, d1):
    if x.ndim == 0:
        _wrap_dim(d0, 0, shape=()), _wrap_dim(d1, 0, shape=())
        return x
    d0, d1 = _wrap_dim(d0, x.ndim, shape=x.shape), _wrap_dim(d1, x.ndim, shape=x.shape)
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _apply_view(Permute, x, tuple(dims))


@tensor_method("T", prop=True)
def t_(x):
    """``x.T``: reverse all dims."""
    return Permute.apply(x, tuple(reversed(range(x.ndim)))) if x.ndim > 1 else x


# ---- expand / broadcasting ----------------------------------------------------------------------

@tensor_method("mT", prop=True)
def mt_(x):
    """``x.mT``: swap the last two dims."""
    return transpose(x, -2, -1)


def broadcast_shapes(*shapes):
    """NumPy broadcasting of shapes; ValueError names them when they do not broadcast."""
    nd = max(len(s) for s in shapes)
    out = []
    for i in range(nd):
        n = 1
        for s in shapes:
            k = i - (nd - len(s))
            if k < 0:
                continue
            m = s[k]
            if m != 1:
                if n != 1 and n != m:
                    raise ValueError("shapes " + ", ".join(str(tuple(s)) for s in shapes) +
                                     " cannot be broadcast together")
                n = m
        out.append(n)
    return tuple(out)


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return Expand.view(x, shape)

    @staticmethod
    def view(x, shape):
        return _view(x, shape, K.broadcast_strides(x, shape), x._offset)

    @staticmethod
    def formula(ctx, g):
        return sum_to(g, ctx.in_shape), None


@tensor_method()
def expand(x, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = tuple(operator.index(s) for s in shape)
    if len(shape) < x.ndim:
        raise ValueError(f"expand: shape {shape} has fewer dims than the tensor's shape {x.shape}")
    lead = len(shape) - x.ndim
    full = []
    for i, n in enumerate(shape):
        old = x.shape[i - lead] if i >= lead else None
        if n == -1:
            if old is None:
                raise ValueError(f"expand: -1 is not allowed for a new leading dim in {shape}")
            n = old
        if old is not None and old != 1 and old != n:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}")
        full.append(n)
    full = _check_shape(tuple(full))
    if full == x.shape:
        return x
    return _apply_view(Expand, x, full)


@tensor_method()
def broadcast_to(x, shape):
    return expand(x, shape)


def sum_to(g, shape):
    """Sum ``g`` down to ``shape`` (the VJP of broadcasting). Outside recording -- a plain
    backward() -- it is one reduction kernel writing straight into a tensor of ``shape``: no
    graph node, no keepdim reshape (the generic sum + reshape was ~90% of a small bias-add VJP,
    callgrind). Under create_graph it is composed from sum and reshape, so it is recorded."""
    gs = g._shape
    if type(shape) is not tuple:
        shape = tuple(shape)
    if gs == shape:
        return g
    plan = _SUM_TO.get((gs, g._strides, shape))
    if plan is None:
        plan = _sum_to_plan(g, shape)
    if g.requires_grad and _grad_enabled():
        return reshape(g.sum(plan[0], keepdim=True), shape)  # (a method: reduce imports this module)
    out = _empty(shape, g.dtype)
    rc = K.tl_reduce(K.TL_SUM, g.dtype.code, out._ptr, g._ptr, plan[1], plan[2], plan[3], plan[4])
    if rc:
        K.check(rc, "sum_to")
    return out


_SUM_TO = {}  # (g's shape, g's strides, target shape) -> _sum_to_plan's result


def _sum_to_plan(g, shape):
    """The summed dims of ``g`` for sum_to, and tl_reduce's arguments: kept dims first (in
    order: their C-order layout is the target's, whose other dims are 1), then summed ones."""
    gs = g._shape
    lead = len(gs) - len(shape)
    if lead < 0 or any(n != 1 and n != gs[i + lead] for i, n in enumerate(shape)):
        raise RuntimeError(f"sum_to: shape {gs} cannot be summed to {shape}")
    # (some dim is summed: g's shape differs from ``shape``, which only drops or keeps dims as 1)
    dims = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and gs[i + lead] != 1)
    perm = [d for d in range(len(gs)) if d not in dims] + list(dims)
    plan = (dims, K.i64([g._strides[d] for d in perm]), len(gs), K.i64([gs[d] for d in perm]),
            len(dims))
    if len(_SUM_TO) > 4096:
        _SUM_TO.clear()
    _SUM_TO[(gs, g._strides, shape)] = plan
    return plan


# ---- basic indexing -----------------------------------------------------------------------------

def parse_basic_index(x, key):
    """Normalise ints, slices (step > 0), None and ... into one entry per output/input dim:
    None (new dim), an int in range, or a slice with explicit start/stop/step. Returns None when
    ``key`` needs advanced (integer-array) indexing."""
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, slice) or _is_int(k)):
            return None
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {used}, shape {x.shape})")
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - used) + key[i + 1:]
    else:
        key = key + (slice(None),) * (x.ndim - used)
    out, d = [], 0
    for k in key:
        if k is None:
            out.append(None)
            continue
        n = x.shape[d]
        if isinstance(k, slice):
            if k.step is not None and operator.index(k.step) <= 0:
                raise ValueError(f"slice step must be positive, got {k.step} (dim {d}, shape {x.shape})")
            out.append(slice(*k.indices(n)))
        else:
            i = operator.index(k)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size {n} (shape {x.shape})")
            out.append(i % n)
        d += 1
    return tuple(out)


def _is_int(k):
    """An int-like key element: Python/NumPy integers and 0-d integer NumPy arrays (a NumPy array
    with dims has __index__ too, but is an index array)."""
    if isinstance(k, np.ndarray):
        return k.ndim == 0 and k.dtype.kind in "iu"
    return isinstance(k, int) and not isinstance(k, bool) or (
        hasattr(k, "__index__") and not isinstance(k, (Tensor, bool, np.bool_, list, tuple)))


def _basic_view(x, nkey):
    """The view of ``x`` selected by a normalised key from parse_basic_index."""
    shape, strides, offset, d = [], [], x._offset, 0
    for k in nkey:
        if k is None:
            shape.append(1)
            strides.append(0)
            continue
        st = x._strides[d]
        if isinstance(k, slice):
            m = len(range(k.start, k.stop, k.step))
            if m:
                offset += k.start * st
            shape.append(m)
            strides.append(st * k.step)
        else:
            offset += k * st
        d += 1
    return _view(x, shape, strides, offset)


class BasicIndex(Function):
    @staticmethod
    def forward(ctx, x, nkey):
        ctx.in_shape, ctx.nkey = x.shape, nkey
        return _basic_view(x, nkey)

    @staticmethod
    def formula(ctx, g):
        return IndexBackward.apply(g, ctx.in_shape, ctx.nkey), None


class IndexBackward(Function):
    """Scatter ``g`` into zeros shaped like the indexed tensor, at the view's positions."""

    @staticmethod
    def forward(ctx, g, in_shape, nkey):
        ctx.nkey = nkey
        out = zeros(in_shape, dtype=g.dtype)
        view = _basic_view(out, nkey)
        if g.shape != view.shape:      # (copy_into would read past g's strides)
            raise ValueError(f"IndexBackward: a gradient of shape {g.shape} for an index result "
                             f"of shape {view.shape}")
        K.copy_into(view, g)
        return out

    @staticmethod
    def formula(ctx, gg):
        return BasicIndex.apply(gg, ctx.nkey), None, None


# ---- copies -------------------------------------------------------------------------------------

class Copy(Function):
    """A contiguous copy (contiguous(), clone())."""

    @staticmethod
    def forward(ctx, x):
        return _copy(x)

    @staticmethod
    def formula(ctx, g):
        return g


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return _copy(x, dtype)

    @staticmethod
    def formula(ctx, g):
        return to(g, ctx.in_dtype), None


@tensor_method()
def contiguous(x):
    return x if x.is_contiguous() else Copy.apply(x)


@tensor_method()
def clone(x):
    return Copy.apply(x)


@tensor_method("__deepcopy__")
def deepcopy(x, memo):
    """``copy.deepcopy(t)`` (so ``copy.deepcopy(module)`` works, as nn.TransformerEncoder's
    layer clones need): a new leaf with its own copy of the values, ``requires_grad``, and a deep
    copy of ``grad``. Leaves only, as PyTorch."""
    if x.grad_fn is not None:
        raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                           "the deepcopy protocol at the moment.")
    new = clone(detach(x))
    memo[id(x)] = new
    new.requires_grad = x.requires_grad
    if x._grad is not None:
        new._grad = deepcopy(x._grad, memo)
    return new


@tensor_method()
def to(x, dtype):
    dtype = dtypes.as_dtype(dtype)
    if dtype is x.dtype:
        return x
    return Cast.apply(x, dtype)


@tensor_method("float")
def to_float(x):
    return to(x, dtypes.float32)


@tensor_method("double")
def to_double(x):
    return to(x, dtypes.float64)


@tensor_method("half")
def to_half(x):
    """``x.to(tl.float16)``."""
    return to(x, dtypes.float16)


@tensor_method("bfloat16")
def to_bfloat16(x):
    """``x.to(tl.bfloat16)``."""
    return to(x, dtypes.bfloat16)


@tensor_method("long")
def to_long(x):
    return to(x, dtypes.int64)


@tensor_method("bool")
def to_bool(x):
    return to(x, dtypes.bool_)


@tensor_method()
def detach(x):
    """A tensor sharing storage with ``x`` but outside the graph."""
    return _make(x._shared(), x._shape, x._strides, x._offset, x.dtype)


class Cat(Function):
    @staticmethod
    def forward(ctx, *xs, dim, out_dtype):
        ctx.sizes = [x.shape[dim] for x in xs]
        ctx.dim = dim
        shape = list(xs[0].shape)
        shape[dim] = sum(ctx.sizes)
        out = _empty(tuple(shape), out_dtype)
        pos = 0
        for x, n in zip(xs, ctx.sizes):
            if n:
                off = pos * out._strides[dim]
                K.copy_into(_view(out, x.shape, out._strides, off), x)
            pos += n
        return out

    @staticmethod
    def vjp(ctx, g):
        # the formula's narrow views of g made directly: no index parsing, no BasicIndex node
        grads, pos, d, st = [], 0, ctx.dim, g._strides
        shape = list(g._shape)
        for n in ctx.sizes:
            shape[d] = n
            grads.append(_view(g, shape, st, g._offset + pos * st[d]))
            pos += n
        return tuple(grads)

    @staticmethod
    def formula(ctx, g):
        grads, pos = [], 0
        for n in ctx.sizes:
            grads.append(narrow(g, ctx.dim, pos, n))
            pos += n
        return tuple(grads)


@tensor_method()
def narrow(x, dim, start, length):
    key = (slice(None),) * dim + (slice(start, start + length),)
    return BasicIndex.apply(x, parse_basic_index(x, key))


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat expects a non-empty list of tensors")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"cat expects Tensors, got {type(t).__name__}")
    ref = tensors[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = _wrap_dim(dim, ref.ndim)
    for t in tensors:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != d):
            raise ValueError(f"cat: shapes {[tuple(x.shape) for x in tensors]} must match except in dim {dim}")
    out_dtype = ref.dtype
    for t in tensors[1:]:
        out_dtype = dtypes.promote(out_dtype, t.dtype)
    return Cat.apply(*tensors, dim=d, out_dtype=out_dtype)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack expects a non-empty list of tensors")
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[tuple(t.shape) for t in tensors]}")
    d = _wrap_dim(dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


@tensor_method()
def split(x, split_size, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or sizes from a list."""
    d = _wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size, (list, tuple)):
        if sum(split_size) != n:
            raise ValueError(f"split: sizes {list(split_size)} do not sum to {n} (dim {dim} of shape {x.shape})")
        sizes = list(split_size)
    else:
        if split_size <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size}")
        sizes = [min(split_size, n - i) for i in range(0, n, split_size)] or [0]
    out, pos = [], 0
    for s in sizes:
        out.append(narrow(x, d, pos, s))
        pos += s
    return tuple(out)


@tensor_method()
def chunk(x, chunks, dim=0):
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[_wrap_dim(dim, x.ndim)]
    size = -(-n // chunks) if n else 1
    return split(x, max(size, 1), dim)


# ---- flip, roll, diagonal, diag (PyTorch's names and semantics) ---------------------------------

def _dims_arg(name, dims, shape):
    """A tuple of dims (an int or a sequence) wrapped as PyTorch does: DimOutOfRange when out of
    range, RuntimeError when one appears twice."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    wrapped = tuple(_torch_dim(d, shape) for d in dims)
    for i, d in enumerate(wrapped):
        if d in wrapped[:i]:
            raise RuntimeError(f"{name}: dim {d} appears multiple times in the list of dims")
    return wrapped


class Flip(Function):
    """A copy of x with the order of ``dims`` reversed. A copy, as torch.flip (tl's views could
    take negative strides, but every kernel and NumPy view would then have to expect them): the
    C strided copy (tl_copy) reads x through a view with those dims' strides negated, so no new
    kernel is needed. Its derivative is the same flip of the gradient."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return Flip.copy(x, dims)

    @staticmethod
    def copy(x, dims):
        if not x.ndim or 0 in x._shape:
            return _copy(x)
        strides, off = list(x._strides), x._offset
        for d in dims:
            off += (x._shape[d] - 1) * strides[d]
            strides[d] = -strides[d]
        return _copy(_view(x, x._shape, strides, off))

    @staticmethod
    def formula(ctx, g):
        return Flip.apply(g, ctx.dims), None


@tensor_method()
def flip(x, dims):
    """torch.flip: a copy with the order of the entries along ``dims`` (an int or a sequence)
    reversed."""
    dims = _dims_arg("flip", dims, x.shape)
    dims = tuple(d for d in dims if x.ndim and x._shape[d] > 1)
    if not dims:
        return clone(x)
    return Flip.apply(x, dims)


@tensor_method()
def roll(x, shifts, dims=None):
    """torch.roll: entries shifted along ``dims`` (an int or a sequence, one shift each), those
    pushed past the end coming back at the start; ``dims=None`` rolls the flattened tensor and
    restores its shape. Built from narrow and cat (two slices and one copy a dim, each
    differentiable), so the gradient is the opposite roll."""
    sh = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    sh = tuple(operator.index(s) for s in sh)
    if dims is None:
        if len(sh) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:0")
        return reshape(roll(flatten(x), sh, 0), x.shape)
    ds = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(sh) != len(ds):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:{len(ds)}")
    if x.ndim == 0 and ds:
        raise DimOutOfRange(f"Dimension specified as {ds[0]} but tensor has no dimensions")
    ds = tuple(_torch_dim(d, x.shape) for d in ds)
    out = x
    for s, d in zip(sh, ds):
        n = x._shape[d]
        s = s % n if n else 0
        if s:
            out = cat([narrow(out, d, n - s, s), narrow(out, d, 0, n - s)], d)
    return clone(x) if out is x else out


def _diagonal_geometry(shape, strides, offset, d1, d2):
    """(shape, strides, element offset) of the diagonal view: d1 and d2 dropped, the diagonal
    appended as the last dim (stride strides[d1] + strides[d2])."""
    n1, n2 = shape[d1], shape[d2]
    if offset >= 0:
        length, start = max(min(n1, n2 - offset), 0), offset * strides[d2]
    else:
        length, start = max(min(n1 + offset, n2), 0), -offset * strides[d1]
    keep = [d for d in range(len(shape)) if d != d1 and d != d2]
    vshape = tuple(shape[d] for d in keep) + (length,)
    vstrides = tuple(strides[d] for d in keep) + (strides[d1] + strides[d2],)
    return vshape, vstrides, start if length and 0 not in vshape else 0


class Diagonal(Function):
    """torch.diagonal: a view (no copy, writes through it reach x), the diagonal of dims d1 and
    d2 as the last dim. Its derivative is DiagonalBackward (the gradient written onto the same
    diagonal of zeros), whose own derivative is Diagonal again."""

    @staticmethod
    def forward(ctx, x, offset, d1, d2):
        ctx.in_shape, ctx.geom = x.shape, (offset, d1, d2)
        return Diagonal.view(x, offset, d1, d2)

    @staticmethod
    def view(x, offset, d1, d2):
        vshape, vstrides, start = _diagonal_geometry(x._shape, x._strides, offset, d1, d2)
        return _view(x, vshape, vstrides, x._offset + start)

    @staticmethod
    def formula(ctx, g):
        return DiagonalBackward.apply(g, ctx.in_shape, *ctx.geom), None, None, None


class DiagonalBackward(Function):
    """Zeros of ``in_shape`` with g copied onto the diagonal (offset, d1, d2): the VJP of
    Diagonal, and torch.diag of a vector (a matrix with it on a diagonal)."""

    @staticmethod
    def forward(ctx, g, in_shape, offset, d1, d2):
        ctx.geom = (offset, d1, d2)
        out = zeros(in_shape, dtype=g.dtype)
        view = Diagonal.view(out, offset, d1, d2)
        if g.shape != view.shape:
            raise ValueError(f"DiagonalBackward: a gradient of shape {g.shape} for a diagonal of "
                             f"shape {view.shape}")
        K.copy_into(view, g)
        return out

    @staticmethod
    def formula(ctx, gg):
        return Diagonal.apply(gg, *ctx.geom), None, None, None, None


def _torch_dim_n(dim, shape):
    """_torch_dim for ops where a 0-d tensor has no dims (diagonal)."""
    if not shape:
        raise DimOutOfRange(f"Dimension specified as {dim} but tensor has no dimensions")
    return _torch_dim(dim, shape)


@tensor_method()
def diagonal(x, offset=0, dim1=0, dim2=1):
    """torch.diagonal: the entries x[..., i, ..., i + offset, ...] of dims dim1 and dim2, as the
    last dim of the result. A strided view, as in PyTorch: no copy, and in-place writes through
    it change x."""
    offset = operator.index(offset)
    d1, d2 = _torch_dim_n(dim1, x.shape), _torch_dim_n(dim2, x.shape)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _apply_view(Diagonal, x, offset, d1, d2)


@tensor_method()
def diag(x, diagonal=0):  # noqa: A002  (PyTorch's parameter name)
    """torch.diag: of a vector, the square matrix with it on the ``diagonal``-th diagonal (zeros
    elsewhere); of a matrix, a copy of that diagonal as a vector."""
    k = operator.index(diagonal)
    if x.ndim == 1:
        n = x._shape[0] + abs(k)
        return DiagonalBackward.apply(x, (n, n), k, 0, 1)
    if x.ndim == 2:
        return contiguous(_apply_view(Diagonal, x, k, 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")


# ---- repeat, tile, *_as, unflatten, movedim, swapaxes ---------------------------------------------

@tensor_method()
def repeat(x, *sizes):
    """Tensor.repeat: x tiled ``sizes[i]`` times along dim i (sizes may add leading dims). A
    composition: x viewed as (1, n0, 1, n1, ...), expanded (a stride-0 view) to
    (r0, n0, r1, n1, ...), then one contiguous copy reshaped to (r0 * n0, ...). Its gradient is
    Expand's (the sum over the copies) through the two reshapes."""
    sizes = _shape_arg(sizes, "repeat(): sizes")
    if len(sizes) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    out_shape = tuple(r * n for r, n in zip(sizes, shape))
    for r in sizes:
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(out_shape)}: "
                               f"{list(out_shape)}")
    inter = tuple(v for n in shape for v in (1, n))
    big = tuple(v for r, n in zip(sizes, shape) for v in (r, n))
    return reshape(expand(reshape(x, inter), big), out_shape)


@tensor_method()
def tile(x, dims):
    """torch.tile: repeat with ``dims`` padded with leading ones to x's number of dims."""
    dims = _shape_arg((dims,) if not isinstance(dims, (tuple, list)) else (tuple(dims),), "tile(): dims")
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def _other_shape(name, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' must be Tensor, not {type(other).__name__}")
    return other.shape


@tensor_method()
def expand_as(x, other):
    return expand(x, _other_shape("expand_as", other))


@tensor_method()
def view_as(x, other):
    return view(x, _other_shape("view_as", other))


@tensor_method()
def reshape_as(x, other):
    return reshape(x, _other_shape("reshape_as", other))


@tensor_method()
def unflatten(x, dim, sizes):
    """torch.unflatten: dim ``dim`` split into ``sizes`` (their product is its size; one may be
    -1). A view where reshape gives one."""
    d = _torch_dim_n(dim, x.shape)
    sizes = _shape_arg((tuple(sizes),) if isinstance(sizes, (tuple, list)) else (sizes,), "unflatten(): sizes")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = x.shape[d]
    if sizes.count(-1) > 1:
        raise RuntimeError(f"unflatten: only one dimension can be inferred (-1), got sizes "
                           f"{list(sizes)}")
    known = _numel(s for s in sizes if s != -1)
    if -1 in sizes:
        if known == 0 or n % known:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                               f"size of dim {dim} ({n}) in the input tensor")
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    elif known != n or any(s < 0 for s in sizes):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                           f"of dim {dim} ({n}) in the input tensor")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


@tensor_method("movedim", "moveaxis")
def movedim(x, source, destination):
    """torch.movedim / moveaxis: the dims ``source`` moved to positions ``destination`` (ints or
    equal-length sequences), the others keeping their order. A permute: a view."""
    src = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    dst = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) "
                           f"should contain the same number of dims as destination ({list(dst)} dims)")
    s = tuple(_torch_dim(d, x.shape) for d in src)
    t = tuple(_torch_dim(d, x.shape) for d in dst)
    for name, ds, given in (("source", s, src), ("destination", t, dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    if x.ndim == 0:
        return x
    order = [None] * x.ndim
    for a, b in zip(s, t):
        order[b] = a
    rest = iter(d for d in range(x.ndim) if d not in s)
    order = tuple(o if o is not None else next(rest) for o in order)
    return permute(x, order) if order != tuple(range(x.ndim)) else x


moveaxis = movedim


@tensor_method("swapaxes", "swapdims")
def swapaxes(x, axis0, axis1):
    """torch.swapaxes / swapdims: transpose (a view), with PyTorch's IndexError for a bad dim."""
    return transpose(x, _torch_dim(axis0, x.shape), _torch_dim(axis1, x.shape))


swapdims = swapaxes


# ---- constant padding (F.pad's mode "constant"; the other modes are a gather: nn/functional.py) --

class ConstantPad(Function):
    """x placed inside a tensor filled with ``value``: ``pads`` holds (before, after) >= 0 for
    each dim of x (F.pad crops negative pads first, as a view). One fill (tl_fill) and one
    strided copy of x into the interior view (tl_copy); the derivative is that interior view of
    the gradient (BasicIndex), whose own derivative pads with zeros (IndexBackward)."""

    @staticmethod
    def forward(ctx, x, pads, value):
        ctx.key = tuple(slice(b, b + n, 1) for (b, _), n in zip(pads, x.shape))
        shape = tuple(b + n + a for (b, a), n in zip(pads, x.shape))
        if not x.dtype.is_floating_point:
            value = int(value) if x.dtype is not dtypes.bool_ else bool(value)
        out = full(shape, value, dtype=x.dtype)
        if x.numel():
            K.copy_into(_basic_view(out, ctx.key), x)
        return out

    @staticmethod
    def formula(ctx, g):
        return BasicIndex.apply(g, ctx.key), None, None
