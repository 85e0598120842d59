"""Quick GEMM check: tinygrad_lab vs NumPy's BLAS, and how much of tinygrad_lab's time is the C
kernel (not a test).

    python3 bench/matmul_quick.py [--threads 1,2] [--cases 256,1024:TN,37x301x53,f64:512]

A case is [f64:]SIZE[:FORM]: SIZE is n (n x n @ n x n) or MxKxN, FORM is NN (default), TN
(A.T @ B) or NT (A @ B.T), f64 selects float64 (float32 otherwise). For each case it times, in
turns, ``a @ b`` on tinygrad_lab tensors, ``a @ b`` on NumPy arrays, and tl_matmul_forward called
directly through cffi into a preallocated output (the C time alone: the difference to the first
column is Python dispatch and the output allocation). Medians of --reps rounds (and the ratio of
the best rounds, which a noisy neighbour disturbs least), each a loop of at least --min-time
seconds after --settle seconds idle: OpenBLAS's idle workers spin for ~0.1 s after a call and
slow down whatever runs next on a 2-core machine (with 0.1 s the column timed right after NumPy
came out 10-20% slow).

NumPy's BLAS thread count is left to its environment (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS); set
it to match --threads for a fair comparison. Wrap runs in `flock /tmp/tl_bench.lock` on a shared
machine.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinygrad_lab as tl  # noqa: E402
from tinygrad_lab._lib import NULL, ffi, lib  # noqa: E402
from bench.run import _time_once as time_loop  # noqa: E402

DEFAULT = "64,128,256,512,1024,2048,1024:TN,1024:NT,100,1000,37x301x53,f64:256,f64:512,f64:1024"


def parse(case):
    parts = case.split(":")
    dt = np.float64 if parts[0] == "f64" else np.float32
    if parts[0] in ("f64", "f32"):
        parts = parts[1:]
    dims = [int(x) for x in parts[0].split("x")]
    m, k, n = dims * 3 if len(dims) == 1 else dims
    return dt, m, k, n, (parts[1] if len(parts) > 1 else "NN")


def make(dt, m, k, n, form):
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((k, m) if form == "TN" else (m, k)).astype(dt)
    b = rng.standard_normal((n, k) if form == "NT" else (k, n)).astype(dt)
    ta, tb = tl.from_numpy(a), tl.from_numpy(b)
    if form == "TN":
        a, ta = a.T, ta.T
    if form == "NT":
        b, tb = b.T, tb.T
    out = tl.empty(m, n, dtype=tl.float32 if dt == np.float32 else tl.float64)
    st = [ffi.new("int64_t[2]", [s for s in t._strides]) for t in (ta, tb)]
    code, pc, pa, pb = out.dtype.code, out._ptr, ta._ptr, tb._ptr

    def raw():
        lib.tl_matmul_forward(code, pc, pa, st[0], pb, st[1], 0, NULL, m, n, k)

    return (lambda: ta @ tb), (lambda: a @ b), raw, (ta, tb, a, b, out, st)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="2")
    ap.add_argument("--cases", default=DEFAULT)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.03)
    ap.add_argument("--settle", type=float, default=0.2)
    args = ap.parse_args()
    saved = tl.get_num_threads()
    print(f"tinygrad_lab simd={tl._config.config()['simd']}  numpy BLAS threads from env "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    print(f"medians of {args.reps} rounds; ratio = tl / numpy; C = tl_matmul_forward alone; "
          "best = the same ratios of the fastest rounds")
    print(f"{'case':>22} {'thr':>3} {'tl':>10} {'numpy':>10} {'ratio':>6} {'C':>10} {'C/np':>6} "
          f"{'tl GF':>7} {'np GF':>7} {'best':>6} {'C best':>6}")
    try:
        for nt in (int(t) for t in args.threads.split(",")):
            tl.set_num_threads(nt)
            for case in args.cases.split(","):
                dt, m, k, n, form = parse(case)
                f_tl, f_np, f_c, keep = make(dt, m, k, n, form)
                np.testing.assert_allclose(f_tl().numpy(), f_np(), rtol=1e-3, atol=1e-3 * k ** 0.5)
                fns = (f_tl, f_np, f_c)
                for fn in fns:
                    fn()
                ts = [[] for _ in fns]
                for _ in range(args.reps):
                    for fn, t in zip(fns, ts):
                        time.sleep(args.settle)
                        t.append(time_loop(fn, args.min_time))
                t_tl, t_np, t_c = (statistics.median(t) for t in ts)
                b_tl, b_np, b_c = (min(t) for t in ts)
                fl = 2.0 * m * n * k / 1e9
                us = (lambda s: f"{s * 1e6:8.1f}us")
                name = f"{'f64' if dt == np.float64 else 'f32'} {m}x{k}x{n} {form}"
                print(f"{name:>22} {nt:>3} {us(t_tl)} {us(t_np)} {t_tl / t_np:6.2f} {us(t_c)} "
                      f"{t_c / t_np:6.2f} {fl / t_tl:7.1f} {fl / t_np:7.1f} {b_tl / b_np:6.2f} "
                      f"{b_c / b_np:6.2f}")
                sys.stdout.flush()
    finally:
        tl.set_num_threads(saved)


if __name__ == "__main__":
    main()
