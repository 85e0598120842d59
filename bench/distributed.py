"""Data-parallel scaling on one machine: digits MLP training samples/s, 1 process x 2 threads
vs 2 MPI ranks x 1 thread (DistributedDataParallel), the same global batch.

    python -m bench.distributed                  # 5 interleaved repeats of 300 steps each
    python -m bench.distributed --steps 100 --reps 3 --json out.json
    python -m bench.distributed --cost-model     # the communication cost model's table (README)

The model is the digits example's 64-128-10 ReLU MLP with Adam on batches of 64 (each of the 2
ranks takes 32 of them). The data are scikit-learn's digits when installed, else random data of
the same shape (1347 x 64, 10 classes): throughput does not depend on the values. Each
configuration runs in fresh processes (TL_NUM_THREADS sets the threads), warms up for 20 steps,
then times ``--steps`` steps; a configuration's samples/s is the global batch times the steps
over the slowest rank's time. The two configurations alternate, and the medians are reported.
Needs the distributed extra (mpi4py, mpiexec).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.distributed as dist
import tinygrad_lab.nn.functional as F
from tinygrad_lab import nn
from tinygrad_lab.nn.parallel import DistributedDataParallel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digits_data():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        r = np.random.default_rng(0)
        return r.uniform(0, 1, (1347, 64)).astype(np.float32), r.integers(0, 10, 1347), "random"
    d = load_digits()
    return (d.data[:1347] / 16.0).astype(np.float32), d.target[:1347], "sklearn digits"


def worker(steps, batch, ddp):
    """One process of a configuration: train, print {"samples_per_s": ...} on rank 0."""
    rank, world = 0, 1
    if ddp:
        dist.init_process_group()
        rank, world = dist.get_rank(), dist.get_world_size()
    x, y, source = digits_data()
    x, y = tl.from_numpy(x), tl.tensor(y)
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    if ddp:
        model = DistributedDataParallel(model)
    opt = tl.optim.Adam(model.parameters(), lr=2e-3)
    share = batch // world
    n = x.shape[0] // batch * batch

    def step(i):
        start = (i * batch) % n + rank * share
        loss = F.cross_entropy(model(x[start:start + share]), y[start:start + share])
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(20):
        step(i)
    if ddp:
        dist.barrier()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    elapsed = time.perf_counter() - t0
    if ddp:
        t = tl.tensor([elapsed], dtype=tl.float64)
        dist.all_reduce(t, dist.ReduceOp.MAX)
        elapsed = t.item()
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps({"samples_per_s": batch * steps / elapsed, "data": source}))


def _mpiexec():
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.path.exists(local) else "mpiexec"


def run_config(ranks, threads, steps, batch):
    env = dict(os.environ, TL_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "bench.distributed", "--worker", "--steps", str(steps),
           "--batch", str(batch)]
    if ranks > 1:
        cmd = [_mpiexec(), "-n", str(ranks)] + cmd + ["--ddp"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True,
                         timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])


# The models of examples/ (and bench/run.py's MLP, for scale): (name, parameters, bytes each)
def _mlp(*sizes):
    return sum(i * o + o for i, o in zip(sizes, sizes[1:]))


MODELS = [
    ("xor.py 2-4-1", _mlp(2, 4, 1), 4),
    ("circles.py 2-16-1", _mlp(2, 16, 1), 4),
    ("two_layer_classifier.py 30-16-1 (f64)", _mlp(30, 16, 1), 8),
    ("ddp_train.py / demo 2-64-64-3", _mlp(2, 64, 64, 3), 4),
    ("digits_mlp.py 64-128-10", _mlp(64, 128, 10), 4),
    ("vanishing_gradients.py 20 x 32", 20 * _mlp(32, 32) + _mlp(32, 10), 4),
    ("bench MLP 784-256-256-10", _mlp(784, 256, 256, 10), 4),
]
BANDWIDTH = 10e9 / 8      # 10 Gbit/s in bytes/s
LATENCY = 25e-6           # seconds per message on 10 GbE (TCP, one hop), an assumption


def cost_model(machines=(8, 64)):
    """Ring allreduce: each machine sends (and receives) 2 (n-1)/n x S bytes for a gradient of
    S bytes, in 2 (n-1) messages: t = 2 (n-1)/n S / B + 2 (n-1) a. Small messages make MPI pick
    recursive doubling instead (log2 n messages of S bytes each): t = log2(n) (a + S / B)."""
    print(f"allreduce per step at {BANDWIDTH * 8 / 1e9:g} Gbit/s, {LATENCY * 1e6:g} us per message")
    head = f"{'model':40s} {'params':>8s}" + "".join(
        f" {'bytes/step n=' + str(n):>16s} {'ring':>8s} {'rec.dbl':>8s}" for n in machines)
    print(head)
    print("-" * len(head))
    for name, params, itemsize in MODELS:
        size = params * itemsize
        row = f"{name:40s} {params:8,d}"
        for n in machines:
            sent = 2 * size * (n - 1) / n
            ring = sent / BANDWIDTH + 2 * (n - 1) * LATENCY
            doubling = (n - 1).bit_length() * (LATENCY + size / BANDWIDTH)
            row += f" {sent:16,.0f} {ring * 1e3:6.2f}ms {doubling * 1e3:6.2f}ms"
        print(row)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.distributed",
                                description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=64, help="global batch (split over the ranks)")
    p.add_argument("--reps", type=int, default=5, help="interleaved repeats (median taken)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--cost-model", action="store_true", help="print the cost model's table")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ddp", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        return worker(a.steps, a.batch, a.ddp)
    if a.cost_model:
        return cost_model()
    configs = [("1 process x 2 threads", 1, 2), ("2 ranks x 1 thread (DDP)", 2, 1)]
    rates = {name: [] for name, _, _ in configs}
    source = None
    for _ in range(a.reps):
        for name, ranks, threads in configs:
            r = run_config(ranks, threads, a.steps, a.batch)
            rates[name].append(r["samples_per_s"])
            source = r["data"]
    med = {name: statistics.median(v) for name, v in rates.items()}
    base = med[configs[0][0]]
    print(f"digits MLP 64-128-10, Adam, global batch {a.batch} ({source} data), {a.steps} steps, "
          f"medians of {a.reps}")
    for name, _, _ in configs:
        print(f"  {name:26s} {med[name]:10,.0f} samples/s  ({med[name] / base:.2f}x)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": [{"config": k, "samples_per_s": v, "all": rates[k]}
                                for k, v in med.items()], "batch": a.batch, "steps": a.steps,
                       "data": source}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
