"""tl.show_config() (what a bug report needs) and the thread-count controls."""
import os
import re

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import lib

DEFAULT_THREADS = tl.get_num_threads()   # read at collection time, before any test changes it


@pytest.fixture
def restore_threads():
    old = tl.get_num_threads()
    yield
    tl.set_num_threads(old)


def test_show_config_prints_the_report(capsys):
    tl.show_config()
    out = capsys.readouterr().out
    assert tl.__version__ in out
    assert re.search(r"compiler\s*:\s*(gcc|clang|\S+)", out)
    cfg = tl._config.config()
    assert cfg["compiler"] in out
    assert "-O" in out                                         # build flags
    assert cfg["build flags"] in out
    assert cfg["simd"] in out and cfg["simd"] in ("avx2+fma", "portable C")
    assert re.search(r"threads\s*:\s*%d\b" % tl.get_num_threads(), out)
    assert np.__version__ in out and "numpy" in out.lower()


def test_show_config_file_argument(tmp_path):
    p = tmp_path / "cfg.txt"
    with open(p, "w") as f:
        tl.show_config(file=f)
    text = p.read_text()
    assert tl.__version__ in text and np.__version__ in text


def test_show_config_reports_simd_level_in_use(capsys):
    detected = lib.tl_simd_level()
    try:
        assert lib.tl_set_simd_level(0) == 0
        tl.show_config()
        assert "portable C" in capsys.readouterr().out
    finally:
        lib.tl_set_simd_level(detected)
    assert lib.tl_simd_level() == detected


def test_simd_level_cannot_be_raised():
    detected = lib.tl_simd_level()
    assert lib.tl_set_simd_level(detected + 1) != 0
    assert lib.tl_set_simd_level(-1) != 0
    assert lib.tl_simd_level() == detected


def test_default_thread_count():
    """Default: TL_NUM_THREADS, else OMP_NUM_THREADS, else the cores this process may run on."""
    assert isinstance(DEFAULT_THREADS, int) and DEFAULT_THREADS >= 1
    if not tl._config._threaded():
        assert DEFAULT_THREADS == 1
    elif (hasattr(os, "sched_getaffinity") and "OMP_NUM_THREADS" not in os.environ
          and "TL_NUM_THREADS" not in os.environ):
        assert DEFAULT_THREADS == len(os.sched_getaffinity(0))


def test_show_config_names_the_threads_backend(capsys):
    tl.show_config()
    out = capsys.readouterr().out
    backend = tl._config.config()["threads backend"]
    assert backend in ("pthreads pool", "serial (built without threads)")
    assert re.search(r"threads backend\s*:\s*" + re.escape(backend), out)
    assert "openmp" not in " ".join(k for k in tl._config.config())


@pytest.mark.usefixtures("restore_threads")
def test_set_get_num_threads_round_trip():
    if not tl._config._threaded():
        tl.set_num_threads(1)
        assert tl.get_num_threads() == 1
        with pytest.raises(RuntimeError, match="no threads"):
            tl.set_num_threads(2)
        return
    for n in (1, 3, 2):
        tl.set_num_threads(n)
        assert tl.get_num_threads() == n
    # threaded kernels still give the same answer
    x = tl.arange(200_000, dtype=tl.float64)
    tl.set_num_threads(1)
    one = tl.exp(x * 1e-5).sum().item()
    tl.set_num_threads(2)
    assert tl.exp(x * 1e-5).sum().item() == one


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("bad", [0, -1])
def test_set_num_threads_rejects_non_positive(bad):
    before = tl.get_num_threads()
    with pytest.raises(ValueError, match=f"at least 1 thread, got {bad}"):
        tl.set_num_threads(bad)
    assert tl.get_num_threads() == before


def test_set_num_threads_rejects_non_int():
    with pytest.raises(TypeError):
        tl.set_num_threads(1.5)
