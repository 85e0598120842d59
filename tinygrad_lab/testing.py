"""tl.testing: test your own ops the way tinygrad_lab tests its own (torch.testing's names).

    from tinygrad_lab.testing import assert_close, make_tensor, check_op

    assert_close(actual, expected)            # dtype-aware tolerances, a message naming the worst element
    x = make_tensor((3, 4), tl.float64, low=-1, high=1, noncontiguous=True)
    check_op(MySigmoid.apply, x)              # forward, layouts, shapes, dtypes, gradients, NaN, ...

``check_op`` is the harness tests/test_ops.py runs on every built-in op. NumPy appears here only
as the test oracle (comparing values, reference functions, seeded test data), as in gradcheck:
the ops under test always run as tl ops.
"""
import math
import numbers
import warnings
import zlib

import numpy as np

from . import dtypes
from .autograd.engine import grad as _autograd_grad
from .autograd.engine import no_grad
from .autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from .creation import rand, randint, tensor
from .ops.elementwise import where
from .tensor import Tensor

__all__ = ["assert_close", "make_tensor", "check_op", "OpCase", "CheckReport", "VARIANTS"]

# ---- assert_close -------------------------------------------------------------------------------

# torch.testing's default (rtol, atol) per dtype; integer and bool dtypes compare exactly
_DEFAULT_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5),
                       "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _default_tolerances(*dts):
    rtols, atols = zip(*(_DEFAULT_TOLERANCES.get(d.name, (0.0, 0.0)) for d in dts))
    return max(rtols), max(atols)


def _dtype_of(x):
    return x.dtype if isinstance(x, Tensor) else dtypes.from_numpy_dtype(x.dtype)


def _values(x):
    """A NumPy copy of a tensor-like's values (float64 for floats, int64 for ints, bool)."""
    a = np.array(x.detach()._view_numpy() if isinstance(x, Tensor) else x)
    if a.dtype.kind == "f" or a.dtype.kind == "V" or not a.dtype.isbuiltin:   # incl. half types
        return a.astype(np.float64)
    return a


def _fmt_index(idx):
    return f"({idx[0]},)" if len(idx) == 1 else "(" + ", ".join(str(i) for i in idx) + ")"


def _mismatch_message(a, e, close, rtol, atol, exact):
    """torch.testing's report, plus the worst element's index and both of its values."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if exact:
            a64, e64 = a.astype(np.float64), e.astype(np.float64)
        else:
            a64, e64 = a, e
        abs_diff = np.abs(a64 - e64)
        rel_diff = abs_diff / np.abs(e64)
        abs_diff = np.where(np.isnan(abs_diff), np.inf, abs_diff)
        rel_diff = np.where(np.isnan(rel_diff), np.inf, rel_diff)
        excess = np.where(close, -np.inf, abs_diff - (atol + rtol * np.abs(e64)))
        excess = np.where(np.isnan(excess), np.inf, excess)
    if a.ndim == 0:
        lines = ["Scalars are not " + ("equal!" if exact else "close!"), "",
                 f"Expected {e.item()!r} but got {a.item()!r}.",
                 f"Absolute difference: {abs(a64.item() - e64.item())!r}"
                 + ("" if exact else f" (up to {atol!r} allowed)"),
                 f"Relative difference: {float(rel_diff) if np.isfinite(rel_diff) else float('inf')!r}"
                 + ("" if exact else f" (up to {rtol!r} allowed)")]
        return "\n".join(lines)
    n_bad = int((~close).sum())
    i_abs = np.unravel_index(int(np.argmax(abs_diff)), a.shape)
    i_rel = np.unravel_index(int(np.argmax(rel_diff)), a.shape)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), a.shape))

    def num(v):
        v = v.item()
        return repr(int(v)) if exact and float(v).is_integer() else repr(v)

    lines = ["Tensor-likes are not " + ("equal!" if exact else "close!"), "",
             f"Mismatched elements: {n_bad} / {a.size} ({100.0 * n_bad / a.size:.1f}%)",
             f"Greatest absolute difference: {num(np.abs(a64 - e64)[i_abs])} at index "
             f"{_fmt_index(tuple(int(i) for i in i_abs))}" + ("" if exact else f" (up to {atol!r} allowed)"),
             f"Greatest relative difference: {rel_diff[i_rel].item()!r} at index "
             f"{_fmt_index(tuple(int(i) for i in i_rel))}" + ("" if exact else f" (up to {rtol!r} allowed)"),
             f"Worst element: index {_fmt_index(worst)}, actual {a[worst].item()!r}, "
             f"expected {e[worst].item()!r}"]
    return "\n".join(lines)


def _is_tensor_like(x):
    return isinstance(x, (Tensor, np.ndarray))


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True,
                 msg=None):
    """Raise AssertionError unless ``actual`` and ``expected`` are close, with
    ``torch.testing.assert_close``'s semantics.

    Tensors (or NumPy arrays) must have the same shape and, unless ``check_dtype=False``, the
    same dtype; floats are close when ``|actual - expected| <= atol + rtol * |expected|``
    (equal infinities are close; NaN is close to NaN only with ``equal_nan=True``). Without
    ``rtol``/``atol`` the dtype's defaults apply: float32 1.3e-6 / 1e-5, float64 1e-7 / 1e-7,
    integers and bool exactly. Python numbers compare with numbers, sequences item by item.
    The message gives the mismatch count, the greatest absolute and relative differences, and
    the worst element's index with both values; ``msg`` (a string, or a callable taking the
    generated message) replaces it.
    """
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'atol' if atol is None else 'rtol'}.")
    failure = _compare(actual, expected, rtol, atol, equal_nan, check_dtype)
    if failure is not None:
        if msg is not None:
            failure = msg(failure) if callable(msg) else msg
        raise AssertionError(failure)


def _compare(actual, expected, rtol, atol, equal_nan, check_dtype, path=""):
    """None when close, else the failure message."""
    where_ = f"\n\nThe failure occurred for item {path}" if path else ""
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            return f"The length of the sequences mismatch: {len(actual)} != {len(expected)}{where_}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            r = _compare(a, e, rtol, atol, equal_nan, check_dtype, f"{path}[{i}]")
            if r is not None:
                return r
        return None
    scalar = (numbers.Number, np.generic)
    if isinstance(actual, scalar) and isinstance(expected, scalar) \
            and not isinstance(actual, np.ndarray):
        if check_dtype and type(actual) is not type(expected):
            return f"The (d)types do not match: {type(actual)} != {type(expected)}.{where_}"
        a, e = np.asarray(actual), np.asarray(expected)
        if a.dtype.kind == "f" or e.dtype.kind == "f":
            a, e = a.astype(np.float64), e.astype(np.float64)
            if rtol is None:
                rtol, atol = _default_tolerances(dtypes.float64)
        return _compare_values(a, e, rtol, atol, equal_nan, where_)
    if not (_is_tensor_like(actual) and _is_tensor_like(expected)) \
            or type(actual) is not type(expected):
        raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} "
                        f"and {type(expected)}.")
    if tuple(actual.shape) != tuple(expected.shape):
        return (f"The values for attribute 'shape' do not match: {tuple(actual.shape)} != "
                f"{tuple(expected.shape)}.{where_}")
    da, de = _dtype_of(actual), _dtype_of(expected)
    if check_dtype and da is not de:
        return f"The values for attribute 'dtype' do not match: {da!r} != {de!r}.{where_}"
    if rtol is None:
        rtol, atol = _default_tolerances(da, de)
    a, e = _values(actual), _values(expected)
    if a.dtype.kind == "f" or e.dtype.kind == "f":
        a, e = a.astype(np.float64), e.astype(np.float64)
    return _compare_values(a, e, rtol, atol, equal_nan, where_)


def _compare_values(a, e, rtol, atol, equal_nan, where_):
    exact = a.dtype.kind != "f"
    if exact:
        close = a == e
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.isfinite(a) & np.isfinite(e)     # (an infinity is close only to itself)
            close = (finite & (np.abs(a - e) <= atol + rtol * np.abs(e))) | (a == e)
        if equal_nan:
            close |= np.isnan(a) & np.isnan(e)
    if close.all():
        return None
    return _mismatch_message(a, e, close, rtol, atol, exact) + where_


# ---- make_tensor --------------------------------------------------------------------------------

def _tiny(dt):
    try:
        return float(np.finfo(dt.np).tiny)
    except (TypeError, ValueError):
        return float(np.finfo(np.float32).tiny)


def make_tensor(*shape, dtype=None, device=None, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False):
    """A random tensor for tests, as ``torch.testing.make_tensor``.

    ``shape`` is varargs or one tuple; ``dtype`` and the rest may follow it positionally
    (``make_tensor((3, 4), tl.float64, -1, 1)``, the API's order) or be keywords (torch's). Floats are uniform in [low, high) (default [-9, 9)),
    integers in [low, high) (default [-9, 10)), bool False/True. ``noncontiguous=True`` returns a
    strided view (every other element of a wider buffer) when there are at least two elements;
    ``exclude_zero=True`` replaces zeros with 1 (integers) or the dtype's smallest normal number.
    Values come from the seeded global generator (``tl.manual_seed``).
    """
    at = next((k for k, v in enumerate(shape) if isinstance(v, dtypes.DType)), None)
    if at is not None:       # make_tensor(shape, dtype, low, high, requires_grad, ...) positionally
        if dtype is not None:
            raise TypeError("make_tensor() got dtype both positionally and as a keyword")
        rest = shape[at + 1:]
        names = ("low", "high", "requires_grad", "noncontiguous", "exclude_zero")
        if len(rest) > len(names):
            raise TypeError(f"make_tensor() takes at most {len(names)} arguments after dtype")
        given = dict(zip(names, rest))
        low, high = given.get("low", low), given.get("high", high)
        requires_grad = given.get("requires_grad", requires_grad)
        noncontiguous = given.get("noncontiguous", noncontiguous)
        exclude_zero = given.get("exclude_zero", exclude_zero)
        shape, dtype = shape[:at], shape[at]
    if dtype is None:
        raise TypeError("make_tensor() missing required keyword argument: 'dtype'")
    dt = dtypes.as_dtype(dtype)
    if device is not None and str(device) != "cpu":
        raise RuntimeError(f"tinygrad_lab runs on the CPU only; got device {device!r}")
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = tuple(int(s) for s in shape)
    if requires_grad and not dt.is_floating_point:
        raise ValueError("`requires_grad=True` is not supported for boolean and integral dtypes, "
                         f"but got dtype={dt!r}")
    n = math.prod(shape)
    noncontiguous = noncontiguous and n > 1
    full_shape = shape[:-1] + (2 * shape[-1],) if noncontiguous else shape
    if dt is dtypes.bool_:
        lo, hi = _low_high(low, high, 0, 2, 0, 2, integral=True)
        t = randint(lo, hi, full_shape) == 1
    elif not dt.is_floating_point:
        info = np.iinfo(dt.np)
        lo, hi = _low_high(low, high, int(info.min), int(info.max), -9, 10, integral=True)
        t = randint(lo, hi, full_shape).to(dt)
    else:
        info = np.finfo(dt.np) if dt.np.kind == "f" else np.finfo(np.float32)
        lo, hi = _low_high(low, high, float(info.min), float(info.max), -9, 9, integral=False)
        with no_grad():
            t = (rand(full_shape, dtype=dtypes.float64) * (hi - lo) + lo).to(dt)
    if exclude_zero:
        t = where(t == 0, 1 if not dt.is_floating_point else _tiny(dt), t).to(dt)
    if noncontiguous:
        t = t[..., 1::2]          # an offset too, as torch: catches offset bugs
    t = t.detach()
    if requires_grad:
        t.requires_grad_(True)
    return t


def _low_high(low, high, lowest, highest, default_low, default_high, integral):
    """torch.testing's checks and clamping of [low, high) (the ends ceiled for integers)."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low > high or (integral and low == high):
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    if high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but the dtype only supports [{lowest}, {highest})")
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    return (math.ceil(low), math.ceil(high)) if integral else (low, high)


# ---- check_op -----------------------------------------------------------------------------------

VARIANTS = ("noncontiguous", "transposed", "expanded", "broadcast", "0-d", "empty")
"""The generated input variants ``check_op`` runs (pass a subset as ``variants=``): layouts with
the same values (a strided view, a transposed view, a stride-0 expanded view) and shapes (an
input broadcast along its leading dim, all inputs 0-d, a zero-size leading dim). A shape variant
the op refuses (its forward raises) is skipped and listed in the report."""

# float64 / float32 comparison tolerances (rtol, atol); atol is relative to max(1, max |value|)
_TOLERANCES = {"float64": (1e-7, 1e-7), "float32": (1e-4, 1e-5)}
_REFUSALS = (ValueError, TypeError, IndexError, RuntimeError, NotImplementedError)


class CheckReport:
    """What ``check_op`` ran: ``passed`` and ``skipped`` (case name, reason) lists."""

    def __init__(self, name):
        self.name, self.passed, self.skipped = name, [], []

    def __repr__(self):
        skipped = "".join(f"\n  skipped {c}: {why}" for c, why in self.skipped)
        return f"check_op({self.name}): {len(self.passed)} cases passed{skipped}"


class _Failure(Exception):
    """A case failed (message says how); check_op turns it into an AssertionError."""


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_float(x):
    return isinstance(x, Tensor) and x.dtype.is_floating_point


def _op_name(fn):
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):                # MyFunction.apply
        return owner.__name__
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


class _Op:
    """The op under test and its settings; ``run`` calls it on NumPy arrays given a layout."""

    def __init__(self, fn, examples, ref, wrt, tolerances, gc_kw, fast_mode):
        self.fn, self.ref, self.wrt, self.gc_kw, self.fast_mode = fn, ref, wrt, gc_kw, fast_mode
        self.kinds = [_is_float(x) for x in examples]
        self.others = [None if f else x for f, x in zip(self.kinds, examples)]
        self.tol = dict(_TOLERANCES)
        self.tol.update({(k.name if isinstance(k, dtypes.DType) else str(k)): v
                         for k, v in (tolerances or {}).items()})

    def tensors(self, arrays, dtype=dtypes.float64, layout="contiguous", requires_grad=True,
                only=None):
        """The op's inputs: float inputs made from ``arrays`` in ``dtype`` and ``layout`` (for
        input ``only`` alone when given), the others as in the examples."""
        out = []
        for i, (a, other) in enumerate(zip(arrays, self.others)):
            if other is not None or a is None:
                out.append(other)
                continue
            lay = layout if only is None or only == i else "contiguous"
            t = _layout(a, dtype, lay)
            if requires_grad and i in self.wrt:
                t.requires_grad_(True)
            out.append(t)
        return out

    def call(self, ins, what):
        """fn(*ins) as a tuple of tensors; checks that the call left the inputs unmodified."""
        before = [None if not _is_float(t) else np.array(t.detach()._view_numpy()) for t in ins]
        outs = _tuple(self.fn(*ins))
        for o in outs:
            if not isinstance(o, Tensor):
                raise _Failure(f"{what}: fn returned a {type(o).__name__}, expected Tensors")
        self.unmodified(ins, before, what)
        return outs, before

    @staticmethod
    def unmodified(ins, before, what):
        for i, (t, b) in enumerate(zip(ins, before)):
            if b is None:
                continue
            now = t.detach()._view_numpy()
            if now.shape != b.shape or not np.array_equal(now, b, equal_nan=True):
                bad = np.argwhere(~((now == b) | (np.isnan(now) & np.isnan(b))))
                j = tuple(int(v) for v in bad[0]) if bad.size else ()
                raise _Failure(f"{what}: input {i} was modified in place (element {j}: was "
                               f"{b[j].item()!r}, now {now[j].item()!r})")

    def compare(self, got, want, dtype, what):
        """Outputs ``got`` against ``want`` (tensors or arrays) with ``dtype``'s tolerances."""
        if len(got) != len(want):
            raise _Failure(f"{what}: {len(got)} outputs, expected {len(want)}")
        rtol, atol = self.tol[dtype.name]
        for k, (g, w) in enumerate(zip(got, want)):
            w = _values(w)
            if w.dtype.kind != "f":
                assert_close(_values(g), w, rtol=0.0, atol=0.0, check_dtype=False,
                             msg=lambda m, k=k: f"{what}: output {k}:\n{m}")
                continue
            finite = np.abs(w[np.isfinite(w)])
            scale = max(1.0, float(finite.max(initial=0.0)))
            try:
                assert_close(_values(g), w, rtol=rtol, atol=atol * scale, equal_nan=True,
                             check_dtype=False)
            except AssertionError as e:
                raise _Failure(f"{what}: output {k}:\n{e}") from None

    def grads(self, outs, ins, gs, create_graph=False):
        """d(outs . gs)/d(inputs wrt) as float64 NumPy arrays (None for no gradient)."""
        pairs = [(o, g) for o, g in zip(outs, gs) if o.requires_grad]
        wrt = [ins[i] for i in self.wrt]
        if not pairs:
            return [None] * len(wrt)
        res = _autograd_grad([o for o, _ in pairs], wrt, [g for _, g in pairs], retain_graph=True,
                             create_graph=create_graph, allow_unused=True)
        out = []
        for t, r in zip(wrt, res):
            if r is not None and r.shape != t.shape:
                raise _Failure(f"the gradient of an input of shape {t.shape} has shape {r.shape}")
            out.append(None if r is None else _values(r))
        return out


def _layout(a, dtype, layout):
    """A leaf tensor with ``a``'s values (float64 NumPy array) in ``dtype`` and ``layout``."""
    a = np.asarray(a, dtype=np.float64)
    if layout == "contiguous" or a.size <= 1:
        return tensor(a, dtype=dtype)
    if layout == "noncontiguous":          # every other element of a wider buffer, offset by 1
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
        wide[..., 1::2] = a
        return tensor(wide, dtype=dtype)[..., 1::2].detach()
    if layout == "transposed":             # a transposed view of its last two dims
        if a.ndim < 2:
            return _layout(a, dtype, "noncontiguous")
        return tensor(np.swapaxes(a, -1, -2).copy(), dtype=dtype).transpose(-1, -2).detach()
    if layout == "expanded":               # stride 0 along dim 0 (a holds equal rows)
        return tensor(a[:1], dtype=dtype).expand(*a.shape).detach()
    raise ValueError(f"unknown layout {layout!r}")


def _seeded(*key):
    """A NumPy generator seeded from ``key`` (the same in every process)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _out_grads(outs, rng, layout="contiguous"):
    """Random float64 output gradients (every fourth element zero) in ``layout``."""
    gs = []
    for o in outs:
        g = rng.standard_normal(o.shape)
        if g.ndim:
            g.reshape(-1)[3::4] = 0.0
        gs.append(_layout(g, o.dtype if o.dtype.is_floating_point else dtypes.float64, layout))
    return gs


def _describe(arrays, kinds, others):
    parts = []
    for i, (a, f, o) in enumerate(zip(arrays, kinds, others)):
        if f:
            vals = f" = {np.round(a, 4).tolist()!r}" if a.size <= 24 else ""
            parts.append(f"    input {i}: shape {a.shape}{vals}")
        else:
            parts.append(f"    input {i}: {o!r}" if not isinstance(o, Tensor)
                         else f"    input {i}: {o.dtype!r} tensor of shape {o.shape}")
    return "\n".join(parts)


def check_op(fn, *example_inputs, ref=None, grad=None, variants=VARIANTS, tolerances=None,
             gradcheck_kwargs=None, fast_mode=False, nan=True, name=None, shrink=True):
    """Test an op (any callable on tensors: a Function's ``apply``, a function of tl ops) the
    way tests/test_ops.py tests every built-in op; raise AssertionError naming the failing case
    and the smallest input that shows it, else return a :class:`CheckReport`.

    ``example_inputs``: tensors (float inputs are varied; int/bool tensors and other arguments
    are passed as given). ``ref``: an optional reference on float64 NumPy arrays. ``grad``: the
    inputs to differentiate -- None for the float inputs that require grad (all float inputs
    when none does), a tuple of indices, or False. Cases, in order:

    - forward in float64 (against ``ref``), then float32 (against float64 or ``ref``: dtype
      preserved, values within ``tolerances[tl.float32]``);
    - the layouts of ``variants`` (strided, transposed, stride-0 views) and a non-contiguous
      output gradient: same values and gradients as contiguous inputs;
    - plain backward against ``create_graph=True`` backward; gradcheck and gradgradcheck in
      float64 (``gradcheck_kwargs``; ``fast_mode``);
    - NaN propagation (``nan``): a NaN put into an element that an output depends on (the
      gradient says so) makes that output NaN;
    - the shape variants of ``variants`` that the op accepts (broadcast, 0-d, empty): forward,
      float32, gradcheck;
    - every call leaves its inputs unmodified.
    """
    name = name or _op_name(fn)
    if not any(_is_float(x) for x in example_inputs):
        raise ValueError(f"check_op({name}): no floating-point tensor among the example inputs")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"check_op: unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    floats = [i for i, x in enumerate(example_inputs) if _is_float(x)]
    if grad is None:
        marked = [i for i in floats if example_inputs[i].requires_grad]
        wrt = tuple(marked or floats)
    elif grad is True:
        wrt = tuple(floats)
    else:
        wrt = tuple(grad or ())
        if any(i not in floats for i in wrt):
            raise ValueError(f"check_op({name}): grad={grad!r} names inputs that are not "
                             f"floating-point tensors (those are {floats})")
    op = _Op(fn, example_inputs, ref, wrt, tolerances, gradcheck_kwargs or {}, fast_mode)
    arrays = [_values(x) if f else None for x, f in zip(example_inputs, op.kinds)]
    report = CheckReport(name)
    cases = [("forward (float64 and float32)", _case_forward),
             *[(f"{lay} inputs", _layout_case(lay)) for lay in ("noncontiguous", "transposed",
                                                               "expanded") if lay in variants],
             ("non-contiguous output gradient", _case_grad_layout),
             ("create_graph backward", _case_create_graph),
             ("gradcheck (float64)", _case_gradcheck),
             ("gradgradcheck (float64)", _case_gradgradcheck)]
    if nan:
        cases.append(("NaN propagation", _case_nan))
    for case, run in cases:
        _run_case(op, case, run, arrays, report, name, shrink)
    for case, cand, run in _shape_variants(op, arrays, variants, report):
        _run_case(op, case, run, cand, report, name, shrink)
    return report


def _run_case(op, case, run, arrays, report, name, shrink):
    try:
        skipped = run(op, arrays, case)
    except Exception as e:  # noqa: BLE001  (any error of the op is this case's failure)
        detail = str(e) if isinstance(e, (_Failure, AssertionError, GradcheckError)) \
            else f"{case}: {type(e).__name__}: {e}"
        small = _shrink(op, run, arrays, case) if shrink else None
        shown = small if small is not None else arrays
        head = (f"smallest failing inputs (shrunk from shapes "
                f"{[a.shape for a, f in zip(arrays, op.kinds) if f]}):" if small is not None
                else "failing inputs:")
        if small is not None:
            try:
                run(op, small, case)
            except (_Failure, AssertionError, GradcheckError) as e2:
                detail = str(e2)
        raise AssertionError(f"check_op({name}) failed: {case}\n{detail}\n  {head}\n"
                             + _describe(shown, op.kinds, op.others)) from None
    if skipped:
        report.skipped.append((case, skipped))
    else:
        report.passed.append(case)


def _shrink(op, run, arrays, case, budget=40):
    """Smaller slices of the failing inputs that still fail (greedy), or None."""
    best, changed = arrays, False
    for _ in range(budget):
        for cand in _smaller(best, op.kinds):
            try:
                run(op, cand, case)
            except (_Failure, AssertionError, GradcheckError):
                best, changed = cand, True
                break
            except Exception:  # noqa: BLE001  (a shape the op refuses, or another failure)
                continue
        else:
            break
    return best if changed else None


def _smaller(arrays, kinds):
    """Candidate shrinks, biggest first: every dim of one size cut (in all inputs at once, so
    matching dims stay matched), then one dim of one input cut."""
    sizes = sorted({n for a, f in zip(arrays, kinds) if f for n in a.shape if n > 1}, reverse=True)
    for n in sizes:
        for m in sorted({1, n // 2, n - 1}):
            yield [a if not f else a[tuple(slice(0, m) if s == n else slice(None) for s in a.shape)]
                   for a, f in zip(arrays, kinds)]
    for i, (a, f) in enumerate(zip(arrays, kinds)):
        if not f:
            continue
        for d, n in enumerate(a.shape):
            if n > 1:
                for m in sorted({1, n // 2, n - 1}):
                    cut = a[(slice(None),) * d + (slice(0, m),)]
                    yield arrays[:i] + [cut] + arrays[i + 1:]


def _forward64(op, arrays, what):
    ins = op.tensors(arrays, requires_grad=True)
    outs, _ = op.call(ins, what)
    return ins, outs


def _case_forward(op, arrays, case):
    _, outs = _forward64(op, arrays, case + ", float64")
    for k, o in enumerate(outs):
        if o.dtype.is_floating_point and o.dtype is not dtypes.float64:
            raise _Failure(f"{case}: float64 inputs gave a {o.dtype!r} output {k}")
    if op.ref is not None:
        ref_in = [a if a is not None else (o.detach()._view_numpy() if isinstance(o, Tensor) else o)
                  for a, o in zip(arrays, op.others)]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # (np.mean of an empty array)
            want = _tuple(op.ref(*ref_in))
        op.compare(outs, want, dtypes.float64, f"{case}: float64 output against the reference")
    else:
        want = outs
    ins32 = op.tensors(arrays, dtype=dtypes.float32, requires_grad=False)
    outs32, _ = op.call(ins32, case + ", float32")
    for k, o in enumerate(outs32):
        if o.dtype.is_floating_point and o.dtype is not dtypes.float32:
            raise _Failure(f"{case}: float32 inputs gave a {o.dtype!r} output {k}")
    op.compare(outs32, want, dtypes.float32,
               f"{case}: float32 output against " + ("the reference" if op.ref else "float64"))


def _base(op, arrays, case, rng_key, layout="contiguous", grad_layout="contiguous"):
    """Forward and gradients (for seeded output gradients) of one layout."""
    ins = op.tensors(arrays, layout=layout)
    outs, before = op.call(ins, case)
    gs = _out_grads(outs, _seeded(*rng_key), grad_layout)
    grads = op.grads(outs, ins, gs) if op.wrt else []
    op.unmodified(ins, before, case + " (after backward)")
    return ins, outs, gs, grads


def _compare_grads(op, got, want, what):
    for k, (g, w) in enumerate(zip(got, want)):
        if (g is None) != (w is None):
            raise _Failure(f"{what}: input {op.wrt[k]} gets a gradient on one path only")
        if g is not None:
            op.compare([g], [w], dtypes.float64, f"{what}: gradient of input {op.wrt[k]}")


def _layout_case(layout):
    def case_fn(op, arrays, case):
        if layout == "expanded":
            arrays = [a if a is None or a.ndim == 0 else np.broadcast_to(a[:1], a.shape).copy()
                      for a in arrays]
        changed = [i for i, a in enumerate(arrays) if a is not None and a.size > 1
                   and (layout != "expanded" or a.shape[0] > 1)
                   and (layout != "transposed" or a.ndim >= 2)]
        if not changed:
            return f"no input has a {layout} layout of its own"
        key = ("layout", tuple(a.shape for a in arrays if a is not None))
        _, outs, _, grads = _base(op, arrays, case, key)
        try:
            ins2, outs2, gs2, grads2 = _base(op, arrays, case, key, layout=layout)
            op.compare(outs2, outs, dtypes.float64, f"{case}: output against contiguous inputs")
            _compare_grads(op, grads2, grads, f"{case}: gradients against contiguous inputs")
            if op.wrt:
                _compare_grads(op, op.grads(outs2, ins2, gs2, create_graph=True), grads,
                               f"{case}: create_graph=True gradients against contiguous inputs")
        except _Failure as e:
            for i in changed:           # which input's layout is it?
                try:
                    ins = op.tensors(arrays, layout=layout, only=i)
                    o3, before = op.call(ins, case)
                    op.compare(o3, outs, dtypes.float64, "")
                    gs = _out_grads(o3, _seeded(*key))
                    _compare_grads(op, op.grads(o3, ins, gs), grads, "")
                except _Failure:
                    raise _Failure(f"{e}\n  (it fails with input {i} alone {layout})") from None
            raise
        return None
    return case_fn


def _case_grad_layout(op, arrays, case):
    if not op.wrt:
        return "no input to differentiate"
    key = ("grad layout", tuple(a.shape for a in arrays if a is not None))
    _, _, _, grads = _base(op, arrays, case, key)
    _, _, _, grads2 = _base(op, arrays, case, key, grad_layout="noncontiguous")
    _compare_grads(op, grads2, grads, f"{case}: gradients against a contiguous output gradient")
    return None


def _case_create_graph(op, arrays, case):
    if not op.wrt:
        return "no input to differentiate"
    ins, outs, gs, grads = _base(op, arrays, case, ("create_graph",))
    recorded = op.grads(outs, ins, gs, create_graph=True)
    _compare_grads(op, recorded, grads, f"{case}: create_graph=True backward against plain backward")
    return None


def _gc_inputs(op, arrays):
    return op.tensors(arrays, requires_grad=True)


def _case_gradcheck(op, arrays, case):
    if not op.wrt:
        return "no input to differentiate"
    gradcheck(op.fn, _gc_inputs(op, arrays), fast_mode=op.fast_mode, **op.gc_kw)
    return None


def _case_gradgradcheck(op, arrays, case):
    if not op.wrt:
        return "no input to differentiate"
    gradgradcheck(op.fn, _gc_inputs(op, arrays), fast_mode=op.fast_mode, **op.gc_kw)
    return None


def _case_nan(op, arrays, case):
    """For each differentiated input: NaN at the element with the largest gradient must make
    every output element that depends on it NaN."""
    if not op.wrt:
        return "no input to differentiate"
    _, outs, _, grads = _base(op, arrays, case, ("nan",))
    base = [_values(o) for o in outs]
    checked = False
    for k, i in enumerate(op.wrt):
        g = grads[k]
        if g is None or g.size == 0 or not np.any(np.abs(g) > 0):
            continue
        j = np.unravel_index(int(np.argmax(np.abs(g))), g.shape)
        bumped = [a if a is None else a.copy() for a in arrays]
        bumped[i][j] += 1e-3 * max(1.0, abs(float(bumped[i][j])))
        moved = [_values(o) for o in op.call(op.tensors(bumped, requires_grad=False), case)[0]]
        nans = [a if a is None else a.copy() for a in arrays]
        nans[i][j] = np.nan
        try:
            got = [_values(o) for o in op.call(op.tensors(nans, requires_grad=False), case)[0]]
        except _REFUSALS:
            continue                    # the op refuses NaN input: that is an answer too
        for m, (b, mv, gt) in enumerate(zip(base, moved, got)):
            if b.dtype.kind != "f":
                continue
            depends = ~((b == mv) | (np.isnan(b) & np.isnan(mv)))
            bad = depends & ~np.isnan(gt)
            checked = checked or bool(depends.any())
            if bad.any():
                at = tuple(int(v) for v in np.argwhere(bad)[0]) if bad.ndim else ()
                raise _Failure(
                    f"{case}: input {i} element {tuple(int(v) for v in j)} set to NaN, but output "
                    f"{m} element {at}, which depends on it, is {gt[at].item()!r} (expected NaN; "
                    f"{int(bad.sum())} such elements)")
    return None if checked else "no output depends on a differentiated input here"


def _shape_variants(op, arrays, variants, report):
    """(case name, arrays) for the shape variants of ``variants`` the op accepts."""
    def accepted(cand):
        try:        # (not under no_grad: fn may differentiate inside)
            outs = _tuple(op.fn(*op.tensors(cand, requires_grad=False)))
            return [o.shape for o in outs]
        except _REFUSALS:
            return None

    floats = [i for i, f in enumerate(op.kinds) if f]
    if "broadcast" in variants:
        out_shapes = accepted(arrays)
        for i in floats:
            a = arrays[i]
            if a.ndim == 0 or a.shape[0] <= 1 and a.ndim == 1:
                continue
            for cand_a, how in ((a[:1], f"input {i} of shape {a[:1].shape}"),
                                (a[0], f"input {i} of shape {a[0].shape}")):
                if cand_a.shape == a.shape:
                    continue
                cand = arrays[:i] + [cand_a] + arrays[i + 1:]
                if out_shapes is not None and accepted(cand) == out_shapes \
                        and any(_broadcasts(a.shape, o) for o in out_shapes):
                    yield (f"broadcast: {how} against {a.shape}", cand,
                           _variant_case((i, cand_a.shape, a.shape)))
                    break
            else:
                report.skipped.append((f"broadcast input {i}", "the op refuses it or changes shape"))
    if "0-d" in variants and any(arrays[i].ndim for i in floats):
        cand = [a if a is None or not f else a.reshape(-1)[:1].reshape(())
                for a, f in zip(arrays, op.kinds)]
        if accepted(cand) is not None:
            yield "0-d inputs", cand, _variant_case()
        else:
            report.skipped.append(("0-d inputs", "the op refuses them"))
    if "empty" in variants and any(arrays[i].ndim and arrays[i].size for i in floats):
        cands = [[a if a is None or not f or not a.ndim else a[:0] for a, f in zip(arrays, op.kinds)]]
        cands += [arrays[:i] + [arrays[i][:0]] + arrays[i + 1:] for i in floats if arrays[i].ndim]
        for cand in cands:
            if accepted(cand) is not None:
                yield (f"empty inputs (shapes {[c.shape for c in cand if c is not None]})", cand,
                       _variant_case())
                break
        else:
            report.skipped.append(("empty inputs", "the op refuses them"))


def _broadcasts(shape, out_shape):
    """Whether an output of ``out_shape`` is an input of ``shape`` broadcast (so a smaller input
    broadcast to it stands for the same computation)."""
    try:
        return np.broadcast_shapes(shape, out_shape) == tuple(out_shape)
    except ValueError:
        return False


def _variant_case(broadcast=None):
    """The checks of a generated shape: forward (float64, float32, against ``ref``), gradient
    shapes, gradcheck; with ``broadcast=(i, shape, full_shape)``, also the output against input
    i expanded back to ``full_shape`` (while input i still has ``shape``: shrinking may cut it)."""
    def case_fn(op, arrays, case):
        _case_forward(op, arrays, case)
        if broadcast is not None and arrays[broadcast[0]].shape == broadcast[1]:
            i, _, full_shape = broadcast
            outs, _ = op.call(op.tensors(arrays, requires_grad=False), case)
            big = arrays[:i] + [np.broadcast_to(arrays[i], full_shape).copy()] + arrays[i + 1:]
            try:
                full, _ = op.call(op.tensors(big, requires_grad=False), case)
            except _REFUSALS:
                full = None
            if full is not None:
                op.compare(outs, full, dtypes.float64, f"{case}: output against the expanded input")
        if op.wrt:
            ins = op.tensors(arrays)
            outs, _ = op.call(ins, case)
            op.grads(outs, ins, _out_grads(outs, _seeded("variant")))  # checks gradient shapes
            if any(a.size for a in arrays if a is not None):
                gradcheck(op.fn, _gc_inputs(op, arrays), fast_mode=op.fast_mode, **op.gc_kw)
        return None
    return case_fn


# ---- OpCase: one line per op in a parametrized test ---------------------------------------------

class OpCase:
    """One op for ``check_op``: ``OpCase(MyFn.apply, (3, 4), (4,), low=-2, high=2, **options)``.

    Inputs are shapes (made with ``make_tensor`` in float64 from a seed of their own, values in
    [low, high), default [-2, 2)) or tensors/other arguments used as given; ``options`` go to
    ``check_op``. ``OpCase.check()`` runs it; the pytest plugin names parametrized tests after
    ``name`` (default: the op's name).
    """

    def __init__(self, fn, *inputs, low=-2.0, high=2.0, name=None, seed=0, **options):
        self.fn, self.inputs, self.low, self.high, self.seed = fn, inputs, low, high, seed
        self.name = name or _op_name(fn)
        self.options = options

    def make_inputs(self):
        rng = _seeded(self.name, self.seed)
        out = []
        for x in self.inputs:
            if isinstance(x, tuple) and all(isinstance(s, int) for s in x):
                out.append(tensor(rng.uniform(self.low, self.high, size=x), dtype=dtypes.float64))
            else:
                out.append(x)
        return out

    def check(self, **overrides):
        return check_op(self.fn, *self.make_inputs(), **{"name": self.name, **self.options,
                                                         **overrides})

    def __repr__(self):
        return f"OpCase({self.name}, {', '.join(map(repr, self.inputs))})"
