"""Sorting, order statistics and scans along one dim <-> csrc/sort.c (PyTorch's names and rules):
sort / argsort / msort / topk (tl_sort_forward), kthvalue / median / nanmedian
(tl_kthvalue_forward), cummax / cummin (tl_cummax_forward), cumprod and logcumsumexp with C
VJPs, searchsorted / bucketize (tl_searchsorted).

Order is PyTorch's: NaN is the largest value, -0 == 0, and ties keep their input order (every
sort is stable, so ``stable=True`` asks for nothing more). Ops returning values and indices give
a named tuple (``.values``, ``.indices``) that unpacks like PyTorch's ``torch.return_types``.
The values of sort, topk, kthvalue, median(dim) and cummax are x gathered at the indices, so
their derivative is one rule (``_SelectAlongDim``): g scatter-added back through the indices
(tl_sort_backward; the formula is GatherDimBackward, whose own derivative gathers)."""
import collections
import operator

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import Function, _grad_enabled, _record
from ..creation import arange, copy as _copy, full
from ..kernels import check, ffi
from ..tensor import Tensor, _empty, _numel, tensor_method
from .elementwise import abs as _abs, exp, log, where
from .index import GatherDimBackward, _DimPlan
from .reduce import _ReduceExtremum, _split, sum as _sum
from .shape import _torch_dim, expand, flip, reshape, transpose, unsqueeze

# PyTorch's torch.return_types: named tuples of (values, indices)
_FIELDS = ("values", "indices")
return_types = collections.namedtuple("return_types", ("sort", "topk", "kthvalue", "median",
                                                       "nanmedian", "cummax", "cummin"))(
    *(collections.namedtuple(name, _FIELDS) for name in ("sort", "topk", "kthvalue", "median",
                                                          "nanmedian", "cummax", "cummin")))


class DtypeNotImplemented(NotImplementedError, TypeError):
    """An op without a kernel for the input's dtype: PyTorch's NotImplementedError, and this
    project's TypeError for a dtype problem."""


def _iptr(t):
    return ffi.cast("int64_t *", t._ptr)


def _input(name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return x if x._contig else _copy(x)


def _int(name, what, v):
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{name}(): argument '{what}' must be int, not "
                        f"{type(v).__name__}") from None


def _with_dim(shape, d, m):
    """``shape`` with dim d of size m (a 0-d shape stays 0-d)."""
    return shape[:d] + (m,) + shape[d + 1:] if shape else ()


class _SelectAlongDim(Function):
    """values = x gathered along ``ctx.dim`` at the saved int64 indices (the kept-dim layout,
    as many dims as x). VJP: zeros of x's shape with g added at the indices (tl_sort_backward);
    repeated indices (cummax) accumulate. ``apply`` is each op's forward: it returns the indices
    too, which are no output of the node."""

    @classmethod
    def _node(cls, x, values, indices, dim, m):
        """Record values' node: indices hold m positions per slice along dim (kthvalue: 1, its
        dim dropped or kept)."""
        if _grad_enabled() and x.requires_grad and x.dtype.is_floating_point:
            ctx = _record(cls, values, (x,), (True,), (indices,))
            ctx.dim, ctx.xshape, ctx.kshape = dim, x.shape, _with_dim(x.shape, dim, m)

    @staticmethod
    def vjp(ctx, g):
        idx, = ctx._saved
        shape, dim = ctx.xshape, ctx.dim
        g = g if g._contig else _copy(g)
        gx = _empty(shape, g.dtype)
        o, n, i = _split(shape, dim)
        check(K.tl_sort_backward(g.dtype.code, gx._ptr, g._ptr, _iptr(idx), o, n,
                                 ctx.kshape[dim] if shape else 1, i),
              f"{ctx._fn.__name__.lower()} backward")
        return (gx,)

    @staticmethod
    def formula(ctx, g):
        idx, = ctx._saved
        idx = reshape(idx, ctx.kshape)
        plan = _DimPlan(ctx._fn.__name__.lower(), ctx.xshape, ctx.dim, idx)
        return (GatherDimBackward.apply(reshape(g, ctx.kshape), plan, ctx.xshape),)


class Sort(_SelectAlongDim):
    """The first k elements of each slice along ``dim`` in ascending (descending) order, and
    their indices: sort (k = the dim's size) and topk."""

    @classmethod
    def apply(cls, x, dim, k, descending):
        xc = _input("sort", x)
        o, n, i = _split(x.shape, dim)
        shape = _with_dim(x.shape, dim, k)
        values, indices = _empty(shape, x.dtype), _empty(shape, dtypes.int64)
        check(K.tl_sort_forward(x.dtype.code, values._ptr, _iptr(indices), xc._ptr, o, n, i, k,
                                int(bool(descending))), "sort")
        cls._node(x, values, indices, dim, k)
        return values, indices


class Kthvalue(_SelectAlongDim):
    """One element of each slice's ascending order and its index: mode 0 the k-th smallest,
    1 the lower median (NaN if the slice has one), 2 the lower median of the non-NaN elements."""

    @classmethod
    def apply(cls, x, dim, k, mode, keepdim):
        xc = _input("kthvalue", x)
        o, n, i = _split(x.shape, dim)
        # (outer, inner) in C: the same layout with the dim dropped or kept as 1
        shape = _with_dim(x.shape, dim, 1) if keepdim else x.shape[:dim] + x.shape[dim + 1:]
        values, indices = _empty(shape, x.dtype), _empty(shape, dtypes.int64)
        check(K.tl_kthvalue_forward(x.dtype.code, values._ptr, _iptr(indices), xc._ptr, o, n, i,
                                    k, mode), "kthvalue")
        cls._node(x, values, indices, dim, 1)
        return values, indices


class Cummax(_SelectAlongDim):
    """Running max (is_min: min) along ``dim`` and its index (PyTorch's rule: a NaN takes over,
    a tie moves the index to the later element)."""

    @classmethod
    def apply(cls, x, dim, is_min):
        xc = _input("cummin" if is_min else "cummax", x)
        values, indices = _empty(x.shape, x.dtype), _empty(x.shape, dtypes.int64)
        check(K.tl_cummax_forward(x.dtype.code, values._ptr, _iptr(indices), xc._ptr,
                                  *_split(x.shape, dim), int(is_min)), "cummax")
        cls._node(x, values, indices, dim, x.shape[dim] if x.ndim else 1)
        return values, indices


# ---- sort, argsort, msort, topk -----------------------------------------------------------------

def _sort(x, dim, descending, k=None):
    if not isinstance(x, Tensor):
        raise TypeError(f"sort(): argument 'input' must be Tensor, not {type(x).__name__}")
    d = _torch_dim(dim, x.shape)
    n = x.shape[d] if x.ndim else 1
    if not x.ndim:   # a 0-d tensor is its own sort (PyTorch: also topk with k = 0)
        k = 1
    if x.dtype.is_half and x.requires_grad and _grad_enabled():
        v, i = Sort.apply(x.to(dtypes.float32), d, n if k is None else k, descending)
        return v.to(x.dtype), i
    return Sort.apply(x, d, n if k is None else k, descending)


@tensor_method()
def sort(input, dim=-1, descending=False, stable=False):  # noqa: A002  (PyTorch's names)
    """(values, indices) of ``input`` sorted along ``dim`` (torch.sort). NaN sorts as the largest
    value; ties keep their input order (always: ``stable`` is accepted for PyTorch's signature).
    The gradient goes back to each value's source position."""
    return return_types.sort(*_sort(input, dim, descending))


@tensor_method()
def argsort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (int64; torch.argsort)."""
    return _sort(input, dim, descending)[1]


@tensor_method()
def msort(input):  # noqa: A002
    """``input`` sorted along dim 0 (torch.msort: sort(input, 0).values)."""
    return _sort(input, 0, False)[0]


@tensor_method()
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The k largest (``largest=False``: smallest) elements along ``dim`` and their indices
    (torch.topk), in sorted order (also when ``sorted=False``, which allows any order). Ties go
    to the earlier element. RuntimeError for k outside [0, size], as PyTorch."""
    if not isinstance(input, Tensor):
        raise TypeError(f"topk(): argument 'input' must be Tensor, not {type(input).__name__}")
    x, k = input, _int("topk", "k", k)
    d = _torch_dim(dim, x.shape)
    if not 0 <= k <= (x.shape[d] if x.ndim else 1):
        raise RuntimeError(f"selected index k out of range (k = {k}, size of dim {d} of "
                           f"{tuple(x.shape)} = {x.shape[d] if x.ndim else 1})")
    return return_types.topk(*_sort(x, d, largest, k))


# ---- kthvalue, median, nanmedian ----------------------------------------------------------------

def _kth(name, x, k, dim, keepdim, mode):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    d = _torch_dim(dim, x.shape)
    n = x.shape[d] if x.ndim else 1
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if mode == 0 and not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} "
                           f"(k = {k}, size {n})")
    if x.dtype.is_half and x.requires_grad and _grad_enabled():
        v, i = Kthvalue.apply(x.to(dtypes.float32), d, k, mode, keepdim)
        return v.to(x.dtype), i
    return Kthvalue.apply(x, d, k, mode, keepdim)


@tensor_method()
def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """(values, indices) of the k-th smallest element along ``dim`` (torch.kthvalue; k from 1).
    The gradient goes to the selected element."""
    k = _int("kthvalue", "k", k)
    return return_types.kthvalue(*_kth("kthvalue", input, k, dim, keepdim, 0))


class Median(_ReduceExtremum):
    """The lower median of all elements (mode 1: NaN if there is one; mode 2, nanmedian: of the
    non-NaN elements), a 0-d tensor (tl_kthvalue_forward on the flattened tensor). Derivative
    as PyTorch's median(): g split evenly among the elements equal to the result (NaN: the NaNs),
    the max reduction's rule (tl_reduce_extremum_backward)."""

    @staticmethod
    def forward(ctx, x, dims, mode):
        xc = _input("median", x)
        y, idx = _empty((), x.dtype), _empty((), dtypes.int64)
        check(K.tl_kthvalue_forward(x.dtype.code, y._ptr, _iptr(idx), xc._ptr, 1, _numel(x.shape),
                                    1, 0, mode), "median")
        ctx.dims = dims
        ctx.save_for_backward(x, y)
        return y


def _median(name, x, dim, keepdim, mode):
    if dim is None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
        if x.numel() == 0:
            return full((), float("nan"), dtype=x.dtype)
        if x.dtype.is_half and x.requires_grad and _grad_enabled():
            return Median.apply(x.to(dtypes.float32), tuple(range(x.ndim)), mode).to(x.dtype)
        return Median.apply(x, tuple(range(x.ndim)), mode)
    return getattr(return_types, name)(*_kth(name, x, 0, dim, keepdim, mode))


@tensor_method()
def median(input, dim=None, keepdim=False):  # noqa: A002
    """torch.median: without ``dim`` the lower median of all elements (NaN if any is NaN; NaN
    for an empty tensor), its gradient split among the elements equal to it; with ``dim``
    (values, indices) of each slice's lower median, the gradient to the selected element."""
    return _median("median", input, dim, keepdim, 1)


@tensor_method()
def nanmedian(input, dim=None, keepdim=False):  # noqa: A002
    """torch.nanmedian: median ignoring NaN (NaN only where every element is NaN)."""
    return _median("nanmedian", input, dim, keepdim, 2)


# ---- cummax / cummin, cumprod, logcumsumexp -----------------------------------------------------

def _cummax(name, x, dim, is_min):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    d = _torch_dim(dim, x.shape)
    if x.dtype.is_half and x.requires_grad and _grad_enabled():
        v, i = Cummax.apply(x.to(dtypes.float32), d, is_min)
        return v.to(x.dtype), i
    return Cummax.apply(x, d, is_min)


@tensor_method()
def cummax(input, dim):  # noqa: A002
    """(values, indices): the running maximum along ``dim`` and where it was (torch.cummax; NaN
    propagates, ties take the later index). Gradient: g added at the indices."""
    return return_types.cummax(*_cummax("cummax", input, dim, False))


@tensor_method()
def cummin(input, dim):  # noqa: A002
    """(values, indices): the running minimum along ``dim`` (torch.cummin)."""
    return return_types.cummin(*_cummax("cummin", input, dim, True))


class _Scan(Function):
    """A scan along ``dim`` with a C forward and a C VJP over the (outer, n, inner) layout,
    ``_kernels()`` naming them (looked up per call); saves x (contiguous) and y."""

    @classmethod
    def forward(cls, ctx, x, dim):
        name = cls.__name__.lower()
        xc = _input(name, x)
        y = _empty(x.shape, x.dtype)
        check(cls._kernels()[0](x.dtype.code, y._ptr, xc._ptr, *_split(x.shape, dim)), name)
        ctx.dim = dim
        ctx.save_for_backward(xc, y)
        return y

    @staticmethod
    def vjp(ctx, g):
        """gx from the C VJP; a 0-d x passes g through."""
        x, y = ctx._saved
        if not x.ndim:
            return g, None
        g = g if g._contig else _copy(g)
        gx = _empty(x.shape, x.dtype)
        name = ctx._fn.__name__.lower()
        check(ctx._fn._kernels()[1](x.dtype.code, gx._ptr, g._ptr, x._ptr, y._ptr,
                                    *_split(x.shape, ctx.dim)), f"{name} backward")
        return gx, None


class Cumprod(_Scan):
    """y = running product along ``dim``. Derivative gx_i = sum over j >= i of g_j times the
    product of x_0..x_j without x_i, exact with zeros in x: in C (tl_cumprod_backward) as
    y_{i-1} * s_i with s_i = g_i + x_{i+1} s_{i+1}, O(n) and division-free; the formula builds
    those products as Cumprod of x repeated with x_i set to 1 in row i, O(n^2) memory, as
    PyTorch's create_graph path (so second derivatives are right with zeros too)."""

    @staticmethod
    def _kernels():
        return K.tl_cumprod_forward, K.tl_cumprod_backward

    @staticmethod
    def formula(ctx, g):
        x, _ = ctx._saved
        if not x.ndim:
            return g, None
        d = ctx.dim
        xt, gt = transpose(x, d, -1), transpose(g, d, -1)
        n = xt.shape[-1]
        ar = arange(n)
        col, row = reshape(ar, (n, 1)), ar
        rep = expand(unsqueeze(xt, -2), *xt.shape[:-1], n, n)       # rep[..., i, k] = x_k
        c = Cumprod.apply(where(col == row, 1.0, rep), rep.ndim - 1)  # prod over k <= j, k != i
        gx = _sum(where(col <= row, c * unsqueeze(gt, -2), 0.0), -1)
        return transpose(gx, d, -1), None


@tensor_method()
def cumprod(input, dim, *, dtype=None):  # noqa: A002
    """Running product along ``dim`` (torch.cumprod); bool and int64 inputs multiply in int64.
    The gradient is exact with zeros in the input (see Cumprod)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"cumprod(): argument 'input' must be Tensor, not {type(input).__name__}")
    d = _torch_dim(dim, input.shape)
    x = input if dtype is None else input.to(dtype)
    if x.dtype is dtypes.bool_:
        x = x.to(dtypes.int64)
    back = x.dtype if x.dtype.is_half else None
    out = Cumprod.apply(x if back is None else x.to(dtypes.float32), d)
    return out if back is None else out.to(back)


class Logcumsumexp(_Scan):
    """y_i = log(sum over j <= i of exp(x_j)) along ``dim``, one stable log-add-exp per step.
    Derivative gx_i = sum over j >= i of g_j exp(x_i - y_j), summed in log space for the
    positive and negative parts of g separately (PyTorch's; tl_logcumsumexp_backward, and the
    formula with reversed logcumsumexp)."""

    @staticmethod
    def _kernels():
        return K.tl_logcumsumexp_forward, K.tl_logcumsumexp_backward

    @staticmethod
    def formula(ctx, g):
        x, y = ctx._saved
        d = ctx.dim
        nan = g != g
        inf = full((), float("-inf"), dtype=g.dtype)

        def part(mask, a):   # log(a) where mask (a > 0), NaN where g is, else -inf
            return where(mask, log(where(mask, a, 1.0)), where(nan, g, inf))

        def rev(t):
            return flip(Logcumsumexp.apply(flip(t, d), d), d) if t.ndim else \
                Logcumsumexp.apply(t, d)

        pos = rev(part(g > 0, _abs(g)) - y)
        neg = rev(part(g < 0, _abs(g)) - y)
        return exp(pos + x) - exp(neg + x), None


@tensor_method()
def logcumsumexp(input, dim):  # noqa: A002
    """log(cumsum(exp(input), dim)) computed stably (torch.logcumsumexp); floating inputs only."""
    if not isinstance(input, Tensor):
        raise TypeError(f"logcumsumexp(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    d = _torch_dim(dim, input.shape)
    if not input.dtype.is_floating_point:
        raise DtypeNotImplemented(f'"logcumsumexp" not implemented for {input.dtype}: floating '
                                  "point inputs only")
    if input.dtype.is_half:
        return Logcumsumexp.apply(input.to(dtypes.float32), d).to(input.dtype)
    return Logcumsumexp.apply(input, d)


# ---- searchsorted, bucketize --------------------------------------------------------------------

def _promote(a, b):
    if a.dtype is b.dtype:
        return a, b
    common = dtypes.promote(a.dtype, b.dtype)
    return a.to(common), b.to(common)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,  # noqa: A002
                 sorter=None):
    """Indices (int64) where ``input``'s values would be inserted into ``sorted_sequence`` (sorted
    along its last dim) to keep it sorted (torch.searchsorted): the first position whose element
    is >= the value, or > it with ``right=True`` / ``side='right'``. A 1-D sequence serves every
    value; an N-d one must match ``input``'s leading dims. No gradient."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got "
                               f"{side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    if out_int32 or sorter is not None:
        raise NotImplementedError("searchsorted(): out_int32 and sorter are not supported")
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(f"searchsorted(): argument 'sorted_sequence' must be Tensor, not "
                        f"{type(sorted_sequence).__name__}")
    scalar = not isinstance(input, Tensor)
    values = full((), input, dtype=dtypes.promote_scalar(sorted_sequence.dtype, input)) \
        if scalar else input
    seq = sorted_sequence
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if seq.ndim > 1 and (values.ndim != seq.ndim or values.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the "
                           f"first N-1 dimensions of boundaries tensor and input value tensor must "
                           f"match, but we got boundaries tensor {list(seq.shape)} and input value "
                           f"tensor {list(values.shape)}")
    seq, values = _promote(seq, values)
    seq, values = _input("searchsorted", seq), _input("searchsorted", values)
    n = seq.shape[-1]
    m = values.shape[-1] if values.ndim else 1
    outer = _numel(values.shape[:-1]) if values.ndim else 1
    out = _empty(values.shape, dtypes.int64)
    check(K.tl_searchsorted(seq.dtype.code, _iptr(out), seq._ptr, values._ptr, outer, n, m,
                            int(seq.ndim > 1), int(bool(right))), "searchsorted")
    return out


def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002
    """The bucket of each value of ``input`` among the 1-D sorted ``boundaries`` (int64;
    torch.bucketize): searchsorted(boundaries, input, right=right)."""
    if isinstance(boundaries, Tensor) and boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)

