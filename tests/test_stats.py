"""nansum, nanmean, var_mean, std_mean, aminmax, dist, cdist, cov, corrcoef
(tinygrad_lab/ops/stats.py): forwards against NumPy, values and gradients against PyTorch when
installed (cdist's at zero distances, zero differences and tied maxima), gradcheck in float64,
PyTorch's error types. Cdist, an op of its own for its derivative, also has SPECS lines in
tests/test_ops.py (check_op and the derivative mutations)."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import kernels as K

from .test_products import _a, _t, gradchecks, vs_torch

NAN = float("nan")


# ---- nansum, nanmean ----------------------------------------------------------------------------

def _with_nans():
    a = _a(3, 4)
    a[0, 1] = a[2, 0] = a[2, 3] = NAN
    a[1, :] = NAN
    return a


def test_nansum_nanmean_match_numpy():
    a = _with_nans()
    for dim in (None, 0, 1, (0, 1)):
        np.testing.assert_allclose(tl.nansum(_t(a), dim).numpy(), np.nansum(a, axis=dim))
        with warnings.catch_warnings():     # (NumPy warns about the all-NaN row)
            warnings.simplefilter("ignore")
            want = np.nanmean(a, axis=dim)
        np.testing.assert_allclose(_t(a).nanmean(dim).numpy(), want)   # an all-NaN row: NaN
    assert _t(a).nansum(1, keepdim=True).shape == (3, 1)
    assert tl.nansum(tl.tensor([1, 2])).item() == 3 and tl.nansum(tl.tensor([1, 2])).dtype is tl.int64
    assert tl.nansum(tl.tensor([1, 2]), dtype=tl.float64).dtype is tl.float64
    assert tl.nanmean(tl.tensor([1, 2]), dtype=tl.float64).item() == 1.5
    with pytest.raises(TypeError) as e:
        tl.nanmean(tl.tensor([1, 2]))
    assert isinstance(e.value, RuntimeError) and "floating point" in str(e.value)


def test_nansum_nanmean_gradients_match_torch():
    torch = pytest.importorskip("torch")
    a = _with_nans()
    vs_torch(lambda x: tl.nansum(x, 1), lambda x: torch.nansum(x, 1), a)
    b = _a(3, 4)
    b[0, 0] = NAN
    vs_torch(lambda x: tl.nanmean(x, 0, keepdim=True), lambda x: torch.nanmean(x, 0, keepdim=True), b)
    gradchecks(lambda x: tl.nanmean(x, 1), _a(2, 3))


# ---- var_mean, std_mean -------------------------------------------------------------------------

def test_var_mean_std_mean_match_torch_with_every_overload():
    torch = pytest.importorskip("torch")
    a = _a(3, 4)
    for args, kw in [((), {}), ((1,), {}), ((1, True), {}), ((0, False, True), {}),
                     ((False,), {}), (((0, 1),), {"correction": 0}),
                     ((1,), {"keepdim": True, "correction": 2})]:
        for tl_fn, torch_fn in ((tl.var_mean, torch.var_mean), (tl.std_mean, torch.std_mean)):
            vs_torch(lambda x: tl_fn(x, *args, **kw), lambda x: torch_fn(x, *args, **kw), a)
    gradchecks(lambda x: tl.std_mean(x, 0), _a(3, 2))


def test_var_mean_std_mean_match_numpy():
    a = _a(3, 4)
    v, m = tl.var_mean(_t(a), 1, keepdim=True)
    np.testing.assert_allclose(v.numpy(), a.var(1, ddof=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(m.numpy(), a.mean(1, keepdims=True), rtol=1e-12)
    s, m = tl.std_mean(_t(a), unbiased=False)
    np.testing.assert_allclose([s.item(), m.item()], [a.std(), a.mean()], rtol=1e-12)
    s, _ = tl.std_mean(_t(a), (0, 1), correction=2)
    np.testing.assert_allclose(s.item(), a.std(ddof=2), rtol=1e-12)


def test_var_mean_errors():
    with pytest.raises(TypeError) as e:
        tl.var_mean(tl.tensor([1, 2]))
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(TypeError, match="not both"):
        tl.std_mean(_t(_a(3)), 0, True, correction=1)


# ---- aminmax ------------------------------------------------------------------------------------

def test_aminmax():
    a = _a(3, 4)
    r = tl.aminmax(_t(a), dim=1)
    assert r._fields == ("min", "max") and r.min is r[0]
    np.testing.assert_array_equal(r.min.numpy(), a.min(1))
    np.testing.assert_array_equal(r.max.numpy(), a.max(1))
    lo, hi = _t(a).aminmax(keepdim=True)
    assert lo.shape == hi.shape == (1, 1) and lo.item() == a.min() and hi.item() == a.max()
    assert [t.shape for t in tl.aminmax(_t(a), dim=0, keepdim=True)] == [(1, 4), (1, 4)]
    b = tl.aminmax(tl.tensor([True, False]))
    assert b.min.dtype is tl.bool and b.min.item() is False and b.max.item() is True
    assert tl.aminmax(tl.zeros(0, 3), dim=1).min.shape == (0,)
    with pytest.raises(RuntimeError, match="cannot compute aminmax over an empty dimension"):
        tl.aminmax(tl.zeros(0, 3))
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        tl.aminmax(tl.zeros(0, 3), dim=0)


def test_aminmax_gradient_splits_ties_as_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.0, 0.0]])
    vs_torch(lambda x: tuple(tl.aminmax(x, dim=1)), lambda x: tuple(torch.aminmax(x, dim=1)), a)
    vs_torch(lambda x: tuple(tl.aminmax(x)), lambda x: tuple(torch.aminmax(x)), a)


# ---- dist, cdist --------------------------------------------------------------------------------

def test_dist_matches_torch():
    torch = pytest.importorskip("torch")
    a, b = _a(2, 3), _a(3)
    for p in (2, 1, 3.5, math.inf):
        vs_torch(lambda x, y: tl.dist(x, y, p), lambda x, y: torch.dist(x, y, p), a, b)
    # p = 0 counts the nonzero differences; its gradient is 0 (PyTorch's backward fails there)
    x = _t(a, grad=True)
    out = tl.dist(x, _t(b), 0)
    assert out.item() == np.count_nonzero(a - b)
    out.backward()
    assert not x.grad.numpy().any()
    assert _t(a).dist(_t(a)).item() == 0.0
    with pytest.raises(TypeError) as e:
        tl.dist(tl.tensor([1, 2]), tl.tensor([1, 2]))
    assert isinstance(e.value, RuntimeError)


# zero distance (row 0 of each), a difference of 0 in one coordinate, a tie of |d| maxima
X1 = np.array([[0.0, 1.0, 2.0], [1.0, -1.0, 0.5], [3.0, -1.0, 0.5]])
X2 = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [0.0, 1.0, -1.0], [3.0, -3.0, 0.5]])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, 0.0, math.inf, 1.5])
def test_cdist_matches_torch_at_zero_distances_zero_differences_and_ties(p):
    torch = pytest.importorskip("torch")
    vs_torch(lambda x, y: tl.cdist(x, y, p),
             lambda x, y: torch.cdist(x, y, p, compute_mode="donot_use_mm_for_euclid_dist"), X1, X2)


def test_cdist_batched_and_broadcast():
    a, b = _a(2, 1, 3, 4), _a(3, 5, 4)
    np.testing.assert_allclose(
        tl.cdist(_t(a), _t(b)).numpy(),
        np.linalg.norm(a[..., :, None, :] - b[..., None, :, :], axis=-1), rtol=1e-12)
    gradchecks(lambda x, y: tl.cdist(x, y), _a(2, 3), _a(4, 3))
    torch = pytest.importorskip("torch")
    vs_torch(lambda x, y: tl.cdist(x, y, 3.0), lambda x, y: torch.cdist(x, y, 3.0), a, b)


def test_cdist_gemm_form_for_p2_as_pytorch():
    # more than 25 rows (or compute_mode="use_mm_for_euclid_dist"): one GEMM, |a|^2 + |b|^2 - 2ab
    a, b = _a(2, 30, 4), _a(1, 7, 4)
    b[0, 0] = a[0, 0]                                   # a zero distance: value 0, gradient 0
    with K.record() as calls:
        got = tl.cdist(_t(a), _t(b))
    assert "tl_matmul_forward" in [n for n, _ in calls]
    np.testing.assert_allclose(got.numpy(), np.linalg.norm(a[..., :, None, :] - b[..., None, :, :],
                                                           axis=-1), rtol=1e-12, atol=1e-7)
    assert got[0, 0, 0].item() == 0.0
    gradchecks(lambda x, y: tl.cdist(x, y, compute_mode="use_mm_for_euclid_dist"), _a(2, 3), _a(4, 3))
    torch = pytest.importorskip("torch")
    for mode in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist"):
        vs_torch(lambda x, y: tl.cdist(x, y, compute_mode=mode),
                 lambda x, y: torch.cdist(x, y, compute_mode=mode), a, b, rtol=1e-9, atol=1e-12)


def test_cdist_errors():
    with pytest.raises(ValueError, match="not a valid value for compute_mode"):
        tl.cdist(_t(_a(2, 2)), _t(_a(2, 2)), compute_mode="mm")
    a = _t(_a(2, 3, 4))
    with pytest.raises(ValueError, match="same number of columns. X1: 4 X2: 3"):
        tl.cdist(a, _t(_a(5, 3)))
    with pytest.raises(RuntimeError, match="at least 2D tensors, X1 got: 1D"):
        tl.cdist(_t(_a(4)), _t(_a(5, 4)))
    with pytest.raises(RuntimeError, match="non-negative p values"):
        tl.cdist(a, _t(_a(5, 4)), p=-1)
    with pytest.raises(TypeError) as e:
        tl.cdist(tl.zeros(2, 2, dtype=tl.int64), tl.zeros(2, 2, dtype=tl.int64))
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(TypeError):
        tl.cdist(a, _t(_a(5, 4), dtype=tl.float32))
    with pytest.raises(RuntimeError, match="do not broadcast"):
        tl.cdist(a, _t(_a(3, 5, 4)))


# ---- cov, corrcoef ------------------------------------------------------------------------------

FW = np.array([1, 2, 0, 3, 1])
AW = np.array([0.5, 1.0, 2.0, 0.25, 1.0])


def test_cov_matches_numpy():
    x = _a(3, 5)
    for kw, np_kw in [({}, {}), ({"correction": 0}, {"ddof": 0}),
                      ({"fweights": FW}, {"fweights": FW}), ({"aweights": AW}, {"aweights": AW}),
                      ({"fweights": FW, "aweights": AW, "correction": 2},
                       {"fweights": FW, "aweights": AW, "ddof": 2})]:
        args = {k: tl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        np.testing.assert_allclose(tl.cov(_t(x), **args).numpy(), np.cov(x, **np_kw), rtol=1e-12)
    assert tl.cov(_t(x[0])).shape == ()            # one variable: 0-d
    np.testing.assert_allclose(tl.cov(_t(x[0])).item(), np.cov(x[0]))
    assert tl.cov(tl.tensor([[1, 2, 4]])).dtype is tl.float32   # integers: the default float dtype
    np.testing.assert_allclose(tl.corrcoef(_t(x)).numpy(), np.corrcoef(x), rtol=1e-12)
    assert tl.corrcoef(_t(x[0])).item() == 1.0
    assert tl.cov(_t(x[:, :1])).isnan().all().item()            # N - correction = 0: NaN, as torch


def test_cov_corrcoef_gradients_match_torch():
    gradchecks(lambda t: tl.cov(t, correction=0), _a(2, 4))
    gradchecks(tl.corrcoef, _a(2, 3))
    torch = pytest.importorskip("torch")
    x = _a(3, 5)
    fw, aw = torch.tensor(FW), torch.tensor(AW)
    vs_torch(lambda t: tl.cov(t, fweights=tl.tensor(FW), aweights=tl.tensor(AW)),
             lambda t: torch.cov(t, fweights=fw, aweights=aw), x)
    vs_torch(lambda t, w: t.cov(aweights=w), lambda t, w: t.cov(aweights=w), x, AW)
    vs_torch(tl.corrcoef, torch.corrcoef, x)


def test_cov_errors():
    x = _t(_a(3, 5))
    with pytest.raises(ValueError, match="two or fewer dimensions"):
        tl.cov(_t(_a(2, 2, 2)))
    with pytest.raises(TypeError, match="fweights to have integral dtype"):
        tl.cov(x, fweights=_t(AW))
    with pytest.raises(TypeError, match="aweights to have floating point dtype"):
        tl.cov(x, aweights=tl.tensor(FW))
    with pytest.raises(ValueError, match="same numel as there are observations"):
        tl.cov(x, fweights=tl.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="fweights cannot be negative"):
        tl.cov(x, fweights=tl.tensor([1, -2, 0, 3, 1]))
    with pytest.raises(RuntimeError, match="aweights cannot be negative"):
        tl.cov(x, aweights=_t(-AW))


def test_half_inputs():
    x = tl.tensor([[1.0, NAN], [2.0, 3.0]], dtype=tl.float16, requires_grad=True)
    m = tl.nanmean(x, 1)
    assert m.dtype is tl.float16 and m.tolist() == [1.0, 2.5]
    m.sum().backward()
    assert x.grad.dtype is tl.float16 and x.grad.tolist() == [[1.0, 0.0], [0.5, 0.5]]
    d = tl.cdist(x.detach()[1:], tl.zeros(1, 2, dtype=tl.float16))
    assert d.dtype is tl.float16 and abs(d.item() - 13 ** 0.5) < 1e-2
