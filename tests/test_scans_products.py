"""tl.cumsum, tl.prod (gradients with zeros), tl.amax / tl.amin: forward against NumPy, values and
gradients against PyTorch (ties, zeros, NaN / Inf), gradcheck / gradgradcheck in float64, dtype
rules, PyTorch's error types, empty and 0-d tensors. (The op-table checks are the Cumsum / Prod
lines of tests/test_ops.py SPECS; amax / amin are the Max / Min ops.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(3)
NAN, INF = float("nan"), float("inf")


def _t(a, grad=False):
    return tl.tensor(np.asarray(a, np.float64), dtype=tl.float64, requires_grad=grad)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_cumsum_forward_and_gradcheck(dim):
    a = RNG.standard_normal((3, 4, 2))
    x = _t(a, True)
    np.testing.assert_allclose(tl.cumsum(x, dim).detach().numpy(), np.cumsum(a, dim), rtol=1e-12)
    assert gradcheck(lambda t: t.cumsum(dim), (x,)) and gradgradcheck(lambda t: t.cumsum(dim), (x,))
    xt = _t(a.transpose(2, 0, 1).copy()).permute(1, 2, 0)          # a strided input
    np.testing.assert_allclose(xt.cumsum(dim).numpy(), np.cumsum(a, dim), rtol=1e-12)


def test_cumsum_dtypes_empty_and_0d():
    assert tl.cumsum(tl.tensor([1, 2, 3]), 0).numpy().tolist() == [1, 3, 6]
    b = tl.cumsum(tl.tensor([True, True, False]), 0)
    assert b.dtype is tl.int64 and b.numpy().tolist() == [1, 2, 2]
    f = tl.cumsum(tl.tensor([1, 2]), 0, dtype=tl.float64)
    assert f.dtype is tl.float64 and f.numpy().tolist() == [1.0, 3.0]
    h = tl.tensor([1.0, 2.0, 0.5]).to(tl.float16).cumsum(0)
    assert h.dtype is tl.float16 and h.to(tl.float32).numpy().tolist() == [1.0, 3.0, 3.5]
    assert tl.cumsum(tl.zeros(0, 3), 0).shape == (0, 3)
    s = _t(2.5, True)
    y = s.cumsum(0)
    assert y.shape == () and y.item() == 2.5
    y.backward()
    assert s.grad.item() == 1.0
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.cumsum(tl.zeros(2, 3), 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.tensor(1.0).cumsum(1)


def test_cumsum_nan_inf():
    out = tl.cumsum(tl.tensor([1.0, INF, -INF, 2.0]), 0).numpy()
    assert out[0] == 1 and out[1] == INF and np.isnan(out[2:]).all()
    out = tl.cumsum(tl.tensor([NAN, 1.0]), 0).numpy()
    assert np.isnan(out).all()


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_forward_gradcheck(dim):
    a = RNG.uniform(0.5, 1.5, (3, 4)) * RNG.choice([-1, 1], (3, 4))
    x = _t(a, True)
    f = (lambda t: t.prod()) if dim is None else (lambda t: t.prod(dim))
    np.testing.assert_allclose(f(x).detach().numpy(), np.prod(a, axis=dim), rtol=1e-12)
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


@pytest.mark.parametrize("zeros", [[(0, 1)], [(0, 1), (1, 2)], [(0, 1), (0, 3)], [(0, 0), (0, 1), (2, 2)]])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_gradient_with_zeros(zeros, dim):
    a = RNG.uniform(0.5, 1.5, (3, 4))
    for p in zeros:
        a[p] = 0.0
    f = (lambda t: t.prod()) if dim is None else (lambda t: t.prod(dim))
    assert gradcheck(f, (_t(a, True),))
    assert gradgradcheck(f, (_t(a, True),))
    x = _t(a, True)
    f(x).sum().backward()
    # the product of the other elements of each slice
    others = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        b = a.copy()
        b[idx] = 1.0
        others[idx] = np.prod(b) if dim is None else np.prod(b, axis=dim)[idx[1 - dim]]
    np.testing.assert_allclose(x.grad.numpy(), others, rtol=1e-12, atol=0)


def test_prod_dtypes_keepdim_empty_and_0d():
    assert tl.prod(tl.tensor([2, 3, 4])).item() == 24
    assert tl.prod(tl.tensor([True, False])).dtype is tl.int64
    assert tl.prod(tl.tensor([2, 3]), dtype=tl.float64).dtype is tl.float64
    assert tl.prod(tl.zeros(2, 3), 1, keepdim=True).shape == (2, 1)
    assert tl.prod(tl.zeros(0, 3)).item() == 1.0
    np.testing.assert_array_equal(tl.prod(tl.zeros(0, 3), 0).numpy(), [1, 1, 1])
    assert tl.prod(tl.zeros(2, 0), 0).shape == (0,)
    s = _t(3.0, True)
    s.prod().backward()
    assert s.grad.item() == 1.0
    assert tl.prod(tl.tensor(3.0), 0).item() == 3.0
    h = tl.tensor([2.0, 0.5, 3.0]).to(tl.bfloat16).prod()
    assert h.dtype is tl.bfloat16 and h.to(tl.float32).item() == 3.0
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.prod(tl.zeros(2, 3), -3)


def test_amax_amin():
    a = RNG.standard_normal((2, 3, 4))
    x = _t(a)
    np.testing.assert_array_equal(tl.amax(x, (0, 2)).numpy(), a.max(axis=(0, 2)))
    np.testing.assert_array_equal(tl.amin(x, -1, keepdim=True).numpy(), a.min(axis=-1, keepdims=True))
    assert tl.amax(x).item() == a.max() and x.amin().item() == a.min()
    t = _t([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], True)
    t.amax(1).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    assert gradgradcheck(lambda u: tl.amin(u, (0, 1)), (_t(a[0], True),))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        tl.amax(x, (0, 0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.amax(x, 3)
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        tl.amax(tl.zeros(2, 0), 1)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
        tl.amin(tl.zeros(2, 0))
    assert tl.amax(tl.zeros(0, 2), 1).shape == (0,)
    assert np.isnan(tl.amax(tl.tensor([1.0, NAN]), 0).item())


def test_against_torch():
    torch = pytest.importorskip("torch")
    a = RNG.uniform(-2, 2, (3, 4, 2))
    a[0, 1, 0] = 0.0
    a[1, 2, 1] = 0.0
    a[1, 3, 1] = 0.0
    a[2, :, 0] = [2.0, 2.0, -1.0, 2.0]           # ties for amax
    g_full = RNG.standard_normal(())
    cases = [("cumsum", (1,)), ("cumsum", (0,)), ("prod", ()), ("prod", (1,)), ("prod", (2,)),
             ("amax", ((0, 1),)), ("amin", (2,)), ("amax", ())]
    for name, args in cases:
        x, tx = _t(a, True), torch.tensor(a, requires_grad=True)
        y, ty = getattr(tl, name)(x, *args), getattr(torch, name)(tx, *args)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        g = RNG.standard_normal(ty.shape) if ty.ndim else g_full
        y.backward(_t(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15, err_msg=f"{name}{args}")


def test_prod_nan_inf_against_torch():
    # (not [0, 0, inf] over all elements: PyTorch's plain backward gives 0 there, its
    # create_graph backward NaN, as here -- see Prod's docstring)
    torch = pytest.importorskip("torch")
    for row in ([1.0, INF, 2.0], [0.0, INF, 2.0], [NAN, 2.0, 3.0], [0.0, NAN, 1.0], [0.0, 0.0, 3.0]):
        for dim in (None, 0):
            x, tx = _t(row, True), torch.tensor(row, dtype=torch.float64, requires_grad=True)
            y, ty = (x.prod(), tx.prod()) if dim is None else (x.prod(dim), tx.prod(dim))
            np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
            y.backward()
            ty.backward()
            np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy(), err_msg=f"{row} dim={dim}")
