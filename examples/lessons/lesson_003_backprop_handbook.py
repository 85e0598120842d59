"""Lesson 003, "Backpropagation" (the Language AI Handbook chapter): every listing, run.

The seed text of this chapter kept its prose and printed results but lost its code cells and
formulas (they were rendered separately on the original page). Each section below is therefore
a RECONSTRUCTION of the code the prose describes, written the way the chapter describes it:
NumPy for the from-scratch parts (column-vector convention: W1 is (3, 2) for a 2-3-1 network),
PyTorch idioms ported to tinygrad_lab (`torch` -> `tl`) for the autograd parts. Where the
chapter prints numbers we print them next to ours; where its formula was lost, the choice we made
is said in the section (for example the composite function of the chain-rule example).
The 2-3-1 network's weights are chosen so the chapter's printed values reproduce: ReLU zeroes
z1[2] = -0.1, the prediction is ~0.56 and the loss ~0.59 for the target y = 1.

    python examples/lessons/lesson_003_backprop_handbook.py
    python examples/lessons/lesson_003_backprop_handbook.py --quick
"""
import math
import sys

import numpy as np

import _lesson as lesson
from _lesson import agree, show

import tinygrad_lab as tl                     # the chapter's `import torch`
import tinygrad_lab.nn as nn                  # `import torch.nn as nn`

F64 = tl.float64

# The 2-3-1 network traced by hand in "Forward Pass: Computing Values" (column vectors).
x = np.array([[1.0], [0.5]])                       # (2, 1) input
y = 1.0                                            # the target (positive class)
W1 = np.array([[0.2, 0.4], [0.5, -0.2], [-0.3, 0.4]])  # (3, 2)
b1 = np.array([[0.1], [0.1], [0.0]])               # (3, 1)
W2 = np.array([[0.2, 0.1, 0.5]])                   # (1, 3)
b2 = np.array([[0.07]])                            # (1, 1)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def relu(z):
    return np.maximum(0, z)


def forward(x, W1, b1, W2, b2):
    """Layer 1 (ReLU), layer 2 (sigmoid); returns every intermediate (the cache)."""
    z1 = W1 @ x + b1
    a1 = relu(z1)
    z2 = W2 @ a1 + b2
    y_hat = sigmoid(z2)
    return {"z1": z1, "a1": a1, "z2": z2, "y_hat": y_hat}


def bce_loss(y_hat, y):
    return float(-(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat)).mean())


def backward(x, y, cache, W2):
    """The chapter's backward pass for one example: dz2 = y_hat - y, then the chain rule."""
    dz2 = cache["y_hat"] - y                       # BCE + sigmoid: prediction minus target
    dW2 = dz2 @ cache["a1"].T                      # (1, 3)
    db2 = dz2                                      # (1, 1)
    da1 = W2.T @ dz2                               # (3, 1)
    dz1 = da1 * (cache["z1"] > 0)                  # the ReLU gate
    dW1 = dz1 @ x.T                                # (3, 2)
    db1 = dz1                                      # (3, 1)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "dz2": dz2, "da1": da1, "dz1": dz1}


def tl_params(requires_grad=True):
    return [tl.tensor(p, requires_grad=requires_grad) for p in (W1, b1, W2, b2)]


# ---------------------------------------------------------------------------------------------
# Computational graphs and the chain rule.
# ---------------------------------------------------------------------------------------------
# Lesson 003, "Building Blocks of Computation": f = (x + y) * z as q = x + y, f = q * z.
@lesson.listing("Building Blocks of Computation: f = (x + y) * z as q = x + y, f = q * z")
def graph_building_blocks(run):
    xv, yv, zv = -2.0, 5.0, -4.0                   # reconstruction: values chosen here
    q = xv + yv                                    # addition node
    f = q * zv                                     # multiplication node
    df_dq, df_dz = zv, q                           # local gradients of the * node
    df_dx, df_dy = df_dq * 1.0, df_dq * 1.0        # through the + node
    print(f"  forward: q = {q}, f = {f};  backward: df/dx = {df_dx}, df/dy = {df_dy}, df/dz = {df_dz}")
    tx, ty, tz = (tl.tensor(v, dtype=F64, requires_grad=True) for v in (xv, yv, zv))
    tf = (tx + ty) * tz
    tf.backward()
    agree("f and its gradients vs tl autograd", [f, df_dx, df_dy, df_dz],
          [tf, tx.grad, ty.grad, tz.grad], atol=0)
    show("tl's graph: f.grad_fn", tf.grad_fn.name(), "a * node over a + node")


# Lesson 003, "Single Variable Chain Rule": a composite function, chain rule vs numerical.
@lesson.listing("Single Variable Chain Rule: dy/dx = dy/du * du/dx vs a numerical approximation")
def chain_rule_single_variable(run):
    # reconstruction: the chapter's composite function was lost; f(x) = sin(x^2) here,
    # inner u = x^2 (du/dx = 2x), outer sin(u) (dy/du = cos u)
    x0 = 1.5
    u = x0 ** 2
    analytical = math.cos(u) * 2 * x0
    h = 1e-5
    numerical = (math.sin((x0 + h) ** 2) - math.sin((x0 - h) ** 2)) / (2 * h)
    show("analytical dy/dx at x = 1.5", analytical, None, "{:.10f}")
    show("numerical (centered, h = 1e-5)", numerical, None, "{:.10f}")
    show("|difference|", abs(analytical - numerical), "well within floating-point precision", "{:.1e}")
    assert abs(analytical - numerical) < 1e-8
    tx = tl.tensor(x0, dtype=F64, requires_grad=True)
    tl.sin(tx ** 2).backward()
    agree("tl autograd", tx.grad, analytical, atol=1e-14)


# Lesson 003, "Multivariate Chain Rule: When Paths Diverge": gradients of all paths add up.
@lesson.listing("Multivariate Chain Rule: dL/dx = sum over paths of dL/du_i * du_i/dx")
def chain_rule_multivariate(run):
    # reconstruction: x reaches L through u1 = 3x, u2 = x^2 and u3 = sin(x); L = u1 * u2 + u3
    x0 = 0.7
    u1, u2 = 3 * x0, x0 ** 2                      # (u3 = sin(x0) enters through cos(x0))
    paths = [u2 * 3, u1 * 2 * x0, 1.0 * math.cos(x0)]      # dL/du_i * du_i/dx
    for i, p in enumerate(paths, 1):
        print(f"  path through u{i}: {p:+.6f}")
    show("sum of the three paths", sum(paths), None, "{:.6f}")
    tx = tl.tensor(x0, dtype=F64, requires_grad=True)
    (3 * tx * tx ** 2 + tl.sin(tx)).backward()
    agree("tl autograd (which adds the paths with +=)", tx.grad, sum(paths), atol=1e-14)


# ---------------------------------------------------------------------------------------------
# The 2-3-1 network by hand.
# ---------------------------------------------------------------------------------------------
# Lesson 003, "Step-by-Step Forward Computation".
@lesson.listing("Forward Pass: Computing Values (2-3-1 network, ReLU hidden, sigmoid output)")
def forward_pass_231(run):
    cache = forward(x, W1, b1, W2, b2)
    for k in ("z1", "a1", "z2", "y_hat"):
        print(f"  {k:5s} = {np.round(cache[k].ravel(), 4).tolist()}")
    show("z1[2] -> a1[2]", f"{cache['z1'][2, 0]:.1f} -> {cache['a1'][2, 0]:.0f}",
         "z1[2] = -0.1 became a1[2] = 0")
    show("prediction y_hat", cache["y_hat"].item(), "~0.56", "{:.4f}")
    run.cache = cache
    p = tl_params(requires_grad=False)
    y_hat = tl.sigmoid(p[2] @ tl.relu(p[0] @ tl.tensor(x) + p[1]) + p[3])
    agree("y_hat vs tl", y_hat, cache["y_hat"], atol=1e-15)


# Lesson 003, "Computing the Loss": binary cross-entropy.
@lesson.listing("Computing the Loss: binary cross-entropy for y = 1")
def computing_the_loss(run):
    y_hat = forward(x, W1, b1, W2, b2)["y_hat"]
    loss = bce_loss(y_hat, y)
    show("loss", loss, "approximately 0.59", "{:.4f}")
    for p_, y_ in ((0.9, 1), (0.1, 1), (0.1, 0), (0.9, 0)):
        print(f"  y = {y_}, y_hat = {p_}: loss {bce_loss(np.array(p_), y_):.4f}")
    tl_loss = tl.nn.functional.binary_cross_entropy(tl.tensor(y_hat), tl.tensor([[y]], dtype=F64))
    agree("vs F.binary_cross_entropy", tl_loss, loss, atol=1e-12)


# Lesson 003, "Step 1: Gradient of the Loss with Respect to the Prediction".
@lesson.listing("Backward Step 1: dL/dy_hat = -y/y_hat + (1 - y)/(1 - y_hat)")
def backward_step1_dloss_dyhat(run):
    y_hat = forward(x, W1, b1, W2, b2)["y_hat"].item()
    dL_dyhat = -y / y_hat + (1 - y) / (1 - y_hat)
    show("dL/dy_hat at y_hat = %.4f, y = 1" % y_hat, dL_dyhat, "negative: push y_hat up", "{:.4f}")
    ty = tl.tensor(y_hat, dtype=F64, requires_grad=True)
    tl.nn.functional.binary_cross_entropy(ty, tl.tensor(y, dtype=F64)).backward()
    agree("vs tl autograd of F.binary_cross_entropy", ty.grad, dL_dyhat, atol=1e-12)


# Lesson 003, "Step 2: Backpropagating Through Sigmoid" (and its plot).
@lesson.listing("Backward Step 2: sigmoid'(z) = s(1 - s), maximal 0.25 at z = 0")
def backward_step2_sigmoid_derivative(run):
    z = tl.linspace(-6, 6, 13, dtype=F64, requires_grad=True)
    tl.sigmoid(z).sum().backward()
    for zi, gi in zip(z.detach().tolist(), z.grad.tolist()):
        print(f"  z = {zi:+5.1f}   sigmoid'(z) = {gi:.4f}  " + "#" * int(round(gi * 160)))
    s = tl.sigmoid(z.detach())
    agree("autograd vs s(1 - s)", z.grad, s * (1 - s), atol=1e-15)
    show("max sigmoid'(z)", max(z.grad.tolist()), "0.25 at z = 0", "{:.4f}")


# Lesson 003, "Step 3: The Beautiful Cancellation (Combining BCE and Sigmoid)".
@lesson.listing("Backward Step 3: BCE + sigmoid collapse to dL/dz = y_hat - y")
def backward_step3_cancellation(run):
    for y_ in (0.0, 1.0):
        z = tl.tensor([-2.0, 0.0, 0.4, 3.0], dtype=F64, requires_grad=True)
        tl.nn.functional.binary_cross_entropy(tl.sigmoid(z), tl.full((4,), y_, dtype=F64),
                                              reduction='sum').backward()
        agree(f"y = {y_:.0f}: autograd through BCE(sigmoid(z)) vs sigmoid(z) - y", z.grad,
              tl.sigmoid(z.detach()) - y_, atol=1e-12)
    show("prediction 0.9, target 0 -> gradient", 0.9 - 0, "0.9")
    show("prediction 0.6, target 0 -> gradient", 0.6 - 0, "0.6")


# Lesson 003, "Step 4: Implementing the Full Backward Pass".
@lesson.listing("Backward Step 4: the full backward pass (dz2, dW2, da1, ReLU gate, dz1, dW1)")
def backward_step4_full_backward(run):
    cache = forward(x, W1, b1, W2, b2)
    grads = backward(x, y, cache, W2)
    for k in ("dz2", "W2", "b2", "da1", "dz1", "W1", "b1"):
        name = k if k.startswith("d") else "d" + k
        print(f"  {name:4s} {np.round(grads[k], 4).tolist()}")
    show("dz1[2] (the third neuron, z1[2] = -0.1)", grads["dz1"][2, 0], "blocked: 0")
    assert grads["dz1"][2, 0] == 0 and np.all(grads["W1"][2] == 0)
    run.grads = grads


# Lesson 003, "Understanding the Gradient Shapes" (the table).
@lesson.listing("Understanding the Gradient Shapes: every gradient has its parameter's shape")
def gradient_shapes(run):
    grads = backward(x, y, forward(x, W1, b1, W2, b2), W2)
    lesson_shapes = {"W1": "(3, 2)", "b1": "(3, 1)", "W2": "(1, 3)", "b2": "(1, 1)"}
    for name, p in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        show(f"{name} {p.shape}, d{name}", grads[name].shape, lesson_shapes[name])
        assert grads[name].shape == p.shape


# Lesson 003, "Verifying Gradients: The Gradient Checking Technique".
@lesson.listing("Gradient Checking: centered differences vs the backward pass")
def gradient_checking_centered(run):
    grads = backward(x, y, forward(x, W1, b1, W2, b2), W2)
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    eps = 1e-5
    worst = 0.0
    for name, p in params.items():
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            lp = bce_loss(forward(x, W1, b1, W2, b2)["y_hat"], y)
            p[idx] = old - eps
            lm = bce_loss(forward(x, W1, b1, W2, b2)["y_hat"], y)
            p[idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        rel = np.abs(num - grads[name]).max() / max(np.abs(num).max(), np.abs(grads[name]).max(), 1e-12)
        worst = max(worst, rel)
        print(f"  {name}: max relative error {rel:.2e}")
    show("worst relative error", worst, "below 1e-7 means a correct implementation", "{:.1e}")
    assert worst < 1e-7
    # why centered: one-sided error O(eps), centered O(eps^2)
    f = lambda w: bce_loss(sigmoid(w * 0.8 + 0.07), 1.0)  # noqa: E731  (one weight of the net)
    w0, h = 0.3, 1e-5
    exact = (sigmoid(w0 * 0.8 + 0.07) - 1.0) * 0.8
    one_sided = abs((f(w0 + h) - f(w0)) / h - exact)
    centered = abs((f(w0 + h) - f(w0 - h)) / (2 * h) - exact)
    show("error one-sided vs centered (h = 1e-5)", f"{one_sided:.1e} vs {centered:.1e} "
         f"({math.log10(one_sided / centered):.1f} orders)", "5-7 orders of magnitude better")
    print("  error vs epsilon (Key Parameters: 1e-5 to 1e-7; too small -> floating-point error):")
    for e in (1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11):
        print(f"    eps = {e:.0e}: |centered - exact| = {abs((f(w0 + e) - f(w0 - e)) / (2 * e) - exact):.1e}")
    tw = [tl.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    tx = tl.tensor(x)
    ok = tl.autograd.gradcheck(
        lambda a, b, c, d: tl.nn.functional.binary_cross_entropy(
            tl.sigmoid(c @ tl.relu(a @ tx + b) + d), tl.tensor([[y]], dtype=F64)), tw)
    show("tl.autograd.gradcheck on all four parameters", ok, "True")


# Lesson 003, "Batch Processing and Gradient Accumulation".
@lesson.listing("Batch Processing and Gradient Accumulation: dW2 = dz2 @ a1.T / m over a batch of 4")
def batch_gradient_accumulation(run):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 4))                 # 4 examples as columns
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    m = X.shape[1]
    cache = forward(X, W1, b1, W2, b2)
    dz2 = cache["y_hat"] - Y                        # (1, 4)
    dW2 = dz2 @ cache["a1"].T / m                   # (1, 4) @ (4, 3) -> (1, 3)
    print(f"  predictions {np.round(cache['y_hat'], 3).tolist()}, targets {Y.tolist()}")
    show("dz2 @ a1.T shapes", f"{dz2.shape} @ {cache['a1'].T.shape} -> {dW2.shape}", "(1, 3), matching W2")
    per_example = [backward(X[:, [i]], Y[0, i], forward(X[:, [i]], W1, b1, W2, b2), W2)["W2"]
                   for i in range(m)]
    agree("batch dW2 vs the mean of the 4 per-example gradients", dW2, sum(per_example) / m, atol=1e-15)
    p = tl_params()
    tl.nn.functional.binary_cross_entropy(tl.sigmoid(p[2] @ tl.relu(p[0] @ tl.tensor(X) + p[1]) + p[3]),
                                          tl.tensor(Y)).backward()
    agree("vs tl autograd of the mean BCE", dW2, p[2].grad, atol=1e-15)


# Lesson 003, "Visualizing Gradient Flow".
@lesson.listing("Visualizing Gradient Flow: gradient magnitude at each node, output to input")
def visualizing_gradient_flow(run):
    g = backward(x, y, forward(x, W1, b1, W2, b2), W2)
    for name in ("dz2", "W2", "da1", "dz1", "W1"):
        v = float(np.abs(g[name]).mean())
        print(f"  {name if name.startswith('d') else 'd' + name:4s} mean |gradient| {v:.4f}  "
              + "#" * int(round(v * 100)))
    p = tl_params()
    tx = tl.tensor(x)
    z1 = p[0] @ tx + p[1]
    z1.retain_grad()
    out = tl.nn.functional.binary_cross_entropy(tl.sigmoid(p[2] @ tl.relu(z1) + p[3]),
                                                tl.tensor([[y]], dtype=F64))
    tl.viz.retain_grads(out)                 # every tensor keeps its gradient for the drawing
    out.backward()
    agree("dz1 vs tl (retain_grad on z1)", g["dz1"], z1.grad, atol=1e-15)
    # the graph itself, each node with its gradient norm (save it: .save("graph.svg"))
    graph = tl.viz.draw_graph(out, params=dict(zip(("W1", "b1", "W2", "b2"), p)))
    show("tl.viz.draw_graph of this network", f"{graph.num_nodes} nodes, {graph.num_edges} edges")


# Lesson 003, "Tracking Gradients During Training": a deeper network, per-layer gradient norms.
@lesson.listing("Tracking Gradients During Training: a 4-layer network's gradient norm per layer")
def tracking_gradients_during_training(run):
    # reconstruction: a 4-layer sigmoid MLP on 128 points, inside vs outside the unit circle
    g = np.random.default_rng(0)
    Xn = g.uniform(-1.5, 1.5, (128, 2)).astype(np.float32)
    X = tl.tensor(Xn)
    Y = tl.tensor(((Xn ** 2).sum(1, keepdims=True) < 1).astype(np.float32))
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                          nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 1))
    optimizer = tl.optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.BCEWithLogitsLoss()
    epochs = 200 if run.quick else 600
    linears = [m for m in model if isinstance(m, nn.Linear)]
    monitor = tl.viz.GradMonitor(model)      # records every parameter's norm (monitor.plot())
    history = []
    print("  epoch   " + "  ".join(f"layer {i + 1} |grad|" for i in range(4)) + "    loss")
    for epoch in range(epochs + 1):
        optimizer.zero_grad()
        loss = criterion(model(X), Y)
        loss.backward()
        norms = [m.weight.grad.norm().item() for m in linears]
        history.append(norms)
        monitor.step()
        if epoch % (epochs // 4) == 0:
            print(f"  {epoch:5d}   " + "  ".join(f"{n:14.2e}" for n in norms) + f"    {loss.item():.4f}")
        optimizer.step()
    monitor.remove()
    agree("tl.viz.GradMonitor's history vs the loop's norms",
          [monitor.history[f"{i}.weight"] for i in (0, 2, 4, 6)],
          [[h[k] for h in history] for k in range(4)], rtol=1e-5)
    first = sum(h[0] for h in history) / len(history)
    last = sum(h[-1] for h in history) / len(history)
    show("mean over training: layer 1's gradient norm vs layer 4's", f"{first:.2e} vs {last:.2e}",
         "gradients tend to be smaller in earlier layers")
    assert first < last


# ---------------------------------------------------------------------------------------------
# Complexity, autodiff, the from-scratch network, limitations.
# ---------------------------------------------------------------------------------------------
# Lesson 003, "Space Complexity": stored activations for a batch of 32.
@lesson.listing("Space Complexity: activations stored for backward, batch size 32")
def space_complexity(run):
    # reconstruction: a 784-256-128-64-10 MLP on MNIST-sized inputs, float32; backward needs the
    # input and every hidden activation
    sizes, B = [784, 256, 128, 64, 10], 32
    stored = B * sum(sizes[:-1]) * 4
    show("32 x (784 + 256 + 128 + 64) x 4 bytes", f"{stored / 1000:.1f} KB", "about 158 KB")
    tl.manual_seed(0)
    layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    h = tl.randn(B, 784)
    kept = h.numel() * 4
    for i, lin in enumerate(layers):
        h = lin(h)
        if i < len(layers) - 1:
            h = tl.relu(h)
            kept += h.numel() * 4
    show("the same count from tl tensors (numel x 4 bytes)", f"{kept / 1000:.1f} KB", "about 158 KB")
    # what tl's graph really keeps for backward (tl.viz.memory_report): the input, each ReLU's
    # input (its mask), each ReLU's output (the next matmul's input), and the weights the matmuls
    # need for their inputs' gradients -- more than the activations alone
    x_in = tl.randn(B, 784)
    h = x_in
    for i, lin in enumerate(layers):
        h = lin(h)
        if i < len(layers) - 1:
            h = tl.relu(h)
    report = tl.viz.memory_report(h.sum())
    show("kept by tl's graph (tl.viz.memory_report: activations before and after each ReLU, "
         "plus weights)", f"{report.total_bytes / 1000:.1f} KB in {len(report.rows)} nodes")
    show("share of the input layer", f"{784 / sum(sizes[:-1]):.0%}", "the input layer dominates")
    for B2 in (256,):
        print(f"  batch {B2}: {B2 * sum(sizes[:-1]) * 4 / 1e6:.2f} MB (linear in the batch size)")


# Lesson 003, "Why Backpropagation is Efficient": numerical differentiation costs 2P forward passes.
@lesson.listing("Why Backpropagation is Efficient: 2P forward passes vs one forward + one backward")
def why_backprop_is_efficient(run):
    for P in (17, 1_000_000):
        print(f"  {P:>9,} parameters: numerical differentiation {2 * P:>9,} forward passes; "
              "backprop 1 forward + 1 backward")
    show("ratio for 1 million parameters", f"~{2 * 1_000_000 // 2:,}x", "roughly 1 million times slower")


# Lesson 003, "PyTorch's Autograd": the same 2-3-1 network, gradients by .backward().
@lesson.listing("PyTorch's Autograd: .backward() on the 2-3-1 network matches the manual gradients")
def pytorch_autograd_matches(run):
    W1_t, b1_t, W2_t, b2_t = tl_params()
    x_t = tl.tensor(x)
    z1 = W1_t @ x_t + b1_t
    a1 = tl.relu(z1)
    z2 = W2_t @ a1 + b2_t
    y_hat = tl.sigmoid(z2)
    loss = -(y * tl.log(y_hat) + (1 - y) * tl.log(1 - y_hat)).mean()
    loss.backward()
    manual = backward(x, y, forward(x, W1, b1, W2, b2), W2)
    for name, t_ in (("W1", W1_t), ("b1", b1_t), ("W2", W2_t), ("b2", b2_t)):
        agree(f"d{name}: tl vs manual", t_.grad, manual[name], atol=1e-15)


# Lesson 003, "The Computational Graph in PyTorch": a dynamic graph with runtime control flow.
@lesson.listing("The Computational Graph in PyTorch: dynamic graph, activation chosen at runtime")
def dynamic_graph(run):
    tl.manual_seed(0)
    w = tl.randn(3, 3, requires_grad=True)

    def forward_dynamic(v):
        h = w @ v
        if h.sum() > 0:                            # data-dependent control flow
            h = tl.relu(h)
            branch = "relu"
        else:
            h = tl.tanh(h)
            branch = "tanh"
        return h.sum(), branch

    for v in (tl.ones(3), -tl.ones(3)):
        w.grad = None
        out, branch = forward_dynamic(v)
        out.backward()
        h = (w.detach() @ v)
        expect = ((h > 0).float() if branch == "relu" else 1 - tl.tanh(h) ** 2).unsqueeze(1) * v
        print(f"  input {v.tolist()}: took the {branch} branch; grad_fn {out.grad_fn.name()}")
        agree(f"  {branch} branch: dL/dw vs the hand formula", w.grad, expect, atol=1e-6)


# Lesson 003, "Implementing Backpropagation from Scratch": the NeuralNetwork class, on XOR.
class NeuralNetwork:
    """A 2-layer network (ReLU hidden, sigmoid output), BCE loss, backprop and gradient descent.
    Column convention: X is (n_features, m), W1 (n_hidden, n_features)."""

    def __init__(self, n_input, n_hidden, n_output, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((n_hidden, n_input)) * np.sqrt(2.0 / n_input)
        self.b1 = np.zeros((n_hidden, 1))
        self.W2 = rng.standard_normal((n_output, n_hidden)) * np.sqrt(1.0 / n_hidden)
        self.b2 = np.zeros((n_output, 1))

    def forward(self, X):
        self.X = X
        self.z1 = self.W1 @ X + self.b1
        self.a1 = relu(self.z1)
        self.z2 = self.W2 @ self.a1 + self.b2
        self.y_hat = sigmoid(self.z2)
        return self.y_hat

    def loss(self, y_hat, Y):
        eps = 1e-12
        return float(-np.mean(Y * np.log(y_hat + eps) + (1 - Y) * np.log(1 - y_hat + eps)))

    def backward(self, Y):
        m = Y.shape[1]
        dz2 = (self.y_hat - Y) / m
        self.dW2 = dz2 @ self.a1.T
        self.db2 = dz2.sum(axis=1, keepdims=True)
        da1 = self.W2.T @ dz2
        dz1 = da1 * (self.z1 > 0)
        self.dW1 = dz1 @ self.X.T
        self.db1 = dz1.sum(axis=1, keepdims=True)

    def update(self, lr):
        self.W1 -= lr * self.dW1
        self.b1 -= lr * self.db1
        self.W2 -= lr * self.dW2
        self.b2 -= lr * self.db2

    def train(self, X, Y, epochs, lr, every):
        losses = []
        for epoch in range(epochs):
            loss = self.loss(self.forward(X), Y)
            self.backward(Y)
            self.update(lr)
            losses.append(loss)
            if epoch % every == 0:
                print(f"  epoch {epoch:5d}  loss {loss:.4f}")
        return losses


XOR_X = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
XOR_Y = np.array([[0.0, 1.0, 1.0, 0.0]])


@lesson.listing("Training on a Simple Dataset: the XOR Problem (NeuralNetwork class)")
def training_on_xor(run):
    net = NeuralNetwork(2, 4, 1, seed=0)
    epochs = 1000 if run.quick else 5000
    net.train(XOR_X, XOR_Y, epochs=epochs, lr=0.5, every=epochs // 5)
    pred = net.forward(XOR_X)
    for i in range(4):
        print(f"  {XOR_X[:, i].astype(int).tolist()} -> {pred[0, i]:.4f} (target {XOR_Y[0, i]:.0f})")
    correct = int(((pred > 0.5) == XOR_Y).sum())
    show("classified correctly", f"{correct} of 4", "All four examples are classified correctly")
    print("  decision regions over [-0.5, 1.5]^2 (# = class 1):")
    g = np.linspace(-0.5, 1.5, 9)
    for yy in g[::-1]:
        row = net.forward(np.stack([g, np.full_like(g, yy)]))[0]
        print("    " + "".join("#" if v > 0.5 else "." for v in row))
    run.xor_net = net
    # tl cross-check: the trained net's gradients through autograd
    p = [tl.tensor(getattr(net, k), requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    y_hat = tl.sigmoid(p[2] @ tl.relu(p[0] @ tl.tensor(XOR_X) + p[1]) + p[3])
    Yt = tl.tensor(XOR_Y)
    (-tl.mean(Yt * tl.log(y_hat + 1e-12) + (1 - Yt) * tl.log(1 - y_hat + 1e-12))).backward()
    net.forward(XOR_X)
    net.backward(XOR_Y)
    agree("the class's gradients vs tl autograd", [net.dW1, net.db1, net.dW2, net.db2],
          [q.grad for q in p], atol=1e-9)


# Lesson 003, "Gradient Checking" (Common Pitfalls): check every parameter of the class.
@lesson.listing("Common Pitfalls: Gradient Checking the NeuralNetwork class")
def gradient_checking_network(run):
    def check(net, eps=1e-6):
        net.forward(XOR_X)
        net.backward(XOR_Y)
        errors = {}
        for name in ("W1", "b1", "W2", "b2"):
            p = getattr(net, name)
            analytic = getattr(net, "d" + name)
            num = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                lp = net.loss(net.forward(XOR_X), XOR_Y)
                p[idx] = old - eps
                lm = net.loss(net.forward(XOR_X), XOR_Y)
                p[idx] = old
                num[idx] = (lp - lm) / (2 * eps)
            errors[name] = np.linalg.norm(num - analytic) / max(
                np.linalg.norm(num) + np.linalg.norm(analytic), 1e-12)
            print(f"    {name}: relative error {errors[name]:.2e}  "
                  f"{'PASS' if errors[name] < 1e-7 else 'FAIL'}")
        return errors

    print("  freshly initialised (b1 = 0):")
    at_kink = check(NeuralNetwork(2, 4, 1, seed=5))
    print("  What really happens: with b1 = 0 the (0, 0) example puts every hidden unit exactly on\n"
          "  ReLU's kink (z1 = 0), where the centered difference sees slope 1/2 and backprop uses 0:\n"
          "  a FAIL with neither a shape mismatch nor a wrong formula (the chapter's two causes).")
    assert at_kink["b1"] > 1e-3
    net = NeuralNetwork(2, 4, 1, seed=5)
    net.b1 += 0.1                               # off the kink
    print("  with b1 = 0.1:")
    errors = check(net)
    assert max(errors.values()) < 1e-7


# Lesson 003, "Shape Debugging".
@lesson.listing("Shape Debugging: print every shape; each gradient matches its parameter")
def shape_debugging(run):
    net = NeuralNetwork(2, 4, 1)
    net.forward(XOR_X)
    net.backward(XOR_Y)
    print(f"  X {net.X.shape} (features x batch), z1 {net.z1.shape}, a1 {net.a1.shape}, "
          f"y_hat {net.y_hat.shape}")
    show("W1, dW1", f"{net.W1.shape}, {net.dW1.shape}", "dW1 has shape (4, 2), exactly matching W1")
    show("W2, dW2", f"{net.W2.shape}, {net.dW2.shape}", "dW2 matches W2 at (1, 4)")
    for name in ("W1", "b1", "W2", "b2"):
        assert getattr(net, name).shape == getattr(net, "d" + name).shape


# Lesson 003, "Vanishing and Exploding Gradients": gamma^L.
@lesson.listing("Vanishing and Exploding Gradients: the gradient scales by gamma^L")
def vanishing_and_exploding(run):
    print("  gamma     L = 10       L = 50      L = 100")
    for gamma in (0.5, 0.9, 0.95, 1.0, 1.05, 1.1, 1.5):
        print(f"  {gamma:5.2f}  " + "  ".join(f"{gamma ** L:11.3e}" for L in (10, 50, 100)))
    show("0.95^100", 0.95 ** 100, "100x too small after 100 layers", "{:.2e}")
    show("1.05^100", 1.05 ** 100, "100x too large", "{:.1f}")
    for gamma in (0.95, 1.05):                    # 100 linear layers with gain gamma, via autograd
        v = tl.ones(4, dtype=F64, requires_grad=True)
        h = v
        for _ in range(100):
            h = (gamma * tl.eye(4, dtype=F64)) @ h
        h.sum().backward()
        agree(f"gain {gamma}: tl autograd through 100 layers vs gamma^100", v.grad,
              [gamma ** 100] * 4, atol=0, rtol=1e-12)


# Lesson 003, "Memory Requirements": gradient checkpointing, O(L) -> O(sqrt L) stored layers.
@lesson.listing("Memory Requirements: gradient checkpointing every sqrt(L) layers, same gradients")
def gradient_checkpointing(run):
    tl.manual_seed(0)
    L = 16
    layers = [nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(L)]
    segments = [nn.Sequential(*layers[i:i + 4]) for i in range(0, L, 4)]   # sqrt(16) = 4 segments
    x_in = tl.randn(4, 8, requires_grad=True)
    h = x_in
    for layer in layers:
        h = layer(h)
    h.sum().backward()
    plain = [p.grad.clone() for layer in layers for p in layer.parameters()]
    for layer in layers:
        layer.zero_grad()
    h = x_in
    for seg in segments:
        h = tl.utils.checkpoint.checkpoint(seg, h, use_reentrant=False)
    h.sum().backward()
    agree("gradients with 4 checkpointed segments vs without",
          [p.grad for layer in layers for p in layer.parameters()], plain, atol=1e-6)
    show("activation layers kept", f"{L} -> {len(segments)} segment inputs "
         f"(+ one segment's {L // len(segments)} during its recompute)", "O(L) -> O(sqrt L)")


# Lesson 003, "Local Minima and Saddle Points": a 2-D slice of the XOR loss landscape.
@lesson.listing("Loss landscape: a 2-D slice of the XOR network's loss, varying two weights")
def loss_landscape_slice(run):
    net = getattr(run, "xor_net", None)
    if net is None:                            # when run alone (--only): train it first
        net = NeuralNetwork(2, 4, 1, seed=0)
        net.train(XOR_X, XOR_Y, epochs=1000, lr=0.5, every=10 ** 9)
    W1_t, b1_t, W2_t, b2_t = (tl.tensor(getattr(net, k)) for k in ("W1", "b1", "W2", "b2"))
    Xt, Yt = tl.tensor(XOR_X), tl.tensor(XOR_Y)
    n = 11 if run.quick else 21
    alphas = tl.linspace(-3.0, 3.0, n, dtype=F64)
    k = int(np.abs(net.W2).argmax())           # the hidden unit the output leans on most
    w0, w1 = W1_t[k, 0].item(), W1_t[k, 1].item()
    grid = []
    for b_ in alphas.tolist():
        row = []
        for a_ in alphas.tolist():
            shift = [[a_, b_] if i == k else [0.0, 0.0] for i in range(W1_t.shape[0])]
            W = W1_t + tl.tensor(shift, dtype=F64)
            p = tl.sigmoid(W2_t @ tl.relu(W @ Xt + b1_t) + b2_t)
            row.append(tl.nn.functional.binary_cross_entropy(p, Yt).item())
        grid.append(row)
    grid = np.array(grid)
    shades = " .:-=+*#%@"
    lo, hi = grid.min(), grid.max()
    print(f"  loss over W1[{k},0] = {w0:+.2f} + a, W1[{k},1] = {w1:+.2f} + b, a, b in [-3, 3] "
          f"(light = low, dark = high):")
    for row in grid[::-1]:
        print("    " + "".join(shades[int((v - lo) / (hi - lo + 1e-12) * (len(shades) - 1))] * 2
                              for v in row))
    centre = grid[n // 2, n // 2]
    show("loss at the trained weights (centre)", centre, None, "{:.4f}")
    show("range over the slice", f"{lo:.4f} .. {hi:.4f}", "non-convex, with valleys")


if __name__ == "__main__":
    sys.exit(lesson.main(__doc__))
