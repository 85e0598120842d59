"""Lesson 001, "Backpropagation Explained": every listing, run.

The lesson's NumPy network (SimpleNeuralNet, backprop by hand on XOR) runs as written and is
cross-checked against tinygrad_lab's autograd. Its PyTorch listings -- vanishing gradients with
tanh, the ReLU / residual / BatchNorm fixes, gradient clipping, learning-rate schedulers -- are
ported by changing only the imports (`torch` -> `tl`, `torch.nn` -> `tl.nn`, `torch.optim` ->
`tl.optim`); where a listing is a fragment (a loop over an undefined `dataloader`, a
`train_epoch` it never defines) the smallest wrapper that makes it run is added around it, with
a seeded generated data set.

What really happens where the lesson's code does something other than it says:
  * compute_loss broadcasts y (4,) against y_pred (4, 1): the "loss" it prints is the mean
    over a 4 x 4 grid of label/prediction pairs, not the cross-entropy (training is unaffected:
    backward reshapes y correctly);
  * BatchNormNet has no forward(), so calling it raises NotImplementedError, as in PyTorch;
  * in the scheduler listing `scheduler` ends up as the OneCycleLR, so `scheduler.step(val_loss)`
    hands OneCycleLR a loss as its epoch number (a deprecation warning; the lr is read off the
    schedule at "step 0.69"), exactly what PyTorch does with the same code.

    python examples/lessons/lesson_001_backprop_explained.py
    python examples/lessons/lesson_001_backprop_explained.py --quick
"""
import sys
import warnings

import numpy as np

import _lesson as lesson
from _lesson import agree, show

import tinygrad_lab as tl                     # the lesson's `import torch`
import tinygrad_lab.nn as nn                  # `import torch.nn as nn`
import tinygrad_lab.optim as optim            # `import torch.optim as optim`
try:                                          # the lesson imports matplotlib and never uses it
    import matplotlib.pyplot as plt  # noqa: F401
except ImportError:
    plt = None


# Lesson 001, listing "A Complete Manual Example" (NumPy).
class SimpleNeuralNet:
    """A tiny 2-layer network to demonstrate backprop manually."""

    def __init__(self, input_size, hidden_size, output_size, lr=0.01):
        # Xavier initialization
        self.W1 = np.random.randn(input_size, hidden_size) * np.sqrt(2/input_size)
        self.b1 = np.zeros(hidden_size)
        self.W2 = np.random.randn(hidden_size, output_size) * np.sqrt(2/hidden_size)
        self.b2 = np.zeros(output_size)
        self.lr = lr

    def sigmoid(self, z):
        return 1 / (1 + np.exp(-z))

    def sigmoid_derivative(self, a):
        return a * (1 - a)  # If a = sigmoid(z), then da/dz = a(1-a)

    def forward(self, X):
        # Layer 1
        self.z1 = X @ self.W1 + self.b1        # (n, hidden)
        self.a1 = self.sigmoid(self.z1)        # (n, hidden)
        # Layer 2 (output)
        self.z2 = self.a1 @ self.W2 + self.b2  # (n, output)
        self.a2 = self.sigmoid(self.z2)        # (n, output)
        return self.a2

    def compute_loss(self, y_pred, y_true):
        # Binary cross-entropy
        m = len(y_true)
        loss = -np.mean(y_true * np.log(y_pred + 1e-8) +
                        (1 - y_true) * np.log(1 - y_pred + 1e-8))
        return loss

    def backward(self, X, y_true):
        m = len(y_true)
        # ===== BACKWARD PASS =====
        # Output layer error
        # dL/da2 = -(y/a2 - (1-y)/(1-a2)) for cross-entropy
        # x da2/dz2 = a2(1-a2) for sigmoid
        # Combined: dL/dz2 = a2 - y (elegant simplification!)
        dz2 = self.a2 - y_true.reshape(-1, 1)  # (n, output)
        # Gradient for W2 and b2
        dW2 = (self.a1.T @ dz2) / m            # (hidden, output)
        db2 = dz2.mean(axis=0)                 # (output,)
        # Propagate through layer 2 weights back to layer 1
        da1 = dz2 @ self.W2.T                  # (n, hidden)
        dz1 = da1 * self.sigmoid_derivative(self.a1)  # (n, hidden)
        # Gradient for W1 and b1
        dW1 = (X.T @ dz1) / m                  # (input, hidden)
        db1 = dz1.mean(axis=0)                 # (hidden,)
        # ===== UPDATE WEIGHTS =====
        # Gradient descent: move opposite to gradient
        self.W2 -= self.lr * dW2
        self.b2 -= self.lr * db2
        self.W1 -= self.lr * dW1
        self.b1 -= self.lr * db1

    def train(self, X, y, epochs=1000):
        losses = []
        for epoch in range(epochs):
            # Forward pass
            y_pred = self.forward(X)
            # Compute loss
            loss = self.compute_loss(y_pred, y)
            losses.append(loss)
            # Backward pass — compute gradients and update weights
            self.backward(X, y)
            if epoch % 100 == 0:
                print(f"Epoch {epoch}: Loss = {loss:.4f}")
        return losses


@lesson.listing("A Complete Manual Example: SimpleNeuralNet (NumPy) on XOR")
def manual_example_simple_neural_net(run):
    np.random.seed(0)                          # wrapper: the lesson does not seed
    # Train on XOR (non-linearly separable)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([0, 1, 1, 0])  # XOR
    net = SimpleNeuralNet(input_size=2, hidden_size=4, output_size=1, lr=1.0)
    losses = net.train(X, y, epochs=1000)
    print("\nFinal predictions:")
    for x_i, y_i in zip(X, y):
        pred = net.forward(x_i.reshape(1, -1))[0, 0]
        print(f"  Input {x_i} → Pred: {pred:.4f}, True: {y_i}")

    # What the printed loss really is: y (4,) against y_pred (4, 1) broadcasts to (4, 4).
    y_pred = net.forward(X)
    true_bce = -np.mean(y.reshape(-1, 1) * np.log(y_pred + 1e-8)
                        + (1 - y.reshape(-1, 1)) * np.log(1 - y_pred + 1e-8))
    show("compute_loss's broadcast shape", (y * np.log(y_pred + 1e-8)).shape, "a loss over 4 examples")
    show("final loss as the lesson prints it", net.compute_loss(y_pred, y), None, "{:.4f}")
    show("final binary cross-entropy (y reshaped to (4, 1))", true_bce, None, "{:.4f}")

    # tl cross-check: the manual backward's gradients (read off one update) vs tl autograd.
    np.random.seed(1)
    probe = SimpleNeuralNet(input_size=2, hidden_size=4, output_size=1, lr=1.0)
    before = {k: getattr(probe, k).copy() for k in ("W1", "b1", "W2", "b2")}
    probe.forward(X)
    probe.backward(X, y)
    manual = {k: (before[k] - getattr(probe, k)) / probe.lr for k in before}
    params = {k: tl.tensor(v, requires_grad=True) for k, v in before.items()}
    Xt, yt = tl.tensor(X, dtype=tl.float64), tl.tensor(y.reshape(-1, 1), dtype=tl.float64)
    a2 = tl.sigmoid(tl.sigmoid(Xt @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"])
    loss = -tl.mean(yt * tl.log(a2) + (1 - yt) * tl.log(1 - a2))
    loss.backward()
    for k in ("W1", "b1", "W2", "b2"):
        agree(f"d{k}: manual backward vs tl autograd of the BCE", manual[k], params[k].grad, atol=1e-10)


# Lesson 001, listing "Vanishing Gradients" (check_gradients with tanh).
def check_gradients(n_layers):
    model = nn.Sequential(*[
        layer
        for _ in range(n_layers)
        for layer in [nn.Linear(10, 10), nn.Tanh()]
    ])
    x = tl.randn(1, 10, requires_grad=True)
    loss = model(x).sum()
    loss.backward()
    # Collect gradients of each Linear layer
    grads = []
    for name, param in model.named_parameters():
        if 'weight' in name and param.grad is not None:
            grads.append(param.grad.abs().mean().item())
    return grads


@lesson.listing("Vanishing Gradients: check_gradients(5) and check_gradients(20) with tanh")
def vanishing_gradients_check_gradients(run):
    tl.manual_seed(0)                          # wrapper: the lesson does not seed
    grads_5 = check_gradients(5)
    grads_20 = check_gradients(20)
    print("5-layer network, gradient norms by layer:")
    for i, g in enumerate(grads_5):
        print(f"  Layer {i+1}: {g:.6f}")
    print("\n20-layer network, gradient norms by layer:")
    for i, g in enumerate(grads_20[:5]):
        print(f"  Layer {i+1}: {g:.10f}")
    print(f"  ... (last layer): {grads_20[-1]:.6f}")
    show("20 layers: first layer's gradient / last layer's", grads_20[0] / grads_20[-1],
         "early layers receive nearly zero gradient", "{:.2e}")
    show("0.25^20", 0.25 ** 20, "grad x 0.25^20 ≈ grad x 0.000000000001", "{:.2e}")
    run.tanh_grads_20 = grads_20


# Lesson 001, listing "Solutions to Vanishing Gradients", solution 1.
# Solution 1: ReLU activation (doesn't saturate like sigmoid/tanh)
class ModernNet(nn.Module):
    def __init__(self, n_layers):
        super().__init__()
        layers = [nn.Linear(10, 64), nn.ReLU()]
        for _ in range(n_layers - 2):
            layers.extend([nn.Linear(64, 64), nn.ReLU()])
        layers.append(nn.Linear(64, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# Lesson 001, listing "Solutions to Vanishing Gradients", solution 2.
# Solution 2: Residual connections (skip connections)
class ResidualBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(
            nn.Linear(dim, dim),
            nn.BatchNorm1d(dim),
            nn.ReLU(),
            nn.Linear(dim, dim),
            nn.BatchNorm1d(dim)
        )
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.block(x))  # Identity shortcut
        # Gradient now has a direct path through the skip connection


# Lesson 001, listing "Solutions to Vanishing Gradients", solution 3.
# Solution 3: Batch Normalization — normalizes activations
class BatchNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(10, 64),
            nn.BatchNorm1d(64),  # Normalize before activation
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.Linear(64, 1)
        )


def first_layer_grad(model, x):
    """Wrapper: mean |grad| of the first Linear's weight after model(x).sum().backward()."""
    model.zero_grad()
    model(x).sum().backward()
    return next(p for n, p in model.named_parameters() if n.endswith("weight")).grad.abs().mean().item()


@lesson.listing("Solution 1: ReLU activation (ModernNet)")
def solution1_relu_modern_net(run):
    tl.manual_seed(0)
    x = tl.randn(1, 10)
    default = {}
    for n in (5, 20):
        default[n] = first_layer_grad(ModernNet(n), x)
        show(f"ModernNet(n_layers={n}): first layer's mean |grad|", default[n], None, "{:.3e}")
    if hasattr(run, "tanh_grads_20"):
        show("20 tanh layers (check_gradients above): first layer", run.tanh_grads_20[0], None, "{:.3e}")
    # What really happens: with nn.Linear's default init (uniform, std 1/sqrt(3 fan_in)) each ReLU
    # layer shrinks the signal, so 20 ReLU layers vanish too (PyTorch gives ~1e-9 as well).
    # ReLU keeps gradients alive when paired with He init, which the lesson's text mentions:
    he = ModernNet(20)
    for m in he.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
            nn.init.zeros_(m.bias)
    he_grad = first_layer_grad(he, x)
    show("ModernNet(20) with He init (kaiming_normal_): first layer's mean |grad|", he_grad,
         "ReLU doesn't saturate", "{:.3e}")
    print("  What really happens: with the default nn.Linear init the 20-layer ReLU net vanishes too\n"
          f"  ({default[20]:.1e}); ReLU fixes it together with He initialization ({he_grad:.1e}).")
    assert he_grad > 1e3 * default[20]


@lesson.listing("Solution 2: Residual connections (ResidualBlock)")
def solution2_residual_block(run):
    tl.manual_seed(0)
    x = tl.randn(16, 32)                       # BatchNorm1d in training mode needs a batch
    deep = nn.Sequential(*[ResidualBlock(32) for _ in range(10)])
    print(f"  10 ResidualBlock(32) on a (16, 32) batch -> output {tuple(deep(x).shape)}")
    show("first Linear's mean |grad| through 10 residual blocks", first_layer_grad(deep, x),
         "gradient has a direct path through the skip connection", "{:.3e}")


@lesson.listing("Solution 3: Batch Normalization (BatchNormNet)")
def solution3_batchnorm_net(run):
    tl.manual_seed(0)
    model = BatchNormNet()
    x = tl.randn(16, 10)
    try:
        model(x)
    except NotImplementedError as e:
        print(f"  BatchNormNet()(x) raises NotImplementedError (the listing defines no forward(); "
              f"PyTorch raises the same): {e}")
    else:
        raise AssertionError("a Module without forward() was callable; PyTorch raises "
                             "NotImplementedError")
    out = model.net(x)                         # its Sequential does run
    print(f"  model.net(x) -> {tuple(out.shape)}")
    show("first Linear's mean |grad| via model.net", first_layer_grad(model.net, x), None, "{:.3e}")


def regression_loader(n=256, batch_size=32, seed=0):
    """Wrapper: a seeded generated regression set (10 features -> 1 target) in a DataLoader."""
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, 10)).astype(np.float32)
    y = (np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]).astype(np.float32)
    data = tl.utils.data.TensorDataset(tl.tensor(X), tl.tensor(y))
    return tl.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True), tl.tensor(X), tl.tensor(y)


# Lesson 001, listing "Gradient Clipping: Fighting Exploding Gradients".
@lesson.listing("Gradient Clipping: clip_grad_norm_ in the training loop (ModernNet, Adam)")
def gradient_clipping_loop(run):
    tl.manual_seed(0)
    dataloader, X_all, y_all = regression_loader()         # wrapper: the lesson's `dataloader`
    criterion = nn.MSELoss()                               # wrapper: the lesson's `criterion`
    model = ModernNet(n_layers=5)
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    for epoch in range(3 if run.quick else 20):            # wrapper: epochs around the loop
        for batch_X, batch_y in dataloader:
            optimizer.zero_grad()
            output = model(batch_X)
            loss = criterion(output, batch_y)
            loss.backward()
            # Clip gradients before update
            tl.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
        with tl.no_grad():
            print(f"  epoch {epoch + 1:2d}  loss on all data {criterion(model(X_all), y_all).item():.4f}")
    norm = sum((p.grad ** 2).sum().item() for p in model.parameters()) ** 0.5
    show("gradient norm of the last step, after clip_grad_norm_", norm, "at most max_norm=1.0", "{:.4f}")
    assert norm <= 1.0 + 1e-4


# Lesson 001, listing "Learning Rates: How Big Should Steps Be?" (three schedulers).
@lesson.listing("Learning-rate schedulers: ReduceLROnPlateau, CosineAnnealingLR, OneCycleLR")
def learning_rate_schedulers(run):
    tl.manual_seed(0)
    train_loader, X_all, y_all = regression_loader(seed=1)  # wrapper: the lesson's loaders
    val_loader, _, _ = regression_loader(n=64, seed=2)
    criterion = nn.MSELoss()
    model = ModernNet(n_layers=3)
    epochs = 4 if run.quick else 30

    def train_epoch(model, loader, optimizer):            # wrapper: not defined in the lesson
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
        return loss.item()

    def validate(model, loader):                          # wrapper: not defined in the lesson
        with tl.no_grad():
            return sum(criterion(model(xb), yb).item() for xb, yb in loader) / len(loader)

    # --- the listing, as written ---
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    # Reduce on plateau
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode='min', factor=0.5, patience=10
    )
    # Cosine annealing (widely used in practice)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=100, eta_min=1e-6
    )
    # One-cycle schedule (fast.ai popularized this)
    scheduler = optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.01,
        steps_per_epoch=len(train_loader), epochs=30
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(epochs):
            train_loss = train_epoch(model, train_loader, optimizer)
            val_loss = validate(model, val_loader)
            scheduler.step(val_loss)  # For ReduceLROnPlateau
            print(f"  epoch {epoch + 1}: val_loss {val_loss:.4f}, lr {optimizer.param_groups[0]['lr']:.3e}")
    # --- what that really does ---
    print(f"  What really happens: `scheduler` is the OneCycleLR (assigned last), so step(val_loss)\n"
          f"  uses the loss as the step number: last_epoch = {scheduler.last_epoch:.4f}; "
          f"{len(caught)} deprecation warning(s), as in PyTorch.")
    assert abs(scheduler.last_epoch - val_loss) < 1e-12
    # --- each scheduler stepped the way it is meant to be ---
    for name in ("ReduceLROnPlateau", "CosineAnnealingLR", "OneCycleLR"):
        tl.manual_seed(0)
        model = ModernNet(n_layers=3)
        optimizer = optim.Adam(model.parameters(), lr=0.001)
        if name == "ReduceLROnPlateau":
            scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.5,
                                                             patience=1)
        elif name == "CosineAnnealingLR":
            scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=1e-6)
        else:
            scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=epochs + 1)
        lrs = []
        for epoch in range(epochs):
            lrs.append(optimizer.param_groups[0]["lr"])       # the lr this epoch trains with
            train_epoch(model, train_loader, optimizer)
            val_loss = validate(model, val_loader)
            if name == "ReduceLROnPlateau":
                scheduler.step(val_loss)
            else:
                scheduler.step()
        print(f"  {name:18s} lr per epoch: " + ", ".join(f"{v:.2e}" for v in lrs))


if __name__ == "__main__":
    sys.exit(lesson.main(__doc__))
