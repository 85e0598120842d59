"""F.l1_loss, F.smooth_l1_loss, F.huber_loss and nn.L1Loss / SmoothL1Loss / HuberLoss: values
against NumPy, values and gradients against PyTorch (at the kinks too), every reduction,
gradcheck / gradgradcheck in float64, NaN / Inf, empty and 0-d inputs, PyTorch's errors. (The
op-table checks are the L1Loss / SmoothL1Loss / HuberLoss lines of tests/test_ops.py SPECS.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(11)
NAN, INF = float("nan"), float("inf")


def _ref(name, d, p):
    a = np.abs(d)
    if name == "l1_loss":
        return a
    if name == "smooth_l1_loss":
        return np.where(a < p, 0.5 * d * d / p, a - 0.5 * p)
    return np.where(a < p, 0.5 * d * d, p * (a - 0.5 * p))


LOSSES = [("l1_loss", {}, None), ("smooth_l1_loss", {"beta": 0.8}, 0.8), ("smooth_l1_loss", {}, 1.0),
          ("huber_loss", {"delta": 0.6}, 0.6), ("huber_loss", {}, 1.0)]


def _t(a, grad=False, dtype=tl.float64):
    return tl.tensor(np.asarray(a, np.float64), dtype=dtype, requires_grad=grad)


@pytest.mark.parametrize("name,kw,p", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_values_and_gradcheck(name, kw, p, reduction):
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    x, t = _t(a, True), _t(b, True)
    f = getattr(F, name)
    ref = _ref(name, a - b, p)
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(f(x, t, reduction=reduction, **kw).detach().numpy(), ref, rtol=1e-12)
    fn = lambda u, v: f(u, v, reduction=reduction, **kw)   # noqa: E731
    assert gradcheck(fn, (x, t)) and gradgradcheck(fn, (x, t))
    f32 = f(_t(a, dtype=tl.float32), _t(b, dtype=tl.float32), reduction=reduction, **kw)
    assert f32.dtype is tl.float32
    np.testing.assert_allclose(f32.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_gradient_at_the_kinks():
    x = _t([0.0, 1.0, -1.0, 0.5, 2.0], True)
    t = _t(np.zeros(5))
    F.l1_loss(x, t, reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, -1, 1, 1])       # 0 at |d| = 0
    x.grad = None
    F.smooth_l1_loss(x, t, reduction="sum", beta=1.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, -1, 0.5, 1])     # 1 at |d| = beta
    x.grad = None
    F.huber_loss(x, t, reduction="sum", delta=0.5).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, -0.5, 0.5, 0.5])


def test_modules():
    x, t = _t(RNG.standard_normal(5), True), _t(RNG.standard_normal(5))
    assert tl.nn.L1Loss()(x, t).item() == pytest.approx(F.l1_loss(x, t).item())
    m = tl.nn.SmoothL1Loss(reduction="sum", beta=0.5)
    assert m.beta == 0.5 and m(x, t).item() == pytest.approx(F.smooth_l1_loss(x, t, "sum", 0.5).item())
    h = tl.nn.HuberLoss(reduction="none", delta=2.0)
    assert h.delta == 2.0 and h(x, t).shape == (5,)
    with pytest.raises(ValueError):
        tl.nn.HuberLoss(reduction="avg")


def test_nan_inf_empty_and_0d():
    x = _t([NAN, INF, 1.0], True)
    t = _t([0.0, 0.0, INF])
    for name in ("l1_loss", "smooth_l1_loss", "huber_loss"):
        out = getattr(F, name)(x, t, reduction="none").detach().numpy()
        assert np.isnan(out[0]) and out[1] == INF and out[2] == INF
    assert np.isnan(F.l1_loss(tl.zeros(0), tl.zeros(0)).item())                # mean of nothing
    assert F.huber_loss(tl.zeros(0), tl.zeros(0), reduction="sum").item() == 0
    assert F.smooth_l1_loss(tl.zeros(0, 2), tl.zeros(0, 2), reduction="none").shape == (0, 2)
    s = _t(0.3, True)
    F.smooth_l1_loss(s, _t(0.0)).backward()
    assert s.grad.item() == pytest.approx(0.3)


def test_errors():
    x = tl.zeros(3)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(x, x, reduction="foo")
    with pytest.raises(ValueError, match="must match input shape"):
        F.l1_loss(x, tl.zeros(2))
    with pytest.raises(TypeError):
        F.huber_loss(tl.tensor([1, 2]), tl.tensor([1, 2]))
    assert F.smooth_l1_loss(_t([0.5, -2.0]), _t([0.0, 0.0]), beta=0.0, reduction="sum").item() == 2.5  # = l1


def test_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    a = np.array([[0.0, 1.0, -1.0, 0.5], [2.0, -0.3, NAN, INF], [0.8, -0.8, 0.6, -0.6]])
    b = np.zeros_like(a)
    b[0, 3] = 0.5
    for name, kw, _ in LOSSES + [("smooth_l1_loss", {"beta": 0.0}, None)]:
        for reduction in ("none", "sum"):
            x, t = _t(a, True), _t(b, True)
            tx = torch.tensor(a, requires_grad=True)
            tt = torch.tensor(b, requires_grad=True)
            y = getattr(F, name)(x, t, reduction=reduction, **kw)
            ty = getattr(tf, name)(tx, tt, reduction=reduction, **kw)
            np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
            g = RNG.standard_normal(ty.shape)
            y.backward(_t(g))
            ty.backward(torch.tensor(g))
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, err_msg=f"{name} {kw}")
            np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12, err_msg=f"{name} {kw}")


@pytest.mark.parametrize("dt", [tl.float16, tl.bfloat16], ids=str)
def test_half_inputs(dt):
    x = tl.tensor([0.25, -2.0, 1.5]).to(dt).requires_grad_()
    t = tl.tensor([0.0, 0.0, 0.0]).to(dt)
    for name in ("l1_loss", "smooth_l1_loss", "huber_loss"):
        y = getattr(F, name)(x, t, reduction="sum")
        assert y.dtype is dt
        np.testing.assert_allclose(y.float().item(), _ref(name, np.array([0.25, -2.0, 1.5]), 1.0).sum(), rtol=1e-2)
    F.huber_loss(x, t, reduction="sum").float().backward()
    assert x.grad.dtype is dt and x.grad.float().numpy().tolist() == [0.25, -1.0, 1.0]
