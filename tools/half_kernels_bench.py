"""float16/bfloat16 kernels next to PyTorch's, interleaved in one process (issue 16's native half
reductions, softmax, fused exp and casts): medians of the repetitions, and the median of the
per-repetition ratios tl / torch (robust on a shared machine). Run it against two builds (e.g.
before and after a change) with the same arguments and compare the ratio columns.

    TL_NUM_THREADS=1 python tools/half_kernels_bench.py [--reps 21] [--only "sum bf16,exp"]
"""
import argparse
import time

import numpy as np
import torch

import tinygrad_lab as tl
from tinygrad_lab.ops.shape import sum_to


def cases():
    rng = np.random.default_rng(0)
    a7 = rng.standard_normal(10 ** 7).astype(np.float32)
    a6 = rng.standard_normal(10 ** 6).astype(np.float32)
    m = rng.standard_normal((4096, 1024)).astype(np.float32)
    out = {}
    for nm, dt, tdt in (("bf16", tl.bfloat16, torch.bfloat16), ("f16", tl.float16, torch.float16)):
        x7, xm = tl.tensor(a7).to(dt), tl.tensor(m).to(dt)
        t7, tm = torch.from_numpy(a7).to(tdt), torch.from_numpy(m).to(tdt)
        f7, f6, tf7, tf6 = tl.tensor(a7), tl.tensor(a6), torch.from_numpy(a7), torch.from_numpy(a6)
        out.update({
            f"sum {nm} 1e7": (lambda x=x7: x.sum(), lambda t=t7: t.sum()),
            f"mean {nm} 1e7": (lambda x=x7: x.mean(), lambda t=t7: t.mean()),
            f"sum(1) {nm} 4096x1024": (lambda x=xm: x.sum(1), lambda t=tm: t.sum(1)),
            f"sum(0) {nm} 4096x1024": (lambda x=xm: x.sum(0), lambda t=tm: t.sum(0)),
            f"mean(1) {nm} 4096x1024": (lambda x=xm: x.mean(1), lambda t=tm: t.mean(1)),
            f"max(1) {nm} 4096x1024": (lambda x=xm: x.max(1), lambda t=tm: t.amax(1)),
            f"max(0) {nm} 4096x1024": (lambda x=xm: x.max(0), lambda t=tm: t.amax(0)),
            f"argmax(1) {nm} 4096x1024": (lambda x=xm: x.argmax(1), lambda t=tm: t.argmax(1)),
            f"var(1) {nm} 4096x1024": (lambda x=xm: x.var(1), lambda t=tm: t.var(1)),
            f"std {nm} 1e7": (lambda x=x7: x.std(), lambda t=t7: t.std()),
            f"sum_to {nm} 4096x1024->1024": (lambda x=xm: sum_to(x, (1024,)), lambda t=tm: t.sum(0)),
            f"softmax {nm} 4096x1024": (lambda x=xm: tl.softmax(x, 1), lambda t=tm: torch.softmax(t, 1)),
            f"log_softmax {nm} 4096x1024": (lambda x=xm: tl.log_softmax(x, 1),
                                            lambda t=tm: torch.log_softmax(t, 1)),
            f"exp {nm} 1e7": (lambda x=x7: x.exp(), lambda t=t7: t.exp()),
            f"cast f32->{nm} 1e7": (lambda dt=dt: f7.to(dt), lambda d=tdt: tf7.to(d)),
            f"cast f32->{nm} 1e6": (lambda dt=dt: f6.to(dt), lambda d=tdt: tf6.to(d)),
            f"a+b {nm} 1e7": (lambda x=x7: x + x, lambda t=t7: t + t),
        })
    x32, t32 = tl.tensor(a7), torch.from_numpy(a7)
    out["exp f32 1e7"] = (lambda: x32.exp(), lambda: t32.exp())
    out["a+b f32 1e7"] = (lambda: x32 + x32, lambda: t32 + t32)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--only", default="", help="comma-separated substrings of case names")
    args = ap.parse_args()
    torch.set_num_threads(tl.get_num_threads())
    all_cases = cases()
    keys = [k for k in all_cases if not args.only or any(s in k for s in args.only.split(","))]
    ts = {k: ([], []) for k in keys}
    for _ in range(args.reps):
        for k in keys:
            for j in (0, 1):
                t0 = time.perf_counter()
                all_cases[k][j]()
                ts[k][j].append(time.perf_counter() - t0)
    print(f"{tl.get_num_threads()} threads, {args.reps} interleaved repetitions, medians")
    for k in keys:
        a, b = (np.median(v) * 1e3 for v in ts[k])
        r = np.median(np.array(ts[k][0]) / np.array(ts[k][1]))
        print(f"{k:32s} tl {a:8.3f} ms  torch {b:8.3f} ms  tl/torch {r:.2f}")


if __name__ == "__main__":
    main()
