"""Half matmul operands packed directly (issue 16, csrc/matmul.c): tl_matmul_forward takes
float16 / bfloat16 A, B and C, widens the operands while packing the float32 panels, accumulates
in float32 and rounds C to the half type (nearest even). The result is bit-for-bit the float32
GEMM of the widened operands (same strides, so the same path and summation order) rounded --
what converting first and multiplying in float32 gave -- at every SIMD level, on 1 and 2 threads,
for edge tiles, K blocks, transposed, strided, broadcast and batched operands; and tl.matmul /
@ / bmm on half tensors run that kernel, with gradients equal to the float32 route's."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import NULL, lib
from tinygrad_lab.kernels import ffi

from .helpers import simd_level, threads

DETECTED = lib.tl_simd_level()
LEVELS = [pytest.param(lv, id=f"level{lv}",
                       marks=pytest.mark.skipif(lv > DETECTED, reason="this CPU lacks that SIMD level"))
          for lv in (0, 1, 2)]
HALVES = ["float16", "bfloat16"]


def widen(bits, dt):
    """uint16 bit patterns -> float32 values, exactly (NumPy's float16; bfloat16 shifted up)."""
    if dt == "float16":
        return bits.view(np.float16).astype(np.float32)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def round_half(x, dt):
    """float32 -> uint16 bits, round to nearest even (finite values)."""
    if dt == "float16":
        return x.astype(np.float16).view(np.uint16)
    u = x.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def half_bits(rng, shape, dt):
    return round_half(rng.standard_normal(shape).astype(np.float32), dt)


def code(dt):
    return lib.TL_F16 if dt == "float16" else lib.TL_BF16


def strides_of(view, batch):
    """Element strides of `view` as [batch..., rows, cols] (0 for broadcast batch dims)."""
    st = [s // view.itemsize for s in view.strides]
    lead = len(batch) - (view.ndim - 2)
    return [0 if i < lead or view.shape[i - lead] == 1 else st[i - lead] for i in range(len(batch))] + st[-2:]


def run(dtcode, a_base, a_view, b_base, b_view, batch, m, n, k, out_dtype):
    """tl_matmul_forward on views into contiguous base arrays (their strides, their offsets)."""
    c = np.empty(tuple(batch) + (m, n), out_dtype)
    def ptr(base, view):
        off = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0])
        return ffi.cast("char *", ffi.from_buffer(base)) + off
    st_a = ffi.new("int64_t[]", strides_of(a_view, batch))
    st_b = ffi.new("int64_t[]", strides_of(b_view, batch))
    bs = ffi.new("int64_t[]", list(batch) or [1])
    rc = lib.tl_matmul_forward(dtcode, ffi.from_buffer(c), ptr(a_base, a_view), st_a,
                               ptr(b_base, b_view), st_b, len(batch), bs if batch else NULL, m, n, k)
    assert rc == 0
    return c


def check_bits(rng, dt, a_shape, b_shape, make_a=lambda x: x, make_b=lambda x: x):
    """Half GEMM of views make_a(A), make_b(B) == round(float32 GEMM of the widened views)."""
    a16, b16 = half_bits(rng, a_shape, dt), half_bits(rng, b_shape, dt)
    a32, b32 = widen(a16, dt), widen(b16, dt)
    va16, vb16, va32, vb32 = make_a(a16), make_b(b16), make_a(a32), make_b(b32)
    m, k, n = va16.shape[-2], va16.shape[-1], vb16.shape[-1]
    batch = tuple(np.broadcast_shapes(va16.shape[:-2], vb16.shape[:-2]))
    got = run(code(dt), a16, va16, b16, vb16, batch, m, n, k, np.uint16)
    ref32 = run(lib.TL_F32, a32, va32, b32, vb32, batch, m, n, k, np.float32)
    want = round_half(ref32, dt)
    assert np.array_equal(got, want), f"{dt} {a_shape} {b_shape}: {np.sum(got != want)} differ"
    # and close to the exact product (float32 accumulation of exact half values)
    exact = np.matmul(va32.astype(np.float64), vb32.astype(np.float64))
    tol = (2.0 ** -8 if dt == "bfloat16" else 2.0 ** -11) * np.abs(exact) + 1e-5 * k
    assert (np.abs(widen(got, dt) - exact) <= tol + 1e-6 * np.matmul(np.abs(va32), np.abs(vb32))).all()


CASES = [
    # (a_shape, b_shape, make_a, make_b): edge tiles of both tiles (6 x 16, 12 x 32), K blocks
    # (KC 768 / 384), transposed, strided, batched and broadcast operands
    ((37, 53), (53, 29), None, None),
    ((13, 33), (33, 35), None, None),
    ((12, 32), (32, 32), None, None),
    ((50, 800), (800, 70), None, None),
    ((128, 784), (784, 256), None, None),
    ((53, 37), (53, 29), "T", None),                   # A transposed (A.T @ B)
    ((37, 53), (29, 53), None, "T"),                   # B transposed (x @ W.T)
    ((300, 41), (90, 300), "T", "T"),
    ((40, 2 * 61), (61, 3 * 47), "step", "step"),      # column stride 2 / 3
    ((3, 20, 70), (70, 45), None, None),               # batch @ shared matrix (folded rows)
    ((3, 1, 20, 70), (2, 70, 45), None, None),         # broadcast batch dims
    ((4, 30, 17), (4, 30, 19), "T", None),             # batch of transposed matrices
    ((1, 300), (300, 90), None, None),                 # m == 1 (matrix-vector path)
    ((90, 300), (300, 1), None, None),                 # n == 1
    ((5, 1, 300), (300, 1), None, None),               # batched vectors
    ((40, 70), (40, 1), "T", None),
]


def _maker(kind):
    if kind == "T":
        return lambda x: np.swapaxes(x, -1, -2)
    if kind == "step":
        return lambda x: x[..., ::2] if x.shape[-1] % 2 == 0 else x[..., ::3]
    return lambda x: x


def _shapes(a_shape, b_shape, ka, kb):
    return a_shape, b_shape, _maker(ka), _maker(kb)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dt", HALVES)
def test_half_gemm_is_the_widened_float32_gemm_bit_for_bit(level, dt):
    rng = np.random.default_rng(31)
    with simd_level(level):
        for nt in (1, 2):
            with threads(nt):
                for a_shape, b_shape, ka, kb in CASES:
                    check_bits(rng, dt, *_shapes(a_shape, b_shape, ka, kb))


@pytest.mark.parametrize("dt", HALVES)
def test_every_edge_tile(dt):
    rng = np.random.default_rng(32)
    for m in range(2, 14):
        for n in (2, 5, 16, 17, 31, 32, 33):
            check_bits(rng, dt, (m, 19), (19, n))
            check_bits(rng, dt, (19, m), (n, 19), _maker("T"), _maker("T"))


@pytest.mark.parametrize("dt", HALVES)
def test_k_zero_nan_inf_and_overflow(dt):
    c = np.full((3, 4), 0x1234, np.uint16)
    a = np.zeros((3, 0), np.uint16)
    b = np.zeros((0, 4), np.uint16)
    assert lib.tl_matmul_forward(code(dt), ffi.from_buffer(c), ffi.from_buffer(np.zeros(1, np.uint16)), NULL,
                                 ffi.from_buffer(np.zeros(1, np.uint16)), NULL, 0, NULL, 3, 4, 0) == 0
    assert not c.any()                          # +0.0 in both types
    rng = np.random.default_rng(33)
    a16, b16 = half_bits(rng, (20, 30), dt), half_bits(rng, (30, 25), dt)
    nan, inf = round_half(np.array([np.nan, np.inf], np.float32), dt) if dt == "bfloat16" else \
        np.array([np.nan, np.inf], np.float16).view(np.uint16)
    a16[3, 5], b16[7, 11] = nan, inf
    got = widen(run(code(dt), a16, a16, b16, b16, (), 20, 25, 30, np.uint16), dt)
    assert np.isnan(got[3]).all()
    col = got[:, 11]
    assert np.isinf(col[np.arange(20) != 3]).all()
    if dt == "float16":   # past float16's range: +-Inf, as rounding the float32 sum gives
        big = round_half(np.full((2, 64), 100.0, np.float32), dt)
        out = widen(run(code(dt), big, big, big.T.copy(), big.T.copy(), (), 2, 2, 64, np.uint16), dt)
        assert np.isinf(out).all() and (out > 0).all()


def test_rejects_what_it_rejected():
    c = np.zeros(4, np.uint16)
    p = ffi.from_buffer(c)
    assert lib.tl_matmul_forward(lib.TL_F16, p, p, NULL, p, NULL, 0, NULL, -1, 2, 2) == lib.TL_EINVAL
    assert lib.tl_matmul_forward(lib.TL_BF16, p, NULL, NULL, p, NULL, 0, NULL, 2, 2, 2) == lib.TL_EINVAL
    assert lib.tl_matmul_forward(lib.TL_BOOL, p, p, NULL, p, NULL, 0, NULL, 2, 2, 2) == lib.TL_EDTYPE


# ---- through the Python API ----------------------------------------------------------------------

def raw(t):
    return t.contiguous()._view_numpy(raw=True).copy()


@pytest.mark.parametrize("dt", [tl.float16, tl.bfloat16])
def test_matmul_on_half_tensors_matches_the_float32_route(dt):
    """tl.matmul / @ / bmm of two tensors of one half dtype run the half kernel: forward and
    gradients are bit-for-bit what widening to float32 first gives (2-D products whose
    gradients are GEMMs too), and the result and gradients keep the half dtype."""
    rng = np.random.default_rng(34)
    for (m, k, n), ta, tb in [((37, 53, 29), False, False), ((128, 784, 256), False, True),
                              ((20, 300, 45), True, False), ((13, 33, 35), True, True)]:
        A = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        B = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        G = rng.standard_normal((m, n)).astype(np.float32)
        outs, grads = [], []
        for route in ("native", "float32"):
            a = tl.tensor(A).to(dt).detach().requires_grad_()
            b = tl.tensor(B).to(dt).detach().requires_grad_()
            av, bv = (a.T if ta else a), (b.T if tb else b)
            if route == "native":
                out = av @ bv
            else:
                out = (av.float() @ bv.float()).to(dt)
            assert out.dtype is dt
            out.backward(tl.tensor(G).to(dt))
            assert a.grad.dtype is dt and b.grad.dtype is dt
            outs.append(raw(out))
            grads.append((raw(a.grad), raw(b.grad)))
        assert np.array_equal(outs[0], outs[1])
        assert np.array_equal(grads[0][0], grads[1][0]) and np.array_equal(grads[0][1], grads[1][1])
    # batched (bmm, broadcast) and 1-D operands: the same values as the float32 route
    x = tl.tensor(rng.standard_normal((3, 20, 30)).astype(np.float32)).to(dt)
    w = tl.tensor(rng.standard_normal((3, 30, 9)).astype(np.float32)).to(dt)
    v = tl.tensor(rng.standard_normal(30).astype(np.float32)).to(dt)
    for got, want in [(tl.bmm(x, w), (x.float() @ w.float()).to(dt)),
                      (x @ w[0], (x.float() @ w[0].float()).to(dt)),
                      (x @ v, (x.float() @ v.float()).to(dt)),
                      (v @ w, (v.float() @ w.float()).to(dt))]:
        assert got.dtype is dt and got.shape == want.shape
        assert np.array_equal(raw(got), raw(want))


def test_mixed_operands_promote():
    h, b, f = tl.ones(2, 3, dtype=tl.float16), tl.ones(3, 2, dtype=tl.bfloat16), tl.ones(3, 2)
    assert (h @ b).dtype is tl.float32 and (h @ b).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert (h @ f).dtype is tl.float32
    with tl.autocast("cpu", dtype=tl.bfloat16):
        out = tl.ones(2, 3) @ tl.ones(3, 2)
    assert out.dtype is tl.bfloat16 and out.tolist() == [[3.0, 3.0], [3.0, 3.0]]


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_against_torch(dt):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(35)
    tdt = getattr(torch, dt)
    for m, k, n in [(37, 301, 53), (64, 64, 64), (1, 100, 7)]:
        A, B = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
        got = (tl.tensor(A).to(getattr(tl, dt)) @ tl.tensor(B).to(getattr(tl, dt))).float().numpy()
        ref = (torch.from_numpy(A).to(tdt) @ torch.from_numpy(B).to(tdt)).float().numpy()
        ulp = 2.0 ** (-7 if dt == "bfloat16" else -10)
        np.testing.assert_allclose(got, ref, rtol=2 * ulp, atol=2 * ulp * np.sqrt(k))
