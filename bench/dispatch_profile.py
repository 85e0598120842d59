"""Where the time of a small op goes: the dispatch benchmarks' cost split into its parts.

    python3 bench/dispatch_profile.py [--reps 9]

Each line times one piece of the path a 16-element op takes (medians of --reps runs of a timeit
loop, in microseconds per call), from the bare Python and cffi costs up to the two dispatch
workloads of `python -m bench`. Read it top-down: a recorded `a * b` is roughly allocation +
the C call + the op's Python + the graph node, and `(x * w).sum().backward()` adds a second op,
the engine and two VJP kernels. Not a test, and the numbers move with the machine's load.
"""
import argparse
import os
import statistics
import sys
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_lab as tl  # noqa: E402
from tinygrad_lab import kernels as K  # noqa: E402
from tinygrad_lab.autograd.engine import _record  # noqa: E402
from tinygrad_lab.kernels import NULL  # noqa: E402
from tinygrad_lab.ops.elementwise import Mul  # noqa: E402
from tinygrad_lab.tensor import _empty  # noqa: E402


def per_call_us(fn, reps, number=20000):
    return statistics.median(timeit.timeit(fn, number=number) / number * 1e6 for _ in range(reps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()

    a = tl.randn(16, requires_grad=True)
    b = tl.randn(16)
    w = tl.randn(16, requires_grad=True)
    scratch = tl.randn(16)   # the node-recording line makes this a graph output, over and over
    f32 = tl.float32
    p = b._data
    shape = (16,)
    flat, full = K.tl_binary_flat, K.tl_binary_forward

    def noop():
        pass

    def fwd_bwd():
        w.grad = None
        (a * w).sum().backward()

    def fwd_only():
        (a * w).sum()

    nn, F = tl.nn, tl.nn.functional
    xx = tl.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    yy = tl.tensor([[0.0], [1.0], [1.0], [0.0]])
    xor = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    opt = tl.optim.SGD(xor.parameters(), lr=0.5)

    def xor_step():  # the bench's end-to-end XOR workload
        opt.zero_grad()
        F.mse_loss(xor(xx), yy).backward()
        opt.step()

    rows = [
        ("a Python function call", noop),
        ("cffi call, 1 argument", lambda: K.tl_alloc_set_limit(512 << 20)),
        ("cffi call, 6 arguments (tl_binary_flat)", lambda: flat(K.TL_MUL, f32.code, p, p, p, 16)),
        ("cffi call, 10 arguments (tl_binary_forward)",
         lambda: full(K.TL_MUL, f32.code, p, NULL, p, NULL, p, NULL, 0, NULL)),
        ("allocate a 16-element output tensor", lambda: _empty(shape, f32)),
        ("record a graph node (autograd._record)",
         lambda: _record(Mul, scratch, (w, a), (True, True), (w, a))),
        ("b * b (no graph: nothing requires grad)", lambda: b * b),
        ("a * b (graph recorded)", lambda: a * b),
        ("a.sum() (graph recorded)", lambda: a.sum()),
        ("(a * w).sum(), forward only", fwd_only),
        ("(a * w).sum().backward(), forward + backward", fwd_bwd),
        ("XOR 2-4-1 sigmoid SGD step (7 graph nodes)", xor_step),
    ]
    print(f"{'piece of a small op':48s} {'us/call':>8s}")
    print("-" * 57)
    for name, fn in rows:
        n = 500 if fn is xor_step else 20000
        print(f"{name:48s} {per_call_us(fn, args.reps, n):8.2f}")


if __name__ == "__main__":
    main()
