"""The direct convolution of csrc/conv.c (stride 1, groups 1, SIMD builds: the GEMM micro-kernel
reading the zero-padded image in place; the forward and gx) against the im2col path (TL_CONV_DIRECT=0) on the same
inputs: forward values, gradients, NaN / Inf propagation, non-contiguous x, threads and SIMD
levels, and against PyTorch when it is installed."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F

from .helpers import noncontiguous, rng_for, simd_level, simd_levels, threads


@pytest.fixture
def im2col_only(monkeypatch):
    """A function running its argument with the direct path turned off (conv.c reads
    TL_CONV_DIRECT at every call); the test itself runs with it forced on (=1: also for the small
    images its size rule leaves to im2col)."""
    monkeypatch.setenv("TL_CONV_DIRECT", "1")

    def run(fn):
        monkeypatch.setenv("TL_CONV_DIRECT", "0")
        try:
            return fn()
        finally:
            monkeypatch.setenv("TL_CONV_DIRECT", "1")
    return run


# (N, C, H, W, OC, kernel, conv kwargs)
SHAPES = [
    (1, 1, 1, 1, 1, (1, 1), dict()),
    (3, 3, 7, 9, 5, (3, 3), dict(padding=1)),
    (2, 16, 13, 11, 12, (3, 3), dict(padding=1)),
    (1, 16, 28, 28, 32, (3, 3), dict(padding=1)),
    (3, 70, 6, 5, 13, (3, 3), dict(padding=(1, 2), dilation=2)),   # C*KH*KW > the K block
    (2, 4, 10, 11, 33, (5, 5), dict(padding=2)),
    (5, 3, 8, 9, 64, (1, 3), dict(padding=(0, 1), dilation=(1, 2))),
    (1, 2, 9, 6, 1, (5, 5), dict()),
    (2, 3, 6, 7, 5, (2, 2), dict(padding="same")),                 # one more on the right
    (2, 3, 6, 7, 5, (3, 2), dict(padding="same", dilation=(1, 2))),
    (1, 70, 4, 4, 13, (1, 1), dict()),
    (3, 5, 3, 40, 7, (3, 3), dict(padding=(0, 2))),
    (2, 3, 5, 6, 4, (1, 1), dict(padding=1)),       # padding past the kernel's reach: gx by
    (2, 3, 5, 6, 4, (3, 3), dict(padding=(3, 1))),  # im2col, the forward direct
]


def _inputs(shape, dtype):
    N, C, H, W, OC, k, kw = shape
    r = rng_for(shape, dtype)
    x = r.standard_normal((N, C, H, W)).astype(dtype)
    w = r.standard_normal((OC, C) + k).astype(dtype)
    b = r.standard_normal(OC).astype(dtype)
    return x, w, b, kw


def _fwd_bwd(x, w, b, kw, dtype):
    xt = tl.tensor(x, dtype=dtype, requires_grad=True)
    wt = tl.tensor(w, dtype=dtype, requires_grad=True)
    bt = tl.tensor(b, dtype=dtype, requires_grad=True)
    out = F.conv2d(xt, wt, bt, **kw)
    (out * out).sum().backward()
    return [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]


def _close(got, want, dtype):
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for g, e in zip(got, want):
        scale = max(float(np.abs(e).max()), 1.0)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:5])) + str(s[6]))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
def test_direct_matches_im2col(shape, dtype, nt, im2col_only):
    x, w, b, kw = _inputs(shape, dtype)
    tdt = tl.float32 if dtype == np.float32 else tl.float64
    with threads(nt):
        got = _fwd_bwd(x, w, b, kw, tdt)
        want = im2col_only(lambda: _fwd_bwd(x, w, b, kw, tdt))
    _close(got, want, dtype)


@pytest.mark.parametrize("level", [1, 2])
def test_direct_every_simd_level(level, im2col_only):
    """The AVX2 (6 x 16) and AVX-512 (12 x 32) tiles, each where the CPU has it."""
    if level not in simd_levels() and level > max(simd_levels()):
        pytest.skip("CPU without this SIMD level")
    for shape in SHAPES[1:6]:
        x, w, b, kw = _inputs(shape, np.float32)
        with simd_level(level):
            got = _fwd_bwd(x, w, b, kw, tl.float32)
            want = im2col_only(lambda: _fwd_bwd(x, w, b, kw, tl.float32))
        _close(got, want, np.float32)


def test_direct_no_bias_and_noncontiguous_x(im2col_only):
    """x read through strides by the padding copy (forward and gW)."""
    x, w, _, kw = _inputs(SHAPES[2], np.float32)

    def run(xt):
        wt = tl.tensor(w, requires_grad=True)
        out = F.conv2d(xt, wt, None, **kw)
        out.pow(2).sum().backward()
        return [out.detach().numpy(), wt.grad.numpy()]

    got = run(noncontiguous(x, tl.float32))
    want = im2col_only(lambda: run(tl.tensor(x)))
    _close(got, want, np.float32)


def test_direct_nan_inf_propagate_as_im2col(im2col_only):
    x, w, b, kw = _inputs(SHAPES[2], np.float32)
    x[0, 3, 4, 5] = np.nan
    x[1, 0, 0, 0] = np.inf
    x[1, 2, 12, 10] = -np.inf   # last row and column: next to the garbage columns
    args = (tl.tensor(x), tl.tensor(w), tl.tensor(b))
    got = F.conv2d(*args, **kw).numpy()
    want = im2col_only(lambda: F.conv2d(*args, **kw).numpy())
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-5, atol=1e-4)
    assert np.isnan(got).any() and np.isinf(got).any()


@pytest.mark.parametrize("shape", SHAPES[1:7], ids=lambda s: "x".join(map(str, s[:5])))
def test_direct_matches_torch(shape, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("TL_CONV_DIRECT", "1")
    x, w, b, kw = _inputs(shape, np.float32)
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw)
    got = F.conv2d(tl.tensor(x), tl.tensor(w), tl.tensor(b), **kw).numpy()
    _close([got], [want.numpy()], np.float32)


def test_direct_large_batch_chunks(im2col_only):
    """A batch whose padded copy exceeds one chunk (conv.c's COLS_BUDGET): more than one pass."""
    x = rng_for("chunks").standard_normal((40, 64, 60, 60)).astype(np.float32)
    w = rng_for("chunks-w").standard_normal((5, 64, 3, 3)).astype(np.float32)
    args = (tl.tensor(x), tl.tensor(w))
    got = F.conv2d(*args, padding=1).numpy()
    want = im2col_only(lambda: F.conv2d(*args, padding=1).numpy())
    _close([got], [want], np.float32)


@pytest.mark.parametrize("need", ["x", "w", "xb"])
def test_direct_partial_gradients(need, im2col_only):
    """Only some inputs need a gradient: gx alone (direct), gW / gb alone (im2col), both."""
    x, w, b, kw = _inputs(SHAPES[5], np.float32)

    def run():
        xt = tl.tensor(x, requires_grad="x" in need)
        wt = tl.tensor(w, requires_grad="w" in need)
        bt = tl.tensor(b, requires_grad="b" in need)
        F.conv2d(xt, wt, bt, **kw).pow(2).sum().backward()
        return [t.grad.numpy() for t in (xt, wt, bt) if t.requires_grad]

    _close(run(), im2col_only(run), np.float32)


@pytest.mark.parametrize("where", ["x", "w", "g"])
def test_direct_gradients_nonfinite_as_im2col(where, im2col_only):
    """Inf / NaN in x, W or g: the same NaN / Inf pattern in every gradient as the im2col path
    (a non-finite W keeps col2im for gx, a non-finite x im2col for gW: the padding's and the
    garbage columns' zeros would turn them into NaN elsewhere)."""
    x, w, b, kw = _inputs(SHAPES[2], np.float32)
    g = rng_for("g", where).standard_normal((2, 12, 13, 11)).astype(np.float32)
    {"x": x, "w": w, "g": g}[where][0, 1, 0, 0] = np.inf
    {"x": x, "w": w, "g": g}[where][1, 2, 2, 1] = np.nan

    def run():
        xt, wt, bt = (tl.tensor(a, requires_grad=True) for a in (x, w, b))
        F.conv2d(xt, wt, bt, **kw).backward(tl.tensor(g))
        return [t.grad.numpy() for t in (xt, wt, bt)]

    got, want = run(), im2col_only(run)
    for a, e in zip(got, want):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
        np.testing.assert_array_equal(np.isinf(a), np.isinf(e))
        fin = np.isfinite(e)
        np.testing.assert_allclose(a[fin], e[fin], rtol=1e-5, atol=1e-4)


def test_direct_size_rule_default(monkeypatch):
    """Without TL_CONV_DIRECT the size rule picks the path; the values agree either way."""
    monkeypatch.delenv("TL_CONV_DIRECT", raising=False)
    for shape in (SHAPES[1], SHAPES[3]):   # 7x9 (im2col) and 28x28 (direct) images
        x, w, b, kw = _inputs(shape, np.float32)
        got = _fwd_bwd(x, w, b, kw, tl.float32)
        monkeypatch.setenv("TL_CONV_DIRECT", "1")
        want = _fwd_bwd(x, w, b, kw, tl.float32)
        monkeypatch.delenv("TL_CONV_DIRECT")
        _close(got, want, np.float32)
