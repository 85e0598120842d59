"""Accuracy of the float32 activations silu, softplus, elu/selu, logsigmoid and mish: the vector
code of csrc/vmath.h (contiguous loops, forward and backward: 16 AVX-512 lanes at SIMD level 2,
else 8 AVX2+FMA lanes, the same bits, tests/test_vmath_avx512.py) and the portable/strided
loops of the rows in csrc/elementwise.c, in float32 ulps against float64 references (the harness
of tests/test_vmath.py: every binade incl. denormals, runs of consecutive floats at each
threshold, the special values).

Bound: 4 ulp on the vector path, over the whole float32 range. Measured maxima here (>= 1e6
inputs per op and parameter set), forward / backward: silu 1.96 / 3.02, softplus 1.84 / 2.82
(beta 0.5: 1.72 / 2.94, beta 2: 1.79 / 2.80, beta 3: 2.62 / 2.77), elu 0.87 / 0.93 (alpha 0.3:
1.46 / 1.53), selu 1.60 / 1.52, logsigmoid 1.81 / 2.71, mish 1.59 / 2.29. Derivatives that
change sign (silu' at x = -1.28, mish' at x = -1.19) are measured in ulps of their larger term,
|s| + |x s (1 - s)| and |t| + |x s (1 - t^2)| (as gelu's in test_vmath.py).

The portable rows are PyTorch's expressions with libm (x / (1 + exp(-x)) and so on), not held
to 4 ulp everywhere: below x = -87 PyTorch's silu and mish give -0 where the true value is a
denormal (the vector code rounds x e^x once and keeps it), so they are checked on x >= -87
there; their backward loses bits to 1 - s (silu' 16.1 ulp near x = 16.6, mish' 9.7 near x = 9),
and softplus with a beta that is not a power of 2 to the rounding of x * beta inside exp (64
ulp at beta = 3): PORTABLE below holds those measured errors.
Special values (NaN, +-inf, +-0, the thresholds) give the same answers on both paths.
"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab._lib import NULL, ffi, lib

from .test_vmath import SPECIAL, _worst, binades, needs_avx2, run, simd, ulp_error  # noqa: F401

BOUND = 4.0
F32 = np.float32
SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)

# name -> (op code, p0, p1): the row's scalars as the Python ops pass them
CASES = {
    "silu": (lib.TL_SILU, 0.0, 0.0),
    "softplus": (lib.TL_SOFTPLUS, 1.0, 20.0),
    "softplus_beta2_thr3": (lib.TL_SOFTPLUS, 2.0, 3.0),
    "softplus_beta0.5": (lib.TL_SOFTPLUS, 0.5, 20.0),
    "softplus_beta3": (lib.TL_SOFTPLUS, 3.0, 20.0),
    "elu": (lib.TL_ELU, 1.0, 1.0),
    "elu_alpha0.3": (lib.TL_ELU, 0.3, 1.0),
    "selu": (lib.TL_ELU, SELU[0], SELU[1]),
    "logsigmoid": (lib.TL_LOG_SIGMOID, 0.0, 0.0),
    "mish": (lib.TL_MISH, 0.0, 0.0),
}
RUNS = {   # thresholds: where a branch or a clamp switches, where exp under/overflows
    "silu": [0.0, -80.0, -87.34, -88.72, -103.97, -120.0, -128.0, 128.0, 16.6, -1.278],
    "softplus": [0.0, 20.0, -87.34, -103.97, -120.0, 16.6, 89.0],
    "elu": [0.0, -0.34657, -30.0, -16.6, -87.34, -103.97, -120.0],
    "logsigmoid": [0.0, 87.34, 103.97, 120.0, -16.6, 16.6],
    "mish": [0.0, -80.0, -87.34, -103.97, -120.0, 30.0, 44.0, 9.0, -1.19, 128.0, -128.0],
}


def _family(name):
    return name.split("_")[0] if not name.startswith("selu") else "elu"


def inputs(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    fam = _family(name)
    p0 = CASES[name][1]
    runs = list(RUNS[fam])
    if fam == "softplus":
        runs += [CASES[name][2] / p0, -87.34 / p0]          # the threshold in x, e^z underflow
    x = binades(rng, 7)                                    # |x| < 256: every finite-result range
    huge = np.array([1e30, -1e30, 3e38, -3e38, 1e10, -1e10], F32)
    return np.concatenate([x, huge, SPECIAL] + [run(c) for c in runs]).astype(F32)


def _sig64(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def reference(name, x):
    """(forward, backward with g = 1, scale of the backward's ulps) in float64. The kernel's
    float32 scalars and its float32 branch tests are reproduced; the rest is exact."""
    _, p0, p1 = CASES[name]
    a, b = float(F32(p0)), float(F32(p1))
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        fam = _family(name)
        if fam == "silu":
            s = _sig64(x)
            y, d = x * s, s + x * s * _sig64(-x)
            return y, d, s + np.abs(x * s * _sig64(-x))
        if fam == "softplus":
            z32 = (x.astype(F32) * F32(a)).astype(np.float64)  # the row's branch: x * beta > threshold
            y = np.where(z32 > b, x, np.logaddexp(0.0, x * a) / a)
            d = np.where(z32 > b, 1.0, _sig64(x * a))
            return y, d, d
        if fam == "elu":
            c = float(F32(F32(a) * F32(b)))                  # alpha * scale as the row rounds it
            y = np.where(x > 0, x * b, np.expm1(x) * c)
            d = np.where(x > 0, b, c * np.exp(x))
            return y, d, d
        if fam == "logsigmoid":
            return -np.logaddexp(0.0, -x), _sig64(-x), _sig64(-x)
        # mish
        t = np.tanh(np.logaddexp(0.0, x))
        s = _sig64(x)
        return x * t, t + x * s * (1 - t * t), np.abs(t) + np.abs(x * s * (1 - t * t))


def forward(name, x):
    op, p0, p1 = CASES[name]
    y = np.empty_like(x)
    shape = ffi.new("int64_t[]", [x.size])
    assert lib.tl_unary_forward(op, lib.TL_F32, ffi.from_buffer("char[]", y), NULL,
                                ffi.from_buffer("char[]", x), NULL, 1, shape, p0, p1) == 0
    return y


def backward(name, g, x):
    op, p0, p1 = CASES[name]
    gx = np.empty_like(g)
    shape = ffi.new("int64_t[]", [g.size])
    pg, px, po = (ffi.from_buffer("char[]", a) for a in (g, x, gx))
    assert lib.tl_unary_backward(op, lib.TL_F32, po, pg, NULL, px, NULL, pg, NULL, 1, shape, p0, p1) == 0
    return gx


# (name, "fwd"/"bwd") -> the portable rows' bound where it is above BOUND (see the module doc)
PORTABLE = {("silu", "bwd"): 20.0, ("mish", "bwd"): 12.0, ("softplus_beta3", "fwd"): 80.0,
            ("softplus_beta3", "bwd"): 80.0}


def _bound(name, kind, level):
    return BOUND if level > 0 else PORTABLE.get((name, kind), BOUND)


def _levels(simd):
    return sorted({0, simd}, reverse=True)             # vector path first, then portable


def _portable_domain(name, x, level):
    """The inputs a path is held to the bound on: all of them on the vector path, x >= -87 on
    the portable one (PyTorch's silu and mish flush to -0 below, see the module doc)."""
    if level > 0 or _family(name) not in ("silu", "mish"):
        return np.ones(x.shape, bool)
    return ~(x < -87.0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_accuracy(name, simd):
    x = inputs(name)
    assert x.size >= 1e6
    ref = reference(name, x)[0]
    for level in _levels(simd):
        assert lib.tl_set_simd_level(level) == 0
        keep = _portable_domain(name, x, level)
        err = ulp_error(forward(name, x), ref)[keep]
        assert err.max() <= _bound(name, "fwd", level), f"{name} (simd level {level}): {_worst(err, x[keep])}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_accuracy(name, simd):
    """gx = g f'(x) for g in [0.5, 2]; finite x (at +-inf see test_special_values_agree)."""
    x = inputs(name)
    x = x[np.isfinite(x)]
    g = np.random.default_rng(3).uniform(0.5, 2.0, x.size).astype(F32)
    _, d, scale = reference(name, x)
    g64 = g.astype(np.float64)
    for level in _levels(simd):
        assert lib.tl_set_simd_level(level) == 0
        keep = _portable_domain(name, x, level)
        err = ulp_error(backward(name, g, x), g64 * d, g64 * scale)[keep]
        assert err.max() <= _bound(name, "bwd", level), f"{name} backward (simd level {level}): {_worst(err, x[keep])}"


SPECIAL_X = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 20.0, 20.000002,
                      19.999998, 3.0, 1.5, 1.5000001, 44.0, 30.0, -30.0, 88.8, -88.0, 128.0,
                      -128.0, 1e30, -1e30, 3e38, -3e38, 2.0 ** -149, -(2.0 ** -149), 1e-30,
                      -1e-30, 0.5, -0.5], F32)


def _same_answers(a, b):
    """Bit-for-bit on NaN, infinities and zeros (with their sign), within BOUND ulps elsewhere."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert (np.isnan(a) == np.isnan(b)).all()
    special = np.isinf(a) | np.isinf(b) | (a == 0) | (b == 0)
    special &= ~np.isnan(a)
    np.testing.assert_array_equal(a[special], b[special])
    assert (np.signbit(a[special]) == np.signbit(b[special])).all()
    rest = ~special & ~np.isnan(a)
    assert (ulp_error(a64[rest], b64[rest]) <= max(PORTABLE.values()) + BOUND).all()


@needs_avx2
@pytest.mark.parametrize("name", sorted(CASES))
def test_special_values_agree_with_the_portable_rows(name, simd):
    # NaN propagates, +-inf, +-0 and the thresholds (softplus's x beta > threshold, elu's x > 0)
    # give what the scalar rows (PyTorch's expressions) give; the output gradient g includes 0,
    # inf and NaN as well
    x = np.repeat(SPECIAL_X, 4)
    g = np.tile(np.array([1.0, 0.0, np.inf, np.nan], F32), SPECIAL_X.size)
    out = {}
    for level in _levels(simd):
        assert lib.tl_set_simd_level(level) == 0
        out[level] = forward(name, x), backward(name, g, x)
    (yv, gv), (yp, gp) = out[simd], out[0]
    _same_answers(yv, yp)
    _same_answers(gv, gp)


def test_special_values_pinned():
    f32 = tl.float32

    def f(fn, vals):
        return fn(tl.tensor(np.array(vals, F32), dtype=f32)).numpy()

    nan, inf = np.nan, np.inf
    y = f(F.silu, [nan, inf, -inf, 0.0, -0.0, -1e30, -100.0])
    np.testing.assert_array_equal(y[:6], [nan, inf, nan, 0.0, -0.0, -0.0])
    assert np.signbit(y[4]) and np.signbit(y[5]) and -1e-41 < y[6] <= 0
    np.testing.assert_array_equal(f(F.softplus, [nan, inf, -inf, 25.0, 1e30, -200.0]),
                                  [nan, inf, 0.0, 25.0, F32(1e30), 0.0])
    y = f(F.elu, [nan, inf, -inf, 0.0, -0.0, -50.0])
    np.testing.assert_array_equal(y, [nan, inf, -1.0, 0.0, -0.0, -1.0])
    assert np.signbit(y[4])
    y = f(F.logsigmoid, [nan, inf, -inf, 1e4, -1e4])
    np.testing.assert_array_equal(y, [nan, 0.0, -inf, 0.0, -1e4])
    assert not np.signbit(y[1])
    y = f(F.mish, [nan, inf, -inf, 0.0, -0.0, -1e30, 50.0])
    np.testing.assert_array_equal(y, [nan, inf, nan, 0.0, -0.0, -0.0, 50.0])
    assert np.signbit(y[4]) and np.signbit(y[5])


@pytest.mark.parametrize("name", sorted(CASES))
def test_result_does_not_depend_on_position_or_threads(name, simd):
    rng = np.random.default_rng(5)
    x = rng.uniform(-6, 6, 200_003).astype(F32)
    x[rng.integers(0, x.size, 300)] = rng.choice(SPECIAL_X, 300)
    x[rng.integers(0, x.size, 300)] = rng.uniform(-130, 130, 300)
    g = rng.uniform(-2, 2, x.size).astype(F32)
    full, gfull = forward(name, x), backward(name, g, x)
    for k in range(1, 9):
        sl = slice(k, k + 1000 + k)
        np.testing.assert_array_equal(forward(name, x[sl].copy()), full[sl])
        np.testing.assert_array_equal(backward(name, g[sl].copy(), x[sl].copy()), gfull[sl])
        for j in range(k, k + 12):
            np.testing.assert_array_equal(forward(name, x[j:j + 1].copy()), full[j:j + 1])
    tl.set_num_threads(1)
    np.testing.assert_array_equal(forward(name, x), full)
    np.testing.assert_array_equal(backward(name, g, x), gfull)


@pytest.mark.parametrize("name", ["silu", "softplus", "elu", "logsigmoid", "mish"])
def test_autograd_uses_the_kernels(name):
    # the Python ops pass their scalars (beta and threshold, alpha and scale) to these kernels:
    # F.<op> and its backward give the kernel's bits
    x = np.random.default_rng(1).uniform(-8, 8, 10_001).astype(F32)
    g = np.random.default_rng(2).uniform(-2, 2, 10_001).astype(F32)
    t = tl.from_numpy(x.copy()).requires_grad_()
    y = getattr(F, name)(t)
    np.testing.assert_array_equal(y.detach().numpy(), forward(name, x))
    y.backward(tl.from_numpy(g))
    np.testing.assert_array_equal(t.grad.numpy(), backward(name, g, x))


def test_selu_and_softplus_parameters_reach_the_vector_code():
    x = np.random.default_rng(4).uniform(-4, 4, 4099).astype(F32)
    np.testing.assert_array_equal(F.selu(tl.from_numpy(x)).numpy(), forward("selu", x))
    np.testing.assert_array_equal(F.elu(tl.from_numpy(x), alpha=0.3).numpy(), forward("elu_alpha0.3", x))
    np.testing.assert_array_equal(F.softplus(tl.from_numpy(x), beta=2.0, threshold=3.0).numpy(),
                                  forward("softplus_beta2_thr3", x))
