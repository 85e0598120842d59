"""tl.optim: optimizer trajectories vs NumPy implementations of PyTorch's documented algorithms
(and vs torch.optim when torch is importable), schedules, state dicts, gradient clipping and
tl.save / tl.load."""
import io
import math

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import lib
from tinygrad_lab.optim import lr_scheduler as sched
from tinygrad_lab.utils_grad import clip_grad_norm_, clip_grad_value_, get_total_norm

from .helpers import noncontiguous

try:
    import torch
except ImportError:  # the suite must pass without PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

STEPS = 20
SHAPES = [(3, 4), (4,)]
RTOL = 1e-10


# ---------------------------------------------------------------------------------------------
# Reference implementations: PyTorch's documented algorithms, written with NumPy
# ---------------------------------------------------------------------------------------------

def sgd_ref(p, g, s, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
            maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        b = g.copy() if "b" not in s else momentum * s["b"] + (1 - dampening) * g
        s["b"] = b
        g = g + momentum * b if nesterov else b
    return p - lr * g


def adam_ref(p, g, s, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    g = -g if maximize else g
    t = s["t"] = s.get("t", 0) + 1
    if decoupled:
        p = p * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * p
    m = s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    v = s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    if amsgrad:
        v = s["vmax"] = np.maximum(s.get("vmax", 0.0), v)
    mhat = m / (1 - b1 ** t)
    vhat = v / (1 - b2 ** t)
    return p - lr * mhat / (np.sqrt(vhat) + eps)


def adamw_ref(p, g, s, weight_decay=1e-2, **kw):
    return adam_ref(p, g, s, weight_decay=weight_decay, decoupled=True, **kw)


def rmsprop_ref(p, g, s, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    v = s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    vt = v
    if centered:
        ga = s["ga"] = alpha * s.get("ga", 0.0) + (1 - alpha) * g
        vt = vt - ga * ga
    if momentum > 0:
        b = s["b"] = momentum * s.get("b", 0.0) + g / (np.sqrt(vt) + eps)
        return p - lr * b
    return p - lr * g / (np.sqrt(vt) + eps)


REFS = {"SGD": sgd_ref, "Adam": adam_ref, "AdamW": adamw_ref, "RMSprop": rmsprop_ref}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.05, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.7, dampening=0.2, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.2, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
    ("AdamW", dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.1, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-4)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.05)),
]
IDS = [f"{name}-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CASES]


def problem(seed=0, shapes=SHAPES):
    """Initial parameters and a gradient rule: a quadratic pull towards a target plus a fixed
    per-step perturbation sequence, so gradients depend on the trajectory."""
    rng = np.random.default_rng(seed)
    p0 = [rng.normal(size=s) for s in shapes]
    target = [rng.normal(size=s) for s in shapes]
    noise = [[rng.normal(size=s) for s in shapes] for _ in range(STEPS)]

    def grad(k, i, p):
        return 0.8 * (p - target[i]) + noise[k][i]
    return p0, grad


def ref_trajectory(name, kw, p0, grad, steps=STEPS, refs=None):
    ref = (refs or REFS)[name]
    ps, states, out = [p.copy() for p in p0], [{} for _ in p0], []
    for k in range(steps):
        ps = [ref(p, grad(k, i, p), s, **kw) for i, (p, s) in enumerate(zip(ps, states))]
        out.append([p.copy() for p in ps])
    return out


def tl_trajectory(name, kw, p0, grad, dtype=tl.float64, steps=STEPS, params=None):
    ps = params or [tl.tensor(p, dtype=dtype, requires_grad=True) for p in p0]
    opt = getattr(tl.optim, name)(ps, **kw)
    out = []
    for k in range(steps):
        for i, p in enumerate(ps):
            p.grad = tl.tensor(grad(k, i, p.detach().numpy().astype(np.float64)), dtype=p.dtype)
        opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
    return out, opt, ps


def torch_trajectory(name, kw, p0, grad, steps=STEPS):
    ps = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in p0]
    opt = getattr(torch.optim, name)(ps, **kw)
    out = []
    for k in range(steps):
        for i, p in enumerate(ps):
            p.grad = torch.tensor(grad(k, i, p.detach().numpy()))
        opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
    return out


def assert_trajectories(got, ref, rtol=RTOL, atol=1e-13):
    for k, (a, b) in enumerate(zip(got, ref)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {k + 1}, param {i}")


@pytest.fixture(params=["simd", "portable"])
def simd_level(request):
    """Run a test with the detected SIMD level (AVX2+FMA where available) and with portable C."""
    old = lib.tl_simd_level()
    lib.tl_set_simd_level(old if request.param == "simd" else 0)
    yield request.param
    lib.tl_set_simd_level(old)


# ---------------------------------------------------------------------------------------------
# Trajectories
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_documented_formula(name, kw, simd_level):
    p0, grad = problem()
    got, _, _ = tl_trajectory(name, kw, p0, grad)
    assert_trajectories(got, ref_trajectory(name, kw, p0, grad))


@needs_torch
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_torch(name, kw):
    p0, grad = problem()
    got, _, _ = tl_trajectory(name, kw, p0, grad)
    assert_trajectories(got, torch_trajectory(name, kw, p0, grad))


@pytest.mark.parametrize("name,kw", [CASES[5], CASES[12], CASES[21]], ids=["SGD", "Adam", "RMSprop"])
def test_float32_follows_float64(name, kw, simd_level):
    p0, grad = problem(1)
    got, _, ps = tl_trajectory(name, kw, p0, grad, dtype=tl.float32, steps=10)
    assert all(p.dtype is tl.float32 for p in ps)
    assert_trajectories(got, ref_trajectory(name, kw, p0, grad, steps=10), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name,kw", [CASES[5], CASES[12], CASES[21]], ids=["SGD", "Adam", "RMSprop"])
def test_large_parameter_uses_threads_correctly(name, kw):
    """Above the threading threshold the update is split over threads; results are unchanged."""
    rng = np.random.default_rng(3)
    p0 = [rng.normal(size=(300, 301))]
    target = rng.normal(size=(300, 301))

    def grad(k, i, p):
        return p - target + 0.1 * k
    got, _, _ = tl_trajectory(name, kw, p0, grad, steps=3)
    assert_trajectories(got, ref_trajectory(name, kw, p0, grad, steps=3))


@pytest.mark.parametrize("name,kw", [CASES[3], CASES[10], CASES[21]], ids=["SGD", "Adam", "RMSprop"])
def test_noncontiguous_parameter(name, kw):
    p0, grad = problem(2)
    ps = [noncontiguous(p0[0], tl.float64).requires_grad_(True),
          tl.tensor(p0[1], dtype=tl.float64, requires_grad=True)]
    base = ps[0]._storage
    got, _, ps = tl_trajectory(name, kw, p0, grad, params=ps)
    assert ps[0]._storage is base and not ps[0].is_contiguous()
    assert_trajectories(got, ref_trajectory(name, kw, p0, grad))


def test_noncontiguous_gradient():
    p = tl.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tl.float64, requires_grad=True)
    p.grad = tl.tensor([[1.0, 3.0], [2.0, 4.0]], dtype=tl.float64).T
    tl.optim.SGD([p], lr=0.5).step()
    np.testing.assert_allclose(p.detach().numpy(), [[0.5, 1.0], [1.5, 2.0]])


def test_param_groups_and_skipped_params():
    a = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([3.0], dtype=tl.float64, requires_grad=True)
    c = tl.tensor([5.0], dtype=tl.float64, requires_grad=True)
    opt = tl.optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 0.5, "momentum": 0.9}],
                       lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.9
    a.grad = tl.tensor([1.0, 1.0], dtype=tl.float64)
    b.grad = tl.tensor([2.0], dtype=tl.float64)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 1.9])
    np.testing.assert_allclose(b.detach().numpy(), [2.0])
    assert c.detach().numpy().tolist() == [5.0]           # .grad is None: untouched, no state
    assert c not in opt.state and "momentum_buffer" in opt.state[b] and a not in opt.state
    d = tl.tensor([0.0], requires_grad=True)
    opt.add_param_group({"params": d, "lr": 1.0})
    assert opt.param_groups[2]["params"] == [d] and opt.param_groups[2]["dampening"] == 0


def test_closure_zero_grad_and_backward():
    w = tl.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=tl.float64, requires_grad=True)
    opt = tl.optim.Adam([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    ref_p, s = w.detach().numpy().copy(), {}
    for _ in range(5):
        loss = opt.step(closure)
        assert abs(loss.item() - (ref_p ** 2).sum()) < 1e-12
        ref_p = adam_ref(ref_p, 2 * ref_p, s, lr=0.1)
    np.testing.assert_allclose(w.detach().numpy(), ref_p, rtol=1e-12)
    assert opt.state[w]["step"] == 5
    assert w.grad is not None and tl.is_grad_enabled()         # step restored grad mode
    opt.zero_grad(set_to_none=False)
    assert w.grad.detach().numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    opt.zero_grad()
    assert w.grad is None


def test_step_bumps_version_so_saved_graphs_notice():
    w = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    y = (w * w).sum()
    w.grad = tl.tensor([1.0, 1.0], dtype=tl.float64)
    tl.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError):
        y.backward()


@pytest.mark.parametrize("make,name", [(lambda w: tl.optim.SGD([w], lr=0.1, momentum=0.9), "momentum_buffer"),
                                       (lambda w: tl.optim.Adam([w]), "exp_avg"),
                                       (lambda w: tl.optim.RMSprop([w], momentum=0.5), "square_avg")])
def test_step_bumps_state_buffer_versions(make, name):
    # a graph that saved an optimizer's state buffer notices the next step's write, as in PyTorch
    w = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    opt = make(w)
    w.grad = tl.tensor([1.0, -1.0], dtype=tl.float64)
    opt.step()
    buf = opt.state[w][name]
    v = buf._version
    x = tl.tensor([3.0, 4.0], dtype=tl.float64, requires_grad=True)
    y = (x * buf).sum()
    opt.step()
    assert buf._version > v
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in-place"):
        y.backward()


def test_zero_size_parameter():
    z = tl.zeros(0, 3, dtype=tl.float64, requires_grad=True)
    z.grad = tl.zeros(0, 3, dtype=tl.float64)
    for opt in (tl.optim.SGD([z], momentum=0.9), tl.optim.Adam([z], amsgrad=True),
                tl.optim.RMSprop([z], centered=True, momentum=0.5)):
        opt.step()
    assert z.shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kw", [CASES[6], CASES[12], CASES[15], CASES[21]],
                         ids=["SGD", "Adam", "AdamW", "RMSprop"])
@pytest.mark.parametrize("via_file", [False, True])
def test_state_dict_round_trip_continues_identically(name, kw, via_file, tmp_path):
    p0, grad = problem(4)
    _, opt, ps = tl_trajectory(name, kw, p0, grad, steps=8)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1] and sd["param_groups"][0]["params"] == [0, 1]
    if via_file:
        tl.save(sd, tmp_path / "opt.tlsave")
        sd = tl.load(tmp_path / "opt.tlsave")
    qs = [tl.tensor(p.detach().numpy(), requires_grad=True) for p in ps]
    other = dict(kw, lr=123.0)                      # the loaded hyper-parameters win
    opt2 = getattr(tl.optim, name)(qs, **other)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw.get("lr", opt.defaults["lr"])
    assert opt2.param_groups[0]["params"] == qs
    for k in range(8, 14):
        for i, (p, q) in enumerate(zip(ps, qs)):
            g = grad(k, i, p.detach().numpy())
            p.grad, q.grad = tl.tensor(g), tl.tensor(g)
        opt.step()
        opt2.step()
        for p, q in zip(ps, qs):
            assert np.array_equal(p.detach().numpy(), q.detach().numpy())


def test_state_dict_layout_and_load_errors():
    a = tl.tensor([1.0], requires_grad=True)
    b = tl.tensor([1.0, 2.0], requires_grad=True)
    opt = tl.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], amsgrad=True)
    a.grad, b.grad = tl.tensor([1.0]), tl.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][1]["step"] == 1 and sd["state"][1]["exp_avg"].shape == (2,)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        tl.optim.Adam([a, b]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        c = tl.tensor([0.0], requires_grad=True)
        tl.optim.Adam([{"params": [a, b]}, {"params": [c]}]).load_state_dict(sd)
    bad = {"state": {0: {"step": 1, "exp_avg": tl.zeros(5), "exp_avg_sq": tl.zeros(5)}},
           "param_groups": [{"params": [0], "lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8,
                             "weight_decay": 0, "amsgrad": False, "maximize": False,
                             "decoupled_weight_decay": False}]}
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        tl.optim.Adam([a]).load_state_dict(bad)


def test_load_state_dict_converts_dtype_and_copies():
    a = tl.tensor([1.0, 2.0], dtype=tl.float32, requires_grad=True)
    sd = {"state": {0: {"momentum_buffer": tl.tensor([0.5, 0.5], dtype=tl.float64)}},
          "param_groups": [{"params": [0], "lr": 0.1, "momentum": 0.9, "dampening": 0,
                            "weight_decay": 0, "nesterov": False, "maximize": False}]}
    opt = tl.optim.SGD([a], lr=0.3)
    opt.load_state_dict(sd)
    buf = opt.state[a]["momentum_buffer"]
    assert buf.dtype is tl.float32 and buf is not sd["state"][0]["momentum_buffer"]
    a.grad = tl.tensor([1.0, 1.0], dtype=tl.float32)
    opt.step()                                      # b = 0.9 * 0.5 + 1 = 1.45; p -= 0.1 * b
    np.testing.assert_allclose(a.detach().numpy(), [0.855, 1.855], rtol=1e-6)
    assert sd["state"][0]["momentum_buffer"].numpy().tolist() == [0.5, 0.5]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

def _p():
    return tl.tensor([1.0, 2.0], requires_grad=True)


@pytest.mark.parametrize("make,msg", [
    (lambda: tl.optim.SGD([_p()], lr=-0.1), "Invalid learning rate"),
    (lambda: tl.optim.SGD([_p()], lr=0.1, momentum=-1), "Invalid momentum value"),
    (lambda: tl.optim.SGD([_p()], lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
    (lambda: tl.optim.SGD([_p()], lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
    (lambda: tl.optim.SGD([_p()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "zero dampening"),
    (lambda: tl.optim.Adam([_p()], lr=-1), "Invalid learning rate"),
    (lambda: tl.optim.Adam([_p()], betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (lambda: tl.optim.Adam([_p()], betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda: tl.optim.AdamW([_p()], eps=-1e-8), "Invalid epsilon value"),
    (lambda: tl.optim.AdamW([_p()], weight_decay=-1), "Invalid weight_decay value"),
    (lambda: tl.optim.RMSprop([_p()], alpha=-0.5), "Invalid alpha value"),
    (lambda: tl.optim.RMSprop([_p()], momentum=-0.5), "Invalid momentum value"),
    (lambda: tl.optim.RMSprop([_p()], lr=-0.5), "Invalid learning rate"),
    (lambda: tl.optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda: tl.optim.SGD([(_p() * 2)], lr=0.1), "non-leaf"),
    (lambda: tl.optim.SGD([{"params": [_p()], "lr": -1.0}]), "Invalid learning rate"),
])
def test_value_errors(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_type_errors_and_overlapping_groups():
    p = _p()
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        tl.optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        tl.optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        tl.optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="float32/float64"):
        tl.optim.SGD([tl.tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        tl.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    opt = tl.optim.SGD([p], lr=0.1)
    with pytest.raises(RuntimeError, match="different size"):   # refused at the assignment
        p.grad = tl.zeros(3)
    p._grad = tl.zeros(3)          # (behind the check's back: step still names the shapes)
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\)"):
        opt.step()


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------------------------

def _opt(lrs=(0.1,), cls=tl.optim.SGD, **kw):
    return cls([{"params": [tl.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs], **kw)


def _lrs(scheduler, n, metrics=None):
    out = [scheduler.get_last_lr()]
    for k in range(n):
        scheduler.optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[k])
        out.append(scheduler.get_last_lr())
    return out


def test_step_lr():
    s = sched.StepLR(_opt((0.1, 0.5)), step_size=3, gamma=0.5)
    got = _lrs(s, 10)
    for e, lrs in enumerate(got):
        np.testing.assert_allclose(lrs, [0.1 * 0.5 ** (e // 3), 0.5 * 0.5 ** (e // 3)], rtol=1e-15)
    assert s.optimizer.param_groups[0]["lr"] == got[-1][0]
    assert s.optimizer.param_groups[0]["initial_lr"] == 0.1


@pytest.mark.parametrize("T_max,eta_min", [(10, 0.0), (7, 0.01)])
def test_cosine_annealing(T_max, eta_min):
    s = sched.CosineAnnealingLR(_opt((0.1,)), T_max=T_max, eta_min=eta_min)
    got = _lrs(s, 3 * T_max)                        # past T_max it goes back up (period 2 T_max)
    for e, (lr,) in enumerate(got):
        assert math.isclose(lr, eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2,
                            rel_tol=1e-12, abs_tol=1e-15)


def test_reduce_lr_on_plateau():
    opt = _opt((1.0, 0.1))
    s = sched.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1,
                                min_lr=[0.2, 0.0], threshold=0.1)
    metrics = [10, 9.5, 9.2, 9.1, 9.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    got = _lrs(s, len(metrics), metrics)
    # best=10; 9.5, 9.2 are not < 9.0 (bad 1, 2); 9.1 (bad 3 > patience: halve, cooldown 1);
    # 9.0 (in cooldown: bad count reset); 8.0 is better; 8.0 x3 (bad 1, 2, 3: halve; lr0 stops
    # at min_lr 0.2 later), ...
    expect = [[1.0, 0.1]] * 4 + [[0.5, 0.05]] * 5 + [[0.25, 0.025]] * 4 + [[0.2, 0.0125]]
    np.testing.assert_allclose(got, expect[:len(got)], rtol=1e-15)
    assert s.num_bad_epochs == 2 and s.last_epoch == len(metrics)


def test_reduce_lr_on_plateau_max_abs_and_eps():
    opt = _opt((1e-8,))
    s = sched.ReduceLROnPlateau(opt, mode="max", threshold_mode="abs", threshold=0.5, patience=0)
    s.step(1.0)          # better than -inf
    s.step(1.4)          # not > 1.0 + 0.5: bad 1 > patience 0 -> reduce, but the change < eps
    assert s.get_last_lr() == [1e-8]
    opt.param_groups[0]["lr"] = 1.0
    s.step(tl.tensor(1.6))                          # a 1-element tensor works as the metric
    s.step(1.7)
    assert s.get_last_lr() == [0.1]


def _onecycle_ref(step, total, max_lr, pct, div, final_div, strategy, three_phase, lo_m, hi_m):
    def anneal(a, b, pct_):
        if strategy == "cos":
            return b + (a - b) / 2.0 * (math.cos(math.pi * pct_) + 1)
        return (b - a) * pct_ + a
    init, mn = max_lr / div, max_lr / div / final_div
    if three_phase:
        phases = [(pct * total - 1, init, max_lr, hi_m, lo_m),
                  (2 * pct * total - 2, max_lr, init, lo_m, hi_m),
                  (total - 1, init, mn, hi_m, hi_m)]
    else:
        phases = [(pct * total - 1, init, max_lr, hi_m, lo_m), (total - 1, max_lr, mn, lo_m, hi_m)]
    start = 0.0
    for i, (end, a, b, ma, mb) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            f = (step - start) / (end - start)
            return anneal(a, b, f), anneal(ma, mb, f)
        start = end


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("cls", [tl.optim.SGD, tl.optim.Adam])
def test_one_cycle(strategy, three_phase, cls):
    kw = {"momentum": 0.9} if cls is tl.optim.SGD else {}
    opt = _opt((0.1,), cls=cls, **kw)
    total = 25
    s = sched.OneCycleLR(opt, max_lr=0.2, total_steps=total, pct_start=0.3, anneal_strategy=strategy,
                         three_phase=three_phase, div_factor=10.0, final_div_factor=100.0)
    for step in range(total):
        lr, mom = _onecycle_ref(step, total, 0.2, 0.3, 10.0, 100.0, strategy, three_phase, 0.85, 0.95)
        g = opt.param_groups[0]
        assert math.isclose(s.get_last_lr()[0], lr, rel_tol=1e-13)
        got_m = g["momentum"] if cls is tl.optim.SGD else g["betas"][0]
        assert math.isclose(got_m, mom, rel_tol=1e-13)
        if cls is tl.optim.Adam:
            assert g["betas"][1] == 0.999
        opt.step()
        if step < total - 1:
            s.step()
    s.step()                                         # step number == total_steps still allowed
    with pytest.raises(ValueError, match="Tried to step 26 times"):
        s.step()


def test_one_cycle_epochs_and_errors():
    s = sched.OneCycleLR(_opt(), max_lr=1.0, epochs=2, steps_per_epoch=5, cycle_momentum=False)
    assert s.total_steps == 10 and math.isclose(s.get_last_lr()[0], 1.0 / 25)
    with pytest.raises(ValueError, match="Expected positive integer total_steps"):
        sched.OneCycleLR(_opt(), max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="either total_steps OR"):
        sched.OneCycleLR(_opt(), max_lr=1.0)
    with pytest.raises(ValueError, match="pct_start"):
        sched.OneCycleLR(_opt(), max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        sched.OneCycleLR(_opt(), max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        sched.OneCycleLR(_opt(), max_lr=[1.0, 2.0], total_steps=10)
    with pytest.raises(ValueError, match="must support momentum"):
        sched.OneCycleLR(tl.optim.Optimizer([_p()], {"lr": 0.1}), max_lr=1.0, total_steps=10)


def test_scheduler_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        sched.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        sched.ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode maxi is unknown"):
        sched.ReduceLROnPlateau(_opt(), mode="maxi")
    with pytest.raises(ValueError, match="threshold mode rell is unknown"):
        sched.ReduceLROnPlateau(_opt(), threshold_mode="rell")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        sched.ReduceLROnPlateau(_opt((0.1, 0.2)), min_lr=[0.0])
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(_opt(), step_size=2, last_epoch=3)


@pytest.mark.parametrize("make", [
    lambda o: sched.StepLR(o, step_size=2, gamma=0.7),
    lambda o: sched.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
    lambda o: sched.OneCycleLR(o, max_lr=0.3, total_steps=30, three_phase=True),
], ids=["StepLR", "Cosine", "OneCycle"])
def test_scheduler_state_dict_round_trip(make, tmp_path):
    s = make(_opt((0.1, 0.05), momentum=0.9))
    _lrs(s, 5)
    tl.save(s.state_dict(), tmp_path / "s.npz")
    opt2 = _opt((0.1, 0.05), momentum=0.9)
    opt2.load_state_dict(s.optimizer.state_dict())
    s2 = make(opt2)
    s2.load_state_dict(tl.load(tmp_path / "s.npz"))
    assert s2.get_last_lr() == s.get_last_lr() and s2.last_epoch == s.last_epoch
    assert _lrs(s2, 6) == _lrs(s, 6)


def test_plateau_state_dict_round_trip(tmp_path):
    s = sched.ReduceLROnPlateau(_opt(), patience=1)
    for m in [5.0, 5.0, 5.0, 4.0]:
        s.step(m)
    tl.save(s.state_dict(), tmp_path / "p.npz")
    s2 = sched.ReduceLROnPlateau(_opt(), patience=7, mode="max")
    s2.load_state_dict(tl.load(tmp_path / "p.npz"))
    assert (s2.best, s2.patience, s2.mode, s2.num_bad_epochs) == (4.0, 1, "min", 0)
    assert s2.mode_worse == math.inf


@needs_torch
def test_schedules_match_torch():
    def seq(lib_, make, n, metrics=None):
        p = (torch.zeros(1, requires_grad=True) if lib_ is torch
             else tl.tensor([0.0], requires_grad=True))
        opt = lib_.optim.SGD([{"params": [p], "lr": 0.1}], lr=0.1, momentum=0.9)
        s = make(lib_.optim.lr_scheduler, opt)
        out = [(s.get_last_lr()[0], opt.param_groups[0]["momentum"])]
        for k in range(n):
            opt.step()
            s.step() if metrics is None else s.step(metrics[k])
            out.append((s.get_last_lr()[0], opt.param_groups[0]["momentum"]))
        return np.array(out, dtype=np.float64)
    metrics = [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    makers = [
        (lambda m, o: m.StepLR(o, step_size=4, gamma=0.3), None),
        (lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.002), None),
        (lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=21), None),
        (lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=21, anneal_strategy="linear",
                                   three_phase=True, pct_start=0.25), None),
        (lambda m, o: m.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1,
                                          threshold=1e-3, min_lr=0.01), metrics),
        (lambda m, o: m.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", patience=1,
                                          threshold=0.5), [-x for x in metrics]),
    ]
    for make, ms in makers:
        np.testing.assert_allclose(seq(tl, make, 20, ms), seq(torch, make, 20, ms), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# Gradient clipping
# ---------------------------------------------------------------------------------------------

def _with_grads(grads, dtype=tl.float64):
    ps = []
    for g in grads:
        p = tl.zeros(np.shape(g), dtype=dtype, requires_grad=True)
        p.grad = tl.tensor(g, dtype=dtype)
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, 0.5])
def test_clip_grad_norm(norm_type):
    rng = np.random.default_rng(7)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(4,)), rng.normal(size=(2, 2, 2))]
    flat = np.concatenate([g.ravel() for g in grads])
    ref = np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    ps = _with_grads(grads) + [tl.zeros(2, requires_grad=True)]      # one without a grad
    total = clip_grad_norm_(ps, max_norm=0.5, norm_type=norm_type)
    assert isinstance(total, tl.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ref, rtol=1e-12)
    coef = min(0.5 / (ref + 1e-6), 1.0)
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)
    # below the threshold nothing changes (coefficient clamped to 1)
    ps = _with_grads(grads)
    clip_grad_norm_(ps, max_norm=1e6, norm_type=norm_type)
    for p, g in zip(ps, grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_clip_grad_norm_single_tensor_float32_and_errors():
    p = _with_grads([[3.0, 4.0]], dtype=tl.float32)[0]
    total = clip_grad_norm_(p, 1.0)
    assert total.dtype is tl.float32 and total.item() == 5.0
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-6)
    assert clip_grad_norm_([tl.zeros(2, requires_grad=True)], 1.0).item() == 0.0
    mixed = _with_grads([[3.0]], tl.float32) + _with_grads([[4.0]], tl.float64)
    assert get_total_norm([q.grad for q in mixed]).dtype is tl.float64
    bad = _with_grads([[1.0, math.inf]])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    clip_grad_norm_(bad, 1.0)                      # allowed without the flag


def test_clip_grad_value():
    ps = _with_grads([[-3.0, 0.5, 2.0], [[0.1], [-0.2]]])
    assert clip_grad_value_(ps, 1.0) is None
    np.testing.assert_array_equal(ps[0].grad.numpy(), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(ps[1].grad.numpy(), [[0.1], [-0.2]])


@needs_torch
def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(8)
    grads = [rng.normal(size=(5, 3)) * 3, rng.normal(size=(7,))]
    for nt in (2.0, 1.5, math.inf):
        ps = _with_grads(grads)
        tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for tp, g in zip(tps, grads):
            tp.grad = torch.tensor(g)
        a = clip_grad_norm_(ps, 2.0, nt)
        b = torch.nn.utils.clip_grad_norm_(tps, 2.0, nt)
        np.testing.assert_allclose(a.item(), b.item(), rtol=1e-13)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# tl.save / tl.load
# ---------------------------------------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    shared = tl.tensor([1.5, 2.5], dtype=tl.float32)
    obj = {
        "f32": shared, "again": shared,
        "f64": tl.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tl.float64).T,          # strided
        "i64": tl.tensor([[1, -2, 3]]), "bool": tl.tensor([True, False]),
        "scalar": tl.tensor(3.25, dtype=tl.float64), "empty": tl.zeros(0, 3),
        "param": tl.tensor([0.5], requires_grad=True),
        3: {"step": 7, "lr": 0.1, "betas": (0.9, 0.999), "none": None, "flag": True,
            "inf": math.inf, "ninf": -math.inf, "name": "x\u00e9", (1, "a"): [1, 2.0, [3]]},
        "big": 2 ** 70, "dtype": tl.float64, "np": np.arange(4, dtype=np.int64),
    }
    path = tmp_path / "state.pt"
    tl.save(obj, path)
    assert path.exists() and not (tmp_path / "state.pt.npz").exists()
    back = tl.load(path)
    assert list(back) == list(obj)
    for k in ("f32", "f64", "i64", "bool", "scalar", "empty", "param"):
        assert back[k].dtype is obj[k].dtype and back[k].shape == obj[k].shape, k
        np.testing.assert_array_equal(back[k].detach().numpy(), obj[k].detach().numpy())
    assert back["again"] is back["f32"]
    assert back["param"].requires_grad and not back["f32"].requires_grad
    assert back[3] == {"step": 7, "lr": 0.1, "betas": (0.9, 0.999), "none": None, "flag": True,
                       "inf": math.inf, "ninf": -math.inf, "name": "x\u00e9", (1, "a"): [1, 2.0, [3]]}
    assert isinstance(back[3]["step"], int) and isinstance(back[3]["betas"], tuple)
    assert back["big"] == 2 ** 70 and back["dtype"] is tl.float64
    np.testing.assert_array_equal(back["np"], np.arange(4))
    buf = io.BytesIO()
    tl.save(tl.tensor([1.0, 2.0]), buf)
    buf.seek(0)
    t = tl.load(buf)
    assert t.dtype is tl.float32 and t.tolist() == [1.0, 2.0]


def test_save_load_errors(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store object at obj\['a'\]\[0\]"):
        tl.save({"a": [object()]}, tmp_path / "x")
    with pytest.raises(TypeError, match="unsupported dict key"):
        tl.save({1.5j: 1}, tmp_path / "x")
    (tmp_path / "junk").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a tl.save archive"):
        tl.load(tmp_path / "junk")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="no structure.json"):
        tl.load(tmp_path / "plain.npz")
    # an archive whose arrays would need pickle is refused, never unpickled
    np.savez(tmp_path / "evil.npz", **{"structure.json": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError):
        tl.load(tmp_path / "evil.npz")
    meta = (b'{"format": "tinygrad_lab.save", "version": 1, '
            b'"root": {"tensor": 5, "requires_grad": false}}')
    np.savez(tmp_path / "dangling.npz", **{"structure.json": np.frombuffer(meta, np.uint8)})
    with pytest.raises(ValueError, match="missing array 5"):
        tl.load(tmp_path / "dangling.npz")
