"""Threads and the build/machine report users paste into bug reports."""
import platform
import sys

import numpy as np

from ._lib import ffi, lib


def set_num_threads(n):
    """Threads the C kernels may use (OpenMP). Default: the cores this process may run on."""
    import operator
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    if n > 4096:
        raise ValueError(f"set_num_threads: {n} threads is more than the 4096 supported")
    if not lib.tl_openmp_enabled() and n != 1:
        raise RuntimeError("set_num_threads: this build has no OpenMP; only 1 thread is available")
    lib.tl_set_num_threads(n)


def get_num_threads():
    return lib.tl_get_num_threads()


def config():
    """The facts show_config prints, as a dict."""
    s = lambda p: ffi.string(p).decode()  # noqa: E731
    return {
        "tinygrad_lab": s(lib.tl_version()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "compiler": s(lib.tl_compiler()),
        "build flags": s(lib.tl_build_flags()),
        "openmp": bool(lib.tl_openmp_enabled()),
        "simd": s(lib.tl_simd_name()),
        "threads": get_num_threads(),
        "dynamic threads": bool(lib.tl_dynamic_threads()),
    }


def show_config(file=None):
    """Print what a bug report needs: versions, compiler and flags, the SIMD level chosen at run
    time, the thread count, NumPy's version."""
    cfg = config()
    width = max(len(k) for k in cfg)
    lines = ["tinygrad_lab configuration"] + [f"  {k:<{width}} : {v}" for k, v in cfg.items()]
    print("\n".join(lines), file=file or sys.stdout)
