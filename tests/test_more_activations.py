"""More of PyTorch's activations, in ``tl.nn.functional`` and as ``nn`` modules: relu6 / ReLU6,
hardswish / Hardswish, hardsigmoid / Hardsigmoid, celu / CELU, softshrink / Softshrink,
hardshrink / Hardshrink, tanhshrink / Tanhshrink, threshold / Threshold, softmin / Softmin,
glu / GLU.

hardsigmoid, hardswish, celu, softshrink, hardshrink and threshold are rows of
csrc/elementwise.c (tests/test_ops.py's SPECS run them through check_op and
tests/test_derivatives.py compares their C VJPs with their formulas); relu6 is PyTorch's
hardtanh(x, 0, 6), tanhshrink x - tanh(x), softmin softmax(-x) and glu a * sigmoid(b), as
PyTorch composes them. Here: forward against NumPy, PyTorch as the oracle for values and both
derivative paths at random and special points (its vectorised kernels: each point as 32
copies, see tests/test_math_ops.py), the special points pinned, second derivatives, dtypes and
errors, halves, inplace=, and the modules' reprs.
"""
import math

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F

from .helpers import simd_level, simd_levels
from .test_derivatives import check_derivatives
from .test_ieee import _run, _same
from .test_math_ops import (check_forward_against_numpy, check_gradchecks, check_points_against_torch,
                            check_random_against_torch, check_second_derivatives_against_torch,
                            check_strided_views)

NAN, INF = float("nan"), float("inf")
DTYPES = ["float64", "float32"]


def _tm(m):
    """The functional namespace of tinygrad_lab or torch."""
    return F if m is tl else m.nn.functional


def _sm(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sig(x):
    return 1 / (1 + np.exp(-x))


# name -> (fn of (module, tensor), NumPy reference, input domain (low, high))
OPS = {
    "relu6": (lambda m, x: _tm(m).relu6(x), lambda x: np.clip(x, 0, 6), (-3.0, 9.0)),
    "hardswish": (lambda m, x: _tm(m).hardswish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6, (-5.0, 5.0)),
    "hardsigmoid": (lambda m, x: _tm(m).hardsigmoid(x), lambda x: np.clip(x + 3, 0, 6) / 6, (-5.0, 5.0)),
    "celu": (lambda m, x: _tm(m).celu(x), lambda x: np.where(x > 0, x, np.expm1(x)), (-3.0, 3.0)),
    "celu_alpha": (lambda m, x: _tm(m).celu(x, alpha=0.7),
                   lambda x: np.where(x > 0, x, 0.7 * np.expm1(x / 0.7)), (-3.0, 3.0)),
    "softshrink": (lambda m, x: _tm(m).softshrink(x),
                   lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)), (-2.0, 2.0)),
    "softshrink_lambd": (lambda m, x: _tm(m).softshrink(x, 1.25),
                         lambda x: np.where(x > 1.25, x - 1.25, np.where(x < -1.25, x + 1.25, 0.0)),
                         (-3.0, 3.0)),
    "hardshrink": (lambda m, x: _tm(m).hardshrink(x), lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
                   (-2.0, 2.0)),
    "hardshrink_lambd": (lambda m, x: _tm(m).hardshrink(x, 0.2),
                         lambda x: np.where(np.abs(x) > 0.2, x, 0.0), (-2.0, 2.0)),
    "tanhshrink": (lambda m, x: _tm(m).tanhshrink(x), lambda x: x - np.tanh(x), (-3.0, 3.0)),
    "threshold": (lambda m, x: _tm(m).threshold(x, 0.5, -2.0), lambda x: np.where(x <= 0.5, -2.0, x),
                  (-2.0, 2.0)),
    "softmin": (lambda m, x: _tm(m).softmin(x, dim=-1), lambda x: _sm(-x, -1), (-3.0, 3.0)),
    "softmin_dim0": (lambda m, x: _tm(m).softmin(x, 0), lambda x: _sm(-x, 0), (-3.0, 3.0)),
    "glu": (lambda m, x: _tm(m).glu(x), lambda x: x[..., :x.shape[-1] // 2] * _sig(x[..., x.shape[-1] // 2:]),
            (-3.0, 3.0)),
    "glu_dim0": (lambda m, x: _tm(m).glu(x, 0), lambda x: x[:x.shape[0] // 2] * _sig(x[x.shape[0] // 2:]),
                 (-3.0, 3.0)),
}
ELEMENTWISE = [n for n in OPS if not n.startswith(("softmin", "glu"))]
GRAD_FN = {"relu6": "HardtanhBackward", "hardswish": "HardswishBackward",
           "hardsigmoid": "HardsigmoidBackward", "celu": "CeluBackward", "softshrink": "SoftshrinkBackward",
           "hardshrink": "HardshrinkBackward", "tanhshrink": "SubBackward",
           "threshold": "ThresholdBackward", "glu": "MulBackward"}


def _rand(name, shape=(6, 8), seed=0):
    lo, hi = OPS[name][2]
    return np.random.default_rng([seed, len(name)]).uniform(lo, hi, shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_matches_numpy(name, dtype):
    check_forward_against_numpy(*OPS[name][:2], _rand(name), dtype)


@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_on_strided_views(name):
    check_strided_views(*OPS[name][:2], _rand(name, (8, 6)), (lambda v: v.T, lambda v: v[::2]))


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck_and_gradgradcheck_float64(name):
    check_gradchecks(OPS[name][0], _rand(name, (4, 4), seed=1))


@pytest.mark.parametrize("op", ["Hardsigmoid", "Hardswish", "Celu", "Softshrink", "Hardshrink", "Threshold"])
def test_c_vjp_agrees_with_the_formula(op):
    check_derivatives(op)


def test_grad_fn_names_are_pytorchs():
    x = tl.tensor([[0.5, 1.5], [-1.0, 2.0]], requires_grad=True)
    for name, node in GRAD_FN.items():
        assert OPS[name][0](tl, x).grad_fn.name() == node, name


# ---- special points pinned (PyTorch 2.13's vectorised answers) ---------------------------------------

XA = [NAN, INF, -INF, -3.0, 3.0, -0.0, 0.0, 0.5, -0.5, 0.3, -0.3, 1.0, -4.0, 6.0]
PINNED = {   # name -> (values at XA, gradient of the sum at XA), float64
    "relu6": ([NAN, 6.0, 0.0, 0.0, 3.0, -0.0, 0.0, 0.5, 0.0, 0.3, 0.0, 1.0, 0.0, 6.0],
              [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]),
    # 1/6 is a float constant in PyTorch's derivative, in float64 too
    "hardsigmoid": ([NAN, 1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5833333333333334, 0.4166666666666667, 0.55, 0.45,
                     0.6666666666666666, 0.0, 1.0],
                    [0.0, 0.0, 0.0, 0.0, 0.0] + [0.1666666716337204] * 7 + [0.0, 0.0]),
    # NaN at -inf (-inf * 0); gradient NaN at NaN (vectorised), 0 at -3, g at 3
    "hardswish": ([NAN, INF, NAN, -0.0, 3.0, -0.0, 0.0, 0.2916666666666667, -0.20833333333333334, 0.165,
                   -0.135, 0.6666666666666666, -0.0, 6.0],
                  [NAN, 1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.6666666666666666, 0.33333333333333337, 0.6, 0.4,
                   0.8333333333333333, 0.0, 1.0]),
    "celu": ([NAN, INF, -1.0, math.expm1(-3), 3.0, -0.0, 0.0, 0.5, math.expm1(-0.5), 0.3, math.expm1(-0.3),
              1.0, math.expm1(-4), 6.0],
             [NAN, 1.0, 0.0, math.exp(-3), 1.0, 1.0, 1.0, 1.0, math.exp(-0.5), 1.0, math.exp(-0.3), 1.0,
              math.exp(-4), 1.0]),
    # +0 inside the bounds (also at -0 and -0.3), NaN stays NaN with a 0 gradient (vectorised)
    "softshrink": ([NAN, INF, -INF, -2.5, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, -3.5, 5.5],
                   [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
    "hardshrink": ([NAN, INF, -INF, -3.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, -4.0, 6.0],
                   [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
    "threshold": ([NAN, INF, -2.0, -2.0, 3.0, -2.0, -2.0, -2.0, -2.0, -2.0, -2.0, 1.0, -2.0, 6.0],
                  [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("create_graph", [False, True], ids=["c_vjp", "formula"])
@pytest.mark.parametrize("name", sorted(PINNED))
def test_special_points_pinned(name, create_graph, dtype):
    want_y, want_g = PINNED[name]
    for level in simd_levels():
        with simd_level(level):
            y, g = _run(lambda t: OPS[name][0](tl, t), XA, getattr(tl, dtype), create_graph)
            _same(y, want_y)
            if dtype == "float32" and name == "hardsigmoid":
                want_g = [float(np.float32(v)) for v in want_g]
            _same(g, want_g)


POINTS = XA + [2.9999999, 3.0000001, -2.9999999, -3.0000001, 0.5000001, 0.4999999, 1e30, -1e30, 1e-310,
               -1e-310, 20.0, -20.0, 100.0, -100.0, 1.25, -1.25, 0.2, -0.2, 88.8, -88.8, 710.0, -710.0]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_special_points_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    check_points_against_torch(torch, OPS[name][0], POINTS, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_random_values_and_gradients_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    check_random_against_torch(torch, OPS[name][0], _rand(name, (4, 6), seed=2).astype(dtype), dtype,
                               atol=1e-7 if dtype == "float32" else 1e-15)


def test_second_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    for name in sorted(OPS):
        lo, hi = OPS[name][2]
        pts = (np.linspace(lo, hi, 12) + 0.0137).reshape(2, 6)
        check_second_derivatives_against_torch(torch, OPS[name][0], pts, name,
                                               no_double_backward=("hardsigmoid",))


def test_celu_matches_elu_at_alpha_1_and_its_derivative_constant_is_pytorchs():
    x = tl.tensor([-2.0, -0.5, 0.0, 1.5], dtype=tl.float64, requires_grad=True)
    assert F.celu(x).tolist() == F.elu(x).tolist()
    (g,) = tl.autograd.grad(F.celu(x, 0.7).sum(), x)
    # PyTorch's backward scale is 1 / float32(alpha): the gradient at 0 is 1.0000000170, not 1
    assert g.tolist()[2] == 0.7 / float(np.float32(0.7))


# ---- dtypes, errors, halves ------------------------------------------------------------------------

def test_integer_inputs_follow_pytorch():
    i = tl.tensor([-1, 3, 7])
    r = F.relu6(i)                                  # hardtanh of integers stays integer
    assert r.dtype is tl.int64 and r.tolist() == [0, 3, 6]
    t = F.threshold(i, 2, 0)
    assert t.dtype is tl.int64 and t.tolist() == [0, 3, 7]
    # the numbers are cast to integers toward 0, as PyTorch casts its Scalars
    assert F.threshold(i, -1.5, 0.5).tolist() == [0, 3, 7]
    for f in (F.hardswish, F.hardsigmoid, F.celu, F.softshrink, F.hardshrink):
        with pytest.raises(TypeError, match=f"{f.__name__}: .*floating-point.*int64"):
            f(i)


def test_integer_inputs_oracle():
    torch = pytest.importorskip("torch")
    i = torch.tensor([-1, 3, 7])
    assert torch.nn.functional.relu6(i).tolist() == [0, 3, 6]
    assert torch.nn.functional.threshold(i, 2, 0).tolist() == [0, 3, 7]
    assert torch.nn.functional.threshold(i, -1.5, 0.5).tolist() == [0, 3, 7]
    with pytest.raises(NotImplementedError):
        torch.nn.functional.hardswish(i)


def test_bad_arguments_raise_as_pytorch():
    x = tl.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="alpha cannot be 0"):
        F.celu(x, 0.0)
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        F.softshrink(x, -1.0)
    assert F.hardshrink(x, -1.0).tolist() == [1.0, 2.0]      # (PyTorch accepts it)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(tl.ones(3))
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 0 is size 3"):
        F.glu(tl.ones(3, 4), 0)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        F.glu(tl.ones(2, 4), 2)
    with pytest.raises(TypeError, match="softmin: dim must be given"):
        F.softmin(x)
    with pytest.raises(TypeError, match="threshold must be a number"):
        F.threshold(x, None, 0.0)
    for f in (F.hardswish, F.hardsigmoid, F.celu, F.softshrink, F.hardshrink, F.glu):
        with pytest.raises(TypeError, match=f.__name__):
            f([1.0, 2.0])


def test_bad_arguments_oracle():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    with pytest.raises(RuntimeError, match="alpha cannot be 0"):
        tf.celu(torch.ones(2), 0.0)
    with pytest.raises(RuntimeError, match="lambda must be"):
        tf.softshrink(torch.ones(2), -1.0)
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 0 is size 3"):
        tf.glu(torch.ones(3, 4), 0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_inputs(dtype):
    a = np.linspace(-5.0, 5.0, 41).reshape(-1, 1) * np.ones((1, 2))
    x = tl.tensor(a, dtype=getattr(tl, dtype))
    for name in ("hardswish", "hardsigmoid", "celu", "softshrink", "hardshrink", "threshold", "relu6"):
        fn = OPS[name][0]
        got = fn(tl, x)
        assert got.dtype is getattr(tl, dtype), name
        assert np.array_equal(got.float().numpy(), fn(tl, x.float()).to(getattr(tl, dtype)).float().numpy()), name
    for name in ("tanhshrink", "softmin", "glu"):
        got = OPS[name][0](tl, x)
        assert got.dtype is getattr(tl, dtype), name
        np.testing.assert_allclose(got.float().numpy(), OPS[name][1](x.float().numpy().astype(np.float64)),
                                   rtol=2e-2, atol=2e-2)
    xr = tl.tensor(a, dtype=getattr(tl, dtype), requires_grad=True)
    F.hardswish(xr).sum().backward()
    assert xr.grad.dtype is getattr(tl, dtype)


# ---- inplace= -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,call", [
    ("relu6", lambda t, ip: F.relu6(t, inplace=ip)),
    ("hardswish", lambda t, ip: F.hardswish(t, inplace=ip)),
    ("hardsigmoid", lambda t, ip: F.hardsigmoid(t, inplace=ip)),
    ("celu", lambda t, ip: F.celu(t, 0.7, inplace=ip)),
    ("threshold", lambda t, ip: F.threshold(t, 0.5, -2.0, inplace=ip)),
    ("celu_", lambda t, ip: F.celu_(t, 0.7) if ip else F.celu(t, 0.7)),
    ("threshold_", lambda t, ip: F.threshold_(t, 0.5, -2.0) if ip else F.threshold(t, 0.5, -2.0)),
])
def test_inplace_overwrites_and_keeps_the_gradient(name, call):
    a = np.linspace(-4.5, 4.5, 7)
    x1 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    want = call(x1 * 2.0, False)
    want.sum().backward()
    x2 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    h = x2 * 2.0
    out = call(h, True)
    assert out is h and h.tolist() == want.tolist()
    h.sum().backward()
    assert x2.grad.tolist() == x1.grad.tolist()
    with pytest.raises(RuntimeError, match="leaf"):
        call(tl.tensor(a, requires_grad=True), True)
    plain = tl.tensor(a)
    assert call(plain, True) is plain and plain.tolist() == call(tl.tensor(a), False).tolist()


# ---- nn modules -----------------------------------------------------------------------------------------

MODULES = [   # (module, its repr as PyTorch prints it, the functional form)
    (lambda: nn.ReLU6(), "ReLU6()", F.relu6),
    (lambda: nn.ReLU6(inplace=True), "ReLU6(inplace=True)", F.relu6),
    (lambda: nn.Hardswish(), "Hardswish()", F.hardswish),
    (lambda: nn.Hardswish(inplace=True), "Hardswish()", F.hardswish),     # (PyTorch hides inplace)
    (lambda: nn.Hardsigmoid(), "Hardsigmoid()", F.hardsigmoid),
    (lambda: nn.Hardsigmoid(True), "Hardsigmoid()", F.hardsigmoid),
    (lambda: nn.CELU(), "CELU(alpha=1.0)", F.celu),
    (lambda: nn.CELU(0.5, True), "CELU(alpha=0.5, inplace=True)", lambda x: F.celu(x, 0.5)),
    (lambda: nn.Softshrink(), "Softshrink(0.5)", F.softshrink),
    (lambda: nn.Softshrink(1.5), "Softshrink(1.5)", lambda x: F.softshrink(x, 1.5)),
    (lambda: nn.Hardshrink(0.3), "Hardshrink(0.3)", lambda x: F.hardshrink(x, 0.3)),
    (lambda: nn.Tanhshrink(), "Tanhshrink()", F.tanhshrink),
    (lambda: nn.Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)", lambda x: F.threshold(x, 0.1, 20)),
    (lambda: nn.Threshold(0.1, 20.0, True), "Threshold(threshold=0.1, value=20.0, inplace=True)",
     lambda x: F.threshold(x, 0.1, 20.0)),
    (lambda: nn.Softmin(1), "Softmin(dim=1)", lambda x: F.softmin(x, 1)),
    (lambda: nn.GLU(), "GLU(dim=-1)", F.glu),
    (lambda: nn.GLU(0), "GLU(dim=0)", lambda x: F.glu(x, 0)),
]


@pytest.mark.parametrize("make,text,fn", MODULES, ids=[m[1] + str(i) for i, m in enumerate(MODULES)])
def test_modules(make, text, fn):
    m = make()
    assert repr(m) == text
    assert list(m.parameters()) == [] and m.state_dict() == {}
    a = np.linspace(-4.0, 4.0, 8).reshape(2, 4)
    x = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    h = x * 1.0
    y = m(h)
    assert y.tolist() == fn(tl.tensor(a, dtype=tl.float64)).tolist()
    y.sum().backward()
    assert x.grad is not None
    if "inplace=True" in text or (isinstance(m, nn.Hardswish) and m.inplace):
        assert y is h


@pytest.mark.parametrize("make,text,fn", MODULES, ids=[m[1] + str(i) for i, m in enumerate(MODULES)])
def test_module_reprs_match_torch(make, text, fn):
    torch = pytest.importorskip("torch")
    m = make()
    args = {"ReLU6": lambda: torch.nn.ReLU6(m.inplace), "Hardswish": lambda: torch.nn.Hardswish(m.inplace),
            "Hardsigmoid": lambda: torch.nn.Hardsigmoid(m.inplace)}
    tm = args[type(m).__name__]() if type(m).__name__ in args else eval("torch.nn." + text)  # noqa: S307
    assert repr(tm) == text


def test_softmin_module_legacy_dim_warns_as_softmax():
    m = nn.Softmin()
    assert repr(m) == "Softmin(dim=None)"
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        y = m(tl.tensor([[1.0, 2.0], [3.0, 5.0]]))
    np.testing.assert_allclose(y.numpy(), _sm(-np.array([[1.0, 2.0], [3.0, 5.0]]), 1), rtol=1e-6)


def test_modules_in_a_sequential_train():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Hardswish(), nn.Linear(16, 16), nn.CELU(0.8),
                          nn.Linear(16, 16), nn.ReLU6(), nn.Linear(16, 8), nn.GLU(), nn.Linear(4, 1))
    x = tl.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = tl.tensor([[0.0], [1.0], [1.0], [0.0]])
    opt = tl.optim.Adam(model.parameters(), lr=0.03)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first
