"""conv3d forward + backward time: tinygrad_lab vs PyTorch, a small 3-D CNN layer.

    PYTHONPATH=. python bench/conv3d_timing.py [--reps 15] [--threads 1]

Shape: N=4, C=8 -> 16 out channels, 16^3 volumes, 3x3x3 kernel, padding 1, float32 (conv3d is
im2col (vol2col) + the packed GEMM of csrc/matmul.c, csrc/conv.c). Runs are interleaved (tl,
torch, tl, ...) with a short spin between them and the medians printed, and the median of the
per-round ratios tl / torch, so a shared machine's noise hits both alike.
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F

N, C, S, OC, K = 4, 8, 16, 16, 3


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="0: the library default")
    args = ap.parse_args()
    import torch
    if args.threads:
        tl.set_num_threads(args.threads)
    torch.set_num_threads(tl.get_num_threads())
    r = np.random.default_rng(0)
    x = r.standard_normal((N, C, S, S, S)).astype(np.float32)
    w = (r.standard_normal((OC, C, K, K, K)) * 0.1).astype(np.float32)
    b = r.standard_normal(OC).astype(np.float32)
    g = r.standard_normal((N, OC, S, S, S)).astype(np.float32)
    xt, wt, bt = (tl.tensor(a, requires_grad=True) for a in (x, w, b))
    gt = tl.tensor(g)
    X, W, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    G = torch.tensor(g)

    def run_tl():
        xt.grad = wt.grad = bt.grad = None
        F.conv3d(xt, wt, bt, padding=1).backward(gt)

    def run_torch():
        X.grad = W.grad = B.grad = None
        torch.nn.functional.conv3d(X, W, B, padding=1).backward(G)

    def fwd_tl():
        with tl.no_grad():
            F.conv3d(xt, wt, bt, padding=1)

    def fwd_torch():
        with torch.no_grad():
            torch.nn.functional.conv3d(X, W, B, padding=1)

    run_tl()
    run_torch()
    print("max |grad x| diff vs torch:", float(np.abs(xt.grad.numpy() - X.grad.numpy()).max()),
          " |grad W|:", float(np.abs(wt.grad.numpy() - W.grad.numpy()).max()))
    for label, pair in (("fwd+bwd", (run_tl, run_torch)), ("forward", (fwd_tl, fwd_torch))):
        times = ([], [])
        for _ in range(args.reps):
            for k, fn in enumerate(pair):
                _spin(0.1)
                fn()
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        ratio = statistics.median(a / b for a, b in zip(*times))
        print(f"conv3d {label}, N={N} C={C}->{OC} {S}^3 {K}^3 pad 1, float32, {tl.get_num_threads()} "
              f"threads, median of {args.reps} interleaved runs: tinygrad_lab "
              f"{statistics.median(times[0]) * 1e3:.2f} ms, torch {statistics.median(times[1]) * 1e3:.2f} ms, "
              f"ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
