"""Neural-network ops <-> csrc/nn.c: softmax, log_softmax and the fused losses.

Each Function runs one fused C kernel forward and one fused VJP kernel backward. When the backward
pass is itself recorded (create_graph=True) backward is written with Tensor ops instead, so
gradients of gradients work. Forward receives validated, contiguous inputs (the public wrappers
in tinygrad_lab/nn/functional.py and here check shapes and dtypes first; class indices are
checked by the loss kernels themselves, before they write anything).

softmax / log_softmax work along the last dim; other dims are moved there and back with
transpose views. The losses return one value per row (per element for BCE); the wrappers apply
the 'mean' / 'sum' reduction with the reduce ops.
"""
from .. import dtypes
from .._lib import NULL, check, ffi, lib
from ..autograd import Function, _grad_enabled
from ..tensor import Tensor, _empty, _numel, _wrap_dim, arange
from . import elementwise as ew
from .reduce import max as _max, min as _min, sum as _sum
from .shape import contiguous, reshape, transpose, unsqueeze

_BCE_EPS = 9.999999960041972e-13  # 1e-12 rounded to float32: PyTorch's BCE-gradient floor


def _rows(x):
    """(rows, C) of a tensor seen as a matrix over its last dim."""
    return _numel(x.shape[:-1]), x.shape[-1]


def _grad_stride(g):
    """A per-row/per-element output gradient as (tensor, element stride) for the C kernels:
    stride 1 when contiguous, 0 when it is one value broadcast ('mean'/'sum' reductions)."""
    if g.is_contiguous():
        return g, 1
    if all(s == 0 for s in g._strides):
        return g, 0
    return contiguous(g), 1


def _index_ptr(t):
    """An int64 tensor's data as the ``const int64_t *`` the kernels take."""
    return ffi.cast("int64_t *", t._ptr())


def _onehot(target, C, dtype):
    """(N, C) float matrix with ones at (n, target[n])."""
    return (unsqueeze(target, 1) == arange(C)).to(dtype)


# ---------------------------------------------------------------------------------------------
# softmax / log_softmax along the last dim
# ---------------------------------------------------------------------------------------------

def _row_kernel(kernel, name, out_like, *ins):
    rows, C = _rows(out_like)
    out = _empty(out_like.shape, out_like.dtype)
    check(kernel(out_like.dtype.code, out._ptr(), *(t._ptr() for t in ins), rows, C), name)
    return out


def _make_row_op(name, fwd, bwd, deriv):
    """A Function over the last dim with C forward/VJP kernels ``fwd``/``bwd`` that save the
    output y, and ``deriv(g, y)``, the same VJP with Tensor ops (used under create_graph)."""

    def forward(ctx, x):
        y = _row_kernel(fwd, name, x, x)
        ctx.save_for_backward(y)
        return y

    def backward(ctx, g):
        y, = ctx._saved
        if _grad_enabled():
            return deriv(g, y)
        return _row_kernel(bwd, name + " backward", y, contiguous(g), y)

    cls_name = "".join(w.capitalize() for w in name.split("_"))
    return type(cls_name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward),
                                        "__module__": __name__, "__doc__": deriv.__doc__})


def _softmax_vjp(g, y):
    """y = softmax(x): gx = y * (g - sum(g * y))"""
    return y * (g - _sum(g * y, -1, keepdim=True))


def _log_softmax_vjp(g, y):
    """y = log_softmax(x): gx = g - exp(y) * sum(g)"""
    return g - ew.exp(y) * _sum(g, -1, keepdim=True)


Softmax = _make_row_op("softmax", lib.tl_softmax_forward, lib.tl_softmax_backward, _softmax_vjp)
LogSoftmax = _make_row_op("log_softmax", lib.tl_log_softmax_forward, lib.tl_log_softmax_backward,
                          _log_softmax_vjp)


def _along(fn, x, dim, dtype, name):
    """Apply last-dim Function ``fn`` along ``dim`` of ``x``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if dim is None:
        raise TypeError(f"{name}: dim must be given (an int), as in {name}(x, dim=-1)")
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.get_default_dtype())
    if x.ndim == 0:
        _wrap_dim(dim, 0)
        return reshape(fn.apply(reshape(x, (1,))), ())
    d, last = _wrap_dim(dim, x.ndim), x.ndim - 1
    if d != last:
        return transpose(fn.apply(contiguous(transpose(x, d, last))), d, last)
    return fn.apply(contiguous(x))


def softmax(x, dim, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (max-subtracted, so large inputs do not overflow)."""
    return _along(Softmax, x, dim, dtype, "softmax")


def log_softmax(x, dim, dtype=None):
    """x - logsumexp(x) along ``dim``, computed stably in one kernel."""
    return _along(LogSoftmax, x, dim, dtype, "log_softmax")


# ---------------------------------------------------------------------------------------------
# Losses: per row (cross-entropy, nll) or per element (binary cross-entropy)
# ---------------------------------------------------------------------------------------------

def _check_targets(rc, target, C, fn):
    """The loss kernels check every class index before writing anything (TL_EINDEX): only then
    is the offending one looked up, for the message (a per-step min/max from Python cost ~30 us
    of a 1.3 ms MLP step)."""
    if rc == lib.TL_EINDEX:
        lo, hi = int(_min(target)), int(_max(target))
        bad = lo if lo < 0 else hi
        raise IndexError(f"{fn}: target {bad} is out of bounds for {C} classes "
                         f"(expected 0 <= target < {C})")
    check(rc, fn)


class CrossEntropy(Function):
    """loss[n] = logsumexp(logits[n]) - logits[n, target[n]] for (N, C) logits, int64 target."""

    @staticmethod
    def forward(ctx, logits, target):
        N, C = logits.shape
        loss = _empty((N,), logits.dtype)
        stats = _empty((N, 2), logits.dtype)   # per row: max, log(sum(exp(x - max)))
        _check_targets(lib.tl_cross_entropy_forward(logits.dtype.code, loss._ptr(), stats._ptr(),
                                                    logits._ptr(), _index_ptr(target), N, C),
                       target, C, "cross_entropy")
        ctx.save_for_backward(logits, target, stats)
        return loss

    @staticmethod
    def backward(ctx, g):
        logits, target, stats = ctx._saved
        N, C = logits.shape
        if _grad_enabled():
            return (Softmax.apply(logits) - _onehot(target, C, logits.dtype)) * unsqueeze(g, 1), None
        g, gs = _grad_stride(g)
        dx = _empty((N, C), logits.dtype)
        check(lib.tl_cross_entropy_backward(logits.dtype.code, dx._ptr(), g._ptr(), gs, logits._ptr(),
                                            stats._ptr(), _index_ptr(target), N, C), "cross_entropy backward")
        return dx, None


class NllLoss(Function):
    """loss[n] = -log_probs[n, target[n]] for (N, C) log-probabilities, int64 target."""

    @staticmethod
    def forward(ctx, logp, target):
        N, C = logp.shape
        loss = _empty((N,), logp.dtype)
        _check_targets(lib.tl_nll_loss_forward(logp.dtype.code, loss._ptr(), logp._ptr(),
                                               _index_ptr(target), N, C), target, C, "nll_loss")
        ctx.save_for_backward(target)
        ctx.shape = (N, C)
        return loss

    @staticmethod
    def backward(ctx, g):
        target, = ctx._saved
        N, C = ctx.shape
        if _grad_enabled():
            return -(_onehot(target, C, g.dtype) * unsqueeze(g, 1)), None
        g, gs = _grad_stride(g)
        dx = _empty((N, C), g.dtype)
        check(lib.tl_nll_loss_backward(g.dtype.code, dx._ptr(), g._ptr(), gs, _index_ptr(target), N, C),
              "nll_loss backward")
        return dx, None


def _make_pointwise_loss(name, fwd, bwd, deriv, bad_input=None):
    """A Function loss(x, t) per element with C forward/VJP kernels ``fwd``/``bwd``, and
    ``deriv(g, x, t, needs)``, the (gx, gt) VJP with Tensor ops (used under create_graph).
    ``bad_input(x)`` raises the error for a forward kernel's TL_EINVAL (an input out of range)."""

    def forward(ctx, x, t):
        loss = _empty(x.shape, x.dtype)
        rc = fwd(x.dtype.code, loss._ptr(), x._ptr(), t._ptr(), x.numel())
        if rc == lib.TL_EINVAL and bad_input is not None:
            bad_input(x)
        check(rc, name)
        ctx.save_for_backward(x, t)
        return loss

    def backward(ctx, g):
        x, t = ctx._saved
        want_x, want_t = ctx.needs_input_grad
        if _grad_enabled():
            return deriv(g, x, t, want_x, want_t)
        g, gs = _grad_stride(g)
        gx = _empty(x.shape, x.dtype) if want_x else None
        gt = _empty(x.shape, x.dtype) if want_t else None
        check(bwd(x.dtype.code, gx._ptr() if want_x else NULL, gt._ptr() if want_t else NULL,
                  g._ptr(), gs, x._ptr(), t._ptr(), x.numel()), name + " backward")
        return gx, gt

    cls_name = "".join(w.capitalize() for w in name.split("_"))
    return type(cls_name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward),
                                        "__module__": __name__, "__doc__": deriv.__doc__})


def _bce_vjp(g, x, t, want_x, want_t):
    """loss = -(t * max(log x, -100) + (1 - t) * max(log(1 - x), -100)) elementwise (the clamp
    is PyTorch's, so x = 0 or 1 gives finite values):
    gx = g * (x - t) / max(x (1 - x), eps), eps = float32(1e-12) as in PyTorch,  gt = g * (max(log(1 - x), -100) - max(log x, -100))"""
    gx = g * (x - t) / ew.clamp(x * (1.0 - x), min=_BCE_EPS) if want_x else None
    gt = g * (ew.clamp(ew.log(1.0 - x), min=-100.0) - ew.clamp(ew.log(x), min=-100.0)) if want_t else None
    return gx, gt


def _bce_logits_vjp(g, x, t, want_x, want_t):
    """loss = max(x, 0) - x * t + log(1 + exp(-|x|)) elementwise (BCE of sigmoid(x) without
    overflow or log(0)):  gx = g * (sigmoid(x) - t),  gt = -g * x"""
    return (g * (ew.sigmoid(x) - t) if want_x else None), (-(g * x) if want_t else None)


def _mse_vjp(g, x, t, want_x, want_t):
    """loss = (x - t)^2 elementwise:  gx = 2 g (x - t),  gt = -gx"""
    d = g * (2.0 * (x - t))
    return (d if want_x else None), (-d if want_t else None)


MseLoss = _make_pointwise_loss("mse_loss", lib.tl_mse_forward, lib.tl_mse_backward, _mse_vjp)
def _bce_bad_input(x):
    # (the kernel checks the range, so a training step pays no min/max from Python; min and max
    # propagate NaN, so a NaN input reads [nan, nan])
    raise ValueError(f"binary_cross_entropy: input values must be between 0 and 1, got values in "
                     f"[{float(_min(x))}, {float(_max(x))}] (use binary_cross_entropy_with_logits "
                     "for logits)")


BinaryCrossEntropy = _make_pointwise_loss("binary_cross_entropy", lib.tl_bce_forward,
                                          lib.tl_bce_backward, _bce_vjp, _bce_bad_input)
BinaryCrossEntropyWithLogits = _make_pointwise_loss("binary_cross_entropy_with_logits",
                                                    lib.tl_bce_logits_forward,
                                                    lib.tl_bce_logits_backward, _bce_logits_vjp)


METHODS = {
    "softmax": softmax,
    "log_softmax": log_softmax,
}
