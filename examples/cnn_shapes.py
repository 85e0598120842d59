"""A first CNN: Conv2d -> ReLU -> MaxPool2d, twice, then Linear, on 12x12 images of four shapes.

The images are drawn here (no download): a horizontal bar, a vertical bar, a diagonal line or a
small square, each at a random place, on noise. The network is PyTorch's lesson CNN written
with tinygrad_lab -- nn.Conv2d, nn.MaxPool2d, nn.Flatten, nn.Linear -- trained with Adam on the
cross-entropy loss; the script prints the loss and test accuracy per epoch, the final test
accuracy, and each layer's output shape for one image.

    python examples/cnn_shapes.py            # 8 epochs: ~100% test accuracy (checks >= 95%)
    python examples/cnn_shapes.py --quick    # 2 epochs (the test suite's)
    python examples/cnn_shapes.py --jit      # the same numbers, each step replayed (tl.jit)
"""
import argparse
import random
import sys

import tinygrad_lab as tl
from tinygrad_lab import nn
import tinygrad_lab.nn.functional as F

SIZE, CLASSES = 12, ("horizontal bar", "vertical bar", "diagonal", "square")
TARGET = 0.95


def draw(label, rnd):
    """One SIZE x SIZE image (nested lists) of shape ``label`` on uniform noise."""
    img = [[rnd.uniform(0.0, 0.3) for _ in range(SIZE)] for _ in range(SIZE)]
    r, c, n = rnd.randrange(1, SIZE - 5), rnd.randrange(1, SIZE - 5), rnd.randrange(4, 6)
    cells = {0: [(r, c + k) for k in range(n)], 1: [(r + k, c) for k in range(n)],
             2: [(r + k, c + k) for k in range(n)],
             3: [(r + i, c + j) for i in range(3) for j in range(3) if i in (0, 2) or j in (0, 2)]}[label]
    for i, j in cells:
        img[i][j] = 1.0
    return img


def dataset(n, rnd):
    labels = [k % len(CLASSES) for k in range(n)]
    rnd.shuffle(labels)
    x = tl.tensor([[draw(lab, rnd)] for lab in labels], dtype=tl.float32)   # (n, 1, H, W)
    return x, tl.tensor(labels, dtype=tl.int64)


def accuracy(model, x, y):
    with tl.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="train for 2 epochs only (no accuracy check)")
    ap.add_argument("--epochs", type=int, default=None, help="passes over the training set (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jit", action="store_true",
                    help="capture the training step once and replay it in C (tl.jit)")
    args = ap.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 8)

    rnd = random.Random(args.seed)
    x_train, y_train = dataset(800, rnd)
    x_test, y_test = dataset(200, rnd)
    print(f"shapes: {x_train.shape[0]} training and {x_test.shape[0]} test images of {SIZE}x{SIZE} "
          f"pixels, {len(CLASSES)} classes: {', '.join(CLASSES)}")

    tl.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # (8, 6, 6)
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (16, 3, 3)
        nn.Flatten(), nn.Linear(16 * 3 * 3, len(CLASSES)))
    print(model)
    h = x_train[:1]
    for layer in model:
        h = layer(h)
        print(f"  after {type(layer).__name__:9s} {tuple(h.shape)}")
    opt = tl.optim.Adam(model.parameters(), lr=3e-3)

    def train_step(xb, yb):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    # --jit: the first call runs eagerly, the second is recorded, the rest replay it in C (a
    # batch is copied into the recording's inputs; the loss returned is the recording's output)
    step = tl.jit(train_step) if args.jit else train_step
    batch = 32
    order = list(range(x_train.shape[0]))
    for epoch in range(1, epochs + 1):
        rnd.shuffle(order)
        total, batches = 0.0, 0
        for start in range(0, len(order), batch):
            idx = tl.tensor(order[start:start + batch])
            loss = step(x_train[idx], y_train[idx])
            total, batches = total + loss.item(), batches + 1
        print(f"  epoch {epoch:2d}  train loss {total / batches:.4f}  "
              f"test accuracy {accuracy(model, x_test, y_test):6.1%}")
    acc = accuracy(model, x_test, y_test)
    print(f"final test accuracy: {acc:.1%}")
    if args.quick:
        return 0
    if acc >= TARGET:
        print(f"reached the {TARGET:.0%} target")
        return 0
    print(f"below the {TARGET:.0%} target")
    return 1


if __name__ == "__main__":
    sys.exit(main())
