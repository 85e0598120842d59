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

``tl.load`` reads the archive with ``zipfile`` and ``np.lib.format`` itself: before it allocates
anything it reads every member's .npy header and refuses an archive whose arrays would together
exceed ``max_bytes`` (default ``MAX_BYTES``, 2 GiB), a member that is not an .npy array, an object
(pickled) dtype, or a member shorter than its header says. Every failure is a ``ValueError``
``tl.load: <file>: <what was wrong>``.
"""
import json
import math
import os
import zipfile
import zlib

import numpy as np

from . import dtypes
from .dtypes import DType
from .creation import tensor
from .tensor import Tensor

FORMAT = "tinygrad_lab.save"
VERSION = 1
_STRUCTURE = "structure.json"
MAX_BYTES = 2 * 1024 ** 3     # tl.load's default cap on the arrays' total size (2 GiB)
_MAX_DEPTH = 100              # nesting levels of the structure tl.load accepts
_ARRAY_DTYPES = {np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_),
                 np.dtype(np.float16), np.dtype(np.uint16)}   # (uint16: bfloat16's bits)


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
            # raw storage: bfloat16 is stored as its uint16 bits (NumPy has no bfloat16 type),
            # tagged so that tl.load gives it back as bfloat16
            arrays.append(np.array(obj.detach()._view_numpy(raw=True)))
        node = {"tensor": seen[key], "requires_grad": bool(obj.requires_grad)}
        if obj.dtype is dtypes.bfloat16:
            node["bits_of"] = "bfloat16"
        return node
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


# what reading a damaged zip member can raise (bad CRC, deflate data, compression method, length)
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError)


class _Bad(Exception):
    """What is wrong with the file being loaded; load() adds ``tl.load: <file>: ``."""


class _Archive:
    """The .npy members of a zip, their headers read (and checked) without reading any data."""

    def __init__(self, zf, max_bytes):
        self.zf = zf
        self.members = {}          # name without .npy -> ZipInfo
        total = 0
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise _Bad(f"unexpected member {info.filename!r:.80} (not an .npy array)")
            name = info.filename[:-4]
            try:
                with zf.open(info) as m:
                    version = np.lib.format.read_magic(m)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                            np.lib.format.read_array_header_2_0 if version == (2, 0) else None)
                    if read is not None:
                        shape, _, dtype = read(m)
                        offset = m.tell()
            except Exception as e:  # noqa: BLE001 - NumPy parses the header with tokenize/ast,
                # which can raise almost anything (SyntaxError, TokenError...) on a hostile one
                raise _Bad(f"array {name!r:.80}: unreadable .npy header "
                           f"({type(e).__name__}: {e})") from None
            if read is None:
                raise _Bad(f"array {name!r:.80}: unsupported .npy version {version}")
            if dtype.hasobject:
                raise _Bad(f"array {name!r:.80}: object dtype {dtype} (would need unpickling)")
            if not all(isinstance(n, int) and n >= 0 for n in shape):
                raise _Bad(f"array {name!r:.80}: bad shape {shape!r:.80}")
            nbytes = math.prod(shape) * dtype.itemsize
            total += nbytes
            if max_bytes is not None and total > max_bytes:
                raise _Bad(f"the arrays need more than max_bytes={max_bytes} bytes (at least "
                           f"{total}); pass a larger max_bytes to load it")
            if info.file_size < offset + nbytes:
                raise _Bad(f"array {name!r:.80} is truncated: its header says {shape} {dtype} "
                           f"({nbytes} bytes), the member holds {info.file_size - offset}")
            self.members[name] = info

    @property
    def files(self):
        return self.members

    def __getitem__(self, name):
        try:
            with self.zf.open(self.members[name]) as m:
                return np.lib.format.read_array(m, allow_pickle=False)
        except _READ_ERRORS as e:
            raise _Bad(f"array {name!r:.80} is unreadable ({type(e).__name__}: {e})") from None


class _Decoder:
    def __init__(self, archive):
        self.archive = archive
        self.tensors = {}

    def array(self, i):
        if not isinstance(i, int) or isinstance(i, bool) or f"t{i}" not in self.archive.files:
            raise _Bad(f"the structure refers to a missing array {i!r:.80}")
        a = self.archive[f"t{i}"]
        if a.dtype not in _ARRAY_DTYPES:
            raise _Bad(f"array t{i} has unsupported dtype {a.dtype}")
        return a

    def __call__(self, node, depth=0):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if depth > _MAX_DEPTH:
            raise _Bad(f"the structure is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(node, list) or not isinstance(node, dict) or len(node) not in (1, 2, 3):
            raise _Bad(f"malformed structure entry {node!r:.80}")
        if "tensor" in node:
            i = node["tensor"]
            if not isinstance(i, int) or isinstance(i, bool):
                raise _Bad(f"malformed structure entry {node!r:.80}")
            if i not in self.tensors:
                a = self.array(i)
                if node.get("bits_of") == "bfloat16":
                    if a.dtype != np.uint16:
                        raise _Bad(f"array t{i} holds bfloat16 bits but is {a.dtype}")
                    # bfloat16 -> float32 is exact: the bits shifted up 16 (no ml_dtypes needed)
                    t = tensor((a.astype(np.uint32) << 16).view(np.float32), dtype=dtypes.bfloat16)
                else:
                    t = tensor(a)
                if node.get("requires_grad") is True and t.dtype.is_floating_point:
                    t.requires_grad_(True)
                self.tensors[i] = t
            return self.tensors[i]
        if len(node) != 1:
            raise _Bad(f"malformed structure entry {node!r:.80}")
        (tag, value), = node.items()
        depth += 1
        if tag == "dict" and isinstance(value, list):
            out = {}
            for pair in value:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _Bad("malformed dict entry in the structure")
                out[self.key(pair[0], depth)] = self(pair[1], depth)
            return out
        if tag == "list" and isinstance(value, list):
            return [self(v, depth) for v in value]
        if tag == "tuple" and isinstance(value, list):
            return tuple(self(v, depth) for v in value)
        if tag == "float" and value in ("inf", "-inf", "nan"):
            return float(value)
        if tag == "ndarray":
            return np.array(self.array(value))
        if tag == "dtype" and value in ("float32", "float64", "int64", "bool", "float16", "bfloat16"):
            return dtypes.as_dtype(value)
        raise _Bad(f"unknown structure entry {node!r:.80}")

    def key(self, k, depth):
        if depth > _MAX_DEPTH:
            raise _Bad(f"the structure is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(k, dict) and set(k) == {"tuple"} and isinstance(k["tuple"], list):
            return tuple(self.key(x, depth + 1) for x in k["tuple"])
        if k is None or isinstance(k, (bool, int, float, str)):
            return k
        raise _Bad(f"malformed dict key {k!r:.80}")


def load(f, map_location=None, weights_only=True, *, max_bytes=MAX_BYTES):
    """Read an object written by ``tl.save`` from ``f`` (a path or a binary file object).
    Tensors come back with their dtype, shape and requires_grad; no code from the file is ever
    executed. Refuses, before allocating them, arrays totalling more than ``max_bytes`` bytes
    (default 2 GiB; None for no cap). Any problem with the file raises ValueError
    ``tl.load: <file>: <what>``. ``map_location`` and ``weights_only`` are accepted for PyTorch
    compatibility and ignored (there is one device, and loading is always data-only)."""
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                  or max_bytes < 0):
        raise ValueError(f"tl.load: max_bytes must be a non-negative int or None, got "
                         f"{max_bytes!r}")
    if isinstance(f, (str, bytes, os.PathLike)):
        name = os.fsdecode(f)
        with open(f, "rb") as fh:
            return _load_named(fh, name, max_bytes)
    return _load_named(f, getattr(f, "name", None) or f"<{type(f).__name__}>", max_bytes)


def _load_named(fh, name, max_bytes):
    try:
        return _load_from(fh, max_bytes)
    except _Bad as e:
        raise ValueError(f"tl.load: {name}: {e}") from None
    except RecursionError:
        raise ValueError(f"tl.load: {name}: the structure is nested too deeply") from None


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _load_from(fh, max_bytes):
    try:
        zf = zipfile.ZipFile(fh)
    except _READ_ERRORS as e:
        raise _Bad(f"not a tl.save archive (not a zip file: {e})") from None
    with zf:
        archive = _Archive(zf, max_bytes)
        if _STRUCTURE not in archive.files:
            raise _Bad("not a tl.save archive (no structure.json entry)")
        raw = archive[_STRUCTURE]
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise _Bad(f"not a tl.save archive (structure.json is {raw.dtype} {raw.shape}, "
                       "not uint8 bytes)")
        try:
            meta = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_reject_constant)
        except ValueError as e:       # includes UnicodeDecodeError and JSONDecodeError
            raise _Bad(f"unreadable structure description ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise _Bad("not a tl.save archive (wrong format tag)")
        if meta.get("version") != VERSION:
            raise _Bad(f"unsupported format version {meta.get('version')!r:.40} "
                       f"(this build reads version {VERSION})")
        if "root" not in meta:
            raise _Bad("the structure description has no 'root'")
        return _Decoder(archive)(meta["root"])
