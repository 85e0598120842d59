"""Creation functions (API.md "Tensors and dtypes"): tl.tensor / tl.Tensor / tl.from_numpy,
zeros/ones/full/empty/*_like, arange, eye, and the seeded random functions."""
import numpy as np
import pytest

import tinygrad_lab as tl


@pytest.fixture(autouse=True)
def restore_default_dtype():
    old = tl.get_default_dtype()
    yield
    tl.set_default_dtype(old)


# ---- tl.tensor / tl.Tensor ----------------------------------------------------------------------

@pytest.mark.parametrize("data", [3, 2.5, True, [], [1, 2, 3], [[1.0, 2.0], [3.0, 4.0]],
                                  [[[1], [2]], [[3], [4]]], (1, 2), [(1, 2), [3, 4]], [[], []]])
def test_tensor_from_python(data):
    for make in (tl.tensor, tl.Tensor):
        t = make(data)
        ref = np.array(data)
        assert isinstance(t, tl.Tensor)
        assert t.shape == ref.shape
        np.testing.assert_array_equal(t.numpy(), ref)


def test_tensor_constructor_keywords():
    t = tl.Tensor([1, 2], dtype=tl.float64, requires_grad=True)
    assert t.dtype is tl.float64 and t.requires_grad and t.is_leaf and t.grad is None
    with pytest.raises(TypeError, match="needs data"):
        tl.Tensor()


def test_tensor_from_numpy_copies():
    a = np.arange(6.0).reshape(2, 3)
    t = tl.tensor(a)
    a[0, 0] = 100
    assert t.numpy()[0, 0] == 0
    t.numpy()[1, 1] = -1
    assert a[1, 1] == 4


@pytest.mark.parametrize("view", [lambda a: a.T, lambda a: a[::-1, ::2], lambda a: a[:, 1],
                                  lambda a: np.broadcast_to(a[:1], (4, 6)), lambda a: a[1:3, 2:5][::-1]])
def test_tensor_from_strided_numpy(view):
    a = np.arange(24.0).reshape(4, 6)
    v = view(a)
    np.testing.assert_array_equal(tl.tensor(v).numpy(), v)
    np.testing.assert_array_equal(tl.from_numpy(v).numpy(), v)


def test_tensor_of_tensor_copies_and_detaches():
    w = tl.ones(3, requires_grad=True)
    c = tl.tensor(w)
    assert not c.requires_grad and c.grad_fn is None
    with tl.no_grad():
        c.fill_(5.0)
    assert w.detach().tolist() == [1.0, 1.0, 1.0]
    assert tl.tensor(w, dtype=tl.float64).dtype is tl.float64
    assert tl.tensor([tl.tensor(1.0), tl.tensor(2.0)]).tolist() == [1.0, 2.0]


# ---- tl.from_numpy ------------------------------------------------------------------------------

@pytest.mark.parametrize("np_dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5,), (2, 3), (), (1, 4, 1)])
def test_from_numpy_shares_memory(np_dt, shape):
    a = np.zeros(shape, np_dt)
    t = tl.from_numpy(a)
    assert t.shape == a.shape and t.dtype.np == a.dtype
    assert t.data_ptr() == a.ctypes.data
    a[...] = 7                       # NumPy -> tensor
    assert np.all(t.numpy() == 7)
    with tl.no_grad():
        t.fill_(3.0)                 # tensor -> NumPy (through a C kernel)
    assert np.all(a == 3)
    t.numpy()[...] = 2               # through the tensor's NumPy view
    assert np.all(a == 2)


def test_from_numpy_zero_size():
    t = tl.from_numpy(np.zeros((0, 3), np.float32))
    assert t.shape == (0, 3) and t.dtype is tl.float32 and t.numel() == 0


@pytest.mark.parametrize("make", [
    lambda: np.arange(12.0).reshape(3, 4).T,                  # not C-contiguous
    lambda: np.arange(12.0)[::2],
    lambda: np.arange(12, dtype=np.int64),                    # not float
    lambda: np.arange(12, dtype=np.float16)[::2],             # float16, not contiguous
    lambda: np.arange(12, dtype=">f8"),                       # not native byte order
    lambda: np.zeros(12 * 8 + 1, np.uint8)[1:].view(np.float64),   # misaligned
])
def test_from_numpy_copies_otherwise(make):
    a = make()
    t = tl.from_numpy(a)
    np.testing.assert_array_equal(t.numpy(), a)
    before = a.copy()
    with tl.no_grad():
        t.fill_(9)
    np.testing.assert_array_equal(a, before)


def test_from_numpy_read_only_array_is_copied():
    a = np.arange(4.0)
    a.flags.writeable = False
    t = tl.from_numpy(a)
    with tl.no_grad():
        t.fill_(1.0)           # must not write into (possibly unwritable) memory
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert t.tolist() == [1.0] * 4


def test_from_numpy_read_only_mapping_does_not_crash(tmp_path):
    path = tmp_path / "data.bin"
    np.arange(6.0).tofile(path)
    m = np.memmap(path, dtype=np.float64, mode="r")      # pages the OS will not let us write
    t = tl.from_numpy(m)
    with tl.no_grad():
        t.fill_(2.0)
    assert t.tolist() == [2.0] * 6 and m.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    del m


def test_from_numpy_errors():
    with pytest.raises(TypeError, match="NumPy array"):
        tl.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="complex"):
        tl.from_numpy(np.array([1j]))


# ---- zeros / ones / full / empty / *_like -------------------------------------------------------

@pytest.mark.parametrize("fn, value", [(tl.zeros, 0), (tl.ones, 1)])
@pytest.mark.parametrize("args, shape", [((2, 3), (2, 3)), (((2, 3),), (2, 3)), (([2, 3],), (2, 3)),
                                         ((4,), (4,)), ((), ()), (((),), ()), ((0, 5), (0, 5)),
                                         ((np.int64(3),), (3,))])
def test_zeros_ones_shapes(fn, value, args, shape):
    t = fn(*args)
    assert t.shape == shape and t.dtype is tl.float32 and not t.requires_grad
    np.testing.assert_array_equal(t.numpy(), np.full(shape, value, np.float32))


@pytest.mark.parametrize("fn", [tl.zeros, tl.ones, tl.empty, tl.rand, tl.randn])
def test_creation_dtype_and_requires_grad(fn):
    t = fn(2, 3, dtype=tl.float64, requires_grad=True)
    assert t.shape == (2, 3) and t.dtype is tl.float64 and t.requires_grad and t.is_leaf
    t = fn((2, 3), dtype=tl.float32)
    assert t.shape == (2, 3) and t.dtype is tl.float32 and not t.requires_grad


@pytest.mark.parametrize("dt", [tl.int64, tl.bool])
def test_zeros_ones_int_bool(dt):
    assert tl.zeros(3, dtype=dt).tolist() == [0] * 3
    assert tl.ones(3, dtype=dt).tolist() == [1] * 3
    assert tl.ones(3, dtype=dt).dtype is dt


def test_empty():
    t = tl.empty(3, 4)
    assert t.shape == (3, 4) and t.dtype is tl.float32 and t.is_contiguous()
    assert tl.empty((2,), dtype=tl.int64).dtype is tl.int64


@pytest.mark.parametrize("value, dt", [(3, tl.int64), (2.5, tl.float32), (True, tl.bool),
                                       (float("inf"), tl.float32)])
def test_full_dtype_follows_value(value, dt):
    t = tl.full((2, 3), value)
    assert t.shape == (2, 3) and t.dtype is dt
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))


def test_full_forms():
    assert tl.full(3, 7).shape == (3,)
    assert tl.full([2, 2], 7).shape == (2, 2)
    assert tl.full((), 7).shape == ()
    t = tl.full((2,), 2.7, dtype=tl.int64)
    assert t.dtype is tl.int64 and t.tolist() == [2, 2]
    t = tl.full((2,), 2, dtype=tl.float64, requires_grad=True)
    assert t.dtype is tl.float64 and t.requires_grad and t.tolist() == [2.0, 2.0]
    assert np.isnan(tl.full((2,), float("nan")).numpy()).all()
    with pytest.raises(TypeError, match="must be a number"):
        tl.full((2,), "a")


def test_like_functions():
    src = tl.tensor([[1, 2, 3], [4, 5, 6]]).T          # int64, non-contiguous
    for fn, v in ((tl.zeros_like, 0), (tl.ones_like, 1)):
        t = fn(src)
        assert t.shape == (3, 2) and t.dtype is tl.int64 and t.is_contiguous()
        assert np.all(t.numpy() == v)
        t = fn(src, dtype=tl.float64, requires_grad=True)
        assert t.dtype is tl.float64 and t.requires_grad
    f = tl.ones(2, requires_grad=True)
    assert not tl.zeros_like(f).requires_grad


@pytest.mark.parametrize("fn", [tl.zeros, tl.ones, tl.empty, tl.rand, tl.randn])
@pytest.mark.parametrize("args", [(2, -3), ((2, -3),), (-1,)])
def test_negative_dims_in_shape(fn, args):
    with pytest.raises(ValueError, match=r"negative dimension.*\(.*-\d"):
        fn(*args)


@pytest.mark.parametrize("args", [(2.5,), ("a",), ((2, 3), 4), (None,)])
def test_bad_shape_types(args):
    with pytest.raises(TypeError, match="shape must be ints"):
        tl.zeros(*args)


def test_too_many_dims_and_too_large():
    with pytest.raises(ValueError, match="at most 32"):
        tl.zeros(*([1] * 33))
    with pytest.raises(ValueError, match="too large"):
        tl.zeros(2 ** 40, 2 ** 40)


# ---- arange -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [(5,), (0,), (-3,), (2, 7), (7, 2), (0, 10, 3), (10, 0, -3),
                                  (-5, 5, 2), (5, -5, -1), (3, 3), (0, 1, 5), (1, 0, -5)])
def test_arange_int(args):
    t = tl.arange(*args)
    assert t.dtype is tl.int64
    np.testing.assert_array_equal(t.numpy(), np.arange(*args, dtype=np.int64))
    assert t.shape == (len(range(*args)),)


@pytest.mark.parametrize("args", [(2.5,), (0, 1, 0.1), (0.0, -1.0, -0.25), (1, 0, 0.1), (-1, 1, 0.5),
                                  (0, 5.0), (0.5, 3), (10, 0, -2.5), (0, 0.3, 0.1)])
def test_arange_float(args):
    t = tl.arange(*args)
    assert t.dtype is tl.float32
    ref = np.arange(*args, dtype=np.float64)
    assert t.shape == ref.shape
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-6, atol=1e-6)
    t = tl.arange(*args, dtype=tl.float64)
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-15, atol=1e-15)


def test_arange_dtype_keyword():
    t = tl.arange(0, 10, 3, dtype=tl.float64)
    assert t.dtype is tl.float64 and t.tolist() == [0.0, 3.0, 6.0, 9.0]
    t = tl.arange(5, dtype=tl.float32, requires_grad=True)
    assert t.requires_grad and t.tolist() == [0, 1, 2, 3, 4]
    # float arguments with an int64 dtype: start and step truncated (PyTorch and NumPy agree)
    np.testing.assert_array_equal(tl.arange(0, 10, 2.5, dtype=tl.int64).numpy(),
                                  np.arange(0, 10, 2.5, dtype=np.int64))
    assert tl.arange(0.5, 3, dtype=tl.int64).tolist() == [0, 1, 2]
    assert tl.arange(np.int64(3)).tolist() == [0, 1, 2]
    big = tl.arange(0, 1e30, 2.5e29, dtype=tl.float64)         # floats beyond int64 are fine
    np.testing.assert_allclose(big.numpy(), [0, 2.5e29, 5e29, 7.5e29])


def test_arange_errors():
    with pytest.raises(ValueError, match="step must be nonzero"):
        tl.arange(0, 5, 0)
    with pytest.raises(ValueError, match="step must be nonzero"):
        tl.arange(0.0, 5.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        tl.arange(0, float("inf"))
    with pytest.raises(TypeError, match="must be a number"):
        tl.arange("5")
    with pytest.raises(TypeError, match="bool"):
        tl.arange(5, dtype=tl.bool)
    with pytest.raises(TypeError, match="floating-point"):
        tl.arange(5, requires_grad=True)


# ---- eye ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(3, None), (1, None), (0, None), (2, 4), (4, 2), (0, 3)])
def test_eye(n, m):
    t = tl.eye(n) if m is None else tl.eye(n, m)
    assert t.dtype is tl.float32
    np.testing.assert_array_equal(t.numpy(), np.eye(n, m, dtype=np.float32))


@pytest.mark.parametrize("dt", [tl.float64, tl.int64, tl.bool])
def test_eye_dtype(dt):
    t = tl.eye(3, dtype=dt)
    assert t.dtype is dt
    np.testing.assert_array_equal(t.numpy(), np.eye(3, dtype=dt.np))
    assert tl.eye(2, requires_grad=True).requires_grad


def test_eye_errors():
    with pytest.raises(ValueError, match="negative"):
        tl.eye(-1)
    with pytest.raises(TypeError, match="ints"):
        tl.eye(2.5)


# ---- random -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: tl.rand(4, 3), lambda: tl.randn(4, 3),
                                  lambda: tl.rand(7, dtype=tl.float64), lambda: tl.randn(7, dtype=tl.float64),
                                  lambda: tl.randint(0, 100, (4, 3)), lambda: tl.randint(-5, 5, 11)])
def test_manual_seed_reproducible(make):
    tl.manual_seed(1234)
    a = make().numpy().copy()
    b = make().numpy().copy()           # the stream moves on
    tl.manual_seed(1234)
    c = make().numpy().copy()
    tl.manual_seed(4321)
    d = make().numpy().copy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, d)


def test_manual_seed_covers_every_random_function():
    def draw():
        return [tl.rand(3).numpy().copy(), tl.randn(3).numpy().copy(),
                tl.randint(0, 10, (3,)).numpy().copy()]
    tl.manual_seed(7)
    first = draw()
    tl.manual_seed(7)
    for a, b in zip(first, draw()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dt", [tl.float32, tl.float64])
def test_rand_range_and_moments(dt):
    tl.manual_seed(0)
    r = tl.rand(100_000, dtype=dt).numpy()
    assert r.dtype == dt.np
    assert r.min() >= 0.0 and r.max() < 1.0
    assert abs(r.mean() - 0.5) < 0.01
    assert abs(r.std() - np.sqrt(1 / 12)) < 0.01
    assert len(np.unique(r)) > 99_000


def test_rand_float32_never_reaches_one():
    tl.manual_seed(3)
    assert tl.rand(1_000_000).numpy().max() < 1.0


@pytest.mark.parametrize("dt", [tl.float32, tl.float64])
@pytest.mark.parametrize("n", [100_000, 100_001])
def test_randn_moments(dt, n):
    tl.manual_seed(1)
    x = tl.randn(n, dtype=dt).numpy().astype(np.float64)
    assert np.isfinite(x).all()
    assert abs(x.mean()) < 0.02                       # standard error ~0.003
    assert abs(x.std() - 1.0) < 0.02
    assert abs(np.mean(np.abs(x) < 1.0) - 0.6827) < 0.01
    assert abs(np.mean(x ** 3)) < 0.05                # symmetric


def test_randn_shapes():
    assert tl.randn(2, 3).shape == (2, 3)
    assert tl.randn((2, 3)).shape == (2, 3)
    assert tl.randn(()).shape == ()
    assert tl.rand(0, 3).shape == (0, 3)
    with pytest.raises(TypeError, match="float32 or tl.float64"):
        tl.rand(2, dtype=tl.int64)
    with pytest.raises(TypeError, match="float32 or tl.float64"):
        tl.randn(2, dtype=tl.bool)


@pytest.mark.parametrize("low, high", [(0, 10), (-3, 4), (5, 6), (-2 ** 40, 2 ** 40)])
def test_randint_bounds(low, high):
    tl.manual_seed(2)
    t = tl.randint(low, high, (10_000,))
    assert t.dtype is tl.int64 and t.shape == (10_000,)
    a = t.numpy()
    assert a.min() >= low and a.max() < high
    if high - low <= 10:
        counts = np.bincount(a - low, minlength=high - low)
        assert counts.min() > 10_000 / (high - low) * 0.8   # every value appears, roughly evenly


def test_randint_forms():
    assert tl.randint(0, 5, (2, 3)).shape == (2, 3)
    assert tl.randint(0, 5, [2, 3]).shape == (2, 3)
    assert tl.randint(0, 5, 4).shape == (4,)
    t = tl.randint(3, (50,))                     # randint(high, size), as in PyTorch
    assert t.shape == (50,) and t.numpy().min() >= 0 and t.numpy().max() < 3
    t = tl.randint(0, 5, (3,), dtype=tl.float64)
    assert t.dtype is tl.float64 and all(v in range(5) for v in t.tolist())
    t = tl.randint(0, 5, (3,), dtype=tl.float32, requires_grad=True)
    assert t.requires_grad


def test_randint_errors():
    with pytest.raises(ValueError, match="low < high"):
        tl.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="must be an int"):
        tl.randint(0, 2.5, (2,))
    with pytest.raises(TypeError, match="needs a size"):
        tl.randint(5)
    with pytest.raises(TypeError, match="floating-point"):
        tl.randint(0, 5, (2,), requires_grad=True)
    with pytest.raises(ValueError, match="negative dimension"):
        tl.randint(0, 5, (2, -1))
