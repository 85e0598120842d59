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
import tinygrad_lab.nn.functional as F
from bench import conv2d_timing as _conv

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
                 target=None, extra=None, steps=None):
        self.name, self.tl_fn, self.np_fn, self.torch_fn = name, tl_fn, np_fn, torch_fn
        self.check, self.flops, self.nbytes, self.target = check, flops, nbytes, target
        # extra: {label: fn} timed interleaved with the others, printed as "tl / label" ratios
        # (the custom Module next to nn.Sequential); steps: training steps per call, for the
        # rate column's steps/s
        self.extra, self.steps = extra or {}, steps


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _time_once(fn, min_time):
    """Seconds per call: batches of calls, doubling until one batch takes ``min_time`` (the clock
    is read per batch, not per call, so a 1 us op is not timed with the timer's own cost)."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        el = time.perf_counter() - start
        if el >= min_time:
            return el / n
        n = n * 2 if el < min_time / 8 else max(n + 1, int(n * min_time / max(el, 1e-9) * 1.1))


def measure(case, reps, min_time, settle):
    # an extra (a variant of the tl workload) runs right after tl in each round, and its ratio is
    # the median of the rounds' tl/extra ratios: pairing cancels the machine's drift between
    # rounds (a 1 ms two-thread step's median moved 7% between runs; the paired ratio ~1%)
    impls = [("tl", case.tl_fn)] + list(case.extra.items()) + [("numpy", case.np_fn)]
    if torch is not None and case.torch_fn is not None:
        impls.append(("torch", case.torch_fn))
    for _, fn in impls:  # warm up (allocations, first-touch, thread pools)
        fn()
    times = {k: [] for k, _ in impls}
    for _ in range(reps):
        for k, fn in impls:
            # Let the previous library's worker threads go idle first: OpenBLAS's spin for up to
            # ~0.1 s after a call, and on 2 cores a spinning pool starves the next library's
            # second thread (measured: a 256^3 matmul at 8 ms instead of 0.2 ms). Wait busily,
            # not with sleep(): on this VM a core left idle for 0.15 s then runs everything
            # ~1.7x slower for the next ~0.1 s (measured on the dispatch workloads).
            _spin(settle)
            times[k].append(_time_once(fn, min_time))
    out = {k: statistics.median(v) for k, v in times.items()}
    for k in case.extra:
        out["tl/" + k] = statistics.median(a / b for a, b in zip(times["tl"], times[k]))
    return out


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
        cases += _transcendental_cases_n(n)
    return cases


def _transcendental_cases_n(n):
    x = rng().uniform(-3, 3, n).astype(np.float32)
    xp = np.abs(x) + 0.1
    x64, xp64 = x.astype(np.float64), xp.astype(np.float64)
    tx, txp = tl.from_numpy(x), tl.from_numpy(xp)
    xs = x64[:10000]
    erf = np.vectorize(math.erf)
    specs = [  # name, tl, numpy float32, float64 reference, torch
        ("exp", tx.exp, lambda: np.exp(x), lambda: np.exp(x64), "exp"),
        ("log", txp.log, lambda: np.log(xp), lambda: np.log(xp64), "log"),
        ("tanh", tx.tanh, lambda: np.tanh(x), lambda: np.tanh(x64), "tanh"),
        ("sigmoid", tx.sigmoid, lambda: 1 / (1 + np.exp(-x)), lambda: 1 / (1 + np.exp(-x64)), "sigmoid"),
        ("gelu", lambda: tx[:10000].gelu(), lambda: _np_gelu(x),
         lambda: 0.5 * xs * (1 + erf(xs / math.sqrt(2))), "gelu"),
    ] + _activation_specs(x, x64, tx)
    cases = []
    for name, f_tl, f_np, ref64, tname in specs:
        f_time = tx.gelu if name == "gelu" else f_tl
        tt = _t(xp if name == "log" else x)
        f_t = None
        if torch is not None:
            fn = getattr(torch.nn.functional, tname[2:]) if tname.startswith("F.") else \
                torch.nn.functional.gelu if tname == "gelu" else getattr(torch, tname)
            f_t = (lambda tt=tt, fn=fn: fn(tt))
        cases.append(Case(f"{name} f32 n={n:.0e}", f_time, f_np, f_t,
                          check=lambda f_tl=f_tl, ref64=ref64: close(f_tl(), ref64(), 1e-5, 1e-7),
                          nbytes=8.0 * n, target=0.33))
    return cases


def _activation_specs(x, x64, tx):
    """The PyTorch activations next to what a NumPy user writes for them (the rows' format of
    _transcendental_cases_n: name, tl, NumPy float32, float64 reference, torch)."""
    return [
        ("silu", lambda: F.silu(tx), lambda: x / (1 + np.exp(-x)), lambda: x64 / (1 + np.exp(-x64)), "F.silu"),
        ("softplus", lambda: F.softplus(tx), lambda: np.logaddexp(0, x), lambda: np.logaddexp(0, x64),
         "F.softplus"),
        ("elu", lambda: F.elu(tx), lambda: np.where(x > 0, x, np.expm1(x)),
         lambda: np.where(x64 > 0, x64, np.expm1(x64)), "F.elu"),
        ("mish", lambda: F.mish(tx), lambda: x * np.tanh(np.logaddexp(0, x)),
         lambda: x64 * np.tanh(np.logaddexp(0, x64)), "F.mish"),
        ("logsigmoid", lambda: F.logsigmoid(tx), lambda: -np.logaddexp(0, -x),
         lambda: -np.logaddexp(0, -x64), "F.logsigmoid"),
    ]


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
    # x is an input (no grad), w a weight: the gradient the NumPy and PyTorch rows compute
    x = tl.from_numpy(an.copy())

    def fb_tl():
        w.grad = None
        (x * w).sum().backward()

    def fb_np():  # forward and hand-written backward of sum(x * w): the gradient of w
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


def _np_mlp(sizes, seed):
    """Hand-written NumPy MLP (ReLU hidden layers, softmax cross-entropy, SGD): the classic
    two-layer backprop lesson code extended to any depth."""
    r = np.random.default_rng(seed)
    Ws = [(r.uniform(-1, 1, (o, i)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]
    return Ws, bs


def _np_mlp_step(Ws, bs, x, y, lr):
    acts = [x]
    for W, b in zip(Ws[:-1], bs[:-1]):
        acts.append(np.maximum(acts[-1] @ W.T + b, 0))
    z = acts[-1] @ Ws[-1].T + bs[-1]
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    n = x.shape[0]
    loss = -np.log(p[np.arange(n), y]).mean()
    d = p
    d[np.arange(n), y] -= 1
    d /= n
    for i in range(len(Ws) - 1, -1, -1):
        gW, gb = d.T @ acts[i], d.sum(0)
        if i:
            d = (d @ Ws[i]) * (acts[i] > 0)
        Ws[i] -= lr * gW
        bs[i] -= lr * gb
    return loss


def _tl_mlp(Ws, bs, lr):
    """The 784-256-256-10 ReLU nn.Sequential with NumPy weights Ws, bs (out, in), and its SGD."""
    nn = tl.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    with tl.no_grad():
        for lin, W, b in zip([model[0], model[2], model[4]], Ws, bs):
            lin.weight.copy_(tl.from_numpy(W))
            lin.bias.copy_(tl.from_numpy(b))
    return model, tl.optim.SGD(model.parameters(), lr=lr)


def _torch_mlp_step(x, y, lr):
    """PyTorch's 784-256-256-10 SGD step on (x, y), or None without PyTorch."""
    if torch is None:
        return None
    tm = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                             torch.nn.ReLU(), torch.nn.Linear(256, 10))
    topt = torch.optim.SGD(tm.parameters(), lr=lr)
    tx_t, ty_t = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tm(tx_t), ty_t).backward()
        topt.step()
    return step


@workload("end_to_end")
def end_to_end_cases(quick):
    if not hasattr(tl, "nn") or not hasattr(tl, "optim"):
        return []
    nn, F = tl.nn, tl.nn.functional
    sizes, n = (784, 256, 256, 10), 128
    r = np.random.default_rng(1)
    x = r.standard_normal((n, sizes[0])).astype(np.float32)
    y = r.integers(0, 10, n)
    tx, ty = tl.from_numpy(x), tl.tensor(y)
    Ws, bs = _np_mlp(sizes, 0)
    model, opt = _tl_mlp(Ws, bs, 0.01)

    def tl_step():
        opt.zero_grad()
        loss = F.cross_entropy(model(tx), ty)
        loss.backward()
        opt.step()
        return loss

    def check():  # one step from identical weights gives the same loss and the same new weights
        Wc, bc = [W.copy() for W in Ws], [b.copy() for b in bs]
        l_np = _np_mlp_step(Wc, bc, x, y, 0.01)
        snap = [p.detach().numpy().copy() for p in model.parameters()]
        l_tl = tl_step()
        close(l_tl, l_np, 1e-5)
        close(model[4].weight, Wc[2], 1e-4, 1e-6)
        with tl.no_grad():
            for p, v in zip(model.parameters(), snap):
                p.copy_(tl.from_numpy(v))

    f_torch = _torch_mlp_step(x, y, 0.01)

    flops = 6.0 * n * sum(i * o for i, o in zip(sizes, sizes[1:]))
    cases = [Case("MLP 784-256-256-10 SGD step, batch 128", tl_step, lambda: _np_mlp_step(Ws, bs, x, y, 0.01),
                  f_torch, check=check, flops=flops, target=1.0)]

    # 2-4-1 sigmoid XOR, MSE, full batch
    xx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    yy = np.array([[0], [1], [1], [0]], np.float32)
    xor = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    xopt = tl.optim.SGD(xor.parameters(), lr=0.5)
    txx, tyy = tl.from_numpy(xx), tl.from_numpy(yy)
    # NumPy by hand, from the same weights in the (in, out) layout _np_sigmoid_net_step takes
    xp = {"W1": xor[0].weight.detach().numpy().T.copy(), "b1": xor[0].bias.detach().numpy().copy(),
          "W2": xor[2].weight.detach().numpy().T.copy(), "b2": xor[2].bias.detach().numpy().copy()}

    def xor_tl():
        xopt.zero_grad()
        loss = F.mse_loss(xor(txx), tyy)
        loss.backward()
        xopt.step()
        return loss

    def xor_np():
        return _np_sigmoid_net_step(xp, xx, yy, 0.5)

    cases.append(Case("XOR 2-4-1 sigmoid full-batch SGD step", xor_tl, xor_np, None,
                      check=lambda: close(xor_tl(), xor_np(), 1e-5), target=None))
    return cases


# ---- tl.jit: the same steps captured once and replayed in C (README "Capture and replay") -------

def _np_sigmoid_net_step(p, x, y, lr):
    """One SGD step of a 2-layer sigmoid MSE network by hand in NumPy (XOR, the circle lesson),
    weights stored (in, out) as the raw-op tl code writes them; returns the loss."""
    h = 1 / (1 + np.exp(-(x @ p["W1"] + p["b1"])))
    o = 1 / (1 + np.exp(-(h @ p["W2"] + p["b2"])))
    loss = ((o - y) ** 2).mean()
    do = 2 * (o - y) / o.size * o * (1 - o)
    dh = (do @ p["W2"].T) * h * (1 - h)
    for k, g in (("W2", h.T @ do), ("b2", do.sum(0)), ("W1", x.T @ dh), ("b1", dh.sum(0))):
        p[k] -= lr * g
    return loss


def _tl_sigmoid_net(sizes, lr, raw_ops):
    """A sigmoid MLP trained with MSE and SGD as users write it: raw ops (x @ W + b, .sigmoid(),
    a manual update) or nn.Sequential + optim.SGD. Returns (step(x, y) -> loss, params as NumPy
    copies in (in, out) layout)."""
    nn, F = tl.nn, tl.nn.functional
    layers = [nn.Linear(i, o) for i, o in zip(sizes, sizes[1:])]
    if not raw_ops:
        model = nn.Sequential(*[m for lin in layers for m in (lin, nn.Sigmoid())])
        opt = tl.optim.SGD(model.parameters(), lr=lr)

        def step(x, y):
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss
    else:
        params = [(lin.weight.detach().T.contiguous().requires_grad_(), lin.bias.detach().clone().requires_grad_())
                  for lin in layers]
        flat = [t for pair in params for t in pair]

        def step(x, y):
            h = x
            for W, b in params:
                h = (h @ W + b).sigmoid()
            loss = F.mse_loss(h, y)
            for t in flat:
                t.grad = None
            loss.backward()
            with tl.no_grad():
                for t in flat:
                    t -= lr * t.grad
            return loss
    init = {}
    for i, lin in enumerate(layers, 1):
        init[f"W{i}"] = lin.weight.detach().numpy().T.copy()
        init[f"b{i}"] = lin.bias.detach().numpy().copy()
    return step, init


def _torch_sigmoid_net(init, lr):
    """PyTorch eager, raw ops, from the same weights: step(x, y) -> loss."""
    ps = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in init.items()}
    n = len(ps) // 2

    def step(x, y):
        h = x
        for i in range(1, n + 1):
            h = torch.sigmoid(h @ ps[f"W{i}"] + ps[f"b{i}"])
        loss = torch.nn.functional.mse_loss(h, y)
        for t in ps.values():
            t.grad = None
        loss.backward()
        with torch.no_grad():
            for t in ps.values():
                t -= lr * t.grad
        return loss
    return step


@workload("jit")
def jit_cases(quick):
    nn, F = tl.nn, tl.nn.functional
    cases = []
    # XOR 2-4-1, raw ops, full batch: the replayed step vs NumPy by hand and PyTorch eager
    tl.manual_seed(0)
    step, init = _tl_sigmoid_net((2, 4, 1), 0.5, raw_ops=True)
    xx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    yy = np.array([[0], [1], [1], [0]], np.float32)
    tx, ty = tl.from_numpy(xx), tl.from_numpy(yy)
    jstep = tl.jit(step)
    p_np = {k: v.copy() for k, v in init.items()}

    def xor_check():  # jitted steps from the same weights follow NumPy's losses
        tl_losses = [jstep(tx, ty).item() for _ in range(4)]
        np_losses = [_np_sigmoid_net_step(p_np, xx, yy, 0.5) for _ in range(4)]
        close(np.array(tl_losses), np.array(np_losses), 1e-5)

    f_t = None
    if torch is not None:
        t_step, ttx, tty = _torch_sigmoid_net(init, 0.5), _t(xx), _t(yy)
        f_t = (lambda: t_step(ttx, tty))
    cases.append(Case("jit: XOR 2-4-1 raw-op step (tl.jit)", lambda: jstep(tx, ty),
                      lambda: _np_sigmoid_net_step(p_np, xx, yy, 0.5), f_t, check=xor_check, target=0.2))

    # the circle lesson (lesson 000 step 7): 2-8-1 sigmoid, MSE, online SGD lr 0.5, 80 points
    r = np.random.default_rng(7)
    pts = r.uniform(-1.5, 1.5, (80, 2)).astype(np.float32)
    lab = ((pts ** 2).sum(1, keepdims=True) < 1.0).astype(np.float32)
    tl.manual_seed(7)
    cstep, cinit = _tl_sigmoid_net((2, 8, 1), 0.5, raw_ops=False)
    cjit = tl.jit(cstep)
    rows = [(tl.from_numpy(pts[i:i + 1].copy()), tl.from_numpy(lab[i:i + 1].copy())) for i in range(80)]
    c_np = {k: v.copy() for k, v in cinit.items()}
    it = {"tl": 0, "np": 0, "torch": 0}

    def circle_tl():   # as the lesson writes it: one sample, one update, the loss read back
        i = it["tl"] = (it["tl"] + 1) % 80
        return cjit(*rows[i]).item()

    def circle_np():
        i = it["np"] = (it["np"] + 1) % 80
        return _np_sigmoid_net_step(c_np, pts[i:i + 1], lab[i:i + 1], 0.5)

    def circle_check():
        for _ in range(80):
            a, b = circle_tl(), circle_np()
        close(np.array(a), np.array(b), 1e-4, 1e-6)

    f_t = None
    if torch is not None:
        c_t = _torch_sigmoid_net(cinit, 0.5)
        trows = [(_t(pts[i:i + 1]), _t(lab[i:i + 1])) for i in range(80)]

        def f_t():
            i = it["torch"] = (it["torch"] + 1) % 80
            return c_t(*trows[i]).item()
    cases.append(Case("jit: circle lesson 2-8-1 online SGD step", circle_tl, circle_np, f_t,
                      check=circle_check, steps=1, target=None))

    # MLP 784-256-256-10, batch 128, nn.Sequential + SGD: the replayed step vs NumPy by hand
    sizes, n = (784, 256, 256, 10), 128
    r = np.random.default_rng(1)
    x = r.standard_normal((n, sizes[0])).astype(np.float32)
    y = r.integers(0, 10, n)
    Ws, bs = _np_mlp(sizes, 0)
    model, opt = _tl_mlp(Ws, bs, 0.01)
    mx, my = tl.from_numpy(x), tl.tensor(y)

    @tl.jit
    def mlp_step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    def mlp_check():
        Wc, bc = [W.copy() for W in Ws], [b.copy() for b in bs]
        want = [_np_mlp_step(Wc, bc, x, y, 0.01) for _ in range(3)]
        close(np.array([mlp_step(mx, my).item() for _ in range(3)]), np.array(want), 1e-4)

    f_t = _torch_mlp_step(x, y, 0.01)
    cases.append(Case("jit: MLP 784-256-256-10 SGD step, batch 128", lambda: mlp_step(mx, my),
                      lambda: _np_mlp_step(Ws, bs, x, y, 0.01), f_t, check=mlp_check,
                      flops=6.0 * n * sum(i * o for i, o in zip(sizes, sizes[1:])), target=0.85))
    return cases


@workload("half")
def half_cases(quick):
    """float16/bfloat16 (issue 16). Casts: tl vs NumPy's astype (float16; bfloat16 through
    ml_dtypes when installed) and torch's .to(). Matmul and elementwise in bfloat16: compare the
    tl column with the float32 rows of the matmul, binary and transcendental groups (NumPy's
    column here is its float32 op: NumPy has no bfloat16 arithmetic)."""
    if not hasattr(tl, "bfloat16"):
        return []
    try:
        import ml_dtypes
        np_bf16 = ml_dtypes.bfloat16
    except ImportError:
        np_bf16 = None
    n = 1_000_000 if quick else 10_000_000
    x = rng().standard_normal(n).astype(np.float32)
    y = rng().standard_normal(n).astype(np.float32)
    tx, ty = tl.from_numpy(x), tl.from_numpy(y)
    cases = []
    for name, dt, npdt, tdt in (("float16", tl.float16, np.float16, "float16"),
                                ("bfloat16", tl.bfloat16, np_bf16, "bfloat16")):
        if npdt is None:
            continue
        ref = x.astype(npdt)
        cases.append(Case(f"cast f32 -> {name} n={n:.0e}", lambda dt=dt: tx.to(dt),
                          lambda npdt=npdt: x.astype(npdt),
                          (lambda xt=_t(x), d=getattr(torch, tdt): xt.to(d)) if torch else None,
                          check=lambda dt=dt, ref=ref: np.testing.assert_array_equal(
                              tx.to(dt)._view_numpy(raw=True).view(np.uint16), ref.view(np.uint16)),
                          nbytes=6.0 * n, target=None))
    xb, yb = tx.to(tl.bfloat16), ty.to(tl.bfloat16)
    xb32, yb32 = xb.float().numpy(), yb.float().numpy()     # the same values in float32
    bt = (lambda a: _t(a).to(torch.bfloat16)) if torch else None
    cases.append(Case(f"a + b bf16 n={n:.0e} (vs NumPy f32)", lambda: xb + yb, lambda: xb32 + yb32,
                      (lambda p=bt(xb32), q=bt(yb32): p + q) if torch else None,
                      check=lambda: close((xb + yb).float(), xb32 + yb32, 8e-3, 1e-6),
                      nbytes=6.0 * n, target=None))
    cases.append(Case(f"exp bf16 n={n:.0e} (vs NumPy f32)", lambda: xb.exp(), lambda: np.exp(xb32),
                      (lambda p=bt(xb32): p.exp()) if torch else None,
                      check=lambda: close(xb.exp().float(), np.exp(xb32), 8e-3, 1e-6),
                      nbytes=4.0 * n, target=None))
    cases.append(Case(f"exp f16 n={n:.0e} (vs NumPy f32)", lambda xh=tx.to(tl.float16): xh.exp(),
                      lambda: np.exp(xb32),
                      (lambda p=_t(x).to(torch.float16): p.exp()) if torch else None,
                      check=lambda: close(tx.to(tl.float16).exp().float(),
                                          np.exp(tx.to(tl.float16).float().numpy()), 1e-3, 1e-6),
                      nbytes=4.0 * n, target=None))
    # native half reductions and softmax (float32 accumulation, no float32 copy of the input)
    cases.append(Case(f"sum bf16 n={n:.0e} (vs NumPy f32)", lambda: xb.sum(), lambda: xb32.sum(),
                      (lambda p=bt(xb32): p.sum()) if torch else None,
                      check=lambda: close(xb.sum().float(), xb32.sum(dtype=np.float64), 1e-2, 2.0),
                      nbytes=2.0 * n, target=None))
    R, C = (1024, 1000) if quick else (4096, 1024)
    s32 = rng().standard_normal((R, C)).astype(np.float32)
    sb = tl.from_numpy(s32).to(tl.bfloat16)
    sb32 = sb.float().numpy()

    def np_softmax(v):
        e = np.exp(v - v.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    cases.append(Case(f"softmax bf16 ({R},{C}) (vs NumPy f32)", lambda: tl.softmax(sb, 1),
                      lambda: np_softmax(sb32),
                      (lambda p=bt(sb32): torch.softmax(p, 1)) if torch else None,
                      check=lambda: close(tl.softmax(sb, 1).float(), np_softmax(sb32), 1e-2, 1e-6),
                      nbytes=4.0 * R * C, target=None))
    N = 512 if quick else 1024
    a = rng().standard_normal((N, N)).astype(np.float32)
    b = rng().standard_normal((N, N)).astype(np.float32)
    ab, bb = tl.from_numpy(a).to(tl.bfloat16), tl.from_numpy(b).to(tl.bfloat16)
    a32, b32 = ab.float().numpy(), bb.float().numpy()
    cases.append(Case(f"matmul bf16 {N}x{N}x{N} (vs NumPy f32)", lambda: ab @ bb, lambda: a32 @ b32,
                      (lambda p=bt(a32), q=bt(b32): p @ q) if torch else None,
                      check=lambda: close((ab @ bb).float(), a32 @ b32, 1e-2, 1e-2 * math.sqrt(N)),
                      flops=2.0 * N ** 3, target=None))
    return cases


@workload("general")
def general_path_cases(quick):
    """Code as the lessons and most users write it -- x @ W + b, .sigmoid(), a custom Module,
    a manual update under no_grad -- next to NumPy by hand (issue 15, part 1)."""
    if not hasattr(tl, "nn"):
        return []
    nn, F = tl.nn, tl.nn.functional
    cases = []

    # XOR 2-4-1 with raw ops; NumPy by hand does the same forward, backward and update
    xx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    yy = np.array([[0], [1], [1], [0]], np.float32)
    r = rng()
    init = [r.standard_normal((2, 4)).astype(np.float32), np.zeros(4, np.float32),
            r.standard_normal((4, 1)).astype(np.float32), np.zeros(1, np.float32)]
    tparams = [tl.from_numpy(p.copy()).requires_grad_() for p in init]
    nparams = dict(zip(("W1", "b1", "W2", "b2"), (p.copy() for p in init)))
    txx, tyy = tl.from_numpy(xx), tl.from_numpy(yy)

    def xor_tl():
        W1, b1, W2, b2 = tparams
        h = (txx @ W1 + b1).sigmoid()
        out = (h @ W2 + b2).sigmoid()
        loss = F.mse_loss(out, tyy)
        loss.backward()
        with tl.no_grad():
            for p in tparams:
                p -= 0.5 * p.grad
                p.grad = None
        return loss

    def xor_np():
        return _np_sigmoid_net_step(nparams, xx, yy, 0.5)

    xor_torch = None
    if torch is not None:
        tps = [torch.from_numpy(p.copy()).requires_grad_() for p in init]
        txx_t, tyy_t = torch.from_numpy(xx), torch.from_numpy(yy)

        def xor_torch():
            W1, b1, W2, b2 = tps
            out = torch.sigmoid(torch.sigmoid(txx_t @ W1 + b1) @ W2 + b2)
            torch.nn.functional.mse_loss(out, tyy_t).backward()
            with torch.no_grad():
                for p in tps:
                    p -= 0.5 * p.grad
                    p.grad = None

    cases.append(Case("XOR 2-4-1 raw ops step (x@W+b, manual SGD)", xor_tl, xor_np, xor_torch,
                      check=lambda: close(xor_tl(), xor_np(), 1e-5), target=None))

    # MLP 784-256-256-10 with raw ops (W is (in, out): x @ W + b) and manual SGD
    sizes, n = (784, 256, 256, 10), 128
    r = np.random.default_rng(1)
    x = r.standard_normal((n, sizes[0])).astype(np.float32)
    y = r.integers(0, 10, n)
    Ws, bs = _np_mlp(sizes, 0)   # (out, in), as _np_mlp_step takes them
    tW = [tl.from_numpy(np.ascontiguousarray(W.T)).requires_grad_() for W in Ws]
    tb = [tl.from_numpy(b.copy()).requires_grad_() for b in bs]
    tx, ty = tl.from_numpy(x), tl.tensor(y)

    def mlp_tl():
        h = tx
        for W, b in zip(tW[:-1], tb[:-1]):
            h = (h @ W + b).relu()
        loss = F.cross_entropy(h @ tW[-1] + tb[-1], ty)
        loss.backward()
        with tl.no_grad():
            for p in tW + tb:
                p -= 0.01 * p.grad
                p.grad = None
        return loss

    def mlp_check():
        Wc, bc = [W.copy() for W in Ws], [b.copy() for b in bs]
        snap = [p.detach().numpy().copy() for p in tW + tb]
        close(mlp_tl(), _np_mlp_step(Wc, bc, x, y, 0.01), 1e-5)
        close(tW[-1].detach().numpy().T, Wc[-1], 1e-4, 1e-6)
        with tl.no_grad():
            for p, v in zip(tW + tb, snap):
                p.copy_(tl.from_numpy(v))

    mlp_torch = None
    if torch is not None:
        pW = [torch.from_numpy(np.ascontiguousarray(W.T)).requires_grad_() for W in Ws]
        pb = [torch.from_numpy(b.copy()).requires_grad_() for b in bs]
        x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)

        def mlp_torch():
            h = x_t
            for W, b in zip(pW[:-1], pb[:-1]):
                h = torch.relu(h @ W + b)
            torch.nn.functional.cross_entropy(h @ pW[-1] + pb[-1], y_t).backward()
            with torch.no_grad():
                for p in pW + pb:
                    p -= 0.01 * p.grad
                    p.grad = None

    flops = 6.0 * n * sum(i * o for i, o in zip(sizes, sizes[1:]))
    cases.append(Case("MLP 784-256-256-10 raw ops step, batch 128", mlp_tl,
                      lambda: _np_mlp_step(Ws, bs, x, y, 0.01), mlp_torch, check=mlp_check,
                      flops=flops, target=1.0))

    # a custom Module (F.relu(self.fc1(x))) next to the same net as nn.Sequential
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 256), nn.Linear(256, 10)

        def forward(self, x):
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = Net()
    seq = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    with tl.no_grad():
        for lin, slin, W, b in zip([net.fc1, net.fc2, net.fc3], [seq[0], seq[2], seq[4]], Ws, bs):
            for m in (lin, slin):
                m.weight.copy_(tl.from_numpy(W))
                m.bias.copy_(tl.from_numpy(b))
    nopt, sopt = tl.optim.SGD(net.parameters(), lr=0.01), tl.optim.SGD(seq.parameters(), lr=0.01)

    def net_step(model, opt):
        opt.zero_grad()
        loss = F.cross_entropy(model(tx), ty)
        loss.backward()
        opt.step()
        return loss

    cases.append(Case("MLP 784-256-256-10 custom Module step", lambda: net_step(net, nopt),
                      lambda: _np_mlp_step(Ws, bs, x, y, 0.01), None,
                      check=lambda: close(net(tx), seq(tx).detach(), 1e-5, 1e-6), flops=flops, target=1.0,
                      extra={"Sequential": lambda: net_step(seq, sopt)}))

    # the bias-add VJP: (h + b).backward(g) with only b requiring grad, next to g.sum(0)
    h = tl.randn(128, 256)
    b = tl.zeros(256, requires_grad=True)
    g = tl.randn(128, 256)
    gn = g.numpy()
    hb = h + b

    def bias_tl():
        b.grad = None
        hb.backward(g, retain_graph=True)
        return b.grad

    bias_torch = None
    if torch is not None:
        bt = torch.zeros(256, requires_grad=True)
        hbt, gt = torch.from_numpy(h.numpy()) + bt, torch.from_numpy(gn)

        def bias_torch():
            bt.grad = None
            hbt.backward(gt, retain_graph=True)

    cases.append(Case("bias-add VJP (128,256)+(256,) vs g.sum(0)", bias_tl, lambda: gn.sum(0),
                      bias_torch, check=lambda: close(bias_tl(), gn.sum(0), 1e-5, 1e-5),
                      target=1.2))

    # lesson 000's circle classifier: 2-8-1 sigmoid net, one point per step (online SGD)
    r = np.random.default_rng(7)
    pts = r.uniform(-1.5, 1.5, (80, 2)).astype(np.float32)
    labels = ((pts ** 2).sum(1) < 1).astype(np.float32)
    cinit = [r.uniform(-1, 1, (2, 8)).astype(np.float32), np.zeros(8, np.float32),
             r.uniform(-0.5, 0.5, (8, 1)).astype(np.float32), np.zeros(1, np.float32)]
    cp = [tl.from_numpy(p.copy()).requires_grad_() for p in cinit]
    cn = dict(zip(("W1", "b1", "W2", "b2"), (p.copy() for p in cinit)))
    tpts = [tl.from_numpy(pts[i:i + 1].copy()) for i in range(80)]
    tlab = [tl.tensor([[float(v)]]) for v in labels]
    state = {"i": 0, "j": 0}

    def circle_tl():
        i = state["i"] = (state["i"] + 1) % 80
        W1, b1, W2, b2 = cp
        out = ((tpts[i] @ W1 + b1).sigmoid() @ W2 + b2).sigmoid()
        loss = ((out - tlab[i]) ** 2).sum()
        for p in cp:
            p.grad = None
        loss.backward()
        with tl.no_grad():
            for p in cp:
                p -= 0.5 * p.grad
        return loss

    def circle_np():
        i = state["j"] = (state["j"] + 1) % 80
        return _np_sigmoid_net_step(cn, pts[i:i + 1], labels[i], 0.5)   # (one point: mean = sum)

    circle_torch = None
    if torch is not None:
        ctp = [torch.from_numpy(p.copy()).requires_grad_() for p in cinit]
        cpts, clab = torch.from_numpy(pts), torch.from_numpy(labels)
        state["k"] = 0

        def circle_torch():
            i = state["k"] = (state["k"] + 1) % 80
            W1, b1, W2, b2 = ctp
            out = torch.sigmoid(torch.sigmoid(cpts[i:i + 1] @ W1 + b1) @ W2 + b2)
            loss = ((out - clab[i]) ** 2).sum()
            for p in ctp:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in ctp:
                    p -= 0.5 * p.grad

    cases.append(Case("circle lesson 2-8-1 online SGD step", circle_tl, circle_np, circle_torch,
                      check=lambda: close(circle_tl(), circle_np(), 1e-5), target=None, steps=1))
    return cases



@workload("conv")
def conv_cases(quick):
    """conv2d forward + backward as a CNN's training step runs it (x, W and b requiring grad),
    next to the textbook NumPy im2col by hand (bench/conv2d_timing.py's) and PyTorch."""
    N, C, H, W, OC, K = _conv.N, _conv.C, _conv.H, _conv.W, _conv.OC, _conv.K
    numpy_conv_fwd_bwd = _conv.numpy_conv_fwd_bwd
    x, w, b, g = _conv.inputs()
    run_tl = _conv.tl_fwd_bwd(x, w, b, g)

    def f_tl():
        xt, wt, _ = run_tl()
        return xt.grad, wt.grad

    def check():
        ref = numpy_conv_fwd_bwd(x, w, b, g)
        gx, gw = f_tl()
        close(gx.numpy(), ref[1], 1e-4, 1e-4)
        close(gw.numpy(), ref[2], 1e-4, 1e-3)

    f_torch = None
    if torch is not None:
        X, Wt, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        G = torch.tensor(g)

        def f_torch():
            X.grad = Wt.grad = B.grad = None
            torch.nn.functional.conv2d(X, Wt, B, padding=K // 2).backward(G)

    flops = 3 * 2.0 * N * H * W * OC * C * K * K
    return [Case(f"conv2d fwd+bwd {N}x{C}x{H}x{W}, {OC} 3x3 filters", f_tl,
                 lambda: numpy_conv_fwd_bwd(x, w, b, g), f_torch, check=check, flops=flops)]


def run(groups, quick, reps, min_time, out_json, settle=0.15):
    buf = io.StringIO()
    tl.show_config(file=buf)
    print(buf.getvalue().rstrip())
    if torch is not None:
        print(f"  torch        : {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"\nmedians of {reps} interleaved runs ({settle:g} s settling before each); "
          "ratio = tinygrad_lab / NumPy (lower is better)\n")
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
                why = " ".join(str(e).split())[:60]
                print(f"{case.name:46s} RESULT MISMATCH: {why}")
                rows.append({"workload": case.name, "error": "result mismatch"})
                continue
            t = measure(case, reps, min_time, settle)
            ratio = t["tl"] / t["numpy"]
            rate = ""
            if case.flops:
                rate = f"{case.flops / t['tl'] / 1e9:7.1f} GFLOPS"
            elif case.nbytes:
                rate = f"{case.nbytes / t['tl'] / 1e9:7.2f} GB/s"
            elif case.steps:
                rate = f"{case.steps / t['tl']:7.0f} steps/s"
            fmt = (lambda s: f"{s * 1e6:8.1f}us" if s < 1e-3 else f"{s * 1e3:8.2f}ms")
            tgt = f"<={case.target:g}" if case.target else ""
            print(f"{case.name:46s} {fmt(t['tl']):>10s} {fmt(t['numpy']):>10s} {ratio:6.2f} {tgt:>7s} "
                  f"{rate:>13s} {fmt(t['torch']) if 'torch' in t else '-':>10s}"
                  + "".join(f"   tl/{k} {t['tl/' + k]:.2f} ({fmt(t[k]).strip()})" for k in case.extra))
            rows.append({"workload": case.name, "group": group, "tl_s": t["tl"], "numpy_s": t["numpy"],
                         "torch_s": t.get("torch"), "ratio": ratio, "target": case.target,
                         **{f"{k}_s": t[k] for k in case.extra},
                         **{f"tl/{k}": t["tl/" + k] for k in case.extra},
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
    p.add_argument("--settle", type=float, default=0.15,
                   help="seconds of busy waiting before each timing, so other thread pools stop spinning")
    a = p.parse_args(argv)
    reps = a.reps or (3 if a.quick else 7)
    run(set(a.only or []), a.quick, reps, 0.01 if a.quick else 0.05, a.json, a.settle)


if __name__ == "__main__":
    main()
