"""Backward cost vs forward cost of every op at ~16 elements (issue 15: "no op's backward more
than ~2x its forward at 16 elements").

For each line of tests/test_ops.py SPECS, on its first shape case with every (3, 4) input made
(4, 4) (16 elements), times the forward alone (recording, inputs requiring grad) and forward +
backward (``out.backward(g)`` into fresh leaves' .grad), medians of interleaved repetitions, and
prints bwd / fwd = (fwd+bwd - fwd) / fwd, worst first. Timings: run it on a quiet machine; on a
shared one, ``--stat min`` (the fastest of many repetitions: other processes only ever add
time) and ``--timer cpu`` (this thread's CPU time, which leaves out the time other processes
hold the core) with more repetitions give steadier ratios than the median of wall times.

    python tools/bwd_ratio.py [--reps 7] [--number 300] [--stat median|min] [--timer wall|cpu]
                              [--only Add Mul ...]
"""
import argparse
import os
import statistics
import sys
import time
import timeit

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinygrad_lab as tl  # noqa: E402
from tests.test_ops import SPECS, calls  # noqa: E402


def _inputs(spec, shapes):
    """float32 leaves in the spec's value domain (all requiring grad, as check_op does unless
    ``spec.grad`` names a subset)."""
    r = np.random.default_rng(0)
    xs = []
    for i, s in enumerate(shapes):
        s = (4, 4) if s == (3, 4) else s
        a = r.uniform(spec.low, spec.high, s).astype(np.float32)
        want = spec.grad is True or (spec.grad and i in spec.grad)
        xs.append(tl.tensor(a, requires_grad=bool(want)))
    return xs


def measure(spec, reps, number, stat=statistics.median, timer=time.perf_counter):
    """(fwd us, fwd+bwd us), each ``stat`` of ``reps`` timings (the median by default), or None
    when the op's first case has no gradient to take."""
    fn, _, shapes = calls(spec, spec.cases[0])[0]
    xs = _inputs(spec, shapes)
    out = fn(*xs)
    if not out.requires_grad:
        return None
    g = tl.ones(out.shape, dtype=out.dtype)

    def fwd():
        return fn(*xs)

    def fwdbwd():
        for x in xs:
            x.grad = None
        fn(*xs).backward(g)

    fwdbwd()
    f, fb = [], []
    for _ in range(reps):   # interleaved: both see the same machine load
        f.append(timeit.timeit(fwd, number=number, timer=timer) / number * 1e6)
        fb.append(timeit.timeit(fwdbwd, number=number, timer=timer) / number * 1e6)
    return stat(f), stat(fb)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--number", type=int, default=300)
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="of the repetitions: median, or min (steadier on a shared machine)")
    ap.add_argument("--timer", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this thread's CPU time (steadier on a shared machine)")
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    stat = statistics.median if args.stat == "median" else min
    rows = []
    for name, spec in SPECS.items():
        if args.only and name not in args.only:
            continue
        m = measure(spec, args.reps, args.number, stat,
                    time.perf_counter if args.timer == "wall" else time.thread_time)
        if m is not None:
            f, fb = m
            rows.append((max(fb - f, 0.0) / f, name, f, fb))
    rows.sort(reverse=True)
    print(f"{'op':30s} {'fwd us':>8s} {'fwd+bwd us':>11s} {'bwd/fwd':>8s}")
    for ratio, name, f, fb in rows:
        flag = "  > 2x" if ratio > 2 else ""
        print(f"{name:30s} {f:8.2f} {fb:11.2f} {ratio:8.2f}{flag}")


if __name__ == "__main__":
    main()
