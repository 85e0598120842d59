"""The six dtypes and PyTorch's promotion rules.

float16 and bfloat16 are storage types (two bytes an element): kernels compute in float32 and
round back (csrc/half.h). NumPy has float16; bfloat16 arrays exist only through the
``ml_dtypes`` package, so without it ``tl.bfloat16.np`` is None and NumPy interop of bfloat16
tensors raises a TypeError that says to call ``.float()`` first. ml_dtypes is imported on the
first use of ``tl.bfloat16.np``, not with tinygrad_lab: importing it takes 0.3-1 s, and a NumPy
bfloat16 array can only exist once its owner has imported ml_dtypes anyway.
"""
import importlib
import sys

import numpy as np


class DType:
    """A tensor element type. Compare with ``is`` or ``==``; ``repr`` is ``tl.float32``.
    ``np`` is the NumPy dtype of its values (None for bfloat16 without ml_dtypes), ``raw`` the
    NumPy dtype that views its bytes as they are (uint16 for bfloat16)."""

    __slots__ = ("name", "np", "raw", "code", "itemsize", "is_floating_point", "is_half")

    def __init__(self, name, np_dtype, code, raw=None):
        self.name = name
        self.np = np.dtype(np_dtype) if np_dtype is not None else None
        self.raw = np.dtype(raw) if raw is not None else self.np
        self.code = code                       # the C enum tl_dtype
        self.itemsize = self.raw.itemsize
        self.is_floating_point = self.raw.kind == "f" or name == "bfloat16"
        self.is_half = self.itemsize == 2

    def __repr__(self):
        return f"tl.{self.name}"

    def __reduce__(self):                      # pickles as the singleton
        return (_by_name, (self.name,))


_UNRESOLVED = object()


class _BFloat16(DType):
    """bfloat16, whose ``np`` (ml_dtypes.bfloat16, or None without ml_dtypes) is looked up on
    first read (see the module docstring)."""

    __slots__ = ("_np",)

    @property
    def np(self):
        if self._np is _UNRESOLVED:
            try:
                self._np = np.dtype(importlib.import_module("ml_dtypes").bfloat16)
            except ImportError:
                self._np = None
        return self._np

    @np.setter
    def np(self, value):                       # DType.__init__, and tests that hide ml_dtypes
        self._np = _UNRESOLVED if value is _UNRESOLVED else value


float32 = DType("float32", np.float32, 0)
float64 = DType("float64", np.float64, 1)
int64 = DType("int64", np.int64, 2)
bool_ = DType("bool", np.bool_, 3)
float16 = DType("float16", np.float16, 4)
bfloat16 = _BFloat16("bfloat16", None, 5, raw=np.uint16)
bfloat16.np = _UNRESOLVED
ALL = (float32, float64, int64, bool_, float16, bfloat16)
_BY_NP = {d.np: d for d in ALL if d is not bfloat16}   # bfloat16: is_numpy_bfloat16
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(half=float16, float=float32, double=float64, long=int64)

_default_float = float32


def is_numpy_bfloat16(nd):
    """True when NumPy dtype ``nd`` is ml_dtypes' bfloat16 (without importing ml_dtypes: such a
    dtype exists only once something imported it)."""
    return nd.name == "bfloat16" and "ml_dtypes" in sys.modules and nd == bfloat16.np


def _by_name(name):
    return _BY_NAME[name]


def set_default_dtype(dtype):
    """Set the dtype of Python floats and of float results of int ops (float32 or float64)."""
    global _default_float
    dtype = as_dtype(dtype)
    if not dtype.is_floating_point or dtype.is_half:
        raise TypeError(f"set_default_dtype: expected tl.float32 or tl.float64, got {dtype!r}")
    _default_float = dtype


def get_default_dtype():
    return _default_float


def as_dtype(d):
    """Accept a tl dtype, a NumPy dtype/type, or a name such as 'float32'."""
    if isinstance(d, DType):
        return d
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    if d is bool:
        return bool_
    if d is float:
        return _default_float
    if d is int:
        return int64
    try:
        nd = np.dtype(d)
    except TypeError:
        nd = None
    if nd is not None and nd in _BY_NP:
        return _BY_NP[nd]
    if nd is not None and is_numpy_bfloat16(nd):
        return bfloat16
    raise TypeError(f"unsupported dtype {d!r}: expected one of tl.float32, tl.float64, tl.float16, "
                    "tl.bfloat16, tl.int64, tl.bool")


def from_numpy_dtype(nd):
    """The tl dtype a NumPy array of dtype ``nd`` becomes (int32 -> int64, uint8 -> int64...;
    float16 and ml_dtypes' bfloat16 stay what they are)."""
    nd = np.dtype(nd)
    if nd in _BY_NP:
        return _BY_NP[nd]
    if is_numpy_bfloat16(nd):
        return bfloat16
    if nd.kind == "f":
        return float64 if nd.itemsize >= 8 else float32  # longdouble and >f8 -> float64
    if nd.kind in "iu":
        return int64
    raise TypeError(f"unsupported NumPy dtype {nd}: expected a float, integer or bool array")


def _category(d):
    return 2 if d.is_floating_point else (1 if d is int64 else 0)


_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}


def promote(a, b):
    """Result dtype of a binary op between two tensors (PyTorch's rules for these dtypes)."""
    if a is b:
        return a
    ca, cb = _category(a), _category(b)
    if ca == cb == 2:                           # the wider float; float16 with bfloat16: float32
        ra, rb = _FLOAT_RANK[a.name], _FLOAT_RANK[b.name]
        return float32 if ra == rb else (a if ra > rb else b)
    return a if ca > cb else b


def promote_tensors(a, b):
    """Result dtype of a binary op between tensors ``a`` and ``b`` (dtypes and dims), PyTorch's
    rule: a 0-d tensor only decides the dtype when it is of a higher category (bool < int <
    float) than the dimensioned one, so float32 * tensor(2.0, float64) stays float32."""
    da, db = a.dtype, b.dtype
    if da is db:
        return da
    za, zb = a.ndim == 0, b.ndim == 0
    if za != zb:
        dim_, zero = (db, da) if za else (da, db)
        return zero if _category(zero) > _category(dim_) else dim_
    return promote(da, db)


def promote_scalar(t, s):
    """Result dtype of tensor dtype ``t`` combined with a Python scalar ``s``: a scalar never
    widens a tensor of the same category (float32 * 2.5 stays float32)."""
    if isinstance(s, bool):
        return t
    if isinstance(s, int):
        return t if t is not bool_ else int64
    if isinstance(s, float):
        return t if t.is_floating_point else _default_float
    raise TypeError(f"expected a Tensor or a Python number, got {type(s).__name__}")


def float_result(d):
    """Result dtype of ops that need floats (exp, mean, ...): ints and bools become the default."""
    return d if d.is_floating_point else _default_float
