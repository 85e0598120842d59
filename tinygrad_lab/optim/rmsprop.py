"""RMSprop (torch.optim.RMSprop) with weight decay, momentum, centering and maximize. The update
is the fused kernel tl_rmsprop_step in csrc/optim.c (formula there)."""
from functools import partial

from .. import kernels as K
from ..autograd import no_grad
from .optimizer import Optimizer, _apply_update, _check_nonnegative


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, *, maximize=False)``. State per parameter: ``"step"`` (an int),
    ``"square_avg"``, ``"momentum_buffer"`` (momentum > 0) and ``"grad_avg"`` (centered), all
    starting at zero."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _check_nonnegative(g, "lr", "eps", "momentum", "weight_decay", "alpha")

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = self._closure_loss(closure)
        capturing = K.capturing()
        for group, p, g in self._with_grads():
            momentum = float(group["momentum"])
            state = self.state[p]
            sq = self._buffer(state, "square_avg", p)
            buf = self._buffer(state, "momentum_buffer", p) if momentum > 0 else None
            gavg = self._buffer(state, "grad_avg", p) if group["centered"] else None
            _apply_update(K.tl_rmsprop_step, "RMSprop.step", p, g, (sq, gavg, buf),
                          *self._scalars(group, p, momentum > 0),
                          refresh=partial(self._scalars, group, p, momentum > 0) if capturing else None)
        return loss

    def _scalars(self, group, p, had_momentum):
        """Count ``p``'s step and return tl_rmsprop_step's scalars. ``had_momentum``: whether
        the momentum buffer is in use (a tl.jit replay cannot switch it on or off)."""
        self._count_step(p)
        momentum = float(group["momentum"])
        if (momentum > 0) != had_momentum:
            raise RuntimeError("tl.jit: RMSprop's momentum changed between zero and non-zero "
                               "since the step was captured; call reset() on the jitted step")
        return (float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                float(group["weight_decay"]), momentum, int(bool(group["maximize"])))
