"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize (torch.optim.SGD).
The update itself is the fused kernel tl_sgd_step in csrc/optim.c (formula there)."""
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
            lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
            wd, nesterov, maximize = float(group["weight_decay"]), int(bool(group["nesterov"])), int(bool(group["maximize"]))
            for p, g in pairs:
                buf, first = None, 0
                if momentum != 0:                  # no state at all without momentum (PyTorch)
                    state = self.state[p]
                    first = int(state.get("momentum_buffer") is None)
                    buf = self._buffer(state, "momentum_buffer", p)
                _apply_update(K.tl_sgd_step, "SGD.step", p, g, (buf,), lr, momentum, dampening, wd,
                              nesterov, maximize, first)
        return loss
