"""``tl.jit``: capture a step's kernel calls once, then replay them with one call into C.

A small network's training step is mostly dispatch: ~30 kernel calls, each well under a
microsecond of C behind a few microseconds of Python. ``step = tl.jit(fn)`` runs ``fn`` eagerly
on its first call (optimizer state, momentum buffers and other lazily made tensors appear then),
records every kernel call of the second (kernels.capture: forward, backward, optimizer update,
with their buffers), and from the third on replays that recording with one call into
csrc/replay.c's ``tl_replay``, without running ``fn``'s Python at all.

How a call is represented: each C entry point gets a generated trampoline ``int f(const tl_arg
*a)`` (_build.py writes one per declaration of the public header), and a recorded call is the
trampoline's number plus its arguments packed in ``tl_arg`` slots (a union of int64, double and
pointer; one slot per C parameter). The slots are read at call time, so Python rewrites a few of
them between replays: the pointers of this call's input tensors (the first recorded calls copy
them into the recording's own input buffers) and the scalars optimizers declare live
(kernels.live_args: learning rates, Adam's step count and bias corrections).

The rules (README "Capture and replay"):
- Tensor arguments are inputs: copied into the recording's buffers. A call whose tensor
  arguments differ in shape, strides or dtype, whose other arguments differ (by value for
  numbers, strings and None, by identity otherwise), or that runs in another grad mode, gets its
  own recording (eager call, capture, replays); up to MAX_RECORDINGS are kept. A tensor argument
  that requires grad raises (it would be trained as a copy): reach parameters through the model.
- The return value is the one of the captured call: returned tensors are the recording's
  outputs, overwritten by the next call (clone them to keep a value).
- Reading tensor values in Python inside the captured call (item, numpy, print, bool), kernels
  whose result Python decides on (anomaly mode's NaN scan, boolean-mask indexing) and a
  scheduler step raise during capture. Every other Python value fn uses (a global learning
  rate, a list of tensors, tensors made from Python data) is frozen at capture: pass what
  changes as an argument.
- Buffers are kept alive by the recording: the ones fn makes, and the live ones it points into
  that existed before (parameters, their ``.grad``, optimizer state; found by address). What
  it does not see is a tensor replaced by another (``p.data = ...``, rebinding a global, a
  ``.grad`` set to None and remade outside the step): call ``step.reset()`` after that. The
  non-tensor arguments are kept too, so an identity in a signature is never reused.
- One thread at a time per jitted step (a second thread gets a RuntimeError).
- Data-dependent skips: calls made inside ``kernels.only_if_zero(flag)`` form a conditional
  segment; the replay then runs the recording one segment per tl_replay call and skips a
  segment (and its live-argument bookkeeping) whose flag tensor is non-zero when reached
  (GradScaler.step: the optimizer's kernels after an Inf/NaN gradient). A capture that calls
  ``kernels.abandon_capture`` (GradScaler: its own gradients overflowed, so it holds no
  optimizer step; or the optimizer's first step would make its state) is not kept: the rest of
  that call runs eagerly, its results are right, and the signature's next call captures again.
- Python work a replay must redo between kernels goes through ``kernels.host_call(fn)``: the
  capture runs fn and records it at its place; the replay then runs the recording one
  tl_replay call per run of kernel calls between host calls and calls each fn in its place
  (inside an only_if_zero segment, skipped with it). fn runs as outside a capture (its kernel
  calls run eagerly at each replay, not recorded; it may read tensors). tl.distributed's
  collectives do this inside a capture, blocking (an ``async_op`` one returns a completed
  Work), so a DistributedDataParallel step can be jitted: its gradient allreduces run from
  Python between replayed segments. Python bookkeeping around them ran once, at capture
  (DDP's hooks). A recording with neither host calls nor conditional segments is one tl_replay
  call.
- Version counts: each replay raises the version of every tensor the capture wrote in place
  (parameters, .grad, optimizer state, buffers) by what the capture raised it, so a graph
  recorded outside the step that saved one of them raises at its backward, as after an eager
  step (_version_bumps).
"""
import bisect
import functools
import gc
import numbers
import threading
import weakref

from . import kernels as K
from .autograd.engine import _grad_enabled
from .creation import empty
from .kernels import NULL, ffi
from .tensor import _UNSHARED, Tensor, _numel

MAX_RECORDINGS = 8
# one capture at a time (kernels.capture swaps process-wide names); reentrant: a jitted step
# called in the eager rest of an abandoned capture may capture itself
_CAPTURING = threading.RLock()
_EAGER = "eager"   # a signature's first call ran eagerly; its next call captures


def _signature(args, kwargs):
    """(key, tensors): the signature a recording is valid for (see the module docstring) as a
    flat tuple (cheap to hash: this runs on every call), and the tensor arguments in order
    (positional, then keyword arguments by name)."""
    key = [_grad_enabled()]
    tensors = []
    for a in (args if not kwargs else args + tuple(kwargs[k] for k in sorted(kwargs))):
        if isinstance(a, Tensor):
            key += (a._shape, a._strides, a.dtype, a.requires_grad)
            tensors.append(a)
        else:
            key.append(_value_key(a))
    if kwargs:
        key.append(tuple(sorted(kwargs)))
    return tuple(key), tensors


def _value_key(a):
    """A non-tensor argument's part of the key: numbers, strings and None by value (and type:
    1 and 1.0 differ), anything else by identity."""
    if a is None or isinstance(a, (numbers.Number, str, bytes)):
        return (type(a), a)
    return ("id", id(a))


def _store(slot, kind, v):
    """Write argument ``v`` of a C parameter of kind ``kind`` into tl_arg ``slot``."""
    if kind == "p":
        slot.p = ffi.cast("void *", v)
    elif kind == "d":
        slot.d = float(v)
    elif kind == "u":
        v = int(v) & 0xFFFFFFFFFFFFFFFF
        slot.i = v - (1 << 64) if v >= 1 << 63 else v
    else:
        slot.i = int(v)


class _Recording:
    """One captured call, packed for tl_replay: the calls and their argument slots, what keeps
    every pointer in them alive, the input slots and the live scalars to rewrite per replay."""

    def __init__(self, cap, copies, result):
        calls = copies + cap.calls
        self.names = [name for name, _ in calls]
        self.keep = (calls, cap.pins)          # the argument objects and every buffer made
        self.result = result
        total = sum(len(args) for _, args in calls)
        self.slots = ffi.new("tl_arg[]", max(total, 1))
        self.calls = ffi.new("tl_call[]", max(len(calls), 1))
        self.n = len(calls)
        self.failed = ffi.new("int64_t *")
        self.n_slots, self.kinds = total, "".join(K.REPLAYABLE[name][1] for name, _ in calls)
        self.inputs = []   # the slot of each input copy's source pointer
        self.live = []     # [first slot, kinds, fn, last values, call index]
        off = 0
        for k, (name, args) in enumerate(calls):
            index, sig = K.REPLAYABLE[name]
            if len(sig) != len(args):
                raise RuntimeError(f"tl.jit: {name} was recorded with {len(args)} arguments, "
                                   f"its C declaration takes {len(sig)}")
            for j, (kind, v) in enumerate(zip(sig, args)):
                _store(self.slots[off + j], kind, v)
            self.calls[k].fn = index
            self.calls[k].args = self.slots + off
            if k < len(copies):
                self.inputs.append(self.slots + off + 4)   # tl_copy's src
            live = cap.live.get(k - len(copies))
            if live is not None:
                start, fn = live
                self.live.append([off + start, sig[start:], fn, tuple(args[start:]), k])
            off += len(args)
        self.segments = _segments(cap.conditions, cap.hosts, len(copies), self.n, self.calls,
                                  self.live)
        self.bumps = ()    # [(Storage, count)]: see _version_bumps

    def replay(self, tensors):
        for slot, t in zip(self.inputs, tensors):
            slot.p = t._ptr
        if self.segments is not None:
            self._replay_segments()
        else:
            if self.live:
                _refresh(self.live, self.slots)
            rc = K.tl_replay(self.calls, self.n, self.failed)
            if rc:
                K.check(rc, f"tl.jit replay of {self.names[self.failed[0]]}")
        for st, d in self.bumps:   # the in-place writes' version counts, as the capture's
            st.version += d
        return self.result

    def _replay_segments(self):
        """A recording with conditional segments (kernels.only_if_zero) or host calls
        (kernels.host_call): one tl_replay per run of kernel calls between them, the host
        functions called in their places; a conditional segment, its live-argument bookkeeping
        and its host calls are skipped when its flag is set (read here, after what came before
        it ran)."""
        for first, calls, n, flag, live, host in self.segments:
            if flag is not None and flag[0] != 0:
                continue
            if host is not None:
                host()
                continue
            if live:
                _refresh(live, self.slots)
            rc = K.tl_replay(calls, n, self.failed)
            if rc:
                K.check(rc, f"tl.jit replay of {self.names[first + self.failed[0]]}")


def _refresh(live, slots):
    """Before a replay: run each live entry's bookkeeping and write the values that changed."""
    for entry in live:
        values = entry[2]()
        if values != entry[3]:    # write only what changed (Adam: its bias corrections)
            first = entry[0]
            for j, (kind, v, old) in enumerate(zip(entry[1], values, entry[3])):
                if v != old:
                    _store(slots[first + j], kind, v)
            entry[3] = values


def _segments(conditions, hosts, offset, n, calls, live):
    """None without conditional segments or host calls (one tl_replay runs everything); else
    what the replay runs, in order: [first call, its tl_call pointer, count, flag (a float
    pointer, None when unconditional), its live entries, None] for a run of kernel calls, and
    [position, None, 0, flag, [], fn] for a host call. Call indices of ``conditions`` and
    ``hosts`` are shifted by ``offset`` (the input copies recorded before the captured calls);
    runs are cut at every condition boundary and host call."""
    if not conditions and not hosts:
        return None
    cuts = {0, n}
    for first, end, _ in conditions:
        cuts.update((first + offset, end + offset))
    cuts.update(pos + offset for pos, _, _ in hosts)
    cuts = sorted(cuts)
    flags = [(first + offset, end + offset, ffi.cast("float *", flag._ptr))
             for first, end, flag in conditions]
    at = {}
    for pos, fn, flag in hosts:
        at.setdefault(pos + offset, []).append(
            [pos + offset, None, 0, None if flag is None else ffi.cast("float *", flag._ptr),
             [], fn])
    out = []
    for a, b in zip(cuts, cuts[1:] + [None]):
        out += at.get(a, ())
        if b is None or b == a:
            continue
        flag = next((f for first, end, f in flags if first <= a < end), None)
        out.append([a, calls + a, b - a, flag, [e for e in live if a <= e[4] < b], None])
    return out


class jit:
    """``tl.jit(fn)`` or ``@tl.jit``: call 1 runs ``fn`` eagerly, call 2 captures its kernel
    calls, later calls replay them in one call into C (rules in this module's docstring)."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"tl.jit expects a callable, got {type(fn).__name__}")
        self.fn = fn
        self._recordings = {}   # signature -> _EAGER or _Recording (insertion order = age)
        self._busy = threading.Lock()
        functools.update_wrapper(self, fn)

    def __get__(self, obj, objtype=None):
        """As a method decorator: one jitted step per instance (a bound copy, cached on it)."""
        if obj is None:
            return self
        name = "_tl_jit_" + getattr(self.fn, "__name__", str(id(self.fn)))
        bound = obj.__dict__.get(name)
        if bound is None:
            bound = obj.__dict__[name] = jit(self.fn.__get__(obj, objtype))
        return bound

    def reset(self):
        """Drop every recording (the next call runs eagerly again, the one after captures)."""
        self._enter()
        try:
            self._recordings.clear()
        finally:
            self._busy.release()

    def _enter(self):
        if not self._busy.acquire(False):
            name = getattr(self.fn, "__name__", self.fn)
            raise RuntimeError(f"tl.jit: {name!r} is already running (called from two threads at "
                               "once, or from inside itself); a jitted step is used by one "
                               "thread at a time: give each thread its own tl.jit(fn)")

    def __call__(self, *args, **kwargs):
        if K._capture is not None and K.capturing():
            return self.fn(*args, **kwargs)      # inside another capture: part of that recording
        if not self._busy.acquire(False):
            self._enter()                        # (raises)
        try:
            key, tensors = _signature(args, kwargs)
            rec = self._recordings.get(key)
            if rec.__class__ is _Recording:
                return rec.replay(tensors)
            if rec is None:
                for t in tensors:
                    _check_input(t)
                while len(self._recordings) >= MAX_RECORDINGS:
                    del self._recordings[next(iter(self._recordings))]
                self._recordings[key] = _EAGER
                return self.fn(*args, **kwargs)
            rec, result = self._capture(args, kwargs, tensors)
            if rec is not None:
                self._recordings[key] = rec
            return result
        finally:
            self._busy.release()

    def _capture(self, args, kwargs, tensors):
        """Run fn once under kernels.capture on the recording's own copies of the tensor
        arguments, and pack what it did: (recording, result), the recording None when fn
        abandoned the capture (kernels.abandon_capture)."""
        owned, copies = [], []
        for t in tensors:
            dst = empty(t._shape, dtype=t.dtype)
            call = (dst.dtype.code, dst._ptr, NULL, t.dtype.code, t._ptr, K.strides(t),
                    len(t._shape), K.i64(t._shape))
            K.check(K.tl_copy(*call), "tl.jit input copy")
            owned.append(dst)
            copies.append(("tl_copy", call))
        it = iter(owned)
        args = tuple(next(it) if isinstance(a, Tensor) else a for a in args)
        kwargs = {k: next(it) if isinstance(kwargs[k], Tensor) else kwargs[k] for k in sorted(kwargs)}
        before = _versions()
        with _CAPTURING, K.capture() as cap:
            result = self.fn(*args, **kwargs)
        if cap.abandoned is not None:     # the rest ran eagerly: the next call captures again
            return None, result
        rec = _Recording(cap, copies, result)
        rec.bumps = _version_bumps(before)
        rec.keep += (owned, _owners(rec), args, kwargs, [c[2] for c in cap.conditions],
                     [h[2] for h in cap.hosts])
        return rec, result


def _storages():
    """The Storage of every live tensor that has one (a small kernel output has none until a
    view or an in-place write makes it: its version is 0)."""
    found = {}
    for o in gc.get_objects():
        if issubclass(type(o), Tensor):   # (type(): no __class__ hooks)
            st = getattr(o, "_storage", _UNSHARED)
            if st is not _UNSHARED:
                found[id(st)] = st
    return found.values()


def _versions():
    """{id(storage): (weak reference, version)} of every live tensor's Storage, before a
    capture (weak: a strong one would change the reference counts the engine reads, _owned)."""
    return {id(st): (weakref.ref(st), st.version) for st in _storages()}


def _version_bumps(before):
    """[(storage, count)]: how much the capture raised each live storage's version (in-place
    writes: optimizer updates, .grad accumulation, x.add_(...)); a storage made during the
    capture started at 0. A replay redoes those writes in C, where nothing counts them, so it
    adds the same counts: a graph recorded outside the step that saved such a tensor then sees
    it changed, as after an eager step. (A host call that bumps a count itself at every replay
    is counted twice: versions only need to change, not to count exactly.)"""
    bumps = []
    for st in _storages():
        old = before.get(id(st))
        d = st.version - (old[1] if old is not None and old[0]() is st else 0)
        if d:
            bumps.append((st, d))
    return bumps


def _owners(rec):
    """The storages of live tensors the recording points into, found by address: the recording
    pins every buffer made during the capture, and this pins the ones made before it that are
    still alive (parameters, their grads, optimizer state), so a later ``p.grad = None`` cannot
    free memory a replay writes (their values are still only read and written by pointer)."""
    used = sorted({int(ffi.cast("uintptr_t", rec.slots[k].p)) for k in range(rec.n_slots)
                   if rec.kinds[k] == "p"} - {0})
    if not used:
        return []
    spans = []
    for o in gc.get_objects():
        if issubclass(type(o), Tensor) and getattr(o, "_data", NULL) != NULL:   # (type(): no __class__ hooks)
            st = o._storage
            if st is _UNSHARED:     # a fresh kernel output owning its buffer (no Storage made)
                start = int(ffi.cast("uintptr_t", o._data))
                spans.append((start, start + _numel(o._shape) * o.dtype.itemsize, o._data))
            else:
                start = int(ffi.cast("uintptr_t", st.ptr))
                spans.append((start, start + st.nbytes, st))
    spans.sort(key=lambda s: s[0])
    starts = [s[0] for s in spans]
    keep = {}
    for a in used:
        i = bisect.bisect_right(starts, a) - 1
        while i >= 0 and spans[i][0] <= a:
            if a < spans[i][1]:
                keep[id(spans[i][2])] = spans[i][2]
                break
            i -= 1
    return list(keep.values())


def _check_input(t):
    if t.requires_grad:
        raise ValueError("tl.jit: a tensor argument that requires grad would be copied into the "
                         "recording's input buffer and trained as that copy; pass data as "
                         "arguments and reach parameters through the model (or a closure)")


__all__ = ["jit", "MAX_RECORDINGS"]
