"""Rprop (torch.optim.Rprop): per-element step sizes that grow while the gradient keeps its sign
and shrink when it flips. The update is the fused kernel tl_rprop_step in csrc/optim.c (formula
there)."""
from .optimizer import Optimizer, _check_nonnegative


class Rprop(Optimizer):
    """``Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False)``.
    ``lr`` is only the initial step size of every element (as in PyTorch, a scheduler changing
    it later has no effect on parameters already stepped). State per parameter: ``"step"`` (an
    int), ``"prev"``, ``"step_size"``."""

    _KERNEL = "tl_rprop_step"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 maximize=False):
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _check_nonnegative(g, "lr")
        etaminus, etaplus = g["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")
        if len(g["step_sizes"]) != 2:
            raise ValueError(f"step_sizes must be a pair (min, max), got {g['step_sizes']!r}")

    def _state_buffers(self, group, p):
        state = self.state[p]
        return (self._buffer(state, "prev", p),
                self._buffer(state, "step_size", p, fill=float(group["lr"])))

    def _scalars(self, group, p):
        """Count ``p``'s step and return tl_rprop_step's scalars."""
        self._count_step(p)
        etaminus, etaplus = (float(e) for e in group["etas"])
        lo, hi = (float(s) for s in group["step_sizes"])
        return etaminus, etaplus, lo, hi, int(bool(group["maximize"]))
