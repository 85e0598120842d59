"""NAdam (torch.optim.NAdam): Adam with Nesterov momentum and a momentum schedule
mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)). The schedule's running product is kept
here; the update is the fused kernel tl_nadam_step in csrc/optim.c (formula there)."""
from .optimizer import _AdamFamily, _check_nonnegative


class NAdam(_AdamFamily):
    """``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False)``. With
    ``decoupled_weight_decay=True`` the parameter is multiplied by ``1 - lr * weight_decay``
    (NAdamW) instead of adding ``weight_decay * param`` to the gradient. State per parameter:
    ``"step"`` (an int), ``"mu_product"`` (a float; a 0-d tensor in PyTorch), ``"exp_avg"``,
    ``"exp_avg_sq"``."""

    _KERNEL = "tl_nadam_step"
    _STATE_SCALARS = {"step": int, "mu_product": float}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g):
        super()._check_group(g)
        _check_nonnegative(g, "momentum_decay")

    def _scalars(self, group, p):
        """Count ``p``'s step, advance its momentum product and return tl_nadam_step's
        scalars: 1 - beta2^t and the coefficients of the gradient and of exp_avg."""
        beta1, beta2 = (float(b) for b in group["betas"])
        lr, psi = float(group["lr"]), float(group["momentum_decay"])
        state, t = self._count_step(p)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = state["mu_product"] = state.get("mu_product", 1.0) * mu
        return (lr, beta1, beta2, float(group["eps"]), float(group["weight_decay"]),
                int(bool(group["decoupled_weight_decay"])), int(bool(group["maximize"])),
                1 - beta2 ** t, lr * (1.0 - mu) / (1.0 - mu_product),
                lr * mu_next / (1.0 - mu_product * mu_next))
