"""float32 column sums through the AVX-512 strips of csrc/reduce.c (colsum_f32_avx512: 128 or more
contiguous kept columns, rows at one stride): the same bits as the AVX2 loop at every row
count, column count, alignment of the first element and thread count, NaN/Inf propagated,
close to NumPy's float64 sum; and the bias-add VJP (sum_to) that runs on them."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import lib

from .helpers import simd_level, simd_levels, threads

# rows: fewer than one 8-row block, a block remainder, several 32 KiB row chunks; columns: below
# the strips' 128, a short last strip, whole strips, more than one 1024-column pass
SHAPES = [(128, 256), (7, 300), (129, 200), (37, 203), (8, 128), (300, 1100), (1000, 130),
          (3, 127)]


def _levels_agree(fn):
    """fn() at every SIMD level: all close to each other, the AVX2 and AVX-512 ones bit-equal."""
    out = {}
    for level in simd_levels() + ([1] if lib.tl_simd_level() == 2 else []):
        with simd_level(level):
            out[level] = fn()
    if 1 in out and 2 in out:
        np.testing.assert_array_equal(out[2], out[1])
    return out


def _offset_view(a, k):
    """``a`` as a tensor view starting k float32 elements into a larger buffer: k moves the first
    element's alignment in 4-byte steps."""
    flat = np.zeros(a.size + 16, np.float32)
    flat[k:k + a.size] = a.ravel()
    return tl.from_numpy(flat)[k:k + a.size].reshape(*a.shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [0, 1, 4, 12, 15])
def test_column_sum_levels_and_alignment(shape, k):
    a = np.random.default_rng(shape[0] * 31 + k).standard_normal(shape).astype(np.float32)
    t = _offset_view(a, k)
    ref = a.astype(np.float64).sum(0)
    for got in _levels_agree(lambda: t.sum(0).numpy()).values():
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(a).sum(0).max())


@pytest.mark.parametrize("nt", [1, 2, 3])
@pytest.mark.parametrize("shape", [(128, 256), (600, 300), (4099, 160)])
def test_column_sum_threads_same_bits(shape, nt):
    """Bands of rows (threads) start at 8-row block bounds: any thread count, the same bits."""
    a = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    t = tl.from_numpy(a)
    with threads(1):
        serial = t.sum(0).numpy()
    with threads(nt):
        got = _levels_agree(lambda: t.sum(0).numpy())
    for v in got.values():
        np.testing.assert_allclose(v, serial, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(got[lib.tl_simd_level()], serial)


def test_column_sum_nan_inf():
    a = np.random.default_rng(4).standard_normal((131, 260)).astype(np.float32)
    a[0, 0] = np.nan          # the first (alignment) strip
    a[130, 100] = np.nan      # a row after the last full block
    a[64, 200] = np.inf
    a[65, 201], a[66, 201] = np.inf, -np.inf
    a[9, 259] = -np.inf       # the last, short strip
    for k in (0, 3):
        t = _offset_view(a, k)
        for got in _levels_agree(lambda: t.sum(0).numpy()).values():
            assert np.isnan(got[[0, 100, 201]]).all()
            assert got[200] == np.inf and got[259] == -np.inf
            finite = np.isfinite(a).all(0)
            np.testing.assert_allclose(got[finite], a[:, finite].astype(np.float64).sum(0),
                                       rtol=1e-5, atol=1e-4)


def test_column_sum_strided_views():
    """Rows at a stride other than the row length (a column slice), rows from two collapsed dims,
    rows in more than one run (every other row of a 3-D tensor: the block loop), a kept dim
    that is not innermost (the rows loop)."""
    a = np.random.default_rng(5).standard_normal((6, 40, 300)).astype(np.float32)
    t = tl.from_numpy(a)
    cases = [
        (lambda: t[:, :, 3:290].sum(0), a[:, :, 3:290].sum(0)),
        (lambda: t[2][:, 5:].sum(0), a[2][:, 5:].sum(0)),
        (lambda: t.sum((0, 1)), a.sum((0, 1))),
        (lambda: t[:, ::2, :].sum((0, 1)), a[:, ::2, :].sum((0, 1))),
        (lambda: t.permute(2, 0, 1).sum(2), a.transpose(2, 0, 1).sum(2)),
    ]
    for fn, ref in cases:
        for got in _levels_agree(lambda: fn().numpy()).values():
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [tl.float32, tl.float64, tl.float16, tl.bfloat16])
def test_bias_add_vjp(dtype):
    """(h + b).backward(g): b.grad is g summed over the batch, in b's dtype (the bench's row)."""
    rng = np.random.default_rng(6)
    hn, gn = rng.standard_normal((128, 256)), rng.standard_normal((128, 256))
    h, g = tl.from_numpy(hn).to(dtype), tl.from_numpy(gn).to(dtype)
    b = tl.zeros(256, dtype=dtype, requires_grad=True)
    hb = h + b
    for _ in range(2):   # retain_graph: a second backward on the same graph, .grad reset
        b.grad = None
        hb.backward(g, retain_graph=True)
        assert b.grad.dtype is dtype and b.grad.shape == (256,)
        ref = g.double().numpy().sum(0)
        tol = 1e-5 if dtype is tl.float32 else 1e-12 if dtype is tl.float64 else 1e-2
        np.testing.assert_allclose(b.grad.double().numpy(), ref, rtol=tol, atol=tol * 20)


def test_bias_add_vjp_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    hn = rng.standard_normal((128, 256)).astype(np.float32)
    gn = rng.standard_normal((128, 256)).astype(np.float32)
    gn[5, 17] = np.nan
    b = tl.zeros(256, requires_grad=True)
    (tl.from_numpy(hn) + b).backward(tl.from_numpy(gn))
    bt = torch.zeros(256, requires_grad=True)
    (torch.from_numpy(hn) + bt).backward(torch.from_numpy(gn))
    np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert np.isnan(b.grad.numpy()[17])
