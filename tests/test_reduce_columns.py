"""Reductions whose kept dim is innermost in memory (the "columns" loop order of csrc/reduce.inc):
sum over dim 0 and the like. The shapes below reach every way that loop splits its work:
serially (small), over threads by kept elements (many columns) and by bands of reduced rows (few
columns, many rows), with row counts that are not a multiple of the 8-row blocks, column counts
above the 1024-column passes, strided kept elements and multi-dim kept/reduced index spaces."""
import numpy as np
import pytest

import tinygrad_lab as tl

from .helpers import simd_level, simd_levels, threads

# (rows, cols): serial; serial with a row remainder; row bands; row bands with more than one
# 1024-column pass; kept-element split with a remainder pass
SHAPES = [(5, 7), (203, 33), (4099, 24), (70, 2500), (300, 3001)]


def _data(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("nt", [1, 2, 3])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_sum_max_min(shape, dtype, nt):
    a = _data(shape, dtype)
    t = tl.from_numpy(a)
    ref = a.astype(np.float64).sum(0)
    for level in simd_levels():
        with threads(nt), simd_level(level):
            s, mx, mn = t.sum(0).numpy(), t.max(0).numpy(), t.min(0).numpy()
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(s, ref, rtol=tol, atol=tol * np.abs(a).sum(0).max())
        np.testing.assert_array_equal(mx, a.max(0))    # max/min are exact
        np.testing.assert_array_equal(mn, a.min(0))


@pytest.mark.parametrize("shape,nt", [((33, 8000), 8), ((70, 4000), 8), ((33, 40000), 40)])
def test_many_threads_few_rows(shape, nt):
    """Too few rows for an 8-row band per thread (split by columns; with 40 threads, fewer rows
    than threads), and bands of 8-9 rows."""
    a = _data(shape, np.float32, seed=6)
    a[shape[0] - 1, 7] = np.nan
    t = tl.from_numpy(a)
    with threads(nt):
        s, mx, mn = t.sum(0).numpy(), t.max(0).numpy(), t.min(0).numpy()
    np.testing.assert_allclose(s, a.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(mx, a.max(0))
    np.testing.assert_array_equal(mn, a.min(0))


@pytest.mark.parametrize("nt", [1, 2])
def test_column_sum_int64_exact(nt):
    a = np.random.default_rng(1).integers(-2**40, 2**40, size=(3001, 40))
    t = tl.from_numpy(a)
    with threads(nt):
        np.testing.assert_array_equal(t.sum(0).numpy(), a.sum(0))
        np.testing.assert_array_equal(t.max(0).numpy(), a.max(0))
        np.testing.assert_array_equal(t.min(0).numpy(), a.min(0))


@pytest.mark.parametrize("nt", [1, 2])
def test_float32_column_sum_accuracy(nt):
    """100000 rows of values near 1: the float32 result is the float64 sum correctly rounded, or
    one float32 ulp from it (NumPy, adding row after row in float32, is ~60 ulps off here)."""
    rng = np.random.default_rng(2)
    a = (1 + 1e-3 * rng.standard_normal((100000, 16))).astype(np.float32)
    exact = a.astype(np.float64).sum(0)
    with threads(nt):
        for level in simd_levels():
            with simd_level(level):
                got = tl.from_numpy(a).sum(0).numpy()
            assert got.dtype == np.float32
            ulp = np.spacing(exact.astype(np.float32))
            assert np.all(np.abs(got - exact) <= ulp), np.abs(got - exact) / ulp
    # and at least as accurate as NumPy's own float32 column sum
    assert np.abs(got - exact).max() <= np.abs(a.sum(0) - exact).max() + ulp.max()


@pytest.mark.parametrize("nt", [1, 2, 3])
@pytest.mark.parametrize("shape", [(203, 33), (4099, 24), (300, 3001)])
def test_column_max_min_nan_inf(shape, nt):
    """A NaN anywhere in a column makes its max and min NaN (in any row block / thread band);
    infinities are ordinary values."""
    a = _data(shape, np.float32, seed=3)
    r, c = shape
    a[0, 0] = np.nan                       # first row
    a[r - 1, 1] = np.nan                   # last row (a short final block)
    a[r // 2, 2] = np.nan                  # the middle, where thread bands meet
    a[r // 2 + 1, 2] = np.nan              # two NaNs in one column
    a[3, c - 1] = np.nan                   # last column (the vector loop's tail when c % 8)
    a[:, 3] = -np.inf                      # all -inf
    a[5, 4], a[6, 4] = np.inf, -np.inf
    a[:, 5] = np.inf
    a[r // 3, 5] = np.nan                  # NaN among infinities
    t = tl.from_numpy(a)
    for level in simd_levels():
        with threads(nt), simd_level(level):
            mx, mn = t.max(0).numpy(), t.min(0).numpy()
        np.testing.assert_array_equal(mx, a.max(0))    # assert_array_equal treats NaN == NaN
        np.testing.assert_array_equal(mn, a.min(0))
        assert np.isnan(mx[[0, 1, 2, c - 1, 5]]).all() and np.isnan(mn[[0, 1, 2, c - 1, 5]]).all()
        with threads(nt), simd_level(level):   # sums: NaN and inf - inf give NaN
            s = t.sum(0).numpy()
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(np.isnan(s), np.isnan(a.astype(np.float64).sum(0)))


@pytest.mark.parametrize("nt", [1, 2])
def test_strided_and_multidim_columns(nt):
    a = _data((130, 6, 2000), np.float64, seed=4)
    t = tl.from_numpy(a)
    cases = [
        (lambda x: x[:, 0, ::3], 0),              # strided kept elements
        (lambda x: x, 0),                         # kept (6, 2000) coalesces to one run
        (lambda x: x[:, :5, :1500], 0),           # kept runs that are not contiguous with each other
        (lambda x: x, (0, 1)),                    # two reduced dims that coalesce
        (lambda x: x[::2, ::2, :], (0, 1)),       # two reduced dims that do not
        (lambda x: x.transpose(0, 1), 1),         # reduced dim in the middle of a permuted view
    ]
    for view, dim in cases:
        v = view(t)
        ref = view(a) if dim != 1 else a.transpose(1, 0, 2)
        with threads(nt):
            s, mx, mn = v.sum(dim).numpy(), v.max(dim).numpy(), v.min(dim).numpy()
        np.testing.assert_allclose(s, ref.sum(dim), rtol=1e-12, atol=1e-11)
        np.testing.assert_array_equal(mx, ref.max(dim))
        np.testing.assert_array_equal(mn, ref.min(dim))


def test_column_reduction_keepdim_and_grad():
    a = _data((37, 19), np.float64, seed=5)
    t = tl.from_numpy(a).requires_grad_()
    s = t.sum(0, keepdim=True)
    assert s.shape == (1, 19)
    np.testing.assert_allclose(s.detach().numpy(), a.sum(0, keepdims=True), rtol=1e-12)
    assert tl.autograd.gradcheck(lambda x: x.sum(0), (t,))
    assert tl.autograd.gradcheck(lambda x: x.max(0), (t,))
    assert tl.autograd.gradgradcheck(lambda x: x.min(0) * x.sum(0), (t,))
