"""Storage: attributes, conversions, repr, views that share memory and copies that do not, strided
copies of arbitrary view chains (a randomized property test against NumPy), NumPy round trips,
and the errors bad data and bad shapes raise."""
import numpy as np
import pytest

import tinygrad_lab as tl

from tinygrad_lab.tensor import _UNSHARED

from .helpers import rng_for

DTYPES = [tl.float32, tl.float64, tl.int64, tl.bool]


def _values(shape, dt, seed=0):
    """Distinct-ish values of dtype ``dt`` so a wrong element is visible."""
    n = int(np.prod(shape))
    a = (np.arange(n) * 7 + seed) % 23 - 11
    return (a % 2 == 0 if dt is tl.bool else a.astype(dt.np)).reshape(shape)


# ---- attributes ---------------------------------------------------------------------------------

def test_attributes_of_a_leaf():
    t = tl.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and type(t.shape) is tuple
    assert all(type(n) is int for n in t.shape)
    assert t.ndim == 3 and t.dim() == 3
    assert t.dtype is tl.float32
    assert t.requires_grad is False and t.grad is None
    assert t.is_leaf and t.grad_fn is None
    assert t.numel() == 24 and len(t) == 2
    assert t.size() == (2, 3, 4)
    assert (t.size(0), t.size(1), t.size(2), t.size(-1), t.size(-3)) == (2, 3, 4, 4, 2)
    assert t.T.shape == (4, 3, 2)
    assert t.is_contiguous() and t.stride() == (12, 4, 1)


def test_attributes_of_a_result():
    x = tl.ones(2, 3, requires_grad=True)
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad is None
    assert y.grad_fn is not None and "Mul" in y.grad_fn.name()
    assert x.is_leaf and x.grad_fn is None
    assert x.T.grad_fn is not None and x.T.shape == (3, 2)


def test_zero_d_and_zero_size():
    s = tl.tensor(5.0)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1 and s.size() == ()
    assert s.T.shape == () and s.item() == 5.0
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    with pytest.raises(ValueError, match=r"shape \(\)"):
        s.size(0)
    z = tl.zeros(0, 3)
    assert z.numel() == 0 and len(z) == 0 and z.T.shape == (3, 0)
    assert tl.ones(5).T.shape == (5,)


def test_size_dim_out_of_range():
    t = tl.zeros(2, 3)
    for d in (2, -3, 10):
        with pytest.raises(ValueError, match=r"out of range.*\(2, 3\)"):
            t.size(d)
    with pytest.raises(TypeError, match="must be an int"):
        t.size(1.0)


# ---- conversions --------------------------------------------------------------------------------

def test_numpy_refuses_requires_grad():
    x = tl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(x)
    with pytest.raises(RuntimeError, match="requires grad"):
        (x * 2).numpy()
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), np.ones(3, np.float32))
    with tl.no_grad():
        x.fill_(4.0)
    assert d.numpy().tolist() == [4.0] * 3            # detach shares memory


def test_numpy_is_a_view():
    t = tl.arange(6).reshape(2, 3)
    a = t.numpy()
    assert a.dtype == np.int64 and a.shape == (2, 3)
    a[1, 2] = 100
    assert t.tolist() == [[0, 1, 2], [3, 4, 100]]
    v = t.T.numpy()                                   # strided view, still no copy
    assert v.strides == (8, 24)
    assert np.shares_memory(a, v)



@pytest.mark.parametrize("n", [16, 70_000])   # cffi-owned, and C-allocated (recycled) memory
def test_numpy_of_a_temporary_keeps_its_memory(n):
    # .numpy() of a result that is then dropped must keep the memory alive: large buffers go back
    # to the C reuse cache, and the next result of the same size would write into the array
    x = tl.from_numpy(np.ones(n, np.float32))
    a = (x * 2).numpy()
    b = (x * 3).numpy()
    assert a[0] == 2.0 and a[-1] == 2.0 and b[0] == 3.0

def test_item_and_tolist():
    assert tl.tensor(2.5).item() == 2.5 and type(tl.tensor(2.5).item()) is float
    assert tl.tensor(3).item() == 3 and type(tl.tensor(3).item()) is int
    assert tl.tensor(True).item() is True
    assert tl.tensor([[7]]).item() == 7                   # one element, any shape
    with pytest.raises(ValueError, match=r"one element.*\(2, 3\)"):
        tl.zeros(2, 3).item()
    assert tl.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert tl.tensor([[1, 2], [3, 4]]).T.tolist() == [[1, 3], [2, 4]]
    assert tl.tensor([True, False]).tolist() == [True, False]
    assert tl.tensor(1.5).tolist() == 1.5
    assert tl.zeros(2, 0).tolist() == [[], []]
    assert float(tl.tensor([2.5])) == 2.5 and int(tl.tensor(3)) == 3


def test_asarray():
    t = tl.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tl.float64)
    a = np.asarray(t)
    assert a.dtype == np.float64 and a.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(t.T), np.asarray(t).T)
    np.testing.assert_array_equal(np.array(tl.tensor([1, 2])), [1, 2])


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_to_dtype(src, dst):
    a = _values((3, 4), src)
    t = tl.tensor(a)
    for view, ref in ((t, a), (t.T, a.T), (t[:, ::2], a[:, ::2])):
        r = view.to(dst)
        assert r.dtype is dst and r.shape == ref.shape
        np.testing.assert_array_equal(r.numpy(), ref.astype(dst.np))
    assert t.to(src) is t                                  # no-op conversion
    assert t.to(dst.name).dtype is dst


def test_float_double_long():
    t = tl.tensor([1.7, -1.7, 0.0])
    assert t.float().dtype is tl.float32
    assert t.double().dtype is tl.float64
    assert t.long().dtype is tl.int64 and t.long().tolist() == [1, -1, 0]
    assert tl.tensor([True, False]).float().tolist() == [1.0, 0.0]
    assert tl.tensor([3, 0]).double().tolist() == [3.0, 0.0]
    x = tl.ones(2, requires_grad=True)
    y = x.double()
    assert y.dtype is tl.float64 and y.requires_grad and y.grad_fn is not None


def test_to_carries_gradient():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype is tl.float32 and x.grad.tolist() == [3.0, 3.0]


def test_clone_and_contiguous():
    x = tl.arange(12.0).reshape(3, 4)
    c = x.clone()
    assert c.tolist() == x.tolist() and c.dtype is x.dtype and c.is_contiguous()
    assert x.contiguous() is x                             # already contiguous: no copy
    v = x.T
    cv = v.contiguous()
    assert not v.is_contiguous() and cv.is_contiguous()
    assert cv.tolist() == v.tolist()
    w = tl.ones(2, requires_grad=True)
    assert w.clone().grad_fn is not None and w.clone().requires_grad


# ---- repr ---------------------------------------------------------------------------------------

def test_repr():
    r = repr(tl.tensor([1.5, 2.0]))
    assert r.startswith("tensor(") and "1.5" in r and "2." in r and "dtype=tl.float32" in r
    assert "requires_grad" not in r and "grad_fn" not in r
    assert "dtype=tl.int64" in repr(tl.tensor([1, 2])) and "[1, 2]" in repr(tl.tensor([1, 2]))
    assert "True" in repr(tl.tensor([True])) and "tl.bool" in repr(tl.tensor([True]))
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    y = x * 2
    assert f"grad_fn=<{y.grad_fn.name()}>" in repr(y) and "4." in repr(y)
    assert repr(tl.tensor(5.0)).startswith("tensor(5.")
    assert "size=(2, 0)" in repr(tl.zeros(2, 0))
    big = repr(tl.arange(5000))
    assert "..." in big and "4999" in big and len(big) < 500
    assert str(tl.tensor([7])) == repr(tl.tensor([7]))
    m = repr(tl.tensor([[1.0, 2.0], [3.0, 4.0]]).T)        # values of a view, in view order
    assert m.index("3.") < m.index("2.")


# ---- views share memory -------------------------------------------------------------------------

def _written_through(view, base):
    """Fill ``view`` with -99 (a C kernel writing through its strides) and count how many
    elements of ``base`` changed: ``view.numel()`` when the two share memory."""
    with tl.no_grad():
        view.fill_(-99)
    return int((base.numpy() == -99).sum())


SAME = None   # the NumPy reference is the same expression

VIEWS = {     # name: (tinygrad_lab view, NumPy equivalent)
    "reshape": (lambda t: t.reshape(6, 4), SAME),
    "reshape_-1": (lambda t: t.reshape(-1), SAME),
    "reshape_tuple": (lambda t: t.reshape((4, 3, 2)), SAME),
    "view": (lambda t: t.view(2, 12), lambda a: a.reshape(2, 12)),
    "flatten": (lambda t: t.flatten(1), lambda a: a.reshape(2, 12)),
    "transpose": (lambda t: t.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
    "permute": (lambda t: t.permute(1, 2, 0), lambda a: a.transpose(1, 2, 0)),
    "T": (lambda t: t.T, SAME),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda a: a[:, None]),
    "squeeze": (lambda t: t.unsqueeze(0).squeeze(), lambda a: a),
    "int": (lambda t: t[1], SAME),
    "neg_int": (lambda t: t[-1, -2], SAME),
    "slice": (lambda t: t[:, 1:3], SAME),
    "step_slice": (lambda t: t[:, ::2, 1::3], SAME),
    "none": (lambda t: t[None, :, None], SAME),
    "ellipsis": (lambda t: t[..., 2], SAME),
    "ellipsis_none": (lambda t: t[0, ..., None], SAME),
    "mixed": (lambda t: t[1, None, ::2, -1], SAME),
    "chain": (lambda t: t.transpose(0, 1)[::2].permute(2, 0, 1)[1:],
              lambda a: a.swapaxes(0, 1)[::2].transpose(2, 0, 1)[1:]),
    "transpose_reshape": (lambda t: t.transpose(1, 2).reshape(2, 4, 3),   # no merge: still a view
                          lambda a: a.swapaxes(1, 2).reshape(2, 4, 3)),
    "split_dim": (lambda t: t[:, :, ::2].reshape(2, 3, 2, 1), lambda a: a[:, :, ::2].reshape(2, 3, 2, 1)),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_shares_memory(name):
    fn, np_fn = VIEWS[name]
    np_fn = np_fn or fn
    t = tl.arange(24.0).reshape(2, 3, 4)
    a = np.arange(24.0).reshape(2, 3, 4)
    v = fn(t)
    ref = np_fn(a)
    assert v.shape == ref.shape
    np.testing.assert_array_equal(v.numpy(), ref)
    assert v._storage is t._storage
    assert _written_through(v, t) == v.numel()             # write through the view, read the base
    t2 = tl.arange(24.0).reshape(2, 3, 4)
    v2 = fn(t2)
    t2.numpy()[...] = -a                                   # write through the base (NumPy)
    np.testing.assert_array_equal(v2.numpy(), -ref)


def test_expand_shares_memory():
    b = tl.tensor([[1.0], [2.0], [3.0]])
    e = b.expand(3, 4)
    assert e.shape == (3, 4) and e.stride() == (1, 0)
    assert e.tolist() == [[1.0] * 4, [2.0] * 4, [3.0] * 4]
    b.numpy()[1, 0] = 7
    assert e.tolist()[1] == [7.0] * 4
    e2 = tl.tensor([1.0, 2.0]).expand(3, -1)
    assert e2.shape == (3, 2) and e2.stride() == (0, 1)
    np.testing.assert_array_equal(e2.contiguous().numpy(), np.broadcast_to([1.0, 2.0], (3, 2)))


def test_view_of_a_view_offsets():
    t = tl.arange(100).reshape(10, 10)
    v = t[2:8:2, 1::3][1:, ::2]
    a = np.arange(100).reshape(10, 10)[2:8:2, 1::3][1:, ::2]
    np.testing.assert_array_equal(v.numpy(), a)
    np.testing.assert_array_equal(v.contiguous().numpy(), a)
    np.testing.assert_array_equal(v.clone().numpy(), a)


COPIES = {
    "clone": lambda t: t.clone(),
    "contiguous_of_T": lambda t: t.transpose(0, 2).contiguous(),
    "contiguous_of_slice": lambda t: t[:, ::2].contiguous(),
    "reshape_needs_copy": lambda t: t.transpose(0, 1).reshape(-1),
    "reshape_of_expand": lambda t: t[:, :1].expand(2, 3, 4).reshape(24),
    "to": lambda t: t.to(tl.float64),
    "tensor": lambda t: tl.tensor(t),
}


@pytest.mark.parametrize("name", list(COPIES))
def test_copies_do_not_share(name):
    t = tl.arange(24.0).reshape(2, 3, 4)
    c = COPIES[name](t)
    expected = COPIES[name](tl.arange(24.0).reshape(2, 3, 4)).numpy().copy()
    np.testing.assert_array_equal(c.numpy(), expected)
    assert c._data is not t._data and c.is_contiguous()
    assert not np.shares_memory(c.numpy(), t.numpy())
    with tl.no_grad():
        c.fill_(-1)                                        # writes to the copy stay there
    np.testing.assert_array_equal(t.numpy(), np.arange(24.0).reshape(2, 3, 4))
    t.numpy()[...] = 5                                     # and writes to the original too
    assert np.all(c.numpy() == -1)


def test_view_refuses_incompatible_strides():
    t = tl.arange(6.0).reshape(2, 3).T
    with pytest.raises(ValueError, match=r"\(6,\).*\(3, 2\)"):
        t.view(6)
    assert t.reshape(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


# A small kernel output owns its buffer with no Storage object (tensor._UNSHARED) until a view, an
# in-place write or NumPy needs one (Tensor._shared); whichever comes first, all of them must then
# see the same memory and the same version count.

def _fresh(n=4):
    t = tl.arange(float(n)) * 1.0          # a kernel output
    assert t._storage is _UNSHARED
    return t


@pytest.mark.parametrize("first", ["view", "inplace", "numpy"])
def test_fresh_output_shares_one_storage_once_needed(first):
    t = _fresh()
    if first == "view":
        v = t[1:3]
    elif first == "inplace":
        with tl.no_grad():
            t.add_(0.0)
        v = t[1:3]
    else:
        t.numpy()
        v = t[1:3]
    assert v._storage is t._storage and v._data is t._data
    assert _written_through(v, t) == 2                  # through the view, read through NumPy
    a = t.numpy()
    a[0] = 42.0                                         # through NumPy, read by a kernel
    assert (t * 1.0).tolist()[0] == 42.0
    before = t._storage.version
    with tl.no_grad():
        v.mul_(2.0)
    assert t._storage.version == before + 1             # one version count for every view


def test_inplace_write_through_a_later_view_of_a_saved_output_is_caught():
    # exp saves its output while that output has no Storage yet (version 0); a view made later
    # and written in place must still fail the saved-tensor check
    x = tl.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    with tl.no_grad():
        y[0:1].add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_the_unshared_marker_cannot_be_written():
    from tinygrad_lab.tensor import _UNSHARED
    with pytest.raises(RuntimeError, match="internal error"):
        _UNSHARED.version += 1
    with pytest.raises(RuntimeError, match="internal error"):
        _UNSHARED.ptr  # noqa: B018


# ---- randomized property test: chains of views vs NumPy -----------------------------------------

def _random_view(rng, t, a):
    """Apply one random view op to tensor ``t`` and array ``a`` alike."""
    nd = a.ndim
    op = rng.choice(["transpose", "permute", "slice", "expand", "unsqueeze", "index", "squeeze"])
    if op == "transpose" and nd >= 2:
        d0, d1 = (int(d) for d in rng.choice(nd, 2, replace=False))
        return t.transpose(d0, d1), np.swapaxes(a, d0, d1)
    if op == "permute" and nd >= 1:
        p = tuple(int(d) for d in rng.permutation(nd))
        return t.permute(*p), a.transpose(p)
    if op == "slice" and nd >= 1:
        key = []
        for n in a.shape:
            start = int(rng.integers(-n - 1, n + 1)) if rng.random() < 0.5 else None
            stop = int(rng.integers(-n - 1, n + 2)) if rng.random() < 0.5 else None
            step = int(rng.integers(1, 4)) if rng.random() < 0.6 else None
            key.append(slice(start, stop, step))
        return t[tuple(key)], a[tuple(key)]
    if op == "expand" and 1 in a.shape:
        shape = tuple(int(rng.integers(1, 4)) if n == 1 else n for n in a.shape)
        lead = (int(rng.integers(1, 3)),) if rng.random() < 0.3 and nd < 5 else ()
        return t.expand(*(lead + shape)), np.broadcast_to(a, lead + shape)
    if op == "index" and nd >= 2 and all(a.shape):
        d = int(rng.integers(nd))
        i = int(rng.integers(-a.shape[d], a.shape[d]))
        key = (slice(None),) * d + (i,)
        return t[key], a[key]
    if op == "squeeze" and 1 in a.shape:
        return t.squeeze(), a.squeeze()
    if nd < 5:                                               # unsqueeze (also the fallback)
        d = int(rng.integers(-nd - 1, nd + 1))
        return t.unsqueeze(d), np.expand_dims(a, d)
    return t, a


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("seed", range(40))
def test_random_view_chains(dt, seed):
    rng = rng_for("view-chain", dt.name, seed)
    shape = tuple(int(n) for n in rng.integers(1, 6, size=int(rng.integers(1, 5))))
    a = _values(shape, dt, seed)
    t = tl.tensor(a)
    for _ in range(int(rng.integers(1, 7))):
        t, a = _random_view(rng, t, a)
        assert t.shape == a.shape
        assert t._storage is not None
    np.testing.assert_array_equal(t.numpy(), a)               # the strided view itself
    c = t.contiguous()
    assert c.is_contiguous() and c.shape == a.shape
    np.testing.assert_array_equal(c.numpy(), a)
    np.testing.assert_array_equal(t.clone().numpy(), a)
    np.testing.assert_array_equal(t.reshape(-1).numpy(), a.reshape(-1))
    if a.ndim >= 2:
        new = (a.shape[0] * a.shape[1],) + a.shape[2:]
        np.testing.assert_array_equal(t.reshape(new).numpy(), a.reshape(new))
        np.testing.assert_array_equal(t.reshape(new[::-1]).numpy(), a.reshape(new[::-1]))
    other = DTYPES[(DTYPES.index(dt) + 1) % 4]                # strided copy with conversion
    np.testing.assert_array_equal(t.to(other).numpy(), a.astype(other.np))
    # strided copy into a strided destination: write the view's values into a transposed buffer
    if a.ndim >= 2 and a.size:
        dst = tl.zeros(a.shape[::-1], dtype=dt).T
        with tl.no_grad():
            dst.copy_(t)
        np.testing.assert_array_equal(dst.numpy(), a)


def test_large_strided_copy():
    """Big enough that any threaded path in the copy kernel runs."""
    a = np.arange(300 * 500, dtype=np.float64).reshape(300, 500)
    t = tl.from_numpy(a)
    for v, ref in ((t.T, a.T), (t[::3, 1::2], a[::3, 1::2]), (t[:, None, :].expand(300, 4, 500), None)):
        ref = np.broadcast_to(a[:, None, :], (300, 4, 500)) if ref is None else ref
        np.testing.assert_array_equal(v.contiguous().numpy(), ref)
        np.testing.assert_array_equal(v.to(tl.float32).numpy(), ref.astype(np.float32))


# ---- NumPy round trips --------------------------------------------------------------------------

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 3), (1, 2, 1, 3)])
def test_numpy_round_trip(dt, shape):
    a = _values(shape, dt)
    for make in (tl.tensor, tl.from_numpy):
        t = make(a)
        assert t.dtype is dt and t.shape == a.shape
        back = t.numpy()
        assert back.dtype == dt.np
        np.testing.assert_array_equal(back, a)
        np.testing.assert_array_equal(np.asarray(t), a)
        np.testing.assert_array_equal(tl.tensor(back).numpy(), a)
        np.testing.assert_array_equal(np.array(t.tolist(), dtype=dt.np).reshape(shape), a)


@pytest.mark.parametrize("dt", [tl.float32, tl.float64])
def test_float_round_trip_is_exact(dt):
    rng = rng_for("float-round-trip", dt.name)
    a = (rng.standard_normal(1000) * 10.0 ** rng.integers(-30, 30, 1000)).astype(dt.np)
    a[:4] = [np.inf, -np.inf, np.finfo(dt.np).tiny, -0.0]
    t = tl.tensor(a)
    np.testing.assert_array_equal(t.numpy(), a)
    assert np.signbit(t.numpy()[3])
    assert np.isnan(tl.tensor([np.nan], dtype=dt).item())
    assert tl.tensor(a.tolist(), dtype=dt).numpy().tobytes() == a.tobytes()


def test_int64_extremes_round_trip():
    a = np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max], np.int64)
    assert tl.tensor(a).tolist() == a.tolist()
    assert tl.tensor(a.tolist()).tolist() == a.tolist()
    with pytest.raises(ValueError, match="too large for int64"):
        tl.tensor([2 ** 63])


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1, 2], 3], [1, [2, 3]], [[[1]], [[2], [3]]],
                                  [[], [1]], [[1], []], [[], 1]])
def test_ragged_lists(data):
    with pytest.raises(ValueError, match="ragged"):
        tl.tensor(data)


@pytest.mark.parametrize("data", ["abc", b"abc", ["a", "b"], [1, "2"], [[1.0], ["x"]], [None], None,
                                  {1: 2}, {1}, 1 + 2j, [1 + 2j], [np.array([1.0, 2.0])],
                                  [tl.ones(2)], object()])
def test_non_numeric_data(data):
    with pytest.raises(TypeError, match="expected|only 0-d"):
        tl.tensor(data)


@pytest.mark.parametrize("arr", [np.array([1 + 2j]), np.array([1, "a"], dtype=object),
                                 np.array(["a", "b"]), np.array([b"a"]), np.zeros(2, "datetime64[s]"),
                                 np.zeros(2, [("x", "f4")]), np.zeros(2, np.complex64)])
def test_unsupported_numpy_arrays(arr):
    for make in (tl.tensor, tl.from_numpy):
        with pytest.raises(TypeError, match=r"unsupported NumPy dtype .*expected"):
            make(arr)


@pytest.mark.parametrize("bad", ["complex128", "int32", "string", 3])
def test_unsupported_dtype_names(bad):
    with pytest.raises(TypeError, match=r"unsupported dtype.*expected one of"):
        tl.tensor([1.0], dtype=bad)


def test_negative_dims_show_the_shape():
    with pytest.raises(ValueError, match=r"negative dimension in shape \(2, -3\)"):
        tl.zeros(2, -3)
    with pytest.raises(ValueError, match=r"\(-2, 3\)"):
        tl.ones(1, 3).expand(-2, 3)
    with pytest.raises(ValueError, match=r"-2.*\(-2, -3\)"):
        tl.ones(6).reshape(-2, -3)


@pytest.mark.parametrize("shape, new", [((2, 3), (4, 2)), ((2, 3), (-1, 4)), ((0, 3), (0, -1)),
                                        ((2, 3), (7,)), ((), (2,))])
def test_bad_reshape_names_both_shapes(shape, new):
    t = tl.zeros(*shape)
    with pytest.raises(ValueError) as info:
        t.reshape(*new)
    msg = str(info.value)
    assert str(shape) in msg and str(new) in msg
    with pytest.raises(ValueError):
        t.view(new)


def test_reshape_argument_errors():
    t = tl.zeros(2, 3)
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        t.reshape(-1, -1)
    with pytest.raises(TypeError, match="ints"):
        t.reshape(3.0, 2)


@pytest.mark.parametrize("call", [
    lambda t: t.transpose(0, 3), lambda t: t.transpose(-4, 0), lambda t: t.permute(0, 1, 5),
    lambda t: t.unsqueeze(4), lambda t: t.unsqueeze(-5), lambda t: t.squeeze(3),
    lambda t: t.flatten(0, 3), lambda t: t.size(3), lambda t: t.stride(-4)])
def test_out_of_range_dims(call):
    with pytest.raises(ValueError, match=r"out of range.*\(2, 3, 4\)"):
        call(tl.zeros(2, 3, 4))


def test_bad_permute_and_expand():
    t = tl.zeros(2, 3)
    with pytest.raises(ValueError, match=r"not a permutation.*\(2, 3\)"):
        t.permute(0, 0)
    with pytest.raises(ValueError, match=r"not a permutation.*\(2, 3\)"):
        t.permute(0)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 2\)"):
        t.expand(2, 2)
    with pytest.raises(ValueError, match=r"fewer dims.*\(2, 3\)"):
        t.expand(3)


@pytest.mark.parametrize("key", [(0, 0, 0, 0), (0, ..., 0, 0, 0), (None, 0, 0, 0, 0)])
def test_too_many_indices(key):
    with pytest.raises(IndexError, match=r"too many indices.*\(2, 3, 4\)"):
        tl.zeros(2, 3, 4)[key]


@pytest.mark.parametrize("key", [2, -3, (0, 3), (slice(None), -4), (..., 4)])
def test_index_out_of_bounds(key):
    with pytest.raises(IndexError, match=r"out of bounds.*\(2, 3, 4\)"):
        tl.zeros(2, 3, 4)[key]


def test_index_other_errors():
    t = tl.zeros(2, 3)
    with pytest.raises(IndexError, match="single ellipsis"):
        t[..., ...]
    with pytest.raises(ValueError, match="step must be positive"):
        t[::-1]
    with pytest.raises(ValueError, match="step must be positive"):
        t[:, ::0]
    assert tl.tensor(5.0)[None].shape == (1,) and tl.tensor(5.0)[...].shape == ()
    with pytest.raises(IndexError, match="too many indices"):
        tl.tensor(5.0)[0]


def test_version_counts_in_place_writes_across_views():
    # Tensor._version as torch's: 0 for a fresh tensor, +1 per in-place write, shared by views
    a = tl.zeros(4)
    assert a._version == 0
    a.add_(1.0)
    v = a[1:3]
    assert a._version == v._version == 1
    v.mul_(2.0)
    assert a._version == 2
    assert (a + 1)._version == 0
