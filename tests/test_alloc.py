"""The large-buffer cache (csrc/alloc.c): reuse, alignment, lifetime and the budget."""
import gc

import numpy as np

import tinygrad_lab as tl
from tinygrad_lab._lib import ffi, lib


def stats():
    s = ffi.new("int64_t[4]")
    lib.tl_alloc_stats(s)
    return dict(zip(("bytes", "blocks", "hits", "misses"), list(s)))


def test_large_buffers_are_aligned_and_reused():
    a = tl.ones(300_000)
    assert a.data_ptr() % 64 == 0
    ptr = a.data_ptr()
    del a
    gc.collect()
    before = stats()
    b = tl.zeros(300_000)
    assert stats()["hits"] == before["hits"] + 1 and b.data_ptr() == ptr
    assert b.sum().item() == 0.0


def test_views_and_numpy_arrays_keep_the_buffer_alive():
    t = tl.arange(400_000, dtype=tl.float64)
    v = t[100:110]
    n = t.numpy()
    del t
    gc.collect()
    tl.ones(400_000, dtype=tl.float64)   # would reuse the block if it had been freed
    assert v.tolist() == list(range(100, 110))
    assert n[399_999] == 399_999


def test_cache_limit_and_empty_cache():
    tl.set_cache_limit(0)
    try:
        x = tl.ones(500_000)
        del x
        gc.collect()
        assert stats()["bytes"] == 0
    finally:
        tl.set_cache_limit(512 << 20)
    y = tl.ones(500_000)
    del y
    gc.collect()
    assert stats()["bytes"] >= 2_000_000
    tl.empty_cache()
    assert stats()["bytes"] == 0


def test_huge_allocation_is_a_memory_error():
    import pytest
    with pytest.raises(MemoryError):
        tl.empty(2 ** 58, dtype=tl.float32)
    np.testing.assert_array_equal(tl.ones(3).numpy(), [1, 1, 1])
