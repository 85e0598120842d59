"""nonzero, argwhere, count_nonzero, bincount, histc, unique, unique_consecutive (csrc/count.c):
values against NumPy always and PyTorch when installed, the edge cases (0-d, empty, NaN, -0),
PyTorch's error types."""
import numpy as np
import pytest

import tinygrad_lab as tl

RNG = np.random.default_rng(5)


def _eq(a, b):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        y = np.asarray(y)
        assert x.shape == y.shape, (x.shape, y.shape)
        np.testing.assert_array_equal(x.numpy(), y)


def _torch_eq(fn_tl, fn_torch, arrays):
    torch = pytest.importorskip("torch")
    for a in arrays:
        ref = fn_torch(torch.tensor(a))
        out = fn_tl(tl.tensor(a))
        ref = tuple(r.numpy() for r in ref) if isinstance(ref, tuple) else ref.numpy()
        _eq(out, ref)
        for o, r in zip(out if isinstance(out, tuple) else (out,), ref if isinstance(ref, tuple) else (ref,)):
            assert o.numpy().dtype == r.dtype


def test_nonzero_argwhere_count_nonzero():
    a = np.array([[0.0, 1, 2], [np.nan, 0, -0.0]])
    _eq(tl.nonzero(tl.tensor(a)), np.argwhere(a))        # NaN is non-zero, -0 is zero
    _eq(tl.tensor(a).nonzero(as_tuple=True), np.nonzero(a))
    _eq(tl.argwhere(tl.tensor(a > 1)), np.argwhere(a > 1))
    assert tl.tensor(5).nonzero().shape == (1, 0) and tl.tensor(0.0).nonzero().shape == (0, 0)
    _eq(tl.tensor(5).nonzero(as_tuple=True), (np.array([0]),))
    assert tl.zeros(0, 3).nonzero().shape == (0, 2) and tl.nonzero(tl.zeros(2)).dtype is tl.int64
    x = tl.tensor(a)
    assert tl.count_nonzero(x).item() == 3 and x.count_nonzero().dtype is tl.int64
    _eq(x.count_nonzero(0), [1, 1, 1])
    _eq(x.count_nonzero(dim=-1), [2, 1])
    _eq(tl.count_nonzero(x, dim=[0, 1]), np.array(3))
    with pytest.raises(IndexError):
        x.count_nonzero(2)
    _torch_eq(lambda t: t.nonzero(), lambda t: t.nonzero(), [a, a > 0, np.array(2.0), np.zeros((2, 0))])
    _torch_eq(lambda t: t.nonzero(as_tuple=True), lambda t: t.nonzero(as_tuple=True), [a, np.array(0.0)])
    _torch_eq(lambda t: t.count_nonzero((0, 1)), lambda t: t.count_nonzero((0, 1)), [a])


def test_bincount():
    x = tl.tensor([1, 1, 3])
    _eq(tl.bincount(x), [0, 2, 0, 1])
    _eq(x.bincount(minlength=6), [0, 2, 0, 1, 0, 0])
    _eq(tl.bincount(tl.tensor([], dtype=tl.int64)), np.zeros(0, np.int64))
    assert tl.bincount(tl.tensor([], dtype=tl.int64), minlength=2).tolist() == [0, 0]
    w = tl.bincount(x, weights=tl.tensor([0.5, 1.0, 2.0]))
    assert w.dtype is tl.float32 and w.tolist() == [0, 1.5, 0, 2]
    assert tl.bincount(x, tl.tensor([1.0, 2, 3], dtype=tl.float64)).dtype is tl.float64
    wi = tl.bincount(x, weights=tl.tensor([1, 2, 3]))
    assert wi.dtype is tl.float64 and wi.tolist() == [0, 3, 0, 3]
    big = RNG.integers(0, 50, 300)
    wts = RNG.standard_normal(300)
    np.testing.assert_allclose(tl.bincount(tl.tensor(big), tl.tensor(wts)).numpy(), np.bincount(big, wts))
    with pytest.raises(RuntimeError, match="non-negative"):
        tl.bincount(tl.tensor([1, -1, 3]))
    with pytest.raises(RuntimeError, match="1-d"):
        tl.bincount(tl.tensor([[1]]))
    with pytest.raises(NotImplementedError):
        tl.bincount(tl.tensor([1.0]))
    with pytest.raises(RuntimeError, match="same length"):
        tl.bincount(x, tl.tensor([0.5, 1.0]))
    with pytest.raises(RuntimeError, match="minlength"):
        tl.bincount(x, minlength=-1)


def test_histc():
    x = tl.tensor([1.0, 2, 1, 2.5, 4, 5])
    _eq(x.histc(4), np.array([2, 2, 0, 2], np.float32))            # the data's range; 5 in the last bin
    _eq(tl.histc(x, 4, 0, 3), np.array([0, 2, 1, 1], np.float32))   # outside the range: ignored
    _eq(tl.tensor([2.0, 2, 2]).histc(3), np.array([0, 3, 0], np.float32))   # one value: widened by 1
    _eq(tl.tensor([]).histc(3), np.zeros(3, np.float32))
    _eq(tl.tensor([0.5, np.nan, 2.0], dtype=tl.float64).histc(2, 0, 2), np.array([1.0, 1.0]))
    data = RNG.standard_normal(500)
    np.testing.assert_array_equal(tl.tensor(data).histc(7, -1, 1.5).numpy(),
                                  np.histogram(data, 7, (-1, 1.5))[0])
    torch = pytest.importorskip("torch")
    for a in [RNG.standard_normal(2000).astype(np.float32), np.arange(0, 1.0001, 0.1, dtype=np.float32),
              RNG.random(300)]:
        for args in [(), (10, 0, 1), (7, -1, 1.5)]:
            np.testing.assert_array_equal(tl.histc(tl.tensor(a), *args).numpy(),
                                          torch.histc(torch.tensor(a), *args).numpy())
    for bad, match in [(lambda: x.histc(0), "bins"), (lambda: x.histc(3, 2, 1), "larger than min"),
                       (lambda: tl.tensor([1.0, float("inf")]).histc(2), "finite"),
                       (lambda: tl.tensor([1.0, float("nan")]).histc(2), "finite")]:
        with pytest.raises(RuntimeError, match=match):
            bad()
    with pytest.raises(NotImplementedError):
        tl.tensor([1, 2]).histc(3)


def test_unique_and_unique_consecutive():
    x = tl.tensor([3, 1, 2, 3, 1, 5])
    _eq(x.unique(), [1, 2, 3, 5])
    _eq(tl.unique(x, return_inverse=True, return_counts=True), ([1, 2, 3, 5], [2, 0, 1, 2, 0, 3], [2, 1, 2, 1]))
    _eq(tl.unique(x.reshape(2, 3), sorted=False, return_inverse=True), ([1, 2, 3, 5], [[2, 0, 1], [2, 0, 3]]))
    v, c = tl.unique(tl.tensor([2.0, np.nan, 1, np.nan, -0.0, 0.0]), return_counts=True)
    np.testing.assert_array_equal(v.numpy(), [0, 1, 2, np.nan, np.nan])   # each NaN alone, last
    assert np.signbit(v.numpy()[0]) and c.tolist() == [2, 1, 1, 1, 1]
    _eq(tl.unique(tl.tensor([True, False, True]), return_counts=True), ([False, True], [1, 2]))
    _eq(tl.unique(tl.tensor(3.0), return_inverse=True, return_counts=True), ([3.0], np.array(0), [1]))
    _eq(tl.unique(tl.tensor([]), return_inverse=True), (np.zeros(0, np.float32), np.zeros(0, np.int64)))
    y = tl.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    _eq(y.unique_consecutive(), [1, 2, 3, 1, 2])
    _eq(tl.unique_consecutive(y.reshape(2, 4), return_inverse=True, return_counts=True),
        ([1, 2, 3, 1, 2], [[0, 0, 1, 1], [2, 3, 3, 4]], [2, 2, 1, 2, 1]))
    _eq(tl.unique_consecutive(tl.tensor([np.nan, np.nan, 1.0]), return_counts=True),
        (np.array([np.nan, np.nan, 1.0], np.float32), [1, 1, 1]))
    big = RNG.integers(0, 40, 1000)
    vals, inv, cnt = tl.unique(tl.tensor(big), return_inverse=True, return_counts=True)
    rv, ri, rc = np.unique(big, return_inverse=True, return_counts=True)
    _eq((vals, inv, cnt), (rv, ri.reshape(big.shape), rc))
    q = tl.tensor([1.0, 2.0, 1.0], requires_grad=True)
    assert not q.unique().requires_grad
    torch = pytest.importorskip("torch")
    arrays = [RNG.standard_normal(50).round(1), RNG.integers(0, 5, (7, 9)), np.array([True, True, False])]
    for kw in [{}, dict(return_inverse=True, return_counts=True)]:
        _torch_eq(lambda t: tl.unique(t, **kw), lambda t: torch.unique(t, **kw), arrays)
        _torch_eq(lambda t: tl.unique_consecutive(t, **kw), lambda t: torch.unique_consecutive(t, **kw), arrays)


def test_unique_dim_values_inverse_counts():
    """Slices along dim, sorted lexicographically (unique) or runs (unique_consecutive); NumPy's
    np.unique(axis=) as the oracle where it applies."""
    x = tl.tensor([[1, 2], [0, 3], [1, 2], [0, 1]])
    _eq(tl.unique(x, dim=0, return_inverse=True, return_counts=True),
        ([[0, 1], [0, 3], [1, 2]], [2, 1, 2, 0], [1, 1, 2]))
    _eq(x.unique(dim=1), [[1, 2], [0, 3], [1, 2], [0, 1]])
    _eq(tl.unique_consecutive(tl.tensor([[1, 1, 2, 1], [3, 3, 0, 3]]), dim=1, return_inverse=True,
                              return_counts=True), ([[1, 2, 1], [3, 0, 3]], [0, 0, 1, 2], [2, 1, 1]))
    for shape, dim in [((30, 3), 0), ((4, 25, 2), 1), ((3, 2, 40), -1), ((200,), 0)]:
        a = RNG.integers(0, 2, shape)
        for dtype in (np.int64, np.float32, np.float64, np.bool_):
            vals, inv, cnt = tl.unique(tl.tensor(a.astype(dtype)), dim=dim, return_inverse=True,
                                       return_counts=True)
            rv, ri, rc = np.unique(a.astype(dtype), axis=dim, return_inverse=True, return_counts=True)
            _eq((vals, inv, cnt), (rv, ri.reshape(-1), rc))
    # -0 and 0 are one value (the first slice is kept); a slice holding a NaN equals no other
    v, c = tl.unique(tl.tensor([[0.0, 1], [-0.0, 1], [np.nan, 1], [np.nan, 1], [2, 0]]), dim=0,
                     return_counts=True)
    np.testing.assert_array_equal(v.numpy(), [[0, 1], [2, 0], [np.nan, 1], [np.nan, 1]])
    assert not np.signbit(v.numpy()[0, 0]) and c.tolist() == [2, 1, 1, 1]
    # the selected dim may be empty; strided input; no gradient
    _eq(tl.unique(tl.zeros(0, 3), dim=0, return_inverse=True, return_counts=True),
        (np.zeros((0, 3), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)))
    t = tl.tensor(RNG.integers(0, 2, (3, 8)), dtype=tl.float64).requires_grad_()
    _eq(tl.unique(t.detach().transpose(0, 1), dim=0), np.unique(t.detach().numpy().T, axis=0))
    assert not tl.unique(t, dim=1).requires_grad


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: tl.unique(tl.zeros(3, 0), dim=0), RuntimeError, "aren't selected"),
    (lambda: tl.unique_consecutive(tl.zeros(3, 0), dim=0), RuntimeError, "aren't selected"),
    (lambda: tl.unique(tl.zeros(0, 0), dim=1), RuntimeError, "more than one"),
    (lambda: tl.unique(tl.tensor(3.0), dim=0), IndexError, "no dimensions"),
    (lambda: tl.unique(tl.zeros(2), dim=1), IndexError, "Dimension out of range"),
    (lambda: tl.unique(tl.zeros(2, 2, dtype=tl.float16), dim=0), NotImplementedError, "not implemented"),
])
def test_unique_dim_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_unique_dim_against_torch():
    torch = pytest.importorskip("torch")
    arrays = [RNG.integers(0, 3, (40, 2)).astype(np.float32), RNG.integers(-2, 2, (5, 30, 2)),
              RNG.integers(0, 2, (6, 3)).astype(bool), RNG.integers(0, 2, (3, 2, 50)).astype(np.float64)]
    for dim in (0, 1, -1):
        for kw in [{}, dict(return_inverse=True), dict(return_counts=True),
                   dict(return_inverse=True, return_counts=True)]:
            kw = dict(kw, dim=dim)
            _torch_eq(lambda t: tl.unique(t, **kw), lambda t: torch.unique(t, **kw), arrays)
            _torch_eq(lambda t: tl.unique_consecutive(t, **kw),
                      lambda t: torch.unique_consecutive(t, **kw), arrays)
