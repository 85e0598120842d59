"""PyTorch's elementwise math ops that users type: rounding (floor, ceil, round with halves to
even and ``decimals=``, trunc / fix, frac), functions, Tensor methods and in-place ``_`` forms.

Each op's forward and C VJP are a row of csrc/elementwise.c; tests/test_ops.py's SPECS run them
through check_op (layouts, shape variants, gradcheck, gradgradcheck) and tests/test_derivatives.py
compares their C VJPs with their formulas. Here: forward against NumPy in float32 and float64,
PyTorch as the oracle for values and both derivatives (backward()'s C VJP and the create_graph
formula) at random and special points (0, -0, +-inf, NaN, halves, overflow, subnormals), the
special points pinned without torch too, dtype rules and errors, half inputs and the in-place
forms. The torch oracle runs every point as 16 copies, so torch answers with its vectorised
kernels (what it returns for any tensor of 16 or more elements), never its scalar tail loop.
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
}
GRAD_FN = {"floor": "FloorBackward", "ceil": "CeilBackward", "round": "RoundBackward",
           "round_decimals": "RoundBackward", "round_negative_decimals": "RoundBackward",
           "trunc": "TruncBackward", "fix": "TruncBackward", "frac": "FracBackward"}


def _rand(name, shape=(5, 7), seed=0):
    lo, hi = OPS[name][2]
    return np.random.default_rng([seed, len(name)]).uniform(lo, hi, shape)


def _torch_vec(torch, fn, pts, dtype, args=()):
    """torch's value of ``fn`` at ``pts`` and the gradient of its sum, each point computed as
    16 copies (torch's vectorised loop, not its scalar tail). ``args``: further inputs, NumPy
    arrays broadcast to pts, that get no gradient."""
    x = torch.tensor(np.repeat(np.asarray(pts, np.float64), 16), dtype=getattr(torch, dtype),
                     requires_grad=True)
    more = [torch.tensor(np.repeat(np.broadcast_to(np.asarray(a, np.float64), (len(pts),)), 16),
                         dtype=getattr(torch, dtype)) for a in args]
    y = fn(torch, x, *more)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach()[::16].tolist(), g[::16].tolist()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_matches_numpy(name, dtype):
    fn, ref, _ = OPS[name]
    a = _rand(name)
    got = fn(tl, tl.tensor(a, dtype=getattr(tl, dtype)))
    assert got.dtype is getattr(tl, dtype) and got.shape == a.shape
    want = ref(a.astype(dtype).astype(np.float64))
    rtol, atol = FWD_TOL[dtype]
    if name.startswith("round_") and dtype == "float32":   # (x * 100 rounds in float32 first)
        rtol, atol = 1e-6, 1e-6
    np.testing.assert_allclose(got.numpy().astype(np.float64), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_on_strided_views(name):
    fn, ref, _ = OPS[name]
    a = _rand(name, (6, 8))
    t = tl.tensor(a, dtype=tl.float64)
    np.testing.assert_allclose(fn(tl, t.T).numpy(), ref(a.T), rtol=1e-12)
    np.testing.assert_allclose(fn(tl, t[::2, 1::3]).numpy(), ref(a[::2, 1::3]), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck_and_gradgradcheck_float64(name):
    fn = OPS[name][0]
    x = tl.tensor(_rand(name, (3, 4), seed=1), dtype=tl.float64, requires_grad=True)
    assert tl.autograd.gradcheck(lambda t: fn(tl, t), (x,))
    assert tl.autograd.gradgradcheck(lambda t: fn(tl, t), (x,))


@pytest.mark.parametrize("op", ["Floor", "Ceil", "Trunc", "Round", "Frac"])
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
          1e-40, 3.0, -3.0, 0.7, -0.7, 1.005, 2.675, -0.125, 125.0, -15.0]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_special_points_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    fn = OPS[name][0]
    pts = POINTS + [HUGE[dtype], -HUGE[dtype]]
    want_y, want_g = _torch_vec(torch, fn, pts, dtype)
    for cg in (False, True):
        got_y, got_g = _run(lambda t: fn(tl, t), pts, getattr(tl, dtype), cg)
        bad = ~(_close(got_y, want_y, dtype) & _close(got_g, want_g, dtype))
        assert not bad.any(), "\n".join(
            f"x={pts[i]} {'formula' if cg else 'backward'}: got {got_y[i]}, {got_g[i]}; "
            f"torch {want_y[i]}, {want_g[i]}" for i in np.flatnonzero(bad))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_random_values_and_gradients_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    fn = OPS[name][0]
    a = _rand(name, (4, 6), seed=2).astype(dtype)
    g = np.random.default_rng(3).standard_normal(a.shape).astype(dtype)
    x = torch.tensor(a, requires_grad=True)
    y = fn(torch, x)
    (tg,) = torch.autograd.grad(y, x, torch.tensor(g))
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for cg in (False, True):
        xt = tl.tensor(a, requires_grad=True)
        yt = fn(tl, xt)
        (gt,) = tl.autograd.grad(yt, xt, tl.tensor(g), create_graph=cg)
        np.testing.assert_allclose(yt.detach().numpy(), y.detach().numpy(), rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(gt.detach().numpy(), tg.numpy(), rtol=rtol, atol=1e-30)


def test_second_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    for name in sorted(OPS):
        lo, hi = OPS[name][2]
        pts = np.linspace(lo, hi, 11) + 0.013
        x = torch.tensor(pts, requires_grad=True)
        (g,) = torch.autograd.grad(OPS[name][0](torch, x).sum(), x, create_graph=True)
        want = torch.autograd.grad(g.sum(), x, allow_unused=True)[0] if g.requires_grad else None
        xt = tl.tensor(pts, dtype=tl.float64, requires_grad=True)
        (gt,) = tl.autograd.grad(OPS[name][0](tl, xt).sum(), xt, create_graph=True)
        if not gt.requires_grad:   # a constant gradient (0, or frac's 1)
            assert want is None or not want.any(), name
            continue
        (got,) = tl.autograd.grad(gt.sum(), xt, allow_unused=True)
        want = np.zeros_like(pts) if want is None else want.numpy()
        got = np.zeros_like(pts) if got is None else got.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=name)


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
        assert got.float().tolist() == fn(tl, wide).to(getattr(tl, dtype)).float().tolist(), name
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
