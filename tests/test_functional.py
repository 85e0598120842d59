"""tl.nn.functional: forward against NumPy formulas written here, float64 gradcheck and
gradgradcheck of every differentiable input, every reduction, stability at extreme inputs,
dropout statistics, argument errors, and PyTorch agreement when PyTorch is importable."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab._lib import ffi, lib

from .helpers import noncontiguous

try:
    import torch
except ImportError:  # the suite must pass without PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_matmul = pytest.mark.skipif(not hasattr(tl, "matmul"), reason="tl.matmul is not available yet")
gradcheck, gradgradcheck = tl.autograd.gradcheck, tl.autograd.gradgradcheck
REDUCTIONS = ("mean", "sum", "none")
TOL = {tl.float64: dict(rtol=1e-12, atol=1e-12), tl.float32: dict(rtol=2e-5, atol=2e-6)}


# ---- NumPy references --------------------------------------------------------------------------

def np_log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def np_softmax(x, axis):
    return np.exp(np_log_softmax(x, axis))


def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def np_cross_entropy(x, t, reduction):
    lp = np_log_softmax(x.astype(np.float64), 1)
    return np_reduce(-lp[np.arange(len(t)), t], reduction)


def np_cross_entropy_grad(x, t):          # d(sum of losses)/dx = softmax - onehot
    p = np_softmax(x.astype(np.float64), 1)
    p[np.arange(len(t)), t] -= 1
    return p


def np_bce(x, t):                         # PyTorch: each log term clamped at -100
    with np.errstate(divide="ignore"):
        return -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))


def np_bce_logits(x, t):
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


def arr(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def t64(a, grad=True):
    return tl.tensor(a, dtype=tl.float64, requires_grad=grad)


def close(t, ref, dtype=tl.float64, **kw):
    np.testing.assert_allclose(t.detach().numpy().astype(np.float64), ref, **(kw or TOL[dtype]))


# ---- softmax / log_softmax ---------------------------------------------------------------------

@pytest.mark.parametrize("fn,ref", [(F.softmax, np_softmax), (F.log_softmax, np_log_softmax)],
                         ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided"])
def test_softmax_family_3d(fn, ref, dim, strided):
    a = arr(2, 3, 4, seed=dim + 1 + 10 * strided)
    for dtype in (tl.float64, tl.float32):
        x = noncontiguous(a, dtype) if strided else tl.tensor(a, dtype=dtype)
        y = fn(x, dim)
        assert y.shape == x.shape and y.dtype is dtype
        close(y, ref(a, dim), dtype)
    x = (noncontiguous(a, tl.float64) if strided else tl.tensor(a, dtype=tl.float64)).requires_grad_()
    assert gradcheck(lambda x: fn(x, dim), (x,))
    assert gradgradcheck(lambda x: fn(x, dim), (x,))


def test_softmax_transposed_input_and_methods():
    a = arr(4, 5, seed=1)
    x = tl.tensor(a, dtype=tl.float64).T                   # non-contiguous view
    close(x.softmax(0), np_softmax(a.T, 0))
    close(x.log_softmax(-1), np_log_softmax(a.T, -1))
    close(tl.softmax(x, 1), np_softmax(a.T, 1))
    close(tl.log_softmax(x, 0), np_log_softmax(a.T, 0))
    xs = tl.tensor(arr(6, 7, seed=2), dtype=tl.float64)[::2, 1::3].detach().requires_grad_()
    assert gradcheck(lambda x: F.log_softmax(x, 0) * F.softmax(x, 1), (xs,))
    assert gradgradcheck(lambda x: F.log_softmax(x, 0) * F.softmax(x, 1), (xs,))


def test_softmax_edge_shapes_and_dtypes():
    close(F.softmax(tl.tensor(3.0, dtype=tl.float64), 0), 1.0)         # 0-d
    close(F.log_softmax(tl.tensor(3.0, dtype=tl.float64), -1), 0.0)
    assert F.softmax(tl.zeros(0, 3), 1).shape == (0, 3)
    assert F.log_softmax(tl.zeros(2, 0), 1).shape == (2, 0)
    y = F.softmax(tl.tensor([[1, 2, 3]]), 1)                             # int64 -> default float
    assert y.dtype is tl.get_default_dtype()
    y = F.softmax(tl.tensor([[1.0, 2.0]], dtype=tl.float32), 1, dtype=tl.float64)
    assert y.dtype is tl.float64
    with pytest.raises(ValueError, match="out of range"):
        F.softmax(tl.zeros(2, 3), 2)
    with pytest.raises(TypeError, match="dim must be given"):
        F.softmax(tl.zeros(2, 3), None)


def test_softmax_large_and_masked_logits():
    a = np.array([[1e4, 0.0, -1e4, 5e3], [-np.inf, 1.0, 2.0, -np.inf], [700.0, 710.0, 720.0, 730.0]])
    for dtype in (tl.float64, tl.float32):
        x = tl.tensor(a, dtype=dtype)
        p, lp = F.softmax(x, 1).numpy(), F.log_softmax(x, 1).numpy()
        np.testing.assert_allclose(p, np_softmax(a, 1), rtol=1e-5, atol=1e-30)
        assert p[1, 0] == 0 and p[1, 3] == 0 and np.isfinite(lp[[0, 2]]).all()
        np.testing.assert_allclose(lp[[0, 2]], np_log_softmax(a, 1)[[0, 2]], rtol=1e-6,
                                   atol=1e-7 if dtype is tl.float32 else 0)
    x = t64(a)
    g = tl.autograd.grad(F.log_softmax(x, 1)[:, 1].sum(), x)[0].numpy()   # finite where defined
    assert np.isfinite(g).all()


def test_softmax_nan_propagates_per_row():
    x = tl.tensor([[0.0, float("nan"), 1.0], [0.0, 1.0, 2.0]], dtype=tl.float64)
    for fn in (F.softmax, F.log_softmax):
        y = fn(x, 1).numpy()
        assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_softmax_threaded_rows_and_simd_levels():
    """Large enough to be split by rows over threads; the portable and AVX2 builds agree."""
    a = arr(96, 1024, seed=3, low=-30, high=30)
    for dtype in (tl.float64, tl.float32):
        x = tl.tensor(a, dtype=dtype)
        g = tl.tensor(arr(96, 1024, seed=4), dtype=dtype)
        results = []
        level = lib.tl_simd_level()
        try:
            for lv in sorted({0, level}):
                lib.tl_set_simd_level(lv)
                xr = x.detach().requires_grad_()
                y = F.softmax(xr, 1)
                y.backward(g)
                results.append((y.detach().numpy().copy(), xr.grad.numpy().copy()))
        finally:
            lib.tl_set_simd_level(level)
        p = np_softmax(a, 1)
        gref = p * (g.numpy() - np.sum(g.numpy() * p, 1, keepdims=True))
        rtol = 1e-12 if dtype is tl.float64 else 1e-4
        for y, gx in results:
            np.testing.assert_allclose(y, p, rtol=rtol, atol=1e-7 * (dtype is tl.float32))
            np.testing.assert_allclose(gx, gref, rtol=rtol, atol=1e-6 * (dtype is tl.float32) + 1e-15)


@pytest.mark.parametrize("dtype,bound", [(tl.float32, 2.0), (tl.float64, 2.0)])
def test_kernel_exp_accuracy(dtype, bound):
    """nn.c's vectorised exp (seen through log_softmax's VJP: gx = g - exp(y) * sum(g), with
    g = 0 except a last -1, gives gx = exp(y)) stays within 2 ulp of NumPy's exp on [-lo, 0]."""
    npdt, lo = dtype.np, (87.0 if dtype is tl.float32 else 708.0)
    rng = np.random.default_rng(5)
    y = np.concatenate([-rng.uniform(0, 1, 20000) ** 3 * lo, -rng.uniform(0, 2, 5000), [0.0, -np.inf]])
    y = np.append(y, 0.0).astype(npdt)
    g = np.zeros_like(y)
    g[-1] = -1
    gx = np.empty_like(y)
    level = lib.tl_simd_level()
    try:
        for lv in sorted({0, level}):
            lib.tl_set_simd_level(lv)
            ptr = [ffi.cast("void *", a.ctypes.data) for a in (gx, g, y)]
            assert lib.tl_log_softmax_backward(dtype.code, *ptr, 1, y.size) == 0
            ref = np.exp(y[:-1].astype(np.float64))
            ulp = np.spacing(np.maximum(ref, np.finfo(npdt).tiny).astype(npdt)).astype(np.float64)
            assert np.max(np.abs(gx[:-1] - ref) / ulp) <= bound
    finally:
        lib.tl_set_simd_level(level)


# ---- cross_entropy / nll_loss -------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_forward_and_grad(reduction):
    a, t = arr(5, 4, seed=6), np.array([0, 3, 1, 1, 2])
    target = tl.tensor(t)
    for dtype in (tl.float64, tl.float32):
        close(F.cross_entropy(tl.tensor(a, dtype=dtype), target, reduction=reduction),
              np_cross_entropy(a, t, reduction), dtype)
    x = t64(a)
    F.cross_entropy(x, target, reduction="sum").backward()
    close(x.grad, np_cross_entropy_grad(a, t))
    fn = lambda x: F.cross_entropy(x, target, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, (t64(a),)) and gradgradcheck(fn, (t64(a),))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_forward_and_grad(reduction):
    a, t = np_log_softmax(arr(5, 4, seed=7), 1), np.array([2, 0, 3, 3, 1])
    target = tl.tensor(t)
    for dtype in (tl.float64, tl.float32):
        close(F.nll_loss(tl.tensor(a, dtype=dtype), target, reduction=reduction),
              np_reduce(-a[np.arange(5), t], reduction), dtype)
    fn = lambda x: F.nll_loss(x, target, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, (t64(a),)) and gradgradcheck(fn, (t64(a),))
    # cross_entropy == nll_loss(log_softmax)
    x = t64(arr(5, 4, seed=8), grad=False)
    close(F.cross_entropy(x, target, reduction), F.nll_loss(F.log_softmax(x, 1), target, reduction).numpy())


def test_class_losses_extra_dims_1d_and_strided():
    a = arr(3, 4, 2, seed=9)                                   # (N, C, d1)
    t = np.array([[0, 3], [2, 2], [1, 0]])
    lp = np_log_softmax(a, 1)
    ref = -np.take_along_axis(lp, t[:, None], 1)[:, 0]
    close(F.cross_entropy(t64(a, False), tl.tensor(t), reduction="none"), ref)
    close(F.nll_loss(t64(lp, False), tl.tensor(t), reduction="sum"), ref.sum())
    assert gradgradcheck(lambda x: F.cross_entropy(x, tl.tensor(t)), (t64(a),))
    v = arr(5, seed=10)                                        # (C,) with a 0-d target
    close(F.cross_entropy(t64(v, False), tl.tensor(3)), -np_log_softmax(v, 0)[3])
    xs = noncontiguous(arr(4, 3, seed=11), tl.float64).requires_grad_()
    tt = tl.tensor([[2, 9], [0, 9], [1, 9], [2, 9]])[:, 0]      # strided target
    close(F.cross_entropy(xs, tt), np_cross_entropy(xs.detach().numpy(), np.array([2, 0, 1, 2]), "mean"))
    assert gradcheck(lambda x: F.cross_entropy(x, tt, "sum"), (xs,))


def test_cross_entropy_empty_batch():
    x, t = tl.zeros(0, 3, requires_grad=True), tl.zeros(0, dtype=tl.int64)
    assert F.cross_entropy(x, t, reduction="none").shape == (0,)
    assert F.cross_entropy(x, t, reduction="sum").item() == 0
    assert np.isnan(F.cross_entropy(x, t).item())              # mean of nothing, as PyTorch


@pytest.mark.parametrize("dtype", [tl.float64, tl.float32])
def test_cross_entropy_stable_at_1e4(dtype):
    a, t = arr(6, 5, seed=12) * 1e4, np.array([0, 1, 2, 3, 4, 0])
    x = tl.tensor(a, dtype=dtype, requires_grad=True)
    loss = F.cross_entropy(x, tl.tensor(t), reduction="sum")
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    xa = x.detach().numpy().astype(np.float64)                  # reference on the same values
    np.testing.assert_allclose(loss.item(), np_cross_entropy(xa, t, "sum"), rtol=1e-12 if dtype is tl.float64 else 1e-6)
    np.testing.assert_allclose(x.grad.numpy(), np_cross_entropy_grad(xa, t), atol=1e-12 if dtype is tl.float64 else 1e-6)
    close(F.cross_entropy(x, tl.tensor(t), reduction="none"), np_cross_entropy(xa, t, "none"),
          rtol=1e-12 if dtype is tl.float64 else 1e-6, atol=0)


def test_class_loss_errors():
    x = tl.zeros(3, 4)
    for fn in (F.cross_entropy, F.nll_loss):
        name = fn.__name__
        with pytest.raises(IndexError, match=f"{name}: target 4 is out of bounds for 4 classes"):
            fn(x, tl.tensor([0, 4, 1]))
        with pytest.raises(IndexError, match="target -1 is out of bounds"):
            fn(x, tl.tensor([0, -1, 7]))
        with pytest.raises(TypeError, match="target must be an int64"):
            fn(x, tl.tensor([0.0, 1.0, 2.0]))
        with pytest.raises(TypeError, match="input must be a floating-point"):
            fn(tl.zeros(3, 4, dtype=tl.int64), tl.tensor([0, 1, 2]))
        with pytest.raises(ValueError, match=r"target shape \(2,\) does not match input shape \(3, 4\)"):
            fn(x, tl.tensor([0, 1]))
        with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
            fn(x, tl.tensor([0, 1, 2]), reduction="avg")
        with pytest.raises(ValueError, match=r"shape \(\)"):
            fn(tl.tensor(1.0), tl.tensor(0))


def test_cross_entropy_kernel_rejects_bad_targets():
    """The C kernel defends itself too (Python validates first, so this is belt and braces)."""
    x = tl.zeros(2, 3, dtype=tl.float64)
    t = np.array([0, 3], dtype=np.int64)
    loss, stats = np.empty(2), np.empty((2, 2))
    rc = lib.tl_cross_entropy_forward(lib.TL_F64, ffi.cast("void *", loss.ctypes.data),
                                      ffi.cast("void *", stats.ctypes.data), x._ptr,
                                      ffi.cast("int64_t *", t.ctypes.data), 2, 3)
    assert rc == lib.TL_EINDEX


# ---- pointwise losses ---------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss(reduction):
    a, b = arr(3, 4, seed=13), arr(3, 4, seed=14)
    for dtype in (tl.float64, tl.float32):
        close(F.mse_loss(tl.tensor(a, dtype=dtype), tl.tensor(b, dtype=dtype), reduction),
              np_reduce((a - b) ** 2, reduction), dtype)
    fn = lambda x, y: F.mse_loss(x, y, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, (t64(a), t64(b))) and gradgradcheck(fn, (t64(a), t64(b)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    a, b = arr(3, 4, seed=15, low=0.05, high=0.95), arr(3, 4, seed=16, low=0, high=1)
    for dtype in (tl.float64, tl.float32):
        close(F.binary_cross_entropy(tl.tensor(a, dtype=dtype), tl.tensor(b, dtype=dtype), reduction),
              np_reduce(np_bce(a, b), reduction), dtype)
    fn = lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, (t64(a), t64(b))) and gradgradcheck(fn, (t64(a), t64(b)))
    x = t64(a)
    F.binary_cross_entropy(x, t64(b, False), reduction="sum").backward()
    close(x.grad, (a - b) / (a * (1 - a)))


def test_binary_cross_entropy_at_0_and_1():
    """log(0) is clamped at -100 (PyTorch's rule): finite loss and gradient."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    for dtype in (tl.float64, tl.float32):
        x = tl.tensor(p, dtype=dtype, requires_grad=True)
        loss = F.binary_cross_entropy(x, tl.tensor(y, dtype=dtype), reduction="none")
        close(loss, [0.0, 0.0, 100.0, 100.0, np.log(2)], dtype, rtol=1e-6, atol=1e-6)
        loss.sum().backward()
        g = x.grad.numpy()
        assert np.isfinite(g).all()
        # PyTorch: (x - t) / max(x (1 - x), 1e-12)
        np.testing.assert_allclose(g, (p - y) / np.maximum(p * (1 - p), 1e-12), rtol=1e-6)
    x, t = t64(p), t64(y)    # create_graph path stays finite too
    (gx,) = tl.autograd.grad(F.binary_cross_entropy(x, t, "sum"), x, create_graph=True)
    assert np.isfinite(gx.detach().numpy()).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    a, b = arr(3, 4, seed=17, low=-4, high=4), arr(3, 4, seed=18, low=0, high=1)
    for dtype in (tl.float64, tl.float32):
        close(F.binary_cross_entropy_with_logits(tl.tensor(a, dtype=dtype), tl.tensor(b, dtype=dtype), reduction),
              np_reduce(np_bce_logits(a, b), reduction), dtype)
    fn = lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, (t64(a), t64(b))) and gradgradcheck(fn, (t64(a), t64(b)))


def test_binary_cross_entropy_with_logits_extremes():
    a = np.array([-1e4, -40.0, 0.0, 40.0, 1e4, 800.0])
    t = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    x = t64(a)
    loss = F.binary_cross_entropy_with_logits(x, t64(t, False), reduction="none")
    ref = np.array([0.0, np.exp(-40.0), np.log(2), np.exp(-40.0), 0.0, 800.0])
    close(loss, ref, rtol=1e-12, atol=0)
    loss.sum().backward()
    sig = np.where(a >= 0, 1 / (1 + np.exp(-np.abs(a))), np.exp(-np.abs(a)) / (1 + np.exp(-np.abs(a))))
    close(x.grad, sig - t, rtol=1e-12, atol=1e-300)


def test_pointwise_loss_errors():
    x = tl.zeros(3, 4)
    for fn in (F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        name = fn.__name__
        with pytest.raises(ValueError, match=rf"{name}: target shape \(4,\) must match input shape \(3, 4\)"):
            fn(x, tl.zeros(4))
        with pytest.raises(TypeError, match="target must be a floating-point tensor"):
            fn(x, tl.zeros(3, 4, dtype=tl.int64))
        with pytest.raises(ValueError, match="reduction must be"):
            fn(x, tl.zeros(3, 4), reduction="batchmean")
        with pytest.raises(TypeError, match="target must be a Tensor"):
            fn(x, [[0.0] * 4] * 3)
    with pytest.raises(ValueError, match=r"input values must be between 0 and 1, got values in "
                                         r"\[0\.5, 1\.5\]"):
        F.binary_cross_entropy(tl.tensor([0.5, 1.5]), tl.tensor([0.0, 1.0]))
    # the range is checked by the C kernel for both dtypes; NaN is refused too, as in PyTorch
    for dt in (tl.float32, tl.float64):
        for bad in (-1e-7, 1.0000001, float("nan")):
            x = tl.tensor([0.0, bad, 1.0], dtype=dt, requires_grad=True)
            with pytest.raises(ValueError, match="between 0 and 1"):
                F.binary_cross_entropy(x, tl.tensor([0.0, 1.0, 1.0], dtype=dt))
        far = np.full(10000, 0.5)                     # past the kernel's first 4096-element block
        far[9999] = 2.0
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.binary_cross_entropy(tl.tensor(far, dtype=dt), tl.tensor(far * 0, dtype=dt))
        ok = F.binary_cross_entropy(tl.tensor([0.0, 0.5, 1.0], dtype=dt), tl.tensor([0.0, 1.0, 1.0], dtype=dt))
        assert float(ok) == pytest.approx(np.log(2.0) / 3)


def test_loss_dtype_promotion_and_strided():
    a, b = arr(4, 3, seed=19, low=0.1, high=0.9), arr(4, 3, seed=20, low=0.1, high=0.9)
    x = noncontiguous(a, tl.float32)
    y = tl.tensor(b, dtype=tl.float64).T.contiguous().T          # strided float64 view
    out = F.binary_cross_entropy(x, y)
    assert out.dtype is tl.float64
    np.testing.assert_allclose(out.item(), np.mean(np_bce(a.astype(np.float32).astype(np.float64), b)), rtol=1e-12)
    xs, ys = noncontiguous(a, tl.float64).requires_grad_(), noncontiguous(b, tl.float64).requires_grad_()
    assert gradcheck(F.binary_cross_entropy_with_logits, (xs, ys))


# ---- dropout ------------------------------------------------------------------------------------

def test_dropout_statistics_and_gradient():
    x = tl.ones(200, 500, requires_grad=True)
    y = F.dropout(x, p=0.3)
    v = y.detach().numpy()
    kept = v != 0
    assert abs(kept.mean() - 0.7) < 0.01                          # 100,000 Bernoulli draws
    np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)
    g = tl.tensor(arr(200, 500, seed=21), dtype=tl.float32)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() * kept / 0.7, rtol=1e-6)
    assert abs(F.dropout(tl.ones(100000), p=0.5).mean().item() - 1.0) < 0.02   # unbiased


def test_dropout_reproducible_and_modes():
    x = tl.tensor(arr(50, 40, seed=22), dtype=tl.float64)
    tl.manual_seed(123)
    a = F.dropout(x, 0.5).numpy()
    tl.manual_seed(123)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5).numpy())
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    z = F.dropout(t64(arr(3, 4)), 1.0)
    assert (z.detach().numpy() == 0).all()
    z.sum().backward()
    for p in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            F.dropout(x, p)
    xd = t64(arr(3, 4, seed=23))
    tl.manual_seed(7)
    mask = F.dropout(tl.ones(3, 4, dtype=tl.float64), 0.4).numpy()
    tl.manual_seed(7)
    F.dropout(xd, 0.4).sum().backward()
    close(xd.grad, mask)                                          # mask / (1 - p)


# ---- activations and linear ---------------------------------------------------------------------

def test_activations_are_the_elementwise_ops():
    a = arr(3, 4, seed=24)
    x = tl.tensor(a, dtype=tl.float64)
    close(F.relu(x), np.maximum(a, 0))
    close(F.sigmoid(x), 1 / (1 + np.exp(-a)))
    close(F.tanh(x), np.tanh(a))
    close(F.leaky_relu(x, 0.2), np.where(a > 0, a, 0.2 * a))
    close(F.leaky_relu(x), np.where(a > 0, a, 0.01 * a))
    close(F.gelu(x), tl.gelu(x).numpy())
    assert gradgradcheck(lambda x: F.gelu(F.leaky_relu(x, 0.1)), (t64(a),))


@needs_matmul
@pytest.mark.parametrize("xshape", [(5, 3), (3,), (2, 4, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias):
    a, w, b = arr(*xshape, seed=25), arr(4, 3, seed=26), arr(4, seed=27)
    ref = a @ w.T + (b if bias else 0)
    close(F.linear(t64(a, False), t64(w, False), t64(b, False) if bias else None), ref)
    ins = (t64(a), t64(w)) + ((t64(b),) if bias else ())
    assert gradcheck(F.linear, ins) and gradgradcheck(F.linear, ins)


@needs_matmul
@pytest.mark.parametrize("act", [None, "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("which", ["x", "w", "b", "xw"])
def test_linear_fused_matches_composed_on_views(which, act):
    # the fused Linear / LinearAct ops (one C call each way) read strided views directly: compare
    # with matmul + add (+ the activation) on copies, for every subset of inputs needing grads
    rng = np.random.default_rng(5)
    xs, ws, bs = rng.standard_normal((3, 6)), rng.standard_normal((3, 4)), rng.standard_normal(8)
    for dt in (tl.float64, tl.float32):
        def views():
            x = tl.tensor(xs, dtype=dt, requires_grad="x" in which)
            w = tl.tensor(ws, dtype=dt, requires_grad="w" in which)
            b = tl.tensor(bs, dtype=dt, requires_grad="b" in which)
            return x, w, b, (x.T[::2], w.T, b[::2])     # (3, 3)^T stepped, (4, 3), (4,) stepped
        x, w, b, (xv, wv, bv) = views()
        y = F.linear(xv, wv, bv) if act is None else F.linear_act(xv, wv, bv, act)
        assert y.grad_fn.name() == ("LinearBackward" if act is None else "LinearActBackward")
        (y * y).sum().backward()
        x2, w2, b2, (xv2, wv2, bv2) = views()
        y2 = xv2.contiguous() @ wv2.contiguous().T + bv2.contiguous()
        if act is not None:
            y2 = getattr(F, act)(y2)
        (y2 * y2).sum().backward()
        tol = 1e-12 if dt is tl.float64 else 1e-5
        np.testing.assert_allclose(y.detach().numpy(), y2.detach().numpy(), rtol=tol, atol=tol)
        for t, t2 in ((x, x2), (w, w2), (b, b2)):
            assert (t.grad is None) == (t2.grad is None)
            if t.grad is not None:
                np.testing.assert_allclose(t.grad.numpy(), t2.grad.numpy(), rtol=tol, atol=tol)


@needs_matmul
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
def test_linear_act_matches_linear_then_activation(act):
    rng = np.random.default_rng(7)
    a, w, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    ins = (t64(a), t64(w), t64(b))
    y = F.linear_act(*ins, act)
    assert y.grad_fn.name() == "LinearActBackward"
    ref = getattr(F, act)(F.linear(t64(a, False), t64(w, False), t64(b, False)))
    close(y, ref.numpy())
    assert gradcheck(lambda x, w, b: F.linear_act(x, w, b, act), ins)
    assert gradgradcheck(lambda x, w, b: F.linear_act(x, w, b, act), ins)
    with pytest.raises(ValueError, match="act must be"):
        F.linear_act(*ins, "gelu")


@needs_matmul
@pytest.mark.parametrize("act", [None, "relu"])
def test_linear_of_an_empty_batch(act):
    x = tl.zeros(0, 3, dtype=tl.float64)
    w = tl.tensor(np.ones((2, 3)), requires_grad=True)
    b = tl.tensor(np.ones(2), requires_grad=True)
    y = F.linear(x, w, b) if act is None else F.linear_act(x, w, b, act)
    assert y.shape == (0, 2)
    y.sum().backward()
    assert w.grad.tolist() == [[0.0] * 3] * 2 and b.grad.tolist() == [0.0, 0.0]


@needs_matmul
def test_sequential_fuses_linear_with_a_following_activation():
    tl.manual_seed(3)
    model = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.ReLU(), tl.nn.Linear(4, 2), tl.nn.Tanh(),
                             tl.nn.Linear(2, 2))
    x = tl.randn(6, 3)
    y = model(x)
    assert y.grad_fn.name() == "LinearBackward"
    assert y.grad_fn._inputs[0].grad_fn.name() == "LinearActBackward"
    y.sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    # the same layers called one by one (no fusion) give the same values and gradients
    h = x
    for m in model:
        h = m(h)
    close(h, y.detach().numpy())
    for p in model.parameters():
        p.grad = None
    h.sum().backward()
    for g, p in zip(grads, model.parameters()):
        close(p.grad, g)


def test_linear_errors():
    with pytest.raises(ValueError, match=r"input shape \(5, 2\) does not match weight shape \(4, 3\)"):
        F.linear(tl.zeros(5, 2), tl.zeros(4, 3))
    with pytest.raises(ValueError, match=r"weight must be 2-d"):
        F.linear(tl.zeros(5, 3), tl.zeros(3))
    with pytest.raises(ValueError, match=r"bias shape \(3,\) does not match weight shape \(4, 3\)"):
        F.linear(tl.zeros(5, 3), tl.zeros(4, 3), tl.zeros(3))


def test_namespaces():
    assert tl.nn.functional is F
    assert tl.softmax is F.softmax and tl.log_softmax is F.log_softmax
    assert callable(tl.Tensor.softmax) and callable(tl.Tensor.log_softmax)
    x = tl.tensor([[1.0, 2.0]], requires_grad=True)
    assert F.softmax(x, 1).grad_fn.name() == "SoftmaxBackward"
    assert F.cross_entropy(x, tl.tensor([1]), reduction="none").grad_fn.name() == "CrossEntropyBackward"


# ---- PyTorch agreement --------------------------------------------------------------------------

@needs_torch
def test_against_pytorch():
    TF = torch.nn.functional
    a = arr(6, 5, seed=28) * 3
    t = np.array([4, 0, 2, 2, 1, 3])
    p, y = arr(6, 5, seed=29, low=0, high=1), arr(6, 5, seed=30, low=0, high=1)
    p[0, :2], y[0, :2] = [0.0, 1.0], [1.0, 0.0]                   # the clamp rule
    cases = [
        (lambda m, x, *r: m.softmax(x, 1), (a,)),
        (lambda m, x, *r: m.log_softmax(x, 0), (a,)),
        (lambda m, x, tt: m.cross_entropy(x, tt), (a, t)),
        (lambda m, x, tt: m.nll_loss(x, tt, reduction="sum"), (a, t)),
        (lambda m, x, z: m.mse_loss(x, z), (a, y)),
        (lambda m, x, z: m.binary_cross_entropy(x, z), (p, y)),
        (lambda m, x, z: m.binary_cross_entropy_with_logits(x, z, reduction="none"), (a, y)),
    ]
    for fn, args in cases:
        ours = [t64(v) if v.dtype.kind == "f" else tl.tensor(v) for v in args]
        theirs = [torch.tensor(v, requires_grad=v.dtype.kind == "f") for v in args]
        o, r = fn(F, *ours), fn(TF, *theirs)
        np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy(), rtol=1e-10, atol=1e-12)
        go = tl.autograd.grad(o.sum(), ours[0])[0].numpy()
        gr = torch.autograd.grad(r.sum(), theirs[0])[0].numpy()
        np.testing.assert_allclose(go, gr, rtol=1e-10, atol=1e-12)
