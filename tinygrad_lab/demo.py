"""The quick-start demo: logistic regression on a generated two-class data set, trained with
tl ops and autograd, then a gradcheck of the loss. Everything it computes runs in the C core."""
import time

import tinygrad_lab as tl


def make_data(n, seed):
    """Two Gaussian blobs in 2-D, labels 0/1 (generated, so no download is needed)."""
    tl.manual_seed(seed)
    half = n // 2
    a = tl.randn(half, 2) * 0.8 + tl.tensor([-1.0, -1.0])
    b = tl.randn(n - half, 2) * 0.8 + tl.tensor([1.2, 0.8])
    x = tl.cat([a, b], 0)
    y = tl.cat([tl.zeros(half), tl.ones(n - half)], 0)
    return x, y


def loss_fn(x, y, w, b):
    """Mean binary cross-entropy of sigmoid(x . w + b), written with primitive ops."""
    z = (x * w).sum(1) + b
    p = z.sigmoid().clamp(1e-7, 1 - 1e-7)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def run(steps=300, seed=0, lr=0.5):
    print("tinygrad_lab demo: logistic regression on two generated blobs")
    tl.show_config()
    x, y = make_data(400, seed)
    w = tl.zeros(2, requires_grad=True)
    b = tl.zeros(1, requires_grad=True)
    t0 = time.perf_counter()
    for step in range(steps + 1):
        loss = loss_fn(x, y, w, b)
        w.grad = b.grad = None
        loss.backward()
        with tl.no_grad():
            w.sub_(w.grad * lr)
            b.sub_(b.grad * lr)
        if step % (steps // 5 or 1) == 0:
            with tl.no_grad():
                acc = (((x * w).sum(1) + b > 0).float() == y).float().mean().item()
            print(f"  step {step:4d}  loss {loss.item():.4f}  accuracy {acc:.3f}")
    print(f"trained {steps} steps in {time.perf_counter() - t0:.2f} s")
    # Verify the gradients autograd produced against central differences (float64).
    xd, yd = x.double(), y.double()
    wd = w.detach().double().requires_grad_()
    bd = b.detach().double().requires_grad_()
    ok = tl.autograd.gradcheck(lambda w_, b_: loss_fn(xd, yd, w_, b_), (wd, bd))
    print("gradcheck of the loss w.r.t. (w, b):", "passed" if ok else "FAILED")
    return 0 if ok and acc > 0.9 else 1
