"""The GEMM at every SIMD level (csrc/matmul.c): portable C (0), AVX2+FMA (1, 6 x 16 / 6 x 8 tile)
and AVX-512 (2, 12 x 32 / 12 x 16 tile). tests/test_matmul.py's forward tests are rerun at each
level the CPU has (its own run covers only the detected one), plus the AVX-512 tile's own edge
shapes, k == 0 and NaN/Inf propagation. A level the CPU lacks is skipped, saying so."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import NULL, lib
from tinygrad_lab.kernels import ffi

from . import test_matmul as base
from .helpers import simd_level, threads

DETECTED = lib.tl_simd_level()
NAMES = {0: "portable C", 1: "AVX2+FMA", 2: "AVX-512 (avx512f/vl/bw/dq)"}
LEVELS = [pytest.param(lv, id=f"level{lv}",
                       marks=pytest.mark.skipif(lv > DETECTED, reason=f"this CPU lacks {NAMES[lv]}"))
          for lv in (0, 1, 2)]
DTYPES = [np.float32, np.float64]


def tile(level, dtype):
    """(MR, NR) of the level's micro-kernel."""
    if level == 2:
        return 12, (32 if dtype == np.float32 else 16)
    return 6, (16 if dtype == np.float32 else 8)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_suite_at_level(level, dtype):
    """test_matmul.py's shape rules, edge tiles, odd shapes, strided / transposed / broadcast
    operands, the in-place and packed paths on 1 and 2 threads, at this level."""
    with simd_level(level):
        for sa, sb in base.SHAPES:
            base.test_shapes(sa, sb, dtype)
        base.test_square_sizes_edge_tiles(dtype)
        for m, k, n in [(37, 301, 53), (1, 700, 33), (300, 1, 19), (13, 17, 1), (6, 256, 16),
                        (7, 257, 17), (1, 1, 1), (12, 384, 32), (13, 385, 33), (11, 383, 31),
                        # A's rows 4 KiB apart (float64 at k = 512, float32 at 1024): packed even
                        # below TL_MM_AINP_MAX at level 2 (mm_row_sets), in place at level 1
                        (40, 512, 70), (25, 1024, 33)]:
            base.test_odd_shapes(m, k, n, dtype)
        base.test_transposed_and_sliced_operands(dtype)
        base.test_matrix_vector_paths(dtype)
        for nt in (1, 2):
            base.test_in_place_and_packed_operands(nt, dtype)
        base.test_every_edge_tile_shape(dtype)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("nt", [1, 2])
def test_threads_and_zero_sizes_at_level(level, nt):
    with simd_level(level):
        base.test_threads_large(nt)
        for sa, sb in [((0, 4), (4, 5)), ((3, 0), (0, 5)), ((2, 3, 0), (2, 0, 4)), ((2, 3, 0), (0, 0))]:
            base.test_zero_size(sa, sb)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_tile_shape_of_the_level(level, dtype):
    """Every edge kernel of the level's tile (1..MR rows x 1..NR columns, the last vector
    masked), over one K block and several, into a C with guard zones that must stay untouched;
    B transposed and A transposed too (the other packing routines)."""
    rng = np.random.default_rng(21)
    mr, nr = tile(level, dtype)
    code = lib.TL_F32 if dtype == np.float32 else lib.TL_F64
    with simd_level(level):
        for m in range(1, mr + 1):
            for n in list(range(1, nr + 1)) + [nr + 1, 2 * nr - 1]:
                for k in (1, 13, 800):
                    a, b = base.rnd(rng, (m, k), dtype), base.rnd(rng, (k, n), dtype)
                    buf = np.full(m * n + 64, 7.0, dtype)
                    c = ffi.cast("char *", ffi.from_buffer(buf)) + 32 * buf.itemsize
                    assert lib.tl_matmul_forward(code, c, ffi.from_buffer(a), NULL, ffi.from_buffer(b),
                                                 NULL, 0, NULL, m, n, k) == 0
                    assert (buf[:32] == 7).all() and (buf[32 + m * n:] == 7).all(), (m, k, n)
                    base.assert_matmul(buf[32:32 + m * n].reshape(m, n), a, b)
                    if k == 13:
                        at, bt = base.rnd(rng, (k, m), dtype), base.rnd(rng, (n, k), dtype)
                        base.assert_matmul((tl.tensor(at).T @ tl.tensor(bt).T).numpy(), at.T, bt.T)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_larger_products_at_level(level, dtype):
    """Several M blocks, K blocks and threads with the level's blocking, every layout, a batch
    with a broadcast operand (the MLP's shapes among them)."""
    rng = np.random.default_rng(22)
    with simd_level(level):
        for nt in (1, 2):
            with threads(nt):
                for m, k, n in [(128, 784, 256), (128, 256, 10), (784, 128, 256), (301, 1000, 97),
                                (520, 390, 270)]:
                    a, b = base.rnd(rng, (m, k), dtype), base.rnd(rng, (k, n), dtype)
                    at, bt = base.rnd(rng, (k, m), dtype), base.rnd(rng, (n, k), dtype)
                    ta, tb, tat, tbt = (tl.tensor(x) for x in (a, b, at, bt))
                    base.assert_matmul((ta @ tb).numpy(), a, b)
                    base.assert_matmul((tat.T @ tb).numpy(), at.T, b)
                    base.assert_matmul((ta @ tbt.T).numpy(), a, bt.T)
                    base.assert_matmul((tat.T @ tbt.T).numpy(), at.T, bt.T)
                x, w = base.rnd(rng, (3, 1, 40, 70), dtype), base.rnd(rng, (2, 70, 45), dtype)
                base.assert_matmul((tl.tensor(x) @ tl.tensor(w)).numpy(), x, w)


def _ieee_matmul(a, b):
    """a @ b in float64 as plain sums of products (no BLAS): the IEEE NaN / Inf outcome."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (a.astype(np.float64)[:, :, None] * b.astype(np.float64)[None, :, :]).sum(1)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_inf_propagate(level, dtype):
    """A NaN operand makes its row / column NaN, an Inf makes it +-Inf (or NaN where Inf meets 0
    or -Inf), in full tiles, edge tiles, packed and in place."""
    rng = np.random.default_rng(23)
    with simd_level(level):
        for m, k, n in [(13, 40, 35), (30, 800, 70), (5, 3, 3)]:
            a, b = base.rnd(rng, (m, k), dtype), base.rnd(rng, (k, n), dtype)
            a[1, k // 2] = np.nan
            a[m - 1, 0] = np.inf
            b[k - 1, n - 1] = -np.inf
            b[k // 3, 2] = np.inf
            b[0, n // 2] = 0.0                   # Inf (a[m-1, 0]) * 0: NaN at [m-1, n // 2]
            ref = _ieee_matmul(a, b)
            for r in ((tl.tensor(a) @ tl.tensor(b)).numpy(),
                      (tl.tensor(a.T.copy()).T @ tl.tensor(b.T.copy()).T).numpy()):
                np.testing.assert_array_equal(np.isnan(r), np.isnan(ref))
                fin = np.isfinite(ref)
                np.testing.assert_array_equal(r[~fin & ~np.isnan(ref)], ref[~fin & ~np.isnan(ref)])
                assert np.isnan(r[1]).all() and np.isnan(r[m - 1, n // 2])
                ok = np.isfinite(r)
                assert np.array_equal(ok, fin)


@pytest.mark.parametrize("level", LEVELS)
def test_k_zero_writes_zeros(level):
    with simd_level(level):
        for dt in (tl.float32, tl.float64):
            out = tl.matmul(tl.ones(13, 0, dtype=dt), tl.ones(0, 33, dtype=dt))
            assert out.shape == (13, 33) and not out.numpy().any()


def test_level_names_and_detection():
    """Level 2 is reported as "avx512" (tl.show_config, python -m tinygrad_lab config) exactly
    when the CPU has AVX-512 F/VL/BW/DQ; levels can be lowered, not raised."""
    names = {0: "portable C", 1: "avx2+fma", 2: "avx512"}
    assert tl._config.config()["simd"] == names[DETECTED]
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        flags = None
    if flags is not None and DETECTED >= 1:
        assert (DETECTED == 2) == ({"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags)
    for lv in range(DETECTED + 1):
        with simd_level(lv):
            assert ffi.string(lib.tl_simd_name()).decode() == names[lv]
    assert lib.tl_set_simd_level(DETECTED + 1) != 0
