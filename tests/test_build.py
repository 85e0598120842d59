"""The cffi declarations and the C sources agree, and the portable (non-SIMD) kernels give the
same answers as the AVX2+FMA ones chosen at run time."""
import glob
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import _build
from tinygrad_lab._lib import lib

CSRC = _build.CSRC
C_FILES = sorted(glob.glob(os.path.join(CSRC, "*.c")))


def _strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def declared_functions():
    """Every function name declared in the header's cdef block."""
    decls = _strip_comments(_build.read_cdef())
    names = []
    for stmt in decls.split(";"):
        m = re.search(r"\b([A-Za-z_]\w*)\s*\(", stmt)
        if m:
            names.append(m.group(1))
    return names


def defined_functions(path):
    """(name, is_static) for every tl_* function defined in a C file."""
    src = re.sub(r"__attribute__\s*\(\(.*?\)\)\s*", "", _strip_comments(open(path).read()))
    pat = re.compile(r"^([A-Za-z_][^;{}()#]*?)\b(tl_\w+)\s*\(([^;{}]*?)\)\s*\{", re.M)
    return [(m.group(2), "static" in m.group(1).split()) for m in pat.finditer(src)]


def test_cdef_block_found_and_parsed():
    names = declared_functions()
    assert len(names) >= 20
    for core in ("tl_copy", "tl_fill", "tl_arange", "tl_manual_seed", "tl_rand_uniform",
                 "tl_rand_normal", "tl_randint", "tl_version", "tl_simd_level", "tl_set_num_threads"):
        assert core in names
    assert len(names) == len(set(names)), "a function is declared twice"


def test_every_declared_function_exists_in_lib():
    missing = [n for n in declared_functions() if not callable(getattr(lib, n, None))]
    assert not missing, f"declared in tinygrad_lab.h but not in the built lib: {missing}"


def test_cdef_block_has_no_preprocessor_lines():
    bad = [line for line in _build.read_cdef().splitlines() if line.lstrip().startswith("#")]
    assert not bad, f"preprocessor lines in the cdef block: {bad}"


def test_cdef_enums_reach_lib():
    for name, value in (("TL_F32", 0), ("TL_F64", 1), ("TL_I64", 2), ("TL_BOOL", 3), ("TL_OK", 0)):
        assert getattr(lib, name) == value
    assert [d.code for d in (tl.float32, tl.float64, tl.int64, tl.bool)] == [0, 1, 2, 3]


def test_every_exported_c_function_is_declared():
    """Each non-static tl_ function in csrc/*.c is in the public header's cdef block, except the
    strided-iterator helpers, which internal.h declares for the kernel files only."""
    declared = set(declared_functions())
    internal = set(re.findall(r"\b(tl_\w+)\s*\(", _strip_comments(open(os.path.join(CSRC, "internal.h")).read())))
    found, undeclared = 0, []
    for path in C_FILES:
        for name, is_static in defined_functions(path):
            if is_static:
                continue
            found += 1
            if name not in declared and name not in internal:
                undeclared.append(f"{os.path.basename(path)}: {name}")
    assert found >= 20
    assert not undeclared, f"non-static C functions missing from tinygrad_lab.h: {undeclared}"
    assert not (internal & declared), "internal helpers must not be part of the public cdef"


def test_every_declared_function_is_defined():
    defined = {name for path in C_FILES for name, _ in defined_functions(path)}
    assert set(declared_functions()) <= defined


def test_version_matches_package():
    from tinygrad_lab.kernels import ffi
    assert ffi.string(lib.tl_version()).decode() == tl.__version__ == _build.VERSION


# ---- SIMD fallback ------------------------------------------------------------------------------

def _ulps(a, b):
    a, b = np.asarray(a), np.asarray(b)
    scale = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(a.dtype))
    return np.abs(a.astype(np.float64) - b.astype(np.float64)) / scale.astype(np.float64)


OPS = {
    "exp": lambda x: tl.exp(x), "tanh": lambda x: tl.tanh(x), "sigmoid": lambda x: tl.sigmoid(x),
    "log": lambda x: tl.log(tl.abs(x) + 0.1), "sqrt": lambda x: tl.sqrt(tl.abs(x)),
    "sin": lambda x: tl.sin(x), "gelu": lambda x: tl.gelu(x), "mul_add": lambda x: x * 1.5 + x,
    "sum": lambda x: x.sum(dim=0), "max": lambda x: x.max(dim=1),
}


@pytest.mark.parametrize("dt", [tl.float32, tl.float64])
@pytest.mark.parametrize("op", list(OPS))
def test_portable_kernels_match_simd(dt, op):
    detected = lib.tl_simd_level()
    if detected < 1:
        pytest.skip("this CPU has no AVX2+FMA: only the portable kernels exist")
    tl.manual_seed(11)
    x = tl.randn(40, 25, dtype=dt) * 3          # 1000 values
    try:
        results = {}
        for level in (0, detected):
            assert lib.tl_set_simd_level(level) == 0
            assert lib.tl_simd_level() == level
            results[level] = (OPS[op](x).numpy().copy(), OPS[op](x.T).numpy().copy())
    finally:
        assert lib.tl_set_simd_level(detected) == 0
    for portable, simd in zip(results[0], results[detected]):
        assert np.array_equal(np.isnan(portable), np.isnan(simd))
        ok = np.isfinite(portable)
        assert np.array_equal(ok, np.isfinite(simd))
        tol = 4 if op not in ("sum",) else 64    # sums may associate differently
        assert _ulps(portable[ok], simd[ok]).max(initial=0) <= tol


def test_simd_level_restored():
    assert lib.tl_simd_level() in (0, 1, 2)
    names = {0: "portable C", 1: "avx2+fma", 2: "avx512"}
    assert tl._config.config()["simd"] == names[lib.tl_simd_level()]


def test_build_module_imports_without_the_source_tree(tmp_path):
    """An installed copy has tinygrad_lab/_build.py but no csrc/: importing it must not fail."""
    pkg = tmp_path / "tinygrad_lab"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_build.py").write_text(open(_build.__file__).read())
    code = "from tinygrad_lab import _build; assert _build.ffibuilder is None; print(_build.read_cdef)"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_build_module_in_the_source_tree_has_the_builder():
    assert _build.ffibuilder is not None
