"""Adam and AdamW (torch.optim.Adam / AdamW), with amsgrad and maximize. The bias corrections
1 - beta1^t and sqrt(1 - beta2^t) are computed here; the update is the fused kernel
tl_adam_step in csrc/optim.c (formula there)."""
from functools import partial

from .. import kernels as K
from ..autograd import no_grad
from .optimizer import _AdamFamily, _apply_update


class Adam(_AdamFamily):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    maximize=False, decoupled_weight_decay=False)``. weight_decay adds ``weight_decay * param``
    to the gradient (L2), or with ``decoupled_weight_decay=True`` (= AdamW) multiplies the
    parameter by ``1 - lr * weight_decay`` first. State per parameter: ``"step"`` (an int),
    ``"exp_avg"``, ``"exp_avg_sq"`` and, with amsgrad, ``"max_exp_avg_sq"``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        betas = tuple(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        self._check_group(defaults)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = self._closure_loss(closure)
        capturing = K.capturing()
        for group, p, g in self._with_grads():
            state = self.state[p]
            m = self._buffer(state, "exp_avg", p)
            v = self._buffer(state, "exp_avg_sq", p)
            vmax = self._buffer(state, "max_exp_avg_sq", p) if group["amsgrad"] else None
            _apply_update(K.tl_adam_step, f"{type(self).__name__}.step", p, g, (m, v, vmax),
                          *self._scalars(group, p),
                          refresh=partial(self._scalars, group, p) if capturing else None)
        return loss

    def _scalars(self, group, p):
        """Count ``p``'s step and return tl_adam_step's scalars for it (the bias corrections
        1 - beta1^t and sqrt(1 - beta2^t) change every step)."""
        beta1, beta2 = (float(b) for b in group["betas"])
        _, t = self._count_step(p)
        return (float(group["lr"]), beta1, beta2, float(group["eps"]), float(group["weight_decay"]),
                int(bool(group["decoupled_weight_decay"])), int(bool(group["maximize"])),
                1 - beta1 ** t, (1 - beta2 ** t) ** 0.5)


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    *, maximize=False)``: Adam with decoupled weight decay (the parameter is multiplied by
    ``1 - lr * weight_decay`` before the Adam step)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
