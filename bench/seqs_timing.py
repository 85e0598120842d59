"""Packed LSTM, unique(dim=0) and bicubic/area interpolate: tinygrad_lab vs PyTorch (float32).

    PYTHONPATH=. python bench/seqs_timing.py [--reps 11]

Cases (each forward + backward where differentiable):
- LSTM(32, 64), T=40, B=16, lengths 40 down to 10, packed (enforce_sorted=False), and the same
  batch padded (no packing) for comparison;
- unique(x, dim=0, return_inverse=True, return_counts=True), x (100000, 4) int64 in [0, 8);
- interpolate (8, 16, 64, 64) -> (128, 128) 'bicubic', and -> (24, 24) 'area'.
Runs are interleaved (tl, torch, tl, ...) and the medians printed, so a shared machine's noise
hits both alike. Both run on one thread: on a loaded 2-core machine PyTorch's spinning worker
threads otherwise lose whole time slices (its LSTM step went from ~8 ms to ~400 ms).
"""
import argparse
import statistics
import time

import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.nn.utils import rnn as R


def cases(torch):
    rng = np.random.default_rng(0)
    T, B, I, H = 40, 16, 32, 64
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    lens = list(rng.permutation(np.linspace(10, 40, B).astype(int)))
    m, t = tl.nn.LSTM(I, H), torch.nn.LSTM(I, H)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    u = rng.integers(0, 8, (100000, 4))
    img = rng.standard_normal((8, 16, 64, 64)).astype(np.float32)

    def lstm_packed(lib, mod, pack):
        def run():
            xs = lib.tensor(x, requires_grad=True)
            out, (h, c) = mod(pack.pack_padded_sequence(xs, lens, enforce_sorted=False))
            (out.data.sum() + h.sum()).backward()
        return run

    def lstm_padded(lib, mod):
        def run():
            xs = lib.tensor(x, requires_grad=True)
            out, (h, c) = mod(xs)
            (out.sum() + h.sum()).backward()
        return run

    def uniq(lib):
        xs = lib.tensor(u)
        return lambda: lib.unique(xs, dim=0, return_inverse=True, return_counts=True)

    def interp(lib, fn, **kw):
        def run():
            xs = lib.tensor(img, requires_grad=True)
            fn(xs, **kw).sum().backward()
        return run

    from torch.nn.utils import rnn as TR
    tf = torch.nn.functional
    return [
        ("LSTM packed fwd+bwd", lstm_packed(tl, m, R), lstm_packed(torch, t, TR)),
        ("LSTM padded fwd+bwd", lstm_padded(tl, m), lstm_padded(torch, t)),
        ("unique dim=0 (1e5 x 4)", uniq(tl), uniq(torch)),
        ("bicubic 64->128 fwd+bwd", interp(tl, F.interpolate, size=(128, 128), mode="bicubic"),
         interp(torch, tf.interpolate, size=(128, 128), mode="bicubic")),
        ("area 64->24 fwd+bwd", interp(tl, F.interpolate, size=(24, 24), mode="area"),
         interp(torch, tf.interpolate, size=(24, 24), mode="area")),
    ]


def main():
    import torch
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=11)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tl.set_num_threads(1)
    for name, ours, theirs in cases(torch):
        ours(), theirs()          # warm up
        t_ours, t_theirs = [], []
        for _ in range(args.reps):
            for fn, acc in ((ours, t_ours), (theirs, t_theirs)):
                s = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - s)
        a, b = statistics.median(t_ours), statistics.median(t_theirs)
        print(f"{name:26s} tl {a * 1e3:8.2f} ms   torch {b * 1e3:8.2f} ms   ratio {a / b:5.2f}")


if __name__ == "__main__":
    main()
