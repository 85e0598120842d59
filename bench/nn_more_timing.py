"""rms_norm and ctc_loss forward + backward time: tinygrad_lab's composites vs PyTorch.

    PYTHONPATH=. python bench/nn_more_timing.py [--reps 15]

One thread each. rms_norm (and layer_norm, for scale): (64, 512) float32 with a weight, 50
calls a round; ctc_loss: T=50, N=16, C=20, targets of 5..10 labels through log_softmax, 5 calls a
round. Rounds are interleaved (tl, torch, tl, ...) and the medians printed, so a shared
machine's noise hits both alike. These numbers decided that rms_norm stays a composite and say
how far the composite ctc_loss is from a fused kernel.
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    reps = ap.parse_args().reps
    import torch
    torch.set_num_threads(1)
    tl.set_num_threads(1)
    r = np.random.default_rng(0)
    x = r.standard_normal((64, 512)).astype(np.float32)
    w = np.ones(512, np.float32)
    xt, wt = tl.tensor(x, requires_grad=True), tl.tensor(w, requires_grad=True)
    xr, wr = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    T, N, C, S = 50, 16, 20, 10
    lg = r.standard_normal((T, N, C)).astype(np.float32)
    tg, il, tls = r.integers(1, C, (N, S)), [T] * N, [int(v) for v in r.integers(5, S + 1, N)]
    lt, lr = tl.tensor(lg, requires_grad=True), torch.tensor(lg, requires_grad=True)
    cases = {
        "rms_norm tl": (50, lambda: F.rms_norm(xt, (512,), wt).sum().backward()),
        "rms_norm torch": (50, lambda: torch.nn.functional.rms_norm(xr, (512,), wr).sum().backward()),
        "layer_norm tl": (50, lambda: F.layer_norm(xt, (512,), wt).sum().backward()),
        "ctc_loss tl": (5, lambda: F.ctc_loss(F.log_softmax(lt, 2), tl.tensor(tg), il, tls).backward()),
        "ctc_loss torch": (5, lambda: torch.nn.functional.ctc_loss(
            torch.log_softmax(lr, 2), torch.tensor(tg), torch.tensor(il), torch.tensor(tls)).backward()),
    }
    times = {k: [] for k in cases}
    for _ in range(reps):
        for k, (n, f) in cases.items():
            t = time.perf_counter()
            for _ in range(n):
                f()
            times[k].append((time.perf_counter() - t) / n * 1e3)
    for k, v in times.items():
        print(f"{k:16s} median {statistics.median(v):8.3f} ms per forward + backward")


if __name__ == "__main__":
    main()
