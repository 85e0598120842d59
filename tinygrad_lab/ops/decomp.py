"""Matrix factorisations and the solves built on them <-> csrc/linalg.c: LU with partial pivoting
(solve, inv, det, slogdet, lu_factor, lu_solve), Cholesky (cholesky, cholesky_solve) and
triangular solves (solve_triangular, triangular_solve), under torch.linalg's names and rules.

Every op is batched over leading dims (broadcast between A and B, as torch.linalg.solve), takes
float32 and float64, and hands C a fresh contiguous copy to factor in place, so strided and
transposed inputs need nothing special. C reports singular input through ``info`` (LAPACK's
convention); Python raises :class:`LinAlgError` with PyTorch's wording where PyTorch does.

Derivatives are the standard matrix-calculus VJPs written as formulas of tl ops (matmul, these
ops themselves, tril/triu), as PyTorch's are, so second derivatives come for free:
    X = A^-1 B        gB = A^-T g,  gA = -gB X^T
    Y = A^-1          gA = -Y^T g Y^T
    d = det A         gA = g d A^-T
    l = log|det A|    gA = g A^-T
    L = chol(A)       gA = L^-T Phi(L^T gL) L^-1  (Murray; Phi: lower triangle, half diagonal)
    X = T^-1 B        gB = T^-T g,  gA = -(gB X^T) on T's triangle
"""
import collections
import functools

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import Function, _grad_enabled, _record
from ..creation import copy as _copy, eye, full, tensor
from ..kernels import NULL, check, ffi
from ..tensor import Tensor, _empty, tensor_method
from .elementwise import where
from .index import gather, tril, triu
from .linalg import matmul
from .shape import broadcast_shapes, cat, expand, reshape, sum_to, transpose, unsqueeze

# torch.return_types of the ops with several results
slogdet_result = collections.namedtuple("slogdet", ("sign", "logabsdet"))
lu_factor_result = collections.namedtuple("lu_factor", ("LU", "pivots"))
triangular_solve_result = collections.namedtuple("triangular_solve",
                                                 ("solution", "cloned_coefficient"))
eigh_result = collections.namedtuple("eigh", ("eigenvalues", "eigenvectors"))
qr_result = collections.namedtuple("qr", ("Q", "R"))


class LinAlgError(RuntimeError, ValueError):
    """A linear-algebra routine failed on its input (singular matrix, not positive-definite):
    torch.linalg.LinAlgError, a RuntimeError -- and this project's ValueError for a bad value,
    as its ShapeMismatch."""


_TORCH_NAMES = {"int64": "Long", "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16"}

# Inv's handling of a singular matrix: raise LinAlgError; solve with the zero pivots of U taken
# as eps (det's derivative: finite, then multiplied by det = 0); plain IEEE division (inf/NaN).
_RAISE, _PERTURB, _IEEE = 0, 1, 2


def _check_matrix(name, A, arg="A", square=True):
    """torch.linalg's checks of a (batch of) matrix argument, with its messages."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: {arg} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if not A.dtype.is_floating_point:
        raise TypeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                        f"{_TORCH_NAMES[A.dtype.name]}")


def _half_as_float32(fn):
    """Run ``fn`` in float32 when its tensor arguments are all of one half dtype (float16 or
    bfloat16 are storage here: the kernels are float32/float64), rounding the results back
    (PyTorch refuses half input on CPU). The casts are ops, so gradients flow through them."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ts = [a for a in args if isinstance(a, Tensor) and a.dtype.is_floating_point]
        dt = ts[0].dtype if ts else None
        if dt is None or not dt.is_half or any(t.dtype is not dt for t in ts):
            return fn(*args, **kwargs)
        out = fn(*[a.to(dtypes.float32) if isinstance(a, Tensor) and a.dtype is dt else a
                   for a in args], **kwargs)
        if isinstance(out, Tensor):
            return out.to(dt) if out.dtype is dtypes.float32 else out
        return type(out)(*[o.to(dt) if isinstance(o, Tensor) and o.dtype is dtypes.float32
                           else o for o in out])
    return wrapper


def _same_dtype(name, A, B):
    if A.dtype is not B.dtype:
        raise TypeError(f"{name}: Expected A and B to have the same dtype, but found A of type "
                        f"{_torch_dtype(A)} and B of type {_torch_dtype(B)} instead")


def _torch_dtype(t):
    return {"float32": "Float", "float64": "Double"}.get(t.dtype.name, _TORCH_NAMES.get(t.dtype.name))


def _batch_copy(t, shape):
    """A fresh contiguous copy of ``t`` broadcast to ``shape`` (C factors and solves in place)."""
    return _copy(expand(t, shape) if t.shape != shape else t)


def _i64p(t):
    return ffi.cast("int64_t *", t._ptr)


def _batch(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _lu(A, batch):
    """(LU, pivots, info) of A broadcast to batch + (n, n): tl_lu_factor on a copy."""
    n = A.shape[-1]
    lu = _batch_copy(A, batch + (n, n))
    piv = _empty(batch + (n,), dtypes.int64)
    info = _empty(batch, dtypes.int64)
    check(K.tl_lu_factor(A.dtype.code, lu._ptr, _i64p(piv), _i64p(info), _batch(batch), n),
          "lu_factor")
    return lu, piv, info


def _first_failure(info):
    """(batch index, info) of the first non-zero info, or None (reads the kernel's result)."""
    flat = info.reshape(-1).tolist() if info.ndim else [info.item()]
    for b, v in enumerate(flat):
        if v:
            return b, v
    return None


def _raise_singular(name, info, batched, text):
    bad = _first_failure(info)
    if bad is not None:
        prefix = f"(Batch element {bad[0]}): " if batched else ""
        raise LinAlgError(f"{name}: {prefix}{text(bad[1])}")


def _lu_solve_into(x, lu, piv, n, k, perturb=False):
    """x (contiguous batch of n x k) = A^-1 x in place, from _lu's factors."""
    check(K.tl_lu_solve(x.dtype.code, x._ptr, lu._ptr, _i64p(piv), _batch(x.shape[:-2]), n, k,
                        int(perturb)), "lu_solve")


def _mT(t):
    return transpose(t, -2, -1)


# ---- the ops ------------------------------------------------------------------------------------

class Inv(Function):
    """Y = A^-1 by LU and n solves against the identity. ``singular``: _RAISE (linalg.inv's
    LinAlgError), _PERTURB or _IEEE (the derivatives of det and slogdet, which must not raise).
    VJP: gA = -Y^T g Y^T, from the saved output."""

    @classmethod
    def apply(cls, A, name="linalg.inv", singular=_RAISE):
        n, batch = A.shape[-1], A.shape[:-2]
        lu, piv, info = _lu(A, batch)
        if singular == _RAISE:
            _raise_singular(name, info, bool(batch), lambda i: (
                f"The diagonal element {i} is zero, the inversion could not be completed because "
                f"the input matrix is singular."))
        y = _batch_copy(eye(n, dtype=A.dtype), A.shape)
        _lu_solve_into(y, lu, piv, n, n, singular == _PERTURB)
        if A.requires_grad and _grad_enabled():
            _record(cls, y, (A,), (True,), (y,))
        return y

    @staticmethod
    def formula(ctx, g):
        y, = ctx._saved
        yt = _mT(y)
        return (-matmul(matmul(yt, g), yt),)


class Solve(Function):
    """X = A^-1 B for A (..., n, n) and B (..., n, k), batch dims broadcast. VJP: gB = A^-T g
    (Solve again), gA = -gB X^T, each summed back to its input's batch shape."""

    @classmethod
    def apply(cls, A, B, name="linalg.solve"):
        n, k = A.shape[-1], B.shape[-1]
        batch = broadcast_shapes(A.shape[:-2], B.shape[:-2])
        lu, piv, info = _lu(A, batch)
        _raise_singular("torch." + name, info, False,
                        lambda i: "The solver failed because the input matrix is singular.")
        x = _batch_copy(B, batch + (n, k))
        _lu_solve_into(x, lu, piv, n, k)
        needs = (A.requires_grad, B.requires_grad)
        if (needs[0] or needs[1]) and _grad_enabled():
            _record(cls, x, (A, B), needs, (A, x))
        return x

    @staticmethod
    def formula(ctx, g):
        A, x = ctx._saved
        gB = Solve.apply(_mT(A), g)
        gA = -matmul(gB, _mT(x)) if ctx.needs_input_grad[0] else None
        return (None if gA is None else sum_to(gA, ctx._inputs[0].shape),
                sum_to(gB, ctx._inputs[1].shape) if ctx.needs_input_grad[1] else None)


def _det_kernel(A, det=False, sign=False, logabs=False):
    """The requested ones of det, sign, log|det| of A (batch dims kept), from one LU."""
    batch, n = A.shape[:-2], A.shape[-1]
    lu, piv, _ = _lu(A, batch)
    outs = [_empty(batch, A.dtype) if want else None for want in (det, sign, logabs)]
    check(K.tl_lu_det(A.dtype.code, *[NULL if o is None else o._ptr for o in outs], lu._ptr,
                      _i64p(piv), _batch(batch), n), "det")
    return outs


def _mat(v):
    """(...) -> (..., 1, 1), to scale a batch of matrices."""
    return unsqueeze(unsqueeze(v, -1), -1)


class LuFactor(Function):
    """The packed LU of P A = L U (the node's output; the pivots are not differentiable). VJP
    for square A (PyTorch's): with L unit lower, U upper, gL = tril(g, -1), gU = triu(g),
    phi = tril(L^T gL, -1) + triu(gU U^T), gA = P^T L^-T phi U^-T -- two triangular solves and
    the rows put back through the pivots (a gather)."""

    @classmethod
    def apply(cls, A):
        lu, piv, _ = _lu(A, A.shape[:-2])
        if A.requires_grad and _grad_enabled():
            _record(cls, lu, (A,), (True,), (piv, lu))
        return lu, piv

    @staticmethod
    def formula(ctx, g):
        piv, lu = ctx._saved
        n = lu.shape[-1]
        eye_n = eye(n, dtype=lu.dtype)
        L, U = tril(lu, -1) + eye_n, triu(lu)
        phi = tril(matmul(_mT(L), tril(g, -1)), -1) + triu(matmul(triu(g), _mT(U)))
        X = SolveTriangular.apply(_mT(L), phi, True, True)                 # L^-T phi
        Y = _mT(SolveTriangular.apply(U, _mT(X), True, False))             # X U^-T
        rows = []      # A = P^T L U: row j of gA is row r[j] of Y, the swaps undone in reverse
        for p in (piv.reshape(-1, n).tolist() if n else []):
            r = list(range(n))
            for i in range(n - 1, -1, -1):
                r[i], r[p[i] - 1] = r[p[i] - 1], r[i]
            rows.append(r)
        if not rows:
            return (Y,)
        idx = tensor(rows, dtype=dtypes.int64).reshape(piv.shape + (1,)).expand(*lu.shape)
        return (gather(Y, -2, idx),)


class Det(Function):
    """d = det A = (-1)^swaps prod(diag U). VJP: gA = g d A^-T, with A^-T from Inv in its
    _PERTURB mode: at a singular A it is finite and d = 0 makes the gradient 0 -- PyTorch's
    first-order answer (its create_graph path uses an SVD there; see the README)."""

    @classmethod
    def apply(cls, A):
        d, _, _ = _det_kernel(A, det=True)
        if A.requires_grad and _grad_enabled():
            _record(cls, d, (A,), (True,), (A, d))
        return d

    @staticmethod
    def formula(ctx, g):
        A, d = ctx._saved
        return (_mat(g * d) * _mT(Inv.apply(A, "linalg.det", _PERTURB)),)


class Slogdet(Function):
    """(sign, log|det A|); the node is logabsdet's (sign is piecewise constant: no gradient).
    VJP: gA = g A^-T (inf at a singular A, as PyTorch)."""

    @classmethod
    def apply(cls, A):
        _, sign, logabs = _det_kernel(A, sign=True, logabs=True)
        if A.requires_grad and _grad_enabled():
            _record(cls, logabs, (A,), (True,), (A,))
        return sign, logabs

    @staticmethod
    def formula(ctx, g):
        A, = ctx._saved
        return (_mat(g) * _mT(Inv.apply(A, "linalg.slogdet", _IEEE)),)


class Cholesky(Function):
    """L = chol(A), lower, from A's lower triangle. VJP (Murray 2016, PyTorch's form):
    gA = L^-T Phi L^-1 with Phi = tril(L^T gL) with its strict lower part mirrored and halved,
    as two triangular solves; symmetric, like PyTorch's."""

    @classmethod
    def apply(cls, A, name="linalg.cholesky"):
        n, batch = A.shape[-1], A.shape[:-2]
        L = _batch_copy(A, A.shape)
        info = _empty(batch, dtypes.int64)
        check(K.tl_cholesky(A.dtype.code, L._ptr, _i64p(info), _batch(batch), n), "cholesky")
        _raise_singular(name, info, bool(batch), lambda i: (
            f"The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {i} is not positive-definite)."))
        if A.requires_grad and _grad_enabled():
            _record(cls, L, (A,), (True,), (L,))
        return L

    @staticmethod
    def formula(ctx, g):
        L, = ctx._saved
        phi = tril(matmul(_mT(L), g))
        phi = 0.5 * (phi + _mT(tril(phi, -1)))
        M = SolveTriangular.apply(_mT(L), phi, True, False)              # M = L^-T Phi
        return (_mT(SolveTriangular.apply(_mT(L), _mT(M), True, False)),)  # M L^-1 = (L^-T M^T)^T


class SolveTriangular(Function):
    """X = T^-1 B for T (..., n, n) upper or lower triangular (only that triangle is read; a
    unit diagonal assumed when ``unit``), B (..., n, k), batch dims broadcast. VJP: gB = T^-T g
    (the other triangle's solve), gA = -gB X^T restricted to T's triangle (strictly, if unit)."""

    @classmethod
    def apply(cls, A, B, upper, unit):
        n, k = A.shape[-1], B.shape[-1]
        batch = broadcast_shapes(A.shape[:-2], B.shape[:-2])
        a = _batch_copy(A, batch + (n, n))
        x = _batch_copy(B, batch + (n, k))
        check(K.tl_solve_triangular(A.dtype.code, x._ptr, a._ptr, _batch(batch), n, k, int(upper),
                                    int(unit)), "solve_triangular")
        needs = (A.requires_grad, B.requires_grad, False, False)
        if (needs[0] or needs[1]) and _grad_enabled():
            _record(cls, x, (A, B, None, None), needs, (A, x)).tri = (upper, unit)
        return x

    @staticmethod
    def formula(ctx, g):
        A, x = ctx._saved
        upper, unit = ctx.tri
        gB = SolveTriangular.apply(_mT(A), g, not upper, unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -matmul(gB, _mT(x))
            gA = triu(gA, int(unit)) if upper else tril(gA, -int(unit))
            gA = sum_to(gA, ctx._inputs[0].shape)
        return (gA, sum_to(gB, ctx._inputs[1].shape) if ctx.needs_input_grad[1] else None,
                None, None)


class Eigh(Function):
    """A = V diag(w) V^T for symmetric A (one triangle read), by cyclic Jacobi (tl_eigh). One
    node whose output packs both results, P = [w; V] of shape (..., n + 1, n) (the engine's
    nodes have one output); eigh() returns views of its rows. VJP (real symmetric case): the
    symmetric part of V (diag(gw) + F o (V^T gV)) V^T, F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it
    (inf for repeated eigenvalues: the eigenvectors' derivative is undefined there, as in
    PyTorch)."""

    @classmethod
    def apply(cls, A, upper):
        n, batch = A.shape[-1], A.shape[:-2]
        a = _batch_copy(A, A.shape)
        w, v = _empty(batch + (n,), A.dtype), _empty(A.shape, A.dtype)
        check(K.tl_eigh(A.dtype.code, w._ptr, v._ptr, a._ptr, _batch(batch), n, int(upper)),
              "eigh")
        p = cat([unsqueeze(w, -2), v], -2)
        if A.requires_grad and _grad_enabled():
            _record(cls, p, (A, None), (True, False), (p,))
        return p

    @staticmethod
    def formula(ctx, g):
        p, = ctx._saved
        n = p.shape[-1]
        w, V = p[..., 0, :], p[..., 1:, :]
        gw, gV = g[..., 0, :], g[..., 1:, :]
        eye_n = eye(n, dtype=p.dtype) > 0.5
        E = unsqueeze(w, -2) - unsqueeze(w, -1)             # E_ij = w_j - w_i
        F = where(eye_n, 0.0, 1.0 / where(eye_n, 1.0, E))
        inner = matmul(_mT(V), gV) * F + unsqueeze(gw, -1) * eye(n, dtype=p.dtype)
        gA = matmul(matmul(V, inner), _mT(V))
        return 0.5 * (gA + _mT(gA)), None                   # its symmetric part, as PyTorch


class Qr(Function):
    """A (..., m, n) = Q R by Householder reflections (tl_qr; LAPACK's signs, so R's diagonal
    may be negative, as PyTorch's). One node whose output packs [Q | R] side by side, R padded
    with zero rows to m: (..., m, mq + n), mq = min(m, n) (reduced) or m (complete); qr()
    returns views. VJP for m >= n (PyTorch's): M = gR R^T - Q^T gQ, then
    gA = (Q (triu(M) + triu(M, 1)^T) + gQ) R^-T. Wide matrices (m < n) and complete mode with
    m > n have no gradient here (NotImplementedError; PyTorch has the first, not the second)."""

    @classmethod
    def apply(cls, A, complete):
        (m, n), batch = A.shape[-2:], A.shape[:-2]
        mq = m if complete else min(m, n)
        a = _batch_copy(A, A.shape)
        q, r = _empty(batch + (m, mq), A.dtype), _empty(batch + (mq, n), A.dtype)
        check(K.tl_qr(A.dtype.code, q._ptr, r._ptr, a._ptr, _batch(batch), m, n, int(complete)),
              "qr")
        if mq < m:
            r = cat([r, full(batch + (m - mq, n), 0.0, dtype=A.dtype)], -2)
        p = cat([q, r], -1)
        if A.requires_grad and _grad_enabled():
            _record(cls, p, (A, None), (True, False), (p,)).mq = mq
        return p

    @staticmethod
    def formula(ctx, g):
        p, = ctx._saved
        mq = ctx.mq
        m, n = p.shape[-2], p.shape[-1] - mq
        if m == 0 or n == 0:
            return full(p.shape[:-1] + (n,), 0.0, dtype=g.dtype), None
        if m < n:
            raise NotImplementedError("linalg.qr: the derivative for matrices with fewer rows "
                                      "than columns is not implemented in tinygrad_lab")
        if mq > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        Q, R = p[..., :, :mq], p[..., :mq, mq:]
        gQ, gR = g[..., :, :mq], g[..., :mq, mq:]
        M = matmul(gR, _mT(R)) - matmul(_mT(Q), gQ)
        gA = matmul(Q, triu(M) + _mT(triu(M, 1))) + gQ
        return _mT(SolveTriangular.apply(R, _mT(gA), True, False)), None   # gA R^-T


# ---- torch.linalg's functions -------------------------------------------------------------------

def _rhs(name, A, B):
    """torch.linalg.solve's reading of B: a batch of vectors when B is 1-D or has A's shape
    without its last dim, else a batch of matrices. Returns (B as matrices, was a vector)."""
    if not isinstance(B, Tensor):
        raise TypeError(f"{name}(): argument 'B' must be Tensor, not {type(B).__name__}")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    Bm = unsqueeze(B, -1) if vector else B
    if Bm.ndim < 2 or Bm.shape[-2] != A.shape[-1]:
        shown = f"{B.shape[0]}x1" if vector else (f"{B.shape[-2]}x{B.shape[-1]}" if B.ndim >= 2
                                                   else f"{B.shape[0]}")
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {shown})")
    try:
        broadcast_shapes(A.shape[:-2], Bm.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{name}: The batch dims of A {list(A.shape[:-2])} and B "
                           f"{list(Bm.shape[:-2])} do not broadcast") from None
    _same_dtype(name, A, B)
    return Bm, vector


@_half_as_float32
def solve(A, B, *, left=True):
    """torch.linalg.solve: X with A X = B (``left=False``: X A = B) for square A, by LU with
    partial pivoting. B may be a (batch of) vector(s) as torch's rule says. LinAlgError for a
    singular A."""
    _check_matrix("linalg.solve", A)
    if not left:   # X A = B  <=>  A^T X^T = B^T
        if not isinstance(B, Tensor):
            raise TypeError(f"linalg.solve(): argument 'B' must be Tensor, not {type(B).__name__}")
        if B.ndim < 2:
            raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
        return _mT(solve(_mT(A), _mT(B)))
    Bm, vector = _rhs("linalg.solve", A, B)
    X = Solve.apply(A, Bm)
    return reshape(X, X.shape[:-1]) if vector else X


@_half_as_float32
def inv(A):
    """torch.linalg.inv: A^-1 of square A (batched). LinAlgError for a singular A."""
    _check_matrix("linalg.inv", A)
    return Inv.apply(A)


@_half_as_float32
def det(A):
    """torch.linalg.det: the determinant (batch dims kept; 1 for a 0 x 0 matrix)."""
    _check_matrix("linalg.det", A)
    return Det.apply(A)


@_half_as_float32
def slogdet(A):
    """torch.linalg.slogdet: (sign, logabsdet) with det A = sign * exp(logabsdet); a singular A
    gives (0, -inf). Only logabsdet carries a gradient."""
    _check_matrix("linalg.slogdet", A)
    return slogdet_result(*Slogdet.apply(A))


@_half_as_float32
def logdet(A):
    """torch.logdet: log(det A): NaN where det A < 0, -inf where it is 0."""
    _check_matrix("logdet", A)
    sign, logabs = Slogdet.apply(A)
    return where(sign < 0, full((), float("nan"), dtype=A.dtype), logabs)


@_half_as_float32
def lu_factor(A, *, pivot=True):
    """torch.linalg.lu_factor: (LU, pivots): L (unit lower, below the diagonal) and U packed in
    one matrix, and the 1-based row swaps (int64 here: tl has no int32). LU is differentiable
    (PyTorch's derivative)."""
    _check_matrix("linalg.lu_factor", A)
    if not pivot:
        raise NotImplementedError("linalg.lu_factor: LU without pivoting is not implemented on "
                                  "CPU (as in PyTorch)")
    return lu_factor_result(*LuFactor.apply(A))


@_half_as_float32
def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """torch.linalg.lu_solve: X with A X = B from lu_factor's (LU, pivots). No gradient (a
    RuntimeError if an argument requires one)."""
    _check_matrix("linalg.lu_solve", LU, "LU")
    if not isinstance(pivots, Tensor) or pivots.dtype is not dtypes.int64 \
            or pivots.shape != LU.shape[:-1]:
        raise RuntimeError("linalg.lu_solve: pivots must be the int64 tensor of shape "
                           f"{list(LU.shape[:-1])} lu_factor returned")
    if not left or adjoint:
        raise NotImplementedError("linalg.lu_solve: left=False and adjoint=True are not "
                                  "implemented")
    _check_matrix("linalg.lu_solve", B, "B", square=False)
    _same_dtype("linalg.lu_solve", LU, B)
    if (LU.requires_grad or B.requires_grad) and _grad_enabled():
        raise RuntimeError("linalg.lu_solve: the derivative is not implemented in tinygrad_lab; "
                           "use linalg.solve")
    n, k = LU.shape[-1], B.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({n}x{n} and {B.shape[-2]}x{k})")
    batch = broadcast_shapes(LU.shape[:-2], B.shape[:-2])
    if pivots.numel() and ((pivots < 1) | (pivots > n)).any().item():   # C indexes rows by them
        raise RuntimeError(f"linalg.lu_solve: pivots must lie in [1, {n}]")
    lu = _batch_copy(LU, batch + (n, n))
    pv = _batch_copy(pivots, batch + (n,))
    x = _batch_copy(B, batch + (n, k))
    _lu_solve_into(x, lu, pv, n, k)
    return x


@_half_as_float32
def cholesky(A, *, upper=False):
    """torch.linalg.cholesky: L lower with A = L L^T (``upper``: U = L^T, A = U^T U), reading
    A's lower triangle; LinAlgError if A is not positive-definite."""
    _check_matrix("linalg.cholesky", A)
    L = Cholesky.apply(A)
    return _mT(L) if upper else L


@_half_as_float32
def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """torch.linalg.solve_triangular: X with A X = B (``left=False``: X A = B) for triangular A
    (only its ``upper`` or lower triangle is read). A zero on the diagonal gives inf/NaN, as
    PyTorch (no error)."""
    _check_matrix("linalg.solve_triangular", A)
    _check_matrix("linalg.solve_triangular", B, "B", square=False)
    _same_dtype("linalg.solve_triangular", A, B)
    if not left:
        return _mT(solve_triangular(_mT(A), _mT(B), upper=not upper, unitriangular=unitriangular))
    n = A.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation AX = B ({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    try:
        broadcast_shapes(A.shape[:-2], B.shape[:-2])
    except ValueError:
        raise RuntimeError(f"linalg.solve_triangular: The batch dims of A {list(A.shape[:-2])} "
                           f"and B {list(B.shape[:-2])} do not broadcast") from None
    return SolveTriangular.apply(A, B, bool(upper), bool(unitriangular))


@_half_as_float32
def qr(A, mode="reduced"):
    """torch.linalg.qr: (Q, R) with A = Q R, Q's columns orthonormal, R upper triangular;
    mode 'reduced' (Q (m, k), R (k, n), k = min(m, n)), 'complete' (Q (m, m), R (m, n)) or 'r'
    (R only; Q is an empty tensor). Householder reflections, LAPACK's signs."""
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    m, n = A.shape[-2:]
    mq = m if mode == "complete" else min(m, n)
    p = Qr.apply(A, mode == "complete")
    R = p[..., :mq, mq:]
    if mode == "r":
        return qr_result(full((0,), 0.0, dtype=A.dtype), R)
    return qr_result(p[..., :, :mq], R)


def _uplo(name, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{name}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO == "U"


@_half_as_float32
def eigh(A, UPLO="L"):
    """torch.linalg.eigh: (eigenvalues ascending, eigenvectors as columns) of symmetric A, read
    from its lower (UPLO='L') or upper triangle. Each eigenvector's largest-magnitude component
    is positive (LAPACK leaves the sign to its algorithm). Jacobi rotations: O(n^3) per sweep."""
    _check_matrix("linalg.eigh", A)
    p = Eigh.apply(A, _uplo("linalg.eigh", UPLO))
    return eigh_result(p[..., 0, :], p[..., 1:, :])


@_half_as_float32
def eigvalsh(A, UPLO="L"):
    """torch.linalg.eigvalsh: the eigenvalues of symmetric A, ascending."""
    _check_matrix("linalg.eigvalsh", A)
    return Eigh.apply(A, _uplo("linalg.eigvalsh", UPLO))[..., 0, :]


# ---- the torch.* aliases and Tensor methods -----------------------------------------------------

@tensor_method("inverse")
def inverse(input):  # noqa: A002  (PyTorch's parameter names)
    """torch.inverse: linalg.inv."""
    return inv(input)


@tensor_method("det")
def _det_method(input):  # noqa: A002
    """torch.det / Tensor.det: linalg.det."""
    return det(input)


@tensor_method("logdet")
def _logdet_method(input):  # noqa: A002
    return logdet(input)


@tensor_method("slogdet")
def _slogdet_method(input):  # noqa: A002
    return slogdet(input)


@tensor_method("cholesky")
def cholesky_legacy(input, upper=False):  # noqa: A002
    """torch.cholesky (deprecated in PyTorch): linalg.cholesky with ``upper`` positional."""
    return cholesky(input, upper=upper)


@tensor_method("cholesky_solve")
def cholesky_solve(B, L, upper=False):
    """torch.cholesky_solve: X with A X = B given A's Cholesky factor L (``upper``: U), as two
    triangular solves (their gradients)."""
    _check_matrix("cholesky_solve", L, "L")
    low = _mT(L) if upper else L                      # A = low low^T
    return solve_triangular(_mT(low), solve_triangular(low, B, upper=False), upper=True)


@tensor_method("triangular_solve")
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """torch.triangular_solve (deprecated in PyTorch): (solution, cloned_coefficient) of
    A X = b (``transpose``: A^T X = b)."""
    _check_matrix("triangular_solve", A)
    T = _mT(A) if transpose else A
    X = solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return triangular_solve_result(X, A.clone())


__all__ = ["LinAlgError", "solve", "inv", "det", "slogdet", "logdet", "lu_factor", "lu_solve",
           "cholesky", "solve_triangular", "inverse", "cholesky_legacy", "cholesky_solve",
           "triangular_solve", "eigh", "eigvalsh", "qr"]
