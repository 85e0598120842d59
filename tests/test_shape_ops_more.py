"""PyTorch's shape, indexing and small linear-algebra idioms (README "More shape, indexing and
linear-algebra ops"): tril/triu (+ in place), flip, roll, diagonal, trace, diag; repeat, tile,
expand_as/view_as/reshape_as, unflatten and nn.Unflatten, repeat_interleave, take_along_dim,
movedim/moveaxis, swapaxes/swapdims; dot, mv, outer, inner, addmm, addmv, baddbmm.

Each op: forward against NumPy, then tl.testing.check_op (float64 and float32, strided /
transposed / stride-0 inputs, create_graph against plain backward, gradcheck and gradgradcheck
in float64, NaN propagation, 0-d and empty variants it accepts), values and gradients against
PyTorch when it is installed, and PyTorch's error types for bad dims, shapes and sizes. The op
classes (Flip, Diagonal, DiagonalBackward) also have SPECS lines in tests/test_ops.py (the C-VJP
vs formula check and the derivative mutations); the other ops are compositions of existing
differentiable ops, checked here through check_op.
"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
from tinygrad_lab.testing import check_op

RNG = np.random.default_rng(11)
TOL = {tl.float64: (1e-10, 1e-12), tl.float32: (2e-5, 2e-6)}


def _a(*shape):
    return RNG.uniform(-2, 2, shape)


def _t(a, grad=False, dtype=tl.float64):
    return tl.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def _check(fn, ref, *arrays, grad=True, nan=True, variants=tl.testing.VARIANTS):
    check_op(fn, *[_t(a) for a in arrays], ref=ref, grad=grad, nan=nan, tolerances=TOL,
             variants=variants)


def _torch():
    return pytest.importorskip("torch")


def _vs_torch(tl_fn, torch_fn, *arrays, wrt=None):
    """Values and the gradients of sum(out * w) (w fixed random) against PyTorch in float64."""
    torch = _torch()
    wrt = range(len(arrays)) if wrt is None else wrt
    xs = [_t(a, grad=i in wrt) for i, a in enumerate(arrays)]
    ts = [torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=i in wrt)
          for i, a in enumerate(arrays)]
    out, tout = tl_fn(*xs), torch_fn(*ts)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = RNG.standard_normal(out.shape)
    gs = tl.autograd.grad((out * _t(w)).sum(), [xs[i] for i in wrt], allow_unused=True)
    tgs = torch.autograd.grad((tout * torch.tensor(w)).sum(), [ts[i] for i in wrt], allow_unused=True)
    for g, tg in zip(gs, tgs):
        if tg is None:
            assert g is None or not g.detach().numpy().any()
        else:
            np.testing.assert_allclose(g.detach().numpy(), tg.numpy(), rtol=1e-12, atol=1e-12)


def _torch_error(tl_call, torch_call):
    """tl raises an exception of the type PyTorch raises (tl's may subclass it)."""
    torch = _torch()
    with pytest.raises(Exception) as te:
        torch_call(torch)
    with pytest.raises(type(te.value)):
        tl_call()


# ---- tril / triu ----------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1, -1, 5, -5])
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 3), (0, 3), (2, 0, 2)])
def test_tril_triu_forward(shape, k):
    a = _a(*shape)
    np.testing.assert_array_equal(tl.tril(_t(a), k).numpy(), np.tril(a, k))
    np.testing.assert_array_equal(_t(a).triu(k).numpy(), np.triu(a, k))
    np.testing.assert_array_equal(_t(a.swapaxes(-1, -2)).mT.tril(k).numpy(), np.tril(a, k))


def test_tril_triu_check_op():
    _check(lambda x: tl.tril(x, -1), lambda x: np.tril(x, -1), _a(3, 4))
    _check(lambda x: x.triu(1), lambda x: np.triu(x, 1), _a(2, 3, 4))
    _check(lambda x: x.triu(), np.triu, _a(4, 3))


def test_tril_triu_dtypes_nan_and_in_place():
    x = _t([[np.nan, np.inf], [1.0, np.nan]])
    np.testing.assert_array_equal(x.tril().numpy(), [[np.nan, 0], [1, np.nan]])   # NaN above -> 0
    np.testing.assert_array_equal(x.triu(1).numpy(), [[0, np.inf], [0, 0]])
    xi = tl.arange(6).reshape(2, 3)
    assert xi.tril().dtype is tl.int64 and xi.tril().tolist() == [[0, 0, 0], [3, 4, 0]]
    xb = tl.ones(2, 2, dtype=tl.bool)
    assert xb.triu().dtype is tl.bool and xb.triu().tolist() == [[True, True], [False, True]]
    y = tl.tensor(np.arange(9.0).reshape(3, 3))
    assert y.tril_(-1) is y
    np.testing.assert_array_equal(y.numpy(), np.tril(np.arange(9.0).reshape(3, 3), -1))
    y.triu_()
    assert not y.numpy().any()
    w = _t(_a(3, 3), grad=True)
    z = w * 2
    z.triu_(1)
    z.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2 * np.triu(np.ones((3, 3)), 1))
    with pytest.raises(RuntimeError):
        _t(_a(3, 3), grad=True).tril_()          # a leaf that requires grad


def test_tril_triu_torch():
    a = _a(2, 3, 4)
    for k in (0, 2, -1):
        _vs_torch(lambda x: x.tril(k), lambda x: x.tril(k), a)
        _vs_torch(lambda x: tl.triu(x, k), lambda x: x.triu(k), a)
    _torch_error(lambda: tl.tril(_t(_a(3))), lambda torch: torch.tril(torch.zeros(3)))
    _torch_error(lambda: tl.triu(_t(2.0)), lambda torch: torch.triu(torch.tensor(2.0)))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        tl.tril(_t(_a(3)))


# ---- flip / roll ------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [0, 1, -1, (0, 1), (-1, 0, 1), ()])
def test_flip_forward(dims):
    a = _a(2, 3, 4)
    for x, ref in [(_t(a), a), (_t(a).transpose(0, 2), a.transpose(2, 1, 0)), (_t(a)[:, ::2], a[:, ::2])]:
        out = tl.flip(x, dims)
        np.testing.assert_array_equal(out.numpy(), np.flip(ref, dims) if dims != () else ref)
        assert out.is_contiguous() and out.data_ptr() != x.data_ptr()    # a copy, as torch.flip


def test_flip_0d_empty_dtypes_and_grad():
    assert tl.flip(_t(3.0), 0).item() == 3.0 and tl.flip(_t(3.0), ()).shape == ()
    assert tl.flip(tl.zeros(0, 3), (0, 1)).shape == (0, 3)
    assert tl.tensor([[1, 2, 3]]).flip(-1).tolist() == [[3, 2, 1]]
    assert tl.tensor([True, False]).flip(0).tolist() == [False, True]
    h = tl.tensor([1.0, 2.0, 3.0], dtype=tl.float16).flip(0)
    assert h.dtype is tl.float16 and h.tolist() == [3.0, 2.0, 1.0]
    _check(lambda x: x.flip(1), lambda x: np.flip(x, 1), _a(3, 4))
    _vs_torch(lambda x: x.flip((0, 2)), lambda x: x.flip((0, 2)), _a(2, 3, 4))


def test_flip_errors():
    x = _t(_a(3, 4))
    _torch_error(lambda: x.flip((0, 0)), lambda torch: torch.zeros(3, 4).flip((0, 0)))
    _torch_error(lambda: x.flip(2), lambda torch: torch.zeros(3, 4).flip(2))
    with pytest.raises(ValueError):   # DimOutOfRange is this project's ValueError too
        x.flip(-3)


@pytest.mark.parametrize("shifts,dims", [(1, 0), (-2, 1), (5, -1), ((1, 2), (0, 1)), ((1, 1), (0, 0)),
                                         (3, None), (-7, None), (0, 1), (12, 1), ((), ())])
def test_roll_forward(shifts, dims):
    a = _a(3, 4)
    out = tl.roll(_t(a), shifts, dims)
    np.testing.assert_array_equal(out.numpy(), np.roll(a, shifts, dims))
    np.testing.assert_array_equal(_t(a.T.copy()).T.roll(shifts, dims).numpy(), np.roll(a, shifts, dims))
    assert out.data_ptr() != _t(a).data_ptr()


def test_roll_grad_0d_empty_and_errors():
    _check(lambda x: x.roll(2, 1), lambda x: np.roll(x, 2, 1), _a(3, 4))
    _check(lambda x: tl.roll(x, (1, -1), (0, 1)), lambda x: np.roll(x, (1, -1), (0, 1)), _a(3, 4))
    _check(lambda x: tl.roll(x, 5), lambda x: np.roll(x, 5), _a(2, 3))
    _vs_torch(lambda x: x.roll((1, -2), (-1, 0)), lambda x: x.roll((1, -2), (-1, 0)), _a(3, 4, 2))
    assert tl.roll(_t(2.0), 1).item() == 2.0
    assert tl.roll(tl.zeros(0, 3), 2, 0).shape == (0, 3) and tl.roll(tl.zeros(0, 3), 2).shape == (0, 3)
    x = _t(_a(3, 4))
    _torch_error(lambda: x.roll((1, 2), 0), lambda torch: torch.zeros(3, 4).roll((1, 2), 0))
    _torch_error(lambda: x.roll((1, 2)), lambda torch: torch.zeros(3, 4).roll((1, 2)))
    _torch_error(lambda: x.roll(1, 2), lambda torch: torch.zeros(3, 4).roll(1, 2))
    _torch_error(lambda: _t(2.0).roll(1, 0), lambda torch: torch.tensor(2.0).roll(1, 0))


# ---- diagonal / trace / diag ----------------------------------------------------------------------

@pytest.mark.parametrize("offset,d1,d2", [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, -1, 0), (0, 2, 0),
                                          (-2, 1, 2), (9, 0, 1), (-9, 0, 1)])
def test_diagonal_forward_is_a_view(offset, d1, d2):
    a = _a(3, 4, 5)
    x = _t(a)
    out = x.diagonal(offset, d1, d2)
    np.testing.assert_array_equal(out.numpy(), np.diagonal(a, offset, d1, d2))
    np.testing.assert_array_equal(tl.diagonal(x.permute(2, 0, 1), offset, d1, d2).numpy(),
                                  np.diagonal(a.transpose(2, 0, 1), offset, d1, d2))
    if out.numel():
        assert out.data_ptr() >= x.data_ptr() and not out.is_contiguous() or out.numel() == 1
        out_np = out.numpy()
        x.numpy()[...] += 1.0                      # a view: the change shows through it
        np.testing.assert_array_equal(out.numpy(), out_np)   # (the same memory, now +1)
        np.testing.assert_array_equal(out.numpy(), np.diagonal(a + 1.0, offset, d1, d2))


def test_diagonal_writes_through_grad_and_torch():
    y = tl.zeros(3, 3)
    y.diagonal().fill_(2.0)
    y.diagonal(1).add_(1.0)
    np.testing.assert_array_equal(y.numpy(), 2 * np.eye(3) + np.eye(3, k=1))
    _check(lambda x: x.diagonal(), lambda x: np.diagonal(x).copy(), _a(3, 4))
    _check(lambda x: x.diagonal(-1, 2, 0), lambda x: np.diagonal(x, -1, 2, 0).copy(), _a(2, 3, 4))
    for args in [(0, 0, 1), (1, -1, 0), (-1, 1, 2)]:
        _vs_torch(lambda x: x.diagonal(*args), lambda x: x.diagonal(*args), _a(3, 4, 5))
    assert tl.zeros(0, 3).diagonal().shape == (0,) and tl.zeros(2, 0, 3).diagonal(0, 0, 2).shape == (0, 2)


def test_diagonal_errors():
    x = _t(_a(3, 4))
    _torch_error(lambda: x.diagonal(0, 0, 0), lambda torch: torch.zeros(3, 4).diagonal(0, 0, 0))
    _torch_error(lambda: x.diagonal(0, 0, 2), lambda torch: torch.zeros(3, 4).diagonal(0, 0, 2))
    _torch_error(lambda: _t(_a(3)).diagonal(), lambda torch: torch.zeros(3).diagonal())
    _torch_error(lambda: _t(1.0).diagonal(), lambda torch: torch.tensor(1.0).diagonal())
    with pytest.raises(RuntimeError, match="cannot be identical"):
        x.diagonal(0, 1, -1)


def test_trace():
    a = _a(3, 4)
    assert tl.trace(_t(a)).item() == pytest.approx(np.trace(a), abs=1e-12)
    assert tl.zeros(0, 3).trace().item() == 0.0
    t = tl.arange(6).reshape(2, 3).trace()
    assert t.dtype is tl.int64 and t.item() == 4
    _check(lambda x: x.trace(), np.trace, _a(3, 4))
    _check(lambda x: x.T.trace(), lambda x: np.trace(x.T), _a(4, 4))
    _vs_torch(lambda x: x.trace(), lambda x: x.trace(), _a(4, 3))
    _torch_error(lambda: _t(_a(3)).trace(), lambda torch: torch.zeros(3).trace())
    _torch_error(lambda: _t(_a(2, 2, 2)).trace(), lambda torch: torch.zeros(2, 2, 2).trace())
    with pytest.raises(RuntimeError, match="expected a matrix"):
        tl.trace(_t(_a(3)))
    assert np.isnan(_t([[np.nan, 1.0], [2.0, 1.0]]).trace().item())


@pytest.mark.parametrize("k", [0, 1, -2, 4])
def test_diag_both_ways(k):
    v, m = _a(3), _a(3, 4)
    np.testing.assert_array_equal(tl.diag(_t(v), k).numpy(), np.diag(v, k))
    out = _t(m).diag(k)
    np.testing.assert_array_equal(out.numpy(), np.diag(m, k))
    assert out.is_contiguous()                    # a copy (torch.diag of a matrix is not a view)
    np.testing.assert_array_equal(_t(m.T.copy()).T.diag(k).numpy(), np.diag(m, k))
    _check(lambda x: tl.diag(x, k), lambda x: np.diag(x, k), v)
    _check(lambda x: x.diag(k), lambda x: np.diag(x, k).copy(), m, variants=("noncontiguous", "transposed"))
    _vs_torch(lambda x: x.diag(k), lambda x: x.diag(k), v)
    _vs_torch(lambda x: x.diag(k), lambda x: x.diag(k), m)


def test_diag_dtypes_empty_and_errors():
    assert tl.diag(tl.tensor([1, 2])).tolist() == [[1, 0], [0, 2]]
    assert tl.diag(tl.zeros(0)).shape == (0, 0) and tl.diag(tl.zeros(0), 2).shape == (2, 2)
    assert tl.diag(tl.zeros(0, 3)).shape == (0,)
    _torch_error(lambda: tl.diag(_t(1.0)), lambda torch: torch.diag(torch.tensor(1.0)))
    _torch_error(lambda: tl.diag(_t(_a(2, 2, 2))), lambda torch: torch.diag(torch.zeros(2, 2, 2)))
    with pytest.raises(RuntimeError, match="Supports 1D or 2D"):
        tl.diag(_t(_a(2, 2, 2)))
