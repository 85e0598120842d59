"""tl.sort / argsort / msort / topk, kthvalue / median / nanmedian, cummax / cummin, cumprod,
logcumsumexp, searchsorted / bucketize (csrc/sort.c, tinygrad_lab/ops/sort.py): values, indices
and gradients against PyTorch (ties, NaN, -0, +-inf, zeros), the named tuples, dtypes, strided
and threaded inputs, PyTorch's error types. (The op-table checks -- gradcheck, gradgradcheck, C
VJP against formula -- are the Sort / Kthvalue / Median / Cummax / Cumprod / Logcumsumexp lines
of tests/test_ops.py SPECS.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(11)
NAN, INF = float("nan"), float("inf")


def _ties(shape):
    """float64 values with many ties, a NaN, -0 / 0 and +-inf."""
    a = RNG.integers(-3, 4, shape).astype(np.float64)
    flat = a.reshape(-1)
    flat[::7] = NAN
    flat[1::11] = -0.0
    flat[2::13] = INF
    flat[3::17] = -INF
    return a


def _same(t, ref):
    np.testing.assert_array_equal(t.detach().numpy(), ref.detach().numpy())


def _grad_vs_torch(torch, fn_tl, fn_torch, a, pick=lambda r: r):
    """The gradient of sum(out * w) through fn on tl and torch (float64), w random."""
    x = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    xt = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    out, outt = pick(fn_tl(x)), pick(fn_torch(xt))
    w = RNG.standard_normal(outt.shape)
    (out * tl.tensor(w)).sum().backward()
    (outt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), outt.detach().numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)


# ---- sort ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim,descending", [(-1, False), (0, True), (1, False)])
def test_sort_matches_torch_stable_with_ties_nan_and_inf(dim, descending):
    torch = pytest.importorskip("torch")
    a = _ties((5, 6, 3))
    v, i = tl.sort(tl.tensor(a), dim, descending)
    rt = torch.sort(torch.tensor(a, dtype=torch.float32), dim=dim, descending=descending, stable=True)
    _same(v, rt.values)
    _same(i, rt.indices)
    # a strided (transposed) input sorts the same
    xt = tl.tensor(np.ascontiguousarray(a.transpose(2, 1, 0))).permute(2, 1, 0)
    r = xt.sort(dim, descending, stable=True)
    _same(r.indices, rt.indices)


def test_sort_named_tuple_argsort_msort():
    x = tl.tensor([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]])
    r = x.sort()
    values, indices = r
    assert r[0] is values and r.values is values and r.indices is indices
    assert type(r).__name__ == "sort" and type(r) is tl.return_types.sort
    assert values.numpy().tolist() == [[1, 2, 3], [-1, 0, 5]]
    assert indices.dtype is tl.int64 and indices.numpy().tolist() == [[1, 2, 0], [1, 0, 2]]
    assert tl.argsort(x, dim=0, descending=True).numpy().tolist() == [[0, 0, 1], [1, 1, 0]]
    assert x.argsort().numpy().tolist() == [[1, 2, 0], [1, 0, 2]]
    assert tl.msort(x).numpy().tolist() == [[0, -1, 2], [3, 1, 5]]
    assert "indices=" in repr(r)


def test_sort_dtypes():
    torch = pytest.importorskip("torch")
    ints = RNG.integers(-5, 5, (4, 9))
    v, i = tl.tensor(ints).sort(descending=True)
    rt = torch.tensor(ints).sort(descending=True, stable=True)
    assert v.dtype is tl.int64
    _same(v, rt.values)
    _same(i, rt.indices)
    big = tl.tensor([2 ** 62, -2 ** 62, 2 ** 62 - 1, -(2 ** 63)])   # not through a float
    assert big.sort().values.numpy().tolist() == [-(2 ** 63), -2 ** 62, 2 ** 62 - 1, 2 ** 62]
    b = tl.tensor([True, False, True, False])
    assert b.sort().indices.numpy().tolist() == [1, 3, 0, 2] and b.sort().values.dtype is tl.bool
    for dt, tdt in ((tl.float16, torch.float16), (tl.bfloat16, torch.bfloat16)):
        a = _ties((3, 8))
        v, i = tl.tensor(a).to(dt).sort(stable=True)
        rt = torch.tensor(a).to(tdt).sort(stable=True)
        assert v.dtype is dt
        np.testing.assert_array_equal(v.to(tl.float32).numpy(), rt.values.float().numpy())
        _same(i, rt.indices)


def test_sort_large_threaded_input_and_empty_and_0d():
    a = RNG.standard_normal((96, 1500))                   # > 2 threads' worth of work
    v, i = tl.tensor(a).sort(-1)
    np.testing.assert_array_equal(v.numpy(), np.sort(a, -1))
    np.testing.assert_array_equal(i.numpy(), np.argsort(a, -1, kind="stable"))
    e = tl.zeros(0, 3).sort(0)
    assert e.values.shape == (0, 3) and e.indices.shape == (0, 3)
    s = tl.tensor(2.5).sort()
    assert s.values.shape == () and s.values.item() == 2.5 and s.indices.item() == 0
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.zeros(2, 3).sort(2)
    with pytest.raises(TypeError):
        tl.sort([1.0, 2.0])


def test_sort_and_topk_gradients_vs_torch():
    torch = pytest.importorskip("torch")
    a = RNG.integers(-3, 4, (4, 5)).astype(np.float64)   # ties: the gradient follows the indices
    _grad_vs_torch(torch, lambda x: x.sort(1, descending=True, stable=True).values,
                   lambda x: x.sort(dim=1, descending=True, stable=True).values, a)
    b = RNG.standard_normal((4, 6))
    _grad_vs_torch(torch, lambda x: x.topk(3, 0).values, lambda x: x.topk(3, 0).values, b)
    _grad_vs_torch(torch, lambda x: x.topk(2, largest=False).values,
                   lambda x: x.topk(2, largest=False).values, b)
    x = tl.tensor(b, dtype=tl.float64, requires_grad=True)
    assert x.sort().values.grad_fn.name() == "SortBackward"
    assert x.argsort().grad_fn is None and not x.argsort().requires_grad


def test_half_sort_backward():
    x = tl.tensor([3.0, 1.0, 2.0], dtype=tl.float16, requires_grad=True)
    (x.sort().values * tl.tensor([1.0, 2.0, 3.0], dtype=tl.float16)).sum().backward()
    assert x.grad.dtype is tl.float16 and x.grad.to(tl.float32).numpy().tolist() == [3, 1, 2]


# ---- topk, kthvalue, median ----------------------------------------------------------------------

def test_topk_values_indices_and_errors():
    torch = pytest.importorskip("torch")
    a = _ties((4, 7))
    for k, dim, largest in ((3, -1, True), (2, 0, False), (7, 1, True), (0, 1, False)):
        v, i = tl.tensor(a).topk(k, dim, largest)
        rt = torch.tensor(a).topk(k, dim, largest)
        np.testing.assert_array_equal(v.numpy(), rt.values.numpy())   # (ties: any index of them)
        np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), dim), v.numpy())


def test_kthvalue_and_median_vs_torch():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((5, 6))
    a[1, 2] = NAN
    x, xt = tl.tensor(a), torch.tensor(a)
    for got, want in ((x.kthvalue(2, 0), xt.kthvalue(2, 0)), (x.kthvalue(6), xt.kthvalue(6)),
                      (x.median(1), xt.median(1)), (x.nanmedian(1), xt.nanmedian(1)),
                      (x.median(0, keepdim=True), xt.median(0, keepdim=True))):
        assert type(got).__name__ == type(want).__name__
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    for fn in ("median", "nanmedian"):
        np.testing.assert_array_equal(getattr(x, fn)().numpy(), getattr(xt, fn)().numpy())
        np.testing.assert_array_equal(getattr(tl, fn)(x[0]).numpy(), getattr(torch, fn)(xt[0]).numpy())


def test_median_and_kthvalue_gradients_vs_torch():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((4, 5))
    _grad_vs_torch(torch, lambda x: x.kthvalue(3, 1, keepdim=True).values,
                   lambda x: x.kthvalue(3, 1, keepdim=True).values, a)
    _grad_vs_torch(torch, lambda x: x.median(0).values, lambda x: x.median(0).values, a)
    ties = np.array([1.0, 2.0, 2.0, 3.0, NAN, 2.0, 0.0])  # median(): g split among the ties
    _grad_vs_torch(torch, lambda x: x.nanmedian(), lambda x: x.nanmedian(), ties)
    _grad_vs_torch(torch, lambda x: x.median(), lambda x: x.median(), ties)
    _grad_vs_torch(torch, lambda x: x.median(), lambda x: x.median(), ties[[0, 1, 2, 3, 5]])


# ---- cummax / cummin, cumprod, logcumsumexp -------------------------------------------------------

def test_cummax_cummin_vs_torch():
    torch = pytest.importorskip("torch")
    a = _ties((4, 9))
    for name in ("cummax", "cummin"):
        for dim in (0, 1):
            got, want = getattr(tl, name)(tl.tensor(a), dim), getattr(torch, name)(torch.tensor(a), dim)
            assert type(got).__name__ == name
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        ties = RNG.integers(0, 3, (3, 8)).astype(np.float64)   # repeated indices accumulate
        _grad_vs_torch(torch, lambda x: getattr(x, name)(1).values,
                       lambda x: getattr(x, name)(1).values, ties)
    ints = tl.tensor([[1, 5, 2, 5]]).cummax(1)
    assert ints.values.numpy().tolist() == [[1, 5, 5, 5]] and ints.indices.numpy().tolist() == [[0, 1, 1, 3]]


def test_cumprod_with_zeros_vs_torch():
    torch = pytest.importorskip("torch")
    a = RNG.uniform(-2, 2, (6, 7))
    a[0, 3] = 0                                   # one zero
    a[1, 2] = a[1, 5] = 0                         # two zeros
    a[2, 0] = 0                                   # a zero first
    a[3, 6] = 0                                   # a zero last
    _grad_vs_torch(torch, lambda x: x.cumprod(1), lambda x: x.cumprod(1), a)
    _grad_vs_torch(torch, lambda x: tl.cumprod(x, 0), lambda x: torch.cumprod(x, 0), a)


def test_logcumsumexp_vs_torch():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((3, 6)) * 30             # exp over/underflows without care
    a[0, 0] = -INF
    a[1, 2:4] = -INF
    a[2, 3] = 800.0
    _grad_vs_torch(torch, lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1), a)
    _grad_vs_torch(torch, lambda x: tl.logcumsumexp(x, 0), lambda x: torch.logcumsumexp(x, 0), a)
    out = tl.tensor([INF, 1.0, NAN, 2.0]).logcumsumexp(0).numpy()
    assert out[0] == INF and out[1] == INF and np.isnan(out[2:]).all()
    h = tl.tensor([0.0, 0.0]).to(tl.float16).logcumsumexp(0)
    assert h.dtype is tl.float16 and abs(h.to(tl.float32).numpy()[1] - np.log(2)) < 1e-3


# ---- searchsorted, bucketize --------------------------------------------------------------------

def test_searchsorted_and_bucketize_vs_torch():
    torch = pytest.importorskip("torch")
    seq = np.array([-INF, -1.0, 0.0, 0.0, 2.0, 5.0, INF])
    vals = np.array([[-2.0, 0.0, 0.0, 7.0], [NAN, INF, -INF, 2.0]])
    for right in (False, True):
        got = tl.searchsorted(tl.tensor(seq), tl.tensor(vals), right=right)
        want = torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right)
        assert got.dtype is tl.int64
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        side = "right" if right else "left"
        np.testing.assert_array_equal(tl.searchsorted(tl.tensor(seq), tl.tensor(vals), side=side).numpy(),
                                      want.numpy())
        b = tl.bucketize(tl.tensor(vals), tl.tensor(seq), right=right)
        np.testing.assert_array_equal(b.numpy(), torch.bucketize(torch.tensor(vals), torch.tensor(seq),
                                                                 right=right).numpy())
    rows = np.sort(RNG.integers(0, 9, (3, 5)), 1)                     # one sequence per row
    v = RNG.integers(0, 9, (3, 4))
    np.testing.assert_array_equal(tl.searchsorted(tl.tensor(rows), tl.tensor(v)).numpy(),
                                  torch.searchsorted(torch.tensor(rows), torch.tensor(v)).numpy())
    assert tl.searchsorted(tl.tensor([1, 3]), 2).item() == 1            # a scalar value
    assert tl.searchsorted(tl.tensor([1, 3]), tl.tensor([1.5])).numpy().tolist() == [1]  # promoted


# ---- without PyTorch: NumPy references, gradcheck, PyTorch's errors -----------------------------

def test_topk_kthvalue_median_without_torch():
    a = RNG.standard_normal((4, 7))
    v, i = tl.tensor(a).topk(3, 1)
    np.testing.assert_array_equal(v.numpy(), -np.sort(-a, 1)[:, :3])
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), 1), v.numpy())
    r = tl.topk(tl.tensor([1.0, 3.0, 2.0]), 2, sorted=False)
    assert type(r) is tl.return_types.topk and r.indices.numpy().tolist() == [1, 2]
    k = tl.tensor(a).kthvalue(3, 0)
    np.testing.assert_array_equal(k.values.numpy(), np.sort(a, 0)[2])
    assert tl.tensor([2.0, 2.0, 2.0]).kthvalue(2).indices.item() == 1     # ties in input order
    x = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    assert gradcheck(lambda t: t.median(1).values, (x,))
    assert gradcheck(lambda t: t.topk(2, 0).values, (x,))
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        tl.zeros(3).topk(4)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        tl.zeros(3).topk(-1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.zeros(3).topk(1, dim=1)


def test_median_edge_cases_and_errors():
    allnan = tl.tensor([NAN, NAN]).nanmedian(0)
    assert np.isnan(allnan.values.item()) and allnan.indices.item() == 0
    m = tl.tensor([3.0, NAN, 1.0]).median(0)
    assert np.isnan(m.values.item()) and m.indices.item() == 1            # the first NaN
    assert tl.tensor([3.0, NAN, 1.0, 2.0]).nanmedian().item() == 2.0
    assert tl.tensor([4, 1, 3, 2]).median().item() == 2                 # int64: the lower median
    assert np.isnan(tl.zeros(0).median().item())
    with pytest.raises(IndexError, match="non-zero size"):
        tl.zeros(2, 0).median(1)
    with pytest.raises(RuntimeError, match="k out of range"):
        tl.zeros(3).kthvalue(4)
    with pytest.raises(RuntimeError, match="k out of range"):
        tl.zeros(3).kthvalue(0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.zeros(3).kthvalue(1, 1)


def test_cumprod_gradcheck_with_zeros_dtypes_and_errors():
    a = RNG.uniform(-2, 2, (3, 5))
    a[0, 3] = a[1, 1] = a[1, 3] = a[2, 0] = 0
    x = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    assert gradcheck(lambda t: t.cumprod(1), (x,)) and gradgradcheck(lambda t: t.cumprod(1), (x,))
    np.testing.assert_allclose(x.cumprod(1).detach().numpy(), np.cumprod(a, 1), rtol=1e-12)
    assert tl.cumprod(tl.tensor([2, 3, 4]), 0).numpy().tolist() == [2, 6, 24]
    assert tl.tensor([True, True, False]).cumprod(0).dtype is tl.int64
    f = tl.cumprod(tl.tensor([1, 2]), 0, dtype=tl.float64)
    assert f.dtype is tl.float64 and f.numpy().tolist() == [1.0, 2.0]
    h = tl.tensor([1.0, 2.0, 0.5]).to(tl.bfloat16).cumprod(0)
    assert h.dtype is tl.bfloat16 and h.to(tl.float32).numpy().tolist() == [1.0, 2.0, 1.0]
    with pytest.raises(IndexError, match="Dimension out of range"):
        tl.zeros(2).cumprod(1)


def test_searchsorted_logcumsumexp_without_torch_and_errors():
    seq = np.array([-1.0, 0.0, 0.0, 2.0])
    v = np.array([-2.0, 0.0, 1.0, 3.0])
    assert tl.searchsorted(tl.tensor(seq), tl.tensor(v)).numpy().tolist() == \
        np.searchsorted(seq, v).tolist()
    assert tl.bucketize(tl.tensor(v), tl.tensor(seq), right=True).numpy().tolist() == \
        np.searchsorted(seq, v, side="right").tolist()
    a = RNG.standard_normal((2, 5))
    np.testing.assert_allclose(tl.tensor(a).logcumsumexp(1).numpy(), np.logaddexp.accumulate(a, 1),
                               rtol=1e-6)
    with pytest.raises(NotImplementedError, match="logcumsumexp"):
        tl.tensor([1, 2]).logcumsumexp(0)
    with pytest.raises(RuntimeError, match="boundaries tensor should be 1 dimension"):
        tl.searchsorted(tl.zeros(1, 2), tl.zeros(2))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        tl.searchsorted(tl.zeros(2), tl.zeros(2), right=True, side="left")
    with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension"):
        tl.bucketize(tl.zeros(2), tl.zeros(1, 2))


@pytest.mark.parametrize("n", [17, 100, 2000])
def test_selection_on_long_slices(n):
    # quickselect (kthvalue, median, topk's first k) past the insertion-sort cutoff: random,
    # tied, sorted and reversed slices
    rand = RNG.standard_normal(n)
    for a in (rand, RNG.integers(0, 4, n).astype(np.float64), np.sort(rand), np.sort(rand)[::-1]):
        x = tl.tensor(np.ascontiguousarray(a))
        for k in (1, n // 3 + 1, n):
            v, i = x.kthvalue(k)
            assert v.item() == np.sort(a)[k - 1] and a[i.item()] == v.item()
            assert x.topk(k, largest=False).indices.numpy().tolist() == \
                np.argsort(a, kind="stable")[:k].tolist()
        assert x.median().item() == np.sort(a)[(n - 1) // 2]
