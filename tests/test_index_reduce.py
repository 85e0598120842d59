"""index_add / index_copy / index_fill, scatter_reduce, masked_scatter (+ in place) and
Tensor.where: values and gradients against PyTorch, gradcheck in float64, PyTorch's error types.
(The op-table checks of ScatterReduce are its lines in tests/test_ops.py SPECS.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(11)


def _pair(a, grad=True):
    """A float64 tl tensor and a torch tensor (or None without torch) of the same values."""
    t = tl.tensor(a, dtype=tl.float64, requires_grad=grad)
    try:
        import torch
    except ImportError:
        return t, None
    return t, torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _against_torch(fn_tl, fn_torch, arrays, idx=None):
    """Forward values and the gradients of every input, tl against torch."""
    torch = pytest.importorskip("torch")
    pairs = [_pair(a) for a in arrays]
    out = fn_tl(*[p[0] for p in pairs])
    ref = fn_torch(*[p[1] for p in pairs])
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(ref.shape)
    out.backward(tl.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in pairs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_index_ops_forward_against_numpy():
    x, s = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 3))
    ref = x.copy()
    np.add.at(ref, (slice(None), [0, 3, 0]), 2 * s)
    np.testing.assert_allclose(tl.tensor(x).index_add(1, tl.tensor([0, 3, 0]), tl.tensor(s), alpha=2).numpy(), ref)
    ref = x.copy()
    ref[[2, 0]] = RNG.standard_normal((2, 4))
    np.testing.assert_array_equal(tl.tensor(x).index_copy(0, tl.tensor([2, 0]), tl.tensor(ref[[2, 0]])).numpy(), ref)
    ref = x.copy()
    ref[:, [1, 3]] = -2.0
    np.testing.assert_array_equal(tl.tensor(x).index_fill(1, tl.tensor([1, -1]), -2.0).numpy(), ref)
    m = RNG.random((3, 4)) > 0.5
    ref = x.copy()
    ref[m] = np.arange(m.sum())
    np.testing.assert_array_equal(tl.tensor(x).masked_scatter(tl.tensor(m), tl.arange(12.0, dtype=tl.float64)).numpy(), ref)
    # 0-d self and scalar index, int64 tensors
    assert tl.zeros(()).index_add(0, tl.tensor(0), tl.tensor(3.0)).item() == 3.0
    xi = tl.zeros(4, dtype=tl.int64).index_add(0, tl.tensor([1, 1]), tl.tensor([3, 4]), alpha=2)
    assert xi.tolist() == [0, 14, 0, 0] and xi.dtype is tl.int64
    assert tl.tensor([1, 2, 3]).index_fill(0, tl.tensor([1]), 2.5).tolist() == [1, 2, 3]


def test_index_add_copy_fill_against_torch():
    torch = pytest.importorskip("torch")
    x, s = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 3))
    i, ti = tl.tensor([0, 3, 0]), torch.tensor([0, 3, 0])
    _against_torch(lambda a, b: a.index_add(1, i, b, alpha=2.5),
                   lambda a, b: a.index_add(1, ti, b, alpha=2.5), [x, s])
    u, tu = tl.tensor([2, 0, 1]), torch.tensor([2, 0, 1])
    _against_torch(lambda a, b: tl.index_copy(a, 0, u, b), lambda a, b: a.index_copy(0, tu, b),
                   [x, RNG.standard_normal((3, 4))])
    _against_torch(lambda a, v: a.index_fill(1, tl.tensor([0, 3, 0]), v),
                   lambda a, v: a.index_fill(1, torch.tensor([0, 3, 0]), v), [x, np.array(1.5)])
    # a negative index counts from the end (PyTorch's forward; its backward fails on it)
    assert tl.zeros(2, 3).index_fill(1, tl.tensor([-1]), 1.0).tolist() == [[0, 0, 1]] * 2


def test_scatter_reduce_forward_against_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 5))
    idx = np.array([[0, 1, 0, 4], [2, 2, 2, 2]])
    src = RNG.standard_normal((2, 4))
    src[0, 2] = np.nan
    for dt, tdt in [(tl.float32, torch.float32), (tl.int64, torch.int64)]:
        xa, sa = (x * 4).astype(np.int64) if dt is tl.int64 else x, (src * 4) if dt is tl.float32 else np.nan_to_num(src * 4).astype(np.int64)
        for reduce in ["sum", "prod", "mean", "amax", "amin"]:
            for inc in (True, False):
                out = tl.tensor(xa, dtype=dt).scatter_reduce(1, tl.tensor(idx), tl.tensor(sa, dtype=dt), reduce, include_self=inc)
                ref = torch.tensor(xa, dtype=tdt).scatter_reduce(1, torch.tensor(idx), torch.tensor(sa, dtype=tdt), reduce, include_self=inc)
                np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, equal_nan=True,
                                           err_msg=f"{reduce} include_self={inc} {dt}")


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_gradients_against_torch(reduce):
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 2, 4, 4], [3, 0, 2, -1]])             # x[0, 2] ties with src
    src = np.array([[5.0, 4, 0, 4, 1], [2, 0, 0, 3, 3]])     # ties, zeros, one and two per slot
    idx = np.array([[0, 2, 2, 2, 1], [1, 0, 0, 2, 2]])
    for inc in (True, False):
        _against_torch(lambda a, b: a.scatter_reduce(1, tl.tensor(idx), b, reduce, include_self=inc),
                       lambda a, b: a.scatter_reduce(1, torch.tensor(idx), b, reduce, include_self=inc),
                       [x, src])


def test_scatter_reduce_gradcheck_and_larger_src():
    x = tl.tensor(RNG.standard_normal((3, 4)), dtype=tl.float64, requires_grad=True)
    s = tl.tensor(RNG.standard_normal((2, 5)), dtype=tl.float64, requires_grad=True)
    idx = tl.tensor([[0, 2, 2], [1, 1, 3]])
    for reduce in ["sum", "prod", "mean", "amax", "amin"]:
        for inc in (True, False):
            f = lambda a, b: a.scatter_reduce(1, idx, b, reduce, include_self=inc)  # noqa: E731
            assert gradcheck(f, (x, s)), reduce
            if reduce != "amax" and reduce != "amin":
                assert gradgradcheck(f, (x, s)), reduce
    # src larger than the index: read over the index's corner; the rest gets a zero gradient
    x.scatter_reduce(1, idx, s, "mean").sum().backward()
    assert s.grad.shape == (2, 5) and (s.grad.numpy()[:, 3:] == 0).all()


def test_scatter_reduce_prod_double_backward_with_two_zeros_raises():
    x = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    s = tl.tensor([0.0, 0.0, 3.0], dtype=tl.float64, requires_grad=True)
    out = x.scatter_reduce(0, tl.tensor([0, 0, 1]), s, "prod")
    (gs,) = tl.autograd.grad(out.sum(), s, create_graph=True)
    np.testing.assert_array_equal(gs.detach().numpy(), [0, 0, 2])
    with pytest.raises(RuntimeError, match="Double backward is unsupported"):
        gs.sum().backward()


def test_masked_scatter_and_where_method_against_torch():
    torch = pytest.importorskip("torch")
    m = np.array([[True, False, True], [False, True, True]])
    _against_torch(lambda a, b: a.masked_scatter(tl.tensor(m), b),
                   lambda a, b: a.masked_scatter(torch.tensor(m), b),
                   [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4))])
    _against_torch(lambda a, b: a.masked_scatter(tl.tensor(m[0]), b),      # mask broadcast
                   lambda a, b: a.masked_scatter(torch.tensor(m[0]), b),
                   [RNG.standard_normal((2, 3)), RNG.standard_normal(5)])
    _against_torch(lambda a, b: a.where(tl.tensor(m), b), lambda a, b: a.where(torch.tensor(m), b),
                   [RNG.standard_normal((2, 3)), RNG.standard_normal(3)])
    assert tl.ones(2).where(tl.tensor([True, False]), 0.0).tolist() == [1.0, 0.0]


def test_in_place_forms():
    x = tl.zeros(2, 3)
    assert x.index_add_(1, tl.tensor([2, 2]), tl.ones(2, 2)) is x
    assert x.tolist() == [[0, 0, 2], [0, 0, 2]]
    x.index_copy_(0, tl.tensor([1]), tl.full((1, 3), 7.0))
    x.index_fill_(1, tl.tensor([0]), -1.0)
    assert x.tolist() == [[-1, 0, 2], [-1, 7, 7]]
    x.scatter_reduce_(1, tl.tensor([[0, 0]]), tl.tensor([[5.0, 3.0]]), "amax", include_self=False)
    x.masked_scatter_(tl.tensor([False, True, False]), tl.tensor([8.0, 9.0]))
    assert x.tolist() == [[5, 8, 2], [-1, 9, 7]]
    with pytest.raises(RuntimeError):
        tl.zeros(3).masked_scatter_(tl.tensor([[True] * 3] * 2), tl.ones(6))
    # a graph through the in-place form: gradients as out of place
    a = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = tl.tensor([4.0, 5.0], requires_grad=True)
    y = a * 1
    y.index_copy_(0, tl.tensor([0, 2]), b)
    (y * tl.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [0, 2, 0] and b.grad.tolist() == [1, 3]


def test_errors_as_pytorch():
    x = tl.zeros(3, 4)
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.index_add(0, tl.tensor([0, 5]), tl.ones(2, 4))
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.index_add(0, tl.tensor([0, -1]), tl.ones(2, 4))   # no wrapping, as PyTorch
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_copy(0, tl.tensor([3]), tl.ones(1, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_fill(0, tl.tensor([3]), 1.0)
    with pytest.raises(RuntimeError, match="must match self tensor shape"):
        x.index_add(0, tl.tensor([0, 1]), tl.ones(2, 3))
    with pytest.raises(RuntimeError, match="Number of indices"):
        x.index_copy(0, tl.tensor([0, 1]), tl.ones(3, 4))
    with pytest.raises(IndexError, match="int64"):
        x.index_add(0, tl.tensor([0.0]), tl.ones(1, 4))
    with pytest.raises(IndexError, match="vector"):
        x.index_add(0, tl.tensor([[0, 1]]), tl.ones(2, 4))
    with pytest.raises(RuntimeError, match="same dtype"):
        x.index_add(0, tl.tensor([0]), tl.ones(1, 4, dtype=tl.float64))
    with pytest.raises(IndexError):
        x.index_add(2, tl.tensor([0]), tl.ones(1, 4))
    with pytest.raises(RuntimeError, match="0-dimensional value"):
        x.index_fill(0, tl.tensor([0]), tl.ones(2))
    s = tl.ones(2, 4)
    with pytest.raises(RuntimeError, match="reduce argument"):
        x.scatter_reduce(0, tl.tensor([[0] * 4]), s, "max")
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.scatter_reduce(0, tl.tensor([[0, 3, 0, 0]]), s, "sum")
    with pytest.raises(RuntimeError, match="int64"):
        x.scatter_reduce(0, tl.tensor([[0.0] * 4]), s, "sum")
    with pytest.raises(RuntimeError, match="no larger"):
        x.scatter_reduce(0, tl.tensor([[0] * 4] * 3), s, "sum")
    with pytest.raises(RuntimeError, match="dtype"):
        x.scatter_reduce(0, tl.tensor([[0] * 4]), s.double(), "sum")
    with pytest.raises(RuntimeError, match="boolean masks"):
        x.masked_scatter(tl.ones(3, 4), tl.ones(12))
    with pytest.raises(RuntimeError, match="Number of elements of source"):
        x.masked_scatter(tl.ones(3, 4, dtype=tl.bool), tl.ones(11))
    with pytest.raises(RuntimeError, match="same dtypes"):
        x.masked_scatter(tl.ones(3, 4, dtype=tl.bool), tl.ones(12, dtype=tl.float64))


def test_half_inputs_run_in_float32():
    x = tl.zeros(2, 3).half()
    out = x.index_add(1, tl.tensor([0, 0]), tl.ones(2, 2).half())
    assert out.dtype is tl.float16 and out.float().tolist() == [[2, 0, 0], [2, 0, 0]]
    out = x.scatter_reduce(1, tl.tensor([[1]]), tl.ones(1, 1).half(), "amax", include_self=False)
    assert out.float().tolist() == [[0, 1, 0], [0, 0, 0]]
