"""tl.optim's Adagrad, Adamax, NAdam, RAdam, Adadelta, Rprop and ASGD: trajectories vs NumPy
implementations of PyTorch's documented algorithms (so the checks run without torch) and vs
torch.optim, options, parameter groups, schedulers, state dicts, half parameters, tl.jit
replays (bit-identical to eager), non-finite gradients and argument errors."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F

from .helpers import noncontiguous
from .test_jit import _batches, _check_same, _opt_step
from .test_optim import assert_trajectories, problem, simd_level  # noqa: F401 (a fixture)
from .test_optim import ref_trajectory as _ref_trajectory

try:
    import torch
except ImportError:  # the suite must pass without PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

STEPS = 10


# ---------------------------------------------------------------------------------------------
# References: PyTorch's documented algorithms in NumPy (s: the parameter's state, a dict)
# ---------------------------------------------------------------------------------------------

def _grad(g, p, maximize, weight_decay):
    g = -g if maximize else g
    return g + weight_decay * p if weight_decay else g


def adagrad_ref(p, g, s, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):
    t = s["t"] = s.get("t", 0) + 1
    g = _grad(g, p, maximize, weight_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


def adamax_ref(p, g, s, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas
    t = s["t"] = s.get("t", 0) + 1
    g = _grad(g, p, maximize, weight_decay)
    m = s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    u = s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g) + eps)
    return p - lr / (1 - b1 ** t) * m / u


def _adam_moments(p, g, s, lr, betas, weight_decay, decoupled, maximize):
    b1, b2 = betas
    g = -g if maximize else g
    if weight_decay and decoupled:
        p = p * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * p
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    return p, g


def nadam_ref(p, g, s, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    t = s["t"] = s.get("t", 0) + 1
    p, g = _adam_moments(p, g, s, lr, betas, weight_decay, decoupled_weight_decay, maximize)
    mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    prod = s["prod"] = s.get("prod", 1.0) * mu
    denom = np.sqrt(s["v"] / (1 - b2 ** t)) + eps
    return (p - lr * (1 - mu) / (1 - prod) * g / denom
            - lr * mu_next / (1 - prod * mu_next) * s["m"] / denom)


def radam_ref(p, g, s, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    t = s["t"] = s.get("t", 0) + 1
    p, g = _adam_moments(p, g, s, lr, betas, weight_decay, decoupled_weight_decay, maximize)
    mhat = s["m"] / (1 - b1 ** t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if rho_t <= 5:
        return p - lr * mhat
    rect = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return p - lr * mhat * rect * np.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + eps)


def adadelta_ref(p, g, s, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    g = _grad(g, p, maximize, weight_decay)
    v = s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
    u = s.get("u", 0.0)
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    s["u"] = rho * u + (1 - rho) * delta * delta
    return p - lr * delta


def rprop_ref(p, g, s, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    g = -g if maximize else g
    prod = g * s.get("prev", 0.0)
    f = np.where(prod > 0, etas[1], np.where(prod < 0, etas[0], 1.0))
    s["ss"] = np.clip(s.get("ss", np.full_like(p, lr)) * f, *step_sizes)
    g = np.where(prod < 0, 0.0, g)
    s["prev"] = g
    return p - np.sign(g) * s["ss"]


def asgd_ref(p, g, s, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
    t = s["t"] = s.get("t", 0) + 1
    g = _grad(g, p, maximize, weight_decay)
    eta, mu = s.get("eta", lr), s.get("mu", 1.0)
    p = p * (1 - lambd * eta) - eta * g
    s["ax"] = p if mu == 1 else s.get("ax", 0.0) + (p - s.get("ax", 0.0)) * mu
    s["eta"] = lr / (1 + lambd * lr * t) ** alpha
    s["mu"] = 1 / max(1, t - t0)
    return p


REFS = {"Adagrad": adagrad_ref, "Adamax": adamax_ref, "NAdam": nadam_ref, "RAdam": radam_ref,
        "Adadelta": adadelta_ref, "Rprop": rprop_ref, "ASGD": asgd_ref}

CASES = [
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.2)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-3, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),
    ("RAdam", dict()),                  # rho_t > 5 from step 6: both branches
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.7), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=3, weight_decay=0.1, maximize=True)),
]
IDS = [f"{name}-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CASES]
NAMES = list(REFS)
_BY_NAME = {}
for _name, _kw in CASES:
    _BY_NAME.setdefault(_name, []).append(_kw)
SECOND = {name: kws[1] for name, kws in _BY_NAME.items()}   # a variant with some options
RICH = {name: kws[-1] for name, kws in _BY_NAME.items()}    # the one with most options


def ref_trajectory(name, kw, p0, grad, steps=STEPS):
    return _ref_trajectory(name, kw, p0, grad, steps, refs=REFS)


def trajectory(mod, name, kw, p0, grad, dtype, steps=STEPS, params=None, sched=None):
    """Run ``mod.optim.<name>`` (tl or torch) for ``steps`` steps; ``sched(opt)`` makes a
    scheduler stepped after each step. Returns the parameters after every step, the optimizer
    and the parameters."""
    ps = params or [mod.tensor(p, dtype=dtype, requires_grad=True) for p in p0]
    opt = getattr(mod.optim, name)(ps, **kw)
    s = sched(mod, opt) if sched else None
    out = []
    for k in range(steps):
        for i, p in enumerate(ps):
            p.grad = mod.tensor(grad(k, i, np.asarray(p.detach().numpy(), np.float64)), dtype=dtype)
        opt.step()
        if s is not None:
            s.step()
        out.append([np.asarray(p.detach().numpy(), np.float64).copy() for p in ps])
    return out, opt, ps


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype: its 0-d state (step, NAdam's mu_product, ASGD's
    eta and mu) is then float64 too, as tl keeps it (Python floats). With float32 scalars, as
    by default, PyTorch's NAdam and ASGD differ from their exact formulas by ~1e-6."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


# ---------------------------------------------------------------------------------------------
# Trajectories
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_documented_formula(name, kw, simd_level):
    p0, grad = problem()
    got, _, _ = trajectory(tl, name, kw, p0, grad, tl.float64)
    assert_trajectories(got, ref_trajectory(name, kw, p0, grad))


@needs_torch
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_torch_float64(name, kw, torch64):
    p0, grad = problem()
    got, _, _ = trajectory(tl, name, kw, p0, grad, tl.float64)
    want, _, _ = trajectory(torch64, name, kw, p0, grad, torch.float64)
    assert_trajectories(got, want, rtol=1e-9)


@needs_torch
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_torch_float32(name, kw):
    # torch's defaults as users run them (float32 0-d state): 1e-5 covers float32 rounding
    p0, grad = problem(1)
    got, _, ps = trajectory(tl, name, kw, p0, grad, tl.float32)
    want, _, _ = trajectory(torch, name, kw, p0, grad, torch.float32)
    assert all(p.dtype is tl.float32 for p in ps)
    assert_trajectories(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_large_parameter_split_over_threads(name):
    """Above the threading threshold the update is split over threads; results are unchanged."""
    p0, grad = problem(3, shapes=[(300, 301)])
    got, _, _ = trajectory(tl, name, RICH[name], p0, grad, tl.float64, steps=3)
    assert_trajectories(got, ref_trajectory(name, RICH[name], p0, grad, steps=3))


def test_noncontiguous_parameter_and_zero_size():
    p0, grad = problem(2)
    for name in NAMES:
        ps = [noncontiguous(p0[0], tl.float64).requires_grad_(True),
              tl.tensor(p0[1], dtype=tl.float64, requires_grad=True)]
        base = ps[0]._storage
        got, _, ps = trajectory(tl, name, RICH[name], p0, grad, tl.float64, steps=4, params=ps)
        assert ps[0]._storage is base and not ps[0].is_contiguous()
        assert_trajectories(got, ref_trajectory(name, RICH[name], p0, grad, steps=4))
        z = tl.zeros(0, 3, dtype=tl.float64, requires_grad=True)
        z.grad = tl.zeros(0, 3, dtype=tl.float64)
        getattr(tl.optim, name)([z]).step()
        assert z.shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# Schedulers, parameter groups, closures
# ---------------------------------------------------------------------------------------------

def _exp_then_step(mod, opt):
    S = mod.optim.lr_scheduler
    return S.ChainedScheduler([S.ExponentialLR(opt, gamma=0.8), S.StepLR(opt, step_size=3, gamma=0.5)])


@needs_torch
@pytest.mark.parametrize("name", NAMES)
def test_with_lr_scheduler_matches_torch(name, torch64):
    p0, grad = problem(5)
    got, opt, _ = trajectory(tl, name, SECOND[name], p0, grad, tl.float64, sched=_exp_then_step)
    want, topt, _ = trajectory(torch64, name, SECOND[name], p0, grad, torch.float64,
                               sched=_exp_then_step)
    assert_trajectories(got, want, rtol=1e-9)
    assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_skipped_params_and_added_group(name):
    a = tl.tensor([1.0, -2.0], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([3.0], dtype=tl.float64, requires_grad=True)
    c = tl.tensor([5.0], dtype=tl.float64, requires_grad=True)
    opt = getattr(tl.optim, name)([{"params": [a]}, {"params": [b, c], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert all(k in opt.param_groups[1] for k in opt.defaults)
    d = tl.tensor([0.0, 1.0], dtype=tl.float64, requires_grad=True)
    opt.add_param_group({"params": d, "lr": 0.2})
    refs = [(a, 0.1, {}), (b, 0.5, {}), (d, 0.2, {})]
    want = {id(p): p.detach().numpy().copy() for p, _, _ in refs}
    kw = {k: v for k, v in opt.defaults.items() if k != "lr"}
    for k in range(3):
        for p, lr, s in refs:
            g = np.array([0.3, -1.0][:p.shape[0]]) * (k + 1)
            p.grad = tl.tensor(g, dtype=tl.float64)
            want[id(p)] = REFS[name](want[id(p)], g, s, lr=lr, **kw)
        opt.step()
    for p, _, _ in refs:
        np.testing.assert_allclose(p.detach().numpy(), want[id(p)], rtol=1e-12)
    assert c.tolist() == [5.0]                   # .grad is None: untouched
    assert opt.state[a]["step"] == opt.state[d]["step"] == 3


def test_closure_and_adagrad_state_made_by_constructor():
    w = tl.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=tl.float64, requires_grad=True)
    opt = tl.optim.Adagrad([w], lr=0.1, initial_accumulator_value=0.5)
    assert opt.state[w]["step"] == 0 and opt.state[w]["sum"].tolist() == [[0.5, 0.5], [0.5, 0.5]]

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    ref, s = w.detach().numpy().copy(), {}
    for _ in range(4):
        loss = opt.step(closure)
        assert abs(loss.item() - (ref ** 2).sum()) < 1e-12
        ref = adagrad_ref(ref, 2 * ref, s, lr=0.1, initial_accumulator_value=0.5)
    np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------------------------

STATE_KEYS = {"Adagrad": {"step", "sum"}, "Adamax": {"step", "exp_avg", "exp_inf"},
              "NAdam": {"step", "mu_product", "exp_avg", "exp_avg_sq"},
              "RAdam": {"step", "exp_avg", "exp_avg_sq"},
              "Adadelta": {"step", "square_avg", "acc_delta"},
              "Rprop": {"step", "prev", "step_size"}, "ASGD": {"step", "eta", "mu", "ax"}}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(name, tmp_path):
    p0, grad = problem(4)
    kw = RICH[name]
    _, opt, ps = trajectory(tl, name, kw, p0, grad, tl.float64, steps=5)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1] and set(sd["state"][0]) == STATE_KEYS[name]
    tl.save(sd, tmp_path / "opt.tlsave")
    sd = tl.load(tmp_path / "opt.tlsave")
    qs = [tl.tensor(p.detach().numpy(), requires_grad=True) for p in ps]
    opt2 = getattr(tl.optim, name)(qs, **dict(kw, lr=123.0))    # the loaded values win
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw.get("lr", opt.defaults["lr"])
    for k in range(5, 9):
        for i, (p, q) in enumerate(zip(ps, qs)):
            g = grad(k, i, p.detach().numpy())
            p.grad, q.grad = tl.tensor(g), tl.tensor(g)
        opt.step()
        opt2.step()
        for p, q in zip(ps, qs):
            assert np.array_equal(p.detach().numpy(), q.detach().numpy())


@needs_torch
@pytest.mark.parametrize("name", ["NAdam", "ASGD", "Adagrad"])
def test_load_torch_state_dict(name, torch64):
    """A state dict of torch.optim (0-d tensor step / mu_product / eta / mu, converted) loads
    and the trajectory continues as torch's."""
    p0, grad = problem(6)
    kw = SECOND[name]
    _, topt, tps = trajectory(torch64, name, kw, p0, grad, torch.float64, steps=4)
    tsd = topt.state_dict()
    sd = {"param_groups": tsd["param_groups"],
          "state": {i: {k: tl.tensor(v.numpy()) for k, v in s.items()}
                    for i, s in tsd["state"].items()}}
    ps = [tl.tensor(p.detach().numpy(), requires_grad=True) for p in tps]
    opt = getattr(tl.optim, name)(ps, **kw)
    opt.load_state_dict(sd)
    assert opt.state[ps[0]]["step"] == 4 and isinstance(opt.state[ps[0]]["step"], int)
    for k in range(4, 7):
        for i, (p, q) in enumerate(zip(ps, tps)):
            g = grad(k, i, q.detach().numpy())
            p.grad, q.grad = tl.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    for p, q in zip(ps, tps):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# Half parameters, non-finite gradients
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", [tl.bfloat16, tl.float16])
def test_half_parameters_update_in_float32(dt):
    """A half parameter is updated by the float32 kernel and rounded back; its state stays in
    the parameter's dtype (as in PyTorch)."""
    p0 = [np.array([0.5, -1.25, 2.0, 0.75])]
    for name in NAMES:
        kw = RICH[name]
        half = tl.tensor(p0[0], dtype=dt, requires_grad=True)
        wide = tl.tensor(half.detach().float().numpy(), requires_grad=True)
        oh, ow = getattr(tl.optim, name)([half], **kw), getattr(tl.optim, name)([wide], **kw)
        g = np.array([0.25, -0.5, 1.0, 0.125])
        half.grad, wide.grad = tl.tensor(g, dtype=dt), tl.tensor(g, dtype=tl.float32)
        oh.step()
        ow.step()
        assert half.dtype is dt
        assert np.array_equal(half.detach().float().numpy(),
                              wide.detach().to(dt).float().numpy()), name
        for k, v in oh.state[half].items():
            if isinstance(v, tl.Tensor):
                assert v.dtype is dt, (name, k)
                assert np.array_equal(v.float().numpy(),
                                      ow.state[wide][k].to(dt).float().numpy()), (name, k)


NAN, INF = float("nan"), float("inf")


@needs_torch
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [[NAN, 1.0, -1.0, 0.5], [INF, 1.0, -INF, 0.5]], ids=["nan", "inf"])
def test_nonfinite_gradients_match_torch(name, bad):
    """Three steps (the bad gradient, a finite one, the bad one again): parameters and state
    equal PyTorch's, NaN where PyTorch has NaN."""
    def run(mod):
        p = mod.tensor([1.0, -2.0, 0.5, 0.0], dtype=mod.float64, requires_grad=True)
        opt = getattr(mod.optim, name)([p], **SECOND[name])
        out = []
        for g in (bad, [0.1, 0.2, 0.3, 0.4], bad):
            p.grad = mod.tensor(g, dtype=mod.float64)
            opt.step()
            out.append(p.detach().numpy().copy())
        return out + [np.asarray(v.numpy(), np.float64) for k, v in sorted(opt.state[p].items())
                      if k not in ("step", "mu_product", "eta", "mu")]
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        want = run(torch)
    finally:
        torch.set_default_dtype(old)
    for got, exp in zip(run(tl), want):
        np.testing.assert_allclose(got, exp, rtol=1e-9, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# tl.jit: replayed steps equal eager ones bit for bit, with the scalars read live
# ---------------------------------------------------------------------------------------------

JIT_KW = {"Adagrad": dict(lr=0.1, lr_decay=0.1, weight_decay=0.01),
          "Adamax": dict(lr=0.05), "NAdam": dict(lr=0.05, weight_decay=0.1),
          "RAdam": dict(lr=0.05), "Adadelta": dict(lr=0.5, weight_decay=0.01),
          "Rprop": dict(lr=0.05), "ASGD": dict(lr=0.05, lambd=0.1, t0=4)}


@pytest.mark.parametrize("name", NAMES)
def test_jit_replay_with_scheduler_matches_eager(name):
    opts = []

    def make():
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
        opt = getattr(tl.optim, name)(model.parameters(), **JIT_KW[name])
        sched = tl.optim.lr_scheduler.ExponentialLR(opt, gamma=0.7)
        opts.append((opt, sched))

        def state():
            return [t for p in model.parameters() for t in
                    [p] + [v for v in opt.state[p].values() if isinstance(v, tl.Tensor)]]
        return _opt_step(model, opt, F.mse_loss), state
    # (8 steps: captured at the 2nd, replayed from the 3rd; RAdam's rectification starts at the 6th)
    inputs = list(zip(_batches((8, 3), n=8, seed=4), _batches((8, 2), n=8, seed=5)))
    _check_same(make, inputs, extra=lambda: opts[-1][1].step())
    (opt_e, _), (opt_j, _) = opts
    for pe, pj in zip(opt_e.param_groups[0]["params"], opt_j.param_groups[0]["params"]):
        se, sj = opt_e.state[pe], opt_j.state[pj]
        assert sj["step"] == 8
        assert {k: v for k, v in se.items() if not isinstance(v, tl.Tensor)} == \
               {k: v for k, v in sj.items() if not isinstance(v, tl.Tensor)}
    assert opt_j.param_groups[0]["lr"] == pytest.approx(JIT_KW[name]["lr"] * 0.7 ** 8, rel=1e-12)


def test_jit_half_parameters_nadam_and_radam():
    for name in ("NAdam", "RAdam"):
        scheds = []

        def make():
            model = nn.Linear(3, 2).bfloat16()
            opt = getattr(tl.optim, name)(model.parameters(), lr=0.1)
            scheds.append(tl.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5))
            step = _opt_step(model, opt, lambda out, y: F.mse_loss(out.float(), y))
            return step, lambda: [p.float() for p in model.parameters()]
        xs = [x.bfloat16() for x in _batches((4, 3), n=8, seed=6)]
        inputs = list(zip(xs, _batches((4, 2), n=8, seed=7)))
        _check_same(make, inputs, extra=lambda: scheds[-1].step())


def _scalar_state(opt):
    return [{k: v for k, v in opt.state[p].items() if not isinstance(v, tl.Tensor)}
            for p in opt.param_groups[0]["params"]]


@pytest.mark.parametrize("name", ["NAdam", "ASGD"])
def test_jit_gradscaler_skipped_steps_leave_scalar_state(name):
    """Steps GradScaler skips (Inf/NaN gradients) in a replay must not advance the Python-side
    state either (step, mu_product, eta, mu): the replay skips their bookkeeping too."""
    opts = []

    def make():
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        opt = getattr(tl.optim, name)(model.parameters(), lr=0.01)
        scaler = tl.amp.GradScaler(init_scale=2.0 ** 16, growth_interval=3)
        opts.append(opt)

        def step(x, y):
            with tl.autocast("cpu", dtype=tl.float16):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss
        return step, lambda: [t for p in model.parameters() for t in
                              [p] + [v for v in opt.state[p].values() if isinstance(v, tl.Tensor)]]
    rng = np.random.default_rng(8)
    inputs = []
    for i in range(8):
        x = rng.standard_normal((6, 4)).astype(np.float32)
        if i in (4, 6):
            x[0, 0] = 1e30                      # Inf in float16: this step is skipped
        inputs.append((tl.tensor(x), tl.tensor(rng.integers(0, 3, 6))))
    _check_same(make, inputs)
    assert _scalar_state(opts[0]) == _scalar_state(opts[1])
    assert _scalar_state(opts[1])[0]["step"] == 6


# ---------------------------------------------------------------------------------------------
# Argument errors (PyTorch's messages)
# ---------------------------------------------------------------------------------------------

def _p():
    return tl.tensor([1.0, 2.0], requires_grad=True)


@pytest.mark.parametrize("make,msg", [
    (lambda: tl.optim.Adagrad([_p()], lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda: tl.optim.Adagrad([_p()], lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda: tl.optim.Adagrad([_p()], weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda: tl.optim.Adagrad([_p()], initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda: tl.optim.Adagrad([_p()], eps=-1), "Invalid epsilon value: -1"),
    (lambda: tl.optim.Adamax([_p()], lr=-1), "Invalid learning rate: -1"),
    (lambda: tl.optim.Adamax([_p()], betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda: tl.optim.Adamax([_p()], eps=-1e-8), "Invalid epsilon value"),
    (lambda: tl.optim.NAdam([_p()], betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda: tl.optim.NAdam([_p()], momentum_decay=-1), "Invalid momentum_decay value: -1"),
    (lambda: tl.optim.NAdam([_p()], weight_decay=-1), "Invalid weight_decay value"),
    (lambda: tl.optim.RAdam([_p()], lr=-1), "Invalid learning rate"),
    (lambda: tl.optim.RAdam([_p()], betas=(-0.1, 0.9)), "Invalid beta parameter at index 0"),
    (lambda: tl.optim.Adadelta([_p()], rho=1.5), "Invalid rho value: 1.5"),
    (lambda: tl.optim.Adadelta([_p()], eps=-1), "Invalid epsilon value"),
    (lambda: tl.optim.Adadelta([_p()], lr=-1), "Invalid learning rate"),
    (lambda: tl.optim.Rprop([_p()], etas=(1.5, 1.2)), r"Invalid eta values: 1.5, 1.2"),
    (lambda: tl.optim.Rprop([_p()], lr=-1), "Invalid learning rate"),
    (lambda: tl.optim.ASGD([_p()], lr=-1), "Invalid learning rate"),
    (lambda: tl.optim.ASGD([_p()], weight_decay=-1), "Invalid weight_decay value"),
    (lambda: tl.optim.NAdam([{"params": [_p()], "lr": -1.0}]), "Invalid learning rate"),
])
def test_value_errors(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


@needs_torch
def test_value_errors_match_torch_messages():
    for name, kw in [("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(initial_accumulator_value=-2)),
                     ("NAdam", dict(momentum_decay=-1)), ("Adadelta", dict(rho=2.0)),
                     ("Rprop", dict(etas=(0.5, 0.9))), ("Adamax", dict(betas=(0.9, 1.0)))]:
        with pytest.raises(ValueError) as want:
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
        with pytest.raises(ValueError) as got:
            getattr(tl.optim, name)([_p()], **kw)
        assert str(got.value) == str(want.value)


def test_signatures_and_defaults_match_torch():
    import inspect
    expected = {"Adagrad": dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                                eps=1e-10, maximize=False),
                "Adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False),
                "NAdam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False),
                "RAdam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                              decoupled_weight_decay=False, maximize=False),
                "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False),
                "Rprop": dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False),
                "ASGD": dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False)}
    for name, defaults in expected.items():
        opt = getattr(tl.optim, name)([_p()])
        assert opt.defaults == defaults, name
        params = inspect.signature(getattr(tl.optim, name)).parameters
        assert list(params)[1:] == list(defaults), name
