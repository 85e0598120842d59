"""The kernel-call layer: the one narrow place every call from Python into the C kernels goes
through.

Each exported entry point of csrc/tinygrad_lab.h is an attribute of this module under its C
name (``kernels.tl_unary_flat``, ``kernels.tl_matmul_forward``...), and so is each enum
constant (``kernels.TL_EXP``, ``kernels.TL_F32``). Op code calls them as ``K.tl_<name>(...)``
-- looked up on this module at call time, never bound at import -- so that swapping these
attributes sees every call: ``record()`` logs the sequence of calls a block makes (entry point,
buffers, sizes) and ``replay()`` runs it again on the same buffers, the base of a
capture-and-replay mode (``capture()`` below, used by tl.jit, whose replay is one call into C:
csrc/replay.c). (The allocator, tl_alloc/tl_free, is called by tensor.py below this
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
import threading

from . import tensor as _storage
from ._lib import MAX_DIMS, NULL, ffi, lib
from .tensor import _SHAPES, _UNSHARED, _shape_info

# Every C entry point and constant, under its C name (see the module docstring).
ENTRY_POINTS = {name: getattr(lib, name) for name in dir(lib) if name.startswith("tl_")}
globals().update(ENTRY_POINTS)
globals().update({name: getattr(lib, name) for name in dir(lib) if name.startswith("TL_")})

# The entry points tl_replay can call (csrc/replay.c): name -> (trampoline number, signature,
# one letter per parameter: 'i' integer, 'u' uint64_t, 'd' double, 'p' pointer).
REPLAYABLE = {ffi.string(lib.tl_replay_name(i)).decode(): (i, ffi.string(lib.tl_replay_signature(i)).decode())
              for i in range(lib.tl_replay_count())}

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


# ---- capturing a step for tl.jit --------------------------------------------------------------

# Kernels whose result Python reads to decide what to do next: a replay could not redo that.
_HOST_READS = {
    "tl_count_nonfinite": "a NaN/Inf scan whose count Python reads (anomaly mode, "
                          "error_if_nonfinite, a GradScaler-like skip)",
    "tl_nonzero": "boolean-mask indexing or nonzero() (the result's size depends on the data)",
}


class Capture:
    """What a capture collects: ``calls`` [(name, args)] of the capturing thread, ``live``
    {call index: (first argument position, fn)} (see live_args), ``pins`` the buffers made
    meanwhile (tensor.py appends them), ``thread`` the capturing thread's id, ``conditions``
    [[first call, end call, flag tensor]] (see only_if_zero), ``hosts`` [(call index, fn,
    flag tensor or None)] (see host_call) and ``abandoned``, the reason given to
    abandon_capture (None while the capture stands)."""

    def __init__(self):
        self.calls, self.live, self.pins = [], {}, []
        self.thread = threading.get_ident()
        self.conditions = []
        self.hosts = []
        self.abandoned = None
        self.wrappers = {}   # the entry points capture() swaps in (host_call restores them)


_capture = None   # the active Capture (one at a time, process-wide)


@contextlib.contextmanager
def capture():
    """record() for tl.jit: log the calls of this thread only (other threads run unrecorded),
    raise on kernels whose result Python reads (_HOST_READS), keep every buffer made meanwhile
    alive and make tensor reads from Python raise (tensor.py). Yields a Capture."""
    global _capture
    if _capture is not None:
        raise RuntimeError("tl.jit: another step is being captured (one capture at a time)")
    cap = Capture()
    calls, thread, get_ident = cap.calls, cap.thread, threading.get_ident
    g = globals()

    def recorder(name, fn):
        def call(*args):
            if get_ident() == thread:
                calls.append((name, args))
            return fn(*args)
        return call

    def refuse(name, fn):
        def call(*args):
            if get_ident() == thread:
                raise RuntimeError(f"tl.jit: {_HOST_READS[name]} cannot be captured: a replay runs "
                                   "only the kernels, not the Python deciding on their result. "
                                   "Keep it outside the jitted function.")
            return fn(*args)
        return call

    for name, fn in ENTRY_POINTS.items():
        if name in _HOST_READS:
            cap.wrappers[name] = refuse(name, fn)
        elif name in REPLAYABLE:
            cap.wrappers[name] = recorder(name, fn)
    _resume_capture(cap)
    try:
        yield cap
    finally:
        if _capture is cap:       # (not already ended by abandon_capture)
            _end_capture()


def _end_capture():
    global _capture
    globals().update(ENTRY_POINTS)
    _capture = None
    _storage._set_capture(None, None)


def _resume_capture(cap):
    global _capture
    globals().update(cap.wrappers)
    _capture = cap
    _storage._set_capture(cap.thread, cap.pins)


def abandon_capture(reason):
    """End this thread's capture here: the rest of the captured call runs eagerly (its kernel
    calls are not recorded, its reads are allowed) and tl.jit keeps no recording of the call,
    so the signature's next call captures again. For a step whose captured run would not be the
    one to replay (GradScaler: an Inf/NaN gradient skipped the optimizer step, or the
    optimizer's first step would make its state). ``reason`` is kept on the Capture."""
    cap = _capture
    if cap is not None and cap.thread == threading.get_ident():
        cap.abandoned = reason
        _end_capture()


def capturing():
    """True while this thread is capturing a step for tl.jit."""
    cap = _capture
    return cap is not None and cap.thread == threading.get_ident()


def live_args(start, fn):
    """Declare, inside a capture, that the kernel call just made takes arguments from position
    ``start`` on that change between steps (an optimizer's learning rate, Adam's bias
    corrections): before each replay tl.jit calls ``fn()``, which does the step's Python
    bookkeeping and returns their new values, and writes them into the recorded call. A no-op
    outside a capture."""
    cap = _capture
    if cap is not None and cap.thread == threading.get_ident():
        cap.live[len(cap.calls) - 1] = (start, fn)


@contextlib.contextmanager
def only_if_zero(flag):
    """Inside a capture, the kernel calls made in the block form a conditional segment: a
    replay runs them (and does their live_args bookkeeping) only when the float32 0-d tensor
    ``flag`` holds 0 as the replay reaches them; otherwise it skips the segment, as the eager
    code skips the block (GradScaler.step: no optimizer step after Inf/NaN gradients). The
    Python in the block must run it only when ``flag_value(flag)`` is 0. A no-op outside a
    capture; segments do not nest."""
    cap = _capture
    if cap is None or cap.thread != threading.get_ident():
        yield
        return
    if flag.dtype.code != TL_F32 or flag._shape != ():
        raise TypeError(f"only_if_zero: the flag must be a float32 0-d tensor, got {flag.dtype!r} "
                        f"of shape {tuple(flag._shape)}")
    if cap.conditions and cap.conditions[-1][1] is None:
        raise RuntimeError("tl.jit: conditional segments of a capture do not nest")
    cap.conditions.append([len(cap.calls), None, flag])
    try:
        yield
    finally:
        cap.conditions[-1][1] = len(cap.calls)


def host_call(fn):
    """Run ``fn()``, Python work between kernel calls that a replay must redo (an MPI
    collective on a tensor's buffer: tl.distributed), and inside this thread's capture also
    record it at this point of the call list: every replay of the recording then calls ``fn()``
    between the kernel calls made before and after it (tl.jit splits its tl_replay call there).
    The one way library code runs non-kernel work inside a recorded step.

    ``fn`` runs as it will on replay, outside the capture: its kernel calls are not recorded (a
    replay makes them by calling ``fn``) and it may read tensor values, which it sees as the
    kernels before it left them. Inside ``only_if_zero`` it belongs to the conditional segment
    and is skipped with it. Returns None (a value would be decided on once, at capture, and
    frozen). Outside a capture it just calls ``fn()``."""
    cap = _capture
    if cap is None or cap.thread != threading.get_ident():
        fn()
        return
    open_ = cap.conditions[-1] if cap.conditions and cap.conditions[-1][1] is None else None
    cap.hosts.append((len(cap.calls), fn, None if open_ is None else open_[2]))
    _end_capture()
    try:
        fn()
    finally:
        if _capture is not None:
            raise RuntimeError("tl.jit: a capture began inside a host_call function")
        _resume_capture(cap)


def flag_value(t):
    """The value of float32 0-d tensor ``t``, read from its memory by the library itself (the
    one read a capture allows: GradScaler's found_inf, which a replay reads too, see
    only_if_zero)."""
    return ffi.cast("float *", t._ptr)[0]


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
        rc = tl_binary_flat(TL_ADD, acc.dtype.code, p, p, g._ptr,
                            (_SHAPES.get(shape) or _shape_info(shape))[1])
    else:
        rc = tl_binary_forward(TL_ADD, acc.dtype.code, p, NULL, p, NULL, g._ptr,
                               i64(broadcast_strides(g, shape)), len(shape), i64(shape))
    if rc:
        check(rc, "accumulate")
    st = acc._storage
    if st is _UNSHARED:   # (acc._bump_version(), written out: a call fewer per accumulation)
        st = acc._shared()
    st.version += 1


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


__all__ = ["MAX_DIMS", "NULL", "ffi", "check", "i64", "strides", "record", "replay", "capture",
           "capturing", "live_args", "abandon_capture", "only_if_zero", "host_call", "flag_value",
           "REPLAYABLE", "copy_into", "add_into", "has_nonfinite", "broadcast_strides"]
