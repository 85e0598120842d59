"""tl.linalg.inv and tl.linalg.solve against NumPy (LAPACK) and PyTorch, float64 and float32.

    PYTHONPATH=. python bench/linalg_timing.py [--reps 15] [--sizes 64 256]

For each n: inv(A) and solve(A, B) with B (n, n), A well-conditioned. The three libraries run
interleaved (tl, numpy, torch, tl, ...), each call timed alone, and the medians printed, so a
shared machine's noise hits all alike. tinygrad_lab's kernels (csrc/linalg.c) are unblocked
O(n^3) loops on one thread; NumPy and PyTorch call a blocked, vectorised, threaded LAPACK.
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_lab as tl

try:
    import torch
except ImportError:
    torch = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'op':6s} {'dtype':8s} {'n':>4s} {'tl ms':>9s} {'numpy ms':>9s} {'torch ms':>9s} "
          f"{'tl/numpy':>9s} {'tl/torch':>9s}")
    for n in args.sizes:
        for npdt, tdt in ((np.float64, tl.float64), (np.float32, tl.float32)):
            a = (rng.standard_normal((n, n)) + n ** 0.5 * np.eye(n)).astype(npdt)
            b = rng.standard_normal((n, n)).astype(npdt)
            A, B = tl.tensor(a, dtype=tdt), tl.tensor(b, dtype=tdt)
            TA, TB = (torch.from_numpy(a), torch.from_numpy(b)) if torch else (None, None)
            for op, f_tl, f_np, f_t in (
                    ("inv", lambda: tl.linalg.inv(A), lambda: np.linalg.inv(a),
                     lambda: torch.linalg.inv(TA)),
                    ("solve", lambda: tl.linalg.solve(A, B), lambda: np.linalg.solve(a, b),
                     lambda: torch.linalg.solve(TA, TB))):
                fns = {"tl": f_tl, "numpy": f_np}
                if torch:
                    fns["torch"] = f_t
                times = {k: [] for k in fns}
                for _ in range(args.reps):
                    for k, f in fns.items():
                        t0 = time.perf_counter()
                        f()
                        times[k].append(time.perf_counter() - t0)
                med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
                tt = med.get("torch", float("nan"))
                print(f"{op:6s} {np.dtype(npdt).name:8s} {n:4d} {med['tl']:9.3f} {med['numpy']:9.3f} "
                      f"{tt:9.3f} {med['tl'] / med['numpy']:9.1f} {med['tl'] / tt:9.1f}")


if __name__ == "__main__":
    main()
