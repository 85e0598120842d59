"""Shared test helpers: seeded inputs, non-contiguous views, check_op, which compares an op's
forward with a NumPy reference and gradchecks every differentiable input, and context managers
that run kernels with a given thread count or instruction set."""
import contextlib
import zlib

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import lib


@contextlib.contextmanager
def threads(n):
    """Run the block with n kernel threads (skips the test when n > 1 in a serial build)."""
    if n > 1 and not tl._config._threaded():
        pytest.skip("built without threads")
    saved = tl.get_num_threads()
    tl.set_num_threads(n)
    try:
        yield
    finally:
        tl.set_num_threads(saved)


@contextlib.contextmanager
def simd_level(level):
    """Run the block with the kernels of SIMD level `level` (0 = portable C)."""
    saved = lib.tl_simd_level()
    assert lib.tl_set_simd_level(level) == 0
    try:
        yield
    finally:
        lib.tl_set_simd_level(saved)


def simd_levels():
    """The portable level and, when the CPU has more, the detected one."""
    return sorted({0, lib.tl_simd_level()})


def rng_for(*key):
    """A generator seeded from the test's own parameters (stable across runs and processes)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def rng_array(shape, low, high, rng):
    return rng.uniform(low, high, size=shape)


def noncontiguous(a, dtype):
    """A leaf tensor holding `a`'s values through a strided (non-contiguous) view."""
    a = np.asarray(a)
    big = tl.zeros(a.shape + (2,), dtype=dtype)
    with tl.no_grad():
        big[..., 0] = tl.tensor(a, dtype=dtype)
    v = big[..., 0].detach()
    assert not v.is_contiguous() or v.numel() <= 1
    return v


def make(a, dtype, strided=False, requires_grad=False):
    t = noncontiguous(a, dtype) if strided else tl.tensor(a, dtype=dtype)
    return t.requires_grad_(True) if requires_grad else t


def assert_close(t, ref, rtol, atol):
    assert isinstance(t, tl.Tensor), f"expected a Tensor, got {type(t).__name__}"
    got = t.detach().numpy()
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"shape {got.shape} != reference shape {ref.shape}"
    np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), rtol=rtol, atol=atol)


def check_op(fn, ref, shapes, low=-2.0, high=2.0, grad=True, strided=False, gc_kw=None):
    """Forward in float64 and float32 against `ref`, then gradcheck + gradgradcheck (float64) of
    the inputs named by `grad` (True = all, a tuple of indices, or False)."""
    rng = rng_for(getattr(fn, "__name__", ""), tuple(shapes), low, high, strided)
    arrays = [rng_array(s, low, high, rng) for s in shapes]
    expected = ref(*arrays)
    for dtype, rtol, atol in ((tl.float64, 1e-10, 1e-12), (tl.float32, 2e-5, 2e-6)):
        ins = [make(a, dtype, strided) for a in arrays]
        out = fn(*ins)
        assert out.dtype is dtype, f"{dtype!r} inputs gave a {out.dtype!r} result"
        assert_close(out, expected, rtol, atol * max(1.0, float(np.max(np.abs(expected), initial=0))))
    wrt = range(len(shapes)) if grad is True else (grad or ())
    if not wrt:
        return
    ins = [make(a, tl.float64, strided, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    kw = gc_kw or {}
    assert tl.autograd.gradcheck(fn, ins, **kw)
    assert tl.autograd.gradgradcheck(fn, ins, **kw)
