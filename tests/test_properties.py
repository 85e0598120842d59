"""Property tests: random programs checked against NumPy, central differences and PyTorch.

Hypothesis draws a program: input tensors of random shapes (0-d, 0-size, up to 3 dims), each
possibly a transposed, strided or offset view of a larger leaf, then a chain of 1-5 ops
(elementwise unary/binary with broadcasting, reductions over a dim or all, matmul, transpose,
reshape). The program runs in float64 on tinygrad_lab and on NumPy; the values must agree, and the
gradient of a random weighting of the output w.r.t. every leaf must agree with central
differences of the NumPy program. With PyTorch installed the same program runs on torch too.

Ops with kinks (relu, abs, maximum, max) are only drawn where their input is at least 1e-3 away
from the kink, so finite differences are valid.

About one program in three is *special* (issue 13): some elements of its leaves are NaN, +-inf,
+-0 or +-1e300 (huge: products overflow to inf). Such a program is checked against NumPy for its
values and against PyTorch for values and gradients, NaN-aware (NaN where the reference has NaN,
equal infinities); central differences mean nothing there, so they are skipped, and so are the
kink filters (tinygrad_lab must follow PyTorch's conventions at kinks and ties exactly); finite
values are compared at the scale of the program's largest magnitude (``special_atol``).
tinygrad_lab's ``max(dim)`` has the gradient rule of PyTorch's full ``max()`` in every slice
(the maxima, or the NaNs when the maximum is NaN, share it evenly), which ``_torch_max_dim``
implements on torch's side: ``torch.amax`` multiplies by a mask (0 * NaN spreads a NaN output
gradient over the slice) and ``torch.max(dim)`` gives a tie to one index. No matmul whose
finite products can overflow is drawn in them (``_product_overflows``: the NaN-or-inf of such
a dot depends on the summation order).

The default `ci` profile (tests/conftest.py) is derandomized with a fixed example budget. For a
deep search run::

    python -m pytest tests/test_properties.py --hypothesis-profile=long --hypothesis-show-statistics

(stop it with Ctrl-C or bound it with `timeout`; the statistics give the programs run).
"""
import numpy as np
import pytest

import tinygrad_lab as tl

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, strategies as st  # noqa: E402

KINK = 1e-3
UNARY = ("neg", "tanh", "sigmoid", "sin", "exp", "square", "relu", "abs")
BINARY = ("add", "sub", "mul", "div", "maximum")
REDUCE = ("sum", "mean", "max", "sum_all")
SPECIAL = (float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e300, -1e300)
SPECIAL_PROGRAMS = 0.3     # the share of programs with special values in their leaves
SPECIAL_ELEMENTS = 0.3     # in such a program, the share of each leaf's elements made special


# ---- one program, three back ends -------------------------------------------------------------

class NumpyBackend:
    def leaf(self, base):
        return base

    def permute(self, x, axes):
        return np.transpose(x, axes)

    def unary(self, name, x):
        return {"neg": lambda: -x, "tanh": lambda: np.tanh(x), "sigmoid": lambda: 1 / (1 + np.exp(-x)),
                "sin": lambda: np.sin(x), "exp": lambda: np.exp(x), "square": lambda: x * x,
                "relu": lambda: np.maximum(x, 0), "abs": lambda: np.abs(x)}[name]()

    def binary(self, name, x, y):
        return {"add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y,
                "div": lambda: x / y, "maximum": lambda: np.maximum(x, y)}[name]()

    def reduce(self, name, x, dim, keepdim):
        if name == "sum_all":
            return np.asarray(x.sum())
        fn = {"sum": np.sum, "mean": np.mean, "max": np.max}[name]
        return np.asarray(fn(x, axis=dim, keepdims=keepdim))

    def transpose(self, x):
        return np.swapaxes(x, -1, -2)


class TensorBackend:
    """tinygrad_lab and torch share the method names used here."""

    def __init__(self, mod):
        self.mod = mod

    def leaf(self, base):
        return self.mod.tensor(base, dtype=self.mod.float64, requires_grad=True)

    def permute(self, x, axes):
        return x.permute(*axes)

    def unary(self, name, x):
        if name == "neg":
            return -x
        if name == "square":
            return x * x
        return getattr(x, name)()

    def binary(self, name, x, y):
        if name == "maximum":
            return self.mod.maximum(x, y)
        return {"add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y,
                "div": lambda: x / y}[name]()

    def reduce(self, name, x, dim, keepdim):
        if name == "sum_all":
            return x.sum()
        if name == "max" and self.mod is not tl:
            return _torch_max_dim(self.mod).apply(x, dim, keepdim)
        return getattr(x, name)(dim=dim, keepdim=keepdim)

    def transpose(self, x):
        return x.transpose(-1, -2)


_TORCH_MAX = []


def _torch_max_dim(torch):
    """tinygrad_lab's ``max(dim)`` in torch: torch.amax's values, and the gradient of PyTorch's
    full ``max()`` in every slice -- selected into the maxima and split evenly between ties
    (masked_fill). ``torch.amax`` multiplies the gradient by its 0/1 mask instead, so a NaN or
    inf output gradient would reach every element of the slice (0 * NaN); ``torch.max(dim)``
    sends a tie's whole gradient to one index."""
    if not _TORCH_MAX:
        class MaxDim(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, dim, keepdim):
                y = torch.amax(x, dim=dim, keepdim=True)
                ctx.save_for_backward(x, y)
                ctx.dim, ctx.keepdim = dim, keepdim
                return y if keepdim else y.squeeze(dim)

            @staticmethod
            def backward(ctx, g):
                x, y = ctx.saved_tensors
                if not ctx.keepdim:
                    g = g.unsqueeze(ctx.dim)
                mask = (x == y) | (x.isnan() & y.isnan())     # a NaN maximum: the NaNs
                count = mask.sum(dim=ctx.dim, keepdim=True)
                return torch.where(mask, g / count, torch.zeros_like(x)), None, None
        _TORCH_MAX.append(MaxDim)
    return _TORCH_MAX[0]


def make_view(backend, base, kind):
    """The leaf's view: the whole base, its reversed permutation, every 2nd row or rows 1:."""
    if kind == "T":
        return backend.permute(base, tuple(range(base.ndim))[::-1])
    if kind == "step":
        return base[::2]
    if kind == "offset":
        return base[1:]
    return base


def base_shape(shape, kind):
    if kind == "T":
        return shape[::-1]
    if kind == "step":
        return (2 * shape[0],) + shape[1:]
    if kind == "offset":
        return (shape[0] + 1,) + shape[1:]
    return shape


def run(program, bases, backend):
    """Evaluate `program` on leaves made from `bases`; returns (output, leaves)."""
    leaves = [backend.leaf(b) for b in bases]
    views = [make_view(backend, leaf, kind) for leaf, (kind, _) in zip(leaves, program["leaves"])]
    x = views[0]
    for step in program["steps"]:
        op = step[0]
        if op == "unary":
            x = backend.unary(step[1], x)
        elif op == "binary":
            x = backend.binary(step[1], x, views[step[2]])
        elif op == "matmul":
            x = x @ views[step[1]]
        elif op == "reduce":
            x = backend.reduce(step[1], x, step[2], step[3])
        elif op == "transpose":
            x = backend.transpose(x)
        elif op == "reshape":
            x = x.reshape(step[1])
    return x, leaves


# ---- drawing a program ------------------------------------------------------------------------

@st.composite
def programs(draw):
    """A program (leaves' view kinds and shapes, steps) and its float64 input data."""
    with np.errstate(all="ignore"):     # NaN/inf arithmetic of special programs is expected
        return _draw_program(draw)


def _finite_max(a):
    f = np.abs(a[np.isfinite(a)])
    return f.max() if f.size else 0.0


def _product_overflows(x, y):
    """Whether a dot product of x and y may hold a finite product that overflows. With FMA the
    kernels fold such a product into an infinite partial sum (inf, not inf - inf = NaN), so the
    NaN-or-inf of that dot depends on the summation order -- in PyTorch's BLAS too. (The
    backward's matmuls can meet the same: a huge output gradient times a huge leaf; the long
    fuzz run reports such a dot as -inf in torch and NaN here.)"""
    return _finite_max(x) * _finite_max(y) > 1e307


def _draw_program(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    special = rng.random() < SPECIAL_PROGRAMS
    program = {"leaves": [], "steps": [], "special": special}
    bases = []

    def new_leaf(shape, positive=False):
        kinds = ["contig"] + (["T", "step", "offset"] if len(shape) >= 1 else [])
        kind = draw(st.sampled_from(kinds))
        base = rng.uniform(0.5, 1.5, base_shape(shape, kind)) if positive else \
            rng.uniform(-1.5, 1.5, base_shape(shape, kind))
        if special:
            mask = rng.random(base.shape) < SPECIAL_ELEMENTS
            base[mask] = rng.choice(SPECIAL, size=int(mask.sum()))
        program["leaves"].append((kind, shape))
        bases.append(base)
        return len(bases) - 1, make_view(NumpyBackend(), base, kind)

    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim)))
    _, x = new_leaf(shape)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(("unary", "binary", "matmul", "reduce", "transpose", "reshape")))
        if op == "unary":
            name = draw(st.sampled_from(UNARY))
            if name in ("relu", "abs") and not special and x.size and np.abs(x).min() < KINK:
                continue
            program["steps"].append(("unary", name))
            x = NumpyBackend().unary(name, x)
        elif op == "binary":
            name = draw(st.sampled_from(BINARY))
            how = draw(st.sampled_from(("same", "ones", "suffix", "outer")))
            s = x.shape
            if how == "ones":
                s = tuple(d if draw(st.booleans()) else 1 for d in s)
            elif how == "suffix":
                s = s[draw(st.integers(0, len(s))):]
            elif how == "outer" and x.ndim < 3:
                s = (draw(st.integers(0, 2)),) + s
            i, y = new_leaf(s, positive=(name == "div"))
            if name == "maximum" and not special and np.broadcast(x, y).size and \
                    np.abs(x - y).min() < KINK:
                program["leaves"].pop()   # (an unused leaf would have no gradient)
                bases.pop()
                continue
            program["steps"].append(("binary", name, i))
            x = NumpyBackend().binary(name, x, y)
        elif op == "matmul" and 1 <= x.ndim:
            k = draw(st.integers(0, 3))
            i, y = new_leaf((x.shape[-1], k) if draw(st.booleans()) else (x.shape[-1],))
            if special and _product_overflows(x, y):
                program["leaves"].pop()
                bases.pop()
                continue
            program["steps"].append(("matmul", i))
            x = x @ y
        elif op == "reduce" and x.ndim >= 1:
            name = draw(st.sampled_from(REDUCE))
            dim = draw(st.integers(-x.ndim, x.ndim - 1))
            keepdim = draw(st.booleans())
            if name == "mean" and x.shape[dim] == 0:
                continue              # mean over nothing is nan: no gradient to check
            if name == "max":
                # max over an empty dim is an error in both; a 0-element input with a non-empty
                # dim is issue 13's known tl divergence (tl raises, torch returns empty)
                if x.size == 0:
                    continue
                top2 = -np.partition(-x, min(1, x.shape[dim] - 1), axis=dim)
                if not special and x.shape[dim] > 1 and \
                        np.abs(np.take(top2, 0, dim) - np.take(top2, 1, dim)).min() < KINK:
                    continue          # a tie within KINK: the gradient is not differentiable
            program["steps"].append(("reduce", name, dim, keepdim))
            x = NumpyBackend().reduce(name, x, dim, keepdim)
        elif op == "transpose" and x.ndim >= 2:
            program["steps"].append(("transpose",))
            x = np.swapaxes(x, -1, -2)
        elif op == "reshape":
            program["steps"].append(("reshape", (x.size,)))
            x = x.reshape(x.size)
    assume(special or (np.all(np.isfinite(x)) and (x.size == 0 or np.abs(x).max() < 1e6)))
    weights = rng.uniform(-1, 1, x.shape)
    return program, bases, weights


def numeric_grads(program, bases, weights, eps=1e-6):
    """Central differences of sum(weights * program(bases)) w.r.t. every base element."""
    npb = NumpyBackend()
    grads = []
    for i, b in enumerate(bases):
        g = np.zeros_like(b)
        for idx in np.ndindex(b.shape):
            vals = []
            for sign in (1, -1):
                shifted = [c.copy() for c in bases]
                shifted[i][idx] += sign * eps
                vals.append(float(np.sum(weights * run(program, shifted, npb)[0])))
            g[idx] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


def tl_grads(program, bases, weights):
    out, leaves = run(program, bases, TensorBackend(tl))
    (out * tl.tensor(weights, dtype=tl.float64)).sum().backward()
    return out, [leaf.grad for leaf in leaves]


def describe(program):
    return f"program: {program}"


def special_atol(program, *arrays):
    """The absolute tolerance of a special program's finite values: huge leaves (1e300) make
    the low digits depend on the summation order and on FMA (a sum of 1e300, -1e300 and 0.9 is
    0 or 0.9; a product's rounding error is ~1e284), so finite values are compared at the
    scale of the largest finite magnitude involved; NaN and the infinities stay exact."""
    if not program["special"]:
        return 0.0
    scale = max([float(np.abs(a[np.isfinite(a)]).max(initial=0.0)) for a in arrays] + [1.0])
    return 1e-12 * scale


@given(programs())
def test_random_programs_match_numpy_and_central_differences(case):
    program, bases, weights = case
    with np.errstate(all="ignore"):       # NumPy's overflow/invalid warnings in special programs
        ref = run(program, bases, NumpyBackend())[0]
    out, grads = tl_grads(program, bases, weights)
    assert out.shape == ref.shape, describe(program)
    assert out.dtype == tl.float64
    # (assert_allclose is NaN-aware: NaN where the reference has NaN, equal infinities)
    atol = 1e-9 + special_atol(program, *bases, np.asarray(ref))
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-7, atol=atol, err_msg=describe(program))
    if program["special"]:      # no finite differences through NaN/inf: grads exist, shapes match
        for g, b in zip(grads, bases):
            assert g is not None and g.shape == b.shape, describe(program)
        return
    # central differences round at ~1e-16 * sum|weights * out| / eps: outputs up to 1e6 need more
    # than a fixed atol
    atol = 1e-6 + 1e-9 * float(np.abs(weights * ref).sum())
    for g, ng, b in zip(grads, numeric_grads(program, bases, weights), bases):
        assert g is not None, describe(program)
        assert g.shape == b.shape, describe(program)
        np.testing.assert_allclose(g.numpy(), ng, rtol=1e-5, atol=atol, err_msg=describe(program))


@given(programs())
def test_random_programs_match_torch(case):
    torch = pytest.importorskip("torch")
    program, bases, weights = case
    tout, tleaves = run(program, bases, TensorBackend(torch))
    if tout.requires_grad:
        (tout * torch.tensor(weights, dtype=torch.float64)).sum().backward()
    out, grads = tl_grads(program, bases, weights)
    assert tuple(out.shape) == tuple(tout.shape), describe(program)
    tgrads = [(t.grad if t.grad is not None else torch.zeros_like(t)).numpy() for t in tleaves]
    atol = 1e-12 + special_atol(program, *bases, tout.detach().numpy(), *tgrads)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-9, atol=atol,
                               err_msg=describe(program))
    for g, tg in zip(grads, tgrads):
        assert g is not None, describe(program)
        np.testing.assert_allclose(g.numpy(), tg, rtol=1e-9, atol=atol, err_msg=describe(program))
