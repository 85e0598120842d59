"""Quick float32 GEMM throughput check: tinygrad_lab vs NumPy's BLAS (not a test).

    python3 bench/matmul_quick.py [--threads 1,2] [--sizes 256,512,1024] [--dtype float32]

Prints GFLOPS (2 n^3 / median time) for square n x n @ n x n products. NumPy's BLAS thread
count is left to its environment (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS); set it to match
--threads for a fair comparison.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_lab as tl  # noqa: E402


def times(fns, reps):
    """Run the functions interleaved (so a noisy neighbour hurts all of them alike); return each
    one's list of times."""
    for fn in fns:
        fn()  # warm up (page faults, thread start-up)
    ts = [[] for _ in fns]
    for _ in range(reps):
        for fn, t_list in zip(fns, ts):
            t = time.perf_counter()
            fn()
            t_list.append(time.perf_counter() - t)
    return ts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--reps", type=int, default=11)
    args = ap.parse_args()
    dt = np.dtype(args.dtype)
    saved = tl.get_num_threads()
    print(f"tinygrad_lab simd={tl._config.config()['simd']}  dtype={dt}  "
          f"numpy threads from env OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    print("GFLOPS = 2 n^3 / time: median over the runs (best run in brackets)")
    print(f"{'n':>6} {'threads':>7} {'tinygrad_lab':>16} {'numpy':>16} {'ratio':>6}")
    try:
        for nt in (int(t) for t in args.threads.split(",")):
            tl.set_num_threads(nt)
            for n in (int(s) for s in args.sizes.split(",")):
                rng = np.random.default_rng(n)
                a = rng.standard_normal((n, n)).astype(dt)
                b = rng.standard_normal((n, n)).astype(dt)
                ta, tb = tl.from_numpy(a), tl.from_numpy(b)
                flops = 2.0 * n ** 3
                t_tl, t_np = times([lambda: ta @ tb, lambda: a @ b], args.reps)
                g_tl, g_np = (flops / np.median(t) / 1e9 for t in (t_tl, t_np))
                b_tl, b_np = (flops / min(t) / 1e9 for t in (t_tl, t_np))
                print(f"{n:>6} {nt:>7} {g_tl:>8.1f} ({b_tl:>5.1f}) {g_np:>8.1f} ({b_np:>5.1f}) "
                      f"{g_tl / g_np:>6.2f}")
    finally:
        tl.set_num_threads(saved)


if __name__ == "__main__":
    main()
