"""Accuracy of the float32 transcendentals: the vector code of csrc/vmath.h (contiguous loops: 16
AVX-512 lanes on a CPU with AVX-512, SIMD level 2, else 8 AVX2+FMA lanes; the two give the same
bits, tests/test_vmath_avx512.py) and the portable/strided libm loops, in float32 ulps against
float64 references. The vector path measured is the detected level's.

The documented bound is 4 ulp for exp, log, tanh, sigmoid, erf and gelu (x Phi(x)); vmath.h lists
the measured maxima (about 1-2.5 ulp). An ulp is measured in float32 at the reference value
(2^-149 below the normal range), so results in the denormals are held to an absolute 2^-149
scale, and a reference beyond the float32 range must come out as the same infinity.
Inputs: every binade of the function's range with uniform random bit patterns (denormals
included), runs of consecutive floats at each threshold, and the special values.
"""
import math
import os

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import NULL, ffi, lib

BOUND = 4.0        # ulp: the documented error bound of every function here
SWEEP = 1_050_000  # random inputs per function, spread evenly over its binades
F32 = np.float32


def _cpu_has_avx2_fma():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return None  # unknown: trust the library's own detection
    return " avx2" in flags and " fma" in flags


AVX2 = _cpu_has_avx2_fma()
needs_avx2 = pytest.mark.skipif(AVX2 is False, reason="this CPU has no AVX2+FMA")


@pytest.fixture
def simd():
    """Restores the SIMD level (and thread count) a test changes."""
    level, threads = lib.tl_simd_level(), tl.get_num_threads()
    yield level
    assert lib.tl_set_simd_level(level) == 0
    tl.set_num_threads(threads)


# ---- inputs --------------------------------------------------------------------------------------

def _bits(u):
    return np.asarray(u, np.uint32).view(F32)


def binades(rng, max_exp, signs=(1, -1)):
    """SWEEP floats, uniformly random bit patterns in every binade from the denormals up to
    [2^max_exp, 2^(max_exp+1)), the same number in each binade and sign."""
    top = 127 + max_exp
    per = -(-SWEEP // ((top + 1) * len(signs)))
    e = np.repeat(np.arange(0, top + 1, dtype=np.uint32), per)
    u = (e << 23) | rng.integers(0, 1 << 23, e.size, dtype=np.uint32)
    x = _bits(u)
    return np.concatenate([s * x for s in signs]).astype(F32)


def run(center, n=4000):
    """n consecutive float32 values around `center`."""
    c = np.int64(np.array(abs(center), F32).view(np.int32))
    u = np.clip(c + np.arange(-n // 2, n // 2), 0, None)
    return np.copysign(_bits(u), F32(center) if center else F32(1))


SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, np.finfo(F32).max, -np.finfo(F32).max,
                    np.finfo(F32).tiny, -np.finfo(F32).tiny, 2.0 ** -149, -(2.0 ** -149)], F32)


def inputs(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    if name == "exp":
        x = binades(rng, 6)                                      # |x| < 128: all of exp's range
        runs = [88.72284, -87.33655, -103.97208, 86.0, -86.0, 0.0, 0.34657, -0.34657]
    elif name == "log":
        x = binades(rng, 127, signs=(1,))                     # every positive float
        runs = [1.0, 2.0 ** -126, 2.0 ** -140, 0.70710677, 1.4142135, 2.0]
    elif name == "tanh":
        x = binades(rng, 5)
        runs = [0.0, 0.34657, 0.625, 9.01, -9.01, 4.5]
    elif name == "sigmoid":
        x = binades(rng, 7)
        runs = [0.0, -86.0, -88.7, -103.3, 16.6, 17.33]
    elif name == "erf":
        x = binades(rng, 3)
        runs = [0.0, 0.5, -0.5, 3.92, -3.92]
    else:  # gelu
        x = binades(rng, 4)
        runs = [0.0, -13.19, -14.2, -15.5, 5.5, -5.0, -0.75]
    extra = [run(c) for c in runs]
    return np.concatenate([x] + extra + [SPECIAL]).astype(F32)


# ---- float64 references --------------------------------------------------------------------------

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _gelu64(x):
    return 0.5 * x * _erfc(-x * math.sqrt(0.5)).astype(np.float64)


REF = {
    "exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": _sigmoid64,
    "erf": lambda x: _erf(x).astype(np.float64), "gelu": _gelu64,
}
TL = {"exp": tl.exp, "log": tl.log, "tanh": tl.tanh, "sigmoid": tl.sigmoid, "erf": tl.erf, "gelu": tl.gelu}


def reference(name, x):
    with np.errstate(all="ignore"):
        return REF[name](x.astype(np.float64))


def ulp_error(y, ref, scale=None):
    """|y - ref| in float32 ulps at |scale| (default: at ref); 0 where both are the same special
    value, inf where they disagree (NaN vs number, or a wrong infinity)."""
    y = np.asarray(y, np.float64)
    scale = np.abs(ref if scale is None else scale)
    with np.errstate(all="ignore"):
        ref32 = ref.astype(F32).astype(np.float64)                # beyond float32 range: inf
        e = np.frexp(scale)[1]
        ulp = np.where(scale < 2.0 ** -126, 2.0 ** -149, np.ldexp(1.0, e - 24))
        err = np.abs(y - ref) / ulp
    special = np.isnan(ref) | np.isinf(ref32) | np.isnan(y) | np.isinf(y)
    same = (np.isnan(ref) & np.isnan(y)) | (ref32 == y)
    return np.where(special, np.where(same, 0.0, np.inf), err)


def _worst(err, x):
    i = int(np.argmax(err))
    return f"max {err[i]:.3f} ulp at x = {float(x[i])!r}"


# ---- forward accuracy -----------------------------------------------------------------------------

@needs_avx2
def test_avx2_path_is_in_use():
    assert lib.tl_simd_level() >= 1      # 2: the 16-lane AVX-512 loops (and GEMM), else 8-lane AVX2


@pytest.mark.parametrize("name", list(REF))
def test_forward_accuracy(name, simd):
    x = inputs(name)
    assert x.size >= 1e6
    ref = reference(name, x)
    for level in sorted({0, simd}, reverse=True):          # vector path first, then portable
        assert lib.tl_set_simd_level(level) == 0
        y = TL[name](tl.from_numpy(x)).numpy()
        err = ulp_error(y, ref)
        assert err.max() <= BOUND, f"{name} (simd level {level}): {_worst(err, x)}"


@pytest.mark.parametrize("name", list(REF))
def test_strided_input_uses_libm_within_bound(name):
    x = inputs(name)[::7].copy()
    big = np.zeros((x.size, 3), F32)
    big[:, 1] = x
    t = tl.from_numpy(big)[:, 1]
    assert not t.is_contiguous()
    err = ulp_error(TL[name](t).numpy(), reference(name, x))
    assert err.max() <= BOUND, f"{name} strided: {_worst(err, x)}"


def test_special_values():
    inf, nan = np.inf, np.nan

    def f(name, vals):
        return TL[name](tl.tensor(np.array(vals, F32))).numpy()

    np.testing.assert_array_equal(f("exp", [nan, inf, -inf, 0.0, -0.0, 89.0, -104.0, 88.72283]),
                                  [nan, inf, 0.0, 1.0, 1.0, inf, 0.0, np.float32(np.exp(np.float64(F32(88.72283))))])
    assert 0 < f("exp", [-103.0])[0] < 2.0 ** -126                    # gradual underflow
    np.testing.assert_array_equal(f("log", [-1.0, -0.0, 0.0, inf, nan, -inf, 1.0]),
                                  [nan, -inf, -inf, inf, nan, nan, 0.0])
    assert f("log", [2.0 ** -149])[0] == np.float32(-149 * math.log(2))
    y = f("tanh", [0.0, -0.0, inf, -inf, nan, 20.0, -1e30, 1e-30])
    np.testing.assert_array_equal(y, [0.0, -0.0, 1.0, -1.0, nan, 1.0, -1.0, F32(1e-30)])
    assert np.signbit(y[1]) and not np.signbit(y[0])
    np.testing.assert_array_equal(f("sigmoid", [0.0, inf, -inf, nan, 100.0, -1e30]), [0.5, 1.0, 0.0, nan, 1.0, 0.0])
    assert f("sigmoid", [-100.0])[0] == np.float32(_sigmoid64(np.float64(-100.0)))   # denormal result
    y = f("erf", [0.0, -0.0, inf, -inf, nan, 4.0, -4.0])
    np.testing.assert_array_equal(y, [0.0, -0.0, 1.0, -1.0, nan, 1.0, -1.0])
    assert np.signbit(y[1])
    # gelu: x Phi(x); gelu(-inf) = -inf * 0 = NaN as the formula gives, on every path
    y = f("gelu", [0.0, inf, -inf, nan, -20.0, 20.0])
    np.testing.assert_array_equal(y, [0.0, inf, nan, nan, -0.0, 20.0])
    np.testing.assert_allclose(f("gelu", [-5.0, -10.0]), _gelu64(np.array([-5.0, -10.0])), rtol=3e-7)


# ---- layout independence: tails, offsets, threads -------------------------------------------------

@pytest.mark.parametrize("name", list(REF))
def test_result_does_not_depend_on_position_or_threads(name, simd):
    rng = np.random.default_rng(5)
    x = rng.uniform(-6, 6, 200_003).astype(F32)
    x[rng.integers(0, x.size, 300)] = rng.choice(SPECIAL, 300)     # lanes that take slow paths
    x[rng.integers(0, x.size, 300)] = rng.uniform(-120, 120, 300)
    if name == "log":
        x = np.abs(x)
    full = TL[name](tl.from_numpy(x)).numpy().copy()
    for k in range(1, 9):                      # other alignments and tail lengths
        part = TL[name](tl.from_numpy(x[k:k + 1000 + k].copy())).numpy()
        np.testing.assert_array_equal(part, full[k:k + 1000 + k])
        for j in range(k, k + 20):              # one element alone: a tail of length 1
            np.testing.assert_array_equal(TL[name](tl.from_numpy(x[j:j + 1].copy())).numpy(), full[j:j + 1])
    tl.set_num_threads(1)
    np.testing.assert_array_equal(TL[name](tl.from_numpy(x)).numpy(), full)


# ---- backward kernels that need a transcendental --------------------------------------------------

def _phi64(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _vjp(op, g, x):
    gx = np.empty_like(g)
    shape = ffi.new("int64_t[]", [g.size])
    pg, px, po = (ffi.from_buffer("char[]", a) for a in (g, x, gx))
    assert lib.tl_unary_backward(op, lib.TL_F32, po, pg, NULL, px, NULL, pg, NULL, 1, shape, 0.0, 0.0) == 0
    return gx


@pytest.mark.parametrize("name", ["gelu", "erf"])
def test_backward_accuracy(name, simd):
    """gx = g f'(x). gelu'(x) = Phi(x) + x phi(x) changes sign near x = -0.75, so its error is
    measured in ulps of the larger term, |g| (|Phi| + |x phi|), the scale of the rounding in the
    expression itself; erf'(x) = 2/sqrt(pi) e^{-x^2} in ulps of itself."""
    x = inputs(name)
    x = x[np.isfinite(x)]
    g = np.random.default_rng(3).uniform(0.5, 2.0, x.size).astype(F32)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    if name == "gelu":
        phi = _phi64(x64)
        big = 0.5 * _erfc(-x64 * math.sqrt(0.5)).astype(np.float64)
        ref, scale = g64 * (big + x64 * phi), g64 * (np.abs(big) + np.abs(x64 * phi))
        op = lib.TL_GELU
    else:
        ref = g64 * (2 / math.sqrt(math.pi)) * np.exp(-x64 * x64)
        scale, op = ref, lib.TL_ERF
    for level in sorted({0, simd}, reverse=True):
        assert lib.tl_set_simd_level(level) == 0
        err = ulp_error(_vjp(op, g, x), ref, scale)
        assert err.max() <= BOUND, f"{name} backward (simd level {level}): {_worst(err, x)}"


def test_gelu_backward_through_autograd_matches_kernel():
    x = np.random.default_rng(1).uniform(-8, 8, 10_001).astype(F32)
    g = np.random.default_rng(2).uniform(-2, 2, 10_001).astype(F32)
    t = tl.from_numpy(x.copy()).requires_grad_()
    tl.gelu(t).backward(tl.from_numpy(g))
    np.testing.assert_array_equal(t.grad.numpy(), _vjp(lib.TL_GELU, g, x))
