"""XOR: the classic problem a single neuron cannot solve and one hidden layer can.

A 2-4-1 network with sigmoid units, mean-squared error, and full-batch gradient descent
(tl.optim.SGD on all four examples at once). Watch the loss sit near 0.25 for a few hundred
epochs -- every output close to 0.5, a plateau of the loss surface -- then fall fast as the
hidden units specialise, and the four predictions move to their targets 0, 1, 1, 0.

    python examples/xor.py            # the full run: predictions end within 0.2 of the targets
    python examples/xor.py --quick    # a short run (the test suite's)
    python examples/xor.py --jit      # the same run, the step captured once and replayed (tl.jit)
"""
import argparse
import sys

import tinygrad_lab as tl
from tinygrad_lab import nn
import tinygrad_lab.nn.functional as F


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="train briefly (no convergence check)")
    ap.add_argument("--epochs", type=int, default=None, help="full-batch steps (default 2000, --quick 1000)")
    ap.add_argument("--lr", type=float, default=2.0, help="learning rate (default 2.0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jit", action="store_true",
                    help="capture the training step once and replay it in C (tl.jit)")
    args = ap.parse_args(argv)
    epochs = args.epochs or (1000 if args.quick else 2000)

    tl.manual_seed(args.seed)
    x = tl.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = tl.tensor([[0.0], [1.0], [1.0], [0.0]])
    model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    opt = tl.optim.SGD(model.parameters(), lr=args.lr)
    print(f"XOR with a 2-4-1 sigmoid network: MSE loss, full-batch SGD (lr={args.lr}), "
          f"{epochs} epochs")

    def train_step():
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    # --jit: the first call runs eagerly, the second is recorded, the rest replay it in C
    step = tl.jit(train_step) if args.jit else train_step
    for epoch in range(1, epochs + 1):
        loss = step()
        if epoch == 1 or epoch % (epochs // 10) == 0:
            print(f"  epoch {epoch:5d}  loss {loss.item():.6f}")

    with tl.no_grad():
        pred = model(x)
    print("predictions:")
    worst = 0.0
    for (a, b), (t,), (p,) in zip(x.tolist(), y.tolist(), pred.tolist()):
        worst = max(worst, abs(p - t))
        print(f"  {int(a)} XOR {int(b)} = {int(t)}   network says {p:.3f}")
    print(f"largest |prediction - target|: {worst:.3f}")
    if args.quick:
        return 0
    if worst < 0.2:
        print("converged: every prediction is within 0.2 of its target")
        return 0
    print("did not converge (try another --seed or more --epochs)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
