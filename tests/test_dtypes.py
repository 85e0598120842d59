"""The four dtypes, the default float dtype, PyTorch's promotion rules (API.md "Tensors and
dtypes"), dtype inference in tl.tensor and the NumPy dtype mapping."""
import pickle

import numpy as np
import pytest

import tinygrad_lab as tl


@pytest.fixture(autouse=True)
def restore_default_dtype():
    old = tl.get_default_dtype()
    yield
    tl.set_default_dtype(old)


# ---- the dtypes themselves ----------------------------------------------------------------------

@pytest.mark.parametrize("dt, np_dt, size, is_float", [
    (tl.float32, np.float32, 4, True), (tl.float64, np.float64, 8, True),
    (tl.int64, np.int64, 8, False), (tl.bool, np.bool_, 1, False)])
def test_the_four_dtypes(dt, np_dt, size, is_float):
    assert isinstance(dt, tl.dtype)
    assert dt.itemsize == size
    assert dt.is_floating_point is is_float
    assert repr(dt) == f"tl.{dt.name}"
    assert pickle.loads(pickle.dumps(dt)) is dt
    t = tl.zeros(2, dtype=dt)
    assert t.dtype is dt
    assert t.numpy().dtype == np_dt
    assert t.is_floating_point() is is_float


def test_dtype_aliases():
    assert tl.float is tl.float32 and tl.double is tl.float64 and tl.long is tl.int64
    assert tl.float32 == tl.float32 and tl.float32 != tl.float64


def test_default_dtype_starts_float32():
    assert tl.get_default_dtype() is tl.float32
    assert tl.tensor(1.5).dtype is tl.float32


@pytest.mark.parametrize("spec", [tl.float64, "float64", np.float64])
def test_set_default_dtype_float64(spec):
    tl.set_default_dtype(spec)
    assert tl.get_default_dtype() is tl.float64
    i = tl.tensor([1, 2])
    assert tl.tensor(1.5).dtype is tl.float64
    assert tl.tensor([1, 2.5]).dtype is tl.float64
    assert i.dtype is tl.int64                         # ints are unaffected
    assert (i * 2.5).dtype is tl.float64
    assert tl.exp(i).dtype is tl.float64
    assert i.mean().dtype is tl.float64
    for t in (tl.zeros(2), tl.ones(2), tl.empty(2), tl.rand(2), tl.randn(2), tl.eye(2),
              tl.arange(0.0, 1.0, 0.5), tl.full((2,), 1.5)):
        assert t.dtype is tl.float64


def test_default_dtype_restored_by_fixture():
    # runs after the parametrised test above changed it
    assert tl.get_default_dtype() is tl.float32


@pytest.mark.parametrize("bad", [tl.int64, tl.bool, "int64"])
def test_set_default_dtype_rejects_non_float(bad):
    with pytest.raises(TypeError, match="float32 or tl.float64"):
        tl.set_default_dtype(bad)
    assert tl.get_default_dtype() is tl.float32


@pytest.mark.parametrize("bad", ["int32", "complex64", "foo", np.uint8, object])
def test_unsupported_dtype_names(bad):
    with pytest.raises(TypeError, match="unsupported dtype"):
        tl.zeros(2, dtype=bad)
    with pytest.raises(TypeError, match="unsupported dtype"):
        tl.tensor([1.0], dtype=bad)
    with pytest.raises(TypeError, match="unsupported dtype"):
        tl.ones(2).to(bad)


@pytest.mark.parametrize("spec, dt", [("float32", tl.float32), ("float64", tl.float64),
                                      ("int64", tl.int64), ("bool", tl.bool), (np.float32, tl.float32),
                                      (np.dtype("int64"), tl.int64), (bool, tl.bool), (int, tl.int64),
                                      (float, tl.float32)])
def test_dtype_specs_accepted(spec, dt):
    assert tl.zeros(1, dtype=spec).dtype is dt


# ---- promotion ----------------------------------------------------------------------------------

def _t(dt):
    return tl.ones(3, dtype=dt)


@pytest.mark.parametrize("make, expected", [
    (lambda: _t(tl.float32) * 2.5, tl.float32),      # a Python scalar never widens
    (lambda: 2.5 * _t(tl.float32), tl.float32),
    (lambda: _t(tl.float32) + 2, tl.float32),
    (lambda: _t(tl.float64) * 2.5, tl.float64),
    (lambda: _t(tl.int64) * 2, tl.int64),
    (lambda: _t(tl.int64) * 2.5, tl.float32),        # int64 with a float scalar: default float
    (lambda: 2.5 - _t(tl.int64), tl.float32),
    (lambda: _t(tl.float32) + _t(tl.float64), tl.float64),
    (lambda: _t(tl.float64) * _t(tl.float32), tl.float64),
    (lambda: _t(tl.int64) + _t(tl.float32), tl.float32),   # int64 with a float tensor: that float
    (lambda: _t(tl.float32) - _t(tl.int64), tl.float32),
    (lambda: _t(tl.int64) * _t(tl.float64), tl.float64),
    (lambda: _t(tl.int64) + _t(tl.int64), tl.int64),
    (lambda: _t(tl.bool) + _t(tl.float32), tl.float32),
    (lambda: _t(tl.bool) * 2, tl.int64),
    (lambda: _t(tl.int64) / 2, tl.float32),
    (lambda: tl.exp(_t(tl.int64)), tl.float32),        # ops that need floats
    (lambda: tl.tanh(_t(tl.int64)), tl.float32),
    (lambda: _t(tl.int64).mean(), tl.float32),
    (lambda: tl.exp(_t(tl.float64)), tl.float64),
    (lambda: _t(tl.float64).mean(), tl.float64),
    (lambda: _t(tl.int64).sum(), tl.int64),
], ids=lambda v: "" if callable(v) else repr(v))
def test_promotion(make, expected):
    assert make().dtype is expected


def test_promotion_int_with_float_scalar_follows_default():
    tl.set_default_dtype(tl.float64)
    assert (_t(tl.int64) * 2.5).dtype is tl.float64
    assert (_t(tl.float32) * 2.5).dtype is tl.float32   # still never widened by a scalar


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
@pytest.mark.parametrize("a, b", [(tl.float32, tl.float64), (tl.int64, tl.float32), (tl.int64, tl.int64)])
def test_comparisons_give_bool(op, a, b):
    r = getattr(_t(a), op)(_t(b))
    assert r.dtype is tl.bool
    assert not r.requires_grad
    assert (_t(a) < 2.5).dtype is tl.bool


def test_comparison_of_grad_tensor_has_no_grad():
    x = tl.ones(3, requires_grad=True)
    r = x > 0
    assert r.dtype is tl.bool and not r.requires_grad and r.grad_fn is None


# ---- inference in tl.tensor ---------------------------------------------------------------------

@pytest.mark.parametrize("data, dt", [
    (3, tl.int64), ([1, 2, 3], tl.int64), ([[1], [2]], tl.int64),
    (2.5, tl.float32), ([1.0, 2.0], tl.float32),
    (True, tl.bool), ([True, False], tl.bool),
    ([1, 2.5], tl.float32), ([[1, 2], [3, 4.0]], tl.float32),
    ([True, 2], tl.int64), ([True, 2.5], tl.float32),
    ([], tl.float32),
    (np.float32(1.5), tl.float32), (np.float64(1.5), tl.float64), (np.int32(2), tl.int64),
    (np.bool_(True), tl.bool), ([np.int64(1), np.float32(2.0)], tl.float32),
])
def test_tensor_dtype_inference(data, dt):
    t = tl.tensor(data)
    assert t.dtype is dt
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=dt.name))


def test_tensor_inference_follows_default():
    tl.set_default_dtype(tl.float64)
    assert tl.tensor(2.5).dtype is tl.float64
    assert tl.tensor([1, 2.5]).dtype is tl.float64
    assert tl.tensor([1, 2]).dtype is tl.int64


def test_tensor_explicit_dtype_converts():
    assert tl.tensor([1, 2], dtype=tl.float64).dtype is tl.float64
    assert tl.tensor([1.7, -1.7], dtype=tl.int64).tolist() == [1, -1]   # truncation, as in C
    assert tl.tensor([0.0, 2.0], dtype=tl.bool).tolist() == [False, True]
    assert tl.tensor(np.arange(3, dtype=np.int32), dtype=tl.float32).dtype is tl.float32


# ---- NumPy dtypes -------------------------------------------------------------------------------

@pytest.mark.parametrize("np_dt, dt", [(np.float32, tl.float32), (np.float64, tl.float64),
                                       (np.int64, tl.int64), (np.bool_, tl.bool)])
def test_numpy_dtypes_kept(np_dt, dt):
    a = (np.arange(6).reshape(2, 3) % 3).astype(np_dt)
    for make in (tl.tensor, tl.from_numpy, tl.Tensor):
        t = make(a)
        assert t.dtype is dt
        assert t.numpy().dtype == np_dt
        np.testing.assert_array_equal(t.numpy(), a)


@pytest.mark.parametrize("np_dt, dt", [(np.float16, tl.float16), (np.int32, tl.int64),
                                       (np.uint8, tl.int64), (np.int8, tl.int64),
                                       (np.int16, tl.int64), (np.uint32, tl.int64),
                                       (np.uint64, tl.int64), (">f8", tl.float64),
                                       (">f4", tl.float32), (">i8", tl.int64)])
def test_numpy_dtypes_converted(np_dt, dt):
    a = np.array([[0, 1, 2], [3, 4, 5]], dtype=np_dt)
    for make in (tl.tensor, tl.from_numpy):
        t = make(a)
        assert t.dtype is dt
        np.testing.assert_array_equal(t.numpy(), a.astype(dt.name))


def test_big_endian_float64_keeps_precision():
    a = np.array([1 + 2 ** -40], dtype=">f8")
    assert tl.tensor(a).item() == 1 + 2 ** -40


def test_uint64_too_large_for_int64():
    with pytest.raises(ValueError, match="too large for int64"):
        tl.tensor(np.array([2 ** 63], dtype=np.uint64))


# ---- gradients and dtypes -----------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: tl.tensor([1, 2], requires_grad=True),
    lambda: tl.tensor([True], requires_grad=True),
    lambda: tl.zeros(2, dtype=tl.int64, requires_grad=True),
    lambda: tl.arange(3, requires_grad=True),
    lambda: tl.randint(0, 5, (2,), requires_grad=True),
    lambda: tl.tensor([1, 2]).requires_grad_(),
])
def test_requires_grad_on_int_raises(make):
    with pytest.raises(TypeError, match="floating-point"):
        make()


def test_requires_grad_on_float_dtypes():
    for dt in (tl.float32, tl.float64):
        t = tl.tensor([1, 2], dtype=dt, requires_grad=True)
        assert t.requires_grad and t.dtype is dt


def test_zero_dim_tensor_promotes_only_across_categories():
    # PyTorch: a 0-d tensor decides the dtype only when it is of a higher category
    assert (tl.ones(3) * tl.tensor(2.0, dtype=tl.float64)).dtype is tl.float32
    assert (tl.ones(3, dtype=tl.int64) * tl.tensor(2.5, dtype=tl.float64)).dtype is tl.float64
    assert (tl.tensor(2.0, dtype=tl.float64) * tl.tensor(1.0)).dtype is tl.float64


def test_bool_arithmetic_is_logical():
    a, b = tl.tensor([True, False, False]), tl.tensor([True, True, False])
    assert (a + b).tolist() == [True, True, False] and (a + b).dtype is tl.bool
    assert (a * b).tolist() == [True, False, False]
    with pytest.raises(TypeError, match="bool"):
        a - b


def test_out_of_range_integers_are_value_errors():
    with pytest.raises(ValueError, match="int64"):
        tl.full((2,), 2 ** 70, dtype=tl.int64)
    with pytest.raises(ValueError, match="int64"):
        tl.randint(0, 2 ** 64, (2,))
    with pytest.raises(ValueError, match="4096"):
        tl.set_num_threads(10 ** 10)
    with pytest.raises(TypeError, match="expects a Tensor"):
        tl.zeros_like([1, 2])
