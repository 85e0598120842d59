"""The compiled C core (tinygrad_lab._C), loaded once. Only the storage layer (tensor.py: the
allocator) and the kernel-call layer (kernels.py: every other C call) use it."""
try:
    from ._C import ffi, lib
except ImportError as e:  # pragma: no cover - only on a broken install
    raise ImportError(
        "tinygrad_lab's C extension (tinygrad_lab._C) is not built. Install the package with "
        "`pip install .` (or `pip install -e .`) from the source tree; that compiles csrc/."
    ) from e

NULL = ffi.NULL
MAX_DIMS = lib.TL_MAX_DIMS
