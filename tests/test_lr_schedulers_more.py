"""tl.optim.lr_scheduler's CosineAnnealingWarmRestarts, CyclicLR, PolynomialLR and
MultiplicativeLR: lr (and momentum) sequences against closed forms and against
torch.optim.lr_scheduler over 30 steps (also inside SequentialLR / ChainedScheduler), fractional
epochs, state dicts through tl.save / tl.load, tl.jit replays that see every new lr, and
PyTorch's errors."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F
from tinygrad_lab.optim import lr_scheduler as sched

from .test_jit import _batches, _check_same, _opt_step
from .test_lr_schedulers import check_round_trip


def _opt(lib=tl, lrs=(0.1, 0.03), cls="SGD"):
    params = [lib.zeros(1, requires_grad=True) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    if cls == "Adam":
        return lib.optim.Adam(groups, lr=lrs[0])
    return lib.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _lrs(s, n, momenta=False):
    """[lrs (+ momenta)] after construction and after each of n steps."""
    def now():
        return list(s.get_last_lr()) + (_momenta(s.optimizer) if momenta else [])
    out = [now()]
    for _ in range(n):
        s.optimizer.step()
        s.step()
        out.append(now())
    return out


class Halve:
    """A callable object with state (state_dict keeps its __dict__)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, x):
        return self.base ** x


MAKERS = {
    "WarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7),
    "WarmRestarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001),
    "Cyclic-triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "Cyclic-triangular2": lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.002], max_lr=[0.1, 0.05],
                                                  step_size_up=3, step_size_down=5, mode="triangular2"),
    "Cyclic-exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                mode="exp_range", gamma=0.95, base_momentum=0.7,
                                                max_momentum=[0.95, 0.9]),
    "Cyclic-scale_fn": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=3,
                                               scale_fn=Halve(0.8), scale_mode="iterations"),
    "Cyclic-scale_fn-cycle": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                     scale_fn=lambda c: 1.0 / c, cycle_momentum=False),
    "Polynomial": lambda m, o: m.PolynomialLR(o, total_iters=12, power=2.0),
    "Polynomial-linear": lambda m, o: m.PolynomialLR(o),
    "Multiplicative": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95),
    "Multiplicative-per-group": lambda m, o: m.MultiplicativeLR(o, [lambda e: 0.9 if e % 3 else 1.1,
                                                                    Halve(0.99)]),
    "Sequential-poly-restarts": lambda m, o: m.SequentialLR(
        o, [m.PolynomialLR(o, total_iters=6, power=0.5), m.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2),
            m.MultiplicativeLR(o, lambda e: 0.9)], milestones=[5, 20]),
    "Sequential-warmup-cyclic": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
            m.CyclicLR(o, 0.01, 0.2, step_size_up=3, cycle_momentum=False)], milestones=[6]),
    "Chained-poly-multiplicative": lambda m, o: m.ChainedScheduler(
        [m.PolynomialLR(o, total_iters=20), m.MultiplicativeLR(o, lambda e: 0.97)]),
}
MOMENTA = [name for name in MAKERS if name.startswith("Cyclic") and name != "Cyclic-scale_fn-cycle"]


@pytest.mark.parametrize("name,cls", [(n, "SGD") for n in MAKERS] + [(n, "Adam") for n in MOMENTA])
def test_against_pytorch(name, cls):
    torch = pytest.importorskip("torch")
    make = MAKERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (torch's "step order" warnings)
        ours = _lrs(make(sched, _opt(tl, cls=cls)), 30, momenta=True)
        theirs = _lrs(make(torch.optim.lr_scheduler, _opt(torch, cls=cls)), 30, momenta=True)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize("name", list(MAKERS))
def test_state_dict_round_trip(name, tmp_path):
    check_round_trip(MAKERS[name], tmp_path, lambda s, n: _lrs(s, n, momenta=True))


def test_closed_forms():
    for e, (lr, _) in enumerate(_lrs(sched.CosineAnnealingWarmRestarts(_opt(), T_0=3, T_mult=2), 20)):
        start = 0 if e < 3 else 3 if e < 9 else 9          # restarts at 3, 9 (= 3 + 6), 21
        T_i = 3 * 2 ** (0 if e < 3 else 1 if e < 9 else 2)
        assert math.isclose(lr, 0.05 * (1 + math.cos(math.pi * (e - start) / T_i)), rel_tol=1e-13)
    got = _lrs(sched.CyclicLR(_opt(), base_lr=0.0, max_lr=0.8, step_size_up=2, step_size_down=2,
                              mode="triangular2"), 8, momenta=True)
    lr_want = [0, 0.4, 0.8, 0.4, 0, 0.2, 0.4, 0.2, 0]
    np.testing.assert_allclose([r[0] for r in got], lr_want, atol=1e-15)
    np.testing.assert_allclose([r[2] for r in got], [0.9 - 0.1 * lr / 0.8 for lr in lr_want], rtol=1e-14)
    for e, (lr, _) in enumerate(_lrs(sched.PolynomialLR(_opt(), total_iters=4, power=3.0), 7)):
        assert math.isclose(lr, 0.1 * (1 - min(e, 4) / 4) ** 3, rel_tol=1e-12, abs_tol=1e-18)
    for e, lrs in enumerate(_lrs(sched.MultiplicativeLR(_opt(), [lambda e: 0.5, lambda e: 2.0]), 5)):
        np.testing.assert_allclose(lrs, [0.1 * 0.5 ** e, 0.03 * 2.0 ** e], rtol=1e-15)


def test_warm_restarts_fractional_epochs():
    torch = pytest.importorskip("torch")
    ours = sched.CosineAnnealingWarmRestarts(_opt(), T_0=2, T_mult=3, eta_min=0.01)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(_opt(torch), T_0=2, T_mult=3, eta_min=0.01)
    epochs = [k / 4 for k in range(40)] + [3.3, 0.5, 17.9, 1.0, 2.0, 8.0, 7.99]
    for e in epochs:       # per-batch stepping, then jumps back and forth
        ours.step(e)
        theirs.step(e)
        assert ours.last_epoch == theirs.last_epoch and ours.T_i == theirs.T_i
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-13)
        np.testing.assert_allclose(ours.T_cur, theirs.T_cur, rtol=1e-13)
    for _ in range(10):    # and on without an epoch
        ours.step()
        theirs.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-13)


def test_warm_restarts_fractional_epoch_values():
    s = sched.CosineAnnealingWarmRestarts(_opt(lrs=(1.0,)), T_0=2, T_mult=2)
    s.step(2.5)                 # the second period [2, 6): T_cur 0.5 of T_i 4
    assert s.T_i == 4 and s.last_epoch == 2
    assert math.isclose(s.get_last_lr()[0], (1 + math.cos(math.pi * 0.5 / 4)) / 2, rel_tol=1e-14)
    s.step(1.0)                 # back into the first period
    assert s.T_i == 2 and math.isclose(s.get_last_lr()[0], 0.5, rel_tol=1e-14)


def test_errors():
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        sched.CosineAnnealingWarmRestarts(_opt(), T_0=0)
    with pytest.raises(ValueError, match="Expected positive integer T_0"):
        sched.CosineAnnealingWarmRestarts(_opt(), T_0=2.5)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 0"):
        sched.CosineAnnealingWarmRestarts(_opt(), T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="Expected float or int eta_min"):
        sched.CosineAnnealingWarmRestarts(_opt(), T_0=2, eta_min="0")
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        sched.CosineAnnealingWarmRestarts(_opt(), T_0=2).step(-1)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        sched.CyclicLR(_opt(), 0.01, 0.1, mode="square")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        sched.CyclicLR(_opt(), 0.01, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="base_momentum must have the same length"):
        sched.CyclicLR(_opt(), 0.01, 0.1, base_momentum=[0.8])
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        sched.CyclicLR(tl.optim.Optimizer([tl.zeros(1, requires_grad=True)], {"lr": 0.1}), 0.01, 0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        sched.CyclicLR(object(), 0.01, 0.1)
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got float"):
        sched.MultiplicativeLR(_opt(), [lambda e: 1.0, 0.5])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        sched.MultiplicativeLR(_opt(), [lambda e: 1.0] * 3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        sched.MultiplicativeLR(object(), lambda e: 1.0)


def test_callable_objects_in_state_dict():
    f = Halve(0.5)
    s = sched.CyclicLR(_opt(), 0.01, 0.1, scale_fn=f)
    sd = s.state_dict()
    assert sd["_scale_fn_custom"] == {"base": 0.5} and "optimizer" not in sd
    f2 = Halve(0.9)
    s2 = sched.CyclicLR(_opt(), 0.01, 0.1, scale_fn=f2)
    s2.load_state_dict(sd)
    assert f2.base == 0.5 and s2._scale_fn_custom is f2
    assert sched.CyclicLR(_opt(), 0.01, 0.1, scale_fn=lambda x: 1.0).state_dict()["_scale_fn_custom"] is None
    s = sched.MultiplicativeLR(_opt(), [lambda e: 1.0, Halve(0.7)])
    assert s.state_dict()["lr_lambdas"] == [None, {"base": 0.7}]


# ---- tl.jit: a replayed step reads the lr (and momentum) each scheduler step wrote ------------

JIT_MAKERS = {
    "WarmRestarts-SGD": (tl.optim.SGD, dict(lr=0.1, momentum=0.5),
                         lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)),
    "Cyclic-SGD-momentum": (tl.optim.SGD, dict(lr=0.1, momentum=0.9),
                            lambda o: sched.CyclicLR(o, 0.01, 0.2, step_size_up=2, mode="triangular2")),
    "Cyclic-Adam-beta1": (tl.optim.Adam, dict(lr=0.1),
                          lambda o: sched.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range",
                                                   gamma=0.9)),
    "Polynomial-Adam": (tl.optim.Adam, dict(lr=0.1), lambda o: sched.PolynomialLR(o, total_iters=6)),
    "Multiplicative-SGD": (tl.optim.SGD, dict(lr=0.1), lambda o: sched.MultiplicativeLR(o, lambda e: 0.7)),
}


@pytest.mark.parametrize("name", list(JIT_MAKERS))
def test_jit_replay_sees_the_new_lr(name):
    opt_cls, kw, make_sched = JIT_MAKERS[name]
    made = []

    def make():
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        opt = opt_cls(model.parameters(), **kw)
        made.append((opt, make_sched(opt)))
        return _opt_step(model, opt, F.mse_loss), lambda: list(model.parameters())
    inputs = list(zip(_batches((6, 3), n=8, seed=8), _batches((6, 2), n=8, seed=9)))
    _check_same(make, inputs, extra=lambda: made[-1][1].step())
    (opt_e, s_e), (opt_j, s_j) = made
    assert s_e.get_last_lr() == s_j.get_last_lr() and s_j.last_epoch == 8
    assert opt_e.param_groups[0]["lr"] == opt_j.param_groups[0]["lr"] != kw["lr"]


def test_jit_step_inside_capture_raises():
    w = tl.ones(2, requires_grad=True)
    opt = tl.optim.SGD([w], lr=0.1, momentum=0.9)
    s = sched.CosineAnnealingWarmRestarts(opt, T_0=3)

    @tl.jit
    def step(x):
        opt.zero_grad()
        (x * w).sum().backward()
        opt.step()
        s.step()
    step(tl.ones(2))
    with pytest.raises(RuntimeError, match="scheduler.step"):
        step(tl.ones(2))
