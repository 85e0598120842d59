"""Adamax (torch.optim.Adamax): Adam with the infinity norm in place of the second moment. The
update is the fused kernel tl_adamax_step in csrc/optim.c (formula there)."""
from .optimizer import _AdamFamily


class Adamax(_AdamFamily):
    """``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
    maximize=False)``. State per parameter: ``"step"`` (an int), ``"exp_avg"``, ``"exp_inf"``."""

    _KERNEL = "tl_adamax_step"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 maximize=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _state_buffers(self, group, p):
        state = self.state[p]
        return self._buffer(state, "exp_avg", p), self._buffer(state, "exp_inf", p)

    def _scalars(self, group, p):
        """Count ``p``'s step and return tl_adamax_step's scalars (with 1 - beta1^t)."""
        beta1, beta2 = (float(b) for b in group["betas"])
        _, t = self._count_step(p)
        return (float(group["lr"]), beta1, beta2, float(group["eps"]),
                float(group["weight_decay"]), int(bool(group["maximize"])), 1 - beta1 ** t)
