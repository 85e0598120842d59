"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize (torch.optim.SGD).
The update itself is the fused kernel tl_sgd_step in csrc/optim.c (formula there)."""
from functools import partial

from .. import kernels as K
from ..autograd import no_grad
from .optimizer import Optimizer, _apply_update, _check_nonnegative, _params_with_grad


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
    maximize=False)``. The momentum buffer is the gradient itself on a parameter's first step,
    as in PyTorch (no dampening then). State per parameter: ``"momentum_buffer"`` (only when
    momentum != 0)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _check_nonnegative(g, "lr", "momentum", "weight_decay")
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            pairs = _params_with_grad(group)
            if not pairs:
                continue
            momentum = float(group["momentum"])
            scalars = _scalars(group, momentum != 0)
            refresh = partial(_scalars, group, momentum != 0) if K.capturing() else None
            for p, g in pairs:
                buf, first = None, 0
                if momentum != 0:                  # no state at all without momentum (PyTorch)
                    state = self.state[p]
                    first = int(state.get("momentum_buffer") is None)
                    buf = self._buffer(state, "momentum_buffer", p)
                _apply_update(K.tl_sgd_step, "SGD.step", p, g, (buf,), *scalars[:-1], first,
                              refresh=refresh)
        return loss


def _scalars(group, momentum):
    """The tl_sgd_step scalars of ``group`` for a step that is not a parameter's first (lr,
    momentum, dampening, weight_decay, nesterov, maximize, first_step=0). ``momentum``: whether
    the captured step had momentum buffers (a tl.jit replay cannot switch them on or off)."""
    m = float(group["momentum"])
    if (m != 0) != momentum:
        raise RuntimeError("tl.jit: SGD's momentum changed between zero and non-zero since the "
                           "step was captured; call reset() on the jitted step")
    return (float(group["lr"]), m, float(group["dampening"]), float(group["weight_decay"]),
            int(bool(group["nesterov"])), int(bool(group["maximize"])), 0)
