"""The op table: every differentiable op is a ``Function`` subclass in one family module, next to
the C kernels it calls:

    shape.py        <-> csrc/copy.c         views, copies, cat
    index.py        <-> csrc/index.c        integer-array / mask indexing (gather, scatter-add)
    elementwise.py  <-> csrc/elementwise.c  unary, binary, where
    reduce.py       <-> csrc/reduce.c       sum, max, min, arg*, mean, var, logsumexp
    nn.py           <-> csrc/nn.c           softmax, log_softmax, fused losses
    linalg.py       <-> csrc/matmul.c       matmul / @

This package attaches the ops to ``Tensor`` as methods and operators.
"""
from .. import dtypes
from ..autograd import _grad_enabled, backward as _backward
from ..autograd import RemovableHandle
from ..tensor import Tensor
from . import elementwise as ew
from . import reduce as rd
from . import index, inplace, linalg, nn, shape

_METHODS = {
    # shape
    "reshape": shape.reshape, "view": shape.view, "flatten": shape.flatten,
    "squeeze": shape.squeeze, "unsqueeze": shape.unsqueeze, "permute": shape.permute,
    "transpose": shape.transpose, "expand": shape.expand, "split": shape.split,
    "chunk": shape.chunk, "contiguous": shape.contiguous, "clone": shape.clone,
    "to": shape.to, "detach": shape.detach, "narrow": shape.narrow,
    "__getitem__": shape.getitem, "broadcast_to": shape.broadcast_to,
    # elementwise
    "add": ew.add, "sub": ew.sub, "mul": ew.mul, "div": ew.div, "pow": ew.pow,
    "neg": ew.neg, "abs": ew.abs, "exp": ew.exp, "log": ew.log, "sqrt": ew.sqrt, "erf": ew.erf,
    "sin": ew.sin, "cos": ew.cos, "tanh": ew.tanh, "sigmoid": ew.sigmoid, "relu": ew.relu,
    "leaky_relu": ew.leaky_relu, "gelu": ew.gelu, "clamp": ew.clamp, "clip": ew.clamp,
    "maximum": ew.maximum, "minimum": ew.minimum,
    "eq": ew.eq, "ne": ew.ne, "lt": ew.lt, "le": ew.le, "gt": ew.gt, "ge": ew.ge,
    "logical_and": ew.logical_and, "logical_or": ew.logical_or, "logical_not": ew.logical_not,
    # reductions
    "sum": rd.sum, "mean": rd.mean, "max": rd.max, "min": rd.min, "var": rd.var, "std": rd.std,
    "logsumexp": rd.logsumexp, "argmax": rd.argmax, "argmin": rd.argmin,
    # operators
    "__add__": ew._add, "__radd__": lambda a, b: ew.add(b, a),
    "__sub__": ew._sub, "__rsub__": lambda a, b: ew.sub(b, a),
    "__mul__": ew.mul, "__rmul__": lambda a, b: ew.mul(b, a),
    "__truediv__": ew.div, "__rtruediv__": lambda a, b: ew.div(b, a),
    "__pow__": ew.pow, "__rpow__": lambda a, b: ew.pow(b, a),
    "__neg__": ew.neg, "__abs__": ew.abs, "__pos__": lambda a: a,
    "__eq__": ew.eq, "__ne__": ew.ne, "__lt__": ew.lt, "__le__": ew.le, "__gt__": ew.gt,
    "__ge__": ew.ge,
    "__and__": ew.logical_and, "__or__": ew.logical_or, "__invert__": ew.logical_not,
}

_METHODS.update(inplace.METHODS)
_METHODS.update(index.METHODS)
_METHODS.update(nn.METHODS)
_METHODS.update(linalg.METHODS)

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

Tensor.T = property(shape.t_)
Tensor.mT = property(lambda self: shape.transpose(self, -2, -1))
Tensor.float = lambda self: shape.to(self, dtypes.float32)
Tensor.double = lambda self: shape.to(self, dtypes.float64)
Tensor.long = lambda self: shape.to(self, dtypes.int64)
Tensor.bool = lambda self: shape.to(self, dtypes.bool_)


# ---- autograd methods ---------------------------------------------------------------------------

def requires_grad_(self, requires_grad=True):
    if requires_grad and not self.dtype.is_floating_point:
        raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype!r}")
    if not requires_grad and self.grad_fn is not None:
        raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use detach()")
    self.requires_grad = bool(requires_grad)
    return self


def retain_grad(self):
    """Keep .grad on this non-leaf tensor after backward."""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
    if self.grad_fn is not None:
        self.grad_fn.out_ref = self
        self.grad_fn._special = True
        self._retains_grad = True


def register_hook(self, fn):
    """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None return value
    replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is None:
        if self._hooks is None:
            self._hooks = []
        hooks = self._hooks
    else:
        if self.grad_fn.hooks is None:
            self.grad_fn.hooks = []
            self.grad_fn._special = True
        hooks = self.grad_fn.hooks
    hooks.append(fn)
    return RemovableHandle(hooks, fn)


Tensor.backward = _backward
Tensor.requires_grad_ = requires_grad_
Tensor.retain_grad = retain_grad
Tensor.register_hook = register_hook
Tensor.retains_grad = property(lambda self: self._retains_grad)


def _accumulate(acc, g, inplace=False):
    """``acc + g`` for gradient accumulation (in place into ``acc`` when allowed)."""
    if inplace and acc._contig and acc.dtype is g.dtype:
        ew.add_into(acc, g)
        return acc
    return acc + g


def _nonfinite(t):
    return rd.has_nonfinite(t)
