"""PyTorch's elementwise math ops that users type: rounding (floor, ceil, round with halves to
even and ``decimals=``, trunc / fix, frac; functions, Tensor methods and in-place ``_`` forms),
trig and hyperbolic (tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, their arc*
aliases), atan2 (binary, broadcasting) and square; logaddexp, hypot, lerp, addcmul, addcdiv and
nan_to_num.

Each op's forward and C VJP are a row of csrc/elementwise.c; tests/test_ops.py's SPECS run them
through check_op (layouts, shape variants, gradcheck, gradgradcheck) and tests/test_derivatives.py
compares their C VJPs with their formulas. Here: forward against NumPy in float32 and float64,
PyTorch as the oracle for values and both derivatives (backward()'s C VJP and the create_graph
formula) at random and special points (0, -0, +-inf, NaN, halves, overflow, subnormals), the
special points pinned without torch too, dtype rules and errors, half inputs and the in-place
forms. The torch oracle runs every point as 32 copies, so torch answers with its vectorised
kernels, never its scalar tail loop (its loop takes two vectors at a time: 16 elements with
AVX2, 32 float32 with AVX-512; a shorter tensor, or the tail of a longer one, runs scalar code).
"""
import math

import numpy as np
import pytest

import tinygrad_lab as tl

from .helpers import simd_level, simd_levels
from .test_derivatives import check_derivatives
from .test_ieee import _close, _run, _same   # (value, both derivative paths; NaN- and -0-aware)

NAN, INF = float("nan"), float("inf")
DTYPES = ["float64", "float32"]
FWD_TOL = {"float64": (1e-12, 1e-14), "float32": (2e-6, 1e-7)}
VEC = 32   # copies of each point in the torch oracle (see the module doc)


def _np_round(x, d):
    """PyTorch's round_decimals: nearbyint(x * 10^d) / 10^d (for d < 0: x / 10^-d, * 10^-d)."""
    return np.rint(x * 10.0 ** d) / 10.0 ** d if d >= 0 else np.rint(x / 10.0 ** -d) * 10.0 ** -d


# name -> (fn of (module, tensor), NumPy reference, input domain (low, high))
OPS = {
    "floor": (lambda m, x: m.floor(x), np.floor, (-3.0, 3.0)),
    "ceil": (lambda m, x: m.ceil(x), np.ceil, (-3.0, 3.0)),
    "round": (lambda m, x: m.round(x), np.rint, (-3.0, 3.0)),
    "round_decimals": (lambda m, x: m.round(x, decimals=2), lambda x: _np_round(x, 2), (-3.0, 3.0)),
    "round_negative_decimals": (lambda m, x: x.round(decimals=-1), lambda x: _np_round(x, -1),
                                (-300.0, 300.0)),
    "trunc": (lambda m, x: m.trunc(x), np.trunc, (-3.0, 3.0)),
    "fix": (lambda m, x: x.fix(), np.trunc, (-3.0, 3.0)),
    "frac": (lambda m, x: m.frac(x), lambda x: x - np.trunc(x), (-3.0, 3.0)),
    "tan": (lambda m, x: m.tan(x), np.tan, (-1.4, 1.4)),
    "asin": (lambda m, x: m.asin(x), np.arcsin, (-0.95, 0.95)),
    "arcsin": (lambda m, x: x.arcsin(), np.arcsin, (-0.95, 0.95)),
    "acos": (lambda m, x: m.acos(x), np.arccos, (-0.95, 0.95)),
    "atan": (lambda m, x: m.atan(x), np.arctan, (-5.0, 5.0)),
    "sinh": (lambda m, x: m.sinh(x), np.sinh, (-5.0, 5.0)),
    "cosh": (lambda m, x: m.cosh(x), np.cosh, (-5.0, 5.0)),
    "asinh": (lambda m, x: m.asinh(x), np.arcsinh, (-5.0, 5.0)),
    "acosh": (lambda m, x: m.acosh(x), np.arccosh, (1.05, 5.0)),
    "atanh": (lambda m, x: m.atanh(x), np.arctanh, (-0.95, 0.95)),
    "square": (lambda m, x: m.square(x), np.square, (-3.0, 3.0)),
}
TRIG = ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"]
GRAD_FN = {"floor": "FloorBackward", "ceil": "CeilBackward", "round": "RoundBackward",
           "round_decimals": "RoundBackward", "round_negative_decimals": "RoundBackward",
           "trunc": "TruncBackward", "fix": "TruncBackward", "frac": "FracBackward",
           "arcsin": "AsinBackward", "square": "PowScalarBackward"}   # (tl's name for x ** 2)
GRAD_FN.update({n: n.capitalize() + "Backward" for n in TRIG})


def _rand(name, shape=(5, 7), seed=0):
    lo, hi = OPS[name][2]
    return np.random.default_rng([seed, len(name)]).uniform(lo, hi, shape)


def _torch_vec(torch, fn, pts, dtype, args=()):
    """torch's value of ``fn`` at ``pts`` and the gradient of its sum, each point computed as
    32 copies (torch's vectorised loop, not its scalar tail; see the module doc)."""
    x = torch.tensor(np.repeat(np.asarray(pts, np.float64), VEC), dtype=getattr(torch, dtype),
                     requires_grad=True)
    y = fn(torch, x)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach()[::VEC].tolist(), g[::VEC].tolist()


def check_forward_against_numpy(fn, ref, a, dtype, tol=None):
    """``fn`` (of (module, tensor)) on ``a`` in ``dtype`` against the NumPy reference in float64."""
    got = fn(tl, tl.tensor(a, dtype=getattr(tl, dtype)))
    want = ref(a.astype(dtype).astype(np.float64))
    assert got.dtype is getattr(tl, dtype) and got.shape == want.shape
    rtol, atol = tol or FWD_TOL[dtype]
    np.testing.assert_allclose(got.numpy().astype(np.float64), want, rtol=rtol, atol=atol)


def check_strided_views(fn, ref, a, views=(lambda v: v.T, lambda v: v[::2, 1::3])):
    """``fn`` on transposed and strided float64 views of the 2-D array ``a``."""
    t = tl.tensor(a, dtype=tl.float64)
    for view in views:
        np.testing.assert_allclose(fn(tl, view(t)).numpy(), ref(view(a)), rtol=1e-12)


def check_gradchecks(fn, a):
    """gradcheck and gradgradcheck of ``fn`` at ``a`` in float64."""
    x = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    assert tl.autograd.gradcheck(lambda t: fn(tl, t), (x,))
    assert tl.autograd.gradgradcheck(lambda t: fn(tl, t), (x,))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_matches_numpy(name, dtype):
    fn, ref, _ = OPS[name]
    # (round with decimals in float32: x * 100 rounds in float32 first)
    tol = (1e-6, 1e-6) if name.startswith("round_") and dtype == "float32" else None
    check_forward_against_numpy(fn, ref, _rand(name), dtype, tol)


@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_on_strided_views(name):
    check_strided_views(*OPS[name][:2], _rand(name, (6, 8)))


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck_and_gradgradcheck_float64(name):
    check_gradchecks(OPS[name][0], _rand(name, (3, 4), seed=1))


@pytest.mark.parametrize("op", ["Floor", "Ceil", "Trunc", "Round", "Frac", "Tan", "Asin", "Acos",
                                "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Atan2",
                                "Logaddexp", "Hypot", "Lerp", "NanToNum", "Addcmul", "Addcdiv"])
def test_c_vjp_agrees_with_the_formula(op):
    check_derivatives(op)   # ordinary points, and 0, -0, ties, +-inf, NaN


def test_grad_fn_names_are_pytorchs():
    x = tl.tensor([0.5, 1.5], requires_grad=True)
    for name, node in GRAD_FN.items():
        assert OPS[name][0](tl, x).grad_fn.name() == node, name


def test_ops_save_their_input_not_their_output():
    x = tl.tensor([0.5, 1.5], requires_grad=True)
    for name in OPS:
        y = OPS[name][0](tl, x)
        assert all(s is not y for s in (y.grad_fn._saved or ())), name


# ---- special points pinned (PyTorch 2.13's answers) -------------------------------------------------

XR = [NAN, -INF, -2.5, -1.5, -0.7, -0.5, -0.0, 0.0, 0.5, 0.7, 1.5, 2.5, INF]
PINNED = {   # name -> (points, values, gradient of the sum), float64
    "floor": (XR, [NAN, -INF, -3.0, -2.0, -1.0, -1.0, -0.0, 0.0, 0.0, 0.0, 1.0, 2.0, INF], [0.0] * 13),
    "ceil": (XR, [NAN, -INF, -2.0, -1.0, -0.0, -0.0, -0.0, 0.0, 1.0, 1.0, 2.0, 3.0, INF], [0.0] * 13),
    # halves to even: -2.5 -> -2, -0.5 -> -0, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2
    "round": (XR, [NAN, -INF, -2.0, -2.0, -1.0, -0.0, -0.0, 0.0, 0.0, 1.0, 2.0, 2.0, INF], [0.0] * 13),
    "trunc": (XR, [NAN, -INF, -2.0, -1.0, -0.0, -0.0, -0.0, 0.0, 0.0, 0.0, 1.0, 2.0, INF], [0.0] * 13),
    "fix": (XR, [NAN, -INF, -2.0, -1.0, -0.0, -0.0, -0.0, 0.0, 0.0, 0.0, 1.0, 2.0, INF], [0.0] * 13),
    # x - trunc(x): NaN at +-inf, +0 at -0 (-0 - -0), the sign of x elsewhere; the gradient is 1
    "frac": (XR, [NAN, NAN, -0.5, -0.5, -0.7, -0.5, 0.0, 0.0, 0.5, 0.7, 0.5, 0.5, NAN], [1.0] * 13),
    "round_decimals": ([NAN, -INF, 1.005, 0.125, -0.125, -0.0, 2.675, 1e308, INF],
                       [NAN, -INF, 1.0, 0.12, -0.12, -0.0, 2.68, INF, INF], [0.0] * 9),   # (1e308 * 100
    #                                                                                    overflows)
    "round_negative_decimals": ([NAN, -INF, 25.0, 15.0, -25.0, -4.0, 1e308, INF],
                                [NAN, -INF, 20.0, 20.0, -20.0, -0.0, 1e308, INF], [0.0] * 8),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("create_graph", [False, True], ids=["c_vjp", "formula"])
@pytest.mark.parametrize("name", sorted(PINNED))
def test_special_points_pinned(name, create_graph, dtype):
    pts, want_y, want_g = PINNED[name]
    if dtype == "float32" and name.startswith("round_"):
        pytest.skip("the decimal points are float64 values (float32 rounds them first)")
    for level in simd_levels():
        with simd_level(level):
            y, g = _run(lambda t: OPS[name][0](tl, t), pts, getattr(tl, dtype), create_graph)
            _same(y, want_y)     # (rtol 1e-6, NaN where NaN, zeros' signs)
            _same(g, want_g)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc"])
def test_rounding_gradient_is_zero_even_for_nan_and_inf_output_gradients(name):
    # PyTorch's zeros_like(grad): not g * 0 (which would be NaN there)
    x = tl.tensor([NAN, INF, 0.5, -1.5], dtype=tl.float64, requires_grad=True)
    g = tl.tensor([NAN, INF, -INF, NAN], dtype=tl.float64)
    for cg in (False, True):
        (gx,) = tl.autograd.grad(OPS[name][0](tl, x), x, g, create_graph=cg)
        assert gx.tolist() == [0.0] * 4 and not np.signbit(gx.numpy()).any()
    (gx,) = tl.autograd.grad(tl.frac(x), x, g)       # frac passes g through, NaN included
    _same(gx.tolist(), [NAN, INF, -INF, NAN])


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_is_half_to_even(dtype):
    halves = np.arange(-10.5, 11.0, 1.0)
    got = tl.round(tl.tensor(halves, dtype=getattr(tl, dtype))).numpy()
    assert np.array_equal(got, np.rint(halves)) and (got % 2 == 0).all()
    # not half away from zero (C's round) nor half up (floor(x + 0.5))
    assert tl.round(tl.tensor([0.5, 1.5, 2.5, -0.5, -2.5])).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]
    # values past 2^52 (2^23 in float32) are integers already; 0.49999999999999994 gives 0, not
    # the 1 of floor(x + 0.5) (in float32 it is 0.5: 0 again, halves to even)
    big = 2.0 ** 52 + 1 if dtype == "float64" else 2.0 ** 23 + 1
    assert tl.round(tl.tensor([big, 0.49999999999999994], dtype=getattr(tl, dtype))).tolist() == [big, 0.0]


# ---- PyTorch as the oracle --------------------------------------------------------------------------

HUGE = {"float64": 1e308, "float32": 3e38}
POINTS = [NAN, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, 2.0, -2.0,
          INF, -INF, 1e30, -1e30, 100.0, -100.0, 4503599627370497.0, 8388609.0, 1e-310, -1e-310,
          1e-40, 3.0, -3.0, 0.7, -0.7, 1.005, 2.675, -0.125, 125.0, -15.0, 0.9999999, -0.9999999,
          1.0000001, 1.5707963267948966, 20.0, -20.0, 88.7, 88.73, -88.73, 89.0, -89.0, 709.7, 709.8,
          -709.8, 710.0, 711.0, 1e154, 1e155, 1e200, -1e200]


def check_points_against_torch(torch, fn, pts, dtype):
    """``fn`` (of (module, tensor)) at ``pts``: tl's value and both derivative paths equal
    torch's vectorised answers (NaN where NaN, infinities, zeros' signs)."""
    want_y, want_g = _torch_vec(torch, fn, pts, dtype)
    for cg in (False, True):
        got_y, got_g = _run(lambda t: fn(tl, t), pts, getattr(tl, dtype), cg)
        bad = ~(_close(got_y, want_y, dtype) & _close(got_g, want_g, dtype))
        assert not bad.any(), "\n".join(
            f"x={pts[i]} {'formula' if cg else 'backward'}: got {got_y[i]}, {got_g[i]}; "
            f"torch {want_y[i]}, {want_g[i]}" for i in np.flatnonzero(bad))


def check_random_against_torch(torch, fn, a, dtype, atol=1e-30):
    """``fn`` at the array ``a`` with a random output gradient: values and both derivative
    paths within rounding of torch's."""
    x = torch.tensor(a, requires_grad=True)
    y = fn(torch, x)
    g = np.random.default_rng(3).standard_normal(tuple(y.shape)).astype(dtype)
    (tg,) = torch.autograd.grad(y, x, torch.tensor(g))
    rtol = 1e-12 if dtype == "float64" else 2e-5
    for cg in (False, True):
        xt = tl.tensor(a, requires_grad=True)
        yt = fn(tl, xt)
        (gt,) = tl.autograd.grad(yt, xt, tl.tensor(g), create_graph=cg)
        np.testing.assert_allclose(yt.detach().numpy(), y.detach().numpy(), rtol=rtol, atol=atol)
        np.testing.assert_allclose(gt.detach().numpy(), tg.numpy(), rtol=rtol, atol=atol)


def check_second_derivatives_against_torch(torch, fn, pts, name, no_double_backward=()):
    """The derivative of the gradient's sum at ``pts`` (float64) equals torch's (0 where the
    gradient is constant; ``no_double_backward``: ops torch cannot differentiate twice, whose
    second derivative is 0)."""
    x = torch.tensor(pts, requires_grad=True)
    (g,) = torch.autograd.grad(fn(torch, x).sum(), x, create_graph=True)
    if name in no_double_backward:
        want = None
    else:
        want = torch.autograd.grad(g.sum(), x, allow_unused=True)[0] if g.requires_grad else None
    xt = tl.tensor(pts, dtype=tl.float64, requires_grad=True)
    (gt,) = tl.autograd.grad(fn(tl, xt).sum(), xt, create_graph=True)
    if not gt.requires_grad:   # a constant gradient (0, or frac's 1)
        assert want is None or not want.any(), name
        return
    (got,) = tl.autograd.grad(gt.sum(), xt, allow_unused=True)
    want = np.zeros_like(pts) if want is None else want.numpy()
    got = np.zeros_like(pts) if got is None else got.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_special_points_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    check_points_against_torch(torch, OPS[name][0], POINTS + [HUGE[dtype], -HUGE[dtype]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_random_values_and_gradients_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    check_random_against_torch(torch, OPS[name][0], _rand(name, (4, 6), seed=2).astype(dtype), dtype)


def test_second_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    for name in sorted(OPS):
        lo, hi = OPS[name][2]
        check_second_derivatives_against_torch(torch, OPS[name][0], np.linspace(lo, hi, 11) + 0.013, name)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("d", [0, 1, 2, 3, -1, -2, 5, 20, 39, 310, -310])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_decimals_matches_torch_bit_for_bit(d, dtype):
    torch = pytest.importorskip("torch")
    a = np.concatenate([np.random.default_rng(d % 7).uniform(-1000, 1000, 200),
                        [1.005, 2.675, 0.125, -0.125, 0.5, 1e300, -1e300, NAN, INF, -INF, -0.0, 0.0,
                         1e-300, 3e38, -3e38]])
    a = a.astype(dtype)
    with np.errstate(over="ignore"):
        got = tl.round(tl.tensor(a), decimals=d).numpy()
    want = torch.round(torch.tensor(a), decimals=d).numpy()
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


# ---- dtypes and errors ------------------------------------------------------------------------------

def test_integer_inputs_are_returned_unchanged_as_pytorch():
    i = tl.tensor([1, -2, 3, 2 ** 62])
    for f in (tl.floor, tl.ceil, tl.round, tl.trunc, tl.fix, tl.Tensor.floor, tl.Tensor.round):
        r = f(i)
        assert r.dtype is tl.int64 and r.tolist() == [1, -2, 3, 2 ** 62]
        assert r is not i and r.numpy().ctypes.data != i.numpy().ctypes.data   # a copy, as torch
    with tl.autocast("cpu", dtype=tl.bfloat16):
        assert tl.floor(i).dtype is tl.int64


def test_refused_dtypes_raise_typeerror():
    i, b = tl.tensor([1, 2]), tl.tensor([True, False])
    for name in ("floor", "ceil", "round", "trunc", "frac"):
        with pytest.raises(TypeError, match=f"{name}: .*bool"):
            getattr(tl, name)(b)
    with pytest.raises(TypeError, match="frac: .*floating-point.*int64"):
        tl.frac(i)
    with pytest.raises(TypeError, match="round: decimals= needs a floating-point tensor"):
        tl.round(i, decimals=1)
    with pytest.raises(TypeError, match="round: decimals= needs"):
        tl.round(i, decimals=0)      # (PyTorch refuses it too, unlike round(i))
    with pytest.raises(TypeError, match="decimals must be an int"):
        tl.round(tl.tensor([1.5]), decimals=1.5)
    for f in (tl.floor, tl.ceil, tl.round, tl.trunc, tl.frac):
        with pytest.raises(TypeError, match=f.__name__):
            f([1.5, 2.5])


def test_error_types_match_torch():
    torch = pytest.importorskip("torch")   # (tl: TypeError naming the dtype)
    with pytest.raises(NotImplementedError, match="Bool"):
        torch.floor(torch.tensor([True]))
    with pytest.raises(NotImplementedError, match="Long"):
        torch.frac(torch.tensor([1]))
    with pytest.raises(NotImplementedError, match="Long"):
        torch.round(torch.tensor([1]), decimals=1)
    with pytest.raises(NotImplementedError, match="Long"):
        torch.round(torch.tensor([1]), decimals=0)
    assert torch.round(torch.tensor([3])).tolist() == [3]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_inputs_compute_in_float32_and_round_once(dtype):
    a = np.linspace(-3.0, 3.0, 37)
    x = tl.tensor(a, dtype=getattr(tl, dtype))
    wide = x.float()
    for name in OPS:
        fn = OPS[name][0]
        got = fn(tl, x)
        assert got.dtype is getattr(tl, dtype), name
        assert np.array_equal(got.float().numpy(), fn(tl, wide).to(getattr(tl, dtype)).float().numpy(),
                              equal_nan=True), name
    xr = tl.tensor(a, dtype=getattr(tl, dtype), requires_grad=True)
    (tl.floor(xr) + tl.frac(xr)).sum().backward()
    assert xr.grad.dtype is getattr(tl, dtype) and xr.grad.float().tolist() == [1.0] * 37


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_inputs_match_torch(dtype):
    torch = pytest.importorskip("torch")
    a = np.concatenate([np.linspace(-5.0, 5.0, 81), [NAN, INF, -INF, -0.0, 1000.5, 0.125]])
    for name in OPS:
        fn = OPS[name][0]
        got = fn(tl, tl.tensor(a, dtype=getattr(tl, dtype))).float().numpy()
        want = fn(torch, torch.tensor(a, dtype=getattr(torch, dtype))).float().numpy()
        assert np.array_equal(got, want, equal_nan=True), name


def test_tensor_methods():
    x = tl.tensor([-1.5, 2.5, 0.25])
    assert x.floor().tolist() == [-2.0, 2.0, 0.0]
    assert x.ceil().tolist() == [-1.0, 3.0, 1.0]
    assert x.round().tolist() == [-2.0, 2.0, 0.0]
    assert x.round(decimals=1).tolist() == [-1.5, 2.5, np.float32(0.2)]
    assert x.trunc().tolist() == x.fix().tolist() == [-1.0, 2.0, 0.0]
    assert x.frac().tolist() == [-0.5, 0.5, 0.25]


# ---- in-place -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,call", [
    ("floor", lambda t: t.floor_()), ("ceil", lambda t: t.ceil_()), ("round", lambda t: t.round_()),
    ("round_decimals", lambda t: t.round_(decimals=2)), ("trunc", lambda t: t.trunc_()),
    ("fix", lambda t: t.fix_()), ("frac", lambda t: t.frac_()),
])
def test_inplace_tensor_methods(name, call):
    a = np.array([0.25, -0.5, 2.675, -3.5, 1.5])
    x1 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    want = OPS[name][0](tl, x1 * 2.0)
    (want * tl.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=tl.float64)).sum().backward()
    x2 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    h = x2 * 2.0
    assert call(h) is h and h.tolist() == want.tolist()
    (h * tl.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=tl.float64)).sum().backward()
    assert x2.grad.tolist() == x1.grad.tolist()
    with pytest.raises(RuntimeError, match="leaf"):
        call(tl.tensor(a, requires_grad=True))
    plain = tl.tensor(a)                                        # nothing recorded
    assert call(plain) is plain and plain.tolist() == OPS[name][0](tl, tl.tensor(a)).tolist()


def test_inplace_on_integers_follows_pytorch():
    for m in ("floor_", "ceil_", "round_", "trunc_", "fix_"):
        i = tl.tensor([3, -4])
        assert getattr(i, m)() is i and i.tolist() == [3, -4] and i.dtype is tl.int64
    with pytest.raises(TypeError, match="frac"):
        tl.tensor([3]).frac_()
    with pytest.raises(TypeError, match="round"):
        tl.tensor([3]).round_(decimals=1)
    with pytest.raises(TypeError, match="floor"):
        tl.tensor([True]).floor_()


def test_inplace_on_integers_oracle():
    torch = pytest.importorskip("torch")
    i = torch.tensor([3, -4])
    assert i.floor_() is i and i.tolist() == [3, -4]
    with pytest.raises(NotImplementedError):
        torch.tensor([3]).frac_()


def test_rounding_in_a_straight_through_estimator():
    # the common use: x + (round(x) - x).detach() passes the gradient straight through
    x = tl.tensor([0.4, 1.6, -2.5], dtype=tl.float64, requires_grad=True)
    q = x + (tl.round(x) - x).detach()
    (q * tl.tensor([1.0, 2.0, 3.0], dtype=tl.float64)).sum().backward()
    assert q.tolist() == [0.0, 2.0, -2.0] and x.grad.tolist() == [1.0, 2.0, 3.0]
    assert math.isclose(tl.frac(tl.tensor(-7.25, dtype=tl.float64)).item(), -0.25)


# ---- trig and hyperbolic: domain edges, pinned ----------------------------------------------------

XT = [NAN, -INF, -1.0, -0.0, 0.0, 1.0, INF]
PINNED_TRIG = {   # name -> (values at XT, gradient of the sum at XT), float64 (PyTorch 2.13's)
    "tan": ([NAN, NAN, -1.5574077246549023, -0.0, 0.0, 1.5574077246549023, NAN],
            [NAN, NAN, 3.425518820814759, 1.0, 1.0, 3.425518820814759, NAN]),
    # the edges: asin'(+-1) = +inf (rsqrt(0)), acos'(+-1) = -inf; NaN outside [-1, 1]
    "asin": ([NAN, NAN, -math.pi / 2, -0.0, 0.0, math.pi / 2, NAN], [NAN, NAN, INF, 1.0, 1.0, INF, NAN]),
    "acos": ([NAN, NAN, math.pi, math.pi / 2, math.pi / 2, 0.0, NAN], [NAN, NAN, -INF, -1.0, -1.0, -INF, NAN]),
    "atan": ([NAN, -math.pi / 2, -math.pi / 4, -0.0, 0.0, math.pi / 4, math.pi / 2],
             [NAN, 0.0, 0.5, 1.0, 1.0, 0.5, 0.0]),
    "sinh": ([NAN, -INF, -1.1752011936438014, -0.0, 0.0, 1.1752011936438014, INF],
             [NAN, INF, 1.5430806348152437, 1.0, 1.0, 1.5430806348152437, INF]),
    "cosh": ([NAN, INF, 1.5430806348152437, 1.0, 1.0, 1.5430806348152437, INF],
             [NAN, -INF, -1.1752011936438014, -0.0, 0.0, 1.1752011936438014, INF]),
    # asinh'(+-inf) = rsqrt(inf) = 0
    "asinh": ([NAN, -INF, -0.881373587019543, -0.0, 0.0, 0.881373587019543, INF],
              [NAN, 0.0, 0.7071067811865475, 1.0, 1.0, 0.7071067811865475, 0.0]),
    # acosh(1) = 0 with gradient +inf; NaN below 1 (rsqrt of a negative number)
    "acosh": ([NAN, NAN, NAN, NAN, NAN, 0.0, INF], [NAN, 0.0, INF, NAN, NAN, INF, 0.0]),
    # atanh(+-1) = +-inf with gradient +inf (1 / 0); NaN outside [-1, 1], gradient -0 at +-inf
    "atanh": ([NAN, NAN, -INF, -0.0, 0.0, INF, NAN], [NAN, -0.0, INF, 1.0, 1.0, INF, -0.0]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("create_graph", [False, True], ids=["c_vjp", "formula"])
@pytest.mark.parametrize("name", sorted(PINNED_TRIG))
def test_trig_special_points_pinned(name, create_graph, dtype):
    want_y, want_g = PINNED_TRIG[name]
    for level in simd_levels():
        with simd_level(level):
            y, g = _run(lambda t: OPS[name][0](tl, t), XT, getattr(tl, dtype), create_graph)
            _same(y, want_y)
            _same(g, want_g)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sinh_cosh_overflow_where_exp_does_as_pytorchs_vectorised_kernels(dtype):
    # libm's sinh(89.0f) is 2.2e38, finite; PyTorch's vectorised kernel (all but the scalar tail
    # of a tensor of 16 or more elements, 32 for float32 under AVX-512) gives inf once e^|x|
    # overflows, and so does tl, at any length
    edge = 88.72283172607422 if dtype == "float32" else 709.782712893384
    beyond = float(np.nextafter(np.array(edge, dtype), np.array(1e3, dtype)))
    x = tl.tensor([edge, beyond, -beyond, 89.0 if dtype == "float32" else 710.0],
                  dtype=getattr(tl, dtype), requires_grad=True)
    y = tl.sinh(x)
    y.sum().backward()
    assert np.isfinite(y.tolist()[0]) and y.tolist()[1:] == [INF, -INF, INF]
    assert np.isfinite(x.grad.tolist()[0]) and x.grad.tolist()[1:] == [INF, INF, INF]
    assert tl.cosh(x).tolist()[1:] == [INF, INF, INF] and np.isfinite(tl.cosh(x).tolist()[0])


def test_sinh_cosh_overflow_oracle():
    torch = pytest.importorskip("torch")
    for dt, x, lib in ((torch.float32, 89.0, 2.2448063889081578e+38), (torch.float64, 710.0, 1.1169973830808557e+308)):
        assert torch.sinh(torch.full((32,), x, dtype=dt))[0].item() == INF     # vectorised
        assert torch.sinh(torch.full((1,), x, dtype=dt))[0].item() == lib     # scalar loop


@pytest.mark.parametrize("dtype", DTYPES)
def test_inverse_functions_round_trip(dtype):
    a = np.linspace(-0.9, 0.9, 19)
    t = tl.tensor(a, dtype=getattr(tl, dtype))
    tol = 1e-12 if dtype == "float64" else 1e-6
    for f, g in ((tl.sin, tl.asin), (tl.tan, tl.atan), (tl.sinh, tl.asinh), (tl.tanh, tl.atanh)):
        np.testing.assert_allclose(g(f(t)).numpy(), a.astype(dtype), rtol=tol, atol=tol)
    np.testing.assert_allclose(tl.acos(tl.cos(t.abs())).numpy(), np.abs(a).astype(dtype), rtol=10 * tol, atol=10 * tol)
    np.testing.assert_allclose(tl.acosh(tl.cosh(t.abs() + 1.0)).numpy(), (np.abs(a) + 1).astype(dtype), rtol=tol)


def test_trig_dtype_rules():
    i, b = tl.tensor([0, 1, 2]), tl.tensor([True, False])
    for name in TRIG:
        f = getattr(tl, name)
        assert f(i).dtype is tl.float32 and f(b).dtype is tl.float32, name   # as PyTorch
        assert f(i.to(tl.float64)).dtype is tl.float64
        with pytest.raises(TypeError, match=name):
            f([0.5])
    for alias, name in (("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
                        ("arccosh", "acosh"), ("arctanh", "atanh"), ("arctan2", "atan2")):
        assert getattr(tl, alias) is getattr(tl, name)
        assert hasattr(tl.Tensor, alias)
    assert tl.square(i).dtype is tl.int64 and tl.square(i).tolist() == [0, 1, 4]
    assert tl.square(b).dtype is tl.int64 and tl.square(b).tolist() == [1, 0]
    assert tl.square(tl.tensor([-3.0, 0.5])).tolist() == [9.0, 0.25]


def test_trig_dtype_rules_oracle():
    torch = pytest.importorskip("torch")
    assert torch.asin(torch.tensor([0, 1])).dtype is torch.float32
    assert torch.square(torch.tensor([True, False])).tolist() == [1, 0]
    assert torch.square(torch.tensor([3])).dtype is torch.int64
    assert torch.atan2(torch.tensor([1]), torch.tensor([2])).dtype is torch.float32


# ---- binary ops: atan2 ----------------------------------------------------------------------------------

BINARY = {   # name -> (fn of (module, a, b), NumPy reference, domain of a, domain of b)
    "atan2": (lambda m, a, b: m.atan2(a, b), np.arctan2, (-3.0, 3.0), (-3.0, 3.0)),
    "atan2_method": (lambda m, a, b: a.atan2(b), np.arctan2, (-3.0, 3.0), (0.1, 3.0)),
    "logaddexp": (lambda m, a, b: m.logaddexp(a, b), np.logaddexp, (-5.0, 5.0), (-5.0, 5.0)),
    "hypot": (lambda m, a, b: m.hypot(a, b), np.hypot, (-3.0, 3.0), (-3.0, 3.0)),
    "lerp": (lambda m, a, b: m.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a), (-3.0, 3.0), (-3.0, 3.0)),
    "lerp_far": (lambda m, a, b: a.lerp(b, 0.8), lambda a, b: b - (b - a) * 0.2, (-3.0, 3.0), (-3.0, 3.0)),
    "lerp_tensor_weight": (lambda m, a, b: m.lerp(a, b.sin(), b), lambda a, b: a + b * (np.sin(b) - a),
                           (-3.0, 3.0), (-1.0, 1.0)),
    "addcmul": (lambda m, a, b: m.addcmul(a, b, a, value=0.5), lambda a, b: a + 0.5 * b * a,
                (-3.0, 3.0), (-3.0, 3.0)),
    "addcdiv": (lambda m, a, b: m.addcdiv(a, a, b, value=2.0), lambda a, b: a + 2 * a / b,
                (-3.0, 3.0), (0.5, 3.0)),
    "addcdiv_method": (lambda m, a, b: b.addcdiv(a, b), lambda a, b: b + a / b, (-3.0, 3.0), (0.5, 3.0)),
}
SPECIAL_AB = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 2.5, 1e-310, 1e200, -1e200]


def _binary_run(fn, a, b, dtype, create_graph):
    x = tl.tensor(a, dtype=dtype, requires_grad=True)
    y = tl.tensor(b, dtype=dtype, requires_grad=True)
    out = fn(tl, x, y)
    ga, gb = tl.autograd.grad(out.sum(), (x, y), create_graph=create_graph)
    return out.tolist(), ga.tolist(), gb.tolist()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_forward_matches_numpy_with_broadcasting(name, dtype):
    fn, ref, da, db = BINARY[name]
    rng = np.random.default_rng(len(name))
    a, b = rng.uniform(*da, (3, 1, 4)), rng.uniform(*db, (5, 1))
    got = fn(tl, tl.tensor(a, dtype=getattr(tl, dtype)), tl.tensor(b, dtype=getattr(tl, dtype)))
    assert got.shape == (3, 5, 4) and got.dtype is getattr(tl, dtype)
    want = ref(a.astype(dtype).astype(np.float64), b.astype(dtype).astype(np.float64))
    np.testing.assert_allclose(got.numpy(), want, rtol=FWD_TOL[dtype][0] * 4, atol=FWD_TOL[dtype][1])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck_and_gradgradcheck(name):
    fn, _, da, db = BINARY[name]
    rng = np.random.default_rng(1)
    a = tl.tensor(rng.uniform(*da, (3, 4)), dtype=tl.float64, requires_grad=True)
    b = tl.tensor(rng.uniform(*db, (4,)), dtype=tl.float64, requires_grad=True)
    assert tl.autograd.gradcheck(lambda x, y: fn(tl, x, y), (a, b))
    assert tl.autograd.gradgradcheck(lambda x, y: fn(tl, x, y), (a, b))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_special_points_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    fn = BINARY[name][0]
    a, b = (np.array(v).ravel() for v in np.meshgrid(SPECIAL_AB, SPECIAL_AB))
    ta = torch.tensor(np.repeat(a, VEC), dtype=getattr(torch, dtype), requires_grad=True)
    tb = torch.tensor(np.repeat(b, VEC), dtype=getattr(torch, dtype), requires_grad=True)
    out = fn(torch, ta, tb)
    wa, wb = torch.autograd.grad(out.sum(), (ta, tb))
    want = out.detach()[::VEC].tolist(), wa[::VEC].tolist(), wb[::VEC].tolist()
    for cg in (False, True):
        got = _binary_run(fn, a, b, getattr(tl, dtype), cg)
        bad = ~np.logical_and.reduce([_close(g, w, dtype) for g, w in zip(got, want)])
        assert not bad.any(), "\n".join(
            f"a={a[i]} b={b[i]} {'formula' if cg else 'backward'}: got {[v[i] for v in got]}, "
            f"torch {[v[i] for v in want]}" for i in np.flatnonzero(bad))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_random_values_and_gradients_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    fn, _, da, db = BINARY[name]
    rng = np.random.default_rng(5)
    a, b = rng.uniform(*da, (4, 6)).astype(dtype), rng.uniform(*db, (6,)).astype(dtype)
    g = rng.standard_normal((4, 6)).astype(dtype)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    want = fn(torch, ta, tb)
    wa, wb = torch.autograd.grad(want, (ta, tb), torch.tensor(g))
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for cg in (False, True):
        xa, xb = tl.tensor(a, requires_grad=True), tl.tensor(b, requires_grad=True)
        out = fn(tl, xa, xb)
        ga, gb = tl.autograd.grad(out, (xa, xb), tl.tensor(g), create_graph=cg)
        np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(ga.detach().numpy(), wa.numpy(), rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(gb.detach().numpy(), wb.numpy(), rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_binary_half_inputs(dtype):
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-3, 3, 37), rng.uniform(-3, 3, 37)
    for name in ("atan2", "logaddexp", "hypot"):    # (the C rows; the composites round per step)
        fn = BINARY[name][0]
        x, y = tl.tensor(a, dtype=getattr(tl, dtype)), tl.tensor(b, dtype=getattr(tl, dtype))
        got = fn(tl, x, y)
        assert got.dtype is getattr(tl, dtype), name
        assert got.float().tolist() == fn(tl, x.float(), y.float()).to(getattr(tl, dtype)).float().tolist()


def test_atan2_quadrants_and_names():
    y = tl.tensor([1.0, 1.0, -1.0, -1.0, 0.0, 0.0, -0.0, -0.0])
    x = tl.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    np.testing.assert_allclose(tl.atan2(y, x).tolist(), np.arctan2(y.numpy(), x.numpy()), rtol=1e-6)
    assert tl.atan2(tl.tensor([0.0, -0.0]), tl.tensor([-1.0, -1.0])).tolist() == \
        [np.float32(math.pi), -np.float32(math.pi)]          # the sign of the zero picks +-pi
    a = tl.tensor([1.0], requires_grad=True)
    assert tl.atan2(a, tl.tensor([2.0])).grad_fn.name() == "Atan2Backward"
    assert tl.atan2(tl.tensor([1, 2]), tl.tensor([3, 4])).dtype is tl.float32
    assert tl.atan2(tl.tensor([1.0]), 2.0).tolist() == [np.float32(math.atan2(1, 2))]  # (torch: Tensor only)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)|\(2,\).*\(3,\)"):
        tl.atan2(tl.ones(3), tl.ones(2))



# ---- logaddexp, hypot, lerp, addcmul, addcdiv, nan_to_num ----------------------------------------------

@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_logaddexp_and_hypot_do_not_overflow():
    big = tl.tensor([1000.0, -1000.0, INF, -INF, 1e308], dtype=tl.float64)
    assert tl.logaddexp(big, big).tolist() == [1000.0 + math.log(2), -1000.0 + math.log(2), INF, -INF,
                                               1e308]
    assert tl.hypot(tl.tensor([3e200, 1e-200]), tl.tensor([4e200, 1e-200])).tolist() == \
        [np.float32(INF), 0.0]                        # (float32: 3e200 is inf already)
    h = tl.hypot(tl.tensor([3e200, 1e-300], dtype=tl.float64), tl.tensor([4e200, 1e-300], dtype=tl.float64))
    np.testing.assert_allclose(h.tolist(), [5e200, math.sqrt(2) * 1e-300], rtol=1e-15)
    assert tl.logaddexp(tl.tensor([INF]), tl.tensor([-INF])).tolist() == [INF]
    assert math.isnan(tl.logaddexp(tl.tensor([NAN]), tl.tensor([INF])).item())


def test_binary_names_and_dtypes():
    a = tl.tensor([1.0, 2.0], requires_grad=True)
    assert tl.logaddexp(a, a).grad_fn.name() == "LogaddexpBackward"
    assert tl.hypot(a, a).grad_fn.name() == "HypotBackward"
    assert tl.lerp(a, a, 0.5).grad_fn.name() == "LerpBackward"
    assert tl.addcmul(a, a, a).grad_fn.name() == "AddcmulBackward"
    assert tl.addcdiv(a, a, a).grad_fn.name() == "AddcdivBackward"
    assert tl.nan_to_num(a).grad_fn.name() == "NanToNumBackward"
    i = tl.tensor([1, 2])
    assert tl.logaddexp(a.detach(), i).dtype is tl.float32     # one float operand promotes
    assert tl.hypot(i, a.detach().double()).dtype is tl.float64
    for f in (tl.logaddexp, tl.hypot):
        with pytest.raises(TypeError, match=f"{f.__name__}: needs a floating-point operand"):
            f(i, i)
    assert tl.addcmul(i, i, i, value=2).tolist() == [3, 10] and tl.addcmul(i, i, i).dtype is tl.int64
    assert tl.addcmul(tl.ones(2), i, i, value=0.5).tolist() == [1.5, 3.0]
    assert tl.addcmul(i, i, i, value=0.5).tolist() == [1, 2]    # (value cast to int: 0, as PyTorch)
    assert tl.addcmul(tl.ones(2, dtype=tl.float64), tl.ones(2), tl.ones(2)).dtype is tl.float64
    with pytest.raises(RuntimeError, match="integer division"):
        tl.addcdiv(tl.ones(2), i, i)
    with pytest.raises(TypeError, match="lerp: .*floating-point"):
        tl.lerp(i, i, 0.5)
    with pytest.raises(TypeError, match="lerp: .*floating-point"):
        tl.lerp(tl.ones(2), tl.zeros(2), tl.tensor([1, 0]))
    with pytest.raises(TypeError, match="weight must be a number"):
        tl.lerp(tl.ones(2), tl.zeros(2), "0.5")
    with pytest.raises(ValueError):
        tl.lerp(tl.ones(2), tl.zeros(3), 0.5)
    assert tl.lerp(tl.ones(2), tl.zeros(2, dtype=tl.float64), 0.5).dtype is tl.float64   # (torch: error)


def test_binary_dtypes_oracle():
    torch = pytest.importorskip("torch")
    i = torch.tensor([1, 2])
    with pytest.raises(NotImplementedError):
        torch.logaddexp(i, i)
    with pytest.raises(NotImplementedError):
        torch.lerp(i, i, 0.5)
    with pytest.raises(RuntimeError, match="Integer division"):
        torch.addcdiv(torch.ones(2), i, i)
    assert torch.addcmul(i, i, i, value=2).tolist() == [3, 10]
    assert torch.addcmul(i, i, i, value=0.5).tolist() == [1, 2]


def test_lerp_is_exact_at_both_ends_and_within_an_ulp_of_torch():
    # PyTorch's vectorised lerp fuses its multiply-add (one rounding); tl's composite rounds the
    # product first: the same formula and branch, the last bit (or a zero's sign) may differ
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for dt in ("float32", "float64"):
        a, b = rng.uniform(-1e3, 1e3, 256).astype(dt), rng.uniform(-1e3, 1e3, 256).astype(dt)
        w = np.concatenate([rng.uniform(-1.5, 1.5, 250), [0.0, 0.5, -0.5, 1.0, 0.4999999, 2.0]]).astype(dt)
        ulp = 2 * np.finfo(dt).eps * 1e3
        for weight in (0.0, 1.0, 0.3, 0.5, 0.7, -0.2, 1.7):
            got = tl.lerp(tl.tensor(a), tl.tensor(b), weight).numpy()
            want = torch.lerp(torch.tensor(a), torch.tensor(b), weight).numpy()
            np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dt).eps, atol=ulp)
            if weight in (0.0, 1.0):
                assert np.array_equal(got, a if weight == 0 else b)
        got = tl.lerp(tl.tensor(a), tl.tensor(b), tl.tensor(w)).numpy()
        want = torch.lerp(torch.tensor(a), torch.tensor(b), torch.tensor(w)).numpy()
        np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dt).eps, atol=ulp * 3)
    a, b = tl.tensor([1.0, -3.0]), tl.tensor([5.0, 7.0])
    assert tl.lerp(a, b, 1.0).tolist() == [5.0, 7.0] and tl.lerp(a, b, 0.0).tolist() == [1.0, -3.0]


LERP_SPECIAL = [NAN, INF, -INF, 0.0, -0.0, 1.0, -2.0, 0.5, 1e300]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["lerp", "addcmul", "addcdiv"])
def test_ternary_special_points_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    fns = {"lerp": lambda m, a, b, c: m.lerp(a, b, c), "addcmul": lambda m, a, b, c: m.addcmul(a, b, c, value=0.5),
           "addcdiv": lambda m, a, b, c: m.addcdiv(a, b, c, value=-2.0)}
    fn = fns[name]
    # (addcmul: PyTorch's vectorised kernel fuses its last multiply-add, so where value * t1 * t2
    # overflows but the sum with input would not round it, torch keeps the exact product: not
    # the overflow case here, documented in the README)
    sp = LERP_SPECIAL[:-1] if name == "addcmul" else LERP_SPECIAL
    grid = [np.array(v).ravel() for v in np.meshgrid(sp, sp, sp)]
    ts = [torch.tensor(np.repeat(v, VEC), dtype=getattr(torch, dtype), requires_grad=True) for v in grid]
    out = fn(torch, *ts)
    want = [out.detach()[::VEC].tolist()] + [g[::VEC].tolist() for g in torch.autograd.grad(out.sum(), ts)]
    for cg in (False, True):
        xs = [tl.tensor(v, dtype=getattr(tl, dtype), requires_grad=True) for v in grid]
        o = fn(tl, *xs)
        got = [o.tolist()] + [g.tolist() for g in tl.autograd.grad(o.sum(), xs, create_graph=cg)]
        if name == "lerp":   # (a zero value's sign may differ: PyTorch's fused multiply-add)
            got[0] = [abs(v) if v == 0 else v for v in got[0]]
            want[0] = [abs(v) if v == 0 else v for v in want[0]]
        bad = ~np.logical_and.reduce([_close(g, w, dtype) for g, w in zip(got, want)])
        assert not bad.any(), "\n".join(
            f"{[v[i] for v in grid]} {'formula' if cg else 'backward'}: got {[v[i] for v in got]}, "
            f"torch {[v[i] for v in want]}" for i in np.flatnonzero(bad)[:10])


def test_lerp_weight_tensor_gradcheck_with_broadcasting():
    rng = np.random.default_rng(4)
    a = tl.tensor(rng.uniform(-2, 2, (3, 1)), dtype=tl.float64, requires_grad=True)
    b = tl.tensor(rng.uniform(-2, 2, (4,)), dtype=tl.float64, requires_grad=True)
    w = tl.tensor(rng.uniform(-1, 1.5, (2, 3, 4)), dtype=tl.float64, requires_grad=True)
    assert tl.autograd.gradcheck(tl.lerp, (a, b, w))
    assert tl.autograd.gradgradcheck(tl.lerp, (a, b, w))
    assert tl.autograd.gradcheck(lambda x, y, z: tl.addcdiv(x, y, z.exp(), value=0.3), (a, b, w))
    assert tl.autograd.gradgradcheck(lambda x, y, z: tl.addcmul(x, y, z, value=-1.5), (a, b, w))


NTN_X = [NAN, INF, -INF, 0.0, -0.0, 1.5, -2.0, 1e300]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [(), (0.5,), (1.0, 7.0, -9.0), (NAN, INF, -INF), (0.0, 1e300, None)])
def test_nan_to_num_matches_torch(args, dtype):
    torch = pytest.importorskip("torch")
    pts = NTN_X
    want_y, want_g = _torch_vec(torch, lambda m, x: m.nan_to_num(x, *args), pts, dtype)
    for cg in (False, True):
        got_y, got_g = _run(lambda t: tl.nan_to_num(t, *args), pts, getattr(tl, dtype), cg)
        assert _close(got_y, want_y, dtype).all(), (got_y, want_y)
        assert _close(got_g, want_g, dtype).all(), (got_g, want_g)
    # a NaN output gradient stays NaN at a replaced element (g * isfinite(x): NaN * 0)
    x = tl.tensor(pts, dtype=getattr(tl, dtype), requires_grad=True)
    (g,) = tl.autograd.grad(tl.nan_to_num(x, *args), x, tl.full((len(pts),), NAN, dtype=getattr(tl, dtype)))
    assert np.isnan(g.numpy()).all()


def test_nan_to_num_defaults_and_dtypes():
    x = tl.tensor([NAN, INF, -INF, 2.0])
    assert tl.nan_to_num(x).tolist() == [0.0, 3.4028234663852886e38, -3.4028234663852886e38, 2.0]
    assert x.nan_to_num(nan=1.0, posinf=2.0).tolist()[:3] == [1.0, 2.0, -3.4028234663852886e38]
    assert tl.nan_to_num(x.double()).tolist()[1] == 1.7976931348623157e308
    assert tl.nan_to_num(x.half()).float().tolist() == [0.0, 65504.0, -65504.0, 2.0]
    assert tl.nan_to_num(x.bfloat16()).float().tolist()[1] == 3.3895313892515355e38
    assert tl.nan_to_num(x, posinf=1e300).tolist()[1] == INF     # rounded to float32, as PyTorch
    i = tl.tensor([1, 2])
    r = tl.nan_to_num(i)
    assert r.dtype is tl.int64 and r.tolist() == [1, 2] and r is not i
    assert tl.nan_to_num(tl.tensor([True])).tolist() == [True]
    with pytest.raises(TypeError, match="nan must be a number"):
        tl.nan_to_num(x, nan="0")


def test_nan_to_num_defaults_oracle():
    torch = pytest.importorskip("torch")
    x = torch.tensor([NAN, INF, -INF, 2.0])
    assert torch.nan_to_num(x).tolist() == [0.0, 3.4028234663852886e38, -3.4028234663852886e38, 2.0]
    assert torch.nan_to_num(x.half()).float().tolist() == [0.0, 65504.0, -65504.0, 2.0]
    assert torch.nan_to_num(x.bfloat16()).float().tolist()[1] == 3.3895313892515355e38
    assert torch.nan_to_num(x, posinf=1e300).tolist()[1] == INF


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_composites_take_half_inputs(dtype):
    a = tl.tensor([1.0, -2.0, 0.5], dtype=getattr(tl, dtype), requires_grad=True)
    b = tl.tensor([3.0, 4.0, -1.0], dtype=getattr(tl, dtype))
    for out in (tl.lerp(a, b, 0.25), tl.lerp(a, b, b.abs() / 8), tl.addcmul(a, a, b, value=2),
                tl.addcdiv(a, a, b), tl.nan_to_num(a), tl.logaddexp(a, b), tl.hypot(a, b)):
        assert out.dtype is getattr(tl, dtype)
        out.sum().backward()
        assert a.grad.dtype is getattr(tl, dtype)
        a.grad = None
    np.testing.assert_allclose(tl.lerp(a, b, 0.25).float().tolist(), [1.5, -0.5, 0.125], rtol=1e-2)
