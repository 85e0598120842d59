"""tensor_split, hstack/vstack/row_stack/dstack/column_stack, atleast_1d/2d/3d, meshgrid,
cartesian_prod, diff (tinygrad_lab/ops/stacking.py): forwards against NumPy, values and
gradients against PyTorch when installed, gradcheck in float64, views where PyTorch gives views,
PyTorch's error types."""
import numpy as np
import pytest

import tinygrad_lab as tl

from .test_products import _a, _t, gradchecks, vs_torch


# ---- tensor_split -------------------------------------------------------------------------------

def test_tensor_split_sections_and_indices():
    x = tl.arange(7.0)
    assert [t.tolist() for t in tl.tensor_split(x, 3)] == [[0, 1, 2], [3, 4], [5, 6]]
    # Python's slice rules: negative cuts, cuts past the end, a decreasing cut (empty piece)
    assert [t.tolist() for t in x.tensor_split([1, -2, 9, 3])] == \
        [[0], [1, 2, 3, 4], [5, 6], [], [3, 4, 5, 6]]
    m = tl.tensor(np.arange(10.0).reshape(2, 5))
    assert [t.shape for t in tl.tensor_split(m, tl.tensor(2), dim=1)] == [(2, 3), (2, 2)]
    assert [t.shape for t in tl.tensor_split(m, tl.tensor([1, 4]), dim=-1)] == \
        [(2, 1), (2, 3), (2, 1)]
    assert [t.shape for t in tl.tensor_split(m, 4)] == [(1, 5), (1, 5), (0, 5), (0, 5)]
    # views of the input, as in PyTorch
    piece = tl.tensor_split(m, 2, dim=1)[1]
    with tl.no_grad():
        piece[0, 0] = -1.0
    assert m[0, 3].item() == -1.0


def test_tensor_split_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    vs_torch(lambda x: tl.cat([p * (i + 1) for i, p in enumerate(tl.tensor_split(x, [1, 3], 1))], 1),
             lambda x: torch.cat([p * (i + 1) for i, p in enumerate(torch.tensor_split(x, [1, 3], 1))], 1),
             _a(2, 5))


def test_tensor_split_errors():
    x = tl.arange(4.0)
    with pytest.raises(RuntimeError, match="number of sections must be larger than 0, got 0"):
        tl.tensor_split(x, 0)
    with pytest.raises(RuntimeError, match="at least a 1-dimensional tensor"):
        tl.tensor_split(tl.tensor(1.0), 2)
    with pytest.raises(TypeError):
        tl.tensor_split(x, 2.0)
    with pytest.raises(RuntimeError, match="zero-dimensional or one-dimensional"):
        tl.tensor_split(x, tl.tensor([[1]]))
    with pytest.raises(IndexError):
        tl.tensor_split(x, 2, dim=1)


# ---- the stacks and atleast_nd ------------------------------------------------------------------

STACKS = [("hstack", [(), (2,)]), ("hstack", [(2, 1), (2, 3)]), ("vstack", [(3,), (2, 3)]),
          ("row_stack", [(3,), (3,)]), ("dstack", [(2,), (2,)]), ("dstack", [(2, 2), (2, 2, 3)]),
          ("column_stack", [(), (1,), (1, 2)]), ("column_stack", [(3,), (3, 2)])]


@pytest.mark.parametrize("name,shapes", STACKS)
def test_stacks_match_numpy(name, shapes):
    arrays = [_a(*s) for s in shapes]
    got = getattr(tl, name)([_t(a) for a in arrays])
    np_fn = np.vstack if name == "row_stack" else getattr(np, name)   # (NumPy deprecates row_stack)
    np.testing.assert_array_equal(got.numpy(), np_fn(arrays))


def test_stacks_gradients_match_torch_and_promote():
    torch = pytest.importorskip("torch")
    for name, shapes in STACKS[::2]:
        vs_torch(lambda *xs: getattr(tl, name)(xs), lambda *ts: getattr(torch, name)(ts),
                 *[_a(*s) for s in shapes])
    assert tl.hstack([tl.zeros(2), tl.zeros(2, dtype=tl.float64)]).dtype is tl.float64
    with pytest.raises(RuntimeError, match="hstack expects a non-empty TensorList"):
        tl.hstack([])
    with pytest.raises(TypeError):
        tl.vstack(tl.zeros(2, 2))      # a tensor, not a sequence of them (PyTorch's TypeError)


def test_atleast_nd():
    s, v, m = tl.tensor(1.0), tl.zeros(3), tl.zeros(2, 3)
    assert tl.atleast_1d(s).shape == (1,) and tl.atleast_1d(v) is v
    assert [t.shape for t in tl.atleast_2d(s, v, m)] == [(1, 1), (1, 3), (2, 3)]
    assert [t.shape for t in tl.atleast_3d([s, v, m])] == [(1, 1, 1), (1, 3, 1), (2, 3, 1)]


# ---- meshgrid, cartesian_prod -------------------------------------------------------------------

@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_numpy(indexing):
    a, b, c = _a(2), _a(3), _a(4)
    got = tl.meshgrid(_t(a), _t(b), _t(c), indexing=indexing)
    for g, w in zip(got, np.meshgrid(a, b, c, indexing=indexing)):
        np.testing.assert_array_equal(g.numpy(), w)
    assert not got[0].is_contiguous()   # expanded views
    assert tl.meshgrid([tl.tensor(1.0)])[0].shape == (1,)
    assert [t.shape for t in tl.meshgrid(_t(a), _t(b))] == [(2, 3), (2, 3)]   # default 'ij'


def test_meshgrid_gradient_and_errors():
    torch = pytest.importorskip("torch")
    vs_torch(lambda x, y: tl.meshgrid(x, y, indexing="xy"),
             lambda x, y: torch.meshgrid(x, y, indexing="xy"), _a(2), _a(3))
    with pytest.raises(ValueError, match="Expected 0D or 1D tensor"):
        tl.meshgrid(tl.zeros(2, 2))
    with pytest.raises(RuntimeError, match="same dtype"):
        tl.meshgrid(tl.zeros(2), tl.zeros(2, dtype=tl.float64))
    with pytest.raises(RuntimeError, match='indexing must be one of "xy" or "ij"'):
        tl.meshgrid(tl.zeros(2), indexing="ji")
    with pytest.raises(RuntimeError, match="non-empty TensorList"):
        tl.meshgrid()


def test_cartesian_prod():
    got = tl.cartesian_prod(tl.tensor([1, 2]), tl.tensor([3, 4, 5]))
    assert got.tolist() == [[1, 3], [1, 4], [1, 5], [2, 3], [2, 4], [2, 5]]
    one = tl.tensor([1.0, 2.0])
    assert tl.cartesian_prod(one) is one
    gradchecks(lambda x, y: tl.cartesian_prod(x, y), _a(2), _a(3))
    with pytest.raises(ValueError, match=r"Expect a 1D vector, but got shape \[2, 2\]"):
        tl.cartesian_prod(tl.zeros(2, 2), tl.zeros(2))


# ---- diff ---------------------------------------------------------------------------------------

def test_diff_matches_numpy():
    a = _a(3, 5)
    for kw in [{}, {"n": 2}, {"n": 0}, {"dim": 0}, {"n": 7}]:
        np_kw = {"axis": kw.get("dim", -1), "n": kw.get("n", 1)}
        np.testing.assert_allclose(tl.diff(_t(a), **kw).numpy(), np.diff(a, **np_kw))
    p, q = _a(3, 1), _a(3, 2)
    np.testing.assert_allclose(_t(a).diff(prepend=_t(p), append=_t(q)).numpy(),
                               np.diff(a, prepend=p, append=q))
    assert tl.diff(tl.tensor([1, 3, 2])).tolist() == [2, -1]
    assert tl.diff(tl.tensor([True, False, False])).tolist() == [True, False]
    assert tl.diff(tl.tensor([1.0, 2.0]), prepend=tl.tensor([3])).dtype is tl.float32


def test_diff_gradients_match_torch_and_gradcheck():
    torch = pytest.importorskip("torch")
    vs_torch(lambda x, p: tl.diff(x, n=2, dim=0, prepend=p),
             lambda x, p: torch.diff(x, n=2, dim=0, prepend=p), _a(3, 2), _a(1, 2))
    gradchecks(lambda x, q: tl.diff(x, n=2, append=q), _a(2, 4), _a(2, 1))


def test_diff_errors():
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        tl.diff(tl.tensor(1.0))
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        tl.diff(tl.zeros(3), n=-1)
    with pytest.raises(ValueError, match="same dimension as input"):
        tl.diff(tl.zeros(3), prepend=tl.tensor(1.0))
    with pytest.raises(ValueError, match=r"input.size\(1\) = 3, but got tensor.size\(1\) = 2"):
        tl.diff(tl.zeros(2, 3), prepend=tl.zeros(2, 2), dim=0)


def test_hsplit_vsplit_dsplit():
    x = tl.tensor(np.arange(24.0).reshape(2, 6, 2))
    assert [t.shape for t in tl.hsplit(x, 3)] == [(2, 2, 2)] * 3
    assert [t.shape for t in x.hsplit([1, 4])] == [(2, 1, 2), (2, 3, 2), (2, 2, 2)]
    assert [t.shape for t in tl.vsplit(x, 2)] == [(1, 6, 2)] * 2
    assert [t.shape for t in x.dsplit([1])] == [(2, 6, 1), (2, 6, 1)]
    assert [t.tolist() for t in tl.hsplit(tl.arange(4.0), 2)] == [[0, 1], [2, 3]]   # 1-D: dim 0
    with pytest.raises(ValueError, match="size of the dimension 6 is not divisible by the "
                                         "split_size 4"):
        tl.hsplit(x, 4)
    with pytest.raises(RuntimeError, match="vsplit requires a tensor with at least 2 dimension"):
        tl.vsplit(tl.zeros(3), 1)
    with pytest.raises(RuntimeError, match="dsplit requires a tensor with at least 3 dimension"):
        tl.dsplit(tl.zeros(2, 2), 1)
