"""Data-parallel training over MPI: the demo's spirals learned by N processes at once.

Every rank (process) builds the same MLP; DistributedDataParallel copies rank 0's weights to
all of them, each rank trains on its own share of every epoch's shuffled data (a
DistributedSampler), and the gradients are averaged across ranks (an allreduce) during
backward, so every rank takes the same optimizer step. At the end each rank reports its
throughput, rank 0 saves a checkpoint, and every rank loads it back and checks the accuracy.

Needs the distributed extra: pip install "tinygrad_lab[distributed]" (mpi4py and MPICH).

    mpirun -n 2 python examples/ddp_train.py           # 30 epochs: >= 90% test accuracy (checked)
    mpirun -n 2 python examples/ddp_train.py --quick   # 3 epochs
    mpirun -n 2 python examples/ddp_train.py --jit     # the same numbers, each step replayed (tl.jit)
    python examples/ddp_train.py --quick               # one process is a job of size 1

(``mpiexec`` is the same launcher. On several machines, add ``-hosts a,b`` and put the
checkpoint on a filesystem every machine sees.) Without mpi4py the script says what to install
and exits 0.
"""
import argparse
import os
import sys
import tempfile
import time

import tinygrad_lab as tl
import tinygrad_lab.distributed as dist
import tinygrad_lab.nn.functional as F
from tinygrad_lab import nn
from tinygrad_lab.demo import make_spirals
from tinygrad_lab.nn.parallel import DistributedDataParallel as DDP
from tinygrad_lab.utils.data import DataLoader, DistributedSampler, TensorDataset

TARGET = 0.90


def make_model(hidden):
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 3))


def accuracy(model, x, y):
    with tl.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 epochs (no accuracy check)")
    ap.add_argument("--epochs", type=int, default=None, help="passes over the data (default 30)")
    ap.add_argument("--batch-size", type=int, default=16, help="examples per rank per step")
    ap.add_argument("--lr", type=float, default=0.01, help="Adam learning rate")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jit", action="store_true",
                    help="capture the training step once and replay it (tl.jit); the gradient "
                         "allreduces run between the replayed kernels")
    ap.add_argument("--checkpoint", default=os.path.join(tempfile.gettempdir(), "tl_ddp_train.tl"),
                    help="where rank 0 saves the trained weights")
    args = ap.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 30)
    if not dist.is_available():
        print(f"skipped: this example needs MPI: {dist.INSTALL_HINT}")
        return 0

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    x, y = make_spirals(seed=args.seed)                # the same data on every rank
    perm = tl.randperm(len(y), generator=tl.Generator().manual_seed(args.seed))
    n_test = len(y) // 4
    x_test, y_test = x[perm[:n_test]], y[perm[:n_test]]
    train = TensorDataset(x[perm[n_test:]], y[perm[n_test:]])
    sampler = DistributedSampler(train, shuffle=True, seed=args.seed)
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)

    tl.manual_seed(args.seed + rank)                   # different on each rank ...
    model = DDP(make_model(args.hidden))               # ... until DDP broadcasts rank 0's
    opt = tl.optim.Adam(model.parameters(), lr=args.lr)
    if rank == 0:
        print(f"{world} rank(s) x {tl.get_num_threads()} thread(s); 2-{args.hidden}-{args.hidden}-3 "
              f"MLP on {len(train)} spiral points ({len(sampler)} per rank per epoch), batches of "
              f"{args.batch_size} per rank, Adam(lr={args.lr}), {epochs} epochs")

    def train_step(xb, yb):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()                                # gradients averaged across ranks here
        opt.step()
        return loss

    # --jit: call 1 runs eagerly, call 2 records the kernels (and, as host calls, the bucket
    # allreduces), later calls replay them; the last, smaller batch gets its own recording
    step = tl.jit(train_step) if args.jit else train_step
    seen, busy = 0, 0.0
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)                       # a new shuffle, the same on every rank
        total = tl.zeros(2, dtype=tl.float64)          # (sum of losses, examples) on this rank
        start = time.perf_counter()
        for xb, yb in loader:
            loss = step(xb, yb)                        # (read it before the next call)
            total += tl.tensor([loss.item() * len(yb), len(yb)], dtype=tl.float64)
        busy += time.perf_counter() - start
        seen += int(total[1].item())
        dist.all_reduce(total)                         # the epoch's loss over all ranks
        if rank == 0 and (epoch == epochs or epoch % max(1, epochs // 5) == 0):
            print(f"  epoch {epoch:3d}  train loss {total[0].item() / total[1].item():.4f}  "
                  f"test accuracy {accuracy(model, x_test, y_test):6.1%}")

    # per-rank throughput, printed by rank 0 in rank order
    rates = [tl.zeros(2, dtype=tl.float64) for _ in range(world)]
    dist.all_gather(rates, tl.tensor([seen, busy], dtype=tl.float64))
    if rank == 0:
        for r, t in enumerate(rates):
            n, s = t.tolist()
            print(f"rank {r}: {int(n)} samples in {s:.2f} s = {n / s:,.0f} samples/s")
        n = sum(t[0].item() for t in rates)
        print(f"all ranks: {n / max(t[1].item() for t in rates):,.0f} samples/s")

    # the ranks hold the same weights: compare a checksum's min and max across ranks
    check = tl.stack([p.detach().abs().sum() for p in model.parameters()]).double()
    lo, hi = check.clone(), check.clone()
    dist.all_reduce(lo, dist.ReduceOp.MIN)
    dist.all_reduce(hi, dist.ReduceOp.MAX)
    same = bool((lo == hi).all().item())

    # checkpoint: rank 0 writes, every rank reads it back (after a barrier: the file is complete)
    if rank == 0:
        tl.save(model.module.state_dict(), args.checkpoint)
    dist.barrier()
    restored = make_model(args.hidden)
    restored.load_state_dict(tl.load(args.checkpoint))
    acc, acc_restored = accuracy(model, x_test, y_test), accuracy(restored, x_test, y_test)
    if rank == 0:
        print(f"weights identical on all ranks: {'yes' if same else 'NO'}")
        print(f"checkpoint saved by rank 0 to {args.checkpoint}, loaded on every rank: "
              f"test accuracy {acc_restored:.1%}")
        print(f"final accuracy: {acc:.1%} (test set, {n_test} points)")
    dist.destroy_process_group()
    if not same or acc_restored != acc:
        return 1
    if args.quick:
        return 0
    if acc >= TARGET:
        if rank == 0:
            print(f"reached the {TARGET:.0%} target")
        return 0
    if rank == 0:
        print(f"below the {TARGET:.0%} target")
    return 1


if __name__ == "__main__":
    sys.exit(main())
