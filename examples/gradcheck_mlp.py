"""Gradient checking: compare backpropagation's gradients with numerical ones.

A 3-layer sigmoid MLP (4 -> 6 -> 5 -> 3) ends in a softmax cross-entropy loss. For every
parameter we compute the gradient two ways:

  analytic  -- loss.backward(), i.e. backpropagation through the graph;
  numeric   -- central differences, one parameter element at a time:
               (L(w + eps) - L(w - eps)) / (2 eps), with eps = 1e-6, in float64.

and print, per parameter, the largest absolute difference and the relative error
||analytic - numeric|| / (||analytic|| + ||numeric||). In float64 a correct backward gives a
relative error of about 1e-7 or less (rounding in the loss limits it); above 1e-6 means a bug.
Finally the library's own tl.autograd.gradcheck checks the whole thing again.

    python examples/gradcheck_mlp.py           # all PASS
    python examples/gradcheck_mlp.py --bug     # the middle sigmoid's backward forgets (1 - y):
                                               # the layers below it FAIL, the last layer still PASSes
    python examples/gradcheck_mlp.py --quick   # the same check on a smaller batch (the test suite's)
"""
import argparse
import sys

import tinygrad_lab as tl
from tinygrad_lab import nn
import tinygrad_lab.nn.functional as F

EPS = 1e-6
TOLERANCE = 1e-6


class BuggySigmoid(tl.autograd.Function):
    """sigmoid whose backward is missing the (1 - y) factor of dy/dx = y (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        y = x.sigmoid()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y                      # wrong on purpose: should be grad * y * (1 - y)


class BuggySigmoidLayer(nn.Module):
    def forward(self, x):
        return BuggySigmoid.apply(x)


def numeric_grad(loss_fn, p):
    """Central differences of loss_fn() with respect to every element of p (perturbed in place)."""
    flat = p.detach().reshape(-1)            # a view: writing into it changes p
    grad = []
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + EPS
        plus = loss_fn().item()
        flat[i] = old - EPS
        minus = loss_fn().item()
        flat[i] = old                        # put the weight back
        grad.append((plus - minus) / (2 * EPS))
    return tl.tensor(grad, dtype=tl.float64).reshape(p.shape)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a batch of 4 instead of 16")
    ap.add_argument("--bug", action="store_true", help="use a sigmoid with a wrong backward in the middle")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    batch = 4 if args.quick else 16

    tl.manual_seed(args.seed)
    middle = BuggySigmoidLayer() if args.bug else nn.Sigmoid()
    model = nn.Sequential(nn.Linear(4, 6, dtype=tl.float64), nn.Sigmoid(),
                          nn.Linear(6, 5, dtype=tl.float64), middle,
                          nn.Linear(5, 3, dtype=tl.float64))
    x = tl.randn(batch, 4, dtype=tl.float64)
    target = tl.randint(0, 3, (batch,))

    def loss_fn():
        return F.cross_entropy(model(x), target)    # softmax + negative log-likelihood

    print(f"3-layer sigmoid MLP 4-6-5-3, softmax cross-entropy, batch of {batch}, float64"
          + ("  [--bug: the second sigmoid's backward is wrong]" if args.bug else ""))
    loss = loss_fn()
    print(f"loss = {loss.item():.6f}")
    model.zero_grad()
    loss.backward()

    print(f"\n{'parameter':<10} {'shape':<8} {'max abs diff':>13} {'relative error':>15}  result")
    failed = []
    for name, p in model.named_parameters():
        analytic = p.grad
        numeric = numeric_grad(loss_fn, p)
        diff = analytic - numeric
        max_abs = diff.abs().max().item()
        rel = (diff * diff).sum().sqrt().item() / max(
            (analytic * analytic).sum().sqrt().item() + (numeric * numeric).sum().sqrt().item(), 1e-300)
        ok = rel < TOLERANCE
        if not ok:
            failed.append(name)
        shape = "x".join(str(s) for s in p.shape)
        print(f"{name:<10} {shape:<8} {max_abs:13.3e} {rel:15.3e}  {'PASS' if ok else 'FAIL'}")
    print(f"(PASS: relative error < {TOLERANCE:g}; numeric gradients by central differences, eps = {EPS:g})")

    params = tuple(model.parameters())
    try:
        tl.autograd.gradcheck(lambda *ps: loss_fn(), params)
        print("\ntl.autograd.gradcheck on all parameters: passed")
        lib_ok = True
    except tl.autograd.GradcheckError as e:
        first = str(e).splitlines()[0]
        print(f"\ntl.autograd.gradcheck on all parameters: FAILED -- {first}")
        lib_ok = False

    if args.bug:
        caught = bool(failed) and not lib_ok
        print("the wrong backward was caught" if caught else "the wrong backward was NOT caught")
        return 0 if caught else 1
    print("all gradients match" if not failed and lib_ok else f"mismatch in: {', '.join(failed)}")
    return 0 if not failed and lib_ok else 1


if __name__ == "__main__":
    sys.exit(main())
