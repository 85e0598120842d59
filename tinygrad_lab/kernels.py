"""The kernel-call layer: the one narrow place every call from Python into the C kernels goes
through.

Each exported entry point of csrc/tinygrad_lab.h is an attribute of this module under its C
name (``kernels.tl_unary_flat``, ``kernels.tl_matmul_forward``...), and so is each enum
constant (``kernels.TL_EXP``, ``kernels.TL_F32``). Op code calls them as ``K.tl_<name>(...)``
-- looked up on this module at call time, never bound at import -- so that swapping these
attributes sees every call: ``record()`` logs the sequence of calls a block makes (entry point,
buffers, sizes) and ``replay()`` runs it again on the same buffers, the base of a
capture-and-replay mode. (The allocator, tl_alloc/tl_free, is called by tensor.py below this
layer: a replay reuses the recorded buffers instead of allocating.)

Arguments are what the C header says: raw pointers (a Tensor's ``_ptr``, its first element),
int64 arrays for shapes and strides (``i64``; NULL for a contiguous operand), sizes and scalars.
Every kernel returns a status; ``check`` turns a non-zero one into the matching Python exception.

A replay reruns the kernels, not the Python around them: a step whose Python reads a kernel's
result to decide what to do next (tl_nonzero's count sizing a mask's index, the NaN scan of
anomaly mode, a loss kernel's status) is data-dependent, and replaying it is only right while
those results stay the same.

Below the entry points: the few tensor-level helpers the engine and several op families share
(copies, in-place accumulation, the NaN/Inf scan).
"""
import contextlib

from ._lib import MAX_DIMS, NULL, ffi, lib
from .tensor import _numel

# Every C entry point and constant, under its C name (see the module docstring).
ENTRY_POINTS = {name: getattr(lib, name) for name in dir(lib) if name.startswith("tl_")}
globals().update(ENTRY_POINTS)
globals().update({name: getattr(lib, name) for name in dir(lib) if name.startswith("TL_")})

_STATUS = {
    lib.TL_EINVAL: (ValueError, "invalid argument"),
    lib.TL_EDTYPE: (TypeError, "unsupported dtype"),
    lib.TL_EINDEX: (IndexError, "index out of range"),
    lib.TL_ENOMEM: (MemoryError, "out of memory"),
}


def check(rc, what):
    """Turn a kernel status code into a Python exception that names the call."""
    if rc:
        exc, text = _STATUS.get(rc, (RuntimeError, f"status {rc}"))
        raise exc(f"{what}: {text}")


_I64_CACHE = {}


def i64(seq):
    """A C int64_t array holding ``seq`` (shapes and strides; kernels only read them). Arrays are
    cached by value because ffi.new costs ~0.5 us and the same shapes recur on every step."""
    key = seq if type(seq) is tuple else tuple(seq)
    arr = _I64_CACHE.get(key)
    if arr is None:
        if not key:
            return NULL
        arr = ffi.new("int64_t[]", key)
        if len(_I64_CACHE) > 8192:
            _I64_CACHE.clear()
        _I64_CACHE[key] = arr
    return arr


def strides(t):
    """``t``'s strides for C: NULL when contiguous (the kernels' fast path)."""
    return NULL if t._contig else i64(t._strides)


# ---- recording and replaying the kernel calls ---------------------------------------------------

@contextlib.contextmanager
def record():
    """Log every kernel call made inside the block, in order, as ``(name, args)`` tuples in the
    list this yields. The arguments are kept as passed (pointers, not copies), so the caller
    must keep the tensors they point into alive for as long as it replays them. Process-wide:
    calls from other threads are logged too."""
    calls = []
    g = globals()

    def recorder(name, fn):
        def call(*args):
            calls.append((name, args))
            return fn(*args)
        return call

    for name, fn in ENTRY_POINTS.items():
        g[name] = recorder(name, fn)
    try:
        yield calls
    finally:
        g.update(ENTRY_POINTS)


def replay(calls):
    """Run recorded kernel calls again, in order, on the same buffers: outputs are recomputed
    from the inputs' current contents."""
    for name, args in calls:
        rc = ENTRY_POINTS[name](*args)
        if type(rc) is int:
            check(rc, name)


# ---- tensor-level helpers shared by the engine and the op families ------------------------------

def copy_into(dst, src):
    """dst[...] = src for views of the same shape (dtype converted in C)."""
    check(tl_copy(dst.dtype.code, dst._ptr, strides(dst), src.dtype.code, src._ptr, strides(src),
                  len(dst._shape), i64(dst._shape)), "copy")


def add_into(acc, g):
    """acc += g in place (gradient accumulation; ``acc`` is contiguous, ``g`` has its dtype and
    its shape or one that broadcasts to it) and count the write in acc's version."""
    shape = acc._shape
    p = acc._ptr
    if g._contig and g._shape == shape:
        rc = tl_binary_flat(TL_ADD, acc.dtype.code, p, p, g._ptr, _numel(shape))
    else:
        rc = tl_binary_forward(TL_ADD, acc.dtype.code, p, NULL, p, NULL, g._ptr,
                               i64(broadcast_strides(g, shape)), len(shape), i64(shape))
    if rc:
        check(rc, "accumulate")
    acc._bump_version()


def has_nonfinite(t):
    """True when float tensor ``t`` holds a NaN or an Inf (anomaly mode's check)."""
    if not t.dtype.is_floating_point:
        return False
    count = ffi.new("int64_t *")
    check(tl_count_nonfinite(t.dtype.code, t._ptr, strides(t), len(t._shape), i64(t._shape), count),
          "nonfinite scan")
    return count[0] > 0


def broadcast_strides(x, shape):
    """Strides that show ``x`` as ``shape`` (stride 0 along broadcast dims)."""
    lead = len(shape) - len(x._shape)
    return tuple(0 if i < lead or x._shape[i - lead] == 1 and shape[i] != 1 else x._strides[i - lead]
                 for i in range(len(shape)))


__all__ = ["MAX_DIMS", "NULL", "ffi", "check", "i64", "strides", "record", "replay", "copy_into",
           "add_into", "has_nonfinite", "broadcast_strides"]
