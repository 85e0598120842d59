"""loss_landscape: the loss along one or two random, filter-normalised directions around the
current parameters (Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of
Neural Nets", NeurIPS 2018) -- lesson 003's picture of what gradient descent sees."""
import numpy as np

from ..autograd import no_grad
from ..creation import linspace, manual_seed, randint, randn, zeros_like
from ..dtypes import float64
from ._common import finish, pyplot

__all__ = ["loss_landscape", "Landscape", "filter_normalized_direction"]


@no_grad()
def filter_normalized_direction(params):
    """One random direction in parameter space, one tensor per parameter: Gaussian entries,
    then each filter (a slice along dim 0: an output unit's weights) rescaled to the norm of
    the same filter of the parameter. A vector (bias, norm scale) is one filter; a scalar keeps
    |d| = |p|. So a step of 1 along it changes every filter by its own size, and pictures of
    differently scaled networks compare (Li et al. 2018, section 4). Draws from tl's seeded
    generator (tl.manual_seed)."""
    out = []
    for p in params:
        d = randn(*p.shape, dtype=p.dtype)
        if p.ndim >= 2:
            dims = tuple(range(1, p.ndim))
            pn = p.detach().norm(dim=dims, keepdim=True)
            dn = d.norm(dim=dims, keepdim=True)
        else:
            pn, dn = p.detach().norm(), d.norm()
        out.append(d * (pn / (dn + 1e-10)))
    return out


class Landscape:
    """``alphas`` (and ``betas`` for a 2-D landscape): the step sizes along each direction;
    ``losses``: the loss at each point, shape (steps,) or (steps, steps) indexed
    [beta, alpha]; all NumPy arrays. ``center_loss``: the loss at the parameters themselves.
    ``plot(path=None, ax=None)`` draws the curve or the contour map."""

    def __init__(self, alphas, betas, losses, center_loss):
        self.alphas, self.betas, self.losses, self.center_loss = alphas, betas, losses, center_loss
        self.dims = 1 if betas is None else 2

    def __repr__(self):
        shape = "x".join(map(str, self.losses.shape))
        return (f"<tl.viz.Landscape: {self.dims}-D, {shape} points, loss {self.losses.min():.4g}"
                f"..{self.losses.max():.4g}, {self.center_loss:.4g} at the parameters>")

    def plot(self, path=None, ax=None):
        """The loss along the direction (1-D) or a filled contour map over the plane (2-D), the
        current parameters marked at 0. Returns the figure. Needs matplotlib."""
        plt = pyplot()
        if ax is None:
            fig, ax = plt.subplots(figsize=(5.5, 4.2) if self.dims == 1 else (5.5, 4.8))
        else:
            fig = ax.figure
        if self.dims == 1:
            ax.plot(self.alphas, self.losses, color="#1f77b4", linewidth=1.8)
            ax.plot([0.0], [self.center_loss], "o", color="#d62728", label="the parameters")
            ax.set_xlabel("step along a filter-normalised random direction")
            ax.set_ylabel("loss")
        else:
            cs = ax.contourf(self.alphas, self.betas, self.losses, levels=20, cmap="viridis")
            ax.contour(self.alphas, self.betas, self.losses, levels=20, colors="k",
                       linewidths=0.3, alpha=0.5)
            fig.colorbar(cs, ax=ax, label="loss")
            ax.plot([0.0], [0.0], "o", color="#d62728", label="the parameters")
            ax.set_xlabel("direction 1")
            ax.set_ylabel("direction 2")
            ax.set_aspect("equal")
            ax.locator_params(nbins=5)
        ax.set_title("loss landscape (filter-normalised directions)")
        ax.legend(fontsize=8, loc="upper right")
        fig.tight_layout()
        return finish(fig, path, plt)


def _loss_value(loss_fn, model):
    loss = loss_fn(model)
    try:
        return float(loss.item())
    except (AttributeError, RuntimeError, ValueError) as e:
        raise TypeError("loss_landscape: loss_fn(model) must return a one-element loss tensor, "
                        f"got {loss!r}") from e


@no_grad()
def loss_landscape(model, loss_fn, steps=41, span=1.0, dims=1, seed=0):
    """The loss ``loss_fn(model)`` (a one-element tensor) at the parameters moved by
    ``alpha * d1`` (and ``+ beta * d2`` for ``dims=2``), alpha and beta in ``steps`` points over
    [-span, span], along random filter-normalised directions (seeded by ``seed``; see
    filter_normalized_direction). The parameters (and buffers, such as BatchNorm's running
    statistics) are restored afterwards, even when loss_fn raises. Returns a :class:`Landscape`."""
    if dims not in (1, 2):
        raise ValueError(f"loss_landscape: dims must be 1 or 2, got {dims}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"loss_landscape: steps must be an int >= 2, got {steps!r}")
    if not span > 0:
        raise ValueError(f"loss_landscape: span must be positive, got {span}")
    params = [p for p in model.parameters() if p.dtype.is_floating_point]
    if not params:
        raise ValueError("loss_landscape: the model has no floating-point parameters")
    # the directions come from tl.manual_seed(seed); the global stream then resumes from a seed
    # drawn first (its state cannot be saved), so later random numbers stay reproducible
    resume = int(randint(0, 2 ** 62, (1,)).item())
    manual_seed(seed)
    try:
        d1 = filter_normalized_direction(params)
        d2 = filter_normalized_direction(params) if dims == 2 else [zeros_like(p) for p in params]
    finally:
        manual_seed(resume)
    start = [p.detach().clone() for p in params]
    # buffers too: a model left in train mode updates BatchNorm's running statistics on every
    # evaluation (call model.eval() first for a landscape of the model as it predicts)
    buffers = [b for _, b in model.named_buffers()] if hasattr(model, "named_buffers") else []
    buffers_start = [b.clone() for b in buffers]
    grid = linspace(-span, span, steps, dtype=float64).tolist()
    try:
        center = _loss_value(loss_fn, model)
        rows = []
        for b in (grid if dims == 2 else [0.0]):
            row = []
            for a in grid:
                for p, p0, u, v in zip(params, start, d1, d2):
                    p.data.copy_(p0 + u * a + v * b)
                row.append(_loss_value(loss_fn, model))
            rows.append(row)
    finally:
        for p, p0 in zip(params + buffers, start + buffers_start):
            p.data.copy_(p0)
    alphas = np.array(grid)
    losses = np.array(rows[0] if dims == 1 else rows)
    return Landscape(alphas, alphas.copy() if dims == 2 else None, losses, center)
