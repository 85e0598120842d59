"""The 16-lane AVX-512 float32 transcendentals of csrc/vmath.h (tl_vm512_*, SIMD level 2) give the
bits of the 8-lane AVX2 ones (tl_vm_*, level 1) for every vmath op, forward and backward.

vmath.inc is compiled at both widths with the same operations, constants and rounding order per
lane, so no result may differ. Level 1 is forced at run time with tl_set_simd_level(1) (the
8-lane loops; level 2 runs the 16-lane ones). The inputs are those tests/test_vmath.py and
tests/test_vmath_activations.py measure the ulp error on (every binade incl. denormals, runs at
each threshold, special values), plus random bit patterns (NaN payloads, every class), tails of
every length 0..40 at aligned and unaligned starts, and buffers that end at an unmapped page (a
full-width load or store past a tail would fault). The ulp tests themselves run at the detected
level, so on an AVX-512 machine they hold the 16-lane path to the 4 ulp bound.

The tests skip only where the CPU lacks AVX-512 F/VL/BW/DQ (what SIMD level 2 needs, as for the
GEMM); on a CPU that has it, the library must have picked level 2.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import NULL, ffi, lib

from . import test_vmath as vm
from . import test_vmath_activations as act

F32 = np.float32
AVX512_FLAGS = ("avx512f", "avx512vl", "avx512bw", "avx512dq")


def _cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None                       # unknown: trust the library's own detection
    return all(flag in flags for flag in AVX512_FLAGS)


CPU_AVX512 = _cpu_has_avx512()
HAS_LEVEL2 = lib.tl_simd_level() >= 2
needs_avx512 = pytest.mark.skipif(
    not HAS_LEVEL2 and CPU_AVX512 is not True,
    reason="this CPU lacks AVX-512 F/VL/BW/DQ: only the 8-lane AVX2 vmath loops run here")

# op name -> (op code, p0, p1): test_vmath.py's functions, then test_vmath_activations.py's cases
OPS = {"exp": (lib.TL_EXP, 0.0, 0.0), "log": (lib.TL_LOG, 0.0, 0.0), "tanh": (lib.TL_TANH, 0.0, 0.0),
       "sigmoid": (lib.TL_SIGMOID, 0.0, 0.0), "erf": (lib.TL_ERF, 0.0, 0.0),
       "gelu": (lib.TL_GELU, 0.0, 0.0)}
OPS.update(act.CASES)


def inputs(name):
    """The ulp tests' inputs for name, plus 2^18 random bit patterns."""
    base = vm.inputs(name) if name in vm.REF else act.inputs(name)
    rng = np.random.default_rng(sum(map(ord, name)) + 1)
    bits = rng.integers(0, 2 ** 32, 1 << 18, dtype=np.uint64).astype(np.uint32).view(F32)
    return np.concatenate([base, bits, act.SPECIAL_X]).astype(F32)


def _ptr(a):
    return ffi.cast("char *", ffi.from_buffer("char[]", a)) if a.size else ffi.cast("char *", 0)


def forward(name, x, out=None):
    op, p0, p1 = OPS[name]
    y = np.empty_like(x) if out is None else out
    shape = ffi.new("int64_t[]", [x.size])
    assert lib.tl_unary_forward(op, lib.TL_F32, _ptr(y), NULL, _ptr(x), NULL, 1, shape, p0, p1) == 0
    return y


def backward(name, g, x, y, out=None):
    op, p0, p1 = OPS[name]
    gx = np.empty_like(g) if out is None else out
    shape = ffi.new("int64_t[]", [g.size])
    assert lib.tl_unary_backward(op, lib.TL_F32, _ptr(gx), _ptr(g), NULL, _ptr(x), NULL, _ptr(y), NULL,
                                 1, shape, p0, p1) == 0
    return gx


def _grads(n, seed):
    """Output gradients: mostly in [-2, 2], with 0, -0, +-inf and NaN among them."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(-2, 2, n).astype(F32)
    k = min(n, max(1, n // 50))
    g[rng.integers(0, n, k)] = rng.choice(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, 1e-40], F32), k)
    return g


def _bits(a):
    return np.asarray(a, F32).view(np.uint32)


@pytest.fixture
def levels():
    """Restores the SIMD level and thread count; yields the detected level."""
    level, threads = lib.tl_simd_level(), tl.get_num_threads()
    yield level
    assert lib.tl_set_simd_level(level) == 0
    tl.set_num_threads(threads)


def _at(level, fn, *args):
    assert lib.tl_set_simd_level(level) == 0
    return fn(*args)


def test_level2_is_picked_where_the_cpu_has_avx512():
    if CPU_AVX512 is None:
        pytest.skip("no /proc/cpuinfo to compare the detected level with")
    if not CPU_AVX512:
        assert lib.tl_simd_level() < 2
        pytest.skip("this CPU lacks AVX-512 F/VL/BW/DQ: the library runs the 8-lane AVX2 vmath loops")
    assert lib.tl_simd_level() == 2, "the CPU has AVX-512 F/VL/BW/DQ but the library did not pick level 2"


@needs_avx512
@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_and_backward_bit_identical_to_avx2(name, levels):
    x = inputs(name)
    g = _grads(x.size, 7)
    y1 = _at(1, forward, name, x)
    y2 = _at(2, forward, name, x)
    bad = np.flatnonzero(_bits(y1) != _bits(y2))
    assert bad.size == 0, (f"{name} forward: {bad.size} results differ, first at x = {x[bad[0]]!r}: "
                           f"AVX2 {y1[bad[0]]!r}, AVX-512 {y2[bad[0]]!r}")
    g1 = _at(1, backward, name, g, x, y1)
    g2 = _at(2, backward, name, g, x, y1)
    bad = np.flatnonzero(_bits(g1) != _bits(g2))
    assert bad.size == 0, (f"{name} backward: {bad.size} results differ, first at x = {x[bad[0]]!r}, "
                           f"g = {g[bad[0]]!r}: AVX2 {g1[bad[0]]!r}, AVX-512 {g2[bad[0]]!r}")


@needs_avx512
@pytest.mark.parametrize("name", sorted(OPS))
def test_tails_and_unaligned_starts(name, levels):
    """Every length 0..40 at starts 0..4 floats into a buffer (so also 4-byte aligned only), and
    single lanes of every kind: each result is the AVX2 result of the same element computed in a
    full vector elsewhere, and nothing outside [start, start + n) is written."""
    rng = np.random.default_rng(sum(map(ord, name)) + 2)
    pool = inputs(name)
    base = np.concatenate([rng.uniform(-6, 6, 60).astype(F32), rng.choice(pool, 60)]).astype(F32)
    base[rng.integers(0, base.size, 8)] = rng.choice(act.SPECIAL_X, 8)
    g = _grads(base.size, 11)
    yref = _at(1, forward, name, base)
    gref = _at(1, backward, name, g, base, yref)
    assert lib.tl_set_simd_level(2) == 0
    sentinel = F32(-1234.5)
    for start in range(5):
        for n in range(41):
            for lo in (0, 40, base.size - n - start):
                x = base[lo:][start:start + n]
                out = np.full(n + 2 * 16 + start, sentinel, F32)
                y = forward(name, x, out[16 + start:16 + start + n])
                np.testing.assert_array_equal(_bits(y), _bits(yref[lo + start:lo + start + n]),
                                              err_msg=f"{name} forward n={n} start={start}")
                gx = backward(name, g[lo:][start:start + n], x, yref[lo + start:lo + start + n],
                              out[16 + start:16 + start + n])
                np.testing.assert_array_equal(_bits(gx), _bits(gref[lo + start:lo + start + n]),
                                              err_msg=f"{name} backward n={n} start={start}")
                outside = np.concatenate([out[:16 + start], out[16 + start + n:]])
                assert (outside == sentinel).all(), f"{name}: a tail of {n} wrote outside its buffer"


@needs_avx512
@pytest.mark.parametrize("name", ["exp", "log", "tanh", "gelu", "silu", "softplus_beta3", "mish"])
def test_threads_and_positions(name, levels):
    """2 threads (chunks cut at multiples of 16) and 1 thread, whole and sliced: the AVX2 bits."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-6, 6, 200_003).astype(F32)
    x[rng.integers(0, x.size, 300)] = rng.choice(act.SPECIAL_X, 300)     # lanes on slow paths
    x[rng.integers(0, x.size, 300)] = rng.uniform(-130, 130, 300).astype(F32)
    g = _grads(x.size, 5)
    tl.set_num_threads(1)
    y1 = _at(1, forward, name, x)
    g1 = _at(1, backward, name, g, x, y1)
    for nt in (1, 2):
        tl.set_num_threads(nt)
        np.testing.assert_array_equal(_bits(_at(2, forward, name, x)), _bits(y1))
        np.testing.assert_array_equal(_bits(_at(2, backward, name, g, x, y1)), _bits(g1))
        for k in (1, 5, 13):
            sl = slice(k, k + 5000 + k)
            np.testing.assert_array_equal(_bits(forward(name, x[sl])), _bits(y1[sl]))


_GUARD_SCRIPT = textwrap.dedent("""
    import ctypes, mmap, sys
    import numpy as np
    from tinygrad_lab._lib import NULL, ffi, lib
    PAGE = mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    def tail_buffer():
        # two pages, the second unmapped for access: an array placed to end at the first page's
        # end faults on any byte read or written past it
        m = mmap.mmap(-1, 2 * PAGE)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        assert libc.mprotect(addr + PAGE, PAGE, 0) == 0
        return m, np.frombuffer(m, np.float32, PAGE // 4)
    bufs = [tail_buffer() for _ in range(4)]
    x_, g_, y_, o_ = (b[1] for b in bufs)
    x_[:] = np.linspace(-7, 7, x_.size, dtype=np.float32)
    g_[:] = 1.5
    ops = [(getattr(lib, "TL_" + n), p0, p1) for n, p0, p1 in
           [("EXP", 0, 0), ("LOG", 0, 0), ("TANH", 0, 0), ("SIGMOID", 0, 0), ("ERF", 0, 0),
            ("GELU", 0, 0), ("SILU", 0, 0), ("SOFTPLUS", 3.0, 20.0), ("ELU", 1.0, 1.0),
            ("LOG_SIGMOID", 0, 0), ("MISH", 0, 0)]]
    end = PAGE // 4
    for level in range(lib.tl_simd_level() + 1):
        assert lib.tl_set_simd_level(level) == 0
        for op, p0, p1 in ops:
            for n in range(1, 41):
                sh = ffi.new("int64_t[]", [n])
                p = lambda a: ffi.cast("char *", ffi.from_buffer("char[]", a[end - n:]))
                assert lib.tl_unary_forward(op, lib.TL_F32, p(o_), NULL, p(x_), NULL, 1, sh, p0, p1) == 0
                assert lib.tl_unary_backward(op, lib.TL_F32, p(o_), p(g_), NULL, p(x_), NULL, p(y_), NULL,
                                             1, sh, p0, p1) == 0
    print("ok")
""")


@pytest.mark.skipif(sys.platform != "linux", reason="uses mprotect on Linux")
def test_tails_do_not_touch_memory_past_the_buffer():
    """Inputs and outputs ending right before an inaccessible page, every tail length 1..40, at
    every SIMD level the CPU has (0 portable, 1 AVX2, 2 AVX-512): a full-width load or store of a
    tail would fault. Run in
    a subprocess, so a fault fails this test instead of ending the session."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(tl.__file__))) + os.pathsep + \
        env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", _GUARD_SCRIPT], capture_output=True, text=True, env=env,
                       cwd=root, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), \
        f"exit {r.returncode}: a tail touched memory past its buffer?\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
