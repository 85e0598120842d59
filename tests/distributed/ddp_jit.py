"""Run under mpiexec -n N: a DistributedDataParallel training step under tl.jit. Replayed steps
(forward, zero_grad, backward with the bucket allreduces, optimizer step) give the bits of the
same steps run eagerly, on every rank, for SGD with momentum and Adam, one bucket and a bucket
per parameter, BatchNorm buffers broadcast at each forward, and no_sync() gradient accumulation
inside the step; the collectives themselves replay inside a jitted function; the cases that
cannot be replayed raise clearly. Prints "ddp jit OK" on rank 0."""
import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.distributed as dist
import tinygrad_lab.nn.functional as F
from tinygrad_lab import kernels as K
from tinygrad_lab import nn
from tinygrad_lab.jit import _Recording
from tinygrad_lab.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
D, C, SHARD, STEPS = 5, 3, 6, 8


def make_model(batchnorm=False):
    tl.manual_seed(10 + rank)     # different on every rank until DDP broadcasts rank 0's
    mid = [nn.BatchNorm1d(16)] if batchnorm else []
    return nn.Sequential(nn.Linear(D, 16), *mid, nn.Tanh(), nn.Linear(16, 8), nn.ReLU(),
                         nn.Linear(8, C))


def shards(n, seed=0):
    """This rank's (x, y) batches: different on every rank, the same for both trainings."""
    rng = np.random.default_rng(seed * 100 + rank)
    return [(rng.standard_normal((SHARD, D)).astype(np.float32), rng.integers(0, C, SHARD))
            for _ in range(n)]


def trainer(opt_kind, bucket_cap_mb=25, batchnorm=False, accum=1):
    model = DDP(make_model(batchnorm), bucket_cap_mb=bucket_cap_mb)
    if opt_kind == "adam":
        opt = tl.optim.Adam(model.parameters(), lr=0.01)
    else:
        opt = tl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()            # (set_to_none: the capture's backward makes the grads)
        xs, ys = x.chunk(accum), y.chunk(accum)
        for k in range(accum):     # micro-batches: all but the last under no_sync
            loss = F.cross_entropy(model(xs[k]), ys[k]) / accum
            if k < accum - 1:
                with model.no_sync():
                    loss.backward()
            else:
                loss.backward()
        opt.step()
        return loss
    return model, opt, step


def assert_same(m1, m2, what):
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{what}: {k} on rank {rank}")


def assert_same_on_every_rank(model, what):
    """(Parameters only: BatchNorm's running stats are each rank's own until the next forward
    broadcasts rank 0's.)"""
    flat = tl.cat([p.detach().reshape(-1).double() for p in model.parameters()])
    lo, hi = flat.clone(), flat.clone()
    dist.all_reduce(lo, dist.ReduceOp.MIN)
    dist.all_reduce(hi, dist.ReduceOp.MAX)
    assert (lo == hi).all().item(), f"{what}: the ranks' weights differ"


def recording(j):
    recs = [r for r in j._recordings.values() if isinstance(r, _Recording)]
    assert len(recs) == 1, j._recordings
    return recs[0]


# ---- replayed DDP steps are the eager steps' bits --------------------------------------------
for opt_kind in ("sgd", "adam"):
    for bucket_cap_mb in (25, 1e-4):
        for batchnorm in (False, True):
            for accum in (1, 2):
                what = f"{opt_kind} buckets={bucket_cap_mb} bn={batchnorm} accum={accum}"
                m1, o1, f1 = trainer(opt_kind, bucket_cap_mb, batchnorm, accum)
                m2, o2, f2 = trainer(opt_kind, bucket_cap_mb, batchnorm, accum)
                j = tl.jit(f2)
                assert_same(m1, m2, what + " (start)")
                for i, (x, y) in enumerate(shards(STEPS)):
                    l1 = f1(tl.tensor(x), tl.tensor(y)).item()
                    l2 = j(tl.tensor(x), tl.tensor(y)).item()
                    assert l1 == l2, (what, i, l1, l2)
                    assert_same(m1, m2, f"{what} step {i}")
                    for p1, p2 in zip(m1.parameters(), m2.parameters()):
                        np.testing.assert_array_equal(p1.grad.numpy(), p2.grad.numpy())
                        for k, v in o1.state[p1].items():
                            w = o2.state[p2][k]
                            assert (v == w) if k == "step" else np.array_equal(v.numpy(), w.numpy())
                assert_same_on_every_rank(m2, what)
                rec = recording(j)
                hosts = [s for s in rec.segments if s[5] is not None]
                # per forward: the sync-mode check and a broadcast per BatchNorm buffer; per
                # synced backward: an allreduce per bucket; per no_sync: its enter and leave
                n_buffers = 3 if batchnorm else 0
                want = accum * (1 + n_buffers) + len(m2._buckets) + 2 * (accum - 1)
                assert len(hosts) == want, (what, len(hosts), want)
                assert m2._buckets[0].buffer.abs().sum().item() > 0

# ---- the collectives inside a jitted function ------------------------------------------------


@tl.jit
def collectives(x):
    s = x * 1.0
    dist.all_reduce(s)                                   # SUM
    a = x * 1.0
    work = dist.all_reduce(a, dist.ReduceOp.AVG, async_op=True)
    assert work.is_completed() or not K.capturing()     # (done already under capture)
    work.wait()
    m = x * 1.0
    dist.all_reduce(m, dist.ReduceOp.MAX)
    b = x * 1.0
    dist.broadcast(b, world - 1)
    dist.barrier()
    g = [tl.zeros(x.shape) for _ in range(world)]
    dist.all_gather(g, x * 2.0)
    return s + 0.0, a * 1.0, m * 1.0, b * 1.0, tl.stack(g)


for i in range(5):
    xs = [np.arange(4, dtype=np.float32) * (r + 1) + i for r in range(world)]
    s, a, m, b, g = (t.numpy() for t in collectives(tl.tensor(xs[rank])))
    np.testing.assert_array_equal(s, np.sum(xs, axis=0))
    np.testing.assert_allclose(a, np.sum(xs, axis=0) / world, rtol=1e-6)
    np.testing.assert_array_equal(m, np.max(xs, axis=0))
    np.testing.assert_array_equal(b, xs[world - 1])
    np.testing.assert_array_equal(g, np.stack(xs) * 2)
assert isinstance(next(iter(collectives._recordings.values())), _Recording)

# ---- what cannot be replayed raises, on every rank alike --------------------------------------


def expect(exc, text, fn):
    try:
        fn()
    except exc as e:
        assert text in str(e), (text, str(e))
    else:
        raise AssertionError(f"no {exc.__name__} for {text!r}")


# find_unused_parameters=True: which parameters were used is read in Python every backward
model = DDP(make_model(), find_unused_parameters=True)
opt = tl.optim.SGD(model.parameters(), lr=0.1)


def unused_step(x, y):
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


j = tl.jit(unused_step)
(x, y), = shards(1)
j(tl.tensor(x), tl.tensor(y))                            # eager: fine
expect(RuntimeError, "find_unused_parameters=True", lambda: j(tl.tensor(x), tl.tensor(y)))
F.cross_entropy(model(tl.tensor(x)), tl.tensor(y)).backward()   # usable again, eagerly
assert all(p.grad is not None for p in model.parameters())

# the same error from a jitted backward alone (the forward ran outside the capture)
loss_holder = []


@tl.jit
def backward_only(dummy):
    loss_holder[-1].backward()


for _ in range(2):
    loss_holder.append(F.cross_entropy(model(tl.tensor(x)), tl.tensor(y)))
    if _ == 0:
        backward_only(tl.zeros(1))
    else:
        expect(RuntimeError, "find_unused_parameters=True", lambda: backward_only(tl.zeros(1)))
model.zero_grad()
F.cross_entropy(model(tl.tensor(x)), tl.tensor(y)).backward()

# a step captured outside no_sync() and then called inside it (or the reverse) raises
m2, o2, f2 = trainer("sgd")
j = tl.jit(f2)
batches = shards(4, seed=1)
for x, y in batches[:3]:
    j(tl.tensor(x), tl.tensor(y))
x, y = batches[3]
with m2.no_sync():
    expect(RuntimeError, "captured outside no_sync()", lambda: j(tl.tensor(x), tl.tensor(y)))
assert m2._require_sync
m3, o3, f3 = trainer("sgd")
j3 = tl.jit(f3)
with m3.no_sync():
    for x, y in batches[:3]:
        j3(tl.tensor(x), tl.tensor(y))
    assert not m3._require_sync
expect(RuntimeError, "captured inside no_sync()", lambda: j3(tl.tensor(x), tl.tensor(y)))

# a user's read inside the captured step still raises
m4, o4, f4 = trainer("sgd")


def reads(x, y):
    loss = f4(x, y)
    return loss.item()


j = tl.jit(reads)
j(tl.tensor(x), tl.tensor(y))
expect(RuntimeError, "read in Python", lambda: j(tl.tensor(x), tl.tensor(y)))

dist.destroy_process_group()
if rank == 0:
    print("ddp jit OK")
