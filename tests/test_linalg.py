"""tl.linalg's factorisations and solves (ops/decomp.py <-> csrc/linalg.c): forward against NumPy
(and PyTorch when installed), gradients (gradcheck / gradgradcheck in float64, batched and not),
PyTorch's errors and its behaviour at singular matrices, NaN, strided inputs. tests/test_ops.py
runs each op through check_op as well (its SPECS lines Inv, Solve, Det, Slogdet, Cholesky,
SolveTriangular)."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import gradcheck, gradgradcheck

LA = tl.linalg


def _rand(shape, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    return a + shift * np.eye(shape[-1]) if shift else a


def _spd(shape, seed=0):
    a = _rand(shape, seed)
    return a @ np.swapaxes(a, -1, -2) + np.eye(shape[-1])


def _t(a, dtype=tl.float64, grad=False):
    return tl.tensor(a, dtype=dtype, requires_grad=grad)


# ---- forward against NumPy ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype,tol", [(tl.float64, 1e-10), (tl.float32, 2e-4)])
@pytest.mark.parametrize("shape", [(5, 5), (3, 4, 4), (2, 1, 6, 6), (1, 1)])
def test_forward_matches_numpy(dtype, tol, shape):
    a = _rand(shape, 1, shift=2.0)
    b = _rand(shape[:-1] + (3,), 2)
    A, B = _t(a, dtype), _t(b, dtype)
    np.testing.assert_allclose(LA.solve(A, B).numpy(), np.linalg.solve(a, b), rtol=tol, atol=tol)
    np.testing.assert_allclose(LA.inv(A).numpy(), np.linalg.inv(a), rtol=tol, atol=tol)
    np.testing.assert_allclose(LA.det(A).numpy(), np.linalg.det(a), rtol=tol, atol=tol)
    sign, logabs = LA.slogdet(A)
    ws, wl = np.linalg.slogdet(a)
    np.testing.assert_array_equal(sign.numpy(), ws)
    np.testing.assert_allclose(logabs.numpy(), wl, rtol=tol, atol=tol)
    s = _spd(shape, 3)
    L = LA.cholesky(_t(s, dtype))
    np.testing.assert_allclose(L.numpy(), np.linalg.cholesky(s), rtol=tol, atol=tol)
    np.testing.assert_allclose(LA.cholesky(_t(s, dtype), upper=True).numpy(),
                               np.swapaxes(np.linalg.cholesky(s), -1, -2), rtol=tol, atol=tol)
    for dt in (L.dtype, sign.dtype, logabs.dtype):
        assert dt is dtype


def test_solve_broadcasts_batches_and_vectors():
    a, b = _rand((2, 1, 4, 4), 0, 3.0), _rand((3, 4, 2), 1)
    np.testing.assert_allclose(LA.solve(_t(a), _t(b)).numpy(), np.linalg.solve(a, b), atol=1e-12)
    v = _rand((4,), 2)
    x = LA.solve(_t(a), _t(v))            # a 1-D B: a vector for every matrix
    assert x.shape == (2, 1, 4)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, v[:, None])[..., 0], atol=1e-12)
    a2, v2 = _rand((3, 4, 4), 3, 3.0), _rand((3, 4), 4)   # B of A's shape less its last dim
    np.testing.assert_allclose(LA.solve(_t(a2), _t(v2)).numpy(),
                               np.linalg.solve(a2, v2[..., None])[..., 0], atol=1e-12)
    c = _rand((3, 2, 4), 5)
    xr = LA.solve(_t(a2), _t(c), left=False)   # X A = B
    np.testing.assert_allclose(xr.numpy() @ a2, c, atol=1e-12)


def test_triangular_solves():
    a, b = _rand((2, 4, 4), 0, 3.0), _rand((2, 4, 3), 1)
    for upper in (True, False):
        tri = np.triu(a) if upper else np.tril(a)
        x = LA.solve_triangular(_t(a), _t(b), upper=upper)
        np.testing.assert_allclose(x.numpy(), np.linalg.solve(tri, b), atol=1e-12)
        unit = (np.triu(a, 1) if upper else np.tril(a, -1)) + np.eye(4)
        xu = LA.solve_triangular(_t(a), _t(b), upper=upper, unitriangular=True)
        np.testing.assert_allclose(xu.numpy(), np.linalg.solve(unit, b), atol=1e-12)
        xl = LA.solve_triangular(_t(a), _t(b).mT, upper=upper, left=False)
        np.testing.assert_allclose(xl.numpy() @ tri, np.swapaxes(b, -1, -2), atol=1e-12)
    sol, coef = tl.triangular_solve(_t(b), _t(a), upper=False, transpose=True)
    np.testing.assert_allclose(sol.numpy(), np.linalg.solve(np.swapaxes(np.tril(a), -1, -2), b),
                               atol=1e-12)
    np.testing.assert_array_equal(coef.numpy(), a)
    s = _spd((4, 4), 5)
    L = LA.cholesky(_t(s))
    np.testing.assert_allclose(tl.cholesky_solve(_t(b), L).numpy(), np.linalg.solve(s, b), atol=1e-10)
    U = LA.cholesky(_t(s), upper=True)
    np.testing.assert_allclose(tl.cholesky_solve(_t(b), U, upper=True).numpy(),
                               np.linalg.solve(s, b), atol=1e-10)


def test_lu_factor_and_lu_solve():
    a, b = _rand((3, 5, 5), 0), _rand((3, 5, 2), 1)
    LU, piv = LA.lu_factor(_t(a))
    assert piv.dtype is tl.int64 and piv.shape == (3, 5)
    lu, p = LU.numpy(), piv.numpy()
    for k in range(3):    # P A = L U with the swaps applied in order
        L, U = np.tril(lu[k], -1) + np.eye(5), np.triu(lu[k])
        pa = a[k].copy()
        for i, j in enumerate(p[k] - 1):
            pa[[i, j]] = pa[[j, i]]
        np.testing.assert_allclose(L @ U, pa, atol=1e-12)
        assert np.all(np.abs(np.tril(lu[k], -1)) <= 1)   # partial pivoting: |multipliers| <= 1
    np.testing.assert_allclose(LA.lu_solve(LU, piv, _t(b)).numpy(), np.linalg.solve(a, b), atol=1e-10)


def test_aliases_and_methods():
    a = _rand((3, 3), 0, 3.0)
    A = _t(a)
    np.testing.assert_allclose(tl.inverse(A).numpy(), np.linalg.inv(a), atol=1e-12)
    np.testing.assert_allclose(A.inverse().numpy(), np.linalg.inv(a), atol=1e-12)
    assert abs(tl.det(A).item() - np.linalg.det(a)) < 1e-10
    assert abs(A.det().item() - np.linalg.det(a)) < 1e-10
    assert abs(A.logdet().item() - np.log(np.linalg.det(a))) < 1e-10
    assert abs(tl.logdet(A).item() - np.log(np.linalg.det(a))) < 1e-10
    assert tl.slogdet(A).sign.item() == A.slogdet()[0].item() == 1.0
    s = _spd((3, 3))
    np.testing.assert_allclose(tl.cholesky(_t(s)).numpy(), np.linalg.cholesky(s), atol=1e-12)
    np.testing.assert_allclose(_t(s).cholesky(True).numpy(), np.linalg.cholesky(s).T, atol=1e-12)
    # logdet of a negative determinant is NaN, of a singular matrix -inf (torch.logdet)
    assert np.isnan(tl.logdet(_t(np.diag([-1.0, 1.0]))).item())
    assert tl.logdet(_t(np.zeros((2, 2)))).item() == -np.inf


def test_empty_matrices_and_batches():
    e = _t(np.zeros((0, 0)))
    assert LA.det(e).item() == 1.0
    assert LA.slogdet(e).sign.item() == 1.0 and LA.slogdet(e).logabsdet.item() == 0.0
    assert LA.inv(_t(np.zeros((2, 0, 0)))).shape == (2, 0, 0)
    assert LA.det(_t(np.zeros((0, 3, 3)))).shape == (0,)
    assert LA.solve(_t(np.zeros((0, 3, 3))), _t(np.zeros((0, 3, 2)))).shape == (0, 3, 2)
    assert LA.cholesky(_t(np.zeros((2, 0, 0)))).shape == (2, 0, 0)
    assert LA.solve(_t(np.eye(3)), _t(np.zeros((3, 0)))).shape == (3, 0)


def test_strided_inputs():
    a = _rand((4, 4), 0, 3.0)
    wide = np.zeros((4, 8))
    wide[:, ::2] = a
    strided = _t(wide)[:, ::2]
    for A in (strided, _t(a.T.copy()).mT, _t(a[:1]).expand(4, 4) + _t(3 * np.eye(4))):
        want = A.numpy()
        np.testing.assert_allclose(LA.inv(A).numpy(), np.linalg.inv(want), atol=1e-12)
        np.testing.assert_allclose(LA.det(A).numpy(), np.linalg.det(want), atol=1e-10)
        np.testing.assert_allclose(LA.solve(A, A.mT).numpy(), np.linalg.solve(want, want.T),
                                   atol=1e-12)
    assert strided.numpy().tolist() == a.tolist()   # inputs are never written


# ---- gradients ----------------------------------------------------------------------------------

GRAD_CASES = [
    ("solve", lambda a, b: LA.solve(a, b), [(2, 4, 4), (4, 3)]),
    ("solve vector", lambda a, b: LA.solve(a, b), [(4, 4), (4,)]),
    ("solve left=False", lambda a, b: LA.solve(a, b, left=False), [(3, 4, 4), (2, 4)]),
    ("inv", lambda a: LA.inv(a), [(2, 3, 3)]),
    ("lu_factor", lambda a: LA.lu_factor(a.flip(-2)).LU, [(2, 4, 4)]),
    ("det", lambda a: LA.det(a), [(2, 3, 3)]),
    ("slogdet", lambda a: LA.slogdet(a).logabsdet, [(4, 4)]),
    ("logdet", lambda a: tl.logdet(a @ a.mT), [(3, 3)]),
    ("cholesky", lambda a: LA.cholesky(a @ a.mT + tl.eye(3, dtype=a.dtype)), [(2, 3, 3)]),
    ("cholesky upper", lambda a: LA.cholesky(a @ a.mT + tl.eye(3, dtype=a.dtype), upper=True), [(3, 3)]),
    ("cholesky_solve", lambda a, b: tl.cholesky_solve(b, LA.cholesky(a @ a.mT + tl.eye(3, dtype=a.dtype))),
     [(3, 3), (3, 2)]),
    ("solve_triangular", lambda a, b: LA.solve_triangular(a, b, upper=True), [(2, 3, 3), (3, 2)]),
    ("solve_triangular unit", lambda a, b: LA.solve_triangular(a, b, upper=False, unitriangular=True),
     [(3, 3), (2, 3, 2)]),
    ("solve_triangular left=False", lambda a, b: LA.solve_triangular(a, b, upper=False, left=False),
     [(3, 3), (2, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck_and_gradgradcheck(name, fn, shapes):
    ins = [_t(_rand(s, k, shift=3.0 if len(s) >= 2 and s[-1] == s[-2] else 0.0), grad=True)
           for k, s in enumerate(shapes)]
    assert gradcheck(fn, ins)
    assert gradgradcheck(fn, ins)


def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    a, b, g = _rand((2, 4, 4), 0, 2.0), _rand((2, 4, 3), 1), _rand((2, 4, 4), 2)
    s = _spd((2, 4, 4), 3)
    cases = [
        (lambda M: LA.inv(M), lambda M: torch.linalg.inv(M), a, g),
        (lambda M: LA.det(M), lambda M: torch.linalg.det(M), a, g[:, 0, 0]),
        (lambda M: LA.slogdet(M)[1], lambda M: torch.linalg.slogdet(M)[1], a, g[:, 0, 0]),
        (lambda M: LA.solve(M, _t(b)), lambda M: torch.linalg.solve(M, torch.tensor(b)), a, g[..., :3]),
        (lambda M: LA.cholesky(M), lambda M: torch.linalg.cholesky(M), s, g),
        (lambda M: LA.lu_factor(M).LU, lambda M: torch.linalg.lu_factor(M).LU, a, g),
        (lambda M: LA.solve_triangular(M, _t(b), upper=True),
         lambda M: torch.linalg.solve_triangular(M, torch.tensor(b), upper=True), a, g[..., :3]),
    ]
    for fn, tfn, x, gout in cases:
        X = _t(x, grad=True)
        fn(X).backward(_t(gout))
        T = torch.tensor(x, requires_grad=True)
        out = tfn(T)
        np.testing.assert_allclose(out.detach().numpy(), fn(_t(x)).numpy(), atol=1e-10)
        out.backward(torch.tensor(gout))
        np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), atol=1e-10)


# ---- singular matrices, errors ------------------------------------------------------------------

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def test_singular_inv_and_solve_raise_linalg_error():
    with pytest.raises(LA.LinAlgError, match=r"^linalg.inv: The diagonal element 2 is zero, the "
                       r"inversion could not be completed because the input matrix is singular.$"):
        LA.inv(_t(SINGULAR))
    batch = np.stack([np.eye(2), SINGULAR])
    with pytest.raises(RuntimeError, match=r"linalg.inv: \(Batch element 1\): The diagonal element 2"):
        LA.inv(_t(batch))
    with pytest.raises(LA.LinAlgError, match="torch.linalg.solve: The solver failed because the "
                       "input matrix is singular."):
        LA.solve(_t(SINGULAR), _t(np.ones(2)))
    with pytest.raises(LA.LinAlgError, match=r"linalg.cholesky: The factorization could not be "
                       r"completed because the input is not positive-definite \(the leading minor "
                       r"of order 2 is not positive-definite\)."):
        LA.cholesky(_t(SINGULAR))
    assert issubclass(LA.LinAlgError, RuntimeError)


def test_singular_det_slogdet_as_torch():
    A = _t(SINGULAR, grad=True)
    d = LA.det(A)
    assert d.item() == 0.0
    d.backward()
    # PyTorch's first-order gradient at det == 0: det * A^-T with U's zero pivot taken as eps
    np.testing.assert_array_equal(A.grad.numpy(), np.zeros((2, 2)))
    sign, logabs = LA.slogdet(_t(SINGULAR))
    assert sign.item() == 0.0 and logabs.item() == -np.inf
    z = _t(np.zeros((3, 3)), grad=True)
    LA.det(z).backward()
    assert np.all(z.grad.numpy() == 0)


def test_singular_cases_against_torch():
    torch = pytest.importorskip("torch")
    for m in (SINGULAR, np.array([[1.0, 2.0, 3.0], [0, 0, 0], [4, 5, 6]]), np.zeros((2, 2))):
        T = torch.tensor(m, requires_grad=True)
        torch.linalg.det(T).backward()
        A = _t(m, grad=True)
        LA.det(A).backward()
        np.testing.assert_array_equal(A.grad.numpy(), T.grad.numpy())
        ts, tla = torch.linalg.slogdet(torch.tensor(m))
        s, la = LA.slogdet(_t(m))
        assert s.item() == ts.item() and la.item() == tla.item()


def test_triangular_solve_with_zero_diagonal_gives_inf_not_an_error():
    x = LA.solve_triangular(_t(np.array([[0.0, 1.0], [0.0, 1.0]])), _t(np.ones((2, 1))), upper=True)
    assert not np.isfinite(x.numpy()).all()


def test_nan_propagates():
    a = _rand((3, 3), 0, 3.0)
    a[1, 2] = np.nan
    A = _t(a)
    assert np.isnan(LA.inv(A).numpy()).all()
    assert np.isnan(LA.det(A).item())
    assert np.isnan(LA.solve(A, _t(np.ones((3, 2)))).numpy()).all()
    sign, logabs = LA.slogdet(A)
    assert sign.item() == 0.0 and np.isnan(logabs.item())     # (PyTorch's sign for NaN: 0)
    with pytest.raises(LA.LinAlgError):   # NaN is not positive: LAPACK's potrf, PyTorch
        LA.cholesky(_t(np.where(np.isnan(a.T), np.nan, _spd((3, 3)))))   # (the lower triangle)


def test_nan_matches_torch():
    torch = pytest.importorskip("torch")
    a = _rand((3, 3), 0, 3.0)
    a[0, 1] = np.nan
    ts, tl_ = torch.linalg.slogdet(torch.tensor(a))
    s, la = LA.slogdet(_t(a))
    np.testing.assert_array_equal([s.item(), la.item()], [ts.item(), tl_.item()])
    np.testing.assert_array_equal(LA.inv(_t(a)).numpy(), torch.linalg.inv(torch.tensor(a)).numpy())


@pytest.mark.parametrize("fn", [LA.inv, LA.det, LA.slogdet, LA.cholesky, tl.logdet])
def test_shape_and_dtype_errors(fn):
    name = fn.__name__
    with pytest.raises(RuntimeError, match="must be batches of square matrices, but they are 2 by 3"):
        fn(tl.ones(2, 3, dtype=tl.float64))
    with pytest.raises(RuntimeError, match="must have at least 2 dimensions"):
        fn(tl.ones(3))
    with pytest.raises(TypeError, match="Expected a floating point or complex tensor as input. Got Long"):
        fn(tl.ones(3, 3, dtype=tl.int64))
    with pytest.raises(TypeError, match="must be Tensor"):
        fn([[1.0]])
    assert name


@pytest.mark.parametrize("dt", [tl.float16, tl.bfloat16])
def test_half_inputs_compute_in_float32(dt):
    a = _rand((2, 3, 3), 0, 3.0)
    A = _t(a, dt)
    A32 = A.float()
    for fn in (LA.inv, LA.det, lambda x: LA.solve(x, x), lambda x: LA.qr(x).R,
               lambda x: LA.eigh(x).eigenvalues, lambda x: LA.slogdet(x).logabsdet):
        out = fn(A)
        assert out.dtype is dt
        np.testing.assert_array_equal(out.float().numpy(), fn(A32).to(dt).float().numpy())
    G = _t(a, dt, grad=True)
    LA.det(G).sum().backward()
    assert G.grad.dtype is dt
    with pytest.raises(TypeError, match="Expected A and B to have the same dtype"):
        LA.solve(A, A32)


def test_solve_errors():
    A = tl.eye(3)
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B "
                       r"\(3x3 and 2x1\)"):
        LA.solve(A, tl.ones(2))
    with pytest.raises(RuntimeError, match=r"\(3x3 and 2x4\)"):
        LA.solve(A, tl.ones(2, 4))
    with pytest.raises(TypeError, match="Expected A and B to have the same dtype, but found A of "
                       "type Float and B of type Double instead"):
        LA.solve(A, tl.ones(3, dtype=tl.float64))
    with pytest.raises(RuntimeError, match="do not broadcast"):
        LA.solve(tl.ones(2, 3, 3), tl.ones(4, 3, 1))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        LA.solve_triangular(A, tl.ones(2, 1), upper=True)
    with pytest.raises(RuntimeError, match="pivots must lie in"):
        LA.lu_solve(A, tl.tensor([1, 5, 3]), tl.ones(3, 1))


def test_errors_match_torch_types():
    torch = pytest.importorskip("torch")
    for fn, tfn, arg in [(LA.inv, torch.linalg.inv, SINGULAR),
                         (LA.cholesky, torch.linalg.cholesky, -np.eye(2))]:
        with pytest.raises(torch.linalg.LinAlgError) as want:
            tfn(torch.tensor(arg))
        with pytest.raises(LA.LinAlgError) as got:
            fn(_t(arg))
        assert str(got.value) == str(want.value)


# ---- norms and products composed of tl ops (ops/reduce.py, ops/products.py) ---------------------

INF = float("inf")


@pytest.mark.parametrize("ord", ["fro", 1, -1, INF, -INF])
def test_matrix_norm_matches_numpy(ord):
    a = _rand((2, 3, 4), 0)
    for dim in ((-2, -1), (0, 2), (2, 1)):
        want = np.linalg.norm(a, ord, axis=dim)
        got = LA.matrix_norm(_t(a), ord, dim)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
        kept = LA.matrix_norm(_t(a), ord, dim, keepdim=True)
        np.testing.assert_allclose(kept.numpy(), np.linalg.norm(a, ord, axis=dim, keepdims=True),
                                   atol=1e-12)
    np.testing.assert_allclose(LA.norm(_t(a[0]), ord).item(), np.linalg.norm(a[0], ord), atol=1e-12)
    f = lambda x: LA.matrix_norm(x, ord)   # noqa: E731
    assert gradcheck(f, [_t(a, grad=True)]) and gradgradcheck(f, [_t(a, grad=True)])


def test_norm_dispatch_and_errors():
    a = _rand((3, 4), 1)
    np.testing.assert_allclose(LA.norm(_t(a)).item(), np.linalg.norm(a), atol=1e-12)
    np.testing.assert_allclose(LA.norm(_t(a), 3, dim=1).numpy(), np.linalg.norm(a, 3, axis=1), atol=1e-12)
    np.testing.assert_allclose(LA.norm(_t(a[0]), INF).item(), np.linalg.norm(a[0], INF), atol=1e-12)
    np.testing.assert_allclose(LA.norm(_t(a), -1, dim=(1, 0)).item(), np.linalg.norm(a, -1, axis=(1, 0)),
                               atol=1e-12)
    with pytest.raises(RuntimeError, match="If dim is not specified but ord is, the input must be 1D or 2D"):
        LA.norm(tl.ones(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        LA.matrix_norm(tl.ones(2, 2), 3)
    with pytest.raises(NotImplementedError, match="SVD"):
        LA.matrix_norm(tl.ones(2, 2), "nuc")
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        LA.matrix_norm(tl.ones(3))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 6, -1, -2])
def test_matrix_power(n):
    a = _rand((2, 3, 3), 2, 2.0)
    np.testing.assert_allclose(LA.matrix_power(_t(a), n).numpy(), np.linalg.matrix_power(a, n),
                               rtol=1e-10, atol=1e-10)
    f = lambda x: LA.matrix_power(x, n)   # noqa: E731
    A = _t(a, grad=True)
    assert gradcheck(f, [A]) and gradgradcheck(f, [A])


def test_matrix_power_errors_and_zero_power_gradient():
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3"):
        LA.matrix_power(tl.ones(2, 3), 2)
    with pytest.raises(LA.LinAlgError):
        LA.matrix_power(_t(SINGULAR), -1)
    A = _t(np.full((2, 2), np.nan), grad=True)
    P = LA.matrix_power(A, 0)                    # the identity, linked to A by a zero gradient
    assert P.detach().numpy().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    P.sum().backward()
    assert A.grad.numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_multi_dot():
    shapes = [(4,), (4, 7), (7, 2), (2, 5), (5,)]
    ms = [_rand(s, k) for k, s in enumerate(shapes)]
    for lo, hi in ((0, 5), (1, 5), (0, 4), (1, 4), (1, 3)):
        got = LA.multi_dot([_t(m) for m in ms[lo:hi]])
        want = np.linalg.multi_dot(ms[lo:hi])
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-10)
    ins = [_t(m, grad=True) for m in ms[1:4]]
    assert gradcheck(lambda *x: LA.multi_dot(x), ins) and gradgradcheck(lambda *x: LA.multi_dot(x), ins)
    with pytest.raises(RuntimeError, match="expected at least 2 tensors but got 1"):
        LA.multi_dot([tl.ones(2)])
    with pytest.raises(RuntimeError,
                       match=r"tensors 0 and 1 with shapes \[2, 3\] and \[2, 3\] cannot be multiplied"):
        LA.multi_dot([tl.ones(2, 3), tl.ones(2, 3)])
    with pytest.raises(RuntimeError, match="the first tensor must be 1D or 2D but got 3D"):
        LA.multi_dot([tl.ones(2, 3, 3), tl.ones(3, 3)])


def test_vecdot_and_diagonal():
    x, y = _rand((2, 3, 4), 0), _rand((3, 4), 1)
    np.testing.assert_allclose(LA.vecdot(_t(x), _t(y)).numpy(), np.sum(x * y, -1), atol=1e-12)
    np.testing.assert_allclose(LA.vecdot(_t(x), _t(y[:, :1]), dim=1).numpy(), np.sum(x * y[:, :1], 1),
                               atol=1e-12)
    np.testing.assert_array_equal(LA.diagonal(_t(x)).numpy(), np.diagonal(x, 0, -2, -1))
    np.testing.assert_array_equal(LA.diagonal(_t(x), offset=1, dim1=0, dim2=2).numpy(),
                                  np.diagonal(x, 1, 0, 2))
    ins = [_t(x, grad=True), _t(y, grad=True)]
    assert gradcheck(LA.vecdot, ins) and gradgradcheck(LA.vecdot, ins)


def test_norms_and_products_match_torch():
    torch = pytest.importorskip("torch")
    a = _rand((2, 4, 4), 3, 2.0)
    T = torch.tensor(a)
    for ord in ("fro", 1, -1, INF, -INF):
        np.testing.assert_allclose(LA.matrix_norm(_t(a), ord).numpy(),
                                   torch.linalg.matrix_norm(T, ord).numpy(), atol=1e-12)
    for n in (0, 3, -2):
        np.testing.assert_allclose(LA.matrix_power(_t(a), n).numpy(),
                                   torch.linalg.matrix_power(T, n).numpy(), atol=1e-10)
    np.testing.assert_allclose(LA.norm(_t(a)).numpy(), torch.linalg.norm(T).numpy(), atol=1e-12)


# ---- eigh (cyclic Jacobi in csrc/linalg.c) ------------------------------------------------------

def _sym(shape, seed=0):
    a = _rand(shape, seed)
    return a + np.swapaxes(a, -1, -2)


@pytest.mark.parametrize("dtype,tol", [(tl.float64, 1e-11), (tl.float32, 1e-4)])
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (6, 6), (3, 2, 9, 9), (20, 20)])
def test_eigh_forward(dtype, tol, shape):
    s = _sym(shape, 1)
    w, V = LA.eigh(_t(s, dtype))
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(s), rtol=tol, atol=tol * 10)
    v = V.numpy().astype(np.float64)
    n = shape[-1]
    np.testing.assert_allclose(np.swapaxes(v, -1, -2) @ v, np.broadcast_to(np.eye(n), v.shape), atol=tol * 10)
    np.testing.assert_allclose((v * w.numpy()[..., None, :]) @ np.swapaxes(v, -1, -2), s,
                               atol=tol * 10 * max(1, np.abs(s).max()))
    big = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    assert np.all(big > 0)                     # the sign convention
    np.testing.assert_allclose(LA.eigvalsh(_t(s, dtype)).numpy(), w.numpy(), rtol=0, atol=0)


def test_eigh_reads_one_triangle_and_handles_repeats():
    s = _sym((4, 4), 2)
    low = np.tril(s) + np.triu(np.full((4, 4), 7.0), 1)     # garbage above the diagonal
    np.testing.assert_allclose(LA.eigvalsh(_t(low)).numpy(), np.linalg.eigvalsh(s), atol=1e-12)
    up = np.triu(s) + np.tril(np.full((4, 4), 7.0), -1)
    np.testing.assert_allclose(LA.eigh(_t(up), UPLO="U").eigenvalues.numpy(), np.linalg.eigvalsh(s),
                               atol=1e-12)
    w, V = LA.eigh(_t(np.diag([2.0, 1.0, 2.0])))                # repeated eigenvalues, diagonal A
    np.testing.assert_allclose(w.numpy(), [1.0, 2.0, 2.0])
    assert LA.eigh(_t(np.zeros((0, 0)))).eigenvectors.shape == (0, 0)
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U'"):
        LA.eigh(tl.eye(2), UPLO="X")
    with pytest.raises(RuntimeError, match="A must be batches of square matrices"):
        LA.eigh(tl.ones(2, 3))
    a = _sym((3, 3), 3)
    a[2, 0] = np.nan
    w, V = LA.eigh(_t(a))
    assert np.isnan(w.numpy()).all() and np.isnan(V.numpy()).all()


def test_eigh_gradients():
    f = lambda a: tuple(LA.eigh(a + a.mT + tl.diag(tl.arange(4, dtype=a.dtype) * 4.0)))   # noqa: E731
    A = _t(_rand((2, 4, 4), 4), grad=True)
    assert gradcheck(f, [A]) and gradgradcheck(f, [A])


def test_eigh_against_torch():
    torch = pytest.importorskip("torch")
    s, g1, g2 = _sym((2, 5, 5), 5), _rand((2, 5), 6), _rand((2, 5, 5), 7)
    A = _t(s, grad=True)
    w, V = LA.eigh(A)
    ((w * _t(g1)).sum() + (V * V * _t(g2)).sum()).backward()   # (V * V: sign-free)
    T = torch.tensor(s, requires_grad=True)
    tw, tV = torch.linalg.eigh(T)
    ((tw * torch.tensor(g1)).sum() + (tV * tV * torch.tensor(g2)).sum()).backward()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(np.abs(V.detach().numpy()), np.abs(tV.detach().numpy()), atol=1e-10)
    np.testing.assert_allclose(A.grad.numpy(), T.grad.numpy(), atol=1e-10)


# ---- qr (Householder in csrc/linalg.c) ----------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 2), (1, 1), (0, 3), (3, 0)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_matches_numpy(shape, mode):
    a = _rand(shape, 1)
    for dtype, tol in ((tl.float64, 1e-12), (tl.float32, 1e-5)):
        Q, R = LA.qr(_t(a, dtype), mode)
        if mode == "r":
            assert Q.shape == (0,)
            want_r = np.linalg.qr(a, "r")
        else:
            want_q, want_r = np.linalg.qr(a, mode)
            np.testing.assert_allclose(Q.numpy(), want_q, atol=tol)   # LAPACK's signs
            np.testing.assert_allclose(Q.numpy() @ R.numpy(), a, atol=tol * 10)
        np.testing.assert_allclose(R.numpy(), want_r, atol=tol)


def test_qr_gradients():
    A = _t(_rand((2, 5, 3), 2), grad=True)
    f = lambda a: tuple(LA.qr(a))   # noqa: E731
    assert gradcheck(f, [A]) and gradgradcheck(f, [A])
    S = _t(_rand((4, 4), 3), grad=True)
    assert gradcheck(lambda a: tuple(LA.qr(a, "complete")), [S])
    assert gradcheck(lambda a: LA.qr(a, "r").R, [S])
    W = _t(_rand((2, 4), 4), grad=True)
    with pytest.raises(NotImplementedError, match="fewer rows than columns"):
        LA.qr(W).Q.sum().backward()
    T = _t(_rand((4, 2), 4), grad=True)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows > ncols"):
        LA.qr(T, "complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="unrecognized mode 'full'"):
        LA.qr(T, "full")


def test_qr_against_torch():
    torch = pytest.importorskip("torch")
    a, gq, gr = _rand((3, 6, 4), 5), _rand((3, 6, 4), 6), _rand((3, 4, 4), 7)
    A = _t(a, grad=True)
    Q, R = LA.qr(A)
    ((Q * _t(gq)).sum() + (R * _t(gr)).sum()).backward()
    T = torch.tensor(a, requires_grad=True)
    TQ, TR = torch.linalg.qr(T)
    ((TQ * torch.tensor(gq)).sum() + (TR * torch.tensor(gr)).sum()).backward()
    np.testing.assert_allclose(Q.detach().numpy(), TQ.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(R.detach().numpy(), TR.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(A.grad.numpy(), T.grad.numpy(), atol=1e-10)
