"""Adaptive average/max pooling (1-D, 2-D) and avg_pool1d / max_pool1d, functions and modules,
against PyTorch (values, indices, gradients), gradcheck in float64, PyTorch's errors."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F

from . import conv_ref


def _both(name, x, *args, **kw):
    """(tl results, torch results) of F.<name>(x, ...) and x's gradient for a random g."""
    torch = pytest.importorskip("torch")
    res = []
    for mod in (tl, torch):
        t = mod.tensor(x, requires_grad=True)
        out = getattr(mod.nn.functional, name)(t, *args, **kw)
        outs = out if isinstance(out, tuple) else (out,)
        g = np.random.default_rng(9).standard_normal(tuple(outs[0].shape))
        outs[0].backward(mod.tensor(g))
        res.append([o.detach().numpy() for o in outs] + [t.grad.numpy()])
    return res


@pytest.mark.parametrize("shape,size", [((2, 3, 7, 5), (3, 2)), ((1, 2, 4, 9), (6, 4)),
                                        ((3, 7, 5), (2, None)), ((2, 1, 6, 7), 1), ((1, 1, 3, 3), 5)])
def test_adaptive_pool2d_against_torch(shape, size):
    x = np.random.default_rng(0).standard_normal(shape)
    for name, kw in [("adaptive_avg_pool2d", {}), ("adaptive_max_pool2d", {"return_indices": True})]:
        got, want = _both(name, x, size, **kw)
        for a, e in zip(got, want):
            assert a.shape == e.shape and a.dtype == e.dtype
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,args,kw", [
    ("adaptive_avg_pool1d", (4,), {}),
    ("adaptive_max_pool1d", ((3,),), {"return_indices": True}),
    ("max_pool1d", (3, 2, 1), {"dilation": 2, "return_indices": True}),
    ("max_pool1d", (2,), {"ceil_mode": True}),
    ("avg_pool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("avg_pool1d", (4,), {}),
])
def test_pool1d_against_torch(name, args, kw):
    x = np.random.default_rng(1).standard_normal((2, 3, 11))
    got, want = _both(name, x, *args, **kw)
    for a, e in zip(got, want):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    got, want = _both(name, x[0], *args, **kw)     # unbatched (C, L)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)


def test_numpy_reference_float32_and_strided_input():
    x = np.random.default_rng(2).standard_normal((2, 3, 9, 6))
    t = tl.tensor(x, dtype=tl.float32).transpose(2, 3)        # strided (2, 3, 6, 9)
    for fn, red in [(F.adaptive_avg_pool2d, np.mean), (F.adaptive_max_pool2d, np.max)]:
        out = fn(t, (4, 5))
        assert out.dtype is tl.float32
        np.testing.assert_allclose(out.numpy(), conv_ref.adaptive_pool2d(x.transpose(0, 1, 3, 2), (4, 5), red),
                                   rtol=1e-5, atol=1e-6)


def test_max_nan_wins_and_gradient_goes_to_the_first_maximum():
    x = tl.tensor([[[1.0, 3.0, 3.0, float("nan"), 2.0]]], requires_grad=True)
    out, idx = F.adaptive_max_pool1d(x, 2, return_indices=True)   # cells [0, 3), [2, 5)
    assert idx.tolist() == [[[1, 3]]] and np.isnan(out.detach().numpy()[0, 0, 1])
    out.sum().backward()
    assert x.grad.tolist() == [[[0.0, 1.0, 0.0, 1.0, 0.0]]]


def test_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(3)
    x = tl.tensor(rng.standard_normal((1, 2, 5, 4)), requires_grad=True)
    x1 = tl.tensor(rng.standard_normal((2, 7)), requires_grad=True)
    for fn, inp in [(lambda t: F.adaptive_avg_pool2d(t, (3, 3)), x), (lambda t: F.adaptive_max_pool2d(t, (2, 3)), x),
                    (lambda t: F.adaptive_avg_pool1d(t, 3), x1), (lambda t: F.avg_pool1d(t, 3, 2, 1), x1),
                    (lambda t: F.max_pool1d(t, 2, 1), x1)]:
        assert tl.autograd.gradcheck(fn, [inp])
        assert tl.autograd.gradgradcheck(fn, [inp])


def test_modules_and_reprs():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal((2, 3, 8, 7)).astype(np.float32)
    x1 = x[:, :, 0]
    for ours, theirs, inp in [(tl.nn.AdaptiveAvgPool2d((2, None)), torch.nn.AdaptiveAvgPool2d((2, None)), x),
                              (tl.nn.AdaptiveMaxPool2d(3), torch.nn.AdaptiveMaxPool2d(3), x),
                              (tl.nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), x1),
                              (tl.nn.AdaptiveMaxPool1d(2), torch.nn.AdaptiveMaxPool1d(2), x1),
                              (tl.nn.MaxPool1d(3, 2), torch.nn.MaxPool1d(3, 2), x1),
                              (tl.nn.AvgPool1d(2), torch.nn.AvgPool1d(2), x1)]:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tl.tensor(inp)).numpy(), theirs(torch.tensor(inp)).numpy(),
                                   rtol=1e-6, atol=1e-6)
    v, i = tl.nn.AdaptiveMaxPool2d((2, 2), return_indices=True)(tl.tensor(x))
    assert i.dtype is tl.int64 and v.shape == i.shape == (2, 3, 2, 2)


def test_errors():
    x = tl.zeros(1, 2, 4, 4)
    with pytest.raises(RuntimeError, match="non-zero size"):
        F.adaptive_avg_pool2d(tl.zeros(1, 0, 4, 4), 2)
    with pytest.raises(RuntimeError, match="Expected 3D"):
        F.adaptive_max_pool2d(tl.zeros(4, 4), 2)
    with pytest.raises(RuntimeError, match="greater than or equal to 0"):
        F.adaptive_avg_pool2d(x, (-1, 2))
    with pytest.raises(TypeError):
        F.adaptive_avg_pool2d(x, (1, 2, 3))
    with pytest.raises(TypeError):
        F.adaptive_avg_pool2d(x.long(), 2)
    with pytest.raises(RuntimeError, match="Expected 2D"):
        F.max_pool1d(x, 2)
    with pytest.raises(RuntimeError, match="Expected 2D"):
        F.adaptive_avg_pool1d(x, 2)
    assert F.adaptive_avg_pool2d(tl.zeros(0, 2, 3, 3), 2).shape == (0, 2, 2, 2)


def test_half_inputs():
    x = tl.randn(2, 3, 5, 4)
    for dt in (tl.float16, tl.bfloat16):
        h = x.to(dt).requires_grad_()
        out, idx = F.adaptive_max_pool2d(h, (2, 3), return_indices=True)
        assert out.dtype is dt and idx.dtype is tl.int64
        avg = F.adaptive_avg_pool2d(h, 3)
        np.testing.assert_allclose(avg.float().detach().numpy(),
                                   F.adaptive_avg_pool2d(h.detach().float(), 3).to(dt).float().numpy())
        (avg.float().sum() + out.float().sum()).backward()
        assert h.grad.dtype is dt
