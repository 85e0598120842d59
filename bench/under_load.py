"""tinygrad_lab vs NumPy while other processes keep cores busy (not a test).

    python3 -m bench.under_load [--competitors 1] [--reps 7] [--threads N] [--no-load]

On a machine shared with other work, a multi-threaded kernel can find that one of its worker
threads gets no core for a while. A kernel that must wait for every worker (a statically split
parallel region) then takes a scheduler time slice (several ms) instead of its own time; one
whose work is claimed in chunks by whichever thread is running does not. This script starts
--competitors busy-looping Python processes (each keeps one core busy; default 1), times a few
multi-threaded workloads with tinygrad_lab and with NumPy in turns, stops the competitors and
prints, per workload, the median, mean and 90th percentile of single-call times and the ratio of
the medians (tinygrad_lab / NumPy, lower is better): stalls show in the mean and the tail.
--no-load runs the same table without competitors, for comparison.

Each round gives each library --settle seconds of busy waiting first (so the other library's
idle threads, e.g. OpenBLAS's spinning workers, have stopped) and then calls it repeatedly for at
least --min-time seconds, timing every call. NumPy's BLAS thread count is left to its environment
(OPENBLAS_NUM_THREADS). Wrap runs in `flock /tmp/tl_bench.lock` on a shared machine.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_lab as tl  # noqa: E402


def workloads():
    """(name, tinygrad_lab callable, NumPy callable) for each timed workload."""
    r = np.random.default_rng(0)
    out = []
    for n in (256, 1024):
        a = r.standard_normal((n, n)).astype(np.float32)
        b = r.standard_normal((n, n)).astype(np.float32)
        ta, tb = tl.from_numpy(a), tl.from_numpy(b)
        out.append((f"matmul f32 {n}^3", lambda ta=ta, tb=tb: ta @ tb, lambda a=a, b=b: a @ b))
    m = r.standard_normal((4096, 1024)).astype(np.float32)
    tm = tl.from_numpy(m)
    out.append(("sum over rows of 4096x1024 f32", lambda: tm.sum(1), lambda: m.sum(axis=1)))
    x = r.standard_normal(10_000_000).astype(np.float32)
    y = r.standard_normal(10_000_000).astype(np.float32)
    tx, ty = tl.from_numpy(x), tl.from_numpy(y)
    out.append(("a * b, 1e7 f32", lambda: tx * ty, lambda: x * y))
    return out


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def call_times(fn, min_time):
    """Seconds of each call of fn, calling it until min_time has passed (at least 3 calls)."""
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def start_competitors(n):
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    time.sleep(0.3)   # let them start spinning
    return procs


def stop_competitors(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def fmt(s):
    return f"{s * 1e6:.0f}us" if s < 1e-3 else f"{s * 1e3:.2f}ms"


def run(reps, min_time, settle, competitors):
    cases = workloads()
    for _, f_tl, f_np in cases:     # warm up: allocations, page faults, thread pools
        f_tl(), f_np()
    procs = start_competitors(competitors)
    try:
        rows = []
        for name, f_tl, f_np in cases:
            times = {"tl": [], "numpy": []}
            for _ in range(reps):
                for key, fn in (("tl", f_tl), ("numpy", f_np)):
                    spin(settle)
                    times[key] += call_times(fn, min_time)
            rows.append((name, times))
    finally:
        stop_competitors(procs)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m bench.under_load",
                                description=__doc__.splitlines()[0])
    p.add_argument("--competitors", type=int, default=1, help="busy processes to start (default 1)")
    p.add_argument("--no-load", action="store_true", help="no competitors (the quiet baseline)")
    p.add_argument("--reps", type=int, default=7, help="rounds per library and workload")
    p.add_argument("--min-time", type=float, default=0.05, help="seconds of calls per round")
    p.add_argument("--settle", type=float, default=0.1, help="busy wait before each round (s)")
    p.add_argument("--threads", type=int, default=None, help="tinygrad_lab threads (default: all)")
    a = p.parse_args(argv)
    if a.threads:
        tl.set_num_threads(a.threads)
    competitors = 0 if a.no_load else a.competitors
    cfg = tl._config.config()
    print(f"tinygrad_lab {cfg['tinygrad_lab']}: {cfg['threads']} threads "
          f"({cfg['threads backend']}), {cfg['simd']}; NumPy {np.__version__}; "
          f"{os.cpu_count()} CPUs, {competitors} busy competitor process(es)")
    print(f"single-call times over {a.reps} rounds of >= {a.min_time:g} s each; "
          "ratio = median tl / median NumPy\n")
    cols = [f"{lib} {stat}" for lib in ("tl", "np") for stat in ("median", "mean", "p90")]
    head = f"{'workload':31s}" + "".join(f"{c:>10s}" for c in cols) + f"{'ratio':>7s}"
    print(head)
    print("-" * len(head))
    for name, t in run(a.reps, a.min_time, a.settle, competitors):
        row = []
        for key in ("tl", "numpy"):
            v = t[key]
            row += [statistics.median(v), statistics.mean(v), statistics.quantiles(v, n=10)[-1]]
        print(f"{name:31s}" + "".join(f"{fmt(x):>10s}" for x in row) + f"{row[0] / row[3]:7.2f}")


if __name__ == "__main__":
    main()
