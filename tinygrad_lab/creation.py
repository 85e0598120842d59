"""Making tensors: from Python data and NumPy arrays (tl.tensor, tl.from_numpy, Tensor(data)),
and the creation functions (zeros, ones, full, arange, eye, rand, randn, randint...) <->
csrc/copy.c (copies, casts, fill, arange) and csrc/random.c (the seeded generator).

No autograd here: a created tensor is a leaf (``requires_grad=True`` marks it as one).
"""
import math
import numbers
import operator
import os
import random

import numpy as np

from . import dtypes
from . import kernels as K
from .kernels import NULL, check, i64
from .tensor import (_SHAPES, Storage, Tensor, _check_shape, _contiguous_strides, _empty, _make,
                     _parse_shape, _shape_info, _to_numpy_data, tensor_method)


# ---------------------------------------------------------------------------------------------
# Copies (all through the C strided-copy kernel)
# ---------------------------------------------------------------------------------------------

def copy(src, dtype=None):
    """A fresh contiguous copy of ``src`` (optionally converted to ``dtype``), no autograd."""
    shape = src._shape
    out = _empty(shape, dtype or src.dtype)
    if src._contig:   # both contiguous (NULL strides): copy_into's stride and shape lookups
        #               cost more than a small copy (a shared gradient copied into .grad)
        rc = K.tl_copy(out.dtype.code, out._ptr, NULL, src.dtype.code, src._ptr, NULL, len(shape),
                       (_SHAPES.get(shape) or _shape_info(shape))[2])
        if rc:
            check(rc, "copy")
    else:
        K.copy_into(out, src)
    return out


def _from_array(arr, dtype):
    """Copy a NumPy array (any layout and numeric dtype) into a fresh tensor of ``dtype``."""
    src_dt = dtypes.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind == "u" and arr.itemsize == 8 and arr.size and arr.max() > 2 ** 63 - 1:
        raise ValueError(f"uint64 value {arr.max()} is too large for int64 in tensor data")
    if arr.dtype != src_dt.np:
        arr = arr.astype(src_dt.np)  # float16/int32/uint8... -> the storage dtype (interop)
    src = _wrap_numpy(arr, src_dt)
    return copy(src, dtype)


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
    return _make(Storage.of_array(flat), arr.shape, strides, 0, dt)


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
        out = copy(data, dt)
    else:
        arr, implied = _to_numpy_data(data, dt)
        out = _from_array(arr, dt or implied)
    return _set_requires_grad(out, requires_grad)


@tensor_method("__init__")
def _tensor_init(self, data=None, dtype=None, requires_grad=False):
    """``tl.Tensor(data, dtype=None, requires_grad=False)`` is the same as ``tl.tensor``."""
    if data is None:
        raise TypeError("Tensor() needs data: a number, a (nested) list, a NumPy array or a Tensor")
    t = tensor(data, dtype=dtype, requires_grad=requires_grad)
    self._set_view(t._shared(), t._shape, t._strides, t._offset, t.dtype)
    self.requires_grad = t.requires_grad


def from_numpy(a):
    """A tensor sharing memory with NumPy array ``a`` when ``a`` is C-contiguous float32,
    float64, float16 or (ml_dtypes) bfloat16 (writes through either are seen by both); otherwise a converted copy. Read-only or
    misaligned arrays are copied too, since the C kernels may write through shared memory."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(a).__name__}")
    if (a.dtype in _SHARED_NP or dtypes.is_numpy_bfloat16(a.dtype)) and a.flags.c_contiguous and a.flags.writeable \
            and a.flags.aligned:  # C kernels write through shared memory and assume alignment
        dt = dtypes.from_numpy_dtype(a.dtype)
        return _make(Storage.of_array(a.reshape(-1)), a.shape, _contiguous_strides(a.shape), 0, dt)
    if a.dtype.kind not in "fiub" and not dtypes.is_numpy_bfloat16(a.dtype):
        raise TypeError(f"unsupported NumPy dtype {a.dtype}: expected a float, integer or bool array")
    return _from_array(a, dtypes.from_numpy_dtype(a.dtype))


# NumPy dtypes from_numpy shares rather than copies (the float dtypes tl stores as they are)
_SHARED_NP = tuple(d.np for d in (dtypes.float32, dtypes.float64, dtypes.float16))  # + bfloat16


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
    check(K.tl_fill(dtype.code, t._ptr, NULL, len(shape), i64(shape), float(value), iv), "fill")
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
    if (all_int or dt is dtypes.int64) and not all(-2**63 <= v < 2**63 for v in (start, stop, step)):
        # (PyTorch's check and message: the C kernel's int64 arithmetic would wrap)
        raise RuntimeError(f"arange: value cannot be converted to type int64_t without overflow "
                           f"(start={start}, end={stop}, step={step})")
    if all_int:
        n = max(0, -((int(start) - int(stop)) // int(step)))  # ceil((stop - start) / step)
    else:
        n = max(0, math.ceil((stop - start) / step))
    _check_shape((n,))
    if dt is dtypes.bool_:
        raise TypeError("arange does not make bool tensors")
    if dt.is_half:   # computed in float32, then rounded (as PyTorch's half arange)
        return _set_requires_grad(copy(arange(start, stop, step, dtype=dtypes.float32), dt),
                                  requires_grad)
    t = _empty((n,), dt)
    # int64 from float arguments: start and step truncated, the length from the floats (PyTorch)
    istart, istep = (int(start), int(step)) if dt is dtypes.int64 else (0, 0)
    check(K.tl_arange(dt.code, t._ptr, n, float(start), float(step), istart, istep), "arange")
    return _set_requires_grad(t, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """An n x m matrix with ones on the diagonal."""
    m = n if m is None else m
    shape = _parse_shape((n, m))
    t = _filled(shape, 0, _dtype_or_default(dtype))
    k = min(shape)
    check(K.tl_fill(t.dtype.code, t._ptr, i64((m + 1,)), 1, i64((k,)), 1.0, 1), "eye")
    return _set_requires_grad(t, requires_grad)


def _float_dtype(dtype, fn):
    dt = _dtype_or_default(dtype)
    if not dt.is_floating_point:
        raise TypeError(f"{fn}: dtype must be tl.float32 or tl.float64 (or tl.float16, "
                        f"tl.bfloat16), got {dt!r}")
    return dt


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) from the seeded generator (see tl.manual_seed)."""
    dt = _float_dtype(dtype, "rand")
    if dt.is_half:   # float32 samples rounded to the half type
        return _set_requires_grad(copy(rand(*shape), dt), requires_grad)
    t = _empty(_parse_shape(shape), dt)
    check(K.tl_rand_uniform(dt.code, t._ptr, t.numel(), 0.0, 1.0), "rand")
    return _set_requires_grad(t, requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples from the seeded generator (see tl.manual_seed)."""
    dt = _float_dtype(dtype, "randn")
    if dt.is_half:
        return _set_requires_grad(copy(randn(*shape), dt), requires_grad)
    t = _empty(_parse_shape(shape), dt)
    check(K.tl_rand_normal(dt.code, t._ptr, t.numel(), 0.0, 1.0), "randn")
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
    check(K.tl_randint(t._ptr, t.numel(), int(low), int(high)), "randint")
    if dt is not dtypes.int64:
        t = copy(t, dt)
    return _set_requires_grad(t, requires_grad)


def manual_seed(seed):
    """Seed the generator behind rand/randn/randint (and dropout, init...)."""
    seed = operator.index(seed)
    K.tl_manual_seed(seed & 0xFFFFFFFFFFFFFFFF)


class Generator:
    """A seedable random stream of its own for ``randperm(generator=)`` and data loading
    (``DataLoader(generator=)``, ``RandomSampler``), with torch.Generator's methods.

    tl's C generator is one global stream whose state cannot be read or set, so a Generator
    cannot be a second C stream: it is Python's Mersenne Twister, used only to order indices.
    Tensor values (rand, randn, dropout, init) always come from the global stream
    (tl.manual_seed). ``get_state()`` returns an opaque object for ``set_state()``."""

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"tinygrad_lab runs on the CPU only; got device {device!r}")
        self.device = "cpu"
        self._rng = random.Random()
        self.manual_seed(67280421310721)   # torch's default seed

    def manual_seed(self, seed):
        self._seed = operator.index(seed) & 0xFFFFFFFFFFFFFFFF
        self._rng.seed(self._seed)
        return self

    def initial_seed(self):
        return self._seed

    def seed(self):
        """Reseed from the operating system's entropy; returns the new seed."""
        self.manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
        return self._seed

    def get_state(self):
        return self._rng.getstate()

    def set_state(self, state):
        self._rng.setstate(state)
        return self

    def _uniform(self, n):
        rnd = self._rng.random
        return [rnd() for _ in range(n)]


def _uniforms(n, generator, fn):
    """``n`` uniform floats in [0, 1) as a list: from the global C stream, or ``generator``."""
    if generator is None:
        return rand(n, dtype=dtypes.float64).tolist()
    if not isinstance(generator, Generator):
        raise TypeError(f"{fn}: generator must be a tl.Generator, got {type(generator).__name__}")
    return generator._uniform(n)


def randperm(n, *, generator=None, dtype=None, requires_grad=False):
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype``): a Fisher-Yates shuffle
    driven by ``n`` uniform draws from the global stream (reproducible under tl.manual_seed), or
    from ``generator`` (a tl.Generator)."""
    n = operator.index(n)
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    u = _uniforms(n, generator, "randperm")
    perm = list(range(n))
    for i in range(n - 1, 0, -1):  # swap position i with a uniform j in [0, i]
        j = min(int(u[i] * (i + 1)), i)
        perm[i], perm[j] = perm[j], perm[i]
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    return _set_requires_grad(tensor(perm, dtype=dt) if n else _empty((0,), dt), requires_grad)


def from_dlpack(obj):
    """A tensor sharing memory with ``obj``, any object with ``__dlpack__`` (a NumPy array, a
    PyTorch CPU tensor...): zero-copy for float32, float64, int64 and bool data in any positive
    stride layout, a converted copy for other dtypes."""
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"from_dlpack expects an object with __dlpack__ (a NumPy array, a PyTorch "
                        f"CPU tensor...), got {type(obj).__name__}")
    arr = np.from_dlpack(obj)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"from_dlpack: unsupported dtype {arr.dtype}")
    dt = dtypes.from_numpy_dtype(arr.dtype)
    if arr.dtype != dt.np or not arr.flags.writeable:
        return _from_array(arr, dt)
    return _wrap_numpy(arr, dt)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive: the first half counted
    up from start, the second down from end, as PyTorch does (so both ends are exact)."""
    for name, v in (("start", start), ("end", end)):
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise TypeError(f"linspace: {name} must be a number, got {type(v).__name__}")
    steps = operator.index(steps)
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    dt = _float_dtype(dtype, "linspace")
    if dt.is_half:
        return _set_requires_grad(copy(linspace(start, end, steps), dt), requires_grad)
    t = _empty((steps,), dt)
    if steps == 1:
        check(K.tl_arange(dt.code, t._ptr, 1, float(start), 0.0, 0, 0), "linspace")
    elif steps > 1:
        step = (float(end) - float(start)) / (steps - 1)
        half = steps // 2
        check(K.tl_arange(dt.code, t._ptr, half, float(start), step, 0, 0), "linspace")
        check(K.tl_arange(dt.code, t._ptr + half * dt.itemsize, steps - half,
                          float(end) - (steps - half - 1) * step, step, 0, 0), "linspace")
    return _set_requires_grad(t, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, requires_grad=False):
    """``base ** linspace(start, end, steps)``."""
    if not isinstance(base, numbers.Real) or isinstance(base, bool):
        raise TypeError(f"logspace: base must be a number, got {type(base).__name__}")
    exponents = linspace(start, end, steps, dtype=dtype)
    out = _filled(exponents._shape, base, exponents.dtype)
    if steps:   # out = base ** exponents, in place
        check(K.tl_binary_flat(K.TL_POW, out.dtype.code, out._ptr, out._ptr, exponents._ptr, steps),
              "logspace")
    return _set_requires_grad(out, requires_grad)
