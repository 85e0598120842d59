"""tensor_split (hsplit, vsplit, dsplit), hstack/vstack/dstack/column_stack/row_stack,
atleast_1d/2d/3d, meshgrid, diff, cartesian_prod: PyTorch's shape-combining helpers, composed of
views (slicing, reshape, expand) and cat, so their gradients are those ops' and the pieces of
tensor_split and meshgrid are views, as in PyTorch. Errors are PyTorch's RuntimeError (as
ShapeMismatch, also this project's ValueError, where the problem is a shape).
"""
import operator

from .. import dtypes
from ..tensor import Tensor, tensor_method
from .elementwise import ne
from .index import ShapeMismatch
from .shape import (BasicIndex, _torch_dim, cat, expand, narrow, parse_basic_index, reshape,
                    stack)


def _tensor_list(name, tensors):
    """A non-empty list of tensors from a sequence (PyTorch's TensorList arguments)."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' must be a tuple or list of Tensors, "
                        f"not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected a sequence of Tensors, got {type(t).__name__}")
    return tensors


def _slice(x, d, start, stop):
    """x[..., start:stop, ...] along dim d with Python's slice rules (a view)."""
    return BasicIndex.apply(x, parse_basic_index(x, (slice(None),) * d + (slice(start, stop),)))


# ---- tensor_split -------------------------------------------------------------------------------

@tensor_method()
def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002  (PyTorch's parameter names)
    """torch.tensor_split: views of ``input`` along ``dim``. An int n gives n pieces, the first
    ``size % n`` one element longer; a list (or 1-D int64 tensor) of indices cuts there, with
    Python's slice rules (x[:i0], x[i0:i1], ..., x[ik:]), so indices may be negative or past the
    end (empty pieces)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"tensor_split(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _torch_dim(dim, input.shape)
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype is not dtypes.int64:
            raise TypeError(f"tensor_split expected tensor_indices_or_sections to have int64 "
                            f"dtype, but got {spec.dtype!r}")
        if spec.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {spec.ndim} dims")
        spec = spec.item() if spec.ndim == 0 else spec.tolist()
    if isinstance(spec, (list, tuple)):
        cuts = [operator.index(i) for i in spec]
        bounds = [None] + cuts, cuts + [None]
        return tuple(_slice(input, d, a, b) for a, b in zip(*bounds))
    if isinstance(spec, bool) or not isinstance(spec, int):
        raise TypeError(f"tensor_split(): indices_or_sections must be an int, a list of ints or "
                        f"an int64 tensor, got {type(spec).__name__}")
    if spec <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
    n = input.shape[d]
    size, extra = divmod(n, spec)
    out, pos = [], 0
    for i in range(spec):
        length = size + (i < extra)
        out.append(narrow(input, d, pos, length))
        pos += length
    return tuple(out)


def _direction_split(name, need, input, indices_or_sections, d):
    """hsplit / vsplit / dsplit: tensor_split along dim ``d``, an int splitting evenly."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim < need:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {need} dimension, but "
                           f"got a tensor with {input.ndim} dimensions!")
    s = indices_or_sections
    if isinstance(s, int) and not isinstance(s, bool) and (s == 0 or input.shape[d] % s):
        raise ShapeMismatch(f"torch.{name} attempted to split along dimension {d}, but the size "
                            f"of the dimension {input.shape[d]} is not divisible by the "
                            f"split_size {s}!")
    return tensor_split(input, s, d)


@tensor_method()
def hsplit(input, indices_or_sections):  # noqa: A002
    """torch.hsplit: tensor_split along dim 1 (dim 0 of a 1-D tensor); an int must divide."""
    return _direction_split("hsplit", 1, input, indices_or_sections,
                            1 if isinstance(input, Tensor) and input.ndim > 1 else 0)


@tensor_method()
def vsplit(input, indices_or_sections):  # noqa: A002
    """torch.vsplit: tensor_split along dim 0 of a tensor of at least 2 dims."""
    return _direction_split("vsplit", 2, input, indices_or_sections, 0)


@tensor_method()
def dsplit(input, indices_or_sections):  # noqa: A002
    """torch.dsplit: tensor_split along dim 2 of a tensor of at least 3 dims."""
    return _direction_split("dsplit", 3, input, indices_or_sections, 2)


# ---- atleast_nd and the stacks ------------------------------------------------------------------

def _atleast(name, shape_of, tensors):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    for t in ts:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensors, got {type(t).__name__}")
    out = tuple(t if len(t.shape) >= len(shape_of(t.shape)) else reshape(t, shape_of(t.shape))
                for t in ts)
    return out[0] if single else out


def atleast_1d(*tensors):
    """torch.atleast_1d: a 0-d tensor as shape (1,), others unchanged (one tensor in, one out;
    several or a list in, a tuple out)."""
    return _atleast("atleast_1d", lambda s: s or (1,), tensors)


def atleast_2d(*tensors):
    """torch.atleast_2d: 0-d -> (1, 1), (n,) -> (1, n)."""
    return _atleast("atleast_2d", lambda s: (1,) * (2 - len(s)) + s, tensors)


def atleast_3d(*tensors):
    """torch.atleast_3d: 0-d -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast("atleast_3d", lambda s: {0: (1, 1, 1), 1: (1,) + s + (1,),
                                            2: s + (1,)}.get(len(s), s), tensors)


def hstack(tensors):
    """torch.hstack: cat along dim 1, or dim 0 when every tensor is 1-D (0-d ones count as 1-D)."""
    ts = atleast_1d(_tensor_list("hstack", tensors))
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """torch.vstack (= row_stack): cat along dim 0 after atleast_2d (a 1-D tensor is a row)."""
    return cat(atleast_2d(_tensor_list("vstack", tensors)), 0)


def row_stack(tensors):
    """torch.row_stack: vstack."""
    return cat(atleast_2d(_tensor_list("row_stack", tensors)), 0)


def dstack(tensors):
    """torch.dstack: cat along dim 2 after atleast_3d."""
    return cat(atleast_3d(_tensor_list("dstack", tensors)), 2)


def column_stack(tensors):
    """torch.column_stack: 0-d and 1-D tensors become columns (n, 1), then cat along dim 1."""
    ts = _tensor_list("column_stack", tensors)
    return cat([reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in ts], 1)


# ---- meshgrid, cartesian_prod -------------------------------------------------------------------

def meshgrid(*tensors, indexing=None):
    """torch.meshgrid: for N tensors of sizes s1..sN (0-d counts as size 1), N expanded views of
    shape (s1, ..., sN) -- tensor i varies along dim i. ``indexing='xy'`` swaps the first two
    dims (NumPy's / MATLAB's Cartesian layout); ``None`` means ``'ij'`` (PyTorch's default,
    which PyTorch also warns about; this does not). Tensors may be given as one list."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    ts = _tensor_list("meshgrid", tensors)
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f'{indexing}')
    for t in ts:
        if t.ndim > 1:
            raise ShapeMismatch(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                                f"got a tensor of shape {list(t.shape)}")
        if t.dtype is not ts[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    sizes = [t.numel() for t in ts]
    order = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(sizes[i] for i in order)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[order.index(i)] = sizes[i]
        out.append(expand(reshape(t, tuple(view)), *shape))
    return tuple(out)


def cartesian_prod(*tensors):
    """torch.cartesian_prod: the rows of all combinations of the 1-D tensors' elements (the last
    varying fastest), shape (prod of sizes, N); one tensor is returned as it is."""
    ts = _tensor_list("cartesian_prod", tensors)
    for t in ts:
        if t.ndim != 1:
            raise ShapeMismatch(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    return stack([reshape(g, (g.numel(),)) for g in meshgrid(ts, indexing="ij")], 1)


# ---- diff ---------------------------------------------------------------------------------------

@tensor_method()
def diff(input, n=1, dim=-1, prepend=None, append=None):  # noqa: A002
    """torch.diff: the n-th forward difference along ``dim``, out[i] = x[i + 1] - x[i] applied n
    times, after concatenating ``prepend`` / ``append`` (same ndim, same sizes off ``dim``) to
    ``input``. Boolean tensors give x[i + 1] != x[i] (PyTorch's logical xor)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"diff(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    n = operator.index(n)
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _torch_dim(dim, input.shape)
    parts = [input]
    for extra, at in ((prepend, 0), (append, 1)):
        if extra is None:
            continue
        if not isinstance(extra, Tensor):
            raise TypeError(f"diff(): prepend and append must be Tensors, got "
                            f"{type(extra).__name__}")
        if extra.ndim != input.ndim:
            raise ShapeMismatch("diff expects prepend or append to be the same dimension as input")
        for k in range(input.ndim):
            if k != d and extra.shape[k] != input.shape[k]:
                raise ShapeMismatch(f"diff expects the shape of tensor to prepend or append to "
                                    f"match that of input except along the differencing "
                                    f"dimension; input.size({k}) = {input.shape[k]}, but got "
                                    f"tensor.size({k}) = {extra.shape[k]}")
        parts.insert(len(parts) if at else 0, extra)
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = narrow(x, d, 1, m - 1), narrow(x, d, 0, m - 1)
        x = ne(hi, lo) if x.dtype is dtypes.bool_ else hi - lo
    return x


__all__ = ["tensor_split", "hsplit", "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d",
           "hstack", "vstack", "row_stack", "dstack", "column_stack", "meshgrid", "cartesian_prod",
           "diff"]
