"""Shared test helpers: seeded inputs, non-contiguous views, and context managers that run
kernels with a given thread count or instruction set. (The op harness is public:
tinygrad_lab.testing.check_op.)"""
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
