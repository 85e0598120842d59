"""Adadelta (torch.optim.Adadelta). The update is the fused kernel tl_adadelta_step in
csrc/optim.c (formula there)."""
from .optimizer import Optimizer, _check_nonnegative


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)``.
    State per parameter: ``"step"`` (an int), ``"square_avg"``, ``"acc_delta"``."""

    _KERNEL = "tl_adadelta_step"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _check_nonnegative(g, "lr")
        if not 0.0 <= g["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {g['rho']}")
        _check_nonnegative(g, "eps", "weight_decay")

    def _state_buffers(self, group, p):
        state = self.state[p]
        return self._buffer(state, "square_avg", p), self._buffer(state, "acc_delta", p)

    def _scalars(self, group, p):
        """Count ``p``'s step and return tl_adadelta_step's scalars."""
        self._count_step(p)
        return (float(group["lr"]), float(group["rho"]), float(group["eps"]),
                float(group["weight_decay"]), int(bool(group["maximize"])))
