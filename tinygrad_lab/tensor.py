"""Tensor storage: a Tensor is a view (shape, strides, offset) over a shared, reference-counted
buffer. Views share the buffer; copies run the C strided-copy kernel.

This module holds the storage model, construction from Python/NumPy data, the creation
functions, views and conversions. Differentiable operations are attached by the ops package
(tinygrad_lab/ops/, one module per C kernel family).
"""
import math
import numbers
import operator

import numpy as np

from . import dtypes
from ._lib import MAX_DIMS, NULL, check, ffi, i64, lib



class Storage:
    """A flat buffer shared by every view of it. ``ptr`` is a cffi ``char *`` to its first byte
    (made once: building one costs ~0.2-0.5 us), ``nbytes`` its size, ``version`` counts
    in-place writes (autograd checks it). ``arr`` is a NumPy view of the bytes, made on first
    use (most buffers are only ever read by kernels). Plain attributes with class defaults rather
    than __slots__: a new Storage sets only ``ptr`` and ``nbytes``.

    A small kernel output has no Storage until something needs one (Tensor._shared): most of them
    are only ever read by the next kernel, and one object fewer per op is ~0.13 us."""

    version = 0
    _arr = None      # the NumPy array owning or viewing the memory, once someone asked for it
    _owner = None    # what keeps C-allocated memory alive (a cffi object with a destructor)

    # no __init__: calling the bare class is the cheapest way to a new object (ops make one each)

    @classmethod
    def of_array(cls, arr):
        """Wrap NumPy array ``arr`` (its memory, not a copy)."""
        st = cls()
        st._arr = arr
        st.ptr = _from_buffer(arr) if arr.size else NULL
        st.nbytes = arr.nbytes
        return st

    @property
    def arr(self):
        a = self._arr
        if a is None:
            # the buffer must hold the object that owns the memory: for C-allocated storage
            # ``ptr`` is a bare cast, and a view through it would outlive the memory (a freed
            # buffer goes back to the reuse cache, so the array silently changed under the user)
            owner = self._owner if self._owner is not None else self.ptr
            a = np.frombuffer(ffi.buffer(owner, self.nbytes), np.uint8) if self.nbytes else \
                np.empty(0, np.uint8)
            self._arr = a
        return a


class _Unshared(Storage):
    """The ``_storage`` of a tensor that owns its buffer alone and has no Storage yet (see
    Tensor._shared). Reads as version 0, so saved-tensor checks need no special case; anything
    else -- a write, ``ptr``, ``arr`` -- is a bug (it must go through _shared) and raises."""

    def __setattr__(self, name, value):
        raise RuntimeError(f"internal error: write to {name} of an unshared buffer's Storage "
                           "(use Tensor._shared())")

    def _no(self):
        raise RuntimeError("internal error: an unshared buffer has no Storage (use Tensor._shared())")

    ptr = nbytes = arr = property(_no)


_UNSHARED = _Unshared()


_BIG = 1 << 18  # bytes; below this cffi-owned memory (16-byte aligned: kernels load unaligned)
#                 is cheaper than the C cache's round trip
_from_buffer = ffi.from_buffer
# cffi's own allocator without the zero fill: an op's output is always fully written by its kernel
_raw_new = ffi.new_allocator(should_clear_after_alloc=False)
_CHARS = ffi.typeof("char[]")


def _alloc(n, dtype):
    """A fresh, uninitialised Storage of ``n`` elements from the C allocator (csrc/alloc.c:
    64-byte aligned, recycled so repeated same-size tensors skip page faults). _empty
    uses it for buffers of _BIG bytes and more."""
    nbytes = n * dtype.itemsize
    p = lib.tl_alloc(nbytes)
    if p == NULL:
        raise MemoryError(f"tinygrad_lab: cannot allocate {nbytes} bytes for {n} {dtype.name} elements")
    st = Storage()
    st._owner = ffi.gc(p, lib.tl_free, size=nbytes)
    st.ptr = ffi.cast("char *", p)
    st.nbytes = nbytes
    return st


def empty_cache():
    """Release the large buffers kept for reuse (see csrc/alloc.c)."""
    lib.tl_alloc_set_limit(0)
    lib.tl_alloc_set_limit(_cache_limit)


def set_cache_limit(nbytes):
    """Bytes of freed large buffers kept for reuse (default 512 MiB; 0 turns reuse off)."""
    global _cache_limit
    _cache_limit = int(nbytes)
    lib.tl_alloc_set_limit(_cache_limit)


_cache_limit = 512 << 20


_SHAPES = {}  # shape -> (contiguous strides, number of elements, shape as a C int64 array)


def _shape_info(shape):
    """Everything a kernel call needs to know about a contiguous ``shape``, cached because the
    same shapes recur every training step (ffi.new costs ~0.3 us)."""
    info = _SHAPES.get(shape)
    if info is None:
        strides, s = [], 1
        for n in reversed(shape):
            strides.append(s)
            s *= n
        info = (tuple(reversed(strides)), s, ffi.new("int64_t[]", shape) if shape else NULL)
        if len(_SHAPES) > 4096:
            _SHAPES.clear()
        _SHAPES[shape] = info
    return info


def _contiguous_strides(shape):
    return _shape_info(shape)[0]


def _empty(shape, dtype):
    """A fresh contiguous tensor with uninitialised contents: the hot path of every op, so the
    allocation and the tensor's fields are written out here rather than layered."""
    info = _SHAPES.get(shape) or _shape_info(shape)
    nbytes = info[1] * dtype.itemsize
    t = _new_tensor(Tensor)
    # one field a statement: a multiple assignment of more than 3 builds and unpacks a tuple
    if nbytes < _BIG:  # the buffer alone; its Storage is made if a view or a write needs it
        t._storage = _UNSHARED
        t._data = _raw_new(_CHARS, nbytes) if nbytes else NULL
    else:
        st = t._storage = _alloc(info[1], dtype)
        t._data = st.ptr
    t._shape = shape
    t._strides = info[0]
    t.dtype = dtype
    t._offset = 0
    t._contig = True
    t.requires_grad = False
    t.grad_fn = None
    return t


def _is_contiguous(shape, strides):
    s = 1
    for n, st in zip(reversed(shape), reversed(strides)):
        if n != 1 and st != s:
            return False
        s *= n
    return True


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _check_shape(shape, what="shape"):
    """Validate a shape tuple of non-negative ints; the message names the whole shape."""
    if len(shape) > MAX_DIMS:
        raise ValueError(f"{what} {shape} has {len(shape)} dims; at most {MAX_DIMS} are supported")
    for s in shape:
        if s < 0:
            raise ValueError(f"negative dimension in {what} {shape}")
    if _numel(shape) * 8 > 2 ** 62:
        raise ValueError(f"{what} {shape} is too large ({_numel(shape)} elements)")
    return shape


def _parse_shape(args, what="shape"):
    """Shapes may be given as varargs ``f(2, 3)`` or one sequence ``f((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        shape = tuple(operator.index(s) for s in args)
    except TypeError:
        raise TypeError(f"{what} must be ints (varargs or one tuple), got {args!r}") from None
    return _check_shape(shape, what)


# ---------------------------------------------------------------------------------------------
# Converting Python data
# ---------------------------------------------------------------------------------------------

def _scan(data, path, shape, depth, kinds):
    """Check that nested lists are rectangular and numeric; collect the shape and scalar kinds."""
    if isinstance(data, (list, tuple)):
        if depth == len(shape):
            if depth > 0 and kinds:  # a scalar was already seen at this depth
                raise ValueError(f"ragged nested sequence: element {path} is a list where a number was expected")
            shape.append(len(data))
        elif len(data) != shape[depth]:
            raise ValueError(f"ragged nested sequence: element {path} has length {len(data)}, "
                             f"expected {shape[depth]} (shape so far {tuple(shape)})")
        for i, x in enumerate(data):
            _scan(x, path + [i], shape, depth + 1, kinds)
        return
    if isinstance(data, Tensor):
        if data.ndim != 0:
            raise TypeError(f"element {path} is a {data.ndim}-d Tensor; only 0-d Tensors may be nested in lists")
        data = data.item()
    if depth != len(shape):
        raise ValueError(f"ragged nested sequence: element {path} is a number where a list of "
                         f"length {shape[depth]} was expected")
    if isinstance(data, (bool, np.bool_)):
        kinds.add("bool")
    elif isinstance(data, numbers.Integral):
        kinds.add("int")
    elif isinstance(data, numbers.Real):
        kinds.add("float")
    else:
        raise TypeError(f"element {path} is {type(data).__name__} {data!r}; expected a number "
                        "(bool, int or float)")


def _to_numpy_data(data, want=None):
    """Python data -> (NumPy array, tl dtype it implies). Lists are converted straight to the
    requested dtype ``want`` when given (no detour through float32)."""
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "fiub":
            raise TypeError(f"unsupported NumPy dtype {data.dtype}: expected a float, integer or bool array")
        return data, dtypes.from_numpy_dtype(data.dtype)
    if isinstance(data, np.generic):
        return _to_numpy_data(np.asarray(data))
    if isinstance(data, str) or isinstance(data, bytes):
        raise TypeError(f"cannot make a tensor from a string {data!r}; expected numbers")
    shape, kinds = [], set()
    if isinstance(data, (list, tuple)):
        _scan(data, [], shape, 0, kinds)
    elif isinstance(data, (numbers.Real, np.bool_)) or isinstance(data, Tensor):
        _scan(data, [], shape, 0, kinds)
        if isinstance(data, Tensor):
            data = data.item()
    else:
        raise TypeError(f"cannot make a tensor from {type(data).__name__}; expected a number, a "
                        "(nested) list of numbers, a NumPy array or a Tensor")
    if "float" in kinds:
        dt = dtypes.get_default_dtype()
    elif "int" in kinds:
        dt = dtypes.int64
    elif "bool" in kinds:
        dt = dtypes.bool_
    else:  # empty list
        dt = dtypes.get_default_dtype()
    try:
        arr = np.array(data, dtype=(want or dt).np)
    except OverflowError:
        raise ValueError("integer too large for int64 in tensor data") from None
    return arr.reshape(tuple(shape)), dt


# ---------------------------------------------------------------------------------------------
# The Tensor
# ---------------------------------------------------------------------------------------------

class Tensor:
    """An n-d array of float32/float64/int64/bool that records the operations applied to it.

    ``tl.Tensor(data, dtype=None, requires_grad=False)`` is the same as ``tl.tensor``.
    """

    # The fields every op reads (_offset, _contig, requires_grad, grad_fn of every operand) are
    # slots, all set when a tensor is made (_empty, _make, _set_view): a slot is several times
    # cheaper to read than a class default seen through an instance dict. (__dict__ keeps user
    # attributes working, as on torch.Tensor.) ``_data`` is the buffer's first byte (the
    # Storage's ``ptr``), ``_storage`` the shared Storage or _UNSHARED (see _shared).
    __slots__ = ("_data", "_storage", "_shape", "_strides", "_offset", "_contig", "dtype",
                 "requires_grad", "grad_fn", "__dict__", "__weakref__")
    # Read rarely, and mostly on leaves (whose _set_view sets them): class defaults, so a kernel's
    # output does not pay three more stores.
    grad = None
    _retains_grad = False
    _hooks = None
    __array_priority__ = 1000  # make NumPy defer to our reflected operators

    def __init__(self, data=None, dtype=None, requires_grad=False):
        if data is None:
            raise TypeError("Tensor() needs data: a number, a (nested) list, a NumPy array or a Tensor")
        t = tensor(data, dtype=dtype, requires_grad=requires_grad)
        self._set_view(t._shared(), t._shape, t._strides, t._offset, t.dtype)
        self.requires_grad = t.requires_grad

    def _set_view(self, storage, shape, strides, offset, dtype, contig=None):
        """Point this (existing) tensor object at a view of ``storage`` and reset its autograd
        fields (used by Tensor(data) and nn.Parameter)."""
        self._storage = storage
        self._data = storage.ptr
        self._shape = shape
        self._strides = strides
        self._offset = offset
        self._contig = _is_contiguous(shape, strides) if contig is None else contig
        self.dtype = dtype
        self.requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._retains_grad = False
        self._hooks = None

    @classmethod
    def _make(cls, storage, shape, strides, offset, dtype, contig=None):
        """A new tensor object over ``storage`` (no copy)."""
        t = _new_tensor(cls)
        t._storage = storage
        t._data = storage.ptr
        t._shape = shape
        t._strides = strides
        t.dtype = dtype
        t._offset = offset
        t._contig = _is_contiguous(shape, strides) if contig is None else contig
        t.requires_grad = False
        t.grad_fn = None
        return t

    # ---- raw access for kernels -------------------------------------------------------------
    def _shared(self):
        """This tensor's Storage, made now if it has none yet. A tensor without one
        (``_storage is _UNSHARED``) is a fresh kernel output that owns its whole buffer
        (contiguous, offset 0): views, in-place writes (the version count) and NumPy all go
        through here, so they all see one object."""
        st = self._storage
        if st is _UNSHARED:
            st = self._storage = Storage()
            st.ptr = self._data
            st.nbytes = _numel(self._shape) * self.dtype.itemsize
        return st

    def _ptr(self):
        """cffi pointer to this view's first element."""
        if self._offset == 0:
            return self._data
        return self._data + self._offset * self.dtype.itemsize

    def is_contiguous(self):
        return self._contig

    def _cstrides(self):
        """Strides for C: NULL when contiguous (the kernels' fast path)."""
        return NULL if self._contig else i64(self._strides)

    def _bump_version(self):
        """Count an in-place write (autograd's saved-tensor check reads the count)."""
        st = self._storage
        if st is _UNSHARED:
            st = self._shared()
        st.version += 1

    # ---- attributes --------------------------------------------------------------------------
    @property
    def shape(self):
        return self._shape

    @property
    def ndim(self):
        return len(self._shape)

    def dim(self):
        return len(self._shape)

    def numel(self):
        return _numel(self._shape)

    def size(self, dim=None):
        if dim is None:
            return self._shape
        return self._shape[_wrap_dim(dim, self.ndim, shape=self._shape, scalar_ok=False)]

    def stride(self, dim=None):
        """Strides in elements, as in PyTorch."""
        if dim is None:
            return self._strides
        return self._strides[_wrap_dim(dim, self.ndim, shape=self._shape, scalar_ok=False)]

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def data_ptr(self):
        return int(ffi.cast("uintptr_t", self._ptr()))

    # ---- conversions -------------------------------------------------------------------------
    def _view_numpy(self):
        """A NumPy view of this tensor's memory (no copy, no autograd check)."""
        it = self.dtype.itemsize
        return np.ndarray(self._shape, self.dtype.np, buffer=self._shared().arr,
                          offset=self._offset * it, strides=tuple(s * it for s in self._strides))

    def numpy(self):
        """A NumPy array sharing this tensor's memory (like PyTorch, refuses tensors that require
        grad: call ``detach().numpy()``)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._view_numpy()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self._shape}")
        v = self._view_numpy().reshape(-1)[0]
        return v.item()

    def tolist(self):
        return self._view_numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.numel()} elements is "
                               "ambiguous; use .any() or .all()-style reductions")
        return bool(self.item())

    def __index__(self):
        if self.dtype is not dtypes.int64 or self.numel() != 1:
            raise TypeError("only one-element int64 tensors can be used as an index")
        return int(self.item())

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        a = self._view_numpy()
        if a.size == 0:
            body = "[]" if self.ndim == 1 else f"[], size={self._shape}"
        else:
            body = np.array2string(a, separator=", ", prefix="tensor(", threshold=1000,
                                   edgeitems=3, precision=4)
        extra = [f"dtype={self.dtype!r}"]
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return f"tensor({body}, " + ", ".join(extra) + ")"

    __str__ = __repr__


_new_tensor = object.__new__


def _wrap_dim(dim, ndim, what="dim", shape=None, scalar_ok=True):
    """Normalise a possibly negative dim; ValueError names the valid range (and ``shape``, the
    tensor's shape, when given). A 0-d tensor accepts dim 0 / -1 unless ``scalar_ok`` is False."""
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(dim).__name__}") from None
    n = max(ndim, 1) if scalar_ok else ndim
    if not -n <= d < n:
        of = f"of shape {tuple(shape)}" if shape is not None else f"with {ndim} dims"
        expected = f"expected {-n} <= {what} < {n}" if n else "it has no dims"
        raise ValueError(f"{what} {dim} is out of range for a tensor {of} ({expected})")
    return d % n


# ---------------------------------------------------------------------------------------------
# Copies (all through the C strided-copy kernel)
# ---------------------------------------------------------------------------------------------

def _copy_into(dst, src):
    """dst[...] = src for views of the same shape (dtype converted in C)."""
    check(lib.tl_copy(dst.dtype.code, dst._ptr(), dst._cstrides(),
                      src.dtype.code, src._ptr(), src._cstrides(),
                      len(dst._shape), i64(dst._shape)), "copy")


def _copy(src, dtype=None):
    """A fresh contiguous copy of ``src`` (optionally converted to ``dtype``), no autograd."""
    out = _empty(src._shape, dtype or src.dtype)
    _copy_into(out, src)
    return out


def _from_array(arr, dtype):
    """Copy a NumPy array (any layout and numeric dtype) into a fresh tensor of ``dtype``."""
    src_dt = dtypes.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind == "u" and arr.itemsize == 8 and arr.size and arr.max() > 2 ** 63 - 1:
        raise ValueError(f"uint64 value {arr.max()} is too large for int64 in tensor data")
    if arr.dtype != src_dt.np:
        arr = arr.astype(src_dt.np)  # float16/int32/uint8... -> the storage dtype (interop)
    src = _wrap_numpy(arr, src_dt)
    return _copy(src, dtype)


def _wrap_numpy(arr, dt):
    """A Tensor viewing a NumPy array of dtype ``dt.np`` in place; the C copy kernel then reads
    it through its strides. Negative or unaligned strides, or an unaligned buffer, are first
    copied."""
    it = arr.itemsize
    if arr.size == 0 or not arr.flags.aligned or any(s < 0 or s % it for s in arr.strides):
        arr = np.array(arr, order="C")  # a fresh, aligned, contiguous copy
    strides = tuple(s // it for s in arr.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(arr.shape, strides))
    flat = np.lib.stride_tricks.as_strided(arr, shape=(span,), strides=(it,))
    return Tensor._make(Storage.of_array(flat), arr.shape, strides, 0, dt)


# ---------------------------------------------------------------------------------------------
# Construction and creation functions
# ---------------------------------------------------------------------------------------------

def _set_requires_grad(t, requires_grad):
    if requires_grad:
        if not t.dtype.is_floating_point:
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {t.dtype!r}")
        t.requires_grad = True
    return t


def tensor(data, dtype=None, requires_grad=False):
    """Make a tensor by copying ``data``: a Python number, a (nested) list, a NumPy array or a
    Tensor. Python ints give int64, Python floats the default float dtype."""
    dt = dtypes.as_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        out = _copy(data, dt)
    else:
        arr, implied = _to_numpy_data(data, dt)
        out = _from_array(arr, dt or implied)
    return _set_requires_grad(out, requires_grad)


def from_numpy(a):
    """A tensor sharing memory with NumPy array ``a`` when ``a`` is C-contiguous float32 or
    float64 (writes through either are seen by both); otherwise a converted copy. Read-only or
    misaligned arrays are copied too, since the C kernels may write through shared memory."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(a).__name__}")
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous and a.flags.writeable \
            and a.flags.aligned:  # C kernels write through shared memory and assume alignment
        dt = dtypes.from_numpy_dtype(a.dtype)
        return Tensor._make(Storage.of_array(a.reshape(-1)), a.shape, _contiguous_strides(a.shape), 0, dt)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"unsupported NumPy dtype {a.dtype}: expected a float, integer or bool array")
    return _from_array(a, dtypes.from_numpy_dtype(a.dtype))


def _dtype_or_default(dtype):
    return dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()


def empty(*shape, dtype=None, requires_grad=False):
    return _set_requires_grad(_empty(_parse_shape(shape), _dtype_or_default(dtype)), requires_grad)


_I64_MIN, _I64_MAX = -2 ** 63, 2 ** 63 - 1


def _filled(shape, value, dtype):
    iv = int(value) if dtype is dtypes.int64 else 0
    if not _I64_MIN <= iv <= _I64_MAX:
        raise ValueError(f"fill value {value} is out of range for int64")
    t = _empty(shape, dtype)
    check(lib.tl_fill(dtype.code, t._ptr(), NULL, len(shape), i64(shape), float(value), iv), "fill")
    return t


def full(shape, value, dtype=None, requires_grad=False):
    """A tensor of ``shape`` filled with ``value``; the dtype follows the value like tl.tensor."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    shape = _parse_shape((shape,))
    if not isinstance(value, (numbers.Real, np.bool_)):
        raise TypeError(f"full: value must be a number, got {type(value).__name__}")
    if dtype is None:
        dt = _to_numpy_data(value)[1]
    else:
        dt = dtypes.as_dtype(dtype)
    return _set_requires_grad(_filled(shape, value, dt), requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    return _set_requires_grad(_filled(_parse_shape(shape), 0, _dtype_or_default(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _set_requires_grad(_filled(_parse_shape(shape), 1, _dtype_or_default(dtype)), requires_grad)


def _check_like(t, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn} expects a Tensor, got {type(t).__name__}")


def zeros_like(t, dtype=None, requires_grad=False):
    _check_like(t, "zeros_like")
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    _check_like(t, "ones_like")
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def full_like(t, value, dtype=None, requires_grad=False):
    _check_like(t, "full_like")
    return full(t.shape, value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    _check_like(t, "empty_like")
    return empty(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """Values from ``start`` (inclusive) to ``stop`` (exclusive) by ``step``, like range();
    int64 when all arguments are ints, else the default float dtype."""
    if stop is None:
        start, stop = 0, start
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise TypeError(f"arange: {name} must be a number, got {type(v).__name__}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"arange: {name} must be finite, got {v}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    all_int = all(isinstance(v, numbers.Integral) for v in (start, stop, step))
    dt = dtypes.as_dtype(dtype) if dtype is not None else (dtypes.int64 if all_int else dtypes.get_default_dtype())
    if all_int:
        n = max(0, -((int(start) - int(stop)) // int(step)))  # ceil((stop - start) / step)
    else:
        n = max(0, math.ceil((stop - start) / step))
    _check_shape((n,))
    t = _empty((n,), dt)
    if dt is dtypes.bool_:
        raise TypeError("arange does not make bool tensors")
    # int64 from float arguments: start and step truncated, the length from the floats (PyTorch)
    istart, istep = (int(start), int(step)) if dt is dtypes.int64 else (0, 0)
    check(lib.tl_arange(dt.code, t._ptr(), n, float(start), float(step), istart, istep), "arange")
    return _set_requires_grad(t, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """An n x m matrix with ones on the diagonal."""
    m = n if m is None else m
    shape = _parse_shape((n, m))
    t = _filled(shape, 0, _dtype_or_default(dtype))
    k = min(shape)
    check(lib.tl_fill(t.dtype.code, t._ptr(), i64((m + 1,)), 1, i64((k,)), 1.0, 1), "eye")
    return _set_requires_grad(t, requires_grad)


def _float_dtype(dtype, fn):
    dt = _dtype_or_default(dtype)
    if not dt.is_floating_point:
        raise TypeError(f"{fn}: dtype must be tl.float32 or tl.float64, got {dt!r}")
    return dt


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) from the seeded generator (see tl.manual_seed)."""
    dt = _float_dtype(dtype, "rand")
    t = _empty(_parse_shape(shape), dt)
    check(lib.tl_rand_uniform(dt.code, t._ptr(), t.numel(), 0.0, 1.0), "rand")
    return _set_requires_grad(t, requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples from the seeded generator (see tl.manual_seed)."""
    dt = _float_dtype(dtype, "randn")
    t = _empty(_parse_shape(shape), dt)
    check(lib.tl_rand_normal(dt.code, t._ptr(), t.numel(), 0.0, 1.0), "randn")
    return _set_requires_grad(t, requires_grad)


def randint(low, high=None, size=None, dtype=None, requires_grad=False):
    """Integers uniform in [low, high); ``randint(high, size)`` starts at 0 as in PyTorch."""
    if size is None:
        if high is None:
            raise TypeError("randint needs a size: randint(low, high, size)")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    for name, v in (("low", low), ("high", high)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"randint: {name} must be an int, got {type(v).__name__}")
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    if not (_I64_MIN <= low and high - 1 <= _I64_MAX):
        raise ValueError(f"randint: bounds [{low}, {high}) do not fit in int64")
    shape = _parse_shape((size,) if not isinstance(size, numbers.Integral) else ((size,),))
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    t = _empty(shape, dtypes.int64)
    check(lib.tl_randint(t._ptr(), t.numel(), int(low), int(high)), "randint")
    if dt is not dtypes.int64:
        t = _copy(t, dt)
    return _set_requires_grad(t, requires_grad)


def manual_seed(seed):
    """Seed the generator behind rand/randn/randint (and dropout, init...)."""
    seed = operator.index(seed)
    lib.tl_manual_seed(seed & 0xFFFFFFFFFFFFFFFF)
