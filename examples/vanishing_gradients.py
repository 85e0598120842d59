"""Vanishing gradients: how the gradient reaching each layer depends on depth and activation.

Four networks of 32-unit layers -- 5 and 20 hidden layers, with sigmoid or with ReLU -- each get
one batch of random data, a cross-entropy loss on random labels, and one backward pass. The table
lists the norm of each layer's weight gradient, layer 1 being the one next to the input.

Backpropagation multiplies the gradient by every layer's Jacobian on its way down. A sigmoid's
derivative is at most 0.25, so with sigmoids the gradient shrinks by a roughly constant factor per
layer: after 20 layers the first ones get almost nothing and barely learn. ReLU's derivative is
exactly 1 wherever a unit is active, and with He (Kaiming) initialisation the gradient keeps its
size all the way down. Each network uses the initialisation made for its activation: Xavier
(Glorot) for sigmoid, Kaiming for ReLU; biases start at zero.

    python examples/vanishing_gradients.py
    python examples/vanishing_gradients.py --quick     # a smaller batch (the test suite's)
"""
import argparse
import sys

import tinygrad_lab as tl
from tinygrad_lab import nn
import tinygrad_lab.nn.functional as F

WIDTH = 32
CLASSES = 10


def make_net(depth, activation):
    layers = []
    for _ in range(depth):
        lin = nn.Linear(WIDTH, WIDTH)
        if activation == "sigmoid":
            nn.init.xavier_normal_(lin.weight)
        else:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()]
    layers.append(nn.Linear(WIDTH, CLASSES))
    return nn.Sequential(*layers)


def layer_grad_norms(depth, activation, x, target):
    """Norms of the weight gradients of the hidden layers, first layer first."""
    net = make_net(depth, activation)
    F.cross_entropy(net(x), target).backward()
    linears = [m for m in net if isinstance(m, nn.Linear)][:depth]
    return [(m.weight.grad * m.weight.grad).sum().sqrt().item() for m in linears]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a batch of 16 instead of 128")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    batch = 16 if args.quick else 128

    tl.manual_seed(args.seed)
    x = tl.randn(batch, WIDTH)
    target = tl.randint(0, CLASSES, (batch,))
    configs = [(5, "sigmoid"), (5, "relu"), (20, "sigmoid"), (20, "relu")]
    norms = {c: layer_grad_norms(*c, x, target) for c in configs}

    print(f"gradient norm ||dL/dW|| of each hidden layer's weights ({WIDTH} units wide, batch {batch}):")
    head = "".join(f"{f'{a} x{d}':>14}" for d, a in configs)
    print(f"{'layer':>5}{head}")
    for i in range(20):
        cells = "".join(f"{norms[c][i]:14.2e}" if i < c[0] else f"{'':>14}" for c in configs)
        print(f"{i + 1:>5}{cells}")
    ratios = "".join(f"{norms[c][0] / norms[c][-1]:14.2e}" for c in configs)
    print(f"{'1/last':>6}{ratios[1:]}   <- layer-1 norm / last-layer norm")
    sig20, relu20 = norms[(20, "sigmoid")], norms[(20, "relu")]
    print(f"\n20 sigmoid layers: layer 1 gets {sig20[0] / sig20[-1]:.1e} times the gradient of layer 20 "
          f"-- it has vanished.\n20 ReLU layers:    layer 1 gets {relu20[0] / relu20[-1]:.2f} times the "
          "gradient of layer 20 -- it still flows.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
