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


# ---- repeat / tile / *_as / unflatten ---------------------------------------------------------------

@pytest.mark.parametrize("shape,sizes", [((2, 3), (2, 1)), ((2, 3), (1, 2, 3)), ((3,), (2,)),
                                         ((), (3,)), ((), ()), ((2, 3), (0, 2)), ((0, 2), (2, 2))])
def test_repeat_and_tile_forward(shape, sizes):
    a = _a(*shape)
    np.testing.assert_array_equal(_t(a).repeat(*sizes).numpy(), np.tile(a, sizes) if sizes else a)
    np.testing.assert_array_equal(_t(a).repeat(sizes).numpy(), np.tile(a, sizes) if sizes else a)
    np.testing.assert_array_equal(tl.tile(_t(a), sizes).numpy(), np.tile(a, sizes) if sizes else a)


def test_repeat_tile_grad_torch_and_errors():
    _check(lambda x: x.repeat(2, 1, 3), lambda x: np.tile(x, (2, 1, 3)), _a(3, 2))
    _check(lambda x: tl.tile(x, (2,)), lambda x: np.tile(x, (2,)), _a(2, 3))
    _vs_torch(lambda x: x.repeat(2, 3), lambda x: x.repeat(2, 3), _a(2, 3))
    _vs_torch(lambda x: x.tile((3,)), lambda x: x.tile((3,)), _a(2, 3))
    np.testing.assert_array_equal(tl.tensor([[1, 2]]).repeat(2, 2).numpy(), np.tile([[1, 2]], (2, 2)))
    x = _t(_a(3, 4))
    _torch_error(lambda: x.repeat(2), lambda torch: torch.zeros(3, 4).repeat(2))
    _torch_error(lambda: x.repeat(-1, 1), lambda torch: torch.zeros(3, 4).repeat(-1, 1))
    with pytest.raises(RuntimeError, match="can not be smaller"):
        x.repeat(2)


def test_as_methods():
    x, y = _t(_a(3, 1)), _t(_a(2, 3, 4))
    assert x.expand_as(_t(_a(3, 4))).shape == (3, 4)
    z = _t(_a(2, 6))
    v = z.view_as(tl.zeros(3, 4))
    assert v.shape == (3, 4) and v.data_ptr() == z.data_ptr()
    assert y.transpose(0, 2).reshape_as(tl.zeros(24)).shape == (24,)
    with pytest.raises(ValueError):
        y.transpose(0, 2).view_as(tl.zeros(24))     # not viewable: as view()
    with pytest.raises(ValueError):
        x.expand_as(tl.zeros(2, 4))
    with pytest.raises(TypeError):
        x.expand_as((3, 4))
    _check(lambda a: a.expand_as(tl.zeros(2, 3, 4)), lambda a: np.broadcast_to(a, (2, 3, 4)), _a(3, 1),
           variants=("noncontiguous", "transposed"))
    _vs_torch(lambda a: a.expand_as(tl.zeros(2, 3, 4)), lambda a: a.expand(2, 3, 4), _a(3, 1))


@pytest.mark.parametrize("dim,sizes", [(1, (2, 2)), (-1, (-1, 2)), (0, (3,)), (0, (1, 3, 1)), (1, (4, 1))])
def test_unflatten(dim, sizes):
    a = _a(3, 4)
    out = _t(a).unflatten(dim, sizes)
    d = dim % 2
    n = a.shape[d]
    full = tuple(n // -int(np.prod(sizes)) if s == -1 else s for s in sizes)
    np.testing.assert_array_equal(out.numpy(), a.reshape(a.shape[:d] + full + a.shape[d + 1:]))
    np.testing.assert_array_equal(tl.unflatten(_t(a), dim, sizes).numpy(), out.numpy())
    _vs_torch(lambda x: x.unflatten(dim, sizes), lambda x: x.unflatten(dim, sizes), a)


def test_unflatten_errors_and_module():
    x = _t(_a(3, 4))
    for dim, sizes in [(1, (2, 3)), (1, ()), (1, (-1, -1)), (5, (2, 2))]:
        _torch_error(lambda: x.unflatten(dim, sizes), lambda torch: torch.zeros(3, 4).unflatten(dim, sizes))
    _check(lambda a: a.unflatten(1, (2, 2)), lambda a: a.reshape(3, 2, 2), _a(3, 4),
           variants=("noncontiguous", "transposed"))
    m = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, -1)))
    assert m(tl.zeros(3, 4, 5)).shape == (3, 2, 10)
    assert repr(m[1]) == "Unflatten(dim=1, unflattened_size=(2, -1))"


# ---- repeat_interleave / take_along_dim ---------------------------------------------------------

@pytest.mark.parametrize("repeats,dim", [(2, None), (3, 0), (2, -1), (0, 1), (1, 1)])
def test_repeat_interleave_int(repeats, dim):
    a = _a(3, 4)
    np.testing.assert_array_equal(_t(a).repeat_interleave(repeats, dim).numpy(), np.repeat(a, repeats, dim))
    np.testing.assert_array_equal(tl.repeat_interleave(_t(a).T, repeats, dim=dim).numpy(),
                                  np.repeat(a.T, repeats, dim))


def test_repeat_interleave_tensor_repeats_grad_and_torch():
    a = _a(3, 4)
    reps = tl.tensor([1, 0, 3])
    np.testing.assert_array_equal(_t(a).repeat_interleave(reps, 0).numpy(), np.repeat(a, [1, 0, 3], 0))
    np.testing.assert_array_equal(_t(a).repeat_interleave(tl.tensor(2), 1).numpy(), np.repeat(a, 2, 1))
    np.testing.assert_array_equal(_t(a).repeat_interleave(tl.tensor([2]), 1).numpy(), np.repeat(a, 2, 1))
    assert _t(a).repeat_interleave(tl.tensor([1, 2, 1, 1]), dim=1, output_size=5).shape == (3, 5)
    assert tl.repeat_interleave(tl.tensor([2, 0, 1])).tolist() == [0, 0, 2]
    assert _t(2.0).repeat_interleave(3).tolist() == [2.0, 2.0, 2.0]
    assert tl.zeros(0, 2).repeat_interleave(2, 0).shape == (0, 2)
    _check(lambda x: x.repeat_interleave(2, 1), lambda x: np.repeat(x, 2, 1), _a(3, 4))
    _check(lambda x: x.repeat_interleave(tl.tensor([2, 0, 1]), 0), lambda x: np.repeat(x, [2, 0, 1], 0),
           _a(3, 2), variants=("noncontiguous", "transposed", "expanded"))
    torch = _torch()
    _vs_torch(lambda x: x.repeat_interleave(3), lambda x: x.repeat_interleave(3), a)
    _vs_torch(lambda x: x.repeat_interleave(tl.tensor([1, 3, 0, 2]), -1),
              lambda x: x.repeat_interleave(torch.tensor([1, 3, 0, 2]), -1), a)


def test_repeat_interleave_errors():
    x = _t(_a(3, 4))
    cases = [(lambda t: -1, {}), (lambda t: t.tensor([1, 2]), {"dim": 0}), (lambda t: t.tensor([1, 2, -1]), {"dim": 0}),
             (lambda t: t.tensor([[1]]), {"dim": 0}), (lambda t: 2, {"dim": 5})]
    for rep, kw in cases:
        _torch_error(lambda: x.repeat_interleave(rep(tl), **kw),
                     lambda torch: torch.zeros(3, 4).repeat_interleave(rep(torch), **kw))
    with pytest.raises(TypeError):
        x.repeat_interleave(tl.tensor([1.0, 2.0, 1.0]), 0)


def test_take_along_dim_forward_and_grad():
    a = _a(3, 4)
    idx = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]])
    np.testing.assert_array_equal(tl.take_along_dim(_t(a), tl.tensor(idx), 1).numpy(),
                                  np.take_along_axis(a, idx, 1))
    np.testing.assert_array_equal(_t(a).T.take_along_dim(tl.tensor(idx.T.copy()), 0).numpy(),
                                  np.take_along_axis(a.T, idx.T, 0))
    flat = np.array([0, 11, 5, 5])
    np.testing.assert_array_equal(tl.take_along_dim(_t(a), tl.tensor(flat)).numpy(), a.reshape(-1)[flat])
    neg = np.array([[-1], [-4], [0]])
    np.testing.assert_array_equal(_t(a).take_along_dim(tl.tensor(neg), 1).numpy(), np.take_along_axis(a, neg, 1))
    b = np.array([[1, 0]])     # broadcast: (1, 2) indices against (3, 4) along dim 1 -> (3, 2)
    np.testing.assert_array_equal(_t(a).take_along_dim(tl.tensor(b), 1).numpy(), a[:, [1, 0]])
    a3 = _a(3, 1, 4)
    i3 = RNG.integers(0, 4, (1, 2, 5))
    np.testing.assert_array_equal(_t(a3).take_along_dim(tl.tensor(i3), -1).numpy(),
                                  np.take_along_axis(np.broadcast_to(a3, (3, 2, 4)), np.broadcast_to(i3, (3, 2, 5)), -1))
    _check(lambda x: x.take_along_dim(tl.tensor(idx), 1), lambda x: np.take_along_axis(x, idx, 1), a,
           variants=("noncontiguous", "transposed", "expanded"))
    _check(lambda x: tl.take_along_dim(x, tl.tensor(flat)), lambda x: x.reshape(-1)[flat], a,
           variants=("noncontiguous", "transposed", "expanded"))
    torch = _torch()
    _vs_torch(lambda x: x.take_along_dim(tl.tensor(i3), -1), lambda x: x.take_along_dim(torch.tensor(i3), -1), a3)
    _vs_torch(lambda x: x.take_along_dim(tl.tensor(neg), 1), lambda x: x.take_along_dim(torch.tensor(neg), 1), a)


def test_take_along_dim_errors():
    x = _t(_a(3, 4))
    _torch_error(lambda: x.take_along_dim(tl.tensor([0, 1]), 0),
                 lambda torch: torch.zeros(3, 4).take_along_dim(torch.tensor([0, 1]), 0))
    _torch_error(lambda: x.take_along_dim(tl.zeros(2, 2, dtype=tl.int64), 1),
                 lambda torch: torch.zeros(3, 4).take_along_dim(torch.zeros(2, 2, dtype=torch.long), 1))
    _torch_error(lambda: x.take_along_dim(tl.tensor([0.0])),
                 lambda torch: torch.zeros(3, 4).take_along_dim(torch.tensor([0.0])))
    _torch_error(lambda: x.take_along_dim(tl.tensor([[0]]), 2),
                 lambda torch: torch.zeros(3, 4).take_along_dim(torch.tensor([[0]]), 2))
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.take_along_dim(tl.tensor([[5]]), 1)        # (PyTorch's CPU kernel reads unchecked)


# ---- movedim / swapaxes ---------------------------------------------------------------------------

@pytest.mark.parametrize("src,dst", [(0, 2), (-1, 0), ((0, 1), (2, 0)), ((), ()), ([2, 0], [0, 1]), (1, 1)])
def test_movedim(src, dst):
    a = _a(2, 3, 4)
    out = tl.movedim(_t(a), src, dst)
    np.testing.assert_array_equal(out.numpy(), np.moveaxis(a, src, dst))
    np.testing.assert_array_equal(_t(a).moveaxis(src, dst).numpy(), np.moveaxis(a, src, dst))
    _vs_torch(lambda x: x.movedim(src, dst), lambda x: x.movedim(src, dst), a)


def test_movedim_swapaxes_views_grad_and_errors():
    x = _t(_a(2, 3, 4))
    assert x.movedim(0, -1).data_ptr() == x.data_ptr() and x.swapaxes(0, 2).data_ptr() == x.data_ptr()
    np.testing.assert_array_equal(tl.swapdims(x, 0, -1).numpy(), np.swapaxes(x.numpy(), 0, -1))
    np.testing.assert_array_equal(x.swapaxes(1, 2).numpy(), np.swapaxes(x.numpy(), 1, 2))
    assert tl.movedim(_t(2.0), 0, 0).shape == ()
    _check(lambda a: a.movedim((0, 1), (2, 0)), lambda a: np.moveaxis(a, (0, 1), (2, 0)), _a(2, 3, 4))
    _check(lambda a: a.swapaxes(0, -1), lambda a: np.swapaxes(a, 0, -1) if a.ndim else a, _a(2, 3, 4))
    for s, d in [(0, 5), ((0, 1), (1,)), ((0, 0), (1, 0)), ((0, 1), (1, 1))]:
        _torch_error(lambda: x.movedim(s, d), lambda torch: torch.zeros(2, 3, 4).movedim(s, d))
    _torch_error(lambda: x.swapaxes(0, 3), lambda torch: torch.zeros(2, 3, 4).swapaxes(0, 3))


# ---- dot, mv, mm, outer, inner, addmm, addmv, baddbmm ---------------------------------------------

def test_products_forward_and_check_op():
    v, w, m, m2 = _a(4), _a(4), _a(3, 4), _a(4, 5)
    assert tl.dot(_t(v), _t(w)).shape == () and tl.dot(_t(v), _t(w)).item() == pytest.approx(v @ w, abs=1e-12)
    np.testing.assert_allclose(tl.mv(_t(m), _t(v)).numpy(), m @ v, rtol=1e-12)
    np.testing.assert_allclose(_t(m).mm(_t(m2)).numpy(), m @ m2, rtol=1e-12)
    np.testing.assert_allclose(tl.outer(_t(v), _t(_a(3))).shape, (4, 3))
    np.testing.assert_allclose(tl.inner(_t(_a(2, 3, 4)), _t(m)).shape, (2, 3, 3))
    _check(tl.dot, np.dot, v, w)
    _check(tl.mv, np.matmul, m, v)
    _check(tl.mm, np.matmul, m, m2)
    _check(tl.outer, np.outer, v, _a(3))
    _check(tl.inner, np.inner, _a(2, 3, 4), m)
    _check(tl.inner, np.inner, m, v)
    _check(tl.inner, np.inner, v, _a(2, 4))
    _check(lambda a, b: tl.inner(a, b), np.inner, np.float64(1.5), m, variants=("noncontiguous",))
    _check(lambda c, a, b: tl.addmm(c, a, b, beta=0.5, alpha=-2.0), lambda c, a, b: 0.5 * c - 2 * (a @ b),
           _a(5), m, m2)
    _check(tl.addmm, lambda c, a, b: c + a @ b, _a(3, 5), m, m2)
    _check(lambda c, a, b: tl.addmv(c, a, b, alpha=3.0), lambda c, a, b: c + 3 * (a @ b), _a(3), m, v)
    _check(lambda c, a, b: tl.baddbmm(c, a, b, beta=2.0), lambda c, a, b: 2 * c + a @ b,
           _a(3, 5), _a(2, 3, 4), _a(2, 4, 5))


def test_products_empty_int_and_noncontiguous():
    assert tl.dot(tl.zeros(0), tl.zeros(0)).item() == 0.0
    assert tl.dot(tl.tensor([1, 2]), tl.tensor([3, 4])).item() == 11
    assert tl.mv(tl.zeros(0, 3), tl.zeros(3)).shape == (0,)
    assert tl.outer(tl.zeros(0), tl.zeros(3)).shape == (0, 3)
    assert tl.inner(tl.zeros(2, 0), tl.zeros(3, 0)).tolist() == [[0.0] * 3] * 2
    a, v = _a(4, 3), _a(4)
    np.testing.assert_allclose(tl.mv(_t(a).T, _t(v)).numpy(), a.T @ v, rtol=1e-12)
    np.testing.assert_allclose(tl.dot(_t(a)[:, 0], _t(a)[:, 1]).item(), a[:, 0] @ a[:, 1], rtol=1e-12)


def test_addmm_beta_zero_ignores_nan_input():
    c = _t(np.full((3, 5), np.nan), grad=True)
    a, b = _t(_a(3, 4), grad=True), _t(_a(4, 5), grad=True)
    out = tl.addmm(c, a, b, beta=0)
    assert np.isfinite(out.detach().numpy()).all()
    out.sum().backward()
    assert c.grad is not None and not c.grad.numpy().any()
    assert np.isnan(tl.addmm(c, a, b).detach().numpy()).all()     # beta 1: NaN propagates


def test_products_vs_torch():
    torch = _torch()
    v, w, m, m2 = _a(4), _a(4), _a(3, 4), _a(4, 5)
    _vs_torch(tl.dot, torch.dot, v, w)
    _vs_torch(tl.mv, torch.mv, m, v)
    _vs_torch(tl.mm, torch.mm, m, m2)
    _vs_torch(tl.outer, torch.outer, v, _a(3))
    _vs_torch(tl.inner, torch.inner, _a(2, 3, 4), _a(5, 4))
    _vs_torch(tl.inner, torch.inner, _a(2, 4), v)
    for beta, alpha in [(1, 1), (0.5, 2.0), (0, -1.0)]:
        _vs_torch(lambda c, a, b: tl.addmm(c, a, b, beta=beta, alpha=alpha),
                  lambda c, a, b: torch.addmm(c, a, b, beta=beta, alpha=alpha), _a(5), m, m2)
        _vs_torch(lambda c, a, b: c.addmv(a, b, beta=beta, alpha=alpha),
                  lambda c, a, b: c.addmv(a, b, beta=beta, alpha=alpha), _a(3), m, v)
        _vs_torch(lambda c, a, b: tl.baddbmm(c, a, b, beta=beta, alpha=alpha),
                  lambda c, a, b: torch.baddbmm(c, a, b, beta=beta, alpha=alpha),
                  _a(2, 3, 5), _a(2, 3, 4), _a(2, 4, 5))


@pytest.mark.parametrize("call", [
    "dot(z(3, 4), z(3))", "dot(z(3), z(4))", "dot(z(3), z(3).double())", "mv(z(3, 4), z(3))",
    "mv(z(3), z(3))", "mv(z(3, 4), z(4, 1))", "mv(z(3, 4), z(4).double())", "mm(z(3), z(3, 4))",
    "mm(z(3, 4), z(3, 4))", "outer(z(3, 4), z(3))", "outer(z(3), z(3, 1))", "inner(z(3, 4), z(3))",
    "inner(z(3, 4), z(4).double())", "addmm(z(3), z(3, 4), z(3))", "addmm(z(2), z(3, 4), z(4, 5))",
    "addmm(z(5), z(3, 4), z(5, 5))", "addmv(z(2), z(3, 4), z(4))", "addmv(z(1, 3), z(3, 4), z(4))",
    "baddbmm(z(2, 3, 5), z(2, 3, 4), z(2, 5, 5))", "baddbmm(z(2, 5), z(2, 3, 4), z(2, 4, 5))"])
def test_product_errors_match_torch(call):
    torch = _torch()
    _torch_error(lambda: eval("tl." + call, {"tl": tl, "z": lambda *s: tl.zeros(*s)}),
                 lambda t: eval("torch." + call, {"torch": torch, "z": lambda *s: torch.zeros(*s)}))
    with pytest.raises((ValueError, TypeError)):      # and this project's types for shapes/dtypes
        eval("tl." + call, {"tl": tl, "z": lambda *s: tl.zeros(*s)})


def test_baddbmm_needs_3d_batches():
    # (PyTorch raises IndexError from inside its kernel here; tl names the argument)
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        tl.baddbmm(tl.zeros(3, 5), tl.zeros(3, 4), tl.zeros(4, 5))
