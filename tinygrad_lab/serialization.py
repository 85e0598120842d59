"""tl.save / tl.load: state dicts (nested dicts, lists and tuples of Tensors and Python scalars)
in a NumPy .npz archive.

The archive holds one array per distinct Tensor (``t0``, ``t1``, ...; dtype and shape exactly as
the tensor's) and a JSON description of the structure (entry ``structure.json``, stored as a
uint8 array). Loading uses ``np.load(allow_pickle=False)`` and json, so it never runs code
from the file. JSON values are tagged so that everything round-trips: ``{"tensor": i,
"requires_grad": b}``, ``{"dict": [[key, value], ...]}`` (keys may be ints, e.g. optimizer state
indices), ``{"list": [...]}``, ``{"tuple": [...]}``, ``{"float": "inf"}`` for non-finite floats,
``{"ndarray": i}`` for NumPy arrays, ``{"dtype": "float32"}``; None, bools, ints, finite floats
and strings are plain JSON. A Tensor that appears twice is stored once and loads as one Tensor;
distinct views of one storage load as independent tensors.
"""
import json
import math
import os

import numpy as np

from . import dtypes
from .dtypes import DType
from .creation import tensor
from .tensor import Tensor

FORMAT = "tinygrad_lab.save"
VERSION = 1
_STRUCTURE = "structure.json"
_ARRAY_DTYPES = {np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_)}


def _encode(obj, arrays, seen, path):
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"float": repr(obj)}
    if isinstance(obj, Tensor):
        key = ("t", id(obj))
        if key not in seen:
            seen[key] = len(arrays)
            arrays.append(obj.detach().numpy())
        return {"tensor": seen[key], "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "fiub" or obj.dtype.byteorder == ">":
            raise TypeError(f"tl.save: unsupported NumPy array dtype {obj.dtype} at {path}")
        arrays.append(obj)
        return {"ndarray": len(arrays) - 1}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays, seen, path)
    if isinstance(obj, DType):
        return {"dtype": obj.name}
    if isinstance(obj, dict):
        return {"dict": [[_encode_key(k, path), _encode(v, arrays, seen, f"{path}[{k!r}]")]
                         for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, seen, f"{path}[{i}]") for i, v in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": items}
    raise TypeError(f"tl.save: cannot store {type(obj).__name__} at {path}; supported: Tensors, "
                    "NumPy arrays, dicts, lists, tuples, str, int, float, bool, None")


def _encode_key(k, path):
    if k is None or isinstance(k, (bool, int, str)) or (isinstance(k, float) and math.isfinite(k)):
        return k
    if isinstance(k, tuple):
        return {"tuple": [_encode_key(x, path) for x in k]}
    raise TypeError(f"tl.save: unsupported dict key {k!r} ({type(k).__name__}) in {path}")


def save(obj, f):
    """Write ``obj`` (a Tensor, or nested dicts/lists/tuples of Tensors and Python scalars such
    as a module's or an optimizer's state_dict) to ``f`` (a path or a binary file object)."""
    arrays, seen = [], {}
    root = _encode(obj, arrays, seen, "obj")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False)
    entries = {f"t{i}": a for i, a in enumerate(arrays)}
    entries[_STRUCTURE] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "wb") as fh:          # np.savez(path) would append ".npz" to the name
            np.savez(fh, **entries)
    else:
        np.savez(f, **entries)


class _Decoder:
    def __init__(self, archive):
        self.archive = archive
        self.tensors = {}

    def array(self, i):
        if not isinstance(i, int) or isinstance(i, bool) or f"t{i}" not in self.archive.files:
            raise ValueError(f"tl.load: the structure refers to a missing array {i!r}")
        a = self.archive[f"t{i}"]
        if a.dtype not in _ARRAY_DTYPES:
            raise ValueError(f"tl.load: array t{i} has unsupported dtype {a.dtype}")
        return a

    def __call__(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list) or not isinstance(node, dict) or len(node) not in (1, 2):
            raise ValueError(f"tl.load: malformed structure entry {node!r:.80}")
        if "tensor" in node:
            i = node["tensor"]
            if i not in self.tensors:
                t = tensor(self.array(i))
                if node.get("requires_grad") is True and t.dtype.is_floating_point:
                    t.requires_grad_(True)
                self.tensors[i] = t
            return self.tensors[i]
        if len(node) != 1:
            raise ValueError(f"tl.load: malformed structure entry {node!r:.80}")
        (tag, value), = node.items()
        if tag == "dict" and isinstance(value, list):
            out = {}
            for pair in value:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError("tl.load: malformed dict entry in the structure")
                out[self.key(pair[0])] = self(pair[1])
            return out
        if tag == "list" and isinstance(value, list):
            return [self(v) for v in value]
        if tag == "tuple" and isinstance(value, list):
            return tuple(self(v) for v in value)
        if tag == "float" and value in ("inf", "-inf", "nan"):
            return float(value)
        if tag == "ndarray":
            return np.array(self.array(value))
        if tag == "dtype" and value in ("float32", "float64", "int64", "bool"):
            return dtypes.as_dtype(value)
        raise ValueError(f"tl.load: unknown structure entry {node!r:.80}")

    def key(self, k):
        if isinstance(k, dict) and set(k) == {"tuple"} and isinstance(k["tuple"], list):
            return tuple(self.key(x) for x in k["tuple"])
        if k is None or isinstance(k, (bool, int, float, str)):
            return k
        raise ValueError(f"tl.load: malformed dict key {k!r:.80}")


def load(f, map_location=None, weights_only=True):
    """Read an object written by ``tl.save`` from ``f`` (a path or a binary file object).
    Tensors come back with their dtype, shape and requires_grad; no code from the file is ever
    executed. ``map_location`` and ``weights_only`` are accepted for PyTorch compatibility and
    ignored (there is one device, and loading is always data-only)."""
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_from(fh)
    return _load_from(f)


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _load_from(fh):
    try:
        archive = np.load(fh, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any parse failure means "not our format"
        raise ValueError(f"tl.load: not a tl.save archive ({type(e).__name__}: {e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("tl.load: not a tl.save archive (a single .npy array, not an .npz)")
    with archive:
        if _STRUCTURE not in archive.files:
            raise ValueError("tl.load: not a tl.save archive (no structure.json entry)")
        try:
            meta = json.loads(archive[_STRUCTURE].tobytes().decode("utf-8"),
                              parse_constant=_reject_constant)
        except ValueError as e:       # includes UnicodeDecodeError and JSONDecodeError
            raise ValueError(f"tl.load: unreadable structure description ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("tl.load: not a tl.save archive (wrong format tag)")
        if meta.get("version") != VERSION:
            raise ValueError(f"tl.load: unsupported format version {meta.get('version')!r} "
                             f"(this build reads version {VERSION})")
        return _Decoder(archive)(meta.get("root"))
