"""Adagrad (torch.optim.Adagrad) with lr_decay, weight decay, initial_accumulator_value and
maximize. The update is the fused kernel tl_adagrad_step in csrc/optim.c (formula there)."""
from .optimizer import Optimizer, _check_nonnegative


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, *, maximize=False)``. Step t uses ``lr / (1 + (t - 1) * lr_decay)``. As in
    PyTorch the state of every parameter is made by the constructor: ``"step"`` (an int, 0) and
    ``"sum"`` (filled with initial_accumulator_value)."""

    _KERNEL = "tl_adagrad_step"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _check_group(self, g):
        _check_nonnegative(g, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _init_state(self, p):
        # (the optimizer's default initial_accumulator_value, not a group's: PyTorch's choice)
        state = self.state[p]
        state.setdefault("step", 0)
        self._buffer(state, "sum", p, fill=float(self.defaults["initial_accumulator_value"]))

    def _state_buffers(self, group, p):
        self._init_state(p)          # a parameter of a group added later
        return (self.state[p]["sum"],)

    def _scalars(self, group, p):
        """Count ``p``'s step and return tl_adagrad_step's scalars (the decayed lr changes
        every step)."""
        _, t = self._count_step(p)
        clr = float(group["lr"]) / (1 + (t - 1) * float(group["lr_decay"]))
        return clr, float(group["eps"]), float(group["weight_decay"]), int(bool(group["maximize"]))
