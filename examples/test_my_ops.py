"""Testing your own ops: tl.testing.check_op against five planted backward-pass bugs.

Two correct custom Functions pass check_op; five subtly wrong ones -- each a bug people really
write -- are each caught, by a different check, with a report naming the failing case and the
smallest input that shows it:

  MatMulReshapeGrad      grad_b = (g.T @ a).reshape(b.shape) -- right shape, transposed values
  SquareMemoryOrder      a NumPy "kernel" flattens in memory order: right for contiguous inputs,
                         wrong only for transposed (non-contiguous) ones
  ReluSwallowsNaN        where(x > 0, x, 0): relu(NaN) gives 0 instead of NaN
  CenterInPlace          forward subtracts the mean from its input through .data (the caller's
                         tensor changes)
  SigmoidNumpyBackward   backward computed in NumPy: first derivatives right, but no graph for
                         second derivatives

    python examples/test_my_ops.py                                  # the report; exit 0 when
                                                                    # every bug is caught
    pytest examples/test_my_ops.py                                  # the same as pytest tests,
    pytest -p tinygrad_lab.pytest_plugin examples/test_my_ops.py    # (from a source checkout)

As a pytest file it uses the ``tl_check`` fixture of tinygrad_lab's pytest plugin: one line per
op in CASES / BUGS.
"""
import argparse
import sys

import numpy as np

import tinygrad_lab as tl
from tinygrad_lab.testing import OpCase

try:
    import pytest
except ImportError:          # the report (python examples/test_my_ops.py) needs no pytest
    pytest = None


# ---- two correct ops -------------------------------------------------------------------------

class Swish(tl.autograd.Function):
    """x * sigmoid(x); d/dx = s + x s (1 - s).

    backward recomputes s from x: an s saved from forward (which runs without recording) would
    be a constant to autograd, and the second derivative -- gradgradcheck -- would be wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x.sigmoid()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = x.sigmoid()
        return g * (s + x * s * (1 - s))


class MatMul(tl.autograd.Function):
    """a @ b for 2-D a, b: grad_a = g @ b^T, grad_b = a^T @ g."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b.T, a.T @ g


# ---- five planted bugs -----------------------------------------------------------------------

class MatMulReshapeGrad(MatMul):
    """MatMul's forward. BUG: grad_b is (g^T a) reshaped where it should be transposed (shapes
    agree, values do not)."""

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b.T, (g.T @ a).reshape(b.shape)      # should be (g.T @ a).T


def _square_grad_kernel(x, g):
    """A hand-written "kernel" on flat buffers: 2 * x * g, element by element. BUG: it flattens
    with ravel(order="K") -- memory order, no copy -- which is the logical order only for
    contiguous arrays (a C kernel handed x.data_ptr() without .contiguous() does the same)."""
    xf, gf = np.ravel(x, order="K"), np.ravel(g, order="K")
    return (2.0 * xf * gf).reshape(np.shape(g))


class SquareMemoryOrder(tl.autograd.Function):
    """x ** 2 with its backward in a flat-buffer kernel (BUG: memory order, see the kernel)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return tl.tensor(_square_grad_kernel(x.detach().numpy(), g.detach().numpy()),
                         dtype=g.dtype)


class ReluSwallowsNaN(tl.autograd.Function):
    """BUG: where(x > 0, x, 0) maps NaN to 0 (tl.relu and torch.relu give NaN)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return tl.where(x > 0, x, 0.0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return tl.where(x > 0, g, 0.0)


class CenterInPlace(tl.autograd.Function):
    """x - mean(x). BUG: computed in place through .data, so the caller's x changes."""

    @staticmethod
    def forward(ctx, x):
        x.data -= x.data.mean()             # "saves memory"
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g - g.mean()


class SigmoidNumpyBackward(tl.autograd.Function):
    """sigmoid. BUG: the backward's factor s (1 - s) comes from NumPy, a constant to autograd:
    gradients are right, gradients of gradients are not."""

    @staticmethod
    def forward(ctx, x):
        s = x.sigmoid()
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        sn = s.detach().numpy()
        return g * tl.tensor(sn * (1 - sn), dtype=g.dtype)


# ---- one line per op -------------------------------------------------------------------------

CASES = [
    OpCase(Swish.apply, (3, 4)),
    OpCase(MatMul.apply, (3, 4), (4, 2)),
]

# each planted bug and the check_op case that must catch it
BUGS = [
    (OpCase(MatMulReshapeGrad.apply, (3, 4), (4, 2)), "gradcheck"),
    (OpCase(SquareMemoryOrder.apply, (3, 4)), "transposed inputs"),
    (OpCase(ReluSwallowsNaN.apply, (3, 4)), "NaN propagation"),
    (OpCase(CenterInPlace.apply, (3, 4)), "modified in place"),
    (OpCase(SigmoidNumpyBackward.apply, (3, 4)), "gradgradcheck"),
]


if pytest is not None:
    @pytest.mark.parametrize("case", CASES)
    def test_op(case, tl_check):
        tl_check(case)

    @pytest.mark.parametrize("case,caught_by", BUGS)
    def test_planted_bug_is_caught(case, caught_by, tl_check):
        with pytest.raises(AssertionError, match=caught_by):
            tl_check(case)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="(already quick: accepted for uniformity)")
    ap.parse_args(argv)
    tl.manual_seed(0)
    ok = True
    print("correct ops:")
    for case in CASES:
        try:
            report = case.check()
            print(f"  {case.name:22s} PASS ({len(report.passed)} cases)")
        except AssertionError as e:
            ok = False
            print(f"  {case.name:22s} FAIL\n{e}")
    print("\nplanted bugs:")
    for case, caught_by in BUGS:
        try:
            case.check()
        except AssertionError as e:
            report = str(e)
            hit = caught_by in report
            ok = ok and hit
            print(f"\n  {case.name}: caught" + ("" if hit else f" (expected by {caught_by!r})"))
            print("    " + report.replace("\n", "\n    "))
        else:
            ok = False
            print(f"\n  {case.name}: NOT CAUGHT")
    print("\n" + ("every planted bug was caught and the correct ops passed" if ok
                  else "something was not as expected"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
