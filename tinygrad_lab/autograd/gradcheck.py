"""gradcheck / gradgradcheck: compare autograd's Jacobian with central differences in float64.

Use them to verify a hand-written backward:

    tl.autograd.gradcheck(lambda x, w: (x @ w).tanh(), (x, w))   # True, or raises with details

The checker's own arithmetic (finite differences, the fast mode's random projections and dot
products) is NumPy on purpose: it is the oracle for the C kernels, so it must not run on them.
"""
import itertools
import warnings

import numpy as np

from .. import dtypes
from ..creation import randn, zeros
from ..tensor import Tensor
from .engine import grad


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytic and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare(inputs):
    """Inputs as a tuple; float32 tensors that require grad are promoted to float64 copies (with
    a warning), narrower float types are refused."""
    out = []
    for i, t in enumerate(_as_tuple(inputs)):
        if isinstance(t, Tensor) and t.dtype.is_half:
            # a half's 8- or 11-bit mantissa cannot resolve a finite difference of eps = 1e-6
            raise TypeError(f"gradcheck needs float64 inputs: input {i} is {t.dtype!r}; half precision is too coarse "
                            f"for finite differences. Check the op in float64 instead: "
                            f"pass x.double() (gradients of half inputs are the float64 ones "
                            f"rounded)")
        if isinstance(t, Tensor) and t.requires_grad and t.dtype is not dtypes.float64:
            warnings.warn(f"gradcheck needs float64 inputs: input {i} is {t.dtype!r}; checking a "
                          "float64 copy (it is too imprecise for central differences)",
                          stacklevel=3)
            t = t.detach().to(dtypes.float64).requires_grad_(True)
        out.append(t)
    return tuple(out)


def _outputs(fn, inputs):
    outs = _as_tuple(fn(*inputs))
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return [o for o in outs if o.dtype.is_floating_point]


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, fast_mode=False):
    """Check autograd's gradients of ``fn(*inputs)`` against central differences.

    Every floating-point input that requires grad is checked, element by element, for every
    output element. Returns True on success; on a mismatch raises ``GradcheckError`` (or
    returns False when ``raise_exception=False``) naming the input, the element, the output
    element, and the analytic and numerical values.

    ``fast_mode=True`` (PyTorch's fast gradcheck) checks one random projection per input and
    output instead: ``v^T J u`` from one backward pass against the central difference of
    ``v^T f`` along ``u``, two forward passes per input whatever its size. A wrong gradient
    is caught with probability 1 but not located: rerun with ``fast_mode=False`` for the element.
    """
    inputs = _prepare(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; pass tensors with requires_grad=True")
    outs = _outputs(fn, inputs)
    if fast_mode:
        return _fast(fn, inputs, wrt, outs, eps, atol, rtol, raise_exception)
    for oi, out in enumerate(outs):
        if not out.requires_grad:
            # No path from the inputs: the numerical Jacobian must then be zero too.
            analytic = [np.zeros((out.numel(), inputs[i].numel())) for i in wrt]
        else:
            analytic = _analytic(out, [inputs[i] for i in wrt])
        for k, i in enumerate(wrt):
            numeric = _numeric(fn, inputs, i, oi, eps)
            a, n = analytic[k], numeric
            bad = np.abs(a - n) > atol + rtol * np.abs(n)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                shape = inputs[i].shape
                elem = tuple(int(v) for v in np.unravel_index(c, shape)) if shape else ()
                oelem = tuple(int(v) for v in np.unravel_index(r, out.shape)) if out.shape else ()
                return _fail(
                    f"Jacobian mismatch for output {oi} with respect to input {i} (shape {shape}):\n"
                    f"  input element {elem}, output element {oelem}\n"
                    f"  analytic: {float(a[r, c])!r}\n  numerical: {float(n[r, c])!r}\n"
                    f"  (|analytic - numerical| = {abs(a[r, c] - n[r, c]):.3g} > atol + rtol*|numerical| = "
                    f"{atol + rtol * abs(n[r, c]):.3g}; {int(bad.sum())} of {bad.size} entries differ)",
                    raise_exception)
    return True


def _analytic(out, wrt):
    """Rows of the Jacobian d out / d wrt, one backward per output element."""
    jac = [np.zeros((out.numel(), t.numel())) for t in wrt]
    for r in range(out.numel()):
        v = zeros(out.shape, dtype=out.dtype)
        v._view_numpy().reshape(-1)[r] = 1.0
        gs = grad(out, wrt, v, retain_graph=True, allow_unused=True)
        for k, g in enumerate(gs):
            if g is not None:
                if g.shape != wrt[k].shape:
                    raise GradcheckError(f"gradient for input {k} has shape {g.shape}, expected {wrt[k].shape}")
                jac[k][r] = np.asarray(g.detach().to(dtypes.float64)._view_numpy(), dtype=np.float64).reshape(-1)
    return jac


def _numeric(fn, inputs, i, oi, eps):
    """Columns of the Jacobian by central differences, perturbing input i in place."""
    t = inputs[i]
    flat_view = t._view_numpy()
    cols = []
    # Not under no_grad: fn may itself differentiate (gradgradcheck's vjp does).
    for idx in (itertools.product(*[range(n) for n in t.shape]) if t.numel() else []):
        orig = flat_view[idx].copy()
        flat_view[idx] = orig + eps
        plus = _outputs(fn, inputs)[oi]._view_numpy().astype(np.float64).reshape(-1)
        flat_view[idx] = orig - eps
        minus = _outputs(fn, inputs)[oi]._view_numpy().astype(np.float64).reshape(-1)
        flat_view[idx] = orig
        cols.append((plus - minus) / (2 * eps))
    n_out = _outputs(fn, inputs)[oi].numel() if not cols else cols[0].size
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def _fast(fn, inputs, wrt, outs, eps, atol, rtol, raise_exception):
    """Fast mode: for each input i and output o, u_i^T J_oi^T v_o (the backward of v_o, dotted
    with u_i) against v_o . (f_o(x + eps u_i) - f_o(x - eps u_i)) / (2 eps). u_i and v_o are
    random unit vectors from a fixed seed (reproducible failures)."""
    rng = np.random.default_rng(0)
    us = {}
    for i in wrt:
        u = rng.standard_normal(inputs[i].shape)
        us[i] = u / max(float(np.sqrt(np.sum(u * u))), 1e-300)
    vs = []
    for o in outs:
        v = rng.standard_normal(o.shape)
        vs.append(v / max(float(np.sqrt(np.sum(v * v))), 1e-300))
    analytic = np.zeros((len(outs), len(wrt)))
    for oi, out in enumerate(outs):
        if out.requires_grad and out.numel():
            v = zeros(out.shape, dtype=out.dtype)
            v._view_numpy()[...] = vs[oi]
            gs = grad(out, [inputs[i] for i in wrt], v, retain_graph=True, allow_unused=True)
            for k, g in enumerate(gs):
                if g is not None:
                    if g.shape != inputs[wrt[k]].shape:
                        raise GradcheckError(f"gradient for input {wrt[k]} has shape {g.shape}, "
                                             f"expected {inputs[wrt[k]].shape}")
                    gk = np.asarray(g.detach().to(dtypes.float64)._view_numpy(), dtype=np.float64)
                    analytic[oi, k] = float(np.sum(gk * us[wrt[k]]))
    for k, i in enumerate(wrt):
        view = inputs[i]._view_numpy()
        orig = view.copy()
        view[...] = orig + eps * us[i]
        plus = [o._view_numpy().astype(np.float64) for o in _outputs(fn, inputs)]
        view[...] = orig - eps * us[i]
        minus = [o._view_numpy().astype(np.float64) for o in _outputs(fn, inputs)]
        view[...] = orig
        for oi in range(len(outs)):
            n = float(np.sum((plus[oi] - minus[oi]) * vs[oi])) / (2 * eps)
            a = analytic[oi, k]
            if abs(a - n) > atol + rtol * abs(n):
                return _fail(
                    f"Jacobian mismatch for output {oi} with respect to input {i} (shape "
                    f"{inputs[i].shape}), fast mode:\n"
                    f"  v^T J u analytic: {a!r}\n  v^T J u numerical: {n!r}\n"
                    f"  (|analytic - numerical| = {abs(a - n):.3g} > atol + rtol*|numerical| = "
                    f"{atol + rtol * abs(n):.3g}; u, v: random unit vectors over the input and "
                    f"the output)\n  rerun with fast_mode=False to find the element",
                    raise_exception)
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, fast_mode=False):
    """Check second derivatives: gradcheck of the vector-Jacobian product of ``fn`` (built with
    create_graph=True) with respect to the inputs and the output gradients (``fast_mode``: as
    in gradcheck)."""
    inputs = _prepare(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        grad_outputs = [randn(o.shape, dtype=dtypes.float64).requires_grad_(True) for o in outs]
    else:
        grad_outputs = [g.detach().to(dtypes.float64).requires_grad_(True) for g in _as_tuple(grad_outputs)]
    n_in = len(inputs)

    def vjp(*args):
        ins, gos = args[:n_in], args[n_in:]
        os_ = _outputs(fn, ins)
        pairs = [(o, g) for o, g in zip(os_, gos) if o.requires_grad]
        if not pairs:
            return tuple(zeros(ins[i].shape, dtype=dtypes.float64) for i in wrt)
        gs = grad([o for o, _ in pairs], [ins[i] for i in wrt], [g for _, g in pairs],
                  create_graph=True, allow_unused=True)
        return tuple(g if g is not None else zeros(ins[i].shape, dtype=dtypes.float64) * 0.0
                     for g, i in zip(gs, wrt))

    return gradcheck(vjp, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode)
