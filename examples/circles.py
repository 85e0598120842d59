"""Circle classification with online (per-sample) stochastic gradient descent.

Points are drawn uniformly from the square [-1, 1]^2 and labelled 1 inside the circle of radius
0.75, 0 outside. A 2-16-1 tanh network with a sigmoid output (trained on the logit with
BCEWithLogitsLoss) sees the examples one at a time, in a new random order every epoch, and
updates its weights after each one: that is online SGD. After each epoch the script prints the
mean training loss and the accuracy on the training and on a held-out test set.

    python examples/circles.py            # 20 epochs: about 95% test accuracy
    python examples/circles.py --quick    # 6 epochs on 200 points (the test suite's)
    python examples/circles.py --jit      # the same, each update replayed in C (tl.jit)
"""
import argparse
import random
import sys

import tinygrad_lab as tl
from tinygrad_lab import nn

RADIUS = 0.75


def make_points(n):
    """n points uniform in [-1, 1]^2 with labels 1 inside the circle, as (n, 2) and (n, 1) tensors."""
    x = tl.rand(n, 2) * 2 - 1
    y = ((x * x).sum(1, keepdim=True) < RADIUS ** 2).float()
    return x, y


def accuracy(model, x, y):
    with tl.no_grad():
        return ((model(x) > 0).float() == y).float().mean().item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="6 epochs on 200 points")
    ap.add_argument("--epochs", type=int, default=None, help="passes over the data (default 20)")
    ap.add_argument("--n", type=int, default=None, help="training points (default 300)")
    ap.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jit", action="store_true",
                    help="capture the training step once and replay it in C (tl.jit)")
    args = ap.parse_args(argv)
    epochs = args.epochs or (6 if args.quick else 20)
    n = args.n or (200 if args.quick else 300)

    tl.manual_seed(args.seed)
    x, y = make_points(n)
    x_test, y_test = make_points(500)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))   # outputs the logit
    loss_fn = nn.BCEWithLogitsLoss()
    opt = tl.optim.SGD(model.parameters(), lr=args.lr)
    print(f"circle (radius {RADIUS}) vs outside: {n} training points, {int(y.sum().item())} inside; "
          f"2-16-1 tanh network, online SGD (lr={args.lr}), one update per example")
    majority = max(y.mean().item(), 1 - y.mean().item())
    print(f"(always answering the larger class already scores {majority:.1%}: the network has learnt "
          "the circle only once it beats that)")

    def train_step(xi, yi):
        loss = loss_fn(model(xi), yi)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    # --jit: xi and yi are copied into the recorded step's inputs; the loss it returns is the
    # recording's output, overwritten by the next call (so read it with .item() before then)
    step = tl.jit(train_step) if args.jit else train_step
    order = list(range(n))
    shuffle = random.Random(args.seed).shuffle
    for epoch in range(1, epochs + 1):
        shuffle(order)
        total = 0.0
        for i in order:
            xi, yi = x[i:i + 1], y[i:i + 1]          # a batch of one: (1, 2) and (1, 1)
            total += step(xi, yi).item()
        print(f"  epoch {epoch:3d}  mean loss {total / n:.4f}  train accuracy {accuracy(model, x, y):6.1%}  "
              f"test accuracy {accuracy(model, x_test, y_test):6.1%}")
    acc = accuracy(model, x_test, y_test)
    print(f"final test accuracy: {acc:.1%} ({epochs} epochs, {epochs * n} single-example updates)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
