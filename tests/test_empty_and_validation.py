"""Issue 13: empty tensors where PyTorch allows them, and the validation PyTorch does (hook
gradients, BCE targets, tl.load's limits, show_config's flags). Fixed expectations, plus the same
cases against PyTorch when it is installed."""
import functools
import io
import json
import zipfile

import numpy as np
import pytest

import tinygrad_lab as tl

REDUCTIONS = ["max", "min", "argmax", "argmin", "logsumexp"]
# (shape, dim, keepdim): reductions of 0-element tensors, allowed or not
EMPTY_CASES = [((0, 3), 1, False), ((0, 3), -1, True), ((0, 3), 0, False), ((0, 3), 0, True),
               ((0, 3), None, False), ((2, 0), 0, False), ((2, 0), 1, True), ((0,), 0, False),
               ((2, 0, 3), 2, False), ((2, 0, 3), 0, True)]


def _run(lib, name, shape, dim, keepdim):
    x = lib.zeros(*shape)
    f = getattr(lib, name)
    if dim is None:
        r = f(x, dim=()) if name == "logsumexp" and lib is not tl else f(x)
    else:
        r = f(x, dim, keepdim=keepdim)
    return r[0] if isinstance(r, tuple) else r


def _outcome(lib, name, shape, dim, keepdim):
    try:
        r = _run(lib, name, shape, dim, keepdim)
    except Exception as e:  # noqa: BLE001 - the error type and message are the result
        return type(e).__name__, str(e)
    return tuple(r.shape), np.asarray(r.tolist(), dtype=float).tolist()


def test_empty_reductions_fixed():
    assert _run(tl, "max", (0, 3), 1, False).shape == (0,)
    assert _run(tl, "min", (0, 3), 1, True).shape == (0, 1)
    r = _run(tl, "argmax", (0, 3), 1, False)
    assert r.shape == (0,) and r.dtype is tl.int64
    assert _run(tl, "logsumexp", (0, 3), 0, False).tolist() == [-np.inf] * 3
    assert _run(tl, "logsumexp", (0, 3), 1, False).shape == (0,)
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero"):
        tl.zeros(0, 3).max(0)
    with pytest.raises(RuntimeError, match=r"min\(\): Expected reduction dim to be specified"):
        tl.zeros(0, 3).min()
    with pytest.raises(IndexError, match=r"argmin\(\): Expected reduction dim to be specified"):
        tl.zeros(0, 3).argmin()
    with pytest.raises(IndexError, match="dim 1 to have non-zero"):
        tl.zeros(2, 0).argmax(-1)


def test_empty_reductions_backward():
    x = tl.zeros(0, 3, requires_grad=True)
    (tl.max(x, 1).sum() + tl.logsumexp(x, 0).sum() + tl.logsumexp(x, 1).sum()).backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("shape,dim,keepdim", EMPTY_CASES)
def test_empty_reductions_match_torch(name, shape, dim, keepdim):
    torch = pytest.importorskip("torch")
    want = _outcome(torch, name, shape, dim, keepdim)
    got = _outcome(tl, name, shape, dim, keepdim)
    assert got == want


@pytest.mark.parametrize("make", [
    lambda m: m.zeros(0, 2).T[1:], lambda m: m.zeros(3, 0)[5:], lambda m: m.zeros(2, 0, 3)[:, :, 1:],
    lambda m: m.zeros(4, 2).T[:, 4:], lambda m: m.zeros(0)[1:],
], ids=["T_slice", "past_end", "3d", "slice_to_empty", "1d"])
def test_empty_views_print_and_convert(make):
    t = make(tl)
    a = t.numpy()
    assert a.size == 0 and a.shape == t.shape
    assert "tensor([]" in repr(t) and "tensor([]" in str(t)
    assert t.tolist() == np.zeros(t.shape).tolist()
    assert np.asarray(t).shape == t.shape
    assert t.clone().shape == t.shape and t.contiguous().numpy().shape == t.shape
    torch = pytest.importorskip("torch")
    assert t.tolist() == make(torch).tolist()


# ---- gradient hooks: a replacement gradient must keep the shape and dtype ------------------------

BAD_HOOKS = [
    ("size", lambda m, g: m.ones(7), RuntimeError, r"hook '.*' has changed the size of value"),
    ("reshape", lambda m, g: g.reshape(3, 1), RuntimeError, "has changed the size of value"),
    ("dtype", lambda m, g: g.double(), RuntimeError, "has changed the type of value"),
    ("int", lambda m, g: g.long(), RuntimeError, "has changed the type of value"),
    ("float", lambda m, g: 3.0, TypeError, "hook returned 'float'"),
]


def _hooked(lib, leaf, bad):
    x = lib.ones(3, requires_grad=True)
    y = x if leaf else x * 2
    y.register_hook(lambda g: bad(lib, g))
    (y * 1).sum().backward()
    return x


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "nonleaf"])
@pytest.mark.parametrize("name,bad,err,msg", BAD_HOOKS, ids=[c[0] for c in BAD_HOOKS])
def test_hook_bad_gradient_raises(leaf, name, bad, err, msg):
    with pytest.raises(err, match=msg):
        _hooked(tl, leaf, bad)
    torch = pytest.importorskip("torch")
    with pytest.raises(err):
        _hooked(torch, leaf, bad)


def test_hook_error_names_shapes_and_good_hook_still_replaces():
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(7,\)"):
        _hooked(tl, True, BAD_HOOKS[0][1])
    x = _hooked(tl, False, lambda m, g: g * 10)
    assert x.grad.tolist() == [20.0, 20.0, 20.0]


# ---- binary_cross_entropy: targets outside [0, 1] or NaN are refused, as in PyTorch ---------------

BAD_TARGETS = [[0.0, 2.0, 0.5], [0.0, float("nan"), 1.0], [-0.1, 0.0, 1.0], [0.0, 1.0000001, 1.0]]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("target", BAD_TARGETS)
def test_bce_bad_target_raises(dt, target):
    F = tl.nn.functional
    x = tl.full((3,), 0.5, dtype=getattr(tl, dt), requires_grad=True)
    t = tl.tensor(target, dtype=getattr(tl, dt))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(x, t)
    with pytest.raises(ValueError, match="target should be between 0 and 1"):   # API.md: bad values
        tl.nn.BCELoss(reduction="none")(x, t)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        torch.nn.functional.binary_cross_entropy(torch.full((3,), 0.5, dtype=getattr(torch, dt)),
                                                 torch.tensor(target, dtype=getattr(torch, dt)))


def test_bce_target_checked_past_first_block_and_input_error_first():
    F = tl.nn.functional
    t = np.full(10000, 0.5)
    t[9999] = 3.0
    with pytest.raises(RuntimeError, match=r"target should be between 0 and 1, got values in "
                                           r"\[0\.5, 3\.0\]"):
        F.binary_cross_entropy(tl.full((10000,), 0.5), tl.tensor(t, dtype=tl.float32))
    with pytest.raises(RuntimeError, match="input values must be between 0 and 1"):
        F.binary_cross_entropy(tl.tensor([1.5]), tl.tensor([2.0]))   # PyTorch checks input first
    ok = F.binary_cross_entropy(tl.tensor([0.25, 0.5]), tl.tensor([0.0, 1.0]), reduction="sum")
    assert float(ok) == pytest.approx(-np.log(0.75) - np.log(0.5))


# ---- tl.load: size cap read from the .npy headers, and a tl.load: error for every bad file --------

def _npy(arr=None, header=None, data=b""):
    """The bytes of a .npy member: ``arr`` written by NumPy, or a hand-made ``header`` + data."""
    if arr is not None:
        b = io.BytesIO()
        np.lib.format.write_array(b, arr, allow_pickle=False)
        return b.getvalue()
    h = header.encode("latin1")
    h += b" " * (63 - (10 + len(h)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data


def _structure(root, fmt="tinygrad_lab.save", version=1):
    meta = json.dumps({"format": fmt, "version": version, "root": root})
    return _npy(np.frombuffer(meta.encode(), np.uint8))


def _zip(path, members, compress=False):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _load_error(path, **kw):
    with pytest.raises(ValueError) as e:
        tl.load(path, **kw)
    msg = str(e.value)
    assert msg.startswith(f"tl.load: {path}: "), msg
    return msg


def test_load_refuses_big_archive_before_allocating(tmp_path):
    # a 4 GiB float32 array declared in a header, its data absent: refused by the cap, not by
    # trying to allocate or read it
    big = _zip(tmp_path / "big.npz", {"structure.json.npy": _structure({"tensor": 0}),
                                      "t0.npy": _npy(header="{'descr': '<f4', 'fortran_order': "
                                                     "False, 'shape': (1073741824,), }")},
               compress=True)
    assert "max_bytes=2147483648" in _load_error(big)
    assert tl.serialization.MAX_BYTES == 2 * 1024 ** 3
    p = tmp_path / "ok.npz"
    tl.save({"w": tl.ones(100)}, p)       # 400 bytes of tensor + the structure
    assert "max_bytes=400" in _load_error(p, max_bytes=400)
    assert tl.load(p, max_bytes=1000)["w"].shape == (100,)
    assert tl.load(p, max_bytes=None)["w"].shape == (100,)
    with pytest.raises(ValueError, match="max_bytes must be"):
        tl.load(p, max_bytes=-1)


HOSTILE = {
    "not_zip": (lambda: b"hello, not a zip", "not a zip file"),
    "npy_not_npz": (lambda: _npy(np.ones(3)), "not a zip file"),
    "no_structure": (lambda: {"t0.npy": _npy(np.ones(3))}, "no structure.json"),
    "other_member": (lambda: {"structure.json.npy": _structure(None), "evil.pkl": b"x"},
                     "unexpected member 'evil.pkl'"),
    "object_dtype": (lambda: {"structure.json.npy": _structure({"tensor": 0}),
                              "t0.npy": _npy(header="{'descr': '|O', 'fortran_order': False, "
                                                    "'shape': (2,), }", data=b"\0" * 16)},
                     "object dtype"),
    "bad_dtype": (lambda: {"structure.json.npy": _structure({"tensor": 0}),
                           "t0.npy": _npy(header="{'descr': 'zz9', 'fortran_order': False, "
                                                 "'shape': (2,), }", data=b"\0" * 16)},
                  "unreadable .npy header"),
    "garbage_header": (lambda: {"structure.json.npy": _structure(None),
                                "t0.npy": b"\x93NUMPY\x01\x00\x10\x00{{{{{{{{{{{{{{{\n"},
                       "unreadable .npy header"),
    "short_member": (lambda: {"structure.json.npy": _structure(None), "t0.npy": b"\x93NU"},
                     "unreadable .npy header"),
    "truncated": (lambda: {"structure.json.npy": _structure({"tensor": 0}),
                           "t0.npy": _npy(np.arange(100.0))[:-8]}, "'t0' is truncated"),
    "int16_tensor": (lambda: {"structure.json.npy": _structure({"tensor": 0}),
                              "t0.npy": _npy(np.ones(3, np.int16))}, "unsupported dtype int16"),
    "structure_not_bytes": (lambda: {"structure.json.npy": _npy(np.ones(3))},
                            "structure.json is float64"),
    "bad_json": (lambda: {"structure.json.npy": _npy(np.frombuffer(b"{not json", np.uint8))},
                 "unreadable structure description"),
    "nan_json": (lambda: {"structure.json.npy": _npy(np.frombuffer(b'{"x": NaN}', np.uint8))},
                 "unreadable structure description"),
    "json_list": (lambda: {"structure.json.npy": _npy(np.frombuffer(b"[1, 2]", np.uint8))},
                  "wrong format tag"),
    "wrong_format": (lambda: {"structure.json.npy": _structure(None, fmt="other")},
                     "wrong format tag"),
    "wrong_version": (lambda: {"structure.json.npy": _structure(None, version=9)},
                      "unsupported format version 9"),
    "no_root": (lambda: {"structure.json.npy": _npy(np.frombuffer(
        b'{"format": "tinygrad_lab.save", "version": 1}', np.uint8))}, "no 'root'"),
    "missing_array": (lambda: {"structure.json.npy": _structure({"tensor": 3})},
                      "missing array 3"),
    "bool_index": (lambda: {"structure.json.npy": _structure({"tensor": True})},
                   "malformed structure entry"),
    "bad_tag": (lambda: {"structure.json.npy": _structure({"set": [1]})},
                "unknown structure entry"),
    "bad_dict": (lambda: {"structure.json.npy": _structure({"dict": [[1]]})},
                 "malformed dict entry"),
    "bad_key": (lambda: {"structure.json.npy": _structure({"dict": [[{"x": 1}, 2]]})},
                "malformed dict key"),
    "deep_structure": (lambda: {"structure.json.npy": _structure(
        functools.reduce(lambda a, _: {"list": [a]}, range(200), 1))},
        "nested more than 100 levels"),
    "deep_keys": (lambda: {"structure.json.npy": _structure({"dict": [[
        functools.reduce(lambda a, _: {"tuple": [a]}, range(200), 1), 0]]})},
        "nested more than 100 levels"),
    "deep_json": (lambda: {"structure.json.npy": _npy(np.frombuffer(
        b'{"format": "tinygrad_lab.save", "version": 1, "root": ' + b"[" * 100000
        + b"]" * 100000 + b"}", np.uint8))}, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_load_hostile_files_give_tl_load_errors(tmp_path, case):
    make, what = HOSTILE[case]
    content = make()
    path = tmp_path / f"{case}.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _zip(path, content)
    assert what in _load_error(path)


def test_load_corrupt_member_and_file_object(tmp_path):
    p = tmp_path / "ok.npz"
    tl.save({"w": tl.arange(1000.0)}, p)
    raw = bytearray(p.read_bytes())
    i = raw.index(np.arange(1000.0, dtype=np.float32).tobytes()[:64])
    raw[i + 100] ^= 0xFF                                  # the zip CRC no longer matches
    bad = tmp_path / "crc.npz"
    bad.write_bytes(bytes(raw))
    assert "unreadable" in _load_error(bad)
    with pytest.raises(ValueError, match=r"^tl.load: <BytesIO>: not a tl.save archive"):
        tl.load(io.BytesIO(b"junk"))
    assert tl.load(io.BytesIO(p.read_bytes()))["w"].tolist() == list(range(1000))
