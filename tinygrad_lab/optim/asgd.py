"""ASGD (torch.optim.ASGD): SGD with a decaying step size eta_t and a running average ``ax`` of
the parameter (from step t0 on). eta and mu are per-parameter scalars kept here; the update is
the fused kernel tl_asgd_step in csrc/optim.c (formula there)."""
from .optimizer import Optimizer, _check_nonnegative


class ASGD(Optimizer):
    """``ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *,
    maximize=False)`` (``maximize`` is keyword-only here). After step t:
    ``eta = lr / (1 + lambd * lr * t) ** alpha`` and ``mu = 1 / max(1, t - t0)``. State per
    parameter: ``"step"`` (an int), ``"eta"`` and ``"mu"`` (floats; 0-d tensors in PyTorch),
    ``"ax"``."""

    _KERNEL = "tl_asgd_step"
    _STATE_SCALARS = {"step": int, "eta": float, "mu": float}

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *,
                 maximize=False):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _check_nonnegative(g, "lr", "weight_decay")

    def _state_buffers(self, group, p):
        return (self._buffer(self.state[p], "ax", p),)

    def _scalars(self, group, p):
        """Count ``p``'s step and return tl_asgd_step's scalars (this step's eta and mu), then
        advance eta and mu for the next step."""
        lr, lambd = float(group["lr"]), float(group["lambd"])
        state, t = self._count_step(p)
        eta, mu = state.get("eta", lr), state.get("mu", 1.0)
        state["eta"] = lr / ((1 + lambd * lr * t) ** float(group["alpha"]))
        state["mu"] = 1 / max(1, t - float(group["t0"]))
        return eta, 1 - lambd * eta, mu, float(group["weight_decay"]), int(bool(group["maximize"]))
