"""grad_flow and GradMonitor: per-parameter gradient statistics, with the vanishing / exploding
/ NaN flags lessons 001-003 compute by hand, once or over training."""
import math

from ..tensor import Tensor
from ._common import all_finite, finish, fmt_num, norm, pyplot

__all__ = ["grad_flow", "GradFlowReport", "GradMonitor"]

STATUS_COLOURS = {"ok": "#4c9be8", "vanishing": "#9e9e9e", "exploding": "#f0a030",
                  "nan": "#e03030", "none": "#ffffff"}


def _named(model_or_named_parameters):
    """(name, tensor) pairs from a Module, a dict, or an iterable of pairs or tensors."""
    src = model_or_named_parameters
    if hasattr(src, "named_parameters"):
        return list(src.named_parameters())
    if isinstance(src, dict):
        return list(src.items())
    pairs = []
    for i, item in enumerate(src):
        if isinstance(item, Tensor):
            pairs.append((str(i), item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor):
            pairs.append((str(item[0]), item[1]))
        else:
            raise TypeError("grad_flow: expected a Module, a dict name -> tensor, or an iterable "
                            f"of (name, tensor) pairs or tensors; got an item of type "
                            f"{type(item).__name__}")
    return pairs


class GradFlowReport:
    """``rows``: per parameter a dict with ``name``, ``shape``, ``grad_mean_abs``,
    ``grad_max_abs``, ``grad_norm``, ``param_norm``, ``ratio`` (grad_norm / param_norm: the
    relative size of an SGD step per unit learning rate) and ``status``:

    - ``"none"``: no gradient (``.grad`` is None: unused, or backward not run);
    - ``"nan"``: the gradient holds NaN or Inf;
    - ``"vanishing"``: gradient norm below ``vanishing`` (default 1e-7);
    - ``"exploding"``: gradient norm above ``exploding`` (default 1e3);
    - ``"ok"`` otherwise.

    ``str(report)`` is a table; ``plot(path=None, ax=None)`` draws the bar chart."""

    def __init__(self, rows, vanishing, exploding):
        self.rows, self.vanishing, self.exploding = rows, vanishing, exploding

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, name):
        for r in self.rows:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def __str__(self):
        w = max([len(r["name"]) for r in self.rows] + [9])
        cols = ("shape", "mean |g|", "max |g|", "|g|", "|param|", "|g|/|param|", "status")
        head = f"{'parameter':<{w}}  {cols[0]:<12}" + "".join(f"{c:>12}" for c in cols[1:6]) + \
            f"  {cols[6]}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            shape = "x".join(map(str, r["shape"])) or "scalar"
            nums = (r["grad_mean_abs"], r["grad_max_abs"], r["grad_norm"], r["param_norm"],
                    r["ratio"])
            flag = r["status"] if r["status"] == "ok" else r["status"].upper()
            cells = "".join(f"{fmt_num(v):>12}" for v in nums)
            lines.append(f"{r['name']:<{w}}  {shape:<12}{cells}  {flag}")
        counts = {}
        for r in self.rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        lines.append(f"{len(self.rows)} parameters: {summary}  (vanishing: |g| < "
                     f"{self.vanishing:g}; exploding: |g| > {self.exploding:g})")
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def plot(self, path=None, ax=None):
        """Lesson 003's chart: per parameter, from input to output, the gradient norm (bar,
        coloured by status: the norm is what the status is decided on) and the mean |gradient|
        (dot), on a log scale, with the vanishing threshold (and the exploding one when a norm
        comes near it). Saves to ``path`` when given; draws into ``ax`` when given. Returns the
        figure. Needs matplotlib (``pip install "tinygrad_lab[viz]"``)."""
        plt = pyplot()
        if ax is None:
            fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(self.rows) + 2.5), 4.2))
        else:
            fig = ax.figure
        xs = list(range(len(self.rows)))
        tiny = self.vanishing / 10   # where a zero, missing or non-finite value is drawn

        def h(v):
            return v if v is not None and math.isfinite(v) and v > 0 else tiny
        norms = [h(r["grad_norm"]) for r in self.rows]
        ax.bar(xs, norms, width=0.7, color=[STATUS_COLOURS[r["status"]] for r in self.rows],
               edgecolor="#333333", linewidth=0.6)
        ax.plot(xs, [h(r["grad_mean_abs"]) for r in self.rows], "o", color="#222222",
                markersize=3.5)
        for x, r in zip(xs, self.rows):
            if r["status"] in ("nan", "none"):
                colour = "#e03030" if r["status"] == "nan" else "#555555"
                ax.text(x, tiny, " " + r["status"].upper(), rotation=90, ha="center",
                        va="bottom", fontsize=8, color=colour)
        ax.set_yscale("log")
        top = max(norms + [self.vanishing])
        handles = [plt.Rectangle((0, 0), 1, 1, facecolor=STATUS_COLOURS["ok"], edgecolor="#333333"),
                   plt.Line2D([], [], marker="o", color="#222222", linestyle="", markersize=3.5)]
        labels = ["gradient norm", "mean |gradient|"]
        for status in ("vanishing", "exploding", "nan"):
            if any(r["status"] == status for r in self.rows):
                handles.append(plt.Rectangle((0, 0), 1, 1, facecolor=STATUS_COLOURS[status],
                                             edgecolor="#333333"))
                labels.append(f"status: {status}")
        bottom = min(norms + [r["grad_mean_abs"] for r in self.rows
                              if r["grad_mean_abs"] and math.isfinite(r["grad_mean_abs"])])
        if bottom < self.vanishing * 100:      # the thresholds, when the bars come near them
            handles.append(ax.axhline(self.vanishing, color="#777777", linestyle="--", linewidth=1))
            labels.append(f"vanishing: norm < {self.vanishing:g}")
            bottom = min(bottom, self.vanishing)
        if top > self.exploding / 100:
            handles.append(ax.axhline(self.exploding, color="#f0a030", linestyle="--", linewidth=1))
            labels.append(f"exploding: norm > {self.exploding:g}")
            top = max(top, self.exploding)
        ax.set_ylim(bottom / 3, top * 1e3)      # headroom above the bars for the legend
        ax.set_xticks(xs)
        ax.set_xticklabels([r["name"] for r in self.rows], rotation=45, ha="right", fontsize=9)
        ax.set_xlim(-0.6, len(self.rows) - 0.4)
        ax.set_ylabel("|gradient| (log scale)")
        ax.set_title("gradient flow: input layer (left) to output (right)")
        ax.legend(handles, labels, fontsize=8, loc="upper left", ncol=2, framealpha=0.9)
        ax.grid(axis="y", which="major", alpha=0.3)
        fig.tight_layout()
        return finish(fig, path, plt)


def _status(g, gnorm, vanishing, exploding):
    if g is None:
        return "none"
    if not math.isfinite(gnorm) and not all_finite(g):
        return "nan"
    if gnorm < vanishing:
        return "vanishing"
    if gnorm > exploding:
        return "exploding"
    return "ok"


def grad_flow(model_or_named_parameters, vanishing=1e-7, exploding=1e3):
    """Per-parameter gradient statistics after ``backward()``: a :class:`GradFlowReport`
    (``print(report)`` for the table, ``report.plot()`` for the chart). Accepts a Module, a dict
    name -> tensor, or (name, tensor) pairs such as ``model.named_parameters()``. All numbers are
    computed with tl ops (norms in float64)."""
    rows = []
    for name, p in _named(model_or_named_parameters):
        g = p.grad
        pn = norm(p)
        if g is None:
            mean_abs = max_abs = gn = ratio = None
        else:
            ga = g.detach().abs()
            mean_abs = ga.mean().item() if g.numel() else 0.0
            max_abs = ga.max().item() if g.numel() else 0.0
            gn = norm(g)
            ratio = gn / pn if pn > 0 else math.inf if gn > 0 else 0.0
        rows.append({"name": name, "shape": tuple(p.shape), "grad_mean_abs": mean_abs,
                     "grad_max_abs": max_abs, "grad_norm": gn, "param_norm": pn, "ratio": ratio,
                     "status": _status(g, gn, vanishing, exploding)})
    return GradFlowReport(rows, vanishing, exploding)


class GradMonitor:
    """Record each parameter's gradient norm over training (lesson 003's "tracking gradients
    during training"): hooks on the parameters sum the gradients each backward sends them, and
    ``step()`` (call it once per training step, after backward) appends their norm to
    ``history[name]`` (NaN for a step in which no gradient reached the parameter).
    ``plot(path=None)`` draws the norms over steps; ``remove()`` detaches the hooks (hooked
    parameters take backward's slower path for leaves with hooks: remove them when done)."""

    def __init__(self, model):
        self.history = {}
        self._pending = {}
        self._handles = []
        for name, p in _named(model):
            if not p.requires_grad:
                continue
            self.history[name] = []
            self._handles.append(p.register_hook(self._hook(name)))

    def _hook(self, name):
        def record(g):
            prev = self._pending.get(name)
            self._pending[name] = g.detach() if prev is None else prev + g.detach()
        return record

    def step(self):
        """Record this step's gradient norm of every parameter; returns them as a dict."""
        now = {}
        for name, hist in self.history.items():
            g = self._pending.pop(name, None)
            hist.append(norm(g) if g is not None else math.nan)
            now[name] = hist[-1]
        self._pending.clear()
        return now

    def remove(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    def plot(self, path=None, ax=None):
        """Gradient norm per parameter over the recorded steps (log scale). Returns the figure;
        saves it to ``path`` when given. Needs matplotlib."""
        plt = pyplot()
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 4.2))
        else:
            fig = ax.figure
        cmap = plt.get_cmap("viridis")
        n = max(len(self.history) - 1, 1)
        for i, (name, hist) in enumerate(self.history.items()):
            ax.plot(range(1, len(hist) + 1), hist, label=name, color=cmap(i / n), linewidth=1.4)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("gradient norm (log scale)")
        ax.set_title("gradient norms during training")
        ax.legend(fontsize=8, ncol=2 if len(self.history) > 6 else 1, loc="best")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return finish(fig, path, plt)
