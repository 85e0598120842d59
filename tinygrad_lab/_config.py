"""Threads and the build/machine report users paste into bug reports."""
import operator
import platform
import sys

import numpy as np

from . import kernels as K
from .kernels import ffi


def _threaded():
    """False for a serial build (TINYGRAD_LAB_THREADS=0 at build time)."""
    return not ffi.string(K.tl_threads_backend()).startswith(b"serial")


def set_num_threads(n):
    """Threads the C kernels may use (csrc/pool.c's pthreads pool; the calling thread counts as
    one). Default: the TL_NUM_THREADS environment variable, else OMP_NUM_THREADS, else the cores
    this process may run on (its CPU affinity mask)."""
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    if n > 4096:
        raise ValueError(f"set_num_threads: {n} threads is more than the 4096 supported")
    if not _threaded() and n != 1:
        raise RuntimeError("set_num_threads: this build has no threads (built with "
                           "TINYGRAD_LAB_THREADS=0); only 1 thread is available")
    K.tl_set_num_threads(n)


def get_num_threads():
    return K.tl_get_num_threads()


def config():
    """The facts show_config prints, as a dict."""
    s = lambda p: ffi.string(p).decode()  # noqa: E731
    return {
        "tinygrad_lab": s(K.tl_version()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "compiler": s(K.tl_compiler()),
        "build flags": s(K.tl_build_flags()),
        "simd": s(K.tl_simd_name()),
        "threads backend": s(K.tl_threads_backend()),
        "threads": get_num_threads(),
    }


def show_config(file=None):
    """Print what a bug report needs: versions, compiler and flags, the SIMD level chosen at run
    time, the thread count, NumPy's version."""
    cfg = config()
    width = max(len(k) for k in cfg)
    lines = ["tinygrad_lab configuration"] + [f"  {k:<{width}} : {v}" for k, v in cfg.items()]
    print("\n".join(lines), file=file or sys.stdout)
