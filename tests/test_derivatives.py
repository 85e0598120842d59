"""Each op's two derivatives agree, for every op of the op table (generated from tests/test_ops.py's
SPECS, so a new op cannot land without it).

A built-in op holds its derivative twice, side by side in its class: ``vjp`` (fused C kernels,
what ``backward()`` runs) and ``formula`` (Tensor ops, what runs under ``create_graph=True``).
gradcheck and gradgradcheck cannot see a disagreement between them -- gradgradcheck only checks
the formula against itself -- so here, in float64, the gradient of every op's inputs from the
plain backward pass must equal the one from the recorded pass, for random output gradients:

- at ordinary points (the op's test domain), and
- at the special points ops define: 0 and -0, ties (repeated values, equal operands), kinks
  (0 for relu/abs, the clamp bounds), +-inf and NaN -- including outside the op's domain, where
  both must give the same NaN or inf.

``tools/mutate_derivatives.py`` perturbs each op's formula and then each op's C-side derivative,
one at a time, and runs ``check_derivatives`` (plus gradcheck/gradgradcheck, test_ops.check_spec)
to show that every such mutation is caught.
"""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import OPS

from .helpers import rng_for
from .test_ops import SPECS, _op_of, calls, specs_for

INF, NAN = float("inf"), float("nan")
# the special values; 0.7 and -0.5 are clamp's bounds in its spec, 0 and 1 BCE's ends
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 0.7, -0.5, 3.0, INF, -INF, NAN]
IN_UNIT = [0.0, 1.0, 0.5, 0.25, 0.7, 1e-300]   # for ops that refuse values outside [0, 1] (BCE)


def _special_arrays(shapes, values, rng):
    """Arrays of ``shapes`` filled from ``values`` so that every value appears (given room) and
    the later inputs tie with the first at every third element where shapes match."""
    out = []
    for k, shape in enumerate(shapes):
        n = int(np.prod(shape)) if shape else 1
        perm = rng.permutation(len(values))
        flat = np.array([values[perm[(i + k) % len(values)]] for i in range(n)], np.float64)
        if k and out and out[0].size == n:
            flat[::3] = out[0].reshape(-1)[::3]          # ties between operands
        out.append(flat.reshape(shape))
    return out


def _grads(fn, arrays, wrt, g_arrays, create_graph):
    """Gradients of ``fn`` with respect to the inputs ``wrt`` as NumPy arrays."""
    ins = [tl.tensor(a, dtype=tl.float64, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    outs = fn(*ins)
    outs = outs if isinstance(outs, tuple) else (outs,)
    gs = [tl.tensor(g, dtype=tl.float64) for g in g_arrays(outs)]
    res = tl.autograd.grad(outs, [ins[i] for i in wrt], gs, create_graph=create_graph,
                           allow_unused=True)
    return [None if r is None else r.detach().numpy().copy() for r in res]


def _compare(name, what, arrays, plain, recorded):
    for i, (c, f) in enumerate(zip(plain, recorded)):
        assert (c is None) == (f is None), f"{name} ({what}): input {i} got a gradient on one path only"
        if c is None:
            continue
        bad = ~(np.isclose(c, f, rtol=1e-9, atol=1e-12, equal_nan=True) | ((c == f) & np.isinf(c)))
        if bad.any():
            j = tuple(int(v) for v in np.argwhere(bad)[0]) if c.ndim else ()
            at = ", ".join(f"input {k} = {a[j] if a.shape == c.shape else a!r}"
                           for k, a in enumerate(arrays))
            raise AssertionError(
                f"{name} ({what}): the C VJP and the formula disagree on the gradient of input {i} "
                f"at element {j} ({at}): backward() gives {c[j] if c.ndim else c!r}, the "
                f"create_graph formula gives {f[j] if f.ndim else f!r}; {int(bad.sum())} of "
                f"{bad.size} elements differ")


def check_derivatives(name):
    """Raise AssertionError unless op ``name``'s C VJP and formula agree (see the module doc)."""
    for spec, case in [(spec, case) for spec in specs_for(name) for case in spec.cases]:
        for fn, _, shapes in calls(spec, case):
            wrt = range(len(shapes)) if spec.grad is True else (spec.grad or ())
            if not wrt:
                continue
            rng = rng_for("derivatives", name, tuple(shapes))
            points = [("ordinary points", [rng.uniform(spec.low, spec.high, s) for s in shapes])]
            for values in (SPECIAL, IN_UNIT):
                points.append(("special points", _special_arrays(shapes, values, rng)))
            for what, arrays in points:
                def g_arrays(outs):
                    g = [rng.standard_normal(o.shape) for o in outs]
                    for a in g:
                        a.reshape(-1)[3::4] = 0.0         # zero output gradients too
                    return g
                state = rng.bit_generator.state
                try:
                    plain = _grads(fn, arrays, wrt, g_arrays, False)
                except ValueError:
                    if what == "special points":
                        continue            # outside the domain the op refuses (BCE's [0, 1])
                    raise
                rng.bit_generator.state = state   # the same output gradients for both passes
                recorded = _grads(fn, arrays, wrt, g_arrays, True)
                _compare(name, f"{what}, shapes {shapes}", arrays, plain, recorded)


def with_both_derivatives():
    return sorted(n for n, op in OPS.items() if op.vjp is not None)


def test_ops_with_a_c_vjp_have_a_formula_too():
    # the engine runs `formula` under create_graph; an op with only a C VJP could not be
    # differentiated twice
    assert with_both_derivatives(), "no op has a C VJP?"
    for name, op in OPS.items():
        assert op.formula is not None, f"{name} has no formula (its derivative with Tensor ops)"


def test_every_op_has_a_spec():
    missing = sorted(set(OPS) - {_op_of(n) for n in SPECS})
    assert not missing, f"ops without a line in tests/test_ops.py SPECS: {missing}"


@pytest.mark.parametrize("name", sorted(OPS))
def test_c_vjp_and_formula_agree(name):
    check_derivatives(name)


def test_the_check_catches_a_disagreement(monkeypatch):
    # a formula scaled by 1.5 (only the create_graph path sees it) must fail the check
    orig = OPS["Exp"].formula
    monkeypatch.setattr(OPS["Exp"], "formula", staticmethod(lambda ctx, g: orig(ctx, g) * 1.5))
    with pytest.raises(AssertionError, match="Exp .*disagree"):
        check_derivatives("Exp")


def test_clamp_gives_no_gradient_at_nan_on_both_paths():
    # (they used to differ: the formula passed the gradient at a NaN input, the C VJP did not)
    x = tl.tensor([float("nan"), 0.5, 2.0], dtype=tl.float64, requires_grad=True)
    y = x.clamp(0.0, 1.0)
    (plain,) = tl.autograd.grad(y, x, tl.ones(3, dtype=tl.float64), retain_graph=True)
    (recorded,) = tl.autograd.grad(y, x, tl.ones(3, dtype=tl.float64), create_graph=True)
    assert plain.tolist() == recorded.tolist() == [0.0, 1.0, 0.0]
