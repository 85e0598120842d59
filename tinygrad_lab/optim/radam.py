"""RAdam (torch.optim.RAdam): Adam whose adaptive step is switched on, with a variance
rectification factor, once the approximated simple moving average is long enough (rho_t > 5);
before that the step is bias-corrected momentum SGD. The factor is computed here; the update is
the fused kernel tl_radam_step in csrc/optim.c (formula there)."""
from .optimizer import _AdamFamily


class RAdam(_AdamFamily):
    """``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, *, maximize=False)``. State per parameter: ``"step"`` (an
    int), ``"exp_avg"``, ``"exp_avg_sq"``."""

    _KERNEL = "tl_radam_step"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, maximize=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _scalars(self, group, p):
        """Count ``p``'s step and return tl_radam_step's scalars: the bias corrections and
        whether (and by how much) this step is rectified."""
        beta1, beta2 = (float(b) for b in group["betas"])
        _, t = self._count_step(p)
        bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / bc2
        rectified = rho_t > 5.0
        rect = (((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                ** 0.5 if rectified else 0.0)
        return (float(group["lr"]), beta1, beta2, float(group["eps"]),
                float(group["weight_decay"]), int(bool(group["decoupled_weight_decay"])),
                int(bool(group["maximize"])), bc1, int(rectified), bc2 ** 0.5, rect)
