"""F.prelu and nn.PReLU: x where x > 0, else a learned slope times x (one slope, or one per
channel on dim 1). A composite of where/mul (no kernel of its own): forward against NumPy,
gradcheck and gradgradcheck in float64, PyTorch's values, gradients, errors and reprs."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import gradcheck, gradgradcheck


def _np_prelu(x, w):
    w = w.reshape((-1,) + (1,) * (x.ndim - 2)) if w.size > 1 else w.reshape(())
    return np.where(x > 0, x, w * x)


@pytest.mark.parametrize("xshape, wshape", [((5,), (1,)), ((4, 3), (3,)), ((2, 3, 4, 5), (3,)),
                                            ((2, 3, 4), (1,)), ((), (1,)), ((2, 3), ())])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_numpy(xshape, wshape, dtype):
    r = np.random.default_rng(0)
    x = r.standard_normal(xshape).astype(dtype)
    w = r.uniform(0.05, 0.5, wshape).astype(dtype)
    y = F.prelu(tl.tensor(x), tl.tensor(w))
    assert y.dtype.name == dtype and y.shape == x.shape
    np.testing.assert_allclose(y.numpy(), _np_prelu(x, w), rtol=1e-6)


def test_zero_nan_and_inf_follow_pytorch():
    x = tl.tensor([0.0, -0.0, float("nan"), float("inf"), -float("inf"), -2.0], requires_grad=True)
    w = tl.tensor([0.25], requires_grad=True)
    y = F.prelu(x, w)
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, -0.0, np.nan, np.inf, -np.inf, -0.5])
    y.sum().backward()
    # at x = 0 the input's gradient is the slope (PyTorch: x > 0 ? g : w * g)
    np.testing.assert_array_equal(x.grad.numpy(), [0.25, 0.25, 0.25, 1.0, 0.25, 0.25])
    assert np.isnan(w.grad.numpy()).all()   # sum over x <= 0 of x includes NaN and -inf


@pytest.mark.parametrize("xshape, n", [((4, 3), 3), ((2, 3, 2, 2), 3), ((3,), 1), ((2, 3, 4), 1)])
def test_gradcheck_and_gradgradcheck_float64(xshape, n):
    r = np.random.default_rng(1)
    x = r.standard_normal(xshape)
    x[np.abs(x) < 0.1] += 0.3   # keep away from the kink, where finite differences straddle it
    xt = tl.tensor(x, requires_grad=True)
    wt = tl.tensor(r.uniform(0.1, 0.5, n), requires_grad=True)
    assert gradcheck(F.prelu, (xt, wt))
    assert gradgradcheck(F.prelu, (xt, wt))


def test_errors_as_pytorch():
    with pytest.raises(RuntimeError, match="parameter numbers = 3 and channel size = 4"):
        F.prelu(tl.randn(2, 4), tl.ones(3))
    with pytest.raises(RuntimeError, match="parameter numbers = 3 and channel size = 1"):
        F.prelu(tl.randn(3), tl.ones(3))
    with pytest.raises(RuntimeError, match="scalar or 1D tensor, but got: ndim = 2"):
        F.prelu(tl.randn(2, 3), tl.ones(1, 3))
    with pytest.raises(RuntimeError, match="Type promoting not supported"):
        F.prelu(tl.randn(2, 3), tl.ones(1, dtype=tl.float64))
    with pytest.raises(TypeError, match="prelu: weight must be a Tensor"):
        F.prelu(tl.randn(2, 3), 0.25)


def test_module_parameters_repr_and_training():
    m = nn.PReLU(3, init=0.1)
    assert repr(m) == "PReLU(num_parameters=3)" and repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    np.testing.assert_allclose(m.weight.detach().numpy(), [0.1] * 3, rtol=1e-7)
    x = tl.tensor(-np.ones((2, 3, 4), np.float32))
    opt = tl.optim.SGD(m.parameters(), lr=0.1)
    m(x).sum().backward()   # d/dw of sum(w_c * -1) over 2*4 elements per channel = -8
    np.testing.assert_allclose(m.weight.grad.numpy(), [-8.0] * 3)
    opt.step()
    np.testing.assert_allclose(m.weight.detach().numpy(), [0.9] * 3, rtol=1e-6)


def test_matches_torch_values_and_gradients():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(2)
    x = r.standard_normal((2, 4, 3, 3)).astype(np.float32)
    tm, m = torch.nn.PReLU(4), nn.PReLU(4)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(r.uniform(0, 1, 4).astype(np.float32)))
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    tx, lx = torch.tensor(x, requires_grad=True), tl.tensor(x, requires_grad=True)
    g = r.standard_normal(x.shape).astype(np.float32)
    tm(tx).backward(torch.tensor(g))
    m(lx).backward(tl.tensor(g))
    np.testing.assert_allclose(m(lx).detach().numpy(), tm(tx).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)
