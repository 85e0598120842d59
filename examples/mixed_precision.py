"""Mixed precision: why float16 training needs loss scaling, and bfloat16 autocast training that
reaches the float32 accuracy (lesson 002, "Production").

1. Underflow. A gradient of 1e-8 flowing through a float16 computation is below float16's
   smallest subnormal (~6e-8) and becomes exactly 0: the weights never learn from it. Multiplying
   the loss by a scale (tl.amp.GradScaler) lifts it into float16's range on the way back;
   unscaling the float32 master weights' gradient recovers 1e-8.
2. Training. The same MLP on the same spiral data, trained three times from the same
   initialisation: in float32; under tl.autocast(dtype=tl.bfloat16) (matmuls in bfloat16, the
   loss in float32, parameters and their gradients float32); and under float16 autocast with a
   GradScaler (whose scale backs off when a step overflows). All reach the same accuracy.

    python examples/mixed_precision.py            # 300 epochs (checks bfloat16 within 2% of float32)
    python examples/mixed_precision.py --quick    # 60 epochs (the test suite's)
    python examples/mixed_precision.py --jit      # the same numbers, each step replayed in C (tl.jit)
"""
import argparse
import math
import sys

import tinygrad_lab as tl
from tinygrad_lab import nn
import tinygrad_lab.nn.functional as F


def underflow_demo():
    print("== 1. float16 underflow and loss scaling ==")
    tiny = tl.tensor([1e-4, 6e-8, 1e-8]).half()
    print(f"1e-4, 6e-8, 1e-8 stored as float16: {tiny.tolist()}")
    w = tl.tensor([1.0, 1.0], requires_grad=True)          # float32 master weights
    x = tl.tensor([1e-4, 1e-4], dtype=tl.float16)

    def loss_fn():
        return (w.half() * x * 1e-4).float().sum()         # d loss / d w = 1e-8
    loss_fn().backward()
    print(f"gradient through float16, unscaled:   {w.grad.tolist()}   <- lost (underflow)")
    plain = w.grad.tolist()
    w.grad = None
    scaler = tl.amp.GradScaler(init_scale=2.0 ** 14)
    opt = tl.optim.SGD([w], lr=1.0)
    scaler.scale(loss_fn()).backward()
    print(f"with the loss scaled by {scaler.get_scale():.0f}:      {w.grad.tolist()}")
    scaler.unscale_(opt)
    print(f"after scaler.unscale_(optimizer):     {[f'{v:.3g}' for v in w.grad.tolist()]}   <- survives")
    return plain == [0.0, 0.0] and all(abs(v - 1e-8) < 1e-10 for v in w.grad.tolist())


def spirals(n_per_class, classes=3, seed=0):
    tl.manual_seed(seed)
    xs, ys = [], []
    for c in range(classes):
        r = tl.linspace(0.05, 1.0, n_per_class)
        t = tl.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + tl.randn(n_per_class) * 0.2
        xs.append(tl.stack([r * tl.sin(t), r * tl.cos(t)], 1))
        ys.append(tl.full((n_per_class,), c, dtype=tl.int64))
    return tl.cat(xs), tl.cat(ys)


def train(mode, X, y, epochs, seed=1, jit=False):
    """mode: "float32", "bfloat16" (autocast) or "float16" (autocast + GradScaler)."""
    tl.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    opt = tl.optim.Adam(model.parameters(), lr=0.01)
    scaler = tl.amp.GradScaler(enabled=mode == "float16")
    enabled = mode != "float32"
    dtype = tl.float16 if mode == "float16" else tl.bfloat16

    def train_step(X, y):
        with tl.autocast(device_type="cpu", dtype=dtype, enabled=enabled):
            logits = model(X)
            loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)            # skipped when a gradient overflowed float16 (also in a replay)
        scaler.update()
        return loss

    # --jit: the scaler's scale and Inf check live in tensors, so a replay skips the optimizer's
    # kernels after an overflow and updates the scale in C; a capture that overflows is retried
    step = tl.jit(train_step) if jit else train_step
    skipped = 0
    for _ in range(epochs):
        before = scaler.get_scale()
        loss = step(X, y)
        skipped += scaler.get_scale() < before
    with tl.no_grad(), tl.autocast(device_type="cpu", dtype=dtype, enabled=enabled):
        logits = model(X)
        acc = (logits.argmax(1) == y).float().mean().item()
    return loss.item(), acc, logits.dtype, skipped, scaler.get_scale()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="60 epochs instead of 300")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--jit", action="store_true",
                    help="capture the training step once and replay it in C (tl.jit)")
    args = ap.parse_args(argv)
    epochs = args.epochs or (60 if args.quick else 300)
    ok = underflow_demo()
    print()
    print(f"== 2. training a 2-64-64-3 MLP on 3 spirals, {epochs} epochs of full-batch Adam ==")
    X, y = spirals(100)
    results = {}
    for mode in ("float32", "bfloat16", "float16"):
        loss, acc, dt, skipped, scale = train(mode, X, y, epochs, jit=args.jit)
        results[mode] = acc
        extra = f", scaler: {skipped} skipped steps, final scale {scale:.0f}" if mode == "float16" else ""
        print(f"{mode:>8}: final loss {loss:.4f}, accuracy {acc:.3f} (logits {dt}){extra}")
    gap = results["float32"] - results["bfloat16"]
    print(f"bfloat16 autocast vs float32: accuracy {results['bfloat16']:.3f} vs "
          f"{results['float32']:.3f} (difference {gap:+.3f})")
    if not args.quick:
        ok = ok and gap <= 0.02
    print("OK" if ok and math.isfinite(results["float16"]) else "PROBLEM")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
