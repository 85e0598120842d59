"""The op table: every differentiable op is a ``Function`` subclass in one family module, next to
the C kernels it calls (shape.py <-> csrc/copy.c, elementwise.py <-> csrc/elementwise.c, ...).
This package attaches the ops to ``Tensor`` as methods and operators."""
from ..tensor import Tensor
from . import shape

_METHODS = {
    # shape
    "reshape": shape.reshape, "view": shape.view, "flatten": shape.flatten,
    "squeeze": shape.squeeze, "unsqueeze": shape.unsqueeze, "permute": shape.permute,
    "transpose": shape.transpose, "expand": shape.expand, "split": shape.split,
    "chunk": shape.chunk, "contiguous": shape.contiguous, "clone": shape.clone,
    "to": shape.to, "detach": shape.detach, "narrow": shape.narrow,
    "__getitem__": shape.getitem, "broadcast_to": shape.broadcast_to,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

Tensor.T = property(shape.t_)
Tensor.float = lambda self: shape.to(self, "float32")
Tensor.double = lambda self: shape.to(self, "float64")
Tensor.long = lambda self: shape.to(self, "int64")
Tensor.bool = lambda self: shape.to(self, "bool")


def _accumulate(acc, g, inplace=False):
    """``acc + g`` for gradient accumulation (in place into ``acc`` when allowed)."""
    if inplace:
        from .elementwise import add_into
        add_into(acc, g)
        return acc
    return acc + g


def _nonfinite(t):
    from .reduce import has_nonfinite
    return has_nonfinite(t)
