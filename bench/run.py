"""tinygrad_lab benchmarks against NumPy (and PyTorch when installed), measured in one process.

    python -m bench            # full table (a few minutes)
    python -m bench --quick    # smaller sizes, fewer repeats
    python -m bench --only matmul --json out.json

Each workload first checks tinygrad_lab's result against the reference, then times the
implementations interleaved (tl, numpy, torch, tl, numpy, torch, ...) so machine noise hits all
of them alike, and reports medians. ratio = tl time / NumPy time (< 1 means tinygrad_lab is
faster). The machine description (tl.show_config()) heads the output.
"""
import argparse
import io
import json
import math
import statistics
import sys
import time

import numpy as np

import tinygrad_lab as tl

try:
    import torch
    torch.set_num_threads(tl.get_num_threads())
except Exception:  # torch is optional
    torch = None

WORKLOADS = []


def workload(group):
    def deco(fn):
        WORKLOADS.append((group, fn))
        return fn
    return deco


class Case:
    """One row: callables for each implementation, a result check, and work for GFLOPS/GB/s."""

    def __init__(self, name, tl_fn, np_fn, torch_fn=None, check=None, flops=None, nbytes=None,
                 target=None):
        self.name, self.tl_fn, self.np_fn, self.torch_fn = name, tl_fn, np_fn, torch_fn
        self.check, self.flops, self.nbytes, self.target = check, flops, nbytes, target


def _time_once(fn, min_time):
    """Seconds per call: loop until at least ``min_time`` has passed."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - start
        if el >= min_time:
            return el / n


def measure(case, reps, min_time):
    impls = [("tl", case.tl_fn), ("numpy", case.np_fn)]
    if torch is not None and case.torch_fn is not None:
        impls.append(("torch", case.torch_fn))
    for _, fn in impls:  # warm up (allocations, first-touch, thread pools)
        fn()
    times = {k: [] for k, _ in impls}
    for _ in range(reps):
        for k, fn in impls:
            times[k].append(_time_once(fn, min_time))
    return {k: statistics.median(v) for k, v in times.items()}


def rng():
    return np.random.default_rng(0)


def close(a, b, rtol, atol=0.0):
    a = a.detach().numpy() if isinstance(a, tl.Tensor) else np.asarray(a)
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol)


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a)) if torch is not None else None


# ---- workloads ----------------------------------------------------------------------------------

@workload("matmul")
def matmul_cases(quick):
    if not hasattr(tl, "matmul"):
        return []
    cases = []
    sizes = [64, 128, 256, 512] if quick else [64, 128, 256, 512, 1024, 2048]
    shapes = [(n, n, n, "f32", "") for n in sizes]
    shapes += [(512 if quick else 1024,) * 3 + ("f32", "A.T@B"), (512 if quick else 1024,) * 3 + ("f32", "A@B.T")]
    shapes += [(100, 100, 100, "f32", ""), (1000, 1000, 1000, "f32", ""), (37, 301, 53, "f32", "")]
    shapes += [(n, n, n, "f64", "") for n in ([256, 512] if quick else [256, 512, 1024])]
    for m, k, n, dt, form in shapes:
        npdt = np.float32 if dt == "f32" else np.float64
        a = rng().standard_normal((k, m) if form == "A.T@B" else (m, k)).astype(npdt)
        b = rng().standard_normal((n, k) if form == "A@B.T" else (k, n)).astype(npdt)
        ta, tb = tl.from_numpy(a), tl.from_numpy(b)
        if form == "A.T@B":
            f_tl, f_np = (lambda ta=ta, tb=tb: ta.T @ tb), (lambda a=a, b=b: a.T @ b)
            f_t = (lambda x=_t(a), y=_t(b): x.T @ y) if torch else None
        elif form == "A@B.T":
            f_tl, f_np = (lambda ta=ta, tb=tb: ta @ tb.T), (lambda a=a, b=b: a @ b.T)
            f_t = (lambda x=_t(a), y=_t(b): x @ y.T) if torch else None
        else:
            f_tl, f_np = (lambda ta=ta, tb=tb: ta @ tb), (lambda a=a, b=b: a @ b)
            f_t = (lambda x=_t(a), y=_t(b): x @ y) if torch else None
        tol = 1e-4 * math.sqrt(k) if dt == "f32" else 1e-10
        cases.append(Case(f"matmul {dt} {m}x{k}x{n} {form}".strip(), f_tl, f_np, f_t,
                          check=lambda f_tl=f_tl, f_np=f_np, tol=tol: close(f_tl(), f_np(), tol, tol),
                          flops=2.0 * m * n * k, target=1.0))
    a = rng().standard_normal((32, 128, 64)).astype(np.float32)
    b = rng().standard_normal((32, 64, 128)).astype(np.float32)
    ta, tb = tl.from_numpy(a), tl.from_numpy(b)
    cases.append(Case("bmm f32 32x(128x64 @ 64x128)", lambda: ta @ tb, lambda: a @ b,
                      (lambda x=_t(a), y=_t(b): x @ y) if torch else None,
                      check=lambda: close(ta @ tb, a @ b, 1e-3, 1e-3), flops=2.0 * 32 * 128 * 128 * 64,
                      target=1.0))
    return cases


def _np_gelu(x):  # what a NumPy user writes (tanh approximation; NumPy has no erf)
    return 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


@workload("transcendental")
def transcendental_cases(quick):
    cases = []
    for n in ([100_000, 1_000_000] if quick else [100_000, 10_000_000]):
        x = rng().uniform(-3, 3, n).astype(np.float32)
        xp = np.abs(x) + 0.1
        tx, txp = tl.from_numpy(x), tl.from_numpy(xp)
        # bind x/xp per size: a bare `lambda: np.exp(x)` would see the last loop's (larger) x
        specs = [
            ("exp", tx.exp, lambda x=x: np.exp(x), lambda x=x: np.exp(x.astype(np.float64)), "exp"),
            ("log", txp.log, lambda xp=xp: np.log(xp), lambda xp=xp: np.log(xp.astype(np.float64)), "log"),
            ("tanh", tx.tanh, lambda x=x: np.tanh(x), lambda x=x: np.tanh(x.astype(np.float64)), "tanh"),
            ("sigmoid", tx.sigmoid, lambda x=x: 1 / (1 + np.exp(-x)), lambda x=x: 1 / (1 + np.exp(-x.astype(np.float64))), "sigmoid"),
            ("gelu", tx.gelu, lambda x=x: _np_gelu(x), None, "gelu"),
        ]
        for name, f_tl, f_np, ref64, tname in specs:
            if ref64 is None:
                xs = x[:10000].astype(np.float64)
                erf = np.vectorize(math.erf)
                chk = (lambda f_tl=f_tl, xs=xs, erf=erf: close(f_tl()[:10000], 0.5 * xs * (1 + erf(xs / math.sqrt(2))), 1e-5, 1e-6))
            else:
                chk = (lambda f_tl=f_tl, ref64=ref64: close(f_tl(), ref64(), 1e-5, 1e-7))
            tt = _t(xp if name == "log" else x)
            f_t = (lambda tt=tt, tname=tname: getattr(torch, tname)(tt) if tname != "gelu" else torch.nn.functional.gelu(tt)) if torch else None
            cases.append(Case(f"{name} f32 n={n:.0e}", f_tl, f_np, f_t, check=chk, nbytes=8.0 * n, target=0.33))
    return cases


@workload("binary")
def binary_cases(quick):
    n = 1_000_000 if quick else 10_000_000
    a, b = rng().standard_normal(n).astype(np.float32), rng().standard_normal(n).astype(np.float32)
    ta, tb = tl.from_numpy(a), tl.from_numpy(b)
    m = rng().standard_normal((4096, 1024)).astype(np.float32)
    v = rng().standard_normal(1024).astype(np.float32)
    tm, tv = tl.from_numpy(m), tl.from_numpy(v)
    return [
        Case(f"a + b f32 n={n:.0e}", lambda: ta + tb, lambda: a + b, (lambda x=_t(a), y=_t(b): x + y) if torch else None,
             check=lambda: close(ta + tb, a + b, 1e-6), nbytes=12.0 * n, target=0.8),
        Case(f"a * b f32 n={n:.0e}", lambda: ta * tb, lambda: a * b, (lambda x=_t(a), y=_t(b): x * y) if torch else None,
             check=lambda: close(ta * tb, a * b, 1e-6), nbytes=12.0 * n, target=0.8),
        Case("bias add (4096,1024)+(1024,)", lambda: tm + tv, lambda: m + v,
             (lambda x=_t(m), y=_t(v): x + y) if torch else None,
             check=lambda: close(tm + tv, m + v, 1e-6), nbytes=8.0 * m.size, target=0.8),
    ]


@workload("reduce")
def reduce_cases(quick):
    m = rng().standard_normal((4096, 1024)).astype(np.float32)
    tm = tl.from_numpy(m)
    cases = []
    for name, dim in (("rows", 1), ("cols", 0)):
        for op in ("sum", "max"):
            f_tl = (lambda op=op, dim=dim: getattr(tm, op)(dim))
            f_np = (lambda op=op, dim=dim: getattr(m, op)(axis=dim))
            f_t = (lambda op=op, dim=dim, x=_t(m): (x.sum(dim) if op == "sum" else x.amax(dim))) if torch else None
            cases.append(Case(f"{op} over {name} of 4096x1024", f_tl, f_np, f_t,
                              check=lambda f_tl=f_tl, f_np=f_np: close(f_tl(), f_np(), 1e-4, 1e-3),
                              nbytes=4.0 * m.size, target=1.0))
    return cases


@workload("softmax_xent")
def softmax_xent_cases(quick):
    if not hasattr(tl, "nn") or not hasattr(tl.nn, "functional"):
        return []
    F = tl.nn.functional
    n, c = 1024, 1000
    logits = rng().standard_normal((n, c)).astype(np.float32)
    y = rng().integers(0, c, n)
    tlog = tl.from_numpy(logits)
    ty = tl.tensor(y)

    def f_tl():
        x = tlog.detach().requires_grad_()
        loss = F.cross_entropy(x, ty)
        loss.backward()
        return loss, x.grad

    def f_np():  # the hand-written NumPy version
        z = logits - logits.max(1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(1, keepdims=True)
        loss = -np.log(p[np.arange(n), y]).mean()
        d = p.copy()
        d[np.arange(n), y] -= 1
        return loss, d / n

    def f_torch():
        x = torch.from_numpy(logits).requires_grad_()
        loss = torch.nn.functional.cross_entropy(x, torch.from_numpy(y))
        loss.backward()
        return loss

    def chk():
        (l1, g1), (l2, g2) = f_tl(), f_np()
        close(l1, l2, 1e-5)
        close(g1, g2, 1e-4, 1e-7)

    return [Case("softmax+cross-entropy fwd+bwd (1024,1000)", f_tl, f_np, f_torch if torch else None,
                 check=chk, target=0.5)]


@workload("dispatch")
def dispatch_cases(quick):
    a = tl.randn(16, requires_grad=True)
    b = tl.randn(16)
    an, bn = a.detach().numpy().copy(), b.numpy().copy()
    w = tl.randn(16, requires_grad=True)
    wn = w.detach().numpy().copy()

    def fb_tl():
        w.grad = None
        (a * w).sum().backward()

    def fb_np():  # forward and hand-written backward of sum(x * w)
        _ = (an * wn).sum()
        return an * 1.0

    cases = [
        Case("dispatch: 16-elem a * b (graph recorded)", lambda: a * b, lambda: an * bn,
             (lambda x=_t(an).requires_grad_(), y=_t(bn): x * y) if torch else None,
             check=lambda: close(a.detach() * b, an * bn, 1e-6), target=None),
        Case("dispatch: fwd+bwd of (x * w).sum(), 16 elem", fb_tl, fb_np, None,
             check=lambda: (fb_tl(), close(w.grad, an, 1e-6)), target=None),
    ]
    if torch is not None:
        tx, tw = _t(an), _t(wn).requires_grad_()

        def fb_torch():
            tw.grad = None
            (tx * tw).sum().backward()
        cases[1].torch_fn = fb_torch
    return cases


def run(groups, quick, reps, min_time, out_json):
    buf = io.StringIO()
    tl.show_config(file=buf)
    print(buf.getvalue().rstrip())
    if torch is not None:
        print(f"  torch        : {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"\nmedians of {reps} interleaved runs; ratio = tinygrad_lab / NumPy (lower is better)\n")
    head = f"{'workload':46s} {'tl':>10s} {'numpy':>10s} {'ratio':>6s} {'target':>7s} {'rate':>13s} {'torch':>10s}"
    print(head)
    print("-" * len(head))
    rows = []
    for group, make in WORKLOADS:
        if groups and group not in groups:
            continue
        for case in make(quick):
            try:
                if case.check:
                    case.check()
            except AssertionError as e:
                print(f"{case.name:46s} RESULT MISMATCH: {str(e).splitlines()[0] if str(e) else e}")
                rows.append({"workload": case.name, "error": "result mismatch"})
                continue
            t = measure(case, reps, min_time)
            ratio = t["tl"] / t["numpy"]
            rate = ""
            if case.flops:
                rate = f"{case.flops / t['tl'] / 1e9:7.1f} GFLOPS"
            elif case.nbytes:
                rate = f"{case.nbytes / t['tl'] / 1e9:7.2f} GB/s"
            fmt = (lambda s: f"{s * 1e6:8.1f}us" if s < 1e-3 else f"{s * 1e3:8.2f}ms")
            tgt = f"<={case.target:g}" if case.target else ""
            print(f"{case.name:46s} {fmt(t['tl']):>10s} {fmt(t['numpy']):>10s} {ratio:6.2f} {tgt:>7s} "
                  f"{rate:>13s} {fmt(t['torch']) if 'torch' in t else '-':>10s}")
            rows.append({"workload": case.name, "group": group, "tl_s": t["tl"], "numpy_s": t["numpy"],
                         "torch_s": t.get("torch"), "ratio": ratio, "target": case.target,
                         "gflops": case.flops / t["tl"] / 1e9 if case.flops else None,
                         "gbps": case.nbytes / t["tl"] / 1e9 if case.nbytes else None})
            sys.stdout.flush()
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"config": tl._config.config(), "quick": quick, "reps": reps, "rows": rows}, f, indent=1)
        print(f"\nwrote {out_json}")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    p.add_argument("--only", nargs="*", default=None,
                   help="groups to run: " + ", ".join(g for g, _ in WORKLOADS))
    p.add_argument("--reps", type=int, default=None, help="interleaved repeats (median taken)")
    p.add_argument("--json", default="bench/results.json", help="where to write the JSON results")
    a = p.parse_args(argv)
    reps = a.reps or (3 if a.quick else 7)
    run(set(a.only or []), a.quick, reps, 0.01 if a.quick else 0.05, a.json)


if __name__ == "__main__":
    main()
