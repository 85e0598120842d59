"""Instructions per call of a small training step, counted by valgrind's callgrind -- the steady
measure of Python-side cost on a noisy machine (wall times of these steps move 15-60% there).

Runs the workload 0 and N times in two processes under callgrind (``PYTHONHASHSEED=0
TL_NUM_THREADS=1``, the garbage collector off in the timed loop) and prints (count(N) -
count(0)) / N: interpreter start-up and warm-up cancel out. Varies by about +-5k instructions
between runs (start-up does not cancel exactly).

    python tools/icount.py [workload ...] [--n 2000]

Workloads (issue 15's small-step rows):
  raw_xor   XOR 2-4-1 raw ops: (x @ W + b).sigmoid() twice, mse_loss, backward,
            ``p -= 0.5 * p.grad`` under no_grad
  fwdbwd    fwd+bwd of (x * w).sum(), 16 elements, x an input (no grad), as the bench row
  fwdbwd2   the same with both a and w requiring grad (a's .grad accumulates)
  custom    a 2-4-1 ReLU net as a custom Module (F.relu(self.fc1(x))), SGD step
  seq       the same net as nn.Sequential, SGD step
"""
import argparse
import gc
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _workloads():
    sys.path.insert(0, ROOT)
    import tinygrad_lab as tl
    nn, F = tl.nn, tl.nn.functional
    tl.manual_seed(0)
    xx = tl.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    yy = tl.tensor([[0.0], [1.0], [1.0], [0.0]])
    params = (tl.randn(2, 4, requires_grad=True), tl.zeros(4, requires_grad=True),
              tl.randn(4, 1, requires_grad=True), tl.zeros(1, requires_grad=True))
    a, w = tl.randn(16, requires_grad=True), tl.randn(16, requires_grad=True)
    x = tl.randn(16)

    def raw_xor():
        W1, b1, W2, b2 = params
        out = ((xx @ W1 + b1).sigmoid() @ W2 + b2).sigmoid()
        F.mse_loss(out, yy).backward()
        with tl.no_grad():
            for p in params:
                p -= 0.5 * p.grad
                p.grad = None

    def fwdbwd():
        w.grad = None
        (x * w).sum().backward()

    def fwdbwd2():
        w.grad = None
        (a * w).sum().backward()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(2, 4), nn.Linear(4, 1)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

    def sgd_step(model):
        opt = tl.optim.SGD(model.parameters(), lr=0.1)

        def step():
            opt.zero_grad()
            F.mse_loss(model(xx), yy).backward()
            opt.step()
        return step

    seq = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    return {"raw_xor": raw_xor, "fwdbwd": fwdbwd, "fwdbwd2": fwdbwd2, "custom": sgd_step(Net()), "seq": sgd_step(seq)}


def _child(name, n):
    """Run workload ``name`` n times (inside callgrind)."""
    f = _workloads()[name]
    for _ in range(5):
        f()
    gc.collect()
    gc.disable()
    for _ in range(n):
        f()


def _count(name, n):
    # OpenBLAS (NumPy's, started at import) spins its idle threads for a while after start-up;
    # callgrind counts that spinning (~20k instructions per XOR step, varying run to run)
    env = dict(os.environ, PYTHONHASHSEED="0", TL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, os.path.abspath(__file__), "--child", name, str(n)],
                         env=env, capture_output=True, text=True, check=True).stderr
    m = re.search(r"Collected : (\d+)", out)
    if m is None:
        raise RuntimeError(f"no callgrind total in valgrind's output:\n{out[-2000:]}")
    return int(m.group(1))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1], int(argv[2]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=["raw_xor", "fwdbwd", "custom", "seq"])
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("tools/icount.py needs valgrind (apt-get install valgrind)")
    for name in args.workloads:
        per = (_count(name, args.n) - _count(name, 0)) / args.n
        print(f"{name:10s} {per / 1000:8.1f}k instructions per call")


if __name__ == "__main__":
    main()
