"""In-place ops: add_, sub_, mul_, div_, zero_, fill_, copy_, clamp_, the activations relu_,
sigmoid_, tanh_, leaky_relu_, elu_ and hardtanh_, reciprocal_, rsqrt_, log1p_, expm1_, sign_,
floor_, ceil_, round_, trunc_ (fix_), frac_, and item assignment.

Each computes its result with the ordinary (recorded) op on an alias of the tensor's old value,
then writes it into the tensor's memory with the C copy kernel and bumps the storage's version
counter. A graph that saved the old value then refuses to run backward (RuntimeError naming the
op), exactly as in PyTorch. In-place ops on a leaf that requires grad (or a view of one) are
refused outside no_grad().
"""
import numbers

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import _ONE, Function, _grad_enabled, _record, _save_output_weakly
from ..creation import tensor
from ..kernels import NULL, check, i64
from ..tensor import _SHAPES, _UNSHARED, Tensor, _alias, _empty, _shape_info, tensor_method
from . import elementwise as ew
from . import index as _index
from .index import getitem
from .shape import (BasicIndex, Diagonal, Expand, Permute, Reshape, broadcast_shapes, clone, expand,
                    sum_to)

_VIEW_OPS = (BasicIndex, Reshape, Permute, Expand, Diagonal)


def _graph_alias(t):
    """A new tensor object for ``t``'s current value, in the graph where ``t`` is."""
    a = _alias(t)
    a.grad_fn, a.requires_grad = t.grad_fn, t.requires_grad
    return a


def _graph_copy(t):
    """``t``'s current value as a recorded copy (a CopyBackward node on t's history): the op
    computes on it, so what it saves for backward is not what the in-place write then changes
    (clamp_ and mul_ save their input)."""
    return clone(_graph_alias(t))


def _check_leaf(t, name):
    if not _grad_enabled():
        return
    if t.requires_grad and t.grad_fn is None:
        raise RuntimeError(f"a leaf tensor that requires grad is being used in an in-place operation "
                           f"({name}); wrap the update in `with tl.no_grad():` or use an out-of-place op")
    node = t.grad_fn
    while node is not None and node._fn in _VIEW_OPS:   # a view of such a leaf
        base = node._inputs[0]
        if base.grad_fn is None and base.requires_grad and base._data is t._data:
            raise RuntimeError(f"a view of a leaf tensor that requires grad is being used in an "
                               f"in-place operation ({name})")
        node = base.grad_fn


class _ModifiedThroughAView(Function):
    """The history of a tensor after an in-place op changed a view of it: tl records that op on
    the view only (PyTorch also rewrites the base's history), so a gradient through the base
    itself would silently miss it -- backward raises instead. Nodes recorded before the change
    still see the base's old history (_history_at)."""

    @staticmethod
    def formula(ctx, g):
        raise RuntimeError(
            f"a tensor of shape {ctx.shape} was used after an in-place operation ({ctx.op}) "
            "changed a view of it; tl does not carry that change back to the tensor itself. Use "
            "the out-of-place op and build the result with tl.cat / tl.where, or apply the "
            "in-place op to the tensor itself")


def _replace_history(t, node):
    """Make ``node`` t's grad_fn after an in-place op, remembering the one it replaces (nodes
    recorded earlier keep seeing that: engine._history_at); when t is a view, each tensor it
    views gets a history that refuses backward (_ModifiedThroughAView)."""
    old = t.grad_fn
    node._replaced = old
    t.grad_fn, t.requires_grad = node, True
    while old is not None and old._fn in _VIEW_OPS:
        base = old._inputs[0]
        base_history = base.grad_fn
        if base_history is None:
            break             # a leaf: _check_leaf refused the op if it requires grad
        stale = _record(_ModifiedThroughAView, base, (), ())
        stale._replaced, stale.shape, stale.op = base_history, base.shape, node.name()
        old = base_history


def _write(t, r, name):
    """Store result ``r`` into ``t``'s memory (shape and dtype checked) and bump the version."""
    if r.shape != t.shape:
        raise ValueError(f"{name}: the result shape {r.shape} does not match the tensor's shape "
                         f"{t.shape} (in-place ops cannot broadcast the tensor itself)")
    if r.dtype.is_floating_point and not t.dtype.is_floating_point:
        raise TypeError(f"{name}: result dtype {r.dtype!r} can't be stored in place into a "
                        f"{t.dtype!r} tensor")
    if r._data is not t._data or r._offset != t._offset or r._strides != t._strides:
        K.copy_into(t, r)
    t._bump_version()


def _inplace(t, name, compute, others=()):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor")
    _check_leaf(t, name)
    record = _grad_enabled() and (t.requires_grad or any(
        isinstance(o, Tensor) and o.requires_grad for o in others))
    if record and not t.dtype.is_floating_point:
        raise TypeError(f"{name}: an in-place op on a {t.dtype!r} tensor cannot carry a gradient")
    r = compute(_graph_copy(t) if record else t.detach())
    _write(t, r, name)
    if record:
        _replace_history(t, r.grad_fn)
    return t


def _direct_(t, other, code, scalar_code, sign=1.0):
    """``t (op)= other`` straight into t's memory when nothing is recorded -- the hand-written
    update ``with no_grad(): W -= lr * W.grad`` -- for a contiguous float ``t`` and ``other`` a
    Python number or a tensor of t's dtype that broadcasts to t's shape without overlapping t
    (except as t itself). The general path computes out of place and copies back (two kernel
    calls, an alias, ~3x the Python); this is the same kernel writing in place, so the values
    are the same. Returns False (nothing done) when the case does not apply."""
    # (any Tensor, nn.Parameter included: a Module's parameters updated by hand)
    if t.requires_grad and _grad_enabled() or not isinstance(t, Tensor) or not t._contig \
            or not t.dtype.is_floating_point:
        return False
    dt = t.dtype
    shape = t._shape
    n = (_SHAPES.get(shape) or _shape_info(shape))[1]
    if type(other) is float or type(other) is int:
        if scalar_code is None:
            return False
        rc = K.tl_unary_flat(scalar_code, dt.code, t._ptr, t._ptr, n, sign * other, 0.0)
    elif type(other) is Tensor and other.dtype is dt and not (other.requires_grad and _grad_enabled()):
        if other._data == t._data and (other._ptr != t._ptr or other._strides != t._strides):
            return False       # a different view of t's own memory: the general path's copy
        if other._shape == shape and other._contig:
            rc = K.tl_binary_flat(code, dt.code, t._ptr, t._ptr, other._ptr, n)
        else:
            if broadcast_shapes(shape, other._shape) != shape:
                return False   # t cannot broadcast: the general path raises
            rc = K.tl_binary_forward(code, dt.code, t._ptr, NULL, t._ptr, NULL, other._ptr,
                                     i64(K.broadcast_strides(other, shape)), len(shape), i64(shape))
    else:
        return False
    if rc:
        check(rc, "in-place op")
    st = t._storage       # t._bump_version() written out (a parameter has its Storage already)
    if st is _UNSHARED:
        st = t._shared()
    st.version += 1
    return True


@tensor_method()
def add_(t, other, alpha=1):
    if alpha == 1 and _direct_(t, other, K.TL_ADD, K.TL_ADD_SCALAR):
        return t
    return _inplace(t, "add_", lambda a: ew.add(a, other, alpha=alpha), (other,))


@tensor_method()
def sub_(t, other, alpha=1):
    if alpha == 1 and _direct_(t, other, K.TL_SUB, K.TL_ADD_SCALAR, -1.0):
        return t
    return _inplace(t, "sub_", lambda a: ew.sub(a, other, alpha=alpha), (other,))


@tensor_method()
def mul_(t, other):
    if _direct_(t, other, K.TL_MUL, K.TL_MUL_SCALAR):
        return t
    return _inplace(t, "mul_", lambda a: ew.mul(a, other), (other,))


@tensor_method()
def div_(t, other):
    if not t.dtype.is_floating_point:
        raise TypeError(f"div_: true division of a {t.dtype!r} tensor in place would need a float result")
    if _direct_(t, other, K.TL_DIV, K.TL_DIV_SCALAR):
        return t
    return _inplace(t, "div_", lambda a: ew.div(a, other), (other,))


@tensor_method()
def clamp_(t, min=None, max=None):  # noqa: A002
    return _inplace(t, "clamp_", lambda a: ew.clamp(a, min, max))


# ---- in-place activations: relu_, sigmoid_, tanh_, leaky_relu_ ----------------------------------
# As in PyTorch, their derivatives are read from the result, so the node saves the overwritten
# tensor itself (no copy of the old value is kept): backward works until something modifies the
# tensor again, and a node that saved the old value (x.sigmoid() saves its output) sees the
# version bump and raises. The op's own class is recorded with the tensor's new value in the slot
# its VJP reads: y for sigmoid and tanh; x for relu and leaky_relu, whose derivatives depend only
# on the sign of x, which the result shares (for leaky_relu only when the slope is >= 0: PyTorch
# refuses the backward of a negative slope, and so does _LeakyReluNegativeSlope).

class _LeakyReluNegativeSlope(Function):
    """The node of leaky_relu_ with a negative slope: its result's sign no longer tells which
    branch x took, so, as in PyTorch, its backward raises."""
    op_name = "LeakyRelu"

    @staticmethod
    def formula(ctx, g):
        raise RuntimeError(
            "In-place leakyReLu backward calculation is triggered with a negative slope which is "
            "not supported: call the out-of-place F.leaky_relu(x, negative_slope) instead")


def _activation_(t, name, op, slope=0.0):
    """Overwrite ``t`` with ``op`` (an ops.elementwise unary class) of itself, recording the node
    described above when ``t`` requires grad."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        if op is ew.Relu and t.dtype is dtypes.int64:
            _write(t, ew.clamp(t, 0), name)   # integer relu stays integer, as in PyTorch
            return t
        if op is ew.LeakyRelu:
            raise NotImplementedError(f"{name} is not implemented for {t.dtype!r} tensors")
        raise RuntimeError(f"{name}: result type Float can't be cast to the desired output type "
                           f"{t.dtype!r}; use the out-of-place {name[:-1]}() or convert with .float()")
    _check_leaf(t, name)
    record = _grad_enabled() and t.requires_grad
    old = _graph_alias(t) if record else None
    _write(t, op.apply(t.detach(), slope), name)
    if record:
        if op is ew.LeakyRelu and slope < 0:
            node = _record(_LeakyReluNegativeSlope, _alias(t), (old,), _ONE)
        else:   # (the node's output is set by _replace_history: _record's is a stand-in)
            node = _record(op, _alias(t), (old,), _ONE, (None, t) if "y" in op.saves else (t, None))
            node.params = (slope, 0.0)
            _save_output_weakly(node, t)   # t is the node's output (no cycle: see engine._OUTPUT)
        _replace_history(t, node)
    return t


@tensor_method()
def relu_(t):
    """``t = relu(t)`` in place (int64 tensors stay int64)."""
    return _activation_(t, "relu_", ew.Relu)


@tensor_method()
def sigmoid_(t):
    """``t = sigmoid(t)`` in place."""
    return _activation_(t, "sigmoid_", ew.Sigmoid)


@tensor_method()
def tanh_(t):
    """``t = tanh(t)`` in place."""
    return _activation_(t, "tanh_", ew.Tanh)


def leaky_relu_(t, negative_slope=0.01):
    """``t = leaky_relu(t, negative_slope)`` in place (F.leaky_relu_; not a Tensor method, as in
    PyTorch). A negative slope computes, but its backward raises, as in PyTorch."""
    if not isinstance(negative_slope, numbers.Real):
        raise TypeError(f"leaky_relu_: negative_slope must be a number, got {type(negative_slope).__name__}")
    return _activation_(t, "leaky_relu_", ew.LeakyRelu, float(negative_slope))


def activation_copy_(t, name, fn, *args):
    """``t = fn(t, *args)`` in place for an activation whose node saves its input (silu, elu,
    hardtanh, mish, selu: ``F.<fn>(x, inplace=True)``): computed on a recorded copy of t's value,
    which the node keeps, then written into t."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    return _inplace(t, name, lambda a: fn(a, *args))


def elu_(t, alpha=1.0):
    """``t = elu(t, alpha)`` in place (F.elu_)."""
    return activation_copy_(t, "elu_", ew.elu, alpha)


def hardtanh_(t, min_val=-1.0, max_val=1.0):
    """``t = hardtanh(t, min_val, max_val)`` in place (F.hardtanh_)."""
    return activation_copy_(t, "hardtanh_", ew.hardtanh, min_val, max_val)


def _unary_(t, name, fn):
    """``t = fn(t)`` in place for reciprocal_, rsqrt_, log1p_, expm1_, sign_ (through a recorded
    copy: their nodes save the input). A float result cannot go into an integer tensor
    (RuntimeError, as PyTorch); sign_ keeps an integer tensor's dtype."""
    if isinstance(t, Tensor) and not t.dtype.is_floating_point and fn is not ew.sign:
        raise RuntimeError(f"{name}: result type Float can't be cast to the desired output type "
                           f"{t.dtype!r}; use the out-of-place {name[:-1]}() or convert with .float()")
    return activation_copy_(t, name, fn)


@tensor_method()
def reciprocal_(t):
    """``t = 1 / t`` in place."""
    return _unary_(t, "reciprocal_", ew.reciprocal)


@tensor_method()
def rsqrt_(t):
    """``t = 1 / sqrt(t)`` in place."""
    return _unary_(t, "rsqrt_", ew.rsqrt)


@tensor_method()
def log1p_(t):
    """``t = log1p(t)`` in place."""
    return _unary_(t, "log1p_", ew.log1p)


@tensor_method()
def expm1_(t):
    """``t = expm1(t)`` in place."""
    return _unary_(t, "expm1_", ew.expm1)


@tensor_method()
def sign_(t):
    """``t = sign(t)`` in place (int64 and bool tensors keep their dtype)."""
    return _unary_(t, "sign_", ew.sign)


# Rounding in place (through a recorded copy, as the ops above). An int64 tensor keeps its
# values (PyTorch's floor_ ... trunc_ of integers); frac_ and round_(decimals=) of integers and
# every one of bool raise TypeError, as their out-of-place forms.

@tensor_method()
def floor_(t):
    """``t = floor(t)`` in place."""
    return activation_copy_(t, "floor_", ew.floor)


@tensor_method()
def ceil_(t):
    """``t = ceil(t)`` in place."""
    return activation_copy_(t, "ceil_", ew.ceil)


@tensor_method("trunc_", "fix_")
def trunc_(t):
    """``t = trunc(t)`` in place (``fix_`` is its alias)."""
    return activation_copy_(t, "trunc_", ew.trunc)


@tensor_method()
def round_(t, *, decimals=None):
    """``t = round(t, decimals=decimals)`` in place (halves to even)."""
    if decimals is None:
        return activation_copy_(t, "round_", ew.round)
    return activation_copy_(t, "round_", lambda a: ew.round(a, decimals=decimals))


@tensor_method()
def frac_(t):
    """``t = frac(t)`` in place."""
    return activation_copy_(t, "frac_", ew.frac)


class Overwrite(Function):
    """The op recorded by fill_/zero_/copy_: the old value gets no gradient, src gets g."""

    @staticmethod
    def forward(ctx, old, src):
        ctx.src_shape = src.shape
        out = _empty(old.shape, old.dtype)
        K.copy_into(out, expand(src, old.shape) if src.shape != old.shape else src)
        return out

    @staticmethod
    def formula(ctx, g):
        return None, sum_to(g, ctx.src_shape)


@tensor_method()
def copy_(t, src):
    """Copy ``src`` (broadcast to t's shape, converted to t's dtype) into ``t``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_: src must be a Tensor, got {type(src).__name__}")
    if broadcast_shapes(t.shape, src.shape) != t.shape:
        raise ValueError(f"copy_: source shape {src.shape} cannot be broadcast to {t.shape}")
    if not _grad_enabled() or not (t.requires_grad or src.requires_grad):
        _check_leaf(t, "copy_")
        K.copy_into(t, expand(src.detach(), t.shape))
        t._bump_version()
        return t
    return _inplace(t, "copy_", lambda a: Overwrite.apply(a, src.to(t.dtype)), (src,))


@tensor_method()
def fill_(t, value):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"fill_: value must be a number or a one-element tensor, got shape {value.shape}")
        if _grad_enabled() and value.requires_grad:
            return copy_(t, value.reshape(()))
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"fill_: value must be a number, got {type(value).__name__}")
    _check_leaf(t, "fill_")
    if _grad_enabled() and t.requires_grad:
        return _inplace(t, "fill_", lambda a: Overwrite.apply(a, tensor(value, dtype=t.dtype)))
    iv = int(value) if t.dtype is dtypes.int64 else 0
    check(K.tl_fill(t.dtype.code, t._ptr, i64(t._strides), t.ndim, i64(t.shape), float(value), iv), "fill_")
    t._bump_version()
    return t


@tensor_method()
def zero_(t):
    return fill_(t, 0)


@tensor_method("__setitem__")
def setitem(t, key, value):
    """``t[key] = value`` for basic and integer-array keys (no gradient flows through it)."""
    if _grad_enabled() and t.requires_grad:
        raise RuntimeError("item assignment into a tensor that requires grad is not supported; "
                           "build the result with tl.where or tl.cat, or assign under tl.no_grad()")
    view = getitem(t, key)
    if view._data is not t._data:
        raise IndexError("assignment through integer-array indexing is not supported; use "
                         "basic indexing (ints, slices, None, ...)")
    if isinstance(value, Tensor):
        copy_(view, value)
    else:
        fill_(view, value)


# x += y and friends: in place (the same object), with the rules of the functions above
@tensor_method("__iadd__")
def iadd(t, other):
    return add_(t, other)


@tensor_method("__isub__")
def isub(t, other):
    return sub_(t, other)


@tensor_method("__imul__")
def imul(t, other):
    return mul_(t, other)


@tensor_method("__itruediv__")
def itruediv(t, other):
    return div_(t, other)


def _same_shape_(t, shape, name):
    """PyTorch's RuntimeError when an in-place op's result would broadcast t itself."""
    if shape != t.shape:
        raise RuntimeError(f"{name}: output with shape {list(t.shape)} doesn't match the "
                           f"broadcast shape {list(shape)}")


# (the index functions are looked up at call time: tl.amp wraps them for half tensors)
@tensor_method()
def masked_fill_(t, mask, value):
    """In-place masked_fill: ``value`` where the bool ``mask`` (broadcast to t) is True."""
    if isinstance(mask, Tensor):
        _same_shape_(t, broadcast_shapes(t.shape, mask.shape), "masked_fill_")
    return _inplace(t, "masked_fill_", lambda a: _index.masked_fill(a, mask, value), (value,))


@tensor_method()
def scatter_(t, dim, index, src=None, *, value=None):
    """In-place Tensor.scatter."""
    return _inplace(t, "scatter_", lambda a: _index.scatter(a, dim, index, src, value=value), (src,))


@tensor_method()
def scatter_add_(t, dim, index, src):
    """In-place Tensor.scatter_add."""
    return _inplace(t, "scatter_add_", lambda a: _index.scatter_add(a, dim, index, src), (src,))


@tensor_method()
def tril_(t, diagonal=0):
    """In-place torch.tril (the last two dims; zeros above the ``diagonal``-th diagonal)."""
    return _inplace(t, "tril_", lambda a: _index.tril(a, diagonal))


@tensor_method()
def triu_(t, diagonal=0):
    """In-place torch.triu (the last two dims; zeros below the ``diagonal``-th diagonal)."""
    return _inplace(t, "triu_", lambda a: _index.triu(a, diagonal))
