"""Write your own differentiable op: subclass tl.autograd.Function, then let gradcheck judge it.

A Function has two static methods:
    forward(ctx, *inputs)        computes the output (no graph is recorded inside) and may stash
                                 what backward needs with ctx.save_for_backward(...)
    backward(ctx, grad_output)   gets dL/d(output) and returns dL/d(input), one per input
                                 (None for an input that needs no gradient: ctx.needs_input_grad)
and is called as MyFunction.apply(*inputs).

This script builds
  1. Sigmoid:    y = 1 / (1 + exp(-x)),  dy/dx = y (1 - y), saving y;
  2. Attention:  softmax(Q K^T / sqrt(d)) V  (scaled dot-product attention), saving Q, K, V
                 and the attention weights; its backward is the chain rule through two matmuls
                 and a row-wise softmax;
verifies both with tl.autograd.gradcheck (and the sigmoid's backward also with gradgradcheck,
since a backward written with tl ops is itself differentiable), and then shows gradcheck
catching an attention backward that forgets part of the softmax's derivative.

    python examples/custom_function.py
    python examples/custom_function.py --quick    # smaller attention shapes (the test suite's)
"""
import argparse
import math
import sys

import tinygrad_lab as tl


class Sigmoid(tl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = 1 / (1 + (-x).exp())
        ctx.save_for_backward(y)             # y is all the derivative needs
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


class Attention(tl.autograd.Function):
    """q (B, T, d), k (B, S, d), v (B, S, e) -> (B, T, e)."""

    @staticmethod
    def forward(ctx, q, k, v):
        scale = 1 / math.sqrt(q.shape[-1])
        w = tl.softmax(q @ k.transpose(-2, -1) * scale, -1)        # (B, T, S) attention weights
        ctx.save_for_backward(q, k, v, w)
        ctx.scale = scale
        return w @ v

    @staticmethod
    def backward(ctx, grad):                                          # grad: (B, T, e)
        q, k, v, w = ctx.saved_tensors
        dq = dk = dv = None
        if ctx.needs_input_grad[2]:
            dv = w.transpose(-2, -1) @ grad                           # out = w v
        dw = grad @ v.transpose(-2, -1)                               # (B, T, S)
        ds = w * (dw - (dw * w).sum(-1, keepdim=True))                # through the row softmax
        if ctx.needs_input_grad[0]:
            dq = ds @ k * ctx.scale                                   # s = q k^T * scale
        if ctx.needs_input_grad[1]:
            dk = ds.transpose(-2, -1) @ q * ctx.scale
        return dq, dk, dv


class WrongAttention(Attention):
    """The classic mistake: treating softmax's derivative as elementwise, ds = w * dw,
    forgetting that every weight in a row depends on every score in that row."""

    @staticmethod
    def backward(ctx, grad):
        q, k, v, w = ctx.saved_tensors
        dw = grad @ v.transpose(-2, -1)
        ds = w * dw                                                   # wrong on purpose
        return ds @ k * ctx.scale, ds.transpose(-2, -1) @ q * ctx.scale, w.transpose(-2, -1) @ grad


def attention_reference(q, k, v):
    """The same attention from built-in ops, differentiated by autograd."""
    return tl.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1) @ v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller attention shapes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    tl.manual_seed(args.seed)
    B, T, S, d, e = (1, 2, 3, 4, 2) if args.quick else (2, 4, 5, 8, 3)
    ok = True

    # ---- 1. sigmoid ---------------------------------------------------------------------------
    x = tl.randn(3, 4, dtype=tl.float64, requires_grad=True)
    y = Sigmoid.apply(x)
    print("1. custom Sigmoid")
    print(f"   forward matches tl.sigmoid: max diff {(y - x.sigmoid()).abs().max().item():.1e}")
    print(f"   y.grad_fn = {y.grad_fn.name()}")
    passed = tl.autograd.gradcheck(Sigmoid.apply, (x,))
    print(f"   gradcheck: {'passed' if passed else 'FAILED'}")
    passed2 = tl.autograd.gradgradcheck(Sigmoid.apply, (x,))
    print(f"   gradgradcheck: {'passed' if passed2 else 'FAILED'}")
    ok = ok and passed and passed2

    # ---- 2. attention -------------------------------------------------------------------------
    q = tl.randn(B, T, d, dtype=tl.float64, requires_grad=True)
    k = tl.randn(B, S, d, dtype=tl.float64, requires_grad=True)
    v = tl.randn(B, S, e, dtype=tl.float64, requires_grad=True)
    out = Attention.apply(q, k, v)
    ref = attention_reference(q, k, v)
    print(f"\n2. custom scaled dot-product Attention: q {q.shape}, k {k.shape}, v {v.shape} -> {out.shape}")
    print(f"   saved for backward: {len(out.grad_fn.saved_tensors)} tensors (q, k, v, weights)")
    print(f"   forward matches the built-in ops: max diff {(out - ref).abs().max().item():.1e}")
    g = tl.randn(*out.shape, dtype=tl.float64)
    mine = tl.autograd.grad(out, (q, k, v), g)
    theirs = tl.autograd.grad(ref, (q, k, v), g)
    for name, a, b in zip("qkv", mine, theirs):
        print(f"   d{name} matches autograd through the built-in ops: max diff {(a - b).abs().max().item():.1e}")
    passed = tl.autograd.gradcheck(Attention.apply, (q, k, v))
    print(f"   gradcheck: {'passed' if passed else 'FAILED'}")
    ok = ok and passed

    # ---- 3. a wrong backward ------------------------------------------------------------------
    print("\n3. WrongAttention: backward uses ds = w * dw (forgets the softmax's cross terms)")
    try:
        tl.autograd.gradcheck(WrongAttention.apply, (q, k, v))
        print("   gradcheck did NOT catch it")
        ok = False
    except tl.autograd.GradcheckError as err:
        print("   gradcheck caught it:")
        for line in str(err).splitlines():
            print(f"   | {line}")
    print("\nall checks behaved as expected" if ok else "\nsomething unexpected happened")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
