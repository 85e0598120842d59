"""A 2-layer binary classifier with its backward pass written out by hand.

    z1 = X W1 + b1        (N, H)      the hidden layer's pre-activation
    a1 = relu(z1)         (N, H)
    z2 = a1 W2 + b2       (N, 1)      the logit
    p  = sigmoid(z2)      (N, 1)      the predicted probability of class 1
    L  = mean(-(y log p + (1 - y) log(1 - p)))        binary cross-entropy

Data: scikit-learn's breast-cancer set (569 tumours, 30 features) when scikit-learn is installed,
otherwise a generated set of the same size; features standardized to mean 0, std 1 (using the
training split's statistics). The script shows

  1. the initial loss near ln 2 = 0.693: with tiny output weights p is about 0.5 for everyone;
  2. the five backward steps computed by hand with tl ops --
        dz2 = (p - y) / N              dW2 = a1^T dz2
        da1 = dz2 W2^T                 dz1 = da1 * (z1 > 0)          dW1 = X^T dz1
     (plus db2 = sum of dz2, db1 = column sums of dz1) -- each matching autograd's gradient;
  3. one gradient-descent step W <- W - lr dW lowering the loss;
  4. (full run) more steps, then the accuracy on held-out data.

    python examples/two_layer_classifier.py
    python examples/two_layer_classifier.py --quick     # steps 1-3 only (the test suite's)
    python examples/two_layer_classifier.py --jit       # step 4's loop replayed in C (tl.jit)
"""
import argparse
import math
import random
import sys

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F


def load_data(seed):
    """(X, y, description): X (569, 30) float64, y (569, 1) float64 of 0/1."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        load_breast_cancer = None
    if load_breast_cancer is not None:
        d = load_breast_cancer()
        X = tl.tensor(d.data, dtype=tl.float64)
        y = tl.tensor(d.target, dtype=tl.float64).reshape(-1, 1)
        return X, y, "scikit-learn's breast-cancer data set (569 samples, 30 features; 1 = benign)"
    # Generated stand-in: two overlapping Gaussian classes in 30-D, on very different scales.
    tl.manual_seed(seed)
    n, d = 569, 30
    y = (tl.rand(n, 1, dtype=tl.float64) < 0.63).double()
    direction = tl.randn(1, d, dtype=tl.float64)
    scale = tl.rand(1, d, dtype=tl.float64) * 100 + 0.1        # raw features on wild scales
    X = (tl.randn(n, d, dtype=tl.float64) + y * direction * 0.45) * scale
    return X, y, ("a generated data set (569 samples, 30 features; scikit-learn is not installed, "
                  "so the breast-cancer data is not available)")


def split(X, y, seed, test_fraction=0.2):
    idx = list(range(X.shape[0]))
    random.Random(seed).shuffle(idx)
    n_test = int(len(idx) * test_fraction)
    test, train = tl.tensor(idx[:n_test]), tl.tensor(idx[n_test:])
    return X[train], y[train], X[test], y[test]


def max_diff(a, b):
    return (a - b).abs().max().item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="stop after the single gradient-descent step")
    ap.add_argument("--hidden", type=int, default=16, help="hidden units H (default 16)")
    ap.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    ap.add_argument("--steps", type=int, default=200, help="training steps in the full run (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jit", action="store_true",
                    help="capture the training step once and replay it in C (tl.jit)")
    args = ap.parse_args(argv)

    X, y, what = load_data(args.seed)
    print(f"data: {what}")
    X_train, y_train, X_test, y_test = split(X, y, args.seed)
    mu, sigma = X_train.mean(0, keepdim=True), X_train.std(0, keepdim=True)
    X_train, X_test = (X_train - mu) / sigma, (X_test - mu) / sigma     # standardize
    N, D = X_train.shape
    H = args.hidden
    print(f"train {N} / test {X_test.shape[0]} samples; {D} standardized features; hidden layer H = {H}")

    tl.manual_seed(args.seed)
    bound = 1 / math.sqrt(D)
    W1 = (tl.rand(D, H, dtype=tl.float64) * 2 - 1).mul_(bound).requires_grad_()
    b1 = tl.zeros(H, dtype=tl.float64, requires_grad=True)
    W2 = (tl.randn(H, 1, dtype=tl.float64) * 0.01).requires_grad_()     # tiny: p starts near 0.5
    b2 = tl.zeros(1, dtype=tl.float64, requires_grad=True)
    params = [W1, b1, W2, b2]

    def forward(X):
        z1 = X @ W1 + b1
        a1 = z1.relu()
        z2 = a1 @ W2 + b2
        p = z2.sigmoid()
        return z1, a1, z2, p

    def accuracy(X, y):
        with tl.no_grad():
            return ((forward(X)[3] > 0.5).double() == y).double().mean().item()

    # ---- 1. forward and the initial loss --------------------------------------------------------
    z1, a1, z2, p = forward(X_train)
    for t in (z1, a1, z2):
        t.retain_grad()                      # keep autograd's gradients of the intermediates too
    loss = F.binary_cross_entropy(p, y_train)
    print(f"\n1. initial loss {loss.item():.4f}   (ln 2 = {math.log(2):.4f}: every p is about "
          f"{p.mean().item():.3f}, and -ln 0.5 = ln 2)")

    # ---- 2. backward by hand, then by autograd ----------------------------------------------------
    with tl.no_grad():
        dz2 = (p - y_train) / N              # dL/dz2: sigmoid + cross-entropy collapse to p - y
        dW2 = a1.T @ dz2                     # (H, N) @ (N, 1)
        db2 = dz2.sum(0)
        da1 = dz2 @ W2.T                     # (N, 1) @ (1, H)
        dz1 = da1 * (z1 > 0).double()        # relu passes the gradient where z1 > 0
        dW1 = X_train.T @ dz1                # (D, N) @ (N, H)
        db1 = dz1.sum(0)
    loss.backward()
    print("\n2. backward by hand vs autograd (loss.backward()):")
    print(f"   {'step':<4} {'formula':<22} {'shape':<8} {'max |hand - autograd|':>22}")
    rows = [("dz2", "(p - y) / N", dz2, z2.grad), ("dW2", "a1^T dz2", dW2, W2.grad),
            ("da1", "dz2 W2^T", da1, a1.grad), ("dz1", "da1 * (z1 > 0)", dz1, z1.grad),
            ("dW1", "X^T dz1", dW1, W1.grad), ("db2", "sum_n dz2", db2, b2.grad),
            ("db1", "sum_n dz1", db1, b1.grad)]
    worst = 0.0
    for name, formula, hand, auto in rows:
        d = max_diff(hand, auto)
        worst = max(worst, d)
        shape = "x".join(str(s) for s in hand.shape)
        print(f"   {name:<4} {formula:<22} {shape:<8} {d:22.3e}")
    match = worst < 1e-12
    print(f"   {'all match' if match else 'MISMATCH'} (largest difference {worst:.1e}; float64)")

    # ---- 3. one gradient-descent step ------------------------------------------------------------
    with tl.no_grad():
        for w, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            w.sub_(g * args.lr)
        new_loss = F.binary_cross_entropy(forward(X_train)[3], y_train).item()
    print(f"\n3. one gradient-descent step (lr = {args.lr}): loss {loss.item():.4f} -> {new_loss:.4f}"
          f"  ({'lower' if new_loss < loss.item() else 'NOT lower'})")
    ok = match and new_loss < loss.item()
    if args.quick:
        return 0 if ok else 1

    # ---- 4. keep going: plain full-batch gradient descent -----------------------------------------
    print(f"\n4. {args.steps} more steps of gradient descent (now with loss.backward()):")
    def train_step():
        for w in params:
            w.grad = None
        loss = F.binary_cross_entropy(forward(X_train)[3], y_train)
        loss.backward()
        with tl.no_grad():
            for w in params:
                w.sub_(w.grad * args.lr)
        return loss

    # --jit: capture train_step once, then replay its kernels in C (tl.jit)
    run_step = tl.jit(train_step) if args.jit else train_step
    for step in range(1, args.steps + 1):
        loss = run_step()
        if step % (args.steps // 5 or 1) == 0:
            print(f"   step {step:4d}  train loss {loss.item():.4f}  train accuracy "
                  f"{accuracy(X_train, y_train):6.1%}  test accuracy {accuracy(X_test, y_test):6.1%}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
