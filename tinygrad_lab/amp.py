"""Mixed precision: float16/bfloat16 inputs for every op, ``tl.autocast`` and ``tl.amp.GradScaler``.

Half tensors are storage (DESIGN.md). The elementwise kernels and the casts take them natively
(csrc/elementwise.c converts blocks to float32 and back), and so does matmul when both operands
have the same half dtype (csrc/matmul.c widens them while packing its float32 panels and rounds
the float32 result: no float32 copy of an operand is made, and the bits are those of the float32
product of the widened operands). The other kernel families -- reductions, the nn kernels,
linear, indexing -- are float32/float64 only, so their public functions are wrapped here once
(``_HALF_OPS``): half inputs are converted to float32 by the differentiable cast, the op runs in
float32 (reductions accumulate in float32), and its float32 outputs are rounded back to the
inputs' promoted dtype (float16 with bfloat16 promotes to float32, as in PyTorch). Gradients come
back through the casts, so each input receives its gradient in its own dtype.

``autocast(device_type="cpu", dtype=tl.bfloat16)`` uses the same wrappers with PyTorch's CPU
autocast op lists (aten/src/ATen/autocast_mode.cpp): matmul, bmm, linear, addmm, baddbmm,
the convolutions (1-3 D, transposed too) and prelu run in the low precision dtype; the losses, cdist, trace and prod run
in float32; every other op runs in its inputs' dtype.

``GradScaler`` is torch.amp.GradScaler's algorithm: multiply the loss by ``scale``, unscale the
gradients before the step, skip the step when any gradient is Inf/NaN, and shrink the scale on
such a step or grow it after ``growth_interval`` clean ones.
"""
import functools
import threading
import weakref

from . import dtypes
from . import kernels as K
from .creation import tensor, zeros
from .nn import functional as F
from .nn import modules as _modules
from .ops import conv as _conv
from .ops import elementwise as _elementwise
from .ops import index as _index
from .ops import index_reduce as _index_reduce
from .ops import linalg as _linalg
from .ops import reduce as _reduce
from .ops import stats as _stats
from .ops.shape import to as _to
from .tensor import _AUTOCAST, Tensor

# ---------------------------------------------------------------------------------------------
# Running float32-only ops on half tensors, and autocast's casts
# ---------------------------------------------------------------------------------------------

class _State(threading.local):
    dtype = None              # the autocast dtype of this thread, or None (a class default: a
    #                           missing attribute of a threading.local costs a caught exception)


_state = _State()
_ACTIVE = _AUTOCAST   # autocast blocks open in any thread: when 0, the wrappers skip _state
_NO_KW = {}


def _autocast_dtype():
    return _state.dtype


def _map_tensors(fn, x):
    """``x`` with every Tensor in it (args, lists and tuples of them) replaced by fn(tensor)."""
    if isinstance(x, Tensor):
        return fn(x)
    if type(x) in (list, tuple):
        return type(x)(_map_tensors(fn, v) for v in x)
    return x


def _float_tensors(args, kwargs):
    out = []

    def see(t):
        if t.dtype.is_floating_point:
            out.append(t)
        return t
    _map_tensors(see, args)
    _map_tensors(see, tuple(kwargs.values()))
    return out


_SEQ = (list, tuple)


def _has_half(args, kwargs):
    for a in args:
        if isinstance(a, Tensor):
            if a.dtype.is_half:
                return True
        elif type(a) in (list, tuple) and _has_half(a, {}):
            return True
    return bool(kwargs) and _has_half(tuple(kwargs.values()), {})


def _result_dtype(floats):
    """PyTorch's promotion over the float tensor inputs (0-d tensors only decide when alone)."""
    dims = [t for t in floats if t.ndim] or floats
    dt = dims[0].dtype
    for t in dims[1:]:
        dt = dtypes.promote(dt, t.dtype)
    return dt


def _widen(t):
    return _to(t, dtypes.float32) if t.dtype.is_half else t


def _run_in_float32(fn, args, kwargs):
    """fn on half inputs: widen them to float32, run, round float32 outputs back to the
    promoted input dtype when that is a half type."""
    floats = _float_tensors(args, kwargs)
    dt = _result_dtype(floats) if floats else dtypes.float32
    out = fn(*_map_tensors(_widen, args), **{k: _map_tensors(_widen, v) for k, v in kwargs.items()})
    if not dt.is_half:
        return out
    return _map_tensors(lambda t: _to(t, dt) if t.dtype is dtypes.float32 else t, out)


def _cast_for_autocast(dt):
    """Cast float32 and half tensors (float64 is left alone, as in PyTorch) to ``dt``."""
    def cast(t):
        return _to(t, dt) if t.dtype.is_floating_point and t.dtype is not dtypes.float64 \
            and t.dtype is not dt else t
    return cast


# The functions wrapped: the op families whose kernels are float32/float64 only. ``policy`` is
# PyTorch's CPU autocast list the op is on: "lower" (run in the autocast dtype), "fp32", or None
# (run in the inputs' dtype).
_LOWER = "lower"
_FP32 = "fp32"


def _half_op(fn, policy=None, native=False):
    """Wrap ``fn`` so it accepts half inputs (computed in float32) and follows autocast.
    ``native``: fn's kernel takes two tensors of one half dtype itself (matmul), so those are
    passed through unconverted; any other mix of half inputs still runs in float32."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not _ACTIVE[0] and not kwargs:   # the common case, written out: no autocast anywhere
            for a in args:
                if isinstance(a, Tensor):
                    if a.dtype.is_half:
                        break
                elif type(a) in _SEQ and _has_half(a, _NO_KW):
                    break
            else:
                return fn(*args)
        return _dispatch(fn, policy, args, kwargs, native)
    op._tl_half_wrapped = fn
    return op


def _same_half(args, kwargs):
    """Two positional tensors of one half dtype, nothing else."""
    return (not kwargs and len(args) == 2 and isinstance(args[0], Tensor)
            and isinstance(args[1], Tensor) and args[0].dtype.is_half
            and args[0].dtype is args[1].dtype)


def _dispatch(fn, policy, args, kwargs, native=False):
    ac = _state.dtype
    if ac is not None and policy is not None:
        cast = _cast_for_autocast(ac if policy == _LOWER else dtypes.float32)
        args = _map_tensors(cast, args)
        kwargs = {k: _map_tensors(cast, v) for k, v in kwargs.items()}
    if native and _same_half(args, kwargs):
        return fn(*args)
    if _has_half(args, kwargs):
        return _run_in_float32(fn, args, kwargs)
    return fn(*args, **kwargs)


def _getitem_op(fn):
    """Tensor indexing: basic indexing is a view and works on any dtype; advanced indexing
    (a gather kernel) on a half tensor runs in float32."""
    @functools.wraps(fn)
    def getitem(x, key):
        if x.dtype.is_half and _advanced(key):
            return _run_in_float32(fn, (x, key), {})
        return fn(x, key)
    getitem._tl_half_wrapped = fn
    return getitem


def _setitem_op(fn):
    """``t[key] = v``: an integer-array key is refused for every dtype (ops.inplace.setitem);
    for a half ``t`` say so before the float32-only gather would be tried."""
    @functools.wraps(fn)
    def setitem(t, key, value):
        if t.dtype.is_half and _advanced(key):
            raise IndexError("assignment through integer-array indexing is not supported; use "
                             "basic indexing (ints, slices, None, ...)")
        return fn(t, key, value)
    return setitem


def _advanced(key):
    keys = key if type(key) is tuple else (key,)
    return any(isinstance(k, (Tensor, list)) for k in keys)


# matmul's kernel takes two operands of one half dtype (csrc/matmul.c): not converted here
_NATIVE_HALF = {"_matmul", "rmatmul", "bmm"}

_HALF_OPS = [
    # (module, name, policy); each also replaces the Tensor method and tl.<name> of that function.
    # matmul, mse_loss, F.linear and F.linear_act run their common case themselves (no
    # autocast, no half operand that needs float32) and hand the rest to _matmul / _mse_loss /
    # _linear_amp / _linear_act_amp, the functions wrapped here.
    # (sum, mean, max, min, argmax, argmin, var, std, softmax and log_softmax take halves
    # natively: csrc/reduce.c, csrc/nn.c)
    (_reduce, "logsumexp", None),
    (_reduce, "norm", None), (_reduce, "vector_norm", None),
    (_linalg, "_matmul", _LOWER), (_linalg, "rmatmul", _LOWER), (_linalg, "bmm", _LOWER),
    (_linalg, "linear", _LOWER), (_linalg, "linear_act", _LOWER),
    (_index, "index_select", None), (_elementwise, "where", None),
    (F, "_linear_amp", _LOWER), (F, "_linear_act_amp", _LOWER), (F, "layer_norm", None),
    (F, "batch_norm", None), (F, "embedding", None),
    (F, "_mse_loss", _FP32), (F, "binary_cross_entropy", _FP32),
    (F, "binary_cross_entropy_with_logits", _FP32), (F, "cross_entropy", _FP32),
    (F, "nll_loss", _FP32),
    (_index, "gather", None), (_index, "scatter", None), (_index, "scatter_add", None),
    (_index, "masked_fill", None),
    (_index_reduce, "index_add", None), (_index_reduce, "index_copy", None),
    (_index_reduce, "masked_scatter", None), (_index_reduce, "scatter_reduce", None),
    (F, "l1_loss", _FP32), (F, "smooth_l1_loss", _FP32), (F, "huber_loss", _FP32),
    # the rest of PyTorch 2.13's CPU lists that tl has (checked op by op against torch.autocast:
    # tests/test_amp.py::test_autocast_policy_matches_torch)
    (_conv, "conv1d", _LOWER), (_conv, "conv2d", _LOWER), (_conv, "conv_transpose1d", _LOWER),
    (_conv, "conv_transpose2d", _LOWER), (_conv, "conv3d", _LOWER),
    (_conv, "conv_transpose3d", _LOWER), (F, "conv1d", _LOWER), (F, "conv2d", _LOWER),
    (F, "conv_transpose1d", _LOWER), (F, "conv_transpose2d", _LOWER), (F, "conv3d", _LOWER),
    (F, "conv_transpose3d", _LOWER), (F, "prelu", _LOWER),
    (_linalg, "addmm", _LOWER), (_linalg, "baddbmm", _LOWER),
    (_stats, "cdist", _FP32), (_index, "trace", _FP32), (_reduce, "prod", _FP32),
    (F, "kl_div", _FP32), (F, "cosine_embedding_loss", _FP32), (F, "poisson_nll_loss", _FP32),
    (F, "margin_ranking_loss", _FP32), (F, "triplet_margin_loss", _FP32),
    (F, "soft_margin_loss", _FP32), (F, "hinge_embedding_loss", _FP32),
    (F, "multi_margin_loss", _FP32),
]


def _install():
    """Replace each function of _HALF_OPS by its wrapper: in its module, on Tensor (under every
    name it is attached as) and in nn module classes that hold it (nn.Softmax's ``fn``). The
    package's ``tl.<name>`` bindings are made after this runs (tinygrad_lab/__init__.py imports
    this module first)."""
    wrapped = {}
    for mod, name, policy in _HALF_OPS:
        fn = getattr(mod, name)
        if fn not in wrapped:
            wrapped[fn] = _half_op(fn, policy, mod is _linalg and name in _NATIVE_HALF)
        setattr(mod, name, wrapped[fn])
    for attr, value in list(vars(Tensor).items()):
        if value in wrapped:
            setattr(Tensor, attr, wrapped[value])
    Tensor.__getitem__ = _getitem_op(Tensor.__getitem__)
    Tensor.__setitem__ = _setitem_op(Tensor.__setitem__)
    for cls in vars(_modules).values():
        if isinstance(cls, type) and isinstance(cls.__dict__.get("fn"), staticmethod):
            fn = cls.__dict__["fn"].__func__
            if fn in wrapped:
                cls.fn = staticmethod(wrapped[fn])


_install()


class autocast:
    """``tl.autocast(device_type="cpu", dtype=tl.bfloat16, enabled=True)``: inside the block (or
    the decorated function), matmul, bmm and linear run in ``dtype`` (float32 and half inputs are
    cast; float64 ones are not) and the losses in float32, as PyTorch's CPU autocast does; other
    ops run in their inputs' dtype. Gradients flow back through the casts, so parameters get
    their gradients in their own dtype. Nests; ``enabled=False`` turns it off inside."""

    def __init__(self, device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
        if device_type != "cpu":
            raise RuntimeError(f"tinygrad_lab runs on the CPU only; autocast got device_type "
                               f"{device_type!r}")
        dtype = dtypes.bfloat16 if dtype is None else dtypes.as_dtype(dtype)
        if not dtype.is_half:
            raise RuntimeError(f"In CPU autocast, but the target dtype is not supported: "
                               f"{dtype!r} (expected tl.bfloat16 or tl.float16)")
        self.device = device_type
        self.fast_dtype = dtype
        self.enabled = bool(enabled)
        self._saved = []

    def __enter__(self):
        self._saved.append(_autocast_dtype())
        _state.dtype = self.fast_dtype if self.enabled else None
        _ACTIVE[0] += 1
        return self

    def __exit__(self, *exc):
        _state.dtype = self._saved.pop()
        _ACTIVE[0] -= 1
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self.enabled):
                return fn(*args, **kwargs)
        return run


def is_autocast_enabled(device_type="cpu"):
    return _autocast_dtype() is not None


def get_autocast_dtype(device_type="cpu"):
    return _autocast_dtype() or dtypes.bfloat16


# ---------------------------------------------------------------------------------------------
# GradScaler
# ---------------------------------------------------------------------------------------------

_READY, _UNSCALED, _STEPPED = 0, 1, 2


class GradScaler:
    """Loss scaling for float16 training, with torch.amp.GradScaler's semantics and defaults.

        scaler = tl.amp.GradScaler()
        scaler.scale(loss).backward()      # gradients of loss * scale: small ones survive float16
        scaler.unscale_(opt)               # optional: to clip the true gradients
        scaler.step(opt)                   # unscales if needed; skipped if any grad is Inf/NaN
        scaler.update()                    # scale *= backoff_factor after a skipped step, or
                                           # *= growth_factor after growth_interval clean ones

    The first argument is the device, as in torch.amp.GradScaler ("cpu", the only one); a number
    there is taken as ``init_scale``, so ``GradScaler(2.0 ** 10)`` works too.

    As in PyTorch, the scale (float32), the growth tracker and each optimizer's found-Inf flag
    are 0-d tensors that kernels read and write (csrc/amp.c), so the scaler works inside
    ``tl.jit``: a replay unscales, checks and updates the scale in C, and skips the optimizer's
    kernels when the flag is set (kernels.only_if_zero). A capture whose own gradients overflow,
    or that would take the optimizer's first step, is abandoned (that call runs eagerly) and the
    next call captures again. Jit the whole iteration (scale, step, update) as one step."""

    def __init__(self, device="cpu", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if not isinstance(device, str):          # GradScaler(1024.0): the scale given first
            device, init_scale = "cpu", device
        if device != "cpu":
            raise RuntimeError(f"tinygrad_lab runs on the CPU only; GradScaler got device {device!r}")
        if growth_factor <= 1.0:
            raise ValueError("The growth factor must be > 1.0.")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError("The backoff factor must be < 1.0.")
        self._enabled = bool(enabled)
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._scale = None              # float32 0-d tensor, made lazily as PyTorch does
        self._growth_tracker = None     # int64 0-d tensor, made with it
        self._per_optimizer = {}        # id(optimizer) -> {"stage", "found_inf": float32 0-d}
        self._stepped = weakref.WeakSet()   # optimizers this scaler has stepped (see step)

    def is_enabled(self):
        return self._enabled

    def _lazy_scale(self):
        if self._scale is None:
            self._scale = tensor(self._init_scale, dtype=dtypes.float32)
            self._growth_tracker = tensor(self._init_growth_tracker, dtype=dtypes.int64)
        return self._scale

    def scale(self, outputs):
        """outputs * scale (a Tensor, or a list/tuple of them); unchanged when disabled."""
        if not self._enabled:
            return outputs
        s = self._lazy_scale()
        if isinstance(outputs, Tensor):     # by a float32 0-d tensor, as PyTorch: a 0-d half
            return outputs * s              # loss becomes float32
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state_of(self, optimizer):
        st = self._per_optimizer.get(id(optimizer))
        if st is None:
            st = self._per_optimizer[id(optimizer)] = {
                "stage": _READY, "found_inf": zeros((), dtype=dtypes.float32)}
        return st

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale, in place (multiplying by the float32
        reciprocal, as PyTorch does), and record in its found-Inf flag whether any is Inf/NaN
        (tl_amp_unscale_, one call per gradient)."""
        if not self._enabled:
            return
        st = self._state_of(optimizer)
        if st["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if st["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        scale, found = self._lazy_scale()._ptr, st["found_inf"]._ptr
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                K.check(K.tl_amp_unscale_(g.dtype.code, g._ptr, K.strides(g), len(g._shape),
                                          K.i64(g._shape), found, scale), "GradScaler.unscale_")
                g._bump_version()
        st["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` unless a gradient was Inf/NaN (then the step is skipped and
        None returned); unscales first if unscale_ was not called."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        st = self._state_of(optimizer)
        if st["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if st["stage"] == _READY:
            self.unscale_(optimizer)
        st["stage"] = _STEPPED
        found = st["found_inf"]
        if K.flag_value(found):
            # a capture of this call would hold no optimizer step: run the rest eagerly
            K.abandon_capture("GradScaler: Inf/NaN gradients skipped the optimizer step")
            return None
        if optimizer not in self._stepped:
            # its first step makes the optimizer's state: not in a capture
            K.abandon_capture("GradScaler: the optimizer's first step")
            self._stepped.add(optimizer)
        with K.only_if_zero(found):         # a replay skips it when found_inf is set
            return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Set the scale for the next iteration: ``new_scale`` (a number or a one-element
        tensor) if given, else back off after a step with Inf/NaN gradients, or grow after
        growth_interval steps without (tl_amp_update_scale_)."""
        if not self._enabled:
            return
        scale = self._lazy_scale()
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1:
                    raise ValueError("new_scale should be a single-element tensor")
                K.copy_into(scale, new_scale.detach().reshape(()))
            else:
                scale.fill_(float(new_scale))
        else:
            if not self._per_optimizer:
                raise RuntimeError("No inf checks were recorded prior to update.")
            flags = [st["found_inf"] for st in self._per_optimizer.values()]
            found = flags[0]
            for f in flags[1:]:
                found = found + f
            K.check(K.tl_amp_update_scale_(scale._ptr, self._growth_tracker._ptr, found._ptr,
                                           *self._factors()), "GradScaler.update")
            K.live_args(3, self._factors)     # a replay uses the factors set at that time
        scale._bump_version()
        self._per_optimizer = {}

    def _factors(self):
        return self._growth_factor, self._backoff_factor, self._growth_interval

    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._lazy_scale().item()

    def _get_growth_tracker(self):
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker.item()

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def state_dict(self):
        """torch.amp.GradScaler's keys: scale, growth_factor, backoff_factor, growth_interval,
        _growth_tracker (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        """Load a dict made by ``state_dict()``; the scale and tracker are written in place (a
        tl.jit recording keeps using them)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._scale is None:
            self._lazy_scale()
        else:
            self._scale.fill_(self._init_scale)
            self._growth_tracker.fill_(self._init_growth_tracker)


__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype"]
