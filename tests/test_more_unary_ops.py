"""PyTorch's common unary ops and activations that users type: reciprocal, rsqrt, log1p, expm1,
sign (functions and Tensor methods), F.silu, softplus, elu, selu, hardtanh, logsigmoid, mish,
softsign and their nn modules.

Each op's forward and C VJP are a row of csrc/elementwise.c; tests/test_ops.py's SPECS run them
through check_op (layouts, shape variants, gradcheck, gradgradcheck) and tests/test_derivatives.py
compares their C VJPs with their formulas. Here: forward against NumPy in float32 and float64,
PyTorch as the oracle for values and both derivatives (backward()'s C VJP and the create_graph
formula) at random and special points (0, -0, +-inf, NaN, overflow, subnormals, the bounds and
thresholds), the special points pinned without torch too, accuracy of log1p/expm1 near 0, dtype
rules and errors, half inputs, in-place arguments, and the modules' reprs.
"""
import math

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
import tinygrad_lab.nn.functional as F

from .test_derivatives import check_derivatives
from .test_ieee import _close, _run, _same   # (value, both derivative paths; NaN- and -0-aware)

NAN, INF = float("nan"), float("inf")
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _tm(m):
    """The functional namespace of tinygrad_lab or torch."""
    return F if m is tl else m.nn.functional


# name -> (fn of (module, tensor), NumPy reference, input domain (low, high))
OPS = {
    "reciprocal": (lambda m, x: m.reciprocal(x), lambda x: 1 / x, (0.3, 3.0)),
    "reciprocal_neg": (lambda m, x: x.reciprocal(), lambda x: 1 / x, (-3.0, -0.3)),
    "rsqrt": (lambda m, x: m.rsqrt(x), lambda x: 1 / np.sqrt(x), (0.1, 4.0)),
    "log1p": (lambda m, x: m.log1p(x), np.log1p, (-0.9, 3.0)),
    "expm1": (lambda m, x: m.expm1(x), np.expm1, (-3.0, 3.0)),
    "sign": (lambda m, x: m.sign(x), np.sign, (-2.0, 2.0)),
    "silu": (lambda m, x: _tm(m).silu(x), lambda x: x / (1 + np.exp(-x)), (-6.0, 6.0)),
    "softplus": (lambda m, x: _tm(m).softplus(x), lambda x: np.logaddexp(0, x), (-6.0, 6.0)),
    "softplus_beta": (lambda m, x: _tm(m).softplus(x, beta=2.0, threshold=3.0),
                      lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2), (-3.0, 3.0)),
    "softplus_low_beta": (lambda m, x: _tm(m).softplus(x, 0.5, 20),
                          lambda x: np.log1p(np.exp(0.5 * x)) / 0.5, (-6.0, 6.0)),
    "elu": (lambda m, x: _tm(m).elu(x), lambda x: np.where(x > 0, x, np.expm1(x)), (-3.0, 3.0)),
    "elu_alpha": (lambda m, x: _tm(m).elu(x, alpha=0.3),
                  lambda x: np.where(x > 0, x, 0.3 * np.expm1(x)), (-3.0, 3.0)),
    "selu": (lambda m, x: _tm(m).selu(x),
             lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), (-3.0, 3.0)),
    "hardtanh": (lambda m, x: _tm(m).hardtanh(x), lambda x: np.clip(x, -1, 1), (-2.0, 2.0)),
    "hardtanh_bounds": (lambda m, x: _tm(m).hardtanh(x, -0.5, 2.0), lambda x: np.clip(x, -0.5, 2),
                        (-3.0, 3.0)),
    "logsigmoid": (lambda m, x: _tm(m).logsigmoid(x), lambda x: -np.logaddexp(0, -x), (-8.0, 8.0)),
    "mish": (lambda m, x: _tm(m).mish(x), lambda x: x * np.tanh(np.logaddexp(0, x)), (-6.0, 6.0)),
    "softsign": (lambda m, x: _tm(m).softsign(x), lambda x: x / (1 + np.abs(x)), (-4.0, 4.0)),
}
DTYPES = ["float64", "float32"]
FWD_TOL = {"float64": (1e-12, 1e-14), "float32": (2e-6, 1e-7)}


def _rand(name, shape=(5, 7), seed=0):
    lo, hi = OPS[name][2]
    return np.random.default_rng([seed, len(name)]).uniform(lo, hi, shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_matches_numpy(name, dtype):
    fn, ref, _ = OPS[name]
    a = _rand(name)
    got = fn(tl, tl.tensor(a, dtype=getattr(tl, dtype)))
    assert got.dtype is getattr(tl, dtype) and got.shape == a.shape
    want = ref(a.astype(dtype).astype(np.float64))
    rtol, atol = FWD_TOL[dtype]
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


@pytest.mark.parametrize("op", ["Reciprocal", "Rsqrt", "Log1p", "Expm1", "Sign", "Silu", "Softplus",
                                "Elu", "Hardtanh", "LogSigmoid", "Mish", "Softsign"])
def test_c_vjp_agrees_with_the_formula(op):
    check_derivatives(op)   # ordinary points, and 0, -0, ties, the bounds, +-inf, NaN


def test_grad_fn_names_are_pytorchs():
    x = tl.tensor([0.5, 1.5], requires_grad=True)
    names = {"reciprocal": "ReciprocalBackward", "rsqrt": "RsqrtBackward", "log1p": "Log1pBackward",
             "expm1": "Expm1Backward", "sign": "SignBackward", "silu": "SiluBackward",
             "softplus": "SoftplusBackward", "elu": "EluBackward", "selu": "EluBackward",
             "hardtanh": "HardtanhBackward", "logsigmoid": "LogSigmoidBackward",
             "mish": "MishBackward", "softsign": "SoftsignBackward"}
    for name, node in names.items():
        assert OPS[name][0](tl, x).grad_fn.name() == node, name


def test_ops_save_their_input_not_their_output():
    # an op saving its own output makes a reference cycle out -> node -> out
    x = tl.tensor([0.5, 1.5], requires_grad=True)
    for name in OPS:
        y = OPS[name][0](tl, x)
        saved = y.grad_fn._saved or ()
        assert all(s is not y for s in saved), name


# ---- accuracy near 0 ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_log1p_and_expm1_are_accurate_for_tiny_x(dtype):
    xs = np.array([1e-10, -1e-10, 1e-20, -3e-15, 1e-300 if dtype == "float64" else 1e-38, 0.0, -0.0],
                  dtype=dtype)
    t = tl.tensor(xs, dtype=getattr(tl, dtype))
    rtol = 1e-15 if dtype == "float64" else 1e-7
    np.testing.assert_allclose(tl.log1p(t).numpy(), np.log1p(xs), rtol=rtol, atol=0)
    np.testing.assert_allclose(tl.expm1(t).numpy(), np.expm1(xs), rtol=rtol, atol=0)
    # log(1 + x) and exp(x) - 1 lose these completely: 1 + 1e-20 rounds to 1
    assert tl.log1p(t).numpy()[2] == xs[2] and (tl.log(t + 1.0).numpy()[2] == 0)
    assert np.signbit(tl.log1p(t).numpy()[6]) and np.signbit(tl.expm1(t).numpy()[6])   # -0 stays -0
    # and the ops built on them: elu near 0, softplus far left
    np.testing.assert_allclose(F.elu(t).numpy(), np.where(xs > 0, xs, np.expm1(xs)), rtol=rtol, atol=0)


# ---- special points pinned (PyTorch 2.13's answers) -----------------------------------------------

X = [NAN, -INF, -1.0, -0.0, 0.0, 1.0, INF]
PINNED = {   # name -> (values at X, gradient of the sum at X), float64
    "sign": ([0.0, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0], [0.0] * 7),
    "reciprocal": ([NAN, -0.0, -1.0, -INF, INF, 1.0, 0.0], [NAN, -0.0, -1.0, -INF, -INF, -1.0, -0.0]),
    "rsqrt": ([NAN, NAN, NAN, -INF, INF, 1.0, 0.0], [NAN, NAN, NAN, INF, -INF, -0.5, -0.0]),
    "log1p": ([NAN, NAN, -INF, -0.0, 0.0, math.log(2), INF], [NAN, -0.0, INF, 1.0, 1.0, 0.5, 0.0]),
    "expm1": ([NAN, -1.0, math.expm1(-1), -0.0, 0.0, math.expm1(1), INF],
              [NAN, 0.0, math.exp(-1), 1.0, 1.0, math.e, INF]),
    "silu": ([NAN, NAN, -0.2689414213699951, -0.0, 0.0, 0.7310585786300049, INF],
             [NAN, NAN, 0.07232948812851325, 0.5, 0.5, 0.9276705118714869, NAN]),
    "softplus": ([NAN, 0.0, 0.31326168751822286, math.log(2), math.log(2), 1.3132616875182228, INF],
                 [NAN, 0.0, 0.2689414213699951, 0.5, 0.5, 0.7310585786300049, 1.0]),
    # NaN: PyTorch's vectorised kernels (any tensor of 16 or more elements) give a NaN gradient
    # for elu/selu and 0 for hardtanh; its scalar loop (short tensors and tails) gives g there
    "elu": ([NAN, -1.0, math.expm1(-1), -0.0, 0.0, 1.0, INF], [NAN, 0.0, math.exp(-1), 1.0, 1.0, 1.0, 1.0]),
    "selu": ([NAN, -SELU_ALPHA * SELU_SCALE, SELU_ALPHA * SELU_SCALE * math.expm1(-1), -0.0, 0.0,
              SELU_SCALE, INF],
             [NAN, 0.0, SELU_ALPHA * SELU_SCALE * math.exp(-1), SELU_ALPHA * SELU_SCALE,
              SELU_ALPHA * SELU_SCALE, SELU_SCALE, SELU_SCALE]),
    # 0 gradient at the bounds themselves (x <= min or x >= max) and at NaN
    "hardtanh": ([NAN, -1.0, -1.0, -0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]),
    "logsigmoid": ([NAN, -INF, -1.3132616875182228, -math.log(2), -math.log(2), -0.31326168751822286, 0.0],
                   [NAN, 1.0, 0.7310585786300049, 0.5, 0.5, 0.2689414213699951, 0.0]),
    "mish": ([NAN, NAN, -0.30340146137410895, -0.0, 0.0, 0.8650983882673103, INF],
             [NAN, NAN, 0.059216755877395014, 0.6, 0.6, 1.0490362200997922, NAN]),
    # PyTorch's softsign is x / (|x| + 1): inf / inf = NaN at +-inf, and its gradient too
    "softsign": ([NAN, NAN, -0.5, -0.0, 0.0, 0.5, NAN], [NAN, NAN, 0.25, 1.0, 1.0, 0.25, NAN]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("create_graph", [False, True], ids=["c_vjp", "formula"])
@pytest.mark.parametrize("name", sorted(PINNED))
def test_special_points_pinned(name, create_graph, dtype):
    y, g = _run(lambda t: OPS[name][0](tl, t), X, getattr(tl, dtype), create_graph)
    want_y, want_g = PINNED[name]
    _same(y, want_y)     # (rtol 1e-6, NaN where NaN, zeros' signs)
    _same(g, want_g)


def test_hardtanh_gradient_at_its_bounds_and_softplus_at_its_threshold():
    x = tl.tensor([-2.0, -0.5, -0.49, 1.99, 2.0, 2.5], dtype=tl.float64, requires_grad=True)
    F.hardtanh(x, -0.5, 2.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    # softplus is x itself once beta * x > threshold (strictly), the smooth form at it
    x = tl.tensor([1.5, 1.5000001, 10.0], dtype=tl.float64, requires_grad=True)
    y = F.softplus(x, beta=2, threshold=3)
    assert y.tolist()[1:] == [1.5000001, 10.0]
    np.testing.assert_allclose(y.tolist()[0], math.log1p(math.exp(3)) / 2, rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), [math.exp(3) / (1 + math.exp(3)), 1.0, 1.0], rtol=1e-15)
    # the default threshold 20: far right it is exactly x, no overflow of exp
    big = tl.tensor([25.0, 1e4, 1e30], dtype=tl.float32)
    assert F.softplus(big).tolist() == [25.0, 1e4, np.float32(1e30)]
    assert F.logsigmoid(tl.tensor([-1e4, 1e4])).tolist() == [-1e4, 0.0]


def test_elu_and_selu_at_zero_take_the_left_branch():
    # x <= 0 is the exponential side: the derivative at 0 is alpha (times scale), as PyTorch
    for x0 in (0.0, -0.0):
        x = tl.tensor([x0], dtype=tl.float64, requires_grad=True)
        F.elu(x, alpha=0.25).sum().backward()
        assert x.grad.tolist() == [0.25]
        x.grad = None
        F.selu(x).sum().backward()
        np.testing.assert_allclose(x.grad.tolist(), [SELU_ALPHA * SELU_SCALE], rtol=1e-15)


def test_reciprocal_and_rsqrt_of_zero_are_infinite():
    z = tl.tensor([0.0, -0.0])
    assert tl.reciprocal(z).tolist() == [INF, -INF]
    assert tl.rsqrt(z).tolist() == [INF, -INF]
    assert np.isnan(tl.rsqrt(tl.tensor([-1.0])).item())


def test_nan_inputs_give_nan_values_and_gradients():
    # (except sign, whose value is 0 and gradient 0 at NaN, and hardtanh, whose gradient is 0
    # there: PyTorch's kernels, pinned above)
    for name in ("reciprocal", "rsqrt", "log1p", "expm1", "silu", "softplus", "elu", "selu",
                 "logsigmoid", "mish", "softsign"):
        for dt in (tl.float32, tl.float64):
            x = tl.tensor([NAN, 0.5], dtype=dt, requires_grad=True)
            y = OPS[name][0](tl, x)
            y.sum().backward()
            assert math.isnan(y.tolist()[0]) and math.isnan(x.grad.tolist()[0]), name
            assert not math.isnan(y.tolist()[1]) and not math.isnan(x.grad.tolist()[1]), name
    x = tl.tensor([NAN, 0.5], requires_grad=True)
    y = F.hardtanh(x)
    y.sum().backward()
    assert math.isnan(y.tolist()[0]) and x.grad.tolist() == [0.0, 1.0]


# ---- PyTorch as the oracle --------------------------------------------------------------------------

HUGE = {"float64": 1e308, "float32": 3e38}
POINTS = [NAN, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1.5, INF, -INF, 1e30, -1e30, 100.0,
          -100.0, 800.0, -800.0, 20.0, -20.0, 20.0001, 19.9999, 88.8, -88.8, 710.0, -710.0, 5.0,
          -5.0, 1e-10, -1e-10, 1e-310, -1e-310, 1e-40, 3.0, -3.0]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_special_points_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    fn = OPS[name][0]
    pts = POINTS + [HUGE[dtype], -HUGE[dtype]]
    x = torch.tensor(pts, dtype=getattr(torch, dtype), requires_grad=True)
    y = fn(torch, x)
    (tg,) = torch.autograd.grad(y.sum(), x)
    want_y, want_g = y.tolist(), tg.tolist()
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
    a = np.linspace(-2.45, 2.55, 11)   # (off the kinks: PyTorch's elu double backward at 0 is
    #                                    the right branch's 0, its first derivative the left's)
    for name in sorted(OPS):
        lo, hi = OPS[name][2]
        pts = np.clip(a, lo, hi) if lo > 0 or hi < 0 else a
        x = torch.tensor(pts, requires_grad=True)
        (g,) = torch.autograd.grad(OPS[name][0](torch, x).sum(), x, create_graph=True)
        want = torch.autograd.grad(g.sum(), x, allow_unused=True)[0] if g.requires_grad else None
        xt = tl.tensor(pts, dtype=tl.float64, requires_grad=True)
        (gt,) = tl.autograd.grad(OPS[name][0](tl, xt).sum(), xt, create_graph=True)
        if not gt.requires_grad:   # sign: its gradient is a constant 0
            assert want is None or not want.any(), name
            continue
        (got,) = tl.autograd.grad(gt.sum(), xt)
        want = np.zeros_like(pts) if want is None else want.numpy()
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-12, err_msg=name)


# ---- dtypes and errors ------------------------------------------------------------------------------

def test_integer_and_bool_inputs_follow_pytorch():
    i = tl.tensor([1, -2, 0])
    for f in (tl.reciprocal, tl.rsqrt, tl.log1p, tl.expm1):      # promoted to the default float
        assert f(i).dtype is tl.float32
        assert f(tl.tensor([True, False])).dtype is tl.float32
    assert tl.reciprocal(i).tolist() == [1.0, -0.5, INF]
    assert tl.sign(i).dtype is tl.int64 and tl.sign(i).tolist() == [1, -1, 0]
    assert tl.sign(tl.tensor([-(2 ** 62), 2 ** 62])).tolist() == [-1, 1]
    b = tl.tensor([True, False])
    assert tl.sign(b).dtype is tl.bool and tl.sign(b).tolist() == [True, False]
    h = F.hardtanh(tl.tensor([-5, 0, 7]))                      # integer hardtanh stays integer
    assert h.dtype is tl.int64 and h.tolist() == [-1, 0, 1]
    s = F.softsign(i)                                          # a composite in PyTorch: promotes
    assert s.dtype is tl.float32 and np.allclose(s.tolist(), [0.5, -2 / 3, 0.0])
    with tl.autocast("cpu", dtype=tl.bfloat16):                # (unchanged under autocast)
        assert tl.sign(i).dtype is tl.int64


def test_integer_and_bool_inputs_pytorch_refuses_raise_typeerror():
    for name, f in [("silu", F.silu), ("softplus", F.softplus), ("elu", F.elu), ("selu", F.selu),
                    ("logsigmoid", F.logsigmoid), ("mish", F.mish)]:
        for t, dt in ((tl.tensor([1, 2]), "int64"), (tl.tensor([True]), "bool")):
            with pytest.raises(TypeError, match=f"{name}: .*floating-point.*{dt}"):
                f(t)
    with pytest.raises(TypeError, match="hardtanh: bool"):
        F.hardtanh(tl.tensor([True]))
    with pytest.raises(TypeError, match="softsign: .*bool"):
        F.softsign(tl.tensor([True]))


def test_bad_arguments_raise():
    x = tl.tensor([1.0])
    for f in (tl.reciprocal, tl.rsqrt, tl.log1p, tl.expm1, tl.sign, F.silu, F.softplus, F.elu,
              F.selu, F.hardtanh, F.logsigmoid, F.mish, F.softsign):
        with pytest.raises(TypeError, match=f.__name__):
            f([1.0, 2.0])
    with pytest.raises(TypeError, match="softplus: beta must be a number"):
        F.softplus(x, beta="2")
    with pytest.raises(TypeError, match="elu: alpha must be a number"):
        F.elu(x, alpha=None)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    assert F.hardtanh(x, 0.5, 0.5).tolist() == [0.5]          # equal bounds are allowed


def test_error_types_match_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.nn.functional.hardtanh(torch.ones(1), 2.0, 1.0)
    with pytest.raises(AssertionError):
        torch.nn.Hardtanh(2.0, 1.0)
    with pytest.raises(NotImplementedError, match="Long"):    # tl: TypeError naming the dtype
        torch.nn.functional.silu(torch.tensor([1, 2]))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_inputs_compute_in_float32_and_round_once(dtype):
    a = np.linspace(-3.0, 3.0, 37)
    x = tl.tensor(a, dtype=getattr(tl, dtype))
    wide = x.float()
    for name in ("silu", "softplus", "elu", "selu", "hardtanh", "logsigmoid", "mish", "softsign",
                 "expm1", "sign"):
        fn = OPS[name][0]
        got = fn(tl, x)
        assert got.dtype is getattr(tl, dtype), name
        assert got.float().tolist() == fn(tl, wide).to(getattr(tl, dtype)).float().tolist(), name
    # and backward through a half op
    xr = tl.tensor(a, dtype=getattr(tl, dtype), requires_grad=True)
    F.silu(xr).sum().backward()
    assert xr.grad.dtype is getattr(tl, dtype)
    np.testing.assert_allclose(xr.grad.float().numpy(), _silu_grad(xr.detach().float().numpy()),
                               rtol=1e-2, atol=1e-2)


def _silu_grad(x):
    s = 1 / (1 + np.exp(-x))
    return s * (1 + x * (1 - s))


def test_tensor_methods():
    x = tl.tensor([0.25, 4.0])
    assert x.reciprocal().tolist() == [4.0, 0.25]
    assert x.rsqrt().tolist() == [2.0, 0.5]
    assert x.sign().tolist() == [1.0, 1.0]
    np.testing.assert_allclose(x.log1p().tolist(), np.log1p([0.25, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(x.expm1().tolist(), np.expm1([0.25, 4.0]), rtol=1e-6)


# ---- in-place arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,call", [
    ("silu", lambda t, ip: F.silu(t, inplace=ip)),
    ("elu", lambda t, ip: F.elu(t, 0.5, inplace=ip)),
    ("selu", lambda t, ip: F.selu(t, inplace=ip)),
    ("hardtanh", lambda t, ip: F.hardtanh(t, -0.5, 0.5, inplace=ip)),
    ("mish", lambda t, ip: F.mish(t, inplace=ip)),
    ("elu_", lambda t, ip: F.elu_(t, 0.5) if ip else F.elu(t, 0.5)),
    ("hardtanh_", lambda t, ip: F.hardtanh_(t, -0.5, 0.5) if ip else F.hardtanh(t, -0.5, 0.5)),
])
def test_inplace_overwrites_and_keeps_the_gradient(name, call):
    a = np.linspace(-1.5, 1.5, 7)
    x1 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    want = call(x1 * 2.0, False)
    want.sum().backward()
    x2 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    h = x2 * 2.0
    out = call(h, True)
    assert out is h and h.tolist() == want.tolist()
    h.sum().backward()
    assert x2.grad.tolist() == x1.grad.tolist()
    leaf = tl.tensor(a, requires_grad=True)                     # a leaf that requires grad
    with pytest.raises(RuntimeError, match="leaf"):
        call(leaf, True)
    plain = tl.tensor(a)                                        # nothing recorded
    assert call(plain, True) is plain and plain.tolist() == call(tl.tensor(a), False).tolist()


# ---- nn modules -----------------------------------------------------------------------------------------

MODULES = [   # (module, its repr as PyTorch prints it, the functional form)
    (lambda: nn.SiLU(), "SiLU()", F.silu),
    (lambda: nn.SiLU(inplace=True), "SiLU(inplace=True)", F.silu),
    (lambda: nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)", F.softplus),
    (lambda: nn.Softplus(2, 10), "Softplus(beta=2, threshold=10)", lambda x: F.softplus(x, 2, 10)),
    (lambda: nn.ELU(), "ELU(alpha=1.0)", F.elu),
    (lambda: nn.ELU(0.5, True), "ELU(alpha=0.5, inplace=True)", lambda x: F.elu(x, 0.5)),
    (lambda: nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)", F.hardtanh),
    (lambda: nn.Hardtanh(-2, 3, True), "Hardtanh(min_val=-2, max_val=3, inplace=True)",
     lambda x: F.hardtanh(x, -2, 3)),
    (lambda: nn.LogSigmoid(), "LogSigmoid()", F.logsigmoid),
    (lambda: nn.Mish(), "Mish()", F.mish),
    (lambda: nn.Mish(True), "Mish(inplace=True)", F.mish),
    (lambda: nn.SELU(), "SELU()", F.selu),
    (lambda: nn.SELU(inplace=True), "SELU(inplace=True)", F.selu),
    (lambda: nn.Softsign(), "Softsign()", F.softsign),
]


@pytest.mark.parametrize("make,text,fn", MODULES, ids=[m[1] for m in MODULES])
def test_modules(make, text, fn):
    m = make()
    assert repr(m) == text
    assert list(m.parameters()) == [] and m.state_dict() == {}
    a = np.linspace(-4.0, 4.0, 9)
    x = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    h = x * 1.0
    y = m(h)
    assert y.tolist() == fn(tl.tensor(a, dtype=tl.float64)).tolist()
    y.sum().backward()
    assert x.grad is not None
    if "inplace=True" in text:
        assert y is h


@pytest.mark.parametrize("make,text,fn", MODULES, ids=[m[1] for m in MODULES])
def test_module_reprs_match_torch(make, text, fn):
    torch = pytest.importorskip("torch")
    assert repr(eval("torch.nn." + text)) == text   # noqa: S307  (our fixed strings)


def test_hardtanh_module_refuses_min_above_max():
    with pytest.raises(AssertionError, match="max_val"):
        nn.Hardtanh(1.0, -1.0)


def test_modules_in_a_sequential_train():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.SiLU(), nn.Linear(8, 8), nn.ELU(), nn.Linear(8, 8),
                          nn.Mish(), nn.Linear(8, 8), nn.Softplus(), nn.Linear(8, 1))
    x = tl.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = tl.tensor([[0.0], [1.0], [1.0], [0.0]])
    opt = tl.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first


# ---- in-place Tensor methods ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["reciprocal", "rsqrt", "log1p", "expm1", "sign"])
def test_inplace_tensor_methods(name):
    a = np.array([0.25, 0.5, 2.0, 3.0])
    x1 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    want = getattr(x1 * 2.0, name)()
    want.sum().backward()
    x2 = tl.tensor(a, dtype=tl.float64, requires_grad=True)
    h = x2 * 2.0
    assert getattr(h, name + "_")() is h and h.tolist() == want.tolist()
    h.sum().backward()
    assert x2.grad.tolist() == x1.grad.tolist()
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(tl.tensor(a, requires_grad=True), name + "_")()
    i = tl.tensor([1, -2, 0])
    if name == "sign":
        assert i.sign_() is i and i.tolist() == [1, -1, 0] and i.dtype is tl.int64
    else:
        with pytest.raises(RuntimeError, match=f"{name}_: result type Float"):
            getattr(i, name + "_")()


def test_inplace_int_error_type_matches_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="result type Float"):
        torch.tensor([1, 2]).reciprocal_()
