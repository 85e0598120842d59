"""The quick-start demo (`python -m tinygrad_lab demo`): an MLP built with tl.nn learns three
interleaved spirals with tl.optim.Adam, a gradcheck verifies the trained model's gradients, and
the learned decision regions are drawn in the terminal (and, with matplotlib, to a PNG).

Everything is generated here from the seeded tl RNG, so it needs no download and no package
beyond tinygrad_lab itself; every forward and backward runs in the C core.

With --explain it also shows what backward did in one training step (tl.viz): the step's graph
(ops, bytes saved for backward, every tensor's gradient norm) written to an SVG (or to DOT text
without Graphviz), the per-layer gradient-flow table and its bar chart (a PNG, with matplotlib),
and the memory the step's graph kept for backward.

Exit status: 0 on success; 1 when gradcheck fails, or when training with the default settings
(--steps, --hidden, --lr left alone; any --seed) ends below 95% training accuracy.
"""
import math
import os
import sys
import time

import numpy as np

import tinygrad_lab as tl
from tinygrad_lab import _terminal
from tinygrad_lab.nn import functional as F

DEFAULTS = {"steps": 400, "seed": 0, "hidden": 64, "lr": 0.01, "threads": 1}
TARGET_ACCURACY = 0.95
N_CLASSES = 3
POINTS_PER_CLASS = 200
TURNS = 1.5          # how far each spiral arm winds around the centre
NOISE = 0.03         # std of the Gaussian jitter added to each point


def make_spirals(n_per_class=POINTS_PER_CLASS, n_classes=N_CLASSES, seed=0, turns=TURNS, noise=NOISE):
    """``n_classes`` interleaved spiral arms in the unit disc: x (N, 2) float32, y (N,) int64.

    Arm k holds the points r * (cos t, sin t) with r uniform in [0.1, 1] and the angle
    t = 2 pi (turns * r + k / n_classes), plus Gaussian noise; drawn with tl.manual_seed(seed).
    """
    tl.manual_seed(seed)
    xs, ys = [], []
    for k in range(n_classes):
        r = tl.rand(n_per_class) * 0.9 + 0.1
        t = (r * turns + k / n_classes) * (2 * math.pi)
        arm = tl.stack([r * t.cos(), r * t.sin()], 1) + tl.randn(n_per_class, 2) * noise
        xs.append(arm)
        ys.append(tl.full((n_per_class,), k, dtype=tl.int64))
    return tl.cat(xs, 0), tl.cat(ys, 0)


def make_model(hidden, n_classes=N_CLASSES, dtype=None):
    """2 -> hidden -> hidden -> n_classes with ReLUs: the logits for cross-entropy."""
    nn = tl.nn
    return nn.Sequential(nn.Linear(2, hidden, dtype=dtype), nn.ReLU(),
                         nn.Linear(hidden, hidden, dtype=dtype), nn.ReLU(),
                         nn.Linear(hidden, n_classes, dtype=dtype))


def accuracy(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


def train(model, x, y, steps, lr, quiet=False):
    """Full-batch Adam on the cross-entropy loss; returns the per-step (loss, accuracy) history."""
    opt = tl.optim.Adam(model.parameters(), lr=lr)
    bar = None if quiet else _terminal.ProgressBar(steps, label="  ")
    history = []
    for step in range(1, steps + 1):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((loss.item(), accuracy(logits.detach(), y)))
        if bar is not None:
            bar.update(step, loss=f"{history[-1][0]:.4f}", acc=f"{100 * history[-1][1]:5.1f}%")
    if bar is not None:
        bar.close()
    return history


def check_gradients(model, x, y, hidden, batch=8):
    """gradcheck the trained model's loss on a small batch, w.r.t. every parameter, in float64.

    gradcheck perturbs the tensors it is given in place, so a closure over the float64 copy's
    own parameters sees each perturbation. Returns (passed, number of parameter elements, error).
    """
    model64 = make_model(hidden, dtype=tl.float64)
    model64.load_state_dict(model.state_dict())
    xb, yb = x[:batch].double(), y[:batch]
    params = tuple(model64.parameters())
    try:
        ok = tl.autograd.gradcheck(lambda *ps: F.cross_entropy(model64(xb), yb), params,
                                   atol=1e-8, rtol=1e-4)
        err = None
    except tl.autograd.GradcheckError as e:
        ok, err = False, str(e)
    return ok, sum(p.numel() for p in params), err


def predict_grid(model, cols, rows, lim):
    """Predicted class at the centre of each cell of a cols x rows grid over [-lim, lim]^2
    (top row = largest y)."""
    xs = [-lim + (c + 0.5) * 2 * lim / cols for c in range(cols)]
    ys = [lim - (r + 0.5) * 2 * lim / rows for r in range(rows)]
    pts = tl.tensor([[px, py] for py in ys for px in xs])
    with tl.no_grad():
        pred = model(pts).argmax(1).tolist()
    return [pred[r * cols:(r + 1) * cols] for r in range(rows)]


def draw_boundary(model, x, y, cols=64, rows=28, lim=1.15):
    grid = predict_grid(model, cols, rows, lim)
    cells = []
    for (px, py), label in zip(x.tolist(), y.tolist()):
        c = int((px + lim) / (2 * lim) * cols)
        r = int((lim - py) / (2 * lim) * rows)
        if 0 <= c < cols and 0 <= r < rows:
            cells.append((r, c, label))
    return _terminal.render_regions(grid, cells)


def save_plot(path, model, x, y, history):
    """Loss/accuracy curves and the decision regions with the data, to ``path`` (matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--plot: matplotlib is not installed, so {path} was not written "
              "(pip install matplotlib to get the plot); everything else ran as usual.")
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
    steps = np.arange(1, len(history) + 1)
    ax1.plot(steps, [h[0] for h in history], color="tab:blue", label="loss")
    ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_ylabel("cross-entropy loss (log scale)", color="tab:blue")
    ax1b = ax1.twinx()
    ax1b.plot(steps, [h[1] for h in history], color="tab:orange", label="accuracy")
    ax1b.set_ylabel("training accuracy", color="tab:orange")
    ax1b.set_ylim(0, 1.02)
    ax1.set_title("training")
    n = 200
    grid = predict_grid(model, n, n, 1.15)
    ax2.imshow(np.array(grid), extent=(-1.15, 1.15, -1.15, 1.15), origin="upper",
               cmap="Pastel1", vmin=0, vmax=8, interpolation="nearest")
    xy, lab = x.numpy(), y.numpy()
    for k, m in zip(range(N_CLASSES), "ox+"):
        sel = lab == k
        ax2.scatter(xy[sel, 0], xy[sel, 1], s=10, marker=m, label=f"class {k}",
                    color=plt.get_cmap("Set1")(k))
    ax2.set_title("decision regions and training points")
    ax2.set_aspect("equal")
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"saved the loss curve and the decision regions to {path}")
    return True


def explain(model, x, y, out_dir="."):
    """One more training step, seen through tl.viz: its graph drawn to
    ``out_dir/demo_graph.svg`` (``.dot`` without Graphviz), the gradient-flow table printed and
    charted to ``out_dir/demo_grad_flow.png`` (skipped, saying why, without matplotlib), and the
    bytes its graph kept for backward. Returns the paths written."""
    print("\n--explain: one training step, seen through tl.viz")
    loss = F.cross_entropy(model(x), y)
    memory = tl.viz.memory_report(loss)
    tl.viz.retain_grads(loss)            # keep every tensor's gradient for the drawing
    model.zero_grad()
    loss.backward()
    written = []
    graph = tl.viz.draw_graph(loss, params=dict(model.named_parameters()))
    svg = os.path.join(out_dir, "demo_graph.svg")
    try:
        written.append(graph.save(svg))
        print(f"  the step's graph ({graph.num_nodes} nodes: ops, bytes saved for backward, "
              f"gradient norms): {svg}")
    except tl.viz.GraphvizNotFoundError:
        dot = graph.save(os.path.join(out_dir, "demo_graph.dot"))
        written.append(dot)
        print(f"  skipped {svg}: Graphviz's `dot` is not installed (apt-get install graphviz / "
              f"brew install graphviz);\n  wrote the graph as DOT text instead: {dot}")
    print(f"  memory kept for backward: {memory.total_bytes / 1000:.1f} kB in {len(memory.rows)} "
          "nodes (tl.viz.memory_report)")
    report = tl.viz.grad_flow(model)
    print("  gradient flow (tl.viz.grad_flow):")
    print("\n".join("    " + line for line in str(report).splitlines()))
    png = os.path.join(out_dir, "demo_grad_flow.png")
    try:
        report.plot(png)
        written.append(png)
        print(f"  the gradient-flow chart: {png}")
    except ImportError:
        print(f"  skipped {png}: matplotlib is not installed "
              '(pip install "tinygrad_lab[viz]" to get the chart)')
    model.zero_grad()
    return written


def run(steps=DEFAULTS["steps"], seed=DEFAULTS["seed"], hidden=DEFAULTS["hidden"], lr=DEFAULTS["lr"],
        threads=DEFAULTS["threads"], plot=None, quiet=False, explain_dir=None):
    """Run the demo; returns the process exit status (see the module docstring). With
    ``explain_dir`` (--explain), also writes the tl.viz pictures of one step there."""
    prev_threads = tl.get_num_threads()
    tl.set_num_threads(threads)
    try:
        return _run(steps, seed, hidden, lr, plot, quiet, explain_dir)
    finally:
        tl.set_num_threads(prev_threads)


def _run(steps, seed, hidden, lr, plot, quiet, explain_dir=None):
    t_start = time.perf_counter()
    x, y = make_spirals(seed=seed)
    tl.manual_seed(seed)
    model = make_model(hidden)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"tinygrad_lab demo: a 2-{hidden}-{hidden}-{N_CLASSES} MLP learns {N_CLASSES} interleaved spirals")
    print(f"  data:  {x.shape[0]} points ({N_CLASSES} classes x {POINTS_PER_CLASS}), generated with "
          f"tl.manual_seed({seed})")
    print(f"  model: Linear-ReLU-Linear-ReLU-Linear, {n_params} parameters")
    print(f"  training: cross-entropy loss, Adam(lr={lr}), full batch, {steps} steps")

    t0 = time.perf_counter()
    history = train(model, x, y, steps, lr, quiet=quiet)
    train_time = time.perf_counter() - t0
    with tl.no_grad():
        logits = model(x)
        final_loss = F.cross_entropy(logits, y).item()
        correct = int((logits.argmax(1) == y).sum().item())
    acc = correct / x.shape[0]
    print(f"trained {steps} steps in {train_time:.1f} s: loss {final_loss:.3g}, "
          f"training accuracy {100 * acc:.1f}% ({correct}/{x.shape[0]})")

    t0 = time.perf_counter()
    ok, n_checked, err = check_gradients(model, x, y, hidden)
    if ok:
        print(f"gradcheck of the trained model's loss: passed ({time.perf_counter() - t0:.1f} s)\n"
              f"  (float64 copy of the model, 8-point batch: the gradients of all {n_checked}\n"
              "  parameters match central differences)")
    else:
        print(f"gradcheck of the trained model's loss: FAILED\n{err}")

    if not quiet:
        print("\nlearned decision regions over [-1.15, 1.15]^2, with the training points:")
        print(draw_boundary(model, x, y))
        print(_terminal.legend(N_CLASSES))
        print("(a point marker on another class's region is a point the model gets wrong)\n")
    if plot:
        save_plot(plot, model, x, y, history)
    if explain_dir is not None:
        explain(model, x, y, explain_dir)

    status = 0 if ok else 1
    default_training = (steps, hidden, lr) == (DEFAULTS["steps"], DEFAULTS["hidden"], DEFAULTS["lr"])
    if acc < TARGET_ACCURACY:
        if default_training:
            print(f"training accuracy {100 * acc:.1f}% is below the {100 * TARGET_ACCURACY:.0f}% "
                  "that the default settings must reach")
            status = 1
        else:
            print(f"note: training accuracy {100 * acc:.1f}% is below {100 * TARGET_ACCURACY:.0f}% "
                  "(not an error with\nnon-default settings; try more --steps or a larger --hidden)")
    print(f"demo {'finished' if status == 0 else 'FAILED'} in {time.perf_counter() - t_start:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(run())
