"""torch.gather, Tensor.scatter / scatter_add (and in place), masked_fill(_), F.one_hot:
forward against NumPy, values and gradients against PyTorch, gradcheck / gradgradcheck in
float64, PyTorch's error types, NaN, empty and 0-d tensors. (The op-table checks, C VJP against
formula, are the GatherDim / GatherDimBackward / ScatterDim lines of tests/test_ops.py SPECS.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(7)


def _x(*shape, grad=False):
    return tl.tensor(RNG.standard_normal(shape), dtype=tl.float64, requires_grad=grad)


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_gather_matches_take_along_axis(dim):
    x = _x(3, 4, 5)
    ishape = [2, 3, 4]
    ishape[dim] = 6
    idx = RNG.integers(0, x.shape[dim], ishape)
    out = tl.gather(x, dim, tl.tensor(idx))
    np.testing.assert_array_equal(out.numpy(), np.take_along_axis(_corner(x.numpy(), ishape, dim), idx, dim))
    assert out.shape == tuple(ishape) and out.dtype is tl.float64


def _corner(a, ishape, dim):
    """a cut to the index's sizes apart from ``dim`` (gather reads only that corner)."""
    return a[tuple(slice(None) if d == dim % a.ndim else slice(0, n) for d, n in enumerate(ishape))]


def test_gather_strided_input_and_index_and_int_dtypes():
    x = _x(4, 3).T                     # (3, 4), transposed strides
    idx = tl.tensor(np.array([[0, 3, 3], [1, 1, 0]]).T.copy()).T   # (2, 3) strided
    np.testing.assert_array_equal(x.gather(1, idx).numpy(), np.take_along_axis(x.numpy()[:2], idx.numpy(), 1))
    xi = tl.tensor(np.arange(6).reshape(2, 3))
    assert x.gather(0, tl.tensor([[0]])).shape == (1, 1)
    np.testing.assert_array_equal(xi.gather(1, tl.tensor([[2, 0]])).numpy(), [[2, 0]])
    xb = tl.tensor([[True, False]])
    np.testing.assert_array_equal(xb.gather(1, tl.tensor([[1, 1, 0]])).numpy(), [[False, False, True]])


def test_gather_gradient_accumulates_repeated_indices():
    x = _x(2, 3, grad=True)
    x.gather(1, tl.tensor([[0, 0, 2], [1, 1, 1]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0, 1], [0, 3, 0]])


def test_gradcheck_and_gradgradcheck():
    x, s = _x(3, 4, grad=True), _x(2, 5, grad=True)
    rep = tl.tensor([[0, 2, 2], [1, 1, 3]])
    uniq = tl.tensor([[0, 2, 1], [1, 0, 3]])
    for f, ins in [(lambda a: a.gather(1, rep), (x,)), (lambda a: tl.gather(a, 0, tl.tensor([[2, 0, 2, 1]])), (x,)),
                   (lambda a, b: a.scatter_add(1, rep, b), (x, s)), (lambda a, b: a.scatter(1, uniq, b), (x, s)),
                   (lambda a: a.scatter(1, uniq, 2.5), (x,))]:
        assert gradcheck(f, ins)
        assert gradgradcheck(f, ins)


def test_scatter_and_scatter_add_forward():
    x = tl.zeros(3, 5)
    idx = tl.tensor([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]])
    src = tl.tensor(np.arange(1.0, 11.0).reshape(2, 5).astype(np.float32))
    ref = np.zeros((3, 5), np.float32)
    np.add.at(ref, (idx.numpy(), np.arange(5)[None, :].repeat(2, 0)), src.numpy())
    np.testing.assert_array_equal(x.scatter_add(0, idx, src).numpy(), ref)
    np.testing.assert_array_equal(x.numpy(), np.zeros((3, 5)))       # out of place
    out = x.scatter(1, tl.tensor([[4], [0]]), tl.tensor([[7.0, 8.0], [9.0, 1.0]]))
    np.testing.assert_array_equal(out.numpy()[:2, [0, 4]], [[0, 7], [9, 0]])
    np.testing.assert_array_equal(x.scatter(1, tl.tensor([[4], [0]]), value=3.0).numpy()[:2, [0, 4]], [[0, 3], [3, 0]])
    xi = tl.tensor(np.zeros((2, 2), np.int64))
    np.testing.assert_array_equal(xi.scatter_add(1, tl.tensor([[1, 1]]), tl.tensor([[5, 6]])).numpy(), [[0, 11], [0, 0]])


def test_in_place_scatter_and_masked_fill():
    x = tl.zeros(2, 3)
    assert x.scatter_(1, tl.tensor([[2]]), 4.0) is x
    x.scatter_add_(0, tl.tensor([[1, 1, 1]]), tl.ones(1, 3))
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 4], [1, 1, 1]])
    x.masked_fill_(tl.tensor([True, False, False]), -1.0)
    np.testing.assert_array_equal(x.numpy(), [[-1, 0, 4], [-1, 1, 1]])
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.masked_fill_(tl.ones(2, 2, 3, dtype=tl.bool), 1.0)
    leaf = _x(2, 3, grad=True)
    a = leaf * 1.0
    a.scatter_(1, tl.tensor([[0], [1]]), 0.0)
    a.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [[0, 1, 1], [1, 0, 1]])


def test_masked_fill_values_dtype_and_gradients():
    x = _x(2, 3, grad=True)
    v = tl.tensor(2.0, dtype=tl.float64, requires_grad=True)
    m = tl.tensor([True, False, True])
    y = x.masked_fill(m, v)
    np.testing.assert_array_equal(y.detach().numpy(), np.where(m.numpy(), 2.0, x.detach().numpy()))
    y.sum().backward()
    assert v.grad.item() == 4.0
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [0, 1, 0]])
    assert gradgradcheck(lambda a, b: tl.masked_fill(a, m, b), (x, v))
    xi = tl.tensor(np.zeros((2, 3), np.int64))
    out = xi.masked_fill(m, 2.5)            # the value is cast to the input's dtype
    assert out.dtype is tl.int64 and out.numpy().tolist() == [[2, 0, 2], [2, 0, 2]]
    assert tl.zeros(3).masked_fill(tl.ones(2, 3, dtype=tl.bool), 1.0).shape == (2, 3)
    nan = tl.zeros(3).masked_fill(m, float("nan")).numpy()
    assert np.isnan(nan[[0, 2]]).all() and nan[1] == 0


def test_errors_are_pytorchs():
    x = _x(2, 3)
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 1 with size 3"):
        x.gather(1, tl.tensor([[0, 5]]))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 2"):
        x.gather(0, tl.tensor([[-1]]))
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.gather(2, tl.tensor([[0]]))
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.gather(1, tl.tensor([[0.0]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, tl.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="to be no larger than self"):
        x.gather(1, tl.tensor([[0], [1], [1]]))
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x.scatter_add(1, tl.tensor([[3]]), tl.ones(1, 1, dtype=tl.float64))
    with pytest.raises(RuntimeError, match="self.dtype to be equal to src.dtype"):
        x.scatter(1, tl.tensor([[0]]), tl.ones(1, 1))
    with pytest.raises(RuntimeError, match="no larger size than src"):
        x.scatter(1, tl.tensor([[0, 1, 2]]), tl.ones(1, 2, dtype=tl.float64))
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        x.masked_fill(tl.ones(3), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(tl.ones(3, dtype=tl.bool), tl.ones(3))


def test_empty_and_zero_d():
    x = _x(2, 3)
    assert x.gather(0, tl.tensor(np.zeros((0, 3), np.int64))).shape == (0, 3)
    assert x.scatter_add(0, tl.tensor(np.zeros((0, 3), np.int64)), tl.zeros(0, 3, dtype=tl.float64)).shape == (2, 3)
    s = tl.tensor(3.0, dtype=tl.float64, requires_grad=True)
    y = tl.gather(s, 0, tl.tensor(0))
    assert y.shape == () and y.item() == 3.0
    y.backward()
    assert s.grad.item() == 1.0
    assert tl.tensor(1.0).scatter(0, tl.tensor(0), 5.0).item() == 5.0


def test_nan_and_inf_are_moved_like_any_value():
    x = tl.tensor([[float("nan"), 1.0, float("inf")]])
    out = x.gather(1, tl.tensor([[2, 0, 1]])).numpy()
    assert out[0, 0] == np.inf and np.isnan(out[0, 1]) and out[0, 2] == 1
    acc = tl.zeros(1, 2).scatter_add(1, tl.tensor([[0, 0, 1]]), x).numpy()
    assert np.isnan(acc[0, 0]) and acc[0, 1] == np.inf


def test_one_hot():
    np.testing.assert_array_equal(F.one_hot(tl.tensor([0, 2])).numpy(), [[1, 0, 0], [0, 0, 1]])
    out = F.one_hot(tl.tensor([[1], [3]]), 5)
    assert out.dtype is tl.int64 and out.shape == (2, 1, 5)
    np.testing.assert_array_equal(out.numpy(), np.eye(5, dtype=np.int64)[[[1], [3]]])
    np.testing.assert_array_equal(F.one_hot(tl.tensor(1), 3).numpy(), [0, 1, 0])
    assert F.one_hot(tl.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)
    for bad, kw, msg in [([0, -2], {}, "non-negative"), ([0, 3], {"num_classes": 3}, "smaller than num_classes"),
                         ([1], {"num_classes": 0}, "smaller than num_classes")]:
        with pytest.raises(RuntimeError, match=msg):
            F.one_hot(tl.tensor(bad), **kw)
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(tl.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="empty tensor"):
        F.one_hot(tl.tensor(np.zeros(0, np.int64)))


def test_against_torch():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((3, 4, 2))
    idx = RNG.integers(0, 4, (3, 6, 2))
    s = RNG.standard_normal((3, 6, 2))
    g = RNG.standard_normal((3, 4, 2))
    for name in ("gather", "scatter_add", "scatter"):
        x, src = tl.tensor(a, requires_grad=True), tl.tensor(s, requires_grad=True)
        tx, ts = torch.tensor(a, requires_grad=True), torch.tensor(s, requires_grad=True)
        if name == "gather":
            y, ty = x.gather(1, tl.tensor(idx)), tx.gather(1, torch.tensor(idx))
            gy = RNG.standard_normal(idx.shape)
        else:
            uidx = np.argsort(RNG.random((3, 4, 2)), axis=1)[:, :3] if name == "scatter" else idx
            src_, ts_ = (src[:, :3], ts[:, :3]) if name == "scatter" else (src, ts)
            y = getattr(x, name)(1, tl.tensor(np.ascontiguousarray(uidx)), src_)
            ty = getattr(tx, name)(1, torch.tensor(uidx), ts_)
            gy = g
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        y.backward(tl.tensor(gy))
        ty.backward(torch.tensor(gy))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
        if name != "gather":
            np.testing.assert_allclose(src.grad.numpy(), ts.grad.numpy(), rtol=1e-12)
    m = RNG.random((4, 2)) > 0.5
    np.testing.assert_array_equal(tl.tensor(a).masked_fill(tl.tensor(m), 0.5).numpy(),
                                  torch.tensor(a).masked_fill(torch.tensor(m), 0.5).numpy())
    lab = RNG.integers(0, 5, (4, 3))
    np.testing.assert_array_equal(F.one_hot(tl.tensor(lab), 6).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(lab), 6).numpy())


@pytest.mark.parametrize("dt", [tl.float16, tl.bfloat16], ids=str)
def test_half_inputs_run_in_float32_and_keep_their_dtype(dt):
    x = tl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).to(dt).requires_grad_()
    y = x.gather(1, tl.tensor([[2, 2], [0, 1]]))
    assert y.dtype is dt and y.detach().float().numpy().tolist() == [[3, 3], [4, 5]]
    y.float().sum().backward()
    assert x.grad.dtype is dt and x.grad.float().numpy().tolist() == [[0, 0, 2], [1, 1, 0]]
    z = tl.zeros(2, 3, dtype=dt)
    z.scatter_(1, tl.tensor([[1]]), 2.0).scatter_add_(0, tl.tensor([[1, 1, 1]]), tl.ones(1, 3, dtype=dt))
    z.masked_fill_(tl.tensor([True, False, False]), -1.0)
    assert z.dtype is dt and z.float().numpy().tolist() == [[-1, 2, 0], [-1, 1, 1]]


def test_dim_and_shape_errors_are_also_valueerrors():
    """PyTorch's IndexError / RuntimeError, and this project's ValueError for a bad dim or shape
    (API.md's Errors), with the shapes in the message."""
    x = tl.zeros(2, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        x.gather(-3, tl.tensor([[0]]))
    with pytest.raises(ValueError, match=r"\[2, 3\]"):
        x.gather(1, tl.tensor([[0], [1], [1]]))
    with pytest.raises(ValueError):
        x.scatter(0, tl.tensor([0]), 1.0)
    with pytest.raises(ValueError):
        tl.cumsum(x, 5)
