"""Volumetric layers (tinygrad_lab/ops/conv.py, csrc/conv.c's 3-D geometry): conv3d and
conv_transpose3d, max/avg/adaptive pooling 3d, max_unpool1d/2d/3d, BatchNorm3d. Forward against
the NumPy references of tests/conv_ref.py, values and every gradient against PyTorch over a grid
of geometries, float64 gradcheck/gradgradcheck, the C VJP against the create_graph formula,
PyTorch's errors, unbatched and non-contiguous inputs, the nn modules."""
import math

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
CONV3D_GRID = [
    (3, 4, 1, (3, 3, 3), dict()),
    (3, 4, 1, (3, 3, 3), dict(padding=1)),
    (2, 6, 1, (2, 3, 2), dict(stride=2, padding=(1, 0, 1))),
    (4, 4, 2, (3, 2, 3), dict(stride=(1, 2, 1), padding=2, dilation=(2, 1, 2), groups=2)),
    (4, 8, 4, (1, 1, 3), dict(padding=(0, 0, 1), groups=4)),
    (2, 3, 1, (2, 2, 2), dict(padding="same")),
    (2, 3, 1, (3, 2, 3), dict(padding="same", dilation=(1, 2, 1))),
    (2, 3, 1, (2, 3, 3), dict(padding="valid", stride=(1, 3, 2))),
]


@pytest.mark.parametrize("C,OC,G,k,kw", CONV3D_GRID)
def test_conv3d_forward_matches_numpy(C, OC, G, k, kw):
    r = rng(1)
    x, w, b = r.standard_normal((2, C, 5, 6, 5)), r.standard_normal((OC, C // G) + k), r.standard_normal(OC)
    want = conv_ref.conv3d(x, w, b, **kw)
    np.testing.assert_allclose(npy(F.conv3d(t(x), t(w), t(b), **kw)), want, rtol=1e-12, atol=1e-12)
    y32 = F.conv3d(t(x, dtype=tl.float32), t(w, dtype=tl.float32), t(b, dtype=tl.float32), **kw)
    assert y32.dtype is tl.float32
    np.testing.assert_allclose(npy(y32), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("C,OC,G,k,kw", CONV3D_GRID)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv3d_matches_torch_values_and_gradients(C, OC, G, k, kw, bias):
    torch = pytest.importorskip("torch")
    r = rng(2)
    x, w = r.standard_normal((2, C, 5, 6, 5)), r.standard_normal((OC, C // G) + k)
    b = r.standard_normal(OC) if bias else None
    for dt, tdt, tol in ((tl.float64, torch.float64, 1e-11), (tl.float32, torch.float32, 2e-4)):
        xs = [t(x, True, dt), t(w, True, dt)] + ([t(b, True, dt)] if bias else [])
        ts = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in ([x, w] + ([b] if bias else []))]
        y = F.conv3d(xs[0], xs[1], xs[2] if bias else None, **kw)
        Y = torch.nn.functional.conv3d(ts[0], ts[1], ts[2] if bias else None, **kw)
        np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=tol, atol=tol)
        g = r.standard_normal(Y.shape)
        y.backward(t(g, dtype=dt))
        Y.backward(torch.tensor(g, dtype=tdt))
        for a, A in zip(xs, ts):
            np.testing.assert_allclose(a.grad.numpy(), A.grad.numpy(), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(padding=(1, 1, 0), dilation=(1, 2, 1), groups=2),
                                dict(padding="same")])
def test_conv3d_gradcheck_and_gradgradcheck(kw):
    r = rng(5)
    x = t(r.standard_normal((2, 4, 3, 4, 3)), True)
    w = t(r.standard_normal((4, 4 // kw.get("groups", 1), 2, 3, 2)), True)
    b = t(r.standard_normal(4), True)
    fn = lambda x, w, b: F.conv3d(x, w, b, **kw)   # noqa: E731
    assert tl.autograd.gradcheck(fn, (x, w, b))
    assert tl.autograd.gradgradcheck(fn, (x, w, b))


def test_conv3d_c_vjp_agrees_with_formula():
    r = rng(6)
    x, w, b = t(r.standard_normal((2, 4, 4, 5, 4)), True), t(r.standard_normal((6, 2, 3, 2, 3)), True), t(r.standard_normal(6), True)
    wt, bt = t(r.standard_normal((4, 3, 3, 2, 3)), True), t(r.standard_normal(6), True)
    for y, ins in ((F.conv3d(x, w, b, stride=(2, 1, 2), padding=1, groups=2), [x, w, b]),
                   (F.conv_transpose3d(x, wt, bt, (2, 1, 2), 1, (1, 0, 0), groups=2), [x, wt, bt])):
        g = t(r.standard_normal(y.shape))
        plain = tl.autograd.grad(y, ins, g, retain_graph=True)
        recorded = tl.autograd.grad(y, ins, g, create_graph=True)
        for p, q in zip(plain, recorded):
            np.testing.assert_allclose(p.numpy(), npy(q), rtol=1e-12, atol=1e-12)


def test_conv3d_second_derivative_matches_torch():
    torch = pytest.importorskip("torch")
    r = rng(7)
    x, w = r.standard_normal((2, 2, 4, 4, 4)), r.standard_normal((3, 2, 3, 3, 3))
    xt, wt = t(x, True), t(w, True)
    (gx,) = tl.autograd.grad(F.conv3d(xt, wt, padding=1).tanh().sum(), xt, create_graph=True)
    (gx * gx).sum().backward()
    X, W = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (GX,) = torch.autograd.grad(torch.nn.functional.conv3d(X, W, padding=1).tanh().sum(), X, create_graph=True)
    (GX * GX).sum().backward()
    np.testing.assert_allclose(wt.grad.numpy(), W.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_conv3d_unbatched_and_noncontiguous_inputs():
    r = rng(3)
    x, w = r.standard_normal((3, 5, 4, 6)), r.standard_normal((2, 3, 2, 2, 3))
    y = F.conv3d(t(x), t(w), padding=1)
    assert y.shape == (2, 6, 5, 6)
    np.testing.assert_allclose(npy(y), conv_ref.conv3d(x[None], w, padding=1)[0], rtol=1e-12, atol=1e-12)
    xb = r.standard_normal((2, 3, 5, 4, 6))
    xv = t(xb.transpose(0, 1, 4, 3, 2).copy(), True).permute(0, 1, 4, 3, 2)   # strided view
    wv = t(w.transpose(0, 1, 2, 4, 3).copy(), True).transpose(3, 4)
    assert not xv.is_contiguous()
    y = F.conv3d(xv, wv, stride=(1, 2, 1), padding=(1, 0, 1))
    np.testing.assert_allclose(npy(y), conv_ref.conv3d(xb, w, stride=(1, 2, 1), padding=(1, 0, 1)), rtol=1e-12, atol=1e-12)
    (gx,) = tl.autograd.grad(y.sum(), xv)
    x2 = t(xb, True)
    F.conv3d(x2, t(w), stride=(1, 2, 1), padding=(1, 0, 1)).sum().backward()
    np.testing.assert_allclose(gx.numpy(), x2.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_conv3d_zero_batch_and_nan():
    x, w = t(np.zeros((0, 2, 3, 4, 4)), True), t(np.ones((3, 2, 3, 3, 3)), True)
    y = F.conv3d(x, w, padding=1)
    assert y.shape == (0, 3, 3, 4, 4)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 3, 4, 4) and (w.grad.numpy() == 0).all()
    a = np.zeros((1, 1, 4, 4, 4))
    a[0, 0, 0, 0, 0] = np.nan
    y = npy(F.conv3d(t(a), t(np.ones((1, 1, 2, 2, 2)))))
    assert np.isnan(y[0, 0, 0, 0, 0]) and np.isfinite(y[0, 0, 1:]).all() and np.isfinite(y[0, 0, :, 1:]).all()


def test_conv3d_large_batch_runs_in_chunks_with_the_same_result():
    # columns of 8 * 27 * 16^3 per sample: a batch of 80 exceeds the columns budget (2^23)
    r = rng(4)
    x, w = r.standard_normal((80, 8, 16, 16, 16)).astype(np.float32), r.standard_normal((2, 8, 3, 3, 3)).astype(np.float32)
    xt, wt = t(x, True, tl.float32), t(w, True, tl.float32)
    y = F.conv3d(xt, wt, padding=1)
    y.sum().backward()
    for lo in (0, 41, 79):
        xs = t(x[lo:lo + 1], True, tl.float32)
        ys = F.conv3d(xs, t(w, dtype=tl.float32), padding=1)
        np.testing.assert_allclose(npy(y)[lo:lo + 1], npy(ys), rtol=1e-5, atol=1e-5)
        ys.sum().backward()
        np.testing.assert_allclose(xt.grad.numpy()[lo:lo + 1], xs.grad.numpy(), rtol=1e-5, atol=1e-5)
    want = conv_ref.conv3d(x[:2].astype(np.float64), w.astype(np.float64), padding=1)
    np.testing.assert_allclose(npy(y)[:2], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dt", [tl.float16, tl.bfloat16], ids=str)
def test_half_inputs_compute_in_float32(dt):
    r = rng(24)
    x, w = r.standard_normal((2, 3, 4, 6, 6)), r.standard_normal((4, 3, 3, 3, 3))
    xh, wh = t(x, True, dt), t(w, True, dt)
    y = F.avg_pool3d(F.max_pool3d(F.conv3d(xh, wh, padding=1), 2), 1)
    assert y.dtype is dt
    want = F.max_pool3d(F.conv3d(xh.detach().float(), wh.detach().float(), padding=1), 2).to(dt)
    np.testing.assert_array_equal(y.detach().float().numpy(), want.float().numpy())
    y.float().sum().backward()
    assert xh.grad.dtype is dt and wh.grad.dtype is dt


# ---- conv_transpose3d ----------------------------------------------------------------------------

TRANSPOSE3D_GRID = [
    (3, 4, 1, (3, 3, 3), dict()),
    (4, 6, 2, (2, 3, 2), dict(stride=2, padding=1, output_padding=1, groups=2)),
    (2, 3, 1, (3, 2, 3), dict(stride=(1, 2, 3), padding=(0, 1, 1), output_padding=(0, 1, 2), dilation=(2, 1, 1))),
]


@pytest.mark.parametrize("C,OC,G,k,kw", TRANSPOSE3D_GRID)
def test_conv_transpose3d_matches_numpy_and_torch(C, OC, G, k, kw):
    r = rng(9)
    x, w, b = r.standard_normal((2, C, 3, 4, 3)), r.standard_normal((C, OC // G) + k), r.standard_normal(OC)
    xs = [t(x, True), t(w, True), t(b, True)]
    y = F.conv_transpose3d(*xs, **kw)
    np.testing.assert_allclose(npy(y), conv_ref.conv_transpose3d(x, w, b, **kw), rtol=1e-12, atol=1e-12)
    fn = lambda x, w, b: F.conv_transpose3d(x, w, b, **kw)   # noqa: E731
    small = [t(a[:1, :, :2] if i == 0 else a, True) for i, a in enumerate((x, w, b))]
    assert tl.autograd.gradcheck(fn, small) and tl.autograd.gradgradcheck(fn, small)
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    Y = torch.nn.functional.conv_transpose3d(*ts, **kw)
    g = r.standard_normal(Y.shape)
    y.backward(t(g))
    Y.backward(torch.tensor(g))
    for a, A in zip(xs, ts):
        np.testing.assert_allclose(a.grad.numpy(), A.grad.numpy(), rtol=1e-11, atol=1e-11)


# ---- errors --------------------------------------------------------------------------------------

def z(*shape):
    return t(np.zeros(shape))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.conv3d(z(3, 4, 4), z(1, 3, 1, 1, 1)), RuntimeError, r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d, but got input of size: \[3, 4, 4\]"),
    (lambda: F.conv3d(z(2, 4, 5, 5, 5), z(8, 3, 3, 3, 3)), RuntimeError, r"weight of size \[8, 3, 3, 3, 3\], expected input\[2, 4, 5, 5, 5\] to have 3 channels, but got 4"),
    (lambda: F.conv3d(z(2, 4, 5, 5, 5), z(6, 1, 3, 3, 3), groups=4), RuntimeError, r"Given groups=4, expected weight to be divisible by 4 at dimension 0"),
    (lambda: F.conv3d(z(1, 1, 2, 4, 4), z(1, 1, 3, 3, 3)), RuntimeError, r"padded input size per channel: \(2 x 4 x 4\). Kernel size: \(3 x 3 x 3\)"),
    (lambda: F.conv3d(z(1, 1, 4, 4, 4), z(1, 1, 3, 3, 3), stride=2, padding="same"), RuntimeError, r"padding='same' is not supported for strided"),
    (lambda: F.conv3d(z(1, 1, 4, 4, 4), z(1, 1, 3, 3)), ValueError, r"weight must be 5-D \(out_channels, in_channels/groups, kD, kH, kW\)"),
    (lambda: F.conv3d(z(1, 1, 4, 4, 4), z(1, 1, 3, 3, 3), stride=(1, 2)), TypeError, r"stride must be an int or a triple of ints"),
    (lambda: F.conv3d(z(1, 1, 4, 4, 4), z(1, 1, 3, 3, 3), stride=(1, 0, 1)), ValueError, r"non-positive stride"),
    (lambda: F.conv3d(z(1, 1, 4, 4, 4), z(2, 1, 3, 3, 3), z(3)), ValueError, r"bias of size \[3\]"),
    (lambda: F.conv3d(tl.zeros(1, 1, 4, 4, 4, dtype=tl.int64), tl.zeros(1, 1, 3, 3, 3, dtype=tl.int64)), TypeError, r"floating-point tensor"),
    (lambda: F.conv3d(tl.zeros(1, 1, 4, 4, 4), z(1, 1, 3, 3, 3)), RuntimeError, r"same dtype"),
    (lambda: F.conv_transpose3d(z(1, 2, 3, 3, 3), z(3, 1, 2, 2, 2)), RuntimeError, r"Given transposed=1, weight of size \[3, 1, 2, 2, 2\], expected input\[1, 2, 3, 3, 3\] to have 3 channels"),
    (lambda: F.conv_transpose3d(z(1, 2, 3, 3, 3), z(2, 1, 2, 2, 2), output_padding=1), RuntimeError, r"output padding must be smaller than either stride or dilation"),
    (lambda: F.max_pool3d(z(4, 4, 4), 2), RuntimeError, r"Expected 4D \(unbatched\) or 5D \(batched\) input to max_pool3d"),
    (lambda: F.max_pool3d(z(1, 1, 4, 4, 4), 2, padding=(0, 2, 0)), RuntimeError, r"pad should be at most half of effective kernel size"),
    (lambda: F.max_pool3d(z(1, 1, 4, 2, 4), 3), RuntimeError, r"Output size is too small"),
    (lambda: F.max_pool3d(z(2, 1, 0, 4, 4), 2), RuntimeError, r"optional 0 dim batch size for input, but got: \[2, 1, 0, 4, 4\]"),
    (lambda: F.avg_pool3d(z(1, 1, 4, 4, 4), 2, divisor_override=0), RuntimeError, r"divisor must be not zero"),
    (lambda: F.avg_pool3d(z(1, 1, 4, 4, 4), (2, 0, 2)), ValueError, r"kernel_size must be greater than zero"),
    (lambda: F.avg_pool3d(tl.zeros(1, 1, 4, 4, 4, dtype=tl.int64), 2), TypeError, r"must be a floating-point tensor"),
    (lambda: F.adaptive_avg_pool3d(z(1, 4, 4), 2), RuntimeError, r"Expected 4D \(unbatched\) or 5D \(batched\) input to adaptive_avg_pool3d"),
    (lambda: F.adaptive_max_pool3d(z(1, 1, 4, 4, 4), (2, 2)), TypeError, r"output_size must be an int or a triple"),
    (lambda: F.adaptive_avg_pool3d(z(1, 1, 0, 4, 4), 2), RuntimeError, r"dimension 2 being empty"),
])
def test_errors_are_pytorchs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_torch_refuses_what_we_refuse():
    torch = pytest.importorskip("torch")
    Fn = torch.nn.functional
    for call in (lambda: Fn.conv3d(torch.zeros(3, 4, 4), torch.zeros(1, 3, 1, 1, 1)),
                 lambda: Fn.conv3d(torch.zeros(1, 1, 2, 4, 4), torch.zeros(1, 1, 3, 3, 3)),
                 lambda: Fn.max_pool3d(torch.zeros(1, 1, 4, 4, 4), 2, padding=(0, 2, 0)),
                 lambda: Fn.max_pool3d(torch.zeros(1, 1, 4, 2, 4), 3),
                 lambda: Fn.conv_transpose3d(torch.zeros(1, 2, 3, 3, 3), torch.zeros(2, 1, 2, 2, 2), output_padding=1)):
        with pytest.raises(RuntimeError):
            call()


# ---- pooling -------------------------------------------------------------------------------------

POOL3D_GRID = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 0, 1)),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("kw", POOL3D_GRID)
@pytest.mark.parametrize("dilation", [1, (1, 2, 1)])
def test_max_pool3d_matches_numpy_and_torch(kw, dilation):
    r = rng(8)
    x = r.standard_normal((2, 3, 5, 7, 6))
    xt = t(x, True)
    y, idx = F.max_pool3d(xt, dilation=dilation, return_indices=True, **kw)
    np.testing.assert_array_equal(npy(y), conv_ref.max_pool3d(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0), dilation, kw.get("ceil_mode", False)))
    torch = pytest.importorskip("torch")
    for dt, tdt in ((tl.float64, torch.float64), (tl.float32, torch.float32)):
        xt = t(x, True, dt)
        y, idx = F.max_pool3d(xt, dilation=dilation, return_indices=True, **kw)
        X = torch.tensor(x, dtype=tdt, requires_grad=True)
        Y, IDX = torch.nn.functional.max_pool3d(X, dilation=dilation, return_indices=True, **kw)
        np.testing.assert_array_equal(npy(y), Y.detach().numpy())
        np.testing.assert_array_equal(idx.numpy(), IDX.numpy())
        g = r.standard_normal(Y.shape)
        y.backward(t(g, dtype=dt))
        Y.backward(torch.tensor(g, dtype=tdt))
        np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kw", POOL3D_GRID)
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 5)])
def test_avg_pool3d_matches_numpy_and_torch(kw, count_include_pad, divisor_override):
    r = rng(10)
    x = r.standard_normal((2, 3, 5, 7, 6))
    xt = t(x, True)
    y = F.avg_pool3d(xt, count_include_pad=count_include_pad, divisor_override=divisor_override, **kw)
    want = conv_ref.avg_pool3d(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0), kw.get("ceil_mode", False),
                               count_include_pad, divisor_override)
    np.testing.assert_allclose(npy(y), want, rtol=1e-12, atol=1e-12)
    torch = pytest.importorskip("torch")
    X = torch.tensor(x, requires_grad=True)
    Y = torch.nn.functional.avg_pool3d(X, count_include_pad=count_include_pad, divisor_override=divisor_override, **kw)
    np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = r.standard_normal(Y.shape)
    y.backward(t(g))
    Y.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", [(2, 3, 2), 3, (None, 2, 5), (1, 1, 1), (4, 7, 6)])
def test_adaptive_pool3d_match_torch(size):
    torch = pytest.importorskip("torch")
    r = rng(12)
    x = r.standard_normal((2, 3, 4, 7, 6))
    for fn, tfn in ((F.adaptive_avg_pool3d, torch.nn.functional.adaptive_avg_pool3d),
                    (lambda a, s: F.adaptive_max_pool3d(a, s, True), lambda a, s: torch.nn.functional.adaptive_max_pool3d(a, s, True))):
        xt, X = t(x, True), torch.tensor(x, requires_grad=True)
        y, Y = fn(xt, size), tfn(X, size)
        if isinstance(y, tuple):
            np.testing.assert_array_equal(y[1].numpy(), Y[1].numpy())
            y, Y = y[0], Y[0]
        np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = r.standard_normal(Y.shape)
        y.backward(t(g))
        Y.backward(torch.tensor(g))
        np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_pooling3d_gradcheck_and_gradgradcheck():
    r = rng(13)
    x = t(r.standard_normal((1, 2, 4, 3, 4)), True)   # distinct values: max pooling is smooth there
    for fn in (lambda a: F.max_pool3d(a, 2, 1, 1), lambda a: F.max_pool3d(a, (2, 3, 2), (2, 1, 1), dilation=(1, 1, 2)),
               lambda a: F.avg_pool3d(a, 3, 2, 1, ceil_mode=True), lambda a: F.avg_pool3d(a, 2, count_include_pad=False, padding=1),
               lambda a: F.adaptive_avg_pool3d(a, (3, 2, 3)), lambda a: F.adaptive_max_pool3d(a, (2, 2, 3))):
        assert tl.autograd.gradcheck(fn, (x,))
        assert tl.autograd.gradgradcheck(fn, (x,))


def test_pooling3d_c_vjp_agrees_with_formula():
    r = rng(14)
    x = t(r.standard_normal((2, 2, 5, 4, 5)), True)
    for y in (F.max_pool3d(x, 3, 2, 1), F.avg_pool3d(x, (2, 3, 2), 1, 1, count_include_pad=False),
              F.adaptive_avg_pool3d(x, (2, 3, 3)), F.adaptive_max_pool3d(x, 3)):
        g = t(r.standard_normal(y.shape))
        (plain,) = tl.autograd.grad(y, x, g, retain_graph=True)
        (recorded,) = tl.autograd.grad(y, x, g, create_graph=True)
        np.testing.assert_allclose(plain.numpy(), npy(recorded), rtol=1e-12, atol=1e-12)


def test_pooling3d_unbatched_float32_noncontiguous_and_nan():
    r = rng(15)
    x = r.standard_normal((3, 4, 6, 5)).astype(np.float32)
    y = F.max_pool3d(t(x, dtype=tl.float32), 2)
    assert y.dtype is tl.float32 and y.shape == (3, 2, 3, 2)
    np.testing.assert_array_equal(npy(y), conv_ref.max_pool3d(x[None], 2)[0])
    xv = t(x.transpose(0, 3, 2, 1).copy()).permute(0, 3, 2, 1)
    assert not xv.is_contiguous()
    np.testing.assert_allclose(npy(F.avg_pool3d(xv, 2, 1)), conv_ref.avg_pool3d(x[None].astype(np.float64), 2, 1)[0], rtol=1e-6)
    np.testing.assert_allclose(npy(F.adaptive_avg_pool3d(xv, (2, 3, 2))),
                               conv_ref.adaptive_pool3d(x[None].astype(np.float64), (2, 3, 2), np.mean)[0], rtol=1e-6)
    a = np.zeros((1, 1, 4, 4, 4))
    a[0, 0, 0, 0, 0] = np.nan
    for y in (npy(F.avg_pool3d(t(a), 2)), npy(F.max_pool3d(t(a), 2)), npy(F.adaptive_max_pool3d(t(a), 2))):
        assert np.isnan(y[0, 0, 0, 0, 0]) and np.isfinite(y.reshape(-1)[1:]).all()


def test_pooling3d_zero_batch():
    x = t(np.zeros((0, 2, 4, 4, 4)), True)
    assert F.max_pool3d(x, 2).shape == F.avg_pool3d(x, 2).shape
    assert F.max_pool3d(x, 2).shape == (0, 2, 2, 2, 2) and F.adaptive_avg_pool3d(x, 3).shape == (0, 2, 3, 3, 3)
    F.max_pool3d(x, 2).sum().backward()
    assert x.grad.shape == (0, 2, 4, 4, 4)


# ---- max_unpool ----------------------------------------------------------------------------------

@pytest.mark.parametrize("nd,shape,kw", [
    (1, (2, 3, 8), dict(kernel_size=2)),
    (1, (3, 9), dict(kernel_size=3, stride=2, padding=1)),
    (2, (2, 3, 6, 7), dict(kernel_size=2)),                         # the last column is no output's
    (2, (2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1)),   # overlapping windows
    (2, (3, 4, 6), dict(kernel_size=(2, 3), stride=(2, 3))),
    (3, (2, 2, 4, 6, 6), dict(kernel_size=2)),
    (3, (1, 2, 5, 5, 5), dict(kernel_size=3, stride=(2, 1, 2), padding=1)),
])
def test_max_unpool_matches_torch(nd, shape, kw):
    torch = pytest.importorskip("torch")
    Fn = torch.nn.functional
    pool, unpool = getattr(F, f"max_pool{nd}d"), getattr(F, f"max_unpool{nd}d")
    tpool, tunpool = getattr(Fn, f"max_pool{nd}d"), getattr(Fn, f"max_unpool{nd}d")
    r = rng(16)
    x = r.standard_normal(shape)
    y, idx = pool(t(x), return_indices=True, **kw)
    Y, IDX = tpool(torch.tensor(x), return_indices=True, **kw)
    ukw = {k: v for k, v in kw.items()}
    spatial = tuple(x.shape[-nd:])
    sizes = [spatial] + ([tuple(x.shape)] if len(shape) == nd + 2 else [])
    ks, ss = (kw["kernel_size"],) * nd if isinstance(kw["kernel_size"], int) else kw["kernel_size"], None
    ss = kw.get("stride", ks)
    ss = (ss,) * nd if isinstance(ss, int) else ss
    pad = kw.get("padding", 0)
    default = tuple((o - 1) * s + k - 2 * pad for o, s, k in zip(Y.shape[-nd:], ss, ks))
    if default == spatial:
        sizes.append(None)
    for size in sizes:
        yt, Yt = t(npy(y), True), torch.tensor(Y.numpy(), requires_grad=True)
        u = unpool(yt, idx, output_size=size, **ukw)
        U = tunpool(Yt, IDX, output_size=size, **ukw)
        np.testing.assert_array_equal(npy(u), U.detach().numpy())
        g = r.standard_normal(U.shape)
        u.backward(t(g))
        U.backward(torch.tensor(g))
        np.testing.assert_array_equal(yt.grad.numpy(), Yt.grad.numpy())
    if all(s >= k for s, k in zip(ss, ks)):   # no index twice: the scatter is smooth in y
        fn = lambda a: unpool(a, idx, output_size=spatial, **ukw)   # noqa: E731
        assert tl.autograd.gradcheck(fn, (t(npy(y), True),))
        assert tl.autograd.gradgradcheck(fn, (t(npy(y), True),))
    m = getattr(nn, f"MaxUnpool{nd}d")(**kw)
    tm = getattr(torch.nn, f"MaxUnpool{nd}d")(**kw)
    assert repr(m) == repr(tm)
    np.testing.assert_array_equal(npy(m(y, idx, spatial)), tm(Y, IDX, spatial).numpy())


def test_max_unpool_errors():
    y, idx = F.max_pool2d(t(rng(17).standard_normal((1, 1, 4, 4))), 2, return_indices=True)
    with pytest.raises(ValueError, match=r'invalid output_size "\[7, 4\]" \(dim 0 must be between 2 and 6\)'):
        F.max_unpool2d(y, idx, 2, output_size=(7, 4))
    with pytest.raises(ValueError, match=r"output_size should be a sequence containing 2 or 4 elements"):
        F.max_unpool2d(y, idx, 2, output_size=(4, 4, 4))
    with pytest.raises(TypeError, match=r"expected dtype int64 for `indices`"):
        F.max_unpool2d(y, idx.to(tl.float64), 2)
    with pytest.raises(ValueError, match=r"Expected shape of indices to be same as that of the input"):
        F.max_unpool2d(y, idx[:, :, :1], 2)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to max_unpool2d"):
        F.max_unpool2d(y[0, 0], idx[0, 0], 2)
    bad = tl.tensor(np.full((1, 1, 2, 2), 16, dtype=np.int64))
    with pytest.raises(RuntimeError, match="index 16 is out of bounds"):
        F.max_unpool2d(y, bad, 2)


# ---- modules -------------------------------------------------------------------------------------

def test_conv3d_module_init_repr_and_state_dict_from_torch():
    torch = pytest.importorskip("torch")
    for args, kw in [((3, 8, 3), dict(padding=1)), ((4, 8, (3, 2, 1)), dict(stride=2, padding=(1, 0, 0), dilation=2, groups=2, bias=False)),
                     ((4, 8, 3), dict(padding="same"))]:
        m, tm = nn.Conv3d(*args, **kw), torch.nn.Conv3d(*args, **kw)
        assert repr(m) == repr(tm)
        assert m.weight.shape == tuple(tm.weight.shape)
        bound = 1 / math.sqrt(math.prod(tm.weight.shape[1:]))      # kaiming_uniform(a=sqrt(5))
        assert float(m.weight.abs().max()) <= bound and float(m.weight.abs().max()) > 0.5 * bound
        assert (m.bias is None) == (tm.bias is None)
        m.load_state_dict({k: tl.tensor(v.numpy()) for k, v in tm.state_dict().items()})
        x = rng(18).standard_normal((2, args[0], 5, 6, 5)).astype(np.float32)
        np.testing.assert_allclose(npy(m(t(x, dtype=tl.float32))), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    for args, kw in [((4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)), ((2, 3, (2, 3, 2)), dict(bias=False))]:
        m, tm = nn.ConvTranspose3d(*args, **kw), torch.nn.ConvTranspose3d(*args, **kw)
        assert repr(m) == repr(tm) and m.weight.shape == tuple(tm.weight.shape)
        m.load_state_dict({k: tl.tensor(v.numpy()) for k, v in tm.state_dict().items()})
        x = rng(19).standard_normal((1, args[0], 3, 4, 3)).astype(np.float32)
        np.testing.assert_allclose(npy(m(t(x, dtype=tl.float32))), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
        want = tm(torch.tensor(x), output_size=[5, 8, 6]) if kw.get("stride") else None
        if want is not None:
            np.testing.assert_allclose(npy(m(t(x, dtype=tl.float32), output_size=[5, 8, 6])), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    for m, tm in ((nn.MaxPool3d(2), torch.nn.MaxPool3d(2)), (nn.MaxPool3d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool3d(3, 2, 1, ceil_mode=True)),
                  (nn.AvgPool3d(2), torch.nn.AvgPool3d(2)), (nn.AvgPool3d((1, 2, 2), 1, count_include_pad=False), torch.nn.AvgPool3d((1, 2, 2), 1, count_include_pad=False)),
                  (nn.AdaptiveAvgPool3d((2, None, 3)), torch.nn.AdaptiveAvgPool3d((2, None, 3))),
                  (nn.AdaptiveMaxPool3d(2), torch.nn.AdaptiveMaxPool3d(2))):
        assert repr(m) == repr(tm)
        x = rng(20).standard_normal((2, 3, 4, 5, 6))
        np.testing.assert_allclose(npy(m(t(x))), tm(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)


def test_module_errors_are_pytorchs():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv3d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv3d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(TypeError, match="kernel_size must be an int or a tuple of 3 ints"):
        nn.Conv3d(4, 4, (3, 3))
    with pytest.raises(ValueError, match=r"BatchNorm3d\(3\) expects 5D input"):
        nn.BatchNorm3d(3)(tl.zeros(2, 3, 4, 4))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm3d_matches_torch(momentum):
    torch = pytest.importorskip("torch")
    m, tm = nn.BatchNorm3d(3, momentum=momentum, dtype=tl.float64), torch.nn.BatchNorm3d(3, momentum=momentum).double()
    r = rng(21)
    for step in range(3):
        x = r.standard_normal((2, 3, 3, 4, 5)) * (step + 1) + step
        xt, X = t(x, True), torch.tensor(x, requires_grad=True)
        y, Y = m(xt), tm(X)
        np.testing.assert_allclose(npy(y), Y.detach().numpy(), rtol=1e-10, atol=1e-10)
        g = r.standard_normal(x.shape)
        y.backward(t(g))
        Y.backward(torch.tensor(g))
        np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(m.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(), tm.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
    assert int(m.num_batches_tracked.item()) == 3
    m.eval(), tm.eval()
    x = r.standard_normal((2, 3, 2, 3, 4))
    np.testing.assert_allclose(npy(m(t(x))), tm(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_batchnorm3d_gradcheck():
    x = t(rng(22).standard_normal((2, 2, 2, 3, 2)), True)
    w, b = t(np.array([1.5, -0.5]), True), t(np.array([0.2, 0.1]), True)
    fn = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)   # noqa: E731
    assert tl.autograd.gradcheck(fn, (x, w, b)) and tl.autograd.gradgradcheck(fn, (x, w, b))


def test_a_tiny_3d_cnn_learns():
    """Two classes of 6^3 volumes (a bright slab along depth or along width); a Conv3d -> pool ->
    linear net fits them in a few steps."""
    r = rng(23)
    x = r.standard_normal((16, 1, 6, 6, 6)) * 0.3
    labels = np.arange(16) % 2
    x[labels == 0, :, 2:4, :, :] += 2.0
    x[labels == 1, :, :, :, 2:4] += 2.0
    tl.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1, dtype=tl.float64), nn.BatchNorm3d(4, dtype=tl.float64), nn.ReLU(),
                        nn.MaxPool3d(2), nn.AdaptiveAvgPool3d((3, 1, 3)), nn.Flatten(), nn.Linear(36, 2, dtype=tl.float64))
    opt = tl.optim.Adam(net.parameters(), lr=0.05)
    xt, yt = t(x), tl.tensor(labels)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss.item())
    assert float(loss.item()) < 0.2 * first
