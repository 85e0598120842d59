"""Tensor storage, the bottom layer: a Tensor is a view (shape, strides, offset) over a shared,
reference-counted buffer.

This module holds the storage model (buffers, the Tensor's fields, views' bookkeeping), the
conversion of Python data to NumPy arrays, and what a Tensor can do without running a kernel
(shape queries, NumPy views, printing). It runs no compute kernel: copies, creation functions
and every op live in the layers above (kernels.py, creation.py, autograd/, ops/), which attach
their Tensor methods with ``tensor_method``. The only C calls here are the allocator's.
"""
import numbers
import operator
import threading

import numpy as np

from . import dtypes
from ._lib import MAX_DIMS, NULL, ffi, lib  # (lib: the allocator only)


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
    """A fresh contiguous tensor with uninitialised contents: the hot path of every op."""
    info = _SHAPES.get(shape) or _shape_info(shape)
    nbytes = info[1] * dtype.itemsize
    if nbytes < _BIG:  # the buffer alone; its Storage is made if a view or a write needs it
        # _init_fields written out for the one case every op's output takes (offset 0,
        # contiguous, unshared): ~20% fewer bytecodes per new tensor, ~5% of a small training
        # step (tests/test_eager_fastpaths.py checks the fields match _init_fields')
        data = _raw_new(_CHARS, nbytes) if nbytes else NULL
        t = _new_tensor(Tensor)
        t._storage = _UNSHARED
        t._data = data
        t._ptr = data
        t._shape = shape
        t._strides = info[0]
        t._offset = 0
        t._contig = True
        t.dtype = dtype
        t.requires_grad = False
        t.grad_fn = None
        if _capture_pins is not None:
            _capture_pins.append(data)
        return t
    st = _alloc(info[1], dtype)
    return _init_fields(_new_tensor(Tensor), st, st.ptr, shape, info[0], 0, dtype, True)


# tl.jit's capture (kernels.capture sets both): the thread capturing a step, whose reads of tensor
# values from Python raise (a replay would not redo them), and the list keeping every buffer made
# meanwhile alive for as long as the recording that writes into it.
_capture_thread = None
# Autocast blocks open in any thread (tinygrad_lab.amp counts them): while 0, the common case of
# an op amp wraps (matmul, mse_loss) runs without going through the wrapper.
_AUTOCAST = [0]

_capture_pins = None


def _set_capture(thread, pins):
    global _capture_thread, _capture_pins
    _capture_thread, _capture_pins = thread, pins


def _init_fields(t, storage, data, shape, strides, offset, dtype, contig):
    """The one place a Tensor's fields are set (every new tensor and view comes through here,
    except _empty's small-buffer case, which writes the same fields out):
    ``_data`` is the buffer's first byte, ``_ptr`` the view's first element -- the pointer every
    kernel call takes (computed once here, so call sites never add the offset themselves)."""
    # one field a statement: a multiple assignment of more than 3 builds and unpacks a tuple
    t._storage = storage
    t._data = data
    t._ptr = data if not offset else data + offset * dtype.itemsize
    t._shape = shape
    t._strides = strides
    t._offset = offset
    t._contig = contig
    t.dtype = dtype
    t.requires_grad = False
    t.grad_fn = None
    if _capture_pins is not None:
        _capture_pins.append(data if storage is _UNSHARED else storage)
    return t


def _make(storage, shape, strides, offset, dtype, cls=None):
    """A new tensor (of class ``cls``, default Tensor) viewing ``storage``: no copy."""
    return _init_fields(_new_tensor(cls or Tensor), storage, storage.ptr, shape, strides, offset,
                        dtype, _is_contiguous(shape, strides))


def _alias(t):
    """A new tensor object viewing exactly what ``t`` views, outside the graph."""
    return _init_fields(_new_tensor(Tensor), t._shared(), t._data, t._shape, t._strides,
                        t._offset, t.dtype, t._contig)


def tensor_method(*names, prop=False):
    """Decorator: attach the function to Tensor under ``names`` (default: its own name), as a
    property when ``prop``. The layers above this one (ops, autograd) define Tensor's methods
    this way, next to the op they call: ``grep 'def exp'`` finds both."""
    def attach(fn):
        for name in names or (fn.__name__,):
            setattr(Tensor, name, property(fn) if prop else fn)
        return fn
    return attach


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
        if data.dtype.kind not in "fiub" and not dtypes.is_numpy_bfloat16(data.dtype):
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
        # a half is made from float32 (PyTorch rounds a Python float to float32 first, too)
        arr = np.array(data, dtype=np.float32 if (want or dt).is_half else (want or dt).np)
    except OverflowError:
        raise ValueError("integer too large for int64 in tensor data") from None
    return arr.reshape(tuple(shape)), dt


# ---------------------------------------------------------------------------------------------
# The Tensor
# ---------------------------------------------------------------------------------------------

class Tensor:
    """An n-d array of float32/float64/float16/bfloat16/int64/bool that records the operations
    applied to it.

    ``tl.Tensor(data, dtype=None, requires_grad=False)`` is the same as ``tl.tensor``.
    """

    # The fields every op reads are slots, all set in one place (_init_fields): a slot is several
    # times cheaper to read than a class default seen through an instance dict. (__dict__ keeps
    # user attributes working, as on torch.Tensor.) ``_data`` is the buffer's first byte (the
    # Storage's ``ptr``), ``_ptr`` the view's first element, ``_storage`` the shared Storage or
    # _UNSHARED (see _shared).
    __slots__ = ("_data", "_ptr", "_storage", "_shape", "_strides", "_offset", "_contig", "dtype",
                 "requires_grad", "grad_fn", "__dict__", "__weakref__")
    # Read rarely, and mostly on leaves (whose _set_view sets them): class defaults, so a kernel's
    # output does not pay three more stores. (``grad`` is a property over ``_grad``: assignments
    # from user code are validated; the engine writes ``_grad``.)
    _grad = None
    _retains_grad = False
    _hooks = None
    _post_hooks = None   # register_post_accumulate_grad_hook's hooks (leaves only)
    __array_priority__ = 1000  # make NumPy defer to our reflected operators

    # (``Tensor(data, dtype=None, requires_grad=False)``, the same as ``tl.tensor``, is defined by
    # creation.py: making a tensor from data runs the copy kernel.)

    def _set_view(self, storage, shape, strides, offset, dtype):
        """Point this (existing) tensor object at a view of ``storage`` and reset its autograd
        fields (used by Tensor(data) and nn.Parameter)."""
        _init_fields(self, storage, storage.ptr, shape, strides, offset, dtype,
                     _is_contiguous(shape, strides))
        self._grad = None
        self._retains_grad = False
        self._hooks = None
        self._post_hooks = None

    def _assign_grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}; to zero a gradient use t.grad = None or "
                    f"t.grad.zero_(), to set it assign a tensor of shape {self._shape}")
            if value._shape != self._shape:
                raise RuntimeError(f"assigned grad has data of a different size: the tensor has "
                                   f"shape {self._shape}, the gradient {value._shape}")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: the tensor is "
                                   f"{self.dtype!r}, the gradient {value.dtype!r}")
        self._grad = value

    def _del_grad(self):
        self._grad = None

    # The getter is operator.attrgetter, a C callable: reading p.grad (every update step reads
    # it once per parameter) runs no Python frame; assignments are validated by _assign_grad.
    grad = property(operator.attrgetter("_grad"), _assign_grad, _del_grad,
                    """The gradient accumulated by backward() (None until then). Assign None or a
        tensor of this tensor's shape and dtype.""")

    @property
    def data(self):
        """This tensor's values as a tensor outside the graph that shares its memory but counts
        its own in-place writes: updates through it (``p.data -= lr * g``) are not recorded and
        do not trip autograd's saved-tensor checks -- PyTorch's escape hatch. ``t.data = other``
        makes ``t`` view ``other``'s values instead (keeping t's autograd state)."""
        st = self._shared()
        own = Storage()
        own.ptr, own.nbytes, own._owner, own._arr = st.ptr, st.nbytes, st._owner, st._arr
        return _init_fields(_new_tensor(Tensor), own, self._data, self._shape, self._strides,
                            self._offset, self.dtype, self._contig)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"t.data = value needs a Tensor, got {type(value).__name__}")
        if self.requires_grad and not value.dtype.is_floating_point:
            raise TypeError(f"t.data = value: a tensor that requires grad needs floating-point "
                            f"data, got {value.dtype!r}")
        if (value._data is self._data and value._offset == self._offset and value.dtype is self.dtype
                and value._shape == self._shape and value._strides == self._strides):
            return   # already these values (p.data -= g ends by assigning p.data back)
        requires_grad, grad_fn = self.requires_grad, self.grad_fn
        _init_fields(self, value._shared(), value._data, value._shape, value._strides,
                     value._offset, value.dtype, value._contig)
        self.requires_grad, self.grad_fn = requires_grad, grad_fn

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

    def is_contiguous(self):
        return self._contig

    @property
    def _version(self):
        """In-place writes counted on this tensor's memory so far (shared by its views), as
        torch.Tensor._version: what autograd compares with the count a graph saved."""
        return self._storage.version

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

    @property
    def retains_grad(self):
        return self._retains_grad

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def data_ptr(self):
        return int(ffi.cast("uintptr_t", self._ptr))

    # ---- conversions -------------------------------------------------------------------------
    def _view_numpy(self, raw=False):
        """A NumPy view of this tensor's memory (no copy, no autograd check); ``raw``: of its
        bytes as stored (bfloat16 as uint16 bits, whether or not ml_dtypes is installed). Every
        read of values from Python (item, numpy, tolist, printing, bool, float) comes through
        here."""
        if _capture_thread is not None and _capture_thread == threading.get_ident():
            raise RuntimeError(
                "tl.jit: a tensor's values were read in Python (.item(), .numpy(), .tolist(), "
                "print, bool(), float(), or handed to NumPy or MPI) while a step is being "
                "captured; a replay runs only the kernels, so the value and anything decided from "
                "it would be frozen. Read it outside the jitted function (return the tensor and "
                "read it after the call).")
        dt = self.dtype
        npdt = dt.raw if raw else dt.np
        if npdt is None:
            raise TypeError("NumPy has no bfloat16: converting a tl.bfloat16 tensor to NumPy needs "
                            "the ml_dtypes package (pip install ml_dtypes); or call .float() first")
        it = dt.itemsize
        strides = tuple(s * it for s in self._strides)
        try:
            return np.ndarray(self._shape, npdt, buffer=self._shared().arr,
                              offset=self._offset * it, strides=strides)
        except ValueError:
            if 0 not in self._shape:
                raise
            # a 0-element view (zeros(0, 2).T[1:]) may start past its buffer's end: it reads
            # nothing, so view it from offset 0 (NumPy rejects the out-of-range offset)
            return np.ndarray(self._shape, npdt, buffer=self._shared().arr,
                              offset=0, strides=strides)

    def _values_numpy(self):
        """This tensor's values as NumPy numbers: a view, except that halves come back as
        float32 (exact; bfloat16's bits shifted up, so no ml_dtypes is needed) -- for printing,
        item() and tolist()."""
        if not self.dtype.is_half:
            return self._view_numpy()
        a = self._view_numpy(raw=True)
        if self.dtype.raw == np.float16:
            return a.astype(np.float32)
        return (a.astype(np.uint32) << 16).view(np.float32)

    def __dlpack__(self, **kwargs):
        """DLPack export (``np.from_dlpack(t)``, ``torch.from_dlpack(t)``): zero-copy, through a
        NumPy view of this tensor's memory."""
        if self.requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self._view_numpy().__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return (1, 0)   # (kDLCPU, device 0)

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
        v = self._values_numpy().reshape(-1)[0]
        return v.item()

    def tolist(self):
        return self._values_numpy().tolist()

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

    def __format__(self, spec):
        """``f"{t:.4f}"`` formats a 0-d tensor like its number, as PyTorch does."""
        if not self._shape and spec:
            return format(self.item(), spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __hash__(self):
        return id(self)

    def __repr__(self):
        a = self._values_numpy()
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


