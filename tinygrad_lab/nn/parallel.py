"""tl.nn.parallel.DistributedDataParallel: data-parallel training over tl.distributed (MPI).

Every rank holds the whole model and runs forward and backward on its own shard of the batch;
DDP makes every rank's ``.grad`` the average over the ranks before the optimizer step, so all
ranks take the same step from the same weights (rank 0's, broadcast at construction).

How, as in PyTorch's DDP (and Horovod): the parameters are grouped, in reverse order (roughly
the order backward produces their gradients), into buckets of about ``bucket_cap_mb`` MB, one
flat buffer each. A post-accumulate-grad hook on every parameter copies its gradient into its
bucket slot once backward has finished with it; when a bucket is full its allreduce starts,
non-blocking (MPI_Iallreduce), and overlaps the rest of backward. Buckets start strictly in
order -- MPI needs every rank to issue the same collectives in the same order, whatever order
the gradients arrive in. A callback queued on the engine runs at the end of backward: it waits
for the allreduces, divides by the world size and copies the averages back into ``.grad``.

Inside tl.jit: a replay reruns the kernel calls of all that (the copies into the bucket slots,
the division, the copies back into ``.grad``) and the allreduces, recorded as host calls
(tl.distributed under a capture: each runs blocking at its place between replayed segments);
the hooks and the bookkeeping are Python that ran once, at capture. ``no_sync()`` inside the
jitted function is replayed too (its switch is a host call); a step captured outside
``no_sync()`` and later called inside it (or the reverse) raises when the replay reaches the
forward, and ``find_unused_parameters=True`` cannot be captured (which parameters some rank
used is read in Python every backward).
"""
import contextlib
import functools

from .. import distributed as dist
from .. import kernels as K
from ..autograd import no_grad
from ..autograd.engine import queue_callback
from ..creation import tensor, zeros
from .. import dtypes
from ..tensor import MAX_DIMS
from .modules import Module

_INT64 = dtypes.int64


class _Bucket:
    """One flat buffer of gradients of one dtype, reduced with one allreduce."""

    def __init__(self, params, dtype):
        n = sum(p.numel() for _, p in params)
        self.buffer = zeros(n, dtype=dtype)
        self.params = params                 # [(index in DDP's parameter list, parameter)]
        self.slots = []                      # the parameter's gradient's place in ``buffer``
        off = 0
        for _, p in params:
            self.slots.append(self.buffer[off:off + p.numel()].view(p.shape))
            off += p.numel()
        self.pending = len(params)
        self.work = None


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training; call it as the module. After
    ``loss.backward()`` every parameter's ``.grad`` is the average over the ranks.

    ``bucket_cap_mb``: size of the gradient buckets (one allreduce each).
    ``find_unused_parameters``: allow parameters that get no gradient in a backward (they take
    part with zeros); without it such a parameter is a RuntimeError naming it, as in PyTorch
    (the other ranks would otherwise wait for its bucket). ``broadcast_buffers``: copy rank 0's
    buffers (e.g. BatchNorm statistics) to every rank at each forward.
    """

    def __init__(self, module, bucket_cap_mb=25, find_unused_parameters=False,
                 broadcast_buffers=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a tl.nn.Module, got "
                            f"{type(module).__name__}")
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel needs the process group: call "
                               "tl.distributed.init_process_group() first")
        if bucket_cap_mb <= 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.find_unused_parameters = bool(find_unused_parameters)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self._world = dist.get_world_size()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        _check_same_shapes(module)
        with no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t, 0)
        self._buckets = _make_buckets(self._params, bucket_cap_mb * 2 ** 20)
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._slot_of = [None] * len(self._params)   # parameter index -> (bucket, slot)
        for b in self._buckets:
            for s, (i, _) in enumerate(b.params):
                self._slot_of[i] = (b, s)
        self._require_sync = True
        self._reset()
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                         for p in self._params]

    def forward(self, *args, **kwargs):
        if K.capturing():
            self._check_capturable()
            # a replay first checks it runs in the mode (synced or no_sync) it was captured in
            K.host_call(functools.partial(self._check_sync_mode, self._require_sync))
        if self.broadcast_buffers and self._world > 1:
            with no_grad():
                for b in self.module.buffers():
                    dist.broadcast(b, 0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside the block only accumulate gradients locally (no
        communication); the first backward after it averages the accumulated sum. Inside a
        tl.jit capture, entering and leaving are host calls, so replays switch too."""
        saved = []
        K.host_call(functools.partial(self._enter_no_sync, saved))
        try:
            yield
        finally:
            K.host_call(functools.partial(self._leave_no_sync, saved))

    def _enter_no_sync(self, saved):
        saved.append(self._require_sync)
        self._require_sync = False

    def _leave_no_sync(self, saved):
        self._require_sync = saved.pop()

    def _check_capturable(self):
        if self.find_unused_parameters:
            raise RuntimeError(
                "DistributedDataParallel(find_unused_parameters=True) cannot be captured by "
                "tl.jit: which parameters some rank used is read in Python at every backward, "
                "and a replay would freeze the capture's answer. Jit the step of a model built "
                "with find_unused_parameters=False, or run this one eagerly.")

    def _check_sync_mode(self, captured):
        """Host call of a captured forward: the replay runs in the captured mode or raises."""
        if self._require_sync != captured:
            was, now = ("outside", "inside") if captured else ("inside", "outside")
            raise RuntimeError(
                f"DistributedDataParallel: this tl.jit step was captured {was} no_sync() and is "
                f"now called {now} it; a replay cannot change whether gradients are averaged. "
                "Put no_sync() inside the jitted function, or use one tl.jit per mode.")

    # ---- the reduction ------------------------------------------------------------------------
    def _reset(self):
        self._ready = [False] * len(self._params)
        self._next = 0            # the next bucket to start
        self._armed = False       # the end-of-backward callback is queued
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None

    def _grad_ready(self, p):
        """Post-accumulate-grad hook: ``p.grad`` is final for this backward."""
        if not self._require_sync:
            return
        if not self._armed:
            if K.capturing():
                self._check_capturable()
            self._armed = True
            queue_callback(self._finish)
        self._mark(self._index[id(p)], p.grad)

    def _mark(self, i, grad):
        if self._ready[i]:
            return
        self._ready[i] = True
        b, slot = self._slot_of[i]
        with no_grad():
            if grad is None:
                b.slots[slot].zero_()
            else:
                b.slots[slot].copy_(grad)
        b.pending -= 1
        self._start_ready_buckets()

    def _start_ready_buckets(self):
        buckets = self._buckets
        while self._next < len(buckets) and buckets[self._next].pending == 0:
            b = buckets[self._next]
            b.work = dist.all_reduce(b.buffer, dist.ReduceOp.SUM, async_op=True)
            self._next += 1

    def _finish(self):
        """End of backward: every gradient is in; wait for the buckets, write the averages."""
        unused = [i for i, r in enumerate(self._ready) if not r]
        if unused and not self.find_unused_parameters:
            names = [self._names[i] for i in unused]
            self._abandon()
            raise RuntimeError(
                f"DistributedDataParallel: parameters {names} received no gradient in this "
                f"backward on rank {dist.get_rank()}, so their buckets cannot be reduced. Make "
                "every parameter take part in the loss, or pass find_unused_parameters=True.")
        used = None
        if self.find_unused_parameters:
            # which parameters some rank used: the others keep their .grad (None) untouched
            used = tensor([0 if i in unused else 1 for i in range(len(self._params))],
                          dtype=_INT64)
            dist.all_reduce(used)
            used = used.tolist()
            for i in unused:
                self._mark(i, self._params[i].grad)
        for b in self._buckets:
            b.work.wait()
            with no_grad():
                b.buffer.div_(self._world)
                for (i, p), slot in zip(b.params, b.slots):
                    if used is not None and not used[i]:
                        continue
                    if p.grad is None:
                        p.grad = slot.clone()
                    else:
                        p.grad.copy_(slot)
        self._reset()

    def _abandon(self):
        for b in self._buckets:
            if b.work is not None:
                b.work.wait()
        self._reset()

    def extra_repr(self):
        return f"world_size={self._world}, buckets={len(self._buckets)}"


def _make_buckets(params, cap_bytes):
    """Buckets of parameters in reverse order, one dtype each, up to ``cap_bytes`` (a parameter
    bigger than that gets a bucket alone)."""
    groups, current, size, dtype = [], [], 0, None
    for i in reversed(range(len(params))):
        p = params[i]
        nbytes = p.numel() * p.dtype.itemsize
        if current and (p.dtype is not dtype or size + nbytes > cap_bytes):
            groups.append((current, dtype))
            current, size = [], 0
        current.append((i, p))
        size += nbytes
        dtype = p.dtype
    if current:
        groups.append((current, dtype))
    return [_Bucket(ps, dt) for ps, dt in groups]


def _check_same_shapes(module):
    """Every rank must hold the same parameters and buffers (count, shapes, dtypes): rank 0's
    description is broadcast and compared, and every rank raises the same RuntimeError naming
    the first tensor that differs on some rank."""
    named = list(module.named_parameters()) + list(module.named_buffers())
    rank = dist.get_rank()
    counts = [tensor([len(named)], dtype=_INT64) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, counts[rank].clone())
    counts = [c.item() for c in counts]
    if len(set(counts)) > 1:
        raise RuntimeError(f"DistributedDataParallel: the ranks' models differ: they have "
                           f"{counts} parameters and buffers (by rank); every rank must build "
                           "the same model")
    width = MAX_DIMS + 2
    desc = []
    for _, t in named:
        desc += [t.dtype.code, t.ndim]
        desc += list(t.shape) + [0] * (MAX_DIMS - t.ndim)
    mine = tensor(desc or [0], dtype=_INT64)
    ref = mine.clone()
    dist.broadcast(ref, 0)
    bad = tensor([_first_difference(mine.tolist(), ref.tolist(), width)], dtype=_INT64)
    dist.all_reduce(bad, dist.ReduceOp.MIN)
    i = bad.item()
    if i < len(named):
        name, t = named[i]
        theirs = ref.tolist()[i * width:(i + 1) * width]
        raise RuntimeError(
            f"DistributedDataParallel: the ranks' models differ at {name!r}: rank 0 has shape "
            f"{tuple(theirs[2:2 + theirs[1]])}, rank {rank} has shape {tuple(t.shape)} "
            f"(dtype {t.dtype!r}); every rank must build the same model")


def _first_difference(mine, ref, width):
    """Index of the first tensor whose description differs, or a large number."""
    for j in range(0, len(mine), width):
        if mine[j:j + width] != ref[j:j + width]:
            return j // width
    return 2 ** 62


__all__ = ["DistributedDataParallel"]
