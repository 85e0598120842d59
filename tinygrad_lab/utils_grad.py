"""Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_ / get_total_norm /
clip_grads_with_norm_); tl.nn.utils re-exports these. Norms and scaling run as tl ops (C
kernels) under no_grad; gradients are modified in place."""
import math

from . import dtypes
from .autograd import no_grad
from .ops.shape import stack
from .creation import tensor, zeros
from .tensor import Tensor


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(t, p):
    """The p-norm of all elements of ``t`` as a 0-d tensor of t's dtype (p = inf: max |x|,
    -inf: min |x|, 0: number of nonzeros)."""
    if t.numel() == 0:
        return zeros((), dtype=t.dtype)
    if p == math.inf:
        return t.abs().max()
    if p == -math.inf:
        return t.abs().min()
    if p == 0:
        return (t != 0).sum().to(t.dtype)
    if p == 1:
        return t.abs().sum()
    if p == 2:
        return (t * t).sum().sqrt()
    return (t.abs() ** p).sum() ** (1.0 / p)


@no_grad()
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The ``norm_type``-norm of all the given tensors together, as if concatenated into one
    vector (computed as the norm of their norms), as a 0-d Tensor."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    for t in tensors:
        if not isinstance(t, Tensor) or not t.dtype.is_floating_point:
            raise TypeError("get_total_norm expects float32/float64 Tensors, got "
                            f"{t.dtype if isinstance(t, Tensor) else type(t).__name__}")
    norms = [_vector_norm(t, norm_type) for t in tensors]
    dt = dtypes.float64 if any(n.dtype is dtypes.float64 for n in norms) else dtypes.float32
    total = _vector_norm(stack([n.to(dt) for n in norms]), norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and scale the "
                           "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


@no_grad()
def clip_grads_with_norm_(parameters, max_norm, total_norm):
    """Scale every gradient by ``min(max_norm / (total_norm + 1e-6), 1)`` in place."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.item())     # the coefficient is rounded to each gradient's dtype


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Rescale the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    (all gradients seen as one vector) is at most ``max_norm``: each is multiplied by
    ``min(max_norm / (total_norm + 1e-6), 1)``. Returns the total norm before clipping (a 0-d
    Tensor). Parameters without a gradient are skipped."""
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


@no_grad()
def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient of ``parameters`` to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)
