"""conv2d forward + backward time: tinygrad_lab vs PyTorch vs NumPy im2col + matmul by hand.

    PYTHONPATH=. python bench/conv2d_timing.py [--reps 15]

Shape: N=32, C=16, H=W=28, 32 out channels, 3x3, padding 1 (float32). Runs are interleaved
(tl, torch, numpy, tl, ...) and the medians printed, so a shared machine's noise hits all three
alike. The NumPy version is the textbook im2col (sliding_window_view + one einsum-free matmul
each way, col2im with np.add.at-free strided adds): what a learner would write.
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F

N, C, H, W, OC, K = 32, 16, 28, 28, 32, 3


def numpy_conv_fwd_bwd(x, w, b, g):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (K, K), axis=(2, 3))   # N C H W K K
    cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(C * K * K, N * H * W)       # copy
    out = (w.reshape(OC, -1) @ cols).reshape(OC, N, H, W).transpose(1, 0, 2, 3) + b[None, :, None, None]
    gp = g.transpose(1, 0, 2, 3).reshape(OC, -1)
    gb = gp.sum(1)
    gw = (gp @ cols.T).reshape(w.shape)
    dcols = (w.reshape(OC, -1).T @ gp).reshape(C, K, K, N, H, W)
    gxp = np.zeros_like(xp)
    for i in range(K):
        for j in range(K):
            gxp[:, :, i:i + H, j:j + W] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return out, gxp[:, :, 1:-1, 1:-1], gw, gb


def inputs(seed=0):
    """x, W, b and the output gradient g of the benchmarked layer, float32 NumPy arrays."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((N, C, H, W)).astype(np.float32)
    w = (r.standard_normal((OC, C, K, K)) * 0.1).astype(np.float32)
    b = r.standard_normal(OC).astype(np.float32)
    g = r.standard_normal((N, OC, H, W)).astype(np.float32)
    return x, w, b, g


def tl_fwd_bwd(x, w, b, g):
    """A function running tl's conv2d forward and backward on copies of the arrays (x, W and b
    requiring grad); it returns the tensors, whose .grad it sets."""
    xt, wt, bt = (tl.tensor(a, requires_grad=True) for a in (x, w, b))
    gt = tl.tensor(g)

    def run():
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, padding=K // 2).backward(gt)
        return xt, wt, bt
    return run


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    x, w, b, g = inputs()
    run_tl = tl_fwd_bwd(x, w, b, g)

    runs = {"tinygrad_lab": run_tl, "numpy im2col": lambda: numpy_conv_fwd_bwd(x, w, b, g)}
    try:
        import torch
        torch.set_num_threads(tl.get_num_threads())
        X, Wt, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        G = torch.tensor(g)

        def run_torch():
            X.grad = Wt.grad = B.grad = None
            torch.nn.functional.conv2d(X, Wt, B, padding=1).backward(G)
        runs["torch"] = run_torch
        xt = run_tl()[0]
        run_torch()
        ref = numpy_conv_fwd_bwd(x, w, b, g)
        print("max |grad x| diff vs torch:", float(np.abs(xt.grad.numpy() - X.grad.numpy()).max()),
              " vs numpy:", float(np.abs(xt.grad.numpy() - ref[1]).max()))
    except ImportError:
        pass
    times = {k: [] for k in runs}
    for _ in range(args.reps):
        for k, fn in runs.items():
            # let the previous library's thread pool stop spinning first (OpenBLAS's workers
            # spin ~0.1 s after a call: timed right after NumPy's version, tl's one-thread run
            # measured 18-57 ms instead of 13), and time a warm second call
            _spin(0.15)
            fn()
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    print(f"conv2d fwd+bwd, N={N} C={C} H=W={H} OC={OC} {K}x{K} pad 1, float32, "
          f"{tl.get_num_threads()} threads, median of {args.reps} interleaved runs:")
    for k, v in times.items():
        print(f"  {k:14s} {statistics.median(v) * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
