"""The compiled C core (tinygrad_lab._C) and the small helpers every call into it uses."""
try:
    from ._C import ffi, lib
except ImportError as e:  # pragma: no cover - only on a broken install
    raise ImportError(
        "tinygrad_lab's C extension (tinygrad_lab._C) is not built. Install the package with "
        "`pip install .` (or `pip install -e .`) from the source tree; that compiles csrc/."
    ) from e

NULL = ffi.NULL
MAX_DIMS = lib.TL_MAX_DIMS

_STATUS = {
    lib.TL_EINVAL: (ValueError, "invalid argument"),
    lib.TL_EDTYPE: (TypeError, "unsupported dtype"),
    lib.TL_EINDEX: (IndexError, "index out of range"),
    lib.TL_ENOMEM: (MemoryError, "out of memory"),
}


def check(rc, what):
    """Turn a kernel status code into a Python exception that names the call."""
    if rc:
        exc, text = _STATUS.get(rc, (RuntimeError, f"status {rc}"))
        raise exc(f"{what}: {text}")


_I64_CACHE = {}


def i64(seq):
    """A C int64_t array holding ``seq`` (shapes and strides; kernels only read them). Arrays are
    cached by value because ffi.new costs ~0.5 us and the same shapes recur on every step."""
    key = seq if type(seq) is tuple else tuple(seq)
    arr = _I64_CACHE.get(key)
    if arr is None:
        if not key:
            return NULL
        arr = ffi.new("int64_t[]", key)
        if len(_I64_CACHE) > 8192:
            _I64_CACHE.clear()
        _I64_CACHE[key] = arr
    return arr
