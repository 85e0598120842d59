"""tl.optim.lr_scheduler's LambdaLR, ExponentialLR, MultiStepLR, ConstantLR, LinearLR,
SequentialLR and ChainedScheduler: lr sequences against closed forms (and against
torch.optim.lr_scheduler for 30 steps, milestones and chained configurations included, when
PyTorch is installed), state dicts through tl.save / tl.load, and PyTorch's errors."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.optim import lr_scheduler as sched


def _opt(lib=tl, lrs=(0.1, 0.03)):
    params = [lib.zeros(1, requires_grad=True) for _ in lrs]
    return lib.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0],
                         momentum=0.9)


def _lrs(s, n):
    out = [list(s.get_last_lr())]
    for _ in range(n):
        s.optimizer.step()
        s.step()
        out.append(list(s.get_last_lr()))
    return out


class Warmup:
    """A callable object with state (LambdaLR's state_dict keeps its __dict__)."""

    def __init__(self, n):
        self.n = n

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.n)


def test_closed_forms():
    got = _lrs(sched.ExponentialLR(_opt(), gamma=0.9), 12)
    for e, lrs in enumerate(got):
        np.testing.assert_allclose(lrs, [0.1 * 0.9 ** e, 0.03 * 0.9 ** e], rtol=1e-13)
    got = _lrs(sched.MultiStepLR(_opt(), milestones=[8, 3, 8], gamma=0.5), 12)
    for e, lrs in enumerate(got):
        k = (e >= 3) + 2 * (e >= 8)             # milestone 8 listed twice: gamma ** 2 there
        np.testing.assert_allclose(lrs, [0.1 * 0.5 ** k, 0.03 * 0.5 ** k], rtol=1e-13)
    got = _lrs(sched.LambdaLR(_opt(), lr_lambda=[lambda e: 1 / (e + 1), Warmup(4)]), 8)
    for e, lrs in enumerate(got):
        np.testing.assert_allclose(lrs, [0.1 / (e + 1), 0.03 * min(1.0, (e + 1) / 4)], rtol=1e-13)
    got = _lrs(sched.LinearLR(_opt(), start_factor=0.25, end_factor=1.0, total_iters=4), 8)
    for e, lrs in enumerate(got):
        f = 0.25 + 0.75 * min(e, 4) / 4
        np.testing.assert_allclose(lrs, [0.1 * f, 0.03 * f], rtol=1e-13)
    got = _lrs(sched.ConstantLR(_opt(), factor=0.5, total_iters=3), 6)
    for e, lrs in enumerate(got):
        f = 0.5 if e < 3 else 1.0
        np.testing.assert_allclose(lrs, [0.1 * f, 0.03 * f], rtol=1e-13)


def test_sequential_lr_warmup_then_decay():
    opt = _opt()
    s = sched.SequentialLR(opt, [sched.LinearLR(opt, start_factor=0.1, total_iters=5),
                                 sched.ExponentialLR(opt, gamma=0.9)], milestones=[5])
    got = _lrs(s, 12)
    for e, (lr, _) in enumerate(got):
        want = 0.1 * (0.1 + 0.9 * e / 5) if e < 5 else 0.1 * 0.9 ** (e - 5)
        assert math.isclose(lr, want, rel_tol=1e-12), (e, lr, want)
    assert s.last_epoch == 12 and opt.param_groups[0]["lr"] == got[-1][0]


def test_chained_scheduler_composes():
    opt = _opt()
    s = sched.ChainedScheduler([sched.ExponentialLR(opt, gamma=0.9),
                                sched.MultiStepLR(opt, milestones=[3, 6], gamma=0.1)])
    for e, (lr, _) in enumerate(_lrs(s, 8)):
        assert math.isclose(lr, 0.1 * 0.9 ** e * 0.1 ** ((e >= 3) + (e >= 6)), rel_tol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        sched.LambdaLR(_opt(), [lambda e: 1.0])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        sched.LambdaLR(object(), lambda e: 1.0)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        sched.LinearLR(_opt(), start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        sched.LinearLR(_opt(), end_factor=1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        sched.ConstantLR(_opt(), factor=2.0)
    opt, other = _opt(), _opt()
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        sched.SequentialLR(opt, [sched.ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match="at least one scheduler"):
        sched.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="same optimizer"):
        sched.SequentialLR(opt, [sched.ExponentialLR(opt, 0.9), sched.ExponentialLR(other, 0.9)], [2])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        sched.ChainedScheduler([sched.ReduceLROnPlateau(opt)])
    with pytest.raises(TypeError, match="should have `optimizer`"):
        sched.SequentialLR(opt, [sched.ExponentialLR(opt, 0.9), object()], milestones=[2])


def test_epoch_argument_uses_the_closed_form():
    s = sched.MultiStepLR(_opt(), milestones=[2, 5], gamma=0.5)
    with pytest.warns(UserWarning, match="deprecated"):
        s.step(6)
    np.testing.assert_allclose(s.get_last_lr(), [0.1 * 0.25, 0.03 * 0.25])
    s = sched.LinearLR(_opt(), start_factor=0.5, total_iters=4)
    with pytest.warns(UserWarning):
        s.step(2)
    np.testing.assert_allclose(s.get_last_lr(), [0.075, 0.0225])


MAKERS = {
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e + (e // 7) * 0.1),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, Warmup(5)]),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.5),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=8),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9)],
        milestones=[5]),
    "SequentialLR-3": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=3), m.MultiStepLR(o, [4, 9], gamma=0.3),
            m.CosineAnnealingLR(o, T_max=6)], milestones=[6, 15]),
    "SequentialLR-StepLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.2, total_iters=4), m.StepLR(o, step_size=5, gamma=0.5)],
        milestones=[4]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ExponentialLR(o, gamma=0.95), m.MultiStepLR(o, milestones=[5, 10], gamma=0.1)]),
    "ChainedScheduler-warmup": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.9)]),
    "Chained-SequentialLR": lambda m, o: m.ChainedScheduler(
        [m.SequentialLR(o, [m.ConstantLR(o, factor=0.3, total_iters=2), m.ExponentialLR(o, 0.9)],
                        milestones=[4]), m.MultiStepLR(o, milestones=[10], gamma=0.5)]),
}


def check_round_trip(make, tmp_path, lrs=_lrs):
    """make(sched, optimizer) stepped 7 times, saved with tl.save, loaded into a fresh one: the
    two then step the same (``lrs(scheduler, n)``: what is compared after each step)."""
    s = make(sched, _opt())
    lrs(s, 7)
    tl.save(s.state_dict(), tmp_path / "s.npz")
    opt2 = _opt()
    s2 = make(sched, opt2)          # (made first: making a scheduler writes the group lrs)
    opt2.load_state_dict(s.optimizer.state_dict())
    s2.load_state_dict(tl.load(tmp_path / "s.npz"))
    assert s2.get_last_lr() == s.get_last_lr()
    assert lrs(s2, 15) == lrs(s, 15)


@pytest.mark.parametrize("name", list(MAKERS))
def test_state_dict_round_trip(name, tmp_path):
    check_round_trip(MAKERS[name], tmp_path)


def test_lambda_lr_state_dict_keeps_callable_objects_only():
    w = Warmup(5)
    s = sched.LambdaLR(_opt(), [lambda e: 1.0, w])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"n": 5}] and "optimizer" not in sd
    w2 = Warmup(1)
    s2 = sched.LambdaLR(_opt(), [lambda e: 1.0, w2])
    s2.load_state_dict(sd)
    assert w2.n == 5 and sd["lr_lambdas"] == [None, {"n": 5}]


@pytest.mark.parametrize("name", list(MAKERS))
def test_against_pytorch(name):
    torch = pytest.importorskip("torch")
    make = MAKERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (torch's "step order" warnings)
        ours = _lrs(make(sched, _opt(tl)), 30)
        theirs = _lrs(make(torch.optim.lr_scheduler, _opt(torch)), 30)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-13, atol=0)
