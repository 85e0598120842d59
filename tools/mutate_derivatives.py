"""Mutation test of the derivative checks: is every wrong derivative caught?

    python tools/mutate_derivatives.py [--op NAME ...] [--factor 1.5]

For every op of the op table (tinygrad_lab.autograd.OPS), one at a time:
  1. its ``formula`` (the derivative with Tensor ops, run under create_graph=True) is patched to
     return every gradient multiplied by --factor (plus --factor - 1 for an op whose gradient is
     identically 0, ``zero_derivative``: sign, where a scaled 0 is still right);
  2. then, when it has one, its ``vjp`` (the C-side derivative: the fused C kernels plain
     backward() runs) is patched the same way -- a patched entry of the op table standing in for
     a wrong C derivative;
  3. and for an op with both, each of the two is patched to be wrong only at the special points
     (where an input is 0, +-inf or NaN the gradient becomes 7), which only the special-point
     part of the check can see. (An op whose derivative is a formula alone has no second
     derivative to compare with there; gradcheck covers it at ordinary points.)
After each mutation it runs the op's checks: tests/test_derivatives.py's check_derivatives (C VJP
against formula, at ordinary and special points), then -- when that passes -- tests/test_ops.py's
check_spec (tl.testing.check_op: forward, layouts, create_graph backward, gradcheck and
gradgradcheck in float64, NaN propagation), and restores the op. A mutation is
caught when a check fails. It first runs the checks unmutated: they must pass, or "caught" would
mean nothing.

Prints one line per mutation and the count; exits 1 unless every mutation was caught.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tests.test_derivatives import check_derivatives  # noqa: E402
from tests.test_ops import check_spec  # noqa: E402
from tinygrad_lab import Tensor, where  # noqa: E402
from tinygrad_lab.autograd import OPS, GradcheckError  # noqa: E402


def _scaled(derivative, factor):
    """``derivative`` (ctx, *grads) -> gradients, with every gradient multiplied by ``factor``."""
    def mutated(ctx, *grads):
        out = derivative(ctx, *grads)
        if isinstance(out, tuple):
            return tuple(None if g is None else g * factor for g in out)
        return None if out is None else out * factor
    return staticmethod(mutated)


def _offset(derivative, factor):
    """``derivative`` with ``factor - 1`` added to every gradient: the scaling mutation for an op
    whose gradient is identically 0 (``zero_derivative``, sign), where scaling changes nothing."""
    def mutated(ctx, *grads):
        out = derivative(ctx, *grads)
        if isinstance(out, tuple):
            return tuple(None if g is None else g + (factor - 1.0) for g in out)
        return None if out is None else out + (factor - 1.0)
    return staticmethod(mutated)


def _special_points_wrong(derivative, factor):
    """``derivative`` with every gradient replaced by 7 where its input is 0, +-inf or NaN."""
    def mutated(ctx, *grads):
        out = derivative(ctx, *grads)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        res = []
        for x, g in zip(ctx._inputs, outs):
            if g is not None and isinstance(x, Tensor) and x.dtype.is_floating_point:
                g = where((x == 0) | (x != x) | (x.abs() == float("inf")), 7.0, g)
            res.append(g)
        return res[0] if single else tuple(res)
    return staticmethod(mutated)


MUTATIONS = {"scale": _scaled, "offset": _offset, "special": _special_points_wrong}


def _fails(name):
    """The name of the first check op ``name`` fails, or None when all pass."""
    try:
        check_derivatives(name)
    except AssertionError:
        return "C VJP vs formula"
    try:
        check_spec(name)
    except (AssertionError, GradcheckError):
        return "check_op"
    return None


def _mutate(op, attr, kind, factor):
    """Patch ``op.<attr>`` on the op's own class; returns the function that restores it."""
    own = vars(op).get(attr)
    setattr(op, attr, MUTATIONS[kind](getattr(op, attr), factor))

    def restore():
        if own is None:
            delattr(op, attr)        # it was inherited (the family's generic vjp/formula)
        else:
            setattr(op, attr, own)
    return restore


def _describe(label, kind, factor):
    return {"scale": f"{label} x {factor:g}", "offset": f"{label} + {factor - 1:g}",
            "special": f"{label} wrong at 0/inf/NaN"}[kind]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--op", action="append", help="only these ops (repeatable)")
    ap.add_argument("--factor", type=float, default=1.5)
    args = ap.parse_args()
    names = sorted(args.op or OPS)
    unknown = sorted(set(names) - set(OPS))
    if unknown:
        ap.error(f"unknown ops {unknown}; the op table has {sorted(OPS)}")

    t0 = time.perf_counter()
    broken = [n for n in names if _fails(n)]
    if broken:
        print(f"the unmutated checks fail for {broken}: fix them first", file=sys.stderr)
        return 2

    counts = {}
    missed = []
    print(f"{'op':32s} {'mutated derivative':34s} caught by")
    for name in names:
        op = OPS[name]
        wrong = "offset" if getattr(op, "zero_derivative", False) else "scale"
        plan = [("formula", "formula", wrong)]
        if op.vjp is not None:
            plan += [("vjp", "C VJP", wrong), ("formula", "formula", "special"),
                     ("vjp", "C VJP", "special")]
        for attr, label, kind in plan:
            restore = _mutate(op, attr, kind, args.factor)
            try:
                by = _fails(name)
            finally:
                restore()
            key = (label, kind)
            n, c = counts.get(key, (0, 0))
            counts[key] = (n + 1, c + (by is not None))
            what = _describe(label, kind, args.factor)
            if by is None:
                missed.append(f"{name}: {what}")
            print(f"{name:32s} {what:34s} {by or 'NOT CAUGHT'}")
    total = sum(n for n, _ in counts.values())
    caught = sum(c for _, c in counts.values())
    print()
    for (label, kind), (n, c) in counts.items():
        print(f"  {_describe(label, kind, args.factor):34s} {c} of {n} caught")
    print(f"{caught} of {total} mutations caught ({time.perf_counter() - t0:.1f} s)")
    if missed:
        print("not caught: " + ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
