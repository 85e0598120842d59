"""Counting and ordering: nonzero, argwhere, count_nonzero, bincount, histc, unique,
unique_consecutive <-> csrc/count.c (and index.c's tl_nonzero).

None of them is differentiable: their results are integer, or counts (bincount's weighted sums
and histc's counts are float but carry no gradient here; PyTorch's raise "not implemented" at
backward instead). unique and unique_consecutive work on the flattened tensor (``dim=None``,
tl_unique) or on the slices along ``dim`` (tl_unique_dim picks each unique slice's row; the
values are then an index_select of those slices).
"""
import operator

from .. import dtypes
from .. import kernels as K
from ..creation import copy as _copy
from ..kernels import check, ffi
from ..tensor import Tensor, _empty, tensor_method
from . import elementwise as _elementwise
from .index import _int_ptr, _nonzero, index_select
from .reduce import _torch_dim
from .shape import _torch_dim_n, movedim


class NotImplementedForDtype(NotImplementedError, TypeError):
    """An op that has no kernel for a dtype: PyTorch's NotImplementedError ("... not implemented
    for 'Long'") and this project's TypeError for a dtype problem."""


def _tensor_arg(name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(t).__name__}")
    return t


def _flat(t):
    """t's values as a contiguous 1-D tensor without history (a copy only when needed)."""
    t = t.detach().reshape(-1)
    return t if t._contig else _copy(t)


@tensor_method()
def nonzero(input, *, as_tuple=False):  # noqa: A002  (PyTorch's parameter names)
    """The positions (C order) of the elements that are not zero (True for bool; NaN counts as
    non-zero): an (n, ndim) int64 tensor, or with as_tuple=True one 1-D int64 tensor per dim
    (a 0-d input counts as 1-D there, as in PyTorch)."""
    x = _tensor_arg("nonzero", input).detach()
    mask = x if x.dtype is dtypes.bool_ else _elementwise.ne(x, 0)
    if as_tuple and mask.ndim == 0:
        mask = mask.reshape(1)
    pos = _nonzero(mask)
    if not as_tuple:
        return pos
    return tuple(_copy(pos[:, j]) for j in range(mask.ndim))


@tensor_method()
def argwhere(input):  # noqa: A002
    """torch.argwhere: ``nonzero(input)`` as an (n, ndim) int64 tensor."""
    return nonzero(input)


@tensor_method()
def count_nonzero(input, dim=None):  # noqa: A002
    """The number of non-zero elements (int64), over ``dim`` (an int or a tuple of ints) or the
    whole tensor."""
    x = _tensor_arg("count_nonzero", input).detach()
    mask = x if x.dtype is dtypes.bool_ else _elementwise.ne(x, 0)
    if isinstance(dim, list):
        dim = tuple(dim)
    if dim is not None:
        for d in (dim if isinstance(dim, tuple) else (dim,)):
            _torch_dim(d, x.shape)     # IndexError for a dim out of range, as PyTorch
    return mask.sum() if dim is None else mask.sum(dim)


@tensor_method()
def bincount(input, weights=None, minlength=0):  # noqa: A002
    """The number of occurrences of each value in a 1-D int64 tensor of non-negative values
    (max(input) + 1 bins, at least ``minlength``), or the sum of ``weights`` (1-D, one per
    element) per value: int64 counts, or float32/float64 like the weights (float64 for int64
    weights)."""
    x = _tensor_arg("bincount", input)
    if x.dtype is not dtypes.int64:
        raise NotImplementedForDtype(f'"bincount" not implemented for {x.dtype!r}: input must be '
                                     f'an int64 tensor')
    minlength = operator.index(minlength)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if x.ndim != 1 or x.numel() and int(x.min().item()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    n = x.shape[0]
    nbins = max(int(x.max().item()) + 1 if n else 0, minlength)
    xs = _flat(x)
    if weights is None:
        out = _empty((nbins,), dtypes.int64)
        wptr, code = ffi.NULL, dtypes.int64.code
    else:
        if not isinstance(weights, Tensor):
            raise TypeError(f"bincount(): weights must be a Tensor, got {type(weights).__name__}")
        if weights.ndim != 1 or weights.shape[0] != n:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        w = weights if weights.dtype in (dtypes.float32, dtypes.float64) else weights.to(dtypes.float64)
        w = _flat(w)
        out = _empty((nbins,), w.dtype)
        wptr, code = w._ptr, w.dtype.code
    check(K.tl_bincount(code, out._ptr, nbins, _int_ptr(xs), wptr, n), "bincount")
    return out


@tensor_method()
def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """torch.histc: counts of input's elements in ``bins`` equal-width bins over [min, max]
    (min == max: the data's own range, widened by 1 each way if that is one value); elements
    outside the range and NaN are ignored, ``max`` itself counts in the last bin. float32 or
    float64; the result has input's dtype."""
    x = _tensor_arg("histc", input)
    if x.dtype not in (dtypes.float32, dtypes.float64):
        raise NotImplementedForDtype(f'"histc" not implemented for {x.dtype!r}')
    bins = operator.index(bins)
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    xs = _flat(x)
    if lo == hi and xs.numel():
        lo, hi = float(xs.amin().item()), float(xs.amax().item())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if not (abs(lo) < float("inf") and abs(hi) < float("inf")):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    out = _empty((bins,), x.dtype)
    check(K.tl_histc(x.dtype.code, out._ptr, xs._ptr, xs.numel(), bins, lo, hi), "histc")
    return out


def _unique_dim(name, x, sorted_, return_inverse, return_counts, dim):
    """unique / unique_consecutive of the slices of x along dim (PyTorch's checks on empty dims:
    only the selected dim may be 0)."""
    d = _torch_dim_n(dim, x.shape)
    zero = [i for i, s in enumerate(x.shape) if s == 0]
    if len(zero) > 1:
        raise RuntimeError("Number of zero sized dimensions is more than one, so unique cannot be applied ")
    if zero and zero[0] != d:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")
    n = x.shape[d]
    m = x.numel() // n if n else 0
    rows = _flat(movedim(x, d, 0))             # (n, m) slices, contiguous
    first = _empty((n,), dtypes.int64)
    inverse = _empty((n,), dtypes.int64) if return_inverse else None
    counts = _empty((n,), dtypes.int64) if return_counts else None
    perm, tmp = _empty((n,), dtypes.int64), _empty((n,) if sorted_ else (0,), dtypes.int64)
    k = ffi.new("int64_t *")
    check(K.tl_unique_dim(x.dtype.code, _int_ptr(first), ffi.NULL if inverse is None else _int_ptr(inverse),
                          ffi.NULL if counts is None else _int_ptr(counts), k, rows._ptr, n, m,
                          _int_ptr(perm), _int_ptr(tmp), int(sorted_)), name)
    k = k[0]
    out = [index_select(x.detach(), d, first if k == n else first[:k])]
    if return_inverse:
        out.append(inverse)
    if return_counts:
        out.append(counts if k == n else _copy(counts[:k]))
    return out[0] if len(out) == 1 else tuple(out)


def _unique(name, input, sorted_, return_inverse, return_counts, dim):  # noqa: A002
    x = _tensor_arg(name, input)
    if x.dtype.is_half:
        raise NotImplementedForDtype(f'"{name}" not implemented for {x.dtype!r}')
    if dim is not None:
        return _unique_dim(name, x, sorted_, return_inverse, return_counts, dim)
    xs = _flat(x)
    n = xs.numel()
    values = _empty((n,), x.dtype)
    inverse = _empty((n,), dtypes.int64) if return_inverse else None
    counts = _empty((n,), dtypes.int64) if return_counts else None
    perm, tmp = _empty((n,), dtypes.int64), _empty((n,) if sorted_ else (0,), dtypes.int64)
    k = ffi.new("int64_t *")
    check(K.tl_unique(x.dtype.code, values._ptr, ffi.NULL if inverse is None else _int_ptr(inverse),
                      ffi.NULL if counts is None else _int_ptr(counts), k, xs._ptr, n,
                      _int_ptr(perm), _int_ptr(tmp), int(sorted_)), name)
    k = k[0]
    out = [values if k == n else _copy(values[:k])]
    if return_inverse:
        out.append(inverse.reshape(x.shape))
    if return_counts:
        out.append(counts if k == n else _copy(counts[:k]))
    return out[0] if len(out) == 1 else tuple(out)


@tensor_method()
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values of the flattened input, ascending (NaN last, each NaN distinct; -0
    and 0 are one value), with optionally the position of each input element among them
    (``return_inverse``, input-shaped) and how often each occurs (``return_counts``). Always
    sorted (``sorted=False`` gives the same, as PyTorch's CPU kernel may). With ``dim``: the
    distinct slices along dim in lexicographic order (a slice holding a NaN equals no other),
    inverse and counts 1-D over that dim."""
    return _unique("unique", input, True, return_inverse, return_counts, dim)


@tensor_method()
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """torch.unique_consecutive: the flattened input with each run of equal consecutive values
    kept once; ``return_inverse`` / ``return_counts`` as for unique; with ``dim``, runs of equal
    slices along dim."""
    return _unique("unique_consecutive", input, False, return_inverse, return_counts, dim)
