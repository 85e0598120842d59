"""cffi builder (API / out-of-line mode), run by setuptools through ``cffi_modules``.

The cdef is read from csrc/tinygrad_lab.h (the block between the cdef markers) and set_source
includes that same header, so declarations and definitions are checked against each other by the
C compiler at build time.
"""
import glob
import os
import re

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")
HEADER = os.path.join(CSRC, "tinygrad_lab.h")
VERSION = "0.1.0"


def read_cdef(path=HEADER):
    """Return the declaration block of the public header (the text cffi's cdef() receives)."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"/\* cdef-begin \*/(.*?)/\* cdef-end \*/", text, re.S)
    if m is None:
        raise RuntimeError(f"{path}: cdef-begin/cdef-end markers not found")
    return m.group(1)


def _use_threads():
    # TINYGRAD_LAB_THREADS=0 builds a serial library: csrc/pool.c then starts no threads and runs
    # every chunk of work in the calling thread.
    return os.environ.get("TINYGRAD_LAB_THREADS", "1") not in ("0", "", "no", "false")


def _flags():
    # No -march=native: AVX2+FMA kernels are compiled with target attributes and chosen at run
    # time, so the built extension runs on any x86-64 (and the code builds on other CPUs).
    # -fno-trapping-math (Clang's default) lets GCC if-convert and vectorise loops with selects,
    # such as nn.c's exp; -fno-math-errno (no kernel reads errno) lets it vectorise sqrt, e.g. in
    # the Adam/RMSprop updates. Results are unchanged; only FP exception flags/errno are not kept.
    # -fopenmp-simd honours the `omp simd` vectorisation hints without OpenMP's runtime: the
    # threads are csrc/pool.c's own.
    cflags = ["-O3", "-std=gnu11", "-fno-strict-aliasing", "-fno-trapping-math", "-fno-math-errno",
              "-fopenmp-simd", "-pthread", "-Wall", "-Wno-unused-function"]
    ldflags = ["-pthread"]          # (alloc.c's cache has a mutex even in a serial build)
    if not _use_threads():
        cflags.append("-DTL_NO_THREADS")
    extra = os.environ.get("TINYGRAD_LAB_CFLAGS", "").split()
    return cflags + extra, ldflags


def make_builder():
    """The cffi builder of tinygrad_lab._C from csrc/ (needs the source tree)."""
    cflags, ldflags = _flags()
    builder = FFI()
    builder.cdef(read_cdef())
    builder.set_source(
        "tinygrad_lab._C",
        '#include "tinygrad_lab.h"',
        sources=sorted(os.path.relpath(p, os.path.dirname(HERE)) for p in glob.glob(os.path.join(CSRC, "*.c"))),
        include_dirs=[CSRC],
        # headers and .inc templates: editing one rebuilds the extension (setuptools compares times)
        depends=sorted(os.path.relpath(p, os.path.dirname(HERE)) for ext in ("*.h", "*.inc")
                       for p in glob.glob(os.path.join(CSRC, ext))),
        define_macros=[("TL_VERSION", f'"{VERSION}"'), ("TL_BUILD_FLAGS", '"' + " ".join(cflags) + '"')],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    return builder


# setup.py's cffi_modules reads this name. An installed copy has no csrc/ (only the source tree
# and the sdist do), so there the module still imports and ffibuilder is None.
ffibuilder = make_builder() if os.path.isfile(HEADER) else None

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
