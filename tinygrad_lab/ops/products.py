"""einsum, tensordot, kron, cross: products composed of existing ops (no kernel of their own).

Contractions go through matmul, so they run on the packed GEMM: each pair of operands is
permuted to (batch..., kept..., contracted...) and (batch..., contracted..., kept...), reshaped to
(batch..., M, K) and (batch..., K, N) -- a copy only when the permutation is not a view -- and
multiplied; a pair with nothing to contract is a broadcast multiply. Their gradients are those of
the ops they are built from (permute, reshape, diagonal, sum, matmul, mul). Names, arguments,
results and error types (RuntimeError, as ShapeMismatch/DtypeMismatch, which are also this
project's ValueError/TypeError) follow PyTorch.
"""
import operator
import warnings

from ..tensor import Tensor, _numel, tensor_method
from .index import ShapeMismatch
from .decomp import inv
from .linalg import DtypeMismatch, matmul
from ..creation import copy as _copy_t, eye as _eye, tensor as _tensor
from .reduce import sum as _sum
from .elementwise import where
from .shape import (_torch_dim, broadcast_shapes, cat, diagonal, narrow, permute, reshape,
                    unsqueeze)


# ---- einsum -------------------------------------------------------------------------------------

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"   # PyTorch's label order
_ELL = len(_LETTERS)   # label ids from here on stand for the dims an ellipsis covers


def _parse_subscripts(eq, start):
    """One operand's (or the output's) subscripts -> list of label ids, with None where '...' is.
    ``start``: the term's index in the equation, for PyTorch's error message."""
    labels, i = [], 0
    while i < len(eq):
        c = eq[i]
        if c == ".":
            if eq[i:i + 3] != "..." or None in labels:
                raise RuntimeError(f"einsum(): found '.' for operand that is not part of any "
                                   f"ellipsis at index {start + i}")
            labels.append(None)
            i += 3
            continue
        if c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {start + i} in the "
                               f"equation string, subscripts must be in [a-zA-Z]")
        labels.append(_LETTERS.index(c))
        i += 1
    return labels


def _sublist_equation(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [sublist_out]) -> (equation, operands)."""
    def term(sub):
        out = ""
        for s in sub:
            if s is Ellipsis:
                out += "..."
            elif isinstance(s, int) and 0 <= s < _ELL:
                out += _LETTERS[s]
            else:
                raise ValueError(f"einsum(): subscript in subscript list is not within the valid "
                                 f"range [0, 52), got {s!r}")
        return out
    ops, subs = list(args[0::2]), list(args[1::2])
    out = None
    if len(args) % 2:
        out, ops = ops[-1], ops[:-1]
    eq = ",".join(term(s) for s in subs)
    if out is not None:
        eq += "->" + term(out)
    return eq, ops


def _diagonals(t, labels):
    """Take the diagonal for every label repeated in one operand (``iij`` -> one i); each
    diagonal moves to the end, as tl.diagonal puts it."""
    labels = list(labels)
    while True:
        rep = next((lab for k, lab in enumerate(labels) if lab in labels[:k]), None)
        if rep is None:
            return t, labels
        d1 = labels.index(rep)
        d2 = labels.index(rep, d1 + 1)
        t = diagonal(t, 0, d1, d2)
        labels = [lab for k, lab in enumerate(labels) if k not in (d1, d2)] + [rep]


def _sum_labels(t, labels, keep):
    """Sum ``t`` over its labels that are not in ``keep``."""
    drop = [k for k, lab in enumerate(labels) if lab not in keep]
    if not drop:
        return t, labels
    return _sum(t, tuple(drop)), [lab for lab in labels if lab in keep]


def _contract_pair(a, la, b, lb, keep):
    """The product of a (labels la) and b (labels lb), summed over their common labels that are
    not in ``keep``. Returns (tensor, labels)."""
    a, la = _sum_labels(a, la, set(lb) | keep)
    b, lb = _sum_labels(b, lb, set(la) | keep)
    common = [lab for lab in la if lab in lb]
    batch = [lab for lab in common if lab in keep]
    contracted = [lab for lab in common if lab not in keep]
    # a size-1 dim contracted against a larger one: sum the larger side first (a broadcast)
    for lab in contracted:
        na, nb = a.shape[la.index(lab)], b.shape[lb.index(lab)]
        if na != nb:
            if na == 1:
                b = _sum(b, lb.index(lab), keepdim=True)
            else:
                a = _sum(a, la.index(lab), keepdim=True)
    kept_a = [lab for lab in la if lab not in lb]
    kept_b = [lab for lab in lb if lab not in la]
    pa = permute(a, *[la.index(lab) for lab in batch + kept_a + contracted])
    pb = permute(b, *[lb.index(lab) for lab in batch + contracted + kept_b])
    nbatch = len(batch)
    sa, sb = pa.shape, pb.shape
    if not contracted:   # nothing to sum: a broadcast multiply
        pa = reshape(pa, sa + (1,) * len(kept_b))
        pb = reshape(pb, sb[:nbatch] + (1,) * len(kept_a) + sb[nbatch:])
        return pa * pb, batch + kept_a + kept_b
    ka = sa[nbatch:nbatch + len(kept_a)]
    kb = sb[nbatch + len(contracted):]
    k = _numel(sa[nbatch + len(kept_a):])
    ma = reshape(pa, sa[:nbatch] + (_numel(ka), k))
    mb = reshape(pb, sb[:nbatch] + (k, _numel(kb)))
    out = matmul(ma, mb)
    return reshape(out, out.shape[:nbatch] + ka + kb), batch + kept_a + kept_b


def einsum(*args):
    """torch.einsum(equation, *operands): the sum of products of the operands' elements over the
    subscripts that the output does not name. Subscripts are letters; a letter repeated in one
    operand takes its diagonal; ``...`` stands for broadcast dims (right-aligned, as NumPy);
    without ``->`` the output is the ellipsis dims then the letters used once, in alphabetical
    order (upper case first). Size-1 dims broadcast. Operands may also be given as one list, or
    in the sublist format ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. Operands are contracted left
    to right, each pair by one matmul (the GEMM)."""
    if not args:
        raise TypeError("einsum(): expected an equation and operands")
    if isinstance(args[0], Tensor):
        eq, ops = _sublist_equation(args)
    else:
        eq, ops = args[0], list(args[1:])
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = list(ops[0])
    if not isinstance(eq, str):
        raise TypeError(f"einsum(): the equation must be a str, got {type(eq).__name__}")
    for i, t in enumerate(ops):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, got {type(t).__name__}")
    if not ops:
        raise RuntimeError("einsum(): must provide at least one operand")
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms, pos = [], 0
    for term in lhs.split(","):
        terms.append(_parse_subscripts(term, pos))
        pos += len(term) + 1
    if len(terms) < len(ops):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    if len(terms) > len(ops):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    for t in ops[1:]:
        if t.dtype is not ops[0].dtype:
            raise DtypeMismatch(f"einsum(): operands must have one dtype, but found "
                                f"{ops[0].dtype!r} and {t.dtype!r}")

    # each operand's labels, the ellipsis expanded into ids _ELL + j (right-aligned)
    n_ell = 0
    for i, (labels, t) in enumerate(zip(terms, ops)):
        if None in labels:
            covered = t.ndim - (len(labels) - 1)
            if covered < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(labels) - 1}) is more than the number of dimensions "
                                   f"({t.ndim}) for operand {i}")
            n_ell = max(n_ell, covered)
        elif len(labels) != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(labels)}) does not match the number of dimensions "
                               f"({t.ndim}) for operand {i} and no ellipsis was given")
    ell = list(range(_ELL, _ELL + n_ell))
    full = []
    for labels, t in zip(terms, ops):
        if None in labels:
            k = labels.index(None)
            covered = t.ndim - (len(labels) - 1)
            labels = labels[:k] + ell[n_ell - covered:] + labels[k + 1:]
        full.append(labels)

    # sizes: a label's sizes must agree, 1 broadcasting
    size = {}
    for i, (labels, t) in enumerate(zip(full, ops)):
        for lab, n in zip(labels, t.shape):
            first = t.shape[labels.index(lab)]
            if n != first:
                raise ShapeMismatch(f"einsum(): subscript {_LETTERS[lab]} is repeated for "
                                    f"operand {i} but the sizes don't match, {first} != {n}")
            seen = size.get(lab, 1)
            if n != seen and 1 not in (n, seen):
                if lab >= _ELL:
                    raise ShapeMismatch(f"einsum(): dimension {lab - _ELL} covered by ellipsis in "
                                        f"operand {i} has size {n} which does not broadcast with "
                                        f"previously seen ellipsis with size {seen} for the "
                                        f"respective dimension")
                raise ShapeMismatch(f"einsum(): subscript {_LETTERS[lab]} has size {n} for "
                                    f"operand {i} which does not broadcast with previously seen "
                                    f"size {seen}")
            if n != 1:
                size[lab] = n

    # the output's labels
    if arrow:
        out_terms = _parse_subscripts(rhs, len(lhs) + 2)
        out = []
        for lab in out_terms:
            if lab is None:
                out.extend(ell)
                continue
            if lab in out:
                raise RuntimeError(f"einsum(): output subscript {_LETTERS[lab]} appears more than "
                                   f"once in the output")
            if not any(lab in labels for labels in full):
                raise RuntimeError(f"einsum(): output subscript {_LETTERS[lab]} does not appear in "
                                   f"the equation for any input operand")
            out.append(lab)
    else:
        counts = {}
        for labels in full:
            for lab in labels:
                if lab < _ELL:
                    counts[lab] = counts.get(lab, 0) + 1
        out = ell + sorted(lab for lab, c in counts.items() if c == 1)

    # contract left to right
    keep_out = set(out)
    diag = [_diagonals(t, labels) for t, labels in zip(ops, full)]
    t, labels = diag[0]
    if len(diag) == 1:
        t, labels = _sum_labels(t, labels, keep_out)
    for j in range(1, len(diag)):
        later = set(keep_out)
        for _, lb in diag[j + 1:]:
            later.update(lb)
        t, labels = _contract_pair(t, labels, diag[j][0], diag[j][1], later)
    t, labels = _sum_labels(t, labels, keep_out)
    t = permute(t, *[labels.index(lab) for lab in out])
    # a label broadcast (size 1 here, larger in an operand summed away) keeps its full size
    shape = tuple(size.get(lab, 1) for lab in out)
    return t if t.shape == shape else t.expand(*shape)


# ---- tensordot ----------------------------------------------------------------------------------

def _dim_list(dims):
    """One of tensordot's two dim lists (a list, a tuple or an int64 tensor), as a list."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if not isinstance(dims, (list, tuple)):
        raise TypeError
    return [operator.index(d) for d in dims]


def tensordot(a, b, dims=2, out=None):
    """torch.tensordot: contract ``a``'s dims ``dims[0]`` with ``b``'s ``dims[1]`` (an int n:
    a's last n dims with b's first n); the result has a's other dims then b's. One matmul."""
    if out is not None:
        raise TypeError("tensordot(): out= is not supported")
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"tensordot(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if isinstance(dims, Tensor) and dims.ndim == 0:
        dims = dims.item()
    if isinstance(dims, int) and not isinstance(dims, bool):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        try:
            da, db = (_dim_list(d) for d in dims)
        except (TypeError, ValueError):
            raise TypeError(f"tensordot(): dims must be an int or a pair of dim lists, got "
                            f"{dims!r}") from None
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
        da = [_torch_dim(d, a.shape) for d in da]
        db = [_torch_dim(d, b.shape) for d in db]
    if a.dtype is not b.dtype:
        raise DtypeMismatch(f"tensordot: expected both tensors to have the same dtype, but found "
                            f"{a.dtype!r} and {b.dtype!r}")
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ShapeMismatch(f"contracted dimensions need to match, but first has size "
                                f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                                f"dim {j}")
    for name, ds in (("a", da), ("b", db)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"tensordot(): dim {ds} of {name} appears multiple times")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = _numel([a.shape[d] for d in da])
    sa = tuple(a.shape[d] for d in free_a)
    sb = tuple(b.shape[d] for d in free_b)
    ma = reshape(permute(a, *(free_a + da)), (_numel(sa), k))
    mb = reshape(permute(b, *(db + free_b)), (k, _numel(sb)))
    return reshape(matmul(ma, mb), sa + sb)


# ---- kron, cross --------------------------------------------------------------------------------

@tensor_method()
def kron(input, other):  # noqa: A002  (PyTorch's parameter names)
    """torch.kron: the Kronecker product; the operands are padded with leading 1s to one ndim,
    and out[i * other.shape + j] = input[i] * other[j] (per dim). A broadcast multiply of the two
    operands interleaved with size-1 dims, then one reshape."""
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(f"kron(): argument '{name}' must be Tensor, not {type(t).__name__}")
    n = max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + input.shape
    sb = (1,) * (n - other.ndim) + other.shape
    a = reshape(input, tuple(v for s in sa for v in (s, 1)))
    b = reshape(other, tuple(v for s in sb for v in (1, s)))
    return reshape(a * b, tuple(p * q for p, q in zip(sa, sb)))


def _cross(name, input, other, dim):
    for arg, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    if input.ndim != other.ndim:
        raise ShapeMismatch(f"{name}: inputs must have the same number of dimensions.")
    try:
        shape = broadcast_shapes(input.shape, other.shape)
    except ValueError:
        raise ShapeMismatch(f"{name}: the shapes {list(input.shape)} and {list(other.shape)} do "
                            f"not broadcast") from None
    if dim is None:   # torch.cross's deprecated default: the first dim of size 3
        dim = next((d for d, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise ShapeMismatch("no dimension of size 3 in input")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease "
                      "either pass the dim explicitly or simply use torch.linalg.cross.\nThe "
                      "default value of dim will change to agree with that of linalg.cross in a "
                      "future release.", UserWarning, stacklevel=3)
    d = _torch_dim(operator.index(dim), shape)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise ShapeMismatch(f"{name}: inputs dimension {dim} must have length 3. Got "
                            f"{input.shape[d]} and {other.shape[d]}")
    a = [narrow(input, d, i, 1) for i in range(3)]
    b = [narrow(other, d, i, 1) for i in range(3)]
    return cat([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], d)


@tensor_method()
def cross(input, other, dim=None):  # noqa: A002
    """torch.cross: the cross product of 3-vectors along ``dim``, broadcasting the other dims.
    ``dim=None`` (deprecated in PyTorch, with its warning) is the first dim of size 3."""
    return _cross("linalg.cross", input, other, dim)


def linalg_cross(input, other, *, dim=-1):  # noqa: A002
    """torch.linalg.cross: the cross product along ``dim`` (default the last)."""
    return _cross("linalg.cross", input, other, dim)


# ---- matrix_power, multi_dot, vecdot (torch.linalg) ----------------------------------------------

def _square(name, A):
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def matrix_power(A, n):
    """torch.linalg.matrix_power: A^n for an integer n by repeated squaring (about 2 log2(n)
    matmuls); n = 0 the identity, n < 0 powers of inv(A) (LinAlgError if A is singular)."""
    _square("linalg.matrix_power", A)
    n = operator.index(n)
    if n == 0:
        # the identity; where(False, A, I) links it to A with a zero gradient, as PyTorch's
        eye = _eye(A.shape[-1], dtype=A.dtype).expand(*A.shape)
        return where(_tensor(False), A, eye) if A.requires_grad else _copy_t(eye)
    if n < 0:
        A, n = inv(A), -n
    out = None
    while True:   # binary powering: out = product of the A^(2^k) whose bit is set in n
        if n & 1:
            out = A if out is None else matmul(out, A)
        n >>= 1
        if not n:
            return out
        A = matmul(A, A)


def multi_dot(tensors):
    """torch.linalg.multi_dot: the product of a chain of matrices; the first may be a 1-D row
    vector and the last a 1-D column vector (then removed from the result). Multiplied in the
    order that costs the fewest multiply-adds (the classic dynamic programme), as PyTorch."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"multi_dot(): tensor {i} must be a Tensor, not {type(t).__name__}")
        want = (1, 2) if i in (0, len(ts) - 1) else (2,)
        if t.ndim not in want:
            which = "first" if i == 0 else "last" if i == len(ts) - 1 else None
            raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got {t.ndim}D"
                               if which else f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    mats = list(ts)
    row, col = mats[0].ndim == 1, mats[-1].ndim == 1
    if row:
        mats[0] = unsqueeze(mats[0], 0)
    if col:
        mats[-1] = unsqueeze(mats[-1], 1)
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(ts[i].shape)} and {list(ts[i + 1].shape)} cannot be "
                               f"multiplied")
        if mats[i + 1].dtype is not mats[0].dtype:
            raise DtypeMismatch(f"multi_dot(): all tensors must have be the same dtype but tensor "
                                f"0 is {mats[0].dtype!r} and tensor {i + 1} {mats[i + 1].dtype!r}")
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    k = len(mats)
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for span in range(1, k):
        for i in range(k - span):
            j = i + span
            cost[i][j], split[i][j] = min((cost[i][s] + cost[s + 1][j]
                                           + dims[i] * dims[s + 1] * dims[j + 1], s)
                                          for s in range(i, j))

    def product(i, j):
        if i == j:
            return mats[i]
        s = split[i][j]
        return matmul(product(i, s), product(s + 1, j))

    out = product(0, k - 1)
    if row and col:
        return reshape(out, ())
    if row:
        return reshape(out, out.shape[1:])
    return reshape(out, out.shape[:1]) if col else out


def vecdot(x, y, *, dim=-1):
    """torch.linalg.vecdot: sum(x * y, dim) with x and y broadcast (real dtypes)."""
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg.vecdot(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    return _sum(x * y, dim)


def linalg_diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """torch.linalg.diagonal: tl.diagonal with the last two dims as the default (a view)."""
    return diagonal(A, offset, dim1, dim2)


__all__ = ["einsum", "tensordot", "kron", "cross", "linalg_cross", "matrix_power", "multi_dot",
           "vecdot", "linalg_diagonal"]
