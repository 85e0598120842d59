"""tl.show_config() (what a bug report needs) and the thread-count controls."""
import ast
import importlib
import os
import re

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import _build
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
    assert cfg["simd"] in out and cfg["simd"] in ("avx512", "avx2+fma", "portable C")
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


def test_build_flags_report_what_the_compiler_gets(monkeypatch):
    """TL_BUILD_FLAGS is assembled by _build.build_flags(): setuptools' flags (Python's sysconfig
    CFLAGS, or $CFLAGS in their place, $CPPFLAGS), then ours with $TINYGRAD_LAB_CFLAGS, then the
    link flags with $LDFLAGS -- so a sanitizer build does not report a normal build's flags."""
    monkeypatch.setenv("CFLAGS", "-O1 -fsanitize=address,undefined")
    monkeypatch.setenv("CPPFLAGS", "-DTL_FROM_CPPFLAGS=1")
    monkeypatch.setenv("LDFLAGS", "-fsanitize=address")
    monkeypatch.setenv("TINYGRAD_LAB_CFLAGS", "-fno-omit-frame-pointer")
    try:
        cflags, ldflags, report = _build.build_flags()
        compile_part, link_part = report.split(" ; link: ")
        words = compile_part.split()
        for flag in ("-O1", "-fsanitize=address,undefined", "-DTL_FROM_CPPFLAGS=1", "-std=gnu11",
                     "-fno-omit-frame-pointer"):
            assert flag in words, (flag, report)
        # command-line order: the environment's flags first, ours after (the last -O wins)
        # (Python's own CFLAGS may come first, with an -O3 of theirs: newer setuptools keep them
        # before $CFLAGS, older ones replace them -- so look at the last -O3, ours)
        ours = len(words) - 1 - words[::-1].index("-O3")
        assert words.index("-O1") < ours < words.index("-fno-omit-frame-pointer")
        assert link_part.split() == ["-fsanitize=address"] + ldflags
        assert cflags[-1] == "-fno-omit-frame-pointer"
        # the macro handed to the compiler is exactly this report, as a C string literal
        reloaded = importlib.reload(_build)
        macros = dict(reloaded.ffibuilder._assigned_source[3]["define_macros"])
        assert ast.literal_eval(macros["TL_BUILD_FLAGS"]) == report
        assert macros["TL_BUILD_FLAGS"] == reloaded.c_string(report)
        tricky = 'CFLAGS=-DX="a\\b"'
        assert ast.literal_eval(_build.c_string(tricky)) == tricky
    finally:
        monkeypatch.undo()
        importlib.reload(_build)


def test_build_flags_of_this_build_are_reported():
    """The running extension reports its compile line (with the link flags), not just ours."""
    reported = tl._config.config()["build flags"]
    assert " ; link: " in reported and "-pthread" in reported.split(" ; link: ")[1]
    assert "-std=gnu11" in reported.split(" ; link: ")[0].split()
    assert set(_build._flags()[0]) - set(os.environ.get("TINYGRAD_LAB_CFLAGS", "").split()) \
        <= set(reported.split())
