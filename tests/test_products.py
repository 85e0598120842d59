"""einsum, tensordot, kron, cross / tl.linalg.cross (tinygrad_lab/ops/products.py; README "More
products, stacking and statistics"): forwards against NumPy, values and gradients against
PyTorch when installed, gradcheck / gradgradcheck in float64, PyTorch's error types, and that
contractions reach the GEMM."""
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import kernels as K

RNG = np.random.default_rng(5)


def _a(*shape):
    return RNG.uniform(-2, 2, shape)


def _t(a, grad=False, dtype=tl.float64):
    return tl.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def vs_torch(tl_fn, torch_fn, *arrays, rtol=1e-11, atol=1e-12):
    """tl_fn(*tensors) against torch_fn(*tensors) in float64: values, and the gradient of every
    input through sum(out * w) for a fixed random w (each output of a tuple gets its own w)."""
    torch = pytest.importorskip("torch")
    xs = [_t(a, grad=True) for a in arrays]
    ts = [torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True) for a in arrays]
    outs, touts = tl_fn(*xs), torch_fn(*ts)
    if isinstance(outs, tl.Tensor):
        outs, touts = (outs,), (touts,)
    loss, tloss = 0, 0
    for o, to in zip(outs, touts):
        assert o.shape == tuple(to.shape)
        np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
        w = RNG.standard_normal(o.shape)
        loss, tloss = loss + (o * _t(w)).sum(), tloss + (to * torch.tensor(w)).sum()
    gs = tl.autograd.grad(loss, xs, allow_unused=True)
    tgs = torch.autograd.grad(tloss, ts, allow_unused=True)
    for i, (g, tg) in enumerate(zip(gs, tgs)):
        want = np.zeros(arrays[i].shape) if tg is None else tg.numpy()
        got = np.zeros(arrays[i].shape) if g is None else g.numpy()
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"input {i}")


def gradchecks(fn, *arrays):
    xs = [_t(a, grad=True) for a in arrays]
    assert tl.autograd.gradcheck(fn, xs)
    assert tl.autograd.gradgradcheck(fn, xs)


# ---- einsum -------------------------------------------------------------------------------------

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),          # matmul
    ("ij,jk", [(2, 3), (3, 4)]),              # implicit output
    ("ii->i", [(3, 3)]),                      # diagonal
    ("ii", [(3, 3)]),                         # trace
    ("iji->j", [(2, 3, 2)]),                  # a diagonal over non-adjacent dims
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),  # batched
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # broadcast ellipsis
    ("...ij,jk->ik", [(2, 3, 4), (4, 5)]),    # ellipsis dims summed when the output drops them
    ("i...->...", [(2, 3, 4)]),
    ("i,j->ij", [(3,), (4,)]),                # outer: a broadcast multiply
    ("i,i->", [(3,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij,j", [(2, 3), (1,)]),                 # a size-1 dim broadcast, contracted
    ("ij,ij->ij", [(2, 3), (1, 3)]),          # ... and kept
    ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 2)]),  # a chain, left to right
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),   # bilinear
    ("Ba,aB", [(2, 3), (3, 2)]),              # upper-case subscripts
    ("bA,A", [(2, 3), (3,)]),
    ("ab,ab,ab->a", [(2, 3), (2, 3), (2, 3)]),
]


def test_einsum_matches_numpy():
    for eq, shapes in EINSUM:
        arrays = [_a(*s) for s in shapes]
        if "..." not in eq and all(1 not in s for s in shapes):
            np.testing.assert_allclose(tl.einsum(eq, *[_t(a) for a in arrays]).numpy(),
                                       np.einsum(eq, *arrays), rtol=1e-12, atol=1e-12, err_msg=eq)
    x, y = _a(2, 3), _a(3, 4)
    # float32, and the list and sublist calling forms
    got = tl.einsum("ij,jk->ik", [_t(x, dtype=tl.float32), _t(y, dtype=tl.float32)])
    assert got.dtype is tl.float32
    np.testing.assert_allclose(got.numpy(), x @ y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tl.einsum(_t(x), [0, 1], _t(y), [1, 2], [0, 2]).numpy(), x @ y)
    np.testing.assert_allclose(tl.einsum(_t(x), [Ellipsis, 27], [27]).numpy(), x.sum(0))
    # int64 operands stay int64 (computed exactly)
    i = tl.tensor([[1, 2], [3, 4]])
    assert tl.einsum("ij,jk->ik", i, i).tolist() == [[7, 10], [15, 22]]
    assert tl.einsum(" i j -> j i ", _t(x)).shape == (3, 2)


def test_einsum_values_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    for eq, shapes in EINSUM:
        vs_torch(lambda *xs: tl.einsum(eq, *xs), lambda *ts: torch.einsum(eq, *ts),
                 *[_a(*s) for s in shapes])


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(2, 3), (3, 2)]), ("iij->ji", [(2, 2, 3)]),
                                       ("...i,i->...", [(2, 3), (3,)]),
                                       ("ab,bc,ca->", [(2, 3), (3, 2), (2, 2)])])
def test_einsum_gradcheck(eq, shapes):
    gradchecks(lambda *xs: tl.einsum(eq, *xs), *[_a(*s) for s in shapes])


def test_einsum_contracts_with_one_gemm_per_pair():
    x, y, z = _t(_a(2, 3, 4)), _t(_a(4, 5)), _t(_a(5, 2))
    with K.record() as calls:
        tl.einsum("abc,cd,de->abe", x, y, z)
    assert [n for n, _ in calls].count("tl_matmul_forward") == 2
    with K.record() as calls:   # nothing summed: no GEMM
        tl.einsum("i,j->ij", _t(_a(3)), _t(_a(4)))
    assert "tl_matmul_forward" not in [n for n, _ in calls]


@pytest.mark.parametrize("eq,shapes,err,msg", [
    ("ij,jk", [(2, 3), (4, 5)], ValueError, "subscript j has size 4 for operand 1 which does not "
                                            "broadcast with previously seen size 3"),
    ("ii", [(2, 3)], ValueError, "subscript i is repeated for operand 0 but the sizes don't match"),
    ("ij", [(2, 3, 4)], RuntimeError, "the number of subscripts in the equation (2) does not match"),
    ("ij->ii", [(2, 2)], RuntimeError, "output subscript i appears more than once in the output"),
    ("ij->k", [(2, 2)], RuntimeError, "output subscript k does not appear in the equation"),
    ("i,j", [(2,)], RuntimeError, "fewer operands were provided than specified in the equation"),
    ("i", [(2,), (2,)], RuntimeError, "more operands were provided than specified"),
    ("i1", [(2, 2)], RuntimeError, "invalid subscript given at index 1"),
    ("ij..k", [(2, 2, 2)], RuntimeError, "found '.' for operand that is not part of any ellipsis"),
    ("ijk...", [(2, 2)], RuntimeError, "is more than the number of dimensions (2)"),
])
def test_einsum_errors_are_pytorchs(eq, shapes, err, msg):
    ops = [_t(_a(*s)) for s in shapes]
    with pytest.raises(err) as e:
        tl.einsum(eq, *ops)
    assert isinstance(e.value, RuntimeError) and msg in str(e.value)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.einsum(eq, *[torch.zeros(s) for s in shapes])


def test_einsum_argument_errors():
    with pytest.raises(TypeError):   # a dtype mismatch is PyTorch's RuntimeError, and a TypeError
        tl.einsum("i,i", _t(_a(2)), _t(_a(2), dtype=tl.float32))
    with pytest.raises(TypeError, match="operand 1 must be a Tensor"):
        tl.einsum("i,i", _t(_a(2)), [1.0, 2.0])
    with pytest.raises(RuntimeError, match="at least one operand"):
        tl.einsum("i")


# ---- tensordot ----------------------------------------------------------------------------------

TENSORDOT = [(2, (2, 3, 4), (3, 4, 5)), (1, (2, 3), (3, 4)), (0, (2,), (3,)),
             (([1, 2], [0, 1]), (2, 3, 4), (3, 4, 5)), (([0], [1]), (3, 2), (4, 3)),
             ([[2, 0], [1, 0]], (2, 3, 4), (2, 4, 5))]


def test_tensordot_matches_numpy_and_torch():
    torch = pytest.importorskip("torch")
    for dims, sa, sb in TENSORDOT:
        a, b = _a(*sa), _a(*sb)
        np_dims = dims if isinstance(dims, int) else tuple(dims)
        np.testing.assert_allclose(tl.tensordot(_t(a), _t(b), dims).numpy(),
                                   np.tensordot(a, b, np_dims), rtol=1e-12, atol=1e-12)
        vs_torch(lambda x, y: tl.tensordot(x, y, dims),
                 lambda x, y: torch.tensordot(x, y, dims), a, b)


def test_tensordot_gradcheck_and_errors():
    gradchecks(lambda x, y: tl.tensordot(x, y, ([1, 0], [2, 0])), _a(3, 2), _a(3, 4, 2))
    a, b = _t(_a(2, 3)), _t(_a(4, 5))
    with pytest.raises(ValueError, match="contracted dimensions need to match, but first has "
                                         "size 3 in dim 1 and second has size 4 in dim 0"):
        tl.tensordot(a, b, 1)
    with pytest.raises(RuntimeError, match="dims >= 0"):
        tl.tensordot(a, b, -1)
    with pytest.raises(RuntimeError, match="same length"):
        tl.tensordot(a, b, ([0, 1], [0]))
    with pytest.raises(TypeError):
        tl.tensordot(a, b, (1, 0))      # PyTorch wants lists of dims
    with pytest.raises(IndexError):
        tl.tensordot(a, b, ([2], [0]))


# ---- kron ---------------------------------------------------------------------------------------

KRON = [((2, 3), (4, 1)), ((2,), (3, 2)), ((2, 2, 1), (3,)), ((), (3,))]


def test_kron():
    for sa, sb in KRON:
        a, b = _a(*sa), _a(*sb)
        np.testing.assert_allclose(tl.kron(_t(a), _t(b)).numpy(), np.kron(a, b))
    gradchecks(tl.kron, _a(2, 3), _a(2))
    assert tl.kron(_t(_a(2)), _t(_a(3))).shape == _t(_a(2)).kron(_t(_a(3))).shape == (6,)


def test_kron_matches_torch():
    torch = pytest.importorskip("torch")
    for sa, sb in KRON:
        vs_torch(tl.kron, torch.kron, _a(*sa), _a(*sb))


# ---- cross --------------------------------------------------------------------------------------

def test_cross_values_gradients_and_broadcasting():
    a, b = _a(4, 3), _a(1, 3)
    np.testing.assert_allclose(tl.linalg.cross(_t(a), _t(b)).numpy(), np.cross(a, b))
    gradchecks(lambda x, y: tl.linalg.cross(x, y, dim=0), _a(3, 2), _a(3, 2))
    torch = pytest.importorskip("torch")
    vs_torch(tl.linalg.cross, torch.linalg.cross, a, b)
    vs_torch(lambda x, y: tl.cross(x, y, dim=0), lambda x, y: torch.cross(x, y, dim=0),
             a.T, _a(3, 4))
    vs_torch(lambda x, y: x.cross(y, 1), lambda x, y: x.cross(y, 1), _a(2, 3, 2), _a(2, 3, 2))


def test_cross_default_dim_is_the_first_of_size_3_with_pytorchs_warning():
    a, b = _a(2, 3, 3), _a(2, 3, 3)
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        got = tl.cross(_t(a), _t(b))
    np.testing.assert_allclose(got.numpy(), np.cross(a, b, axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="no dimension of size 3"):
            tl.cross(_t(_a(2, 2)), _t(_a(2, 2)))


def test_cross_errors():
    with pytest.raises(ValueError, match="must have length 3. Got 2 and 2"):
        tl.linalg.cross(_t(_a(3, 2)), _t(_a(3, 2)))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        tl.linalg.cross(_t(_a(2, 3)), _t(_a(3)))
    with pytest.raises(IndexError):
        tl.linalg.cross(_t(_a(2, 3)), _t(_a(2, 3)), dim=2)
    with pytest.raises(RuntimeError, match="do not broadcast"):
        tl.linalg.cross(_t(_a(2, 3)), _t(_a(4, 3)))


def test_half_operands():
    a, b = _a(2, 3), _a(3, 4)
    got = tl.einsum("ij,jk->ik", _t(a, dtype=tl.float16), _t(b, dtype=tl.float16))
    assert got.dtype is tl.float16
    np.testing.assert_allclose(got.numpy().astype(np.float64), a @ b, rtol=1e-2, atol=1e-2)
    assert tl.kron(_t(a, dtype=tl.bfloat16), _t(b, dtype=tl.bfloat16)).dtype is tl.bfloat16


def test_strided_and_expanded_operands():
    a, b = _a(4, 3), _a(5, 6)
    x = _t(a).T                                   # (3, 4), transposed
    y = _t(b)[::2, 1::2]                          # (3, 3), strided
    z = _t(_a(1, 3)).expand(4, 3)                 # stride 0
    an, bn = a.T, b[::2, 1::2]
    np.testing.assert_allclose(tl.einsum("ij,ik->jk", x, y).numpy(), an.T @ bn, rtol=1e-12)
    np.testing.assert_allclose(tl.einsum("ji,ij->", x, z).numpy(),
                               np.einsum("ji,ij->", an, z.numpy()), rtol=1e-12)
    np.testing.assert_allclose(tl.tensordot(x, y, ([0], [1])).numpy(),
                               np.tensordot(an, bn, ([0], [1])), rtol=1e-12)
    np.testing.assert_allclose(tl.kron(x, y).numpy(), np.kron(an, bn), rtol=1e-12)
