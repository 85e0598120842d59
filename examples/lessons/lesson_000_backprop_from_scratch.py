"""Lesson 000, "Backpropagation from Scratch" (Build): every listing, run.

The lesson builds a scalar Value autograd engine in plain Python (steps 1-5), trains it on XOR
(step 6) and on circle classification with online SGD (step 7), then does the same XOR in
PyTorch ("Use It", here ported to tinygrad_lab: `import torch` -> `import tinygrad_lab as tl`).
Its five exercises are solved at the end. The pure-Python listings run exactly as written; each
gets a short tinygrad_lab cross-check (the same computation through tl's autograd must give the
same numbers). The concept sections compute the numbers the lesson states in prose (the 0.25
bound of sigmoid', the 2-layer derivation) and print the lesson's number next to ours.

    python examples/lessons/lesson_000_backprop_from_scratch.py           # the lesson's epochs
    python examples/lessons/lesson_000_backprop_from_scratch.py --quick   # seconds (tests)
"""
import math
import random
import sys

import _lesson as lesson
from _lesson import agree, show

import tinygrad_lab as tl                     # the lesson's `import torch`
import tinygrad_lab.nn as nn                  # the lesson's `import torch.nn as nn`


# ---------------------------------------------------------------------------------------------
# The Value engine, assembled from the lesson's steps 1-4 exactly as written.
# ---------------------------------------------------------------------------------------------
class Value:
    # Listing "Step 1: The Value Node"
    def __init__(self, data, children=(), op=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._children = set(children)
        self._op = op

    def __repr__(self):
        return f"Value(data={self.data:.4f}, grad={self.grad:.4f})"

    # Listing "Step 2: Operations with Backward Functions"
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    # Listing "Step 3: Sigmoid and Loss" (the method; mse_loss is below the class)
    def sigmoid(self):
        x = self.data
        x = max(-500, min(500, x))
        s = 1.0 / (1.0 + math.exp(-x))
        out = Value(s, (self,), 'sigmoid')

        def _backward():
            self.grad += (s * (1 - s)) * out.grad
        out._backward = _backward
        return out

    # Listing "Step 4: Backward Pass"
    def backward(self):
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


# Listing "Step 3: Sigmoid and Loss" (continued)
def mse_loss(predicted, target):
    diff = predicted + Value(-target)
    return diff * diff


# Listing "Step 5: Layer and Network"
class Neuron:
    def __init__(self, n_inputs):
        scale = (2.0 / n_inputs) ** 0.5
        self.weights = [Value(random.uniform(-scale, scale)) for _ in range(n_inputs)]
        self.bias = Value(0.0)

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.weights, x)), self.bias)
        return act.sigmoid()

    def parameters(self):
        return self.weights + [self.bias]


class Layer:
    def __init__(self, n_inputs, n_outputs):
        self.neurons = [Neuron(n_inputs) for _ in range(n_outputs)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        params = []
        for n in self.neurons:
            params.extend(n.parameters())
        return params


class Network:
    def __init__(self, sizes):
        self.layers = []
        for i in range(len(sizes) - 1):
            self.layers.append(Layer(sizes[i], sizes[i + 1]))

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
            if not isinstance(x, list):
                x = [x]
        return x[0] if len(x) == 1 else x

    def parameters(self):
        params = []
        for layer in self.layers:
            params.extend(layer.parameters())
        return params

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


# ---------------------------------------------------------------------------------------------
# Cross-check helpers: the same network in tinygrad_lab, weights copied from the Value network.
# ---------------------------------------------------------------------------------------------
def to_tl(net):
    """A tl nn.Sequential (Linear, Sigmoid)* with the Value network's weights, in float64."""
    mods = []
    for layer in net.layers:
        lin = nn.Linear(len(layer.neurons[0].weights), len(layer.neurons)).double()
        with tl.no_grad():
            lin.weight.copy_(tl.tensor([[w.data for w in n.weights] for n in layer.neurons],
                                       dtype=tl.float64))
            lin.bias.copy_(tl.tensor([n.bias.data for n in layer.neurons], dtype=tl.float64))
        mods += [lin, nn.Sigmoid()]
    return nn.Sequential(*mods)


def value_grads(net):
    """The Value network's gradients in tl's parameter order (weight then bias, per layer)."""
    out = []
    for layer in net.layers:
        out.append([[w.grad for w in n.weights] for n in layer.neurons])
        out.append([n.bias.grad for n in layer.neurons])
    return out


# ---------------------------------------------------------------------------------------------
# The listings.
# ---------------------------------------------------------------------------------------------
# Lesson 000, "The Concept: Gradient Flow Through a Network / Vanishing Gradients" (prose).
@lesson.listing("Vanishing Gradients: sigmoid'(z) <= 0.25, so n layers scale by 0.25^n", "concept")
def concept_sigmoid_derivative_bound(run):
    z = tl.tensor([-4.0, -1.0, 0.0, 1.0, 4.0], dtype=tl.float64, requires_grad=True)
    tl.sigmoid(z).sum().backward()
    show("sigmoid'(z) at z = -4, -1, 0, 1, 4", ", ".join(f"{g:.4f}" for g in z.grad.tolist()))
    show("max of sigmoid'(z) (at z = 0)", max(z.grad.tolist()), "0.25", "{:.4f}")
    for n, said in ((3, "0.25^3 = 0.0156"), (5, "0.001x original"), (10, "0.000001x original")):
        show(f"0.25^{n}", 0.25 ** n, said, "{:.3g}")
    # the bound through a chain of n sigmoids: d/dx sigmoid(sigmoid(...sigmoid(x)))
    x = tl.tensor(0.0, dtype=tl.float64, requires_grad=True)
    h = x
    for _ in range(10):
        h = tl.sigmoid(h)
    h.backward()
    show("d/dx of 10 stacked sigmoids at x = 0 (tl autograd)", x.grad.item(),
         "at most 0.25^10 ~ 1e-6", "{:.3g}")
    assert x.grad.item() <= 0.25 ** 10


# Lesson 000, "Deriving Gradients for a 2-Layer Network" (the derivation, in prose).
@lesson.listing("Deriving Gradients for a 2-Layer Network: dL/dW1 ... dL/db2 by the chain rule",
                "concept")
def concept_two_layer_derivation(run):
    tl.manual_seed(0)
    x = tl.randn(3, 1, dtype=tl.float64)
    y = 1.0
    W1 = tl.randn(4, 3, dtype=tl.float64, requires_grad=True)
    b1 = tl.randn(4, 1, dtype=tl.float64, requires_grad=True)
    W2 = tl.randn(1, 4, dtype=tl.float64, requires_grad=True)
    b2 = tl.randn(1, 1, dtype=tl.float64, requires_grad=True)
    z1 = W1 @ x + b1
    a1 = tl.sigmoid(z1)
    z2 = W2 @ a1 + b2
    a2 = tl.sigmoid(z2)
    L = ((a2 - y) ** 2).sum()
    L.backward()
    with tl.no_grad():                         # the lesson's formulas, one line each
        dL_da2 = 2 * (a2 - y)
        dL_dz2 = dL_da2 * a2 * (1 - a2)
        dL_dW2 = dL_dz2 @ a1.T
        dL_db2 = dL_dz2
        dL_da1 = W2.T @ dL_dz2
        dL_dz1 = dL_da1 * a1 * (1 - a1)
        dL_dW1 = dL_dz1 @ x.T
        dL_db1 = dL_dz1
    for name, manual, auto in (("dL/dW2", dL_dW2, W2.grad), ("dL/db2", dL_db2, b2.grad),
                               ("dL/dW1", dL_dW1, W1.grad), ("dL/db1", dL_db1, b1.grad)):
        agree(f"{name}: the lesson's formula vs tl autograd", manual, auto, atol=1e-12)


# Lesson 000, listing "Step 1: The Value Node" (class Value: __init__, __repr__).
@lesson.listing("Step 1: The Value Node")
def step1_value_node(run):
    v = Value(3.0)
    print(" ", v)
    show("gradient before any backward", v.grad, "0.0")
    show("children of a leaf", v._children, "set()")


# Lesson 000, listing "Step 2: Operations with Backward Functions" (__add__, __mul__).
@lesson.listing("Step 2: Operations with Backward Functions")
def step2_operations(run):
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    d = c + a                                  # a is used twice: its gradient must add up
    d.grad = 1.0
    d._backward()
    c._backward()
    print(f"  d = a*b + a with a=2, b=-3: {d}")
    show("a.grad (= b + 1, both paths summed by +=)", a.grad, "-2.0")
    show("b.grad (= a)", b.grad, "2.0")
    ta = tl.tensor(2.0, dtype=tl.float64, requires_grad=True)
    tb = tl.tensor(-3.0, dtype=tl.float64, requires_grad=True)
    (ta * tb + ta).backward()
    agree("a.grad, b.grad vs tl autograd", [a.grad, b.grad], [ta.grad, tb.grad], atol=1e-12)


# Lesson 000, listing "Step 3: Sigmoid and Loss" (Value.sigmoid, mse_loss).
@lesson.listing("Step 3: Sigmoid and Loss")
def step3_sigmoid_and_loss(run):
    z = Value(0.5)
    p = z.sigmoid()
    loss = mse_loss(p, 1.0)
    loss.backward()
    print(f"  sigmoid(0.5) = {p.data:.6f}, loss (p - 1)^2 = {loss.data:.6f}, dloss/dz = {z.grad:.6f}")
    show("sigmoid(1000) (clipped at 500, no overflow)", Value(1000.0).sigmoid().data)
    tz = tl.tensor(0.5, dtype=tl.float64, requires_grad=True)
    tloss = (tl.sigmoid(tz) - 1.0) ** 2
    tloss.backward()
    agree("loss and dloss/dz vs tl autograd", [loss.data, z.grad], [tloss, tz.grad], atol=1e-12)


# Lesson 000, listing "Step 4: Backward Pass" (Value.backward, topological sort).
@lesson.listing("Step 4: Backward Pass")
def step4_backward_pass(run):
    w, x, b = Value(-0.7), Value(1.5), Value(0.2)
    a = (w * x + b).sigmoid()
    loss = mse_loss(a, 1.0)
    loss.backward()
    print(f"  loss = (sigmoid(w*x + b) - 1)^2 = {loss.data:.6f}")
    print(f"  dL/dw = {w.grad:.6f}, dL/dx = {x.grad:.6f}, dL/db = {b.grad:.6f}")
    tw, tx, tb = (tl.tensor(v, dtype=tl.float64, requires_grad=True) for v in (-0.7, 1.5, 0.2))
    tloss = (tl.sigmoid(tw * tx + tb) - 1.0) ** 2
    tl.viz.retain_grads(tloss)               # every node keeps its gradient, for the drawing
    tloss.backward()
    agree("dL/dw, dL/dx, dL/db vs tl autograd", [w.grad, x.grad, b.grad],
          [tw.grad, tx.grad, tb.grad], atol=1e-12)
    # the same graph drawn micrograd-style (data and grad at every node): .save("step4.svg")
    graph = tl.viz.draw_graph(tloss, params={"w": tw, "x": tx, "b": tb}, show_values=True)
    show("tl.viz.draw_graph of it", f"{graph.num_nodes} nodes; w's box reads 'data -0.7', "
         f"'grad {tw.grad.item():.4g}'")
    assert f"grad {tw.grad.item():.4g}" in graph.source


# Lesson 000, listing "Step 5: Layer and Network" (Neuron, Layer, Network).
@lesson.listing("Step 5: Layer and Network")
def step5_layer_and_network(run):
    random.seed(42)
    net = Network([2, 4, 1])
    show("parameters of a 2-4-1 network", len(net.parameters()), "2*4 + 4 + 4 + 1 = 17")
    out = net([Value(1.0), Value(0.0)])
    loss = mse_loss(out, 1.0)
    net.zero_grad()
    loss.backward()
    print(f"  net([1, 0]) = {out.data:.6f}")
    model = to_tl(net)
    tloss = ((model(tl.tensor([1.0, 0.0], dtype=tl.float64)) - 1.0) ** 2).sum()
    tloss.backward()
    agree("output vs the same weights in tl (Linear, Sigmoid, Linear, Sigmoid)", out.data,
          model(tl.tensor([1.0, 0.0], dtype=tl.float64)), atol=1e-12)
    agree("every parameter's gradient vs tl autograd", value_grads(net),
          [p.grad for p in model.parameters()], atol=1e-12)


# Lesson 000, listing "Step 6: Train on XOR".
@lesson.listing("Step 6: Train on XOR")
def step6_train_on_xor(run):
    epochs = 300 if run.quick else 1000
    random.seed(42)
    net = Network([2, 4, 1])
    xor_data = [
        ([0.0, 0.0], 0.0),
        ([0.0, 1.0], 1.0),
        ([1.0, 0.0], 1.0),
        ([1.0, 1.0], 0.0),
    ]
    learning_rate = 1.0
    for epoch in range(epochs):
        total_loss = Value(0.0)
        for inputs, target in xor_data:
            x = [Value(i) for i in inputs]
            pred = net(x)
            loss = mse_loss(pred, target)
            total_loss = total_loss + loss
        net.zero_grad()
        total_loss.backward()
        for p in net.parameters():
            p.data -= learning_rate * p.grad
        if epoch % 100 == 0:
            print(f"Epoch {epoch:4d} | Loss: {total_loss.data:.6f}")
    print("\nXOR Results:")
    for inputs, target in xor_data:
        x = [Value(i) for i in inputs]
        pred = net(x)
        print(f" {inputs} -> {pred.data:.4f} (expected {target})")
    run.xor_net = net
    # cross-check: one more full-batch step's gradients, through tl's autograd
    model = to_tl(net)
    X = tl.tensor([d[0] for d in xor_data], dtype=tl.float64)
    Y = tl.tensor([[d[1]] for d in xor_data], dtype=tl.float64)
    ((model(X) - Y) ** 2).sum().backward()
    total_loss = sum((mse_loss(net([Value(i) for i in d[0]]), d[1]) for d in xor_data), Value(0.0))
    net.zero_grad()
    total_loss.backward()
    agree("full-batch gradients of the trained net vs tl autograd", value_grads(net),
          [p.grad for p in model.parameters()], atol=1e-10)


# Lesson 000, listing "Step 6: Train on XOR" again, with tl scalar tensors in place of Values.
@lesson.listing("Step 6 with tl tensors as the Values: p.data -= lr * p.grad, p.grad = 0.0",
                "concept")
def step6_with_tl_tensors_as_values(run):
    """The lesson's Neuron/Layer/Network and step 6's loop unchanged, every Value(...) made a tl
    scalar tensor that requires grad: what a learner gets by swapping their engine for PyTorch's.
    The losses must follow the Value engine's epoch by epoch."""
    global Value
    epochs = 30 if run.quick else 1000
    engine = Value
    xor_data = [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)]
    random.seed(42)
    reference = _train_xor(Network([2, 4, 1]), epochs)[0]
    Value = lambda data, children=(), op='': tl.tensor(float(data), dtype=tl.float64,  # noqa: E731
                                                       requires_grad=True)
    try:
        random.seed(42)
        net = Network([2, 4, 1])
        accepted = False
        try:
            net.zero_grad()                    # the lesson's zero_grad: p.grad = 0.0
        except TypeError as e:
            print(f"  net.zero_grad() (p.grad = 0.0) raises TypeError, as in PyTorch: {e}")
        else:
            accepted = True
            print("  PROBLEM: p.grad = 0.0 was accepted; PyTorch raises TypeError")
        learning_rate = 1.0
        losses = []
        for epoch in range(epochs):
            total_loss = Value(0.0)
            for inputs, target in xor_data:
                x = [Value(i) for i in inputs]
                pred = net(x)
                loss = mse_loss(pred, target)
                total_loss = total_loss + loss
            for p in net.parameters():         # net.zero_grad(), as a tensor accepts it
                p.grad = None
            total_loss.backward()
            for p in net.parameters():
                p.data -= learning_rate * p.grad
            losses.append(total_loss.item())
            if epoch % 100 == 0:
                print(f"Epoch {epoch:4d} | Loss: {total_loss.data:.6f}")
        for inputs, target in xor_data:
            pred = net([Value(i) for i in inputs])
            print(f" {inputs} -> {pred.data:.4f} (expected {target})")
    finally:
        Value = engine
    agree(f"losses of {epochs} epochs vs the Value engine", losses, reference, atol=1e-9)
    if accepted:
        raise AssertionError("p.grad = 0.0 was accepted (PyTorch raises TypeError)")


# Lesson 000, listing "Step 7: Circle Classification" (online SGD).
@lesson.listing("Step 7: Circle Classification")
def step7_circle_classification(run):
    epochs, every = (60, 20) if run.quick else (2000, 200)
    random.seed(7)

    def generate_circle_data(n=100):
        data = []
        for _ in range(n):
            x1 = random.uniform(-1.5, 1.5)
            x2 = random.uniform(-1.5, 1.5)
            label = 1.0 if x1 * x1 + x2 * x2 < 1.0 else 0.0
            data.append(([x1, x2], label))
        return data

    circle_data = generate_circle_data(80)
    circle_net = Network([2, 8, 1])
    learning_rate = 0.5
    for epoch in range(epochs):
        random.shuffle(circle_data)
        total_loss_val = 0.0
        for inputs, target in circle_data:
            x = [Value(i) for i in inputs]
            pred = circle_net(x)
            loss = mse_loss(pred, target)
            circle_net.zero_grad()
            loss.backward()
            for p in circle_net.parameters():
                p.data -= learning_rate * p.grad
            total_loss_val += loss.data
        if epoch % every == 0:
            correct = 0
            for inputs, target in circle_data:
                x = [Value(i) for i in inputs]
                pred = circle_net(x)
                predicted_class = 1.0 if pred.data > 0.5 else 0.0
                if predicted_class == target:
                    correct += 1
            accuracy = correct / len(circle_data) * 100
            print(f"Epoch {epoch:4d} | Loss: {total_loss_val:.4f} | Accuracy: {accuracy:.1f}%")
    # cross-check: the trained network's predictions through tl
    model = to_tl(circle_net)
    with tl.no_grad():
        tl_pred = model(tl.tensor([d[0] for d in circle_data], dtype=tl.float64))
    agree("predictions on all 80 points vs tl", [circle_net([Value(i) for i in d[0]]).data
                                                 for d in circle_data], tl_pred, atol=1e-12)


# Lesson 000, listing "Use It" (the same XOR in PyTorch; here `torch` -> `tl`).
@lesson.listing("Use It: PyTorch XOR (nn.Sequential, optim.SGD, nn.MSELoss)")
def use_it_pytorch_xor(run):
    epochs = 300 if run.quick else 1000
    model = nn.Sequential(
        nn.Linear(2, 4),
        nn.Sigmoid(),
        nn.Linear(4, 1),
        nn.Sigmoid(),
    )
    optimizer = tl.optim.SGD(model.parameters(), lr=1.0)
    criterion = nn.MSELoss()
    X = tl.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=tl.float32)
    y = tl.tensor([[0], [1], [1], [0]], dtype=tl.float32)
    for epoch in range(epochs):
        pred = model(X)
        loss = criterion(pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print("PyTorch XOR Results:")
    with tl.no_grad():
        for i in range(4):
            pred = model(X[i])
            print(f" {X[i].tolist()} -> {pred.item():.4f} (expected {y[i].item()})")
    show("final MSE loss", loss.item(), None, "{:.6f}")
    with tl.no_grad():
        worst = (model(X) - y).abs().max().item()
    show("largest |prediction - target|", worst, None, "{:.3f}")
    if worst > 0.2:
        print(f"  What really happens: {epochs} epochs of SGD(lr=1.0) from the default init often end\n"
              "  on the MSE plateau near 0.25 (PyTorch too: most seeds need more epochs).")


# Lesson 000, Exercise 1: __sub__ and __neg__; check (a - b)^2 by hand.
@lesson.listing("Exercise 1: add __sub__ (a - b = a + (-1 * b)) and __neg__; check (a - b)^2",
                "exercise")
def exercise1_sub_and_neg(run):
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return self + (-other)                 # a + (-1 * b), with -b = b * -1 (__neg__)
    Value.__neg__ = __neg__
    Value.__sub__ = __sub__
    a, b = Value(3.0), Value(1.25)
    d = a - b
    e = d * d
    e.backward()
    print(f"  (a - b)^2 with a=3, b=1.25: {e.data:.4f};  -a = {(-a).data}")
    show("d/da by hand 2(a - b)", a.grad, "3.5")
    show("d/db by hand -2(a - b)", b.grad, "-3.5")
    assert a.grad == 2 * (3.0 - 1.25) and b.grad == -2 * (3.0 - 1.25)
    ta = tl.tensor(3.0, dtype=tl.float64, requires_grad=True)
    tb = tl.tensor(1.25, dtype=tl.float64, requires_grad=True)
    ((ta - tb) ** 2).backward()
    agree("vs tl autograd", [a.grad, b.grad], [ta.grad, tb.grad], atol=1e-12)


def _train_xor(net, epochs, lr=1.0, clip=None):
    """Step 6's loop (full-batch SGD on XOR), optionally clipping each gradient to [-clip, clip].
    Returns the loss curve, the largest |gradient| seen and how many gradients were clipped."""
    xor_data = [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)]
    losses, largest, clipped = [], 0.0, 0
    for _ in range(epochs):
        total_loss = Value(0.0)
        for inputs, target in xor_data:
            total_loss = total_loss + mse_loss(net([Value(i) for i in inputs]), target)
        net.zero_grad()
        total_loss.backward()
        for p in net.parameters():
            largest = max(largest, abs(p.grad))
            if clip is not None and abs(p.grad) > clip:
                clipped += 1
                p.grad = max(-clip, min(clip, p.grad))
            p.data -= lr * p.grad
        losses.append(total_loss.data)
    return losses, largest, clipped


# Lesson 000, Exercise 2: a relu method; relu hidden layers on XOR vs sigmoid.
@lesson.listing("Exercise 2: add relu (max(0, x), derivative 1 if x > 0); relu hidden layers on XOR",
                "exercise")
def exercise2_relu(run):
    def relu(self):
        out = Value(max(0.0, self.data), (self,), 'relu')

        def _backward():
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad
        out._backward = _backward
        return out
    Value.relu = relu

    class ReluNeuron(Neuron):
        def __call__(self, x):
            return sum((wi * xi for wi, xi in zip(self.weights, x)), self.bias).relu()

    epochs, seeds = (120, range(4)) if run.quick else (500, range(6))
    reached = {"sigmoid": [], "relu": []}
    print(f"  epochs until the XOR loss (step 6's, lr = 1.0) drops below 0.05, {epochs} at most:")
    for seed in seeds:
        row = []
        for name in ("sigmoid", "relu"):
            random.seed(seed)
            net = Network([2, 4, 1])
            if name == "relu":                 # hidden neurons use relu, the output keeps sigmoid
                for n in net.layers[0].neurons:
                    n.__class__ = ReluNeuron
            losses = _train_xor(net, epochs, lr=1.0)[0]
            first = next((i for i, v in enumerate(losses) if v < 0.05), None)
            reached[name].append(first)
            row.append(f"{name} hidden: " + (f"{first:4d}" if first is not None
                                             else f"not reached (loss {losses[-1]:.3f})"))
        print(f"  seed {seed}   " + "   ".join(row))
    for name in ("sigmoid", "relu"):
        ok = sorted(v for v in reached[name] if v is not None)
        show(f"{name} hidden layer: seeds that reached 0.05", f"{len(ok)} of {len(seeds)}"
             + (f", median {ok[len(ok) // 2]} epochs" if ok else ""),
             "relu: faster training" if name == "relu" else None)
    print("  What really happens: when the ReLU network trains it is several times faster, but with\n"
          "  only 4 hidden units some seeds leave units dead (relu' = 0 everywhere) and it stalls.")
    t = tl.tensor([-1.5, 0.0, 2.0], dtype=tl.float64, requires_grad=True)
    tl.relu(t).sum().backward()
    vals = [Value(v) for v in (-1.5, 0.0, 2.0)]
    for v in vals:
        v.relu().backward()
    agree("relu's derivative at -1.5, 0, 2 vs tl", [v.grad for v in vals], t.grad, atol=0)


# Lesson 000, Exercise 3: __pow__ for integer powers; (predicted - target) ** 2 as the loss.
@lesson.listing("Exercise 3: __pow__ for integer powers; (predicted - target) ** 2 replaces mse_loss",
                "exercise")
def exercise3_pow(run):
    def __pow__(self, n):
        assert isinstance(n, int), "integer powers only"
        out = Value(self.data ** n, (self,), f'**{n}')

        def _backward():
            self.grad += n * self.data ** (n - 1) * out.grad
        out._backward = _backward
        return out
    Value.__pow__ = __pow__
    grads = []
    for use_pow in (False, True):
        random.seed(42)
        net = Network([2, 4, 1])
        pred = net([Value(0.0), Value(1.0)])
        loss = (pred - 1.0) ** 2 if use_pow else mse_loss(pred, 1.0)
        net.zero_grad()
        loss.backward()
        grads.append([p.grad for p in net.parameters()])
    agree("gradients with (pred - target) ** 2 vs mse_loss", grads[1], grads[0], atol=1e-15)
    x = Value(1.5)
    (x ** 3).backward()
    tx = tl.tensor(1.5, dtype=tl.float64, requires_grad=True)
    (tx ** 3).backward()
    agree("d/dx x**3 at 1.5 vs tl", x.grad, tx.grad, atol=1e-12)


# Lesson 000, Exercise 4: clip gradients to [-1, 1]; a deeper sigmoid network with and without.
@lesson.listing("Exercise 4: clip gradients to [-1, 1]; deeper (4+ layer) sigmoid network", "exercise")
def exercise4_gradient_clipping(run):
    epochs = 120 if run.quick else 1000
    curves = {}
    for clip in (None, 1.0):
        random.seed(1)
        net = Network([2, 6, 6, 6, 1])          # 4 sigmoid layers
        curves[clip] = _train_xor(net, epochs, lr=3.0, clip=clip)
    for e in range(0, epochs, max(1, epochs // 6)):
        print(f"  epoch {e:4d}  loss without clipping {curves[None][0][e]:.4f}   "
              f"clipped to [-1, 1] {curves[1.0][0][e]:.4f}")
    show("largest |gradient| seen without clipping", curves[None][1], None, "{:.3f}")
    show("gradients clipped", curves[1.0][2], "clipping is the first defense against explosions")
    if curves[1.0][2] == 0:
        print("  What really happens: no gradient ever exceeded 1, so clipping never acted (any gap\n"
              "  between the curves is float rounding: the Value engine's children are a set, so the\n"
              "  order of the += sums varies run to run, and lr = 3 amplifies it). Sigmoid layers\n"
              "  shrink gradients (sigmoid' <= 0.25): they vanish rather than explode.")
    # the clipping rule is tl.nn.utils.clip_grad_value_:
    g = [-3.0, -0.5, 0.25, 7.0]
    p = tl.zeros(4, dtype=tl.float64, requires_grad=True)
    (p * tl.tensor(g, dtype=tl.float64)).sum().backward()
    tl.nn.utils.clip_grad_value_([p], 1.0)
    agree("max(-1, min(1, g)) vs tl.nn.utils.clip_grad_value_", [max(-1, min(1, v)) for v in g],
          p.grad, atol=0)


# Lesson 000, Exercise 5: print every parameter's gradient after XOR training; smallest layer.
@lesson.listing("Exercise 5: every parameter's gradient after XOR training; which layer is smallest",
                "exercise")
def exercise5_gradients_by_layer(run):
    net = getattr(run, "xor_net", None)
    if net is None:                            # when run alone (--only)
        random.seed(42)
        net = Network([2, 4, 1])
        _train_xor(net, 100)
    xor_data = [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)]
    total_loss = sum((mse_loss(net([Value(i) for i in d[0]]), d[1]) for d in xor_data), Value(0.0))
    net.zero_grad()
    total_loss.backward()
    means = []
    for li, layer in enumerate(net.layers, 1):
        for ni, n in enumerate(layer.neurons):
            print(f"  layer {li} neuron {ni}: weight grads "
                  + ", ".join(f"{w.grad:+.2e}" for w in n.weights) + f"; bias grad {n.bias.grad:+.2e}")
        means.append(sum(abs(p.grad) for p in layer.parameters()) / len(layer.parameters()))
    for li, m in enumerate(means, 1):
        show(f"mean |grad| of layer {li}", m, None, "{:.3e}")
    smallest = min(range(len(means)), key=means.__getitem__) + 1
    show("layer with the smallest gradients", f"layer {smallest}",
         "the early layer (vanishing gradients)")


if __name__ == "__main__":
    sys.exit(lesson.main(__doc__))
