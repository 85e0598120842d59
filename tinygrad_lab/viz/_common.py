"""What the tl.viz tools share: gradient statistics computed with tl ops, number formatting,
and the optional matplotlib import."""
import math

from ..autograd import no_grad
from ..dtypes import float64
from ..ops.elementwise import isfinite
from ..ops.shape import cat, stack

MATPLOTLIB_HINT = ('matplotlib is needed to draw this chart: pip install "tinygrad_lab[viz]" '
                   '(or pip install matplotlib)')


def pyplot():
    """matplotlib.pyplot, or an ImportError saying what to install. (Imported on first use, so
    `import tinygrad_lab` stays fast and matplotlib stays optional; its backend is whatever
    matplotlib picks: a window, Jupyter's inline one, or Agg on a machine without a display.)"""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(MATPLOTLIB_HINT) from e
    return plt


def finish(fig, path, plt):
    """Save ``fig`` to ``path`` (and close it) when a path is given; return ``fig``."""
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
    return fig


@no_grad()
def norm(t):
    """The 2-norm of tensor ``t`` as a float, computed in float64 (so a float32 tensor of large
    but finite values does not overflow to inf)."""
    return t.detach().norm(dtype=float64).item()


@no_grad()
def norms(tensors):
    """The 2-norms of many tensors as floats (float64 math), with one stack and one norm per
    distinct (shape, dtype) rather than one per tensor: drawing a 10,000-node graph's gradients
    costs a few ops, not 10,000 of them."""
    out = [0.0] * len(tensors)
    groups = {}
    for i, t in enumerate(tensors):
        groups.setdefault((t.shape, t.dtype), []).append(i)
    for (shape, _), idx in groups.items():
        if len(idx) == 1:
            out[idx[0]] = norm(tensors[idx[0]])
            continue
        n = 1
        for s in shape:
            n *= s
        group = [tensors[i] for i in idx]    # (no_grad: nothing is recorded, no detach needed)
        # cat along dim 0 (one view per tensor fewer than stack), except for 0-d tensors
        rows = (cat(group) if shape else stack(group)).reshape(len(idx), n)
        for i, v in zip(idx, rows.norm(dim=1, dtype=float64).tolist()):
            out[i] = v
    return out


@no_grad()
def all_finite(t):
    return bool(isfinite(t.detach()).all().item())


def fmt_bytes(n):
    """1234567 -> '1.2 MB' (powers of 1000, as the lessons count)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def fmt_num(v):
    """A gradient statistic, short: '3.1e-04', '0', 'nan', 'inf'."""
    if v is None:
        return "-"
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return "0" if v == 0 else f"{v:.2e}"
