"""Run under mpiexec -n N: DistributedDataParallel training on shards equals one process
training on the whole batch (float64, to 1e-6), for SGD and Adam, with and without no_sync
gradient accumulation, with one bucket and with a bucket per parameter; plus the construction
checks and unused parameters. Prints "ddp OK" on rank 0."""
import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.distributed as dist
import tinygrad_lab.nn.functional as F
from tinygrad_lab import nn
from tinygrad_lab.nn.parallel import DistributedDataParallel as DDP

tl.set_default_dtype(tl.float64)
dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
SHARD, STEPS, D, C = 4, 20, 5, 3


def make_model(seed):
    tl.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, C))


def batches(accum):
    """The same whole batches on every rank: (STEPS, accum) micro-batches of SHARD * world."""
    rng = np.random.default_rng(1234)
    for _ in range(STEPS):
        yield [(rng.standard_normal((SHARD * world, D)), rng.integers(0, C, SHARD * world))
               for _ in range(accum)]


def train(model, opt, accum, shard):
    """20 steps; each step's gradient is the mean loss over ``accum`` micro-batches. With
    ``shard`` the model is a DDP and this rank uses its slice of each micro-batch."""
    for step in batches(accum):
        opt.zero_grad()
        for k, (x, y) in enumerate(step):
            if shard:
                x, y = x[rank * SHARD:(rank + 1) * SHARD], y[rank * SHARD:(rank + 1) * SHARD]
            loss = F.cross_entropy(model(tl.tensor(x)), tl.tensor(y)) / accum
            if shard and k < accum - 1:
                with model.no_sync():
                    loss.backward()
            else:
                loss.backward()
        opt.step()


for opt_name in ("SGD", "Adam"):
    for accum in (1, 3):
        for bucket_cap_mb in (25, 1e-4):
            local = make_model(seed=100 + rank)     # different weights on each rank ...
            ddp = DDP(local, bucket_cap_mb=bucket_cap_mb)   # ... rank 0's after this
            n_buckets = len(ddp._buckets)
            assert n_buckets == (1 if bucket_cap_mb == 25 else 6), n_buckets
            ref = make_model(seed=0)
            ref.load_state_dict({k: v.clone() for k, v in local.state_dict().items()})
            want0 = make_model(seed=100).state_dict()   # rank 0's initial weights
            for k, v in ref.state_dict().items():
                np.testing.assert_array_equal(v.numpy(), want0[k].numpy())

            def opt(ps):
                return tl.optim.SGD(ps, lr=0.1, momentum=0.9) if opt_name == "SGD" \
                    else tl.optim.Adam(ps, lr=0.01)
            train(ddp, opt(ddp.parameters()), accum, shard=True)
            train(ref, opt(ref.parameters()), accum, shard=False)
            for (k, a), b in zip(local.state_dict().items(), ref.state_dict().values()):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6,
                                           err_msg=f"{opt_name} accum={accum} {k} rank {rank}")
            assert not np.allclose(local[0].weight.detach().numpy(), want0["0.weight"].numpy())

# inside no_sync the gradients stay local: no communication
model, ref = make_model(0), make_model(0)
ddp = DDP(model)
x, y = tl.randn(SHARD, D) * (rank + 1), tl.tensor([0, 1, 2, rank % C])
with ddp.no_sync():
    F.cross_entropy(ddp(x), y).backward()
F.cross_entropy(ref(x), y).backward()
for a, b in zip(model.parameters(), ref.parameters()):
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
assert all(b.work is None for b in ddp._buckets)

# communication overlaps backward: with a bucket per parameter, the last layer's bucket has
# started by the time backward reaches the first layer's output
ddp = DDP(make_model(0), bucket_cap_mb=1e-4)
seen = []
h = ddp.module[0](tl.randn(SHARD, D))
h.register_hook(lambda g: seen.append(ddp._next))
F.cross_entropy(ddp.module[2:](h), tl.tensor([0, 1, 2, 0])).backward()
assert seen and seen[0] >= 2, seen
assert ddp._next == 0   # (reset after the step)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.a, self.b = nn.Linear(D, 4), nn.Linear(4, 1), nn.Linear(4, 1)

    def forward(self, x, use):
        h = self.body(x).tanh()
        return self.a(h) if use == "a" else self.b(h) if use == "b" else self.a(h) + self.b(h)


# an unused parameter is an error naming it, unless find_unused_parameters=True
tl.manual_seed(0)
ddp = DDP(TwoHeads())
try:
    ddp(tl.randn(2, D), "a").sum().backward()
except RuntimeError as e:
    assert "b.weight" in str(e) and "find_unused_parameters=True" in str(e), str(e)
else:
    raise AssertionError("an unused parameter went unnoticed")
ddp.zero_grad()
ddp(tl.randn(2, D), "ab").sum().backward()   # usable again after the error
assert all(p.grad is not None for p in ddp.parameters())

tl.manual_seed(0)
model = TwoHeads()
ddp = DDP(model, find_unused_parameters=True)
x = tl.tensor(np.random.default_rng(rank).standard_normal((2, D)))
use = "a" if rank == 0 else "ab"   # head b: used on the ranks > 0 only
ddp(x, use).sum().backward()
grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
# expected: every rank's own gradient (zeros where unused), averaged
ref = TwoHeads()
ref.load_state_dict(model.state_dict())
ref(x, use).sum().backward()
mine = {n: (p.grad.numpy() if p.grad is not None else np.zeros(p.shape)) for n, p in ref.named_parameters()}
for n, g in mine.items():
    t = tl.tensor(g)
    dist.all_reduce(t, dist.ReduceOp.AVG)
    np.testing.assert_allclose(grads[n], t.numpy(), rtol=1e-12, err_msg=n)
# a parameter no rank uses keeps grad None
ddp.zero_grad()
ddp(x, "a").sum().backward()
assert model.b.weight.grad is None and model.a.weight.grad is not None

# shapes that differ across ranks are caught at construction, on every rank
tl.manual_seed(0)
try:
    DDP(nn.Sequential(nn.Linear(D, 4), nn.Linear(4, 2 + (rank == world - 1))))
except RuntimeError as e:
    assert "'1.weight'" in str(e) and "rank 0 has shape (2, 4)" in str(e), str(e)
else:
    raise AssertionError("mismatched shapes went unnoticed")
try:
    DDP(nn.Sequential(*[nn.Linear(D, D) for _ in range(1 + (rank == world - 1))]))
except RuntimeError as e:
    assert "parameters and buffers" in str(e), str(e)
else:
    raise AssertionError("a mismatched number of parameters went unnoticed")

dist.destroy_process_group()
if rank == 0:
    print("ddp OK")
