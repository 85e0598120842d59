"""2-D convolution and pooling (tinygrad_lab/ops/conv.py, csrc/conv.c): forward against the
NumPy references of tests/conv_ref.py, values and gradients against PyTorch over a grid of
geometries, float64 gradcheck/gradgradcheck, the C VJP against the create_graph formula, PyTorch's
errors, NaN propagation, the nn modules, and a tiny CNN that learns."""
import itertools
import math
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab import nn

from . import conv_ref


def rng(seed=0):
    return np.random.default_rng(seed)


def t(a, grad=False, dtype=tl.float64):
    return tl.tensor(a, dtype=dtype, requires_grad=grad)


def npy(x):
    return x.detach().numpy()


# (C, OC, groups, kernel, conv kwargs)
CONV_GRID = [
    (3, 4, 1, (3, 3), dict()),
    (3, 4, 1, (3, 3), dict(padding=1)),
    (2, 6, 1, (3, 2), dict(stride=2, padding=(1, 0))),
    (4, 4, 2, (3, 3), dict(stride=(2, 1), padding=2, dilation=2, groups=2)),
    (4, 8, 4, (1, 3), dict(padding=(0, 1), groups=4)),
    (2, 3, 1, (2, 2), dict(padding="same")),
    (2, 3, 1, (3, 2), dict(padding="same", dilation=(1, 2))),
    (2, 3, 1, (3, 3), dict(padding="valid", stride=3)),
    (1, 2, 1, (5, 5), dict(padding=2, stride=(3, 2))),
]


@pytest.mark.parametrize("C,OC,G,k,kw", CONV_GRID)
def test_conv2d_forward_matches_numpy(C, OC, G, k, kw):
    r = rng(1)
    x, w, b = r.standard_normal((2, C, 7, 6)), r.standard_normal((OC, C // G) + k), r.standard_normal(OC)
    want = conv_ref.conv2d(x, w, b, **kw)
    np.testing.assert_allclose(npy(F.conv2d(t(x), t(w), t(b), **kw)), want, rtol=1e-12, atol=1e-12)
    y32 = F.conv2d(t(x, dtype=tl.float32), t(w, dtype=tl.float32), t(b, dtype=tl.float32), **kw)
    assert y32.dtype is tl.float32
    np.testing.assert_allclose(npy(y32), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("C,OC,G,k,kw", CONV_GRID)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch_values_and_gradients(C, OC, G, k, kw, bias):
    torch = pytest.importorskip("torch")
    r = rng(2)
    x, w, b = r.standard_normal((3, C, 8, 7)), r.standard_normal((OC, C // G) + k), r.standard_normal(OC)
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    y = F.conv2d(xt, wt, bt if bias else None, **kw)
    X, W, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # torch's note on "same" with an even kernel
        Y = torch.nn.functional.conv2d(X, W, B if bias else None, **kw)
    np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = r.standard_normal(Y.shape)
    y.backward(t(g))
    Y.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad.numpy(), W.grad.numpy(), rtol=1e-10, atol=1e-10)
    if bias:
        np.testing.assert_allclose(bt.grad.numpy(), B.grad.numpy(), rtol=1e-10, atol=1e-10)
    else:
        assert bt.grad is None


def test_conv2d_float32_matches_torch():
    torch = pytest.importorskip("torch")
    r = rng(3)
    x, w, b = (r.standard_normal(s).astype(np.float32) for s in ((4, 16, 12, 12), (8, 16, 3, 3), (8,)))
    xt, wt = t(x, True, tl.float32), t(w, True, tl.float32)
    y = F.conv2d(xt, wt, t(b, dtype=tl.float32), padding=1)
    X, W = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    Y = torch.nn.functional.conv2d(X, W, torch.tensor(b), padding=1)
    np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-4, atol=1e-4)
    y.sum().backward()
    Y.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(wt.grad.numpy(), W.grad.numpy(), rtol=1e-4, atol=1e-2)


def test_conv2d_unbatched_and_noncontiguous_inputs():
    r = rng(4)
    x, w = r.standard_normal((3, 6, 5)), r.standard_normal((2, 3, 3, 3))
    y = F.conv2d(t(x), t(w), padding=1)
    assert y.shape == (2, 6, 5)
    np.testing.assert_allclose(npy(y), conv_ref.conv2d(x[None], w, padding=1)[0], rtol=1e-12)
    # an input read through strides (a transposed view), a transposed weight
    xb = r.standard_normal((2, 3, 5, 6))
    xv = t(xb.transpose(0, 1, 3, 2).copy()).transpose(2, 3)
    assert not xv.is_contiguous()
    wv = t(w.transpose(0, 1, 3, 2).copy()).transpose(2, 3)
    np.testing.assert_allclose(npy(F.conv2d(xv, wv, stride=2)), conv_ref.conv2d(xb, w, stride=2), rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(padding=(1, 2), dilation=(2, 1), groups=2),
                                dict(padding="same")])
def test_conv2d_gradcheck_and_gradgradcheck(kw):
    r = rng(5)
    x = t(r.standard_normal((2, 4, 5, 4)), True)
    w = t(r.standard_normal((4, 4 // kw.get("groups", 1), 3, 2)), True)
    b = t(r.standard_normal(4), True)
    fn = lambda x, w, b: F.conv2d(x, w, b, **kw)   # noqa: E731
    assert tl.autograd.gradcheck(fn, (x, w, b))
    assert tl.autograd.gradgradcheck(fn, (x, w, b))


def test_conv2d_c_vjp_agrees_with_formula():
    r = rng(6)
    x, w, b = t(r.standard_normal((2, 4, 6, 5)), True), t(r.standard_normal((6, 2, 3, 3)), True), t(r.standard_normal(6), True)
    y = F.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2)
    g = t(r.standard_normal(y.shape))
    plain = tl.autograd.grad(y, [x, w, b], g, retain_graph=True)
    recorded = tl.autograd.grad(y, [x, w, b], g, create_graph=True)
    for p, q in zip(plain, recorded):
        np.testing.assert_allclose(p.numpy(), npy(q), rtol=1e-12, atol=1e-12)


def test_conv2d_second_derivative_matches_torch():
    torch = pytest.importorskip("torch")
    r = rng(7)
    x, w = r.standard_normal((2, 2, 5, 5)), r.standard_normal((3, 2, 3, 3))
    xt, wt = t(x, True), t(w, True)
    (gx,) = tl.autograd.grad(F.conv2d(xt, wt, padding=1).tanh().sum(), xt, create_graph=True)
    (gx * gx).sum().backward()
    X, W = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (GX,) = torch.autograd.grad(torch.nn.functional.conv2d(X, W, padding=1).tanh().sum(), X, create_graph=True)
    (GX * GX).sum().backward()
    np.testing.assert_allclose(wt.grad.numpy(), W.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_conv2d_nan_propagates_only_where_read():
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 0, 0] = np.nan
    y = npy(F.conv2d(t(x), t(np.ones((1, 1, 3, 3)))))
    assert np.isnan(y[0, 0, 0, 0]) and np.isfinite(y[0, 0, 1:, :]).all() and np.isfinite(y[0, 0, :, 1:]).all()
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 1, 1] = np.nan
    assert np.isnan(npy(F.conv2d(t(np.ones((1, 1, 4, 4))), t(w)))).all()


def test_pooling_zero_batch():
    x = t(np.zeros((0, 2, 4, 4)), True)
    assert F.max_pool2d(x, 2).shape == F.avg_pool2d(x, 2).shape == (0, 2, 2, 2)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.shape == (0, 2, 4, 4)


def test_conv2d_zero_batch():
    x, w = t(np.zeros((0, 2, 4, 4)), True), t(np.ones((3, 2, 3, 3)), True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (0, 3, 4, 4)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 4, 4) and (w.grad.numpy() == 0).all()


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.conv2d(t(np.zeros((2, 3, 4))[0]), t(np.zeros((1, 3, 1, 1)))), RuntimeError, r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[3, 4\]"),
    (lambda: F.conv2d(t(np.zeros((1, 2, 3, 4, 5))), t(np.zeros((1, 2, 1, 1)))), ValueError, r"input of size: \[1, 2, 3, 4, 5\]"),
    (lambda: F.conv2d(t(np.zeros((2, 4, 5, 5))), t(np.zeros((8, 3, 3, 3)))), RuntimeError, r"weight of size \[8, 3, 3, 3\], expected input\[2, 4, 5, 5\] to have 3 channels, but got 4"),
    (lambda: F.conv2d(t(np.zeros((2, 4, 5, 5))), t(np.zeros((6, 3, 3, 3))), groups=4), RuntimeError, r"Given groups=4, expected weight to be divisible by 4 at dimension 0"),
    (lambda: F.conv2d(t(np.zeros((2, 5, 5, 5))), t(np.zeros((4, 2, 3, 3))), groups=2), ValueError, r"to have 4 channels, but got 5"),
    (lambda: F.conv2d(t(np.zeros((1, 1, 2, 2))), t(np.zeros((1, 1, 3, 3)))), RuntimeError, r"padded input size per channel: \(2 x 2\). Kernel size: \(3 x 3\)"),
    (lambda: F.conv2d(t(np.zeros((1, 1, 4, 4))), t(np.zeros((1, 1, 3, 3))), dilation=2), ValueError, r"Kernel size: \(5 x 5\)"),
    (lambda: F.conv2d(tl.zeros(1, 1, 4, 4, dtype=tl.int64), tl.zeros(1, 1, 3, 3, dtype=tl.int64)), TypeError, r"input must be a floating-point tensor .*got .*int64"),
    (lambda: F.conv2d(tl.zeros(1, 1, 4, 4), t(np.zeros((1, 1, 3, 3)))), RuntimeError, r"same dtype"),
    (lambda: F.conv2d(t(np.zeros((1, 1, 4, 4))), t(np.zeros((1, 1, 3, 3))), stride=2, padding="same"), RuntimeError, r"padding='same' is not supported for strided"),
    (lambda: F.conv2d(t(np.zeros((1, 1, 4, 4))), t(np.zeros((1, 1, 3, 3))), padding="full"), ValueError, r"Invalid padding string 'full'"),
    (lambda: F.conv2d(t(np.zeros((1, 1, 4, 4))), t(np.zeros((2, 1, 3, 3))), t(np.zeros(3))), ValueError, r"bias of size \[3\]"),
    (lambda: F.conv2d(t(np.zeros((1, 1, 4, 4))), t(np.zeros((1, 1, 3, 3))), stride=0), ValueError, r"non-positive stride"),
    (lambda: F.conv2d(t(np.zeros((1, 1, 4, 4))), t(np.zeros((1, 1, 3)))), ValueError, r"weight must be 4-D"),
    (lambda: F.conv2d(np.zeros((1, 1, 4, 4)), t(np.zeros((1, 1, 3, 3)))), TypeError, r"input must be a Tensor"),
    (lambda: F.max_pool2d(t(np.zeros((4, 4))), 2), RuntimeError, r"Expected 3D \(unbatched\) or 4D \(batched\) input to max_pool2d"),
    (lambda: F.max_pool2d(t(np.zeros((1, 1, 4, 4))), 2, padding=2), RuntimeError, r"pad should be at most half of effective kernel size"),
    (lambda: F.max_pool2d(t(np.zeros((1, 1, 2, 2))), 3), RuntimeError, r"Output size is too small"),
    (lambda: F.max_pool2d(t(np.zeros((2, 0, 4, 4))), 2), RuntimeError, r"optional 0 dim batch size for input, but got: \[2, 0, 4, 4\]"),
    (lambda: F.avg_pool2d(tl.zeros(1, 1, 4, 4, dtype=tl.int64), 2), TypeError, r"must be a floating-point tensor"),
    (lambda: F.avg_pool2d(t(np.zeros((1, 1, 4, 4))), 2, divisor_override=0), RuntimeError, r"divisor must be not zero"),
    (lambda: F.avg_pool2d(t(np.zeros((1, 1, 4, 4))), 0), ValueError, r"kernel_size must be greater than zero"),
])
def test_errors_are_pytorchs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_module_errors_are_pytorchs():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(4, 3, 3, stride=2, padding="same")
    with pytest.raises(NotImplementedError, match="padding_mode='reflect'"):
        nn.Conv2d(4, 3, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expects 4D input"):
        nn.BatchNorm2d(3)(tl.zeros(2, 3, 4))


# ---- pooling -------------------------------------------------------------------------------------

POOL_GRID = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("kw", POOL_GRID)
@pytest.mark.parametrize("dilation", [1, (2, 1)])
def test_max_pool2d_matches_numpy_and_torch(kw, dilation):
    r = rng(8)
    x = r.standard_normal((2, 3, 7, 6))
    xt = t(x, True)
    y, idx = F.max_pool2d(xt, dilation=dilation, return_indices=True, **kw)
    np.testing.assert_array_equal(npy(y), conv_ref.max_pool2d(x, kw["kernel_size"], kw.get("stride"),
                                                              kw.get("padding", 0), dilation, kw.get("ceil_mode", False)))
    assert idx.dtype is tl.int64 and idx.shape == y.shape
    torch = pytest.importorskip("torch")
    X = torch.tensor(x, requires_grad=True)
    Y, I = torch.nn.functional.max_pool2d(X, dilation=dilation, return_indices=True, **kw)
    np.testing.assert_array_equal(idx.numpy(), I.numpy())
    g = r.standard_normal(Y.shape)
    y.backward(t(g))
    Y.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool2d_ties_and_nan_as_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0],
                    [np.nan, 0.0, 5.0, np.nan], [3.0, np.nan, -np.inf, -np.inf]]]])
    y, idx = F.max_pool2d(t(x), 2, return_indices=True)
    Y, I = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(npy(y), Y.numpy())          # (NaN == NaN for assert_array_equal)
    np.testing.assert_array_equal(idx.numpy(), I.numpy())
    xt = t(x, True)
    F.max_pool2d(xt, 2).sum().backward()
    X = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(X, 2).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), X.grad.numpy())
    # a window of -inf only (and padding): the maximum is -inf, its index the first element
    y, idx = F.max_pool2d(t(np.full((1, 1, 2, 2), -np.inf)), 2, padding=1, return_indices=True)
    Y, I = torch.nn.functional.max_pool2d(torch.full((1, 1, 2, 2), -math.inf, dtype=torch.float64), 2,
                                          padding=1, return_indices=True)
    np.testing.assert_array_equal(npy(y), Y.numpy())
    np.testing.assert_array_equal(idx.numpy(), I.numpy())


@pytest.mark.parametrize("kw", [k for k in POOL_GRID])
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 5)])
def test_avg_pool2d_matches_numpy_and_torch(kw, count_include_pad, divisor_override):
    r = rng(9)
    x = r.standard_normal((2, 3, 7, 6))
    xt = t(x, True)
    y = F.avg_pool2d(xt, count_include_pad=count_include_pad, divisor_override=divisor_override, **kw)
    want = conv_ref.avg_pool2d(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0),
                               kw.get("ceil_mode", False), count_include_pad, divisor_override)
    np.testing.assert_allclose(npy(y), want, rtol=1e-12, atol=1e-12)
    torch = pytest.importorskip("torch")
    X = torch.tensor(x, requires_grad=True)
    Y = torch.nn.functional.avg_pool2d(X, count_include_pad=count_include_pad,
                                       divisor_override=divisor_override, **kw)
    np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = r.standard_normal(Y.shape)
    y.backward(t(g))
    Y.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_pooling_gradcheck_and_gradgradcheck():
    r = rng(10)
    x = t(r.standard_normal((2, 2, 5, 4)), True)
    for fn in (lambda a: F.max_pool2d(a, 2, padding=1), lambda a: F.max_pool2d(a, 3, 1, 1, 2, ceil_mode=True),
               lambda a: F.avg_pool2d(a, 3, 2, 1), lambda a: F.avg_pool2d(a, 2, 1, 1, True, False)):
        assert tl.autograd.gradcheck(fn, (x,))
        assert tl.autograd.gradgradcheck(fn, (x,))


def test_pooling_unbatched_float32_and_noncontiguous():
    r = rng(11)
    x = r.standard_normal((3, 6, 5)).astype(np.float32)
    y = F.max_pool2d(t(x, dtype=tl.float32), 2)
    assert y.dtype is tl.float32 and y.shape == (3, 3, 2)
    np.testing.assert_array_equal(npy(y), conv_ref.max_pool2d(x[None], 2)[0])
    xv = t(x.transpose(0, 2, 1).copy()).transpose(1, 2)
    np.testing.assert_allclose(npy(F.avg_pool2d(xv, 2, 1)), conv_ref.avg_pool2d(x[None].astype(np.float64), 2, 1)[0], rtol=1e-6)


def test_avg_pool2d_nan_propagates():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = np.nan
    y = npy(F.avg_pool2d(t(x), 2))
    assert np.isnan(y[0, 0, 0, 0]) and np.isfinite(y.reshape(-1)[1:]).all()


# ---- modules, conv1d, batch norm, unfold / fold ---------------------------------------------------

def test_conv2d_module_init_and_repr_as_torch():
    torch = pytest.importorskip("torch")
    for args, kw in [((3, 8, 3), dict(padding=1)), ((4, 8, (3, 2)), dict(stride=2, padding=(1, 0), dilation=2, groups=2, bias=False)),
                     ((4, 8, 3), dict(padding="same")), ((2, 4, 1), dict())]:
        m, tm = nn.Conv2d(*args, **kw), torch.nn.Conv2d(*args, **kw)
        assert repr(m) == repr(tm)
        assert m.weight.shape == tuple(tm.weight.shape)
        fan_in = tm.weight.shape[1] * tm.weight.shape[2] * tm.weight.shape[3]
        bound = 1 / math.sqrt(fan_in)      # kaiming_uniform(a=sqrt(5)) and the bias bound
        assert float(m.weight.abs().max()) <= bound and float(m.weight.abs().max()) > 0.5 * bound
        if m.bias is not None:
            assert float(m.bias.abs().max()) <= bound
        else:
            assert tm.bias is None
    assert repr(nn.Conv1d(4, 8, 3, stride=2)) == repr(torch.nn.Conv1d(4, 8, 3, stride=2))
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))
    assert repr(nn.MaxPool2d(3, 2, 1, ceil_mode=True)) == repr(torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    assert repr(nn.AvgPool2d(2)) == repr(torch.nn.AvgPool2d(2))


def test_conv2d_module_matches_torch_with_copied_weights():
    torch = pytest.importorskip("torch")
    tm = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    m = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=tl.float64)
    m.weight.data = t(tm.weight.detach().numpy())
    m.bias.data = t(tm.bias.detach().numpy())
    x = rng(12).standard_normal((2, 4, 7, 7))
    np.testing.assert_allclose(npy(m(t(x))), tm(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]


def test_conv1d_matches_torch():
    torch = pytest.importorskip("torch")
    r = rng(13)
    for kw in (dict(), dict(stride=2, padding=1, dilation=2), dict(padding="same"), dict(groups=2, padding=(1,))):
        x, w, b = r.standard_normal((2, 4, 9)), r.standard_normal((6, 4 // kw.get("groups", 1), 3)), r.standard_normal(6)
        xt, wt = t(x, True), t(w, True)
        y = F.conv1d(xt, wt, t(b), **kw)
        X, W = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        Y = torch.nn.functional.conv1d(X, W, torch.tensor(b), **kw)
        np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-12, atol=1e-12)
        y.sum().backward()
        Y.sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(wt.grad.numpy(), W.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert nn.Conv1d(4, 6, 3, padding=1)(tl.zeros(4, 9)).shape == (6, 9)


def test_batchnorm2d_matches_torch():
    torch = pytest.importorskip("torch")
    x = rng(14).standard_normal((4, 3, 5, 5))
    m, tm = nn.BatchNorm2d(3, dtype=tl.float64), torch.nn.BatchNorm2d(3).double()
    xt, X = t(x, True), torch.tensor(x, requires_grad=True)
    y, Y = m(xt), tm(X)
    np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-10, atol=1e-10)
    (y * y).sum().backward()
    (Y * Y).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(m.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(m.running_var.numpy(), tm.running_var.numpy(), rtol=1e-10)
    m.eval()
    tm.eval()
    np.testing.assert_allclose(npy(m(t(x))), tm(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-10)


def test_unfold_and_fold_match_torch():
    torch = pytest.importorskip("torch")
    x = rng(15).standard_normal((2, 3, 5, 6))
    kw = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    u = F.unfold(t(x), **kw)
    U = torch.nn.functional.unfold(torch.tensor(x), **kw)
    np.testing.assert_array_equal(npy(u), U.numpy())
    np.testing.assert_allclose(npy(F.fold(u, (5, 6), **kw)), torch.nn.functional.fold(U, (5, 6), **kw).numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="match the calculated number of sliding blocks"):
        F.fold(u, (6, 6), **kw)


def test_conv2d_large_batch_runs_in_chunks_with_the_same_result():
    # columns of 64 * 3 * 3 * 32 * 32 per sample: csrc/conv.c's 2^23-element budget holds 14 of
    # them, so this batch of 20 runs as two chunks (dW and db accumulate over them)
    torch = pytest.importorskip("torch")
    r = rng(20)
    x, w, b = r.standard_normal((20, 64, 32, 32)), r.standard_normal((3, 64, 3, 3)), r.standard_normal(3)
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    y = F.conv2d(xt, wt, bt, padding=1)
    X, W, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    Y = torch.nn.functional.conv2d(X, W, B, padding=1)
    np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = r.standard_normal(Y.shape)
    y.backward(t(g))
    Y.backward(torch.tensor(g))
    for ours, theirs in ((xt, X), (wt, W), (bt, B)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dt", [tl.float16, tl.bfloat16], ids=str)
def test_half_inputs_compute_in_float32(dt):
    r = rng(21)
    x, w = r.standard_normal((2, 3, 6, 6)), r.standard_normal((4, 3, 3, 3))
    xh, wh = t(x, True, dt), t(w, True, dt)
    y = F.max_pool2d(F.conv2d(xh, wh, padding=1), 2)
    assert y.dtype is dt
    want = F.max_pool2d(F.conv2d(xh.detach().float(), wh.detach().float(), padding=1), 2).to(dt)
    np.testing.assert_array_equal(y.detach().float().numpy(), want.float().numpy())
    y.float().sum().backward()
    assert xh.grad.dtype is dt and wh.grad.dtype is dt


def test_a_cnn_step_replays_under_jit():
    def run(jit):
        tl.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 4, 3, groups=2), nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(),
                          nn.Linear(4, 2))
        opt = tl.optim.SGD(m.parameters(), lr=0.1)
        x, y = tl.randn(8, 1, 8, 8), tl.tensor([0, 1] * 4)

        def step(xb, yb):
            loss = F.cross_entropy(m(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        s = tl.jit(step) if jit else step
        return [s(x, y).item() for _ in range(4)]
    assert run(True) == run(False)


# ---- a tiny CNN learns ----------------------------------------------------------------------------

def test_tiny_cnn_learns_bar_orientation():
    """Conv2d-ReLU-MaxPool-Linear tells horizontal bars from vertical ones in 8x8 images."""
    tl.manual_seed(0)
    r = rng(16)
    n = 64
    imgs = r.standard_normal((n, 1, 8, 8)) * 0.3
    labels = np.arange(n) % 2
    for k in range(n):
        pos = r.integers(1, 7)
        if labels[k]:
            imgs[k, 0, :, pos] += 2.0
        else:
            imgs[k, 0, pos, :] += 2.0
    x, y = t(imgs, dtype=tl.float32), tl.tensor(labels)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 2))
    opt = tl.optim.Adam(model.parameters(), lr=0.02)
    first = None
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = float((model(x).argmax(1) == y).float().mean())
    assert loss.item() < 0.2 * first and acc == 1.0, (first, loss.item(), acc)


def test_grid_covers_every_geometry_argument():
    # (meta) the torch grid exercises each conv argument at a non-default value
    used = set(itertools.chain.from_iterable(kw for *_, kw in CONV_GRID))
    assert {"stride", "padding", "dilation", "groups"} <= used
