"""Neural-network ops <-> csrc/nn.c: softmax, log_softmax and the fused losses.

Each op runs one fused C kernel forward; its class holds both derivatives side by side: ``vjp``,
one fused C kernel, and ``formula``, the same derivative written with Tensor ops (what runs when
the backward pass is itself recorded, create_graph=True, so gradients of gradients work). Forward receives validated, contiguous inputs (the public wrappers
in tinygrad_lab/nn/functional.py and here check shapes and dtypes first; class indices are
checked by the loss kernels themselves, before they write anything).

softmax / log_softmax work along the last dim; other dims are moved there and back with
transpose views. The losses return one value per row (per element for BCE); the wrappers apply
the 'mean' / 'sum' reduction with the reduce ops.
"""
from .. import dtypes
from .. import kernels as K
from ..autograd.engine import Function, _grad_enabled, _record
from ..creation import arange
from ..kernels import NULL, check, ffi
from ..tensor import Tensor, _empty, _numel, _wrap_dim, tensor_method
from .elementwise import clamp, exp, log, sigmoid, sign, where
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
    return ffi.cast("int64_t *", t._ptr)


def _onehot(target, C, dtype):
    """(N, C) float matrix with ones at (n, target[n])."""
    return (unsqueeze(target, 1) == arange(C)).to(dtype)


# ---------------------------------------------------------------------------------------------
# softmax / log_softmax along the last dim
# ---------------------------------------------------------------------------------------------

def _row_kernel(kernel, name, out_like, *ins):
    rows, C = _rows(out_like)
    out = _empty(out_like.shape, out_like.dtype)
    check(kernel(out_like.dtype.code, out._ptr, *(t._ptr for t in ins), rows, C), name)
    return out


class Softmax(Function):
    """y = softmax(x) along the last dim (tl_softmax_forward, max-subtracted)."""

    @staticmethod
    def forward(ctx, x):
        y = _row_kernel(K.tl_softmax_forward, "softmax", x, x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def vjp(ctx, g):
        y, = ctx._saved
        return _row_kernel(K.tl_softmax_backward, "softmax backward", y, contiguous(g), y)

    @staticmethod
    def formula(ctx, g):
        """gx = y * (g - sum(g * y))"""
        y, = ctx._saved
        return y * (g - _sum(g * y, -1, keepdim=True))


class LogSoftmax(Function):
    """y = log_softmax(x) = x - logsumexp(x) along the last dim (tl_log_softmax_forward)."""

    @staticmethod
    def forward(ctx, x):
        y = _row_kernel(K.tl_log_softmax_forward, "log_softmax", x, x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def vjp(ctx, g):
        y, = ctx._saved
        return _row_kernel(K.tl_log_softmax_backward, "log_softmax backward", y, contiguous(g), y)

    @staticmethod
    def formula(ctx, g):
        """gx = g - exp(y) * sum(g)"""
        y, = ctx._saved
        return g - exp(y) * _sum(g, -1, keepdim=True)


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


@tensor_method()
def softmax(x, dim, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (max-subtracted, so large inputs do not overflow)."""
    return _along(Softmax, x, dim, dtype, "softmax")


@tensor_method()
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
    if rc == K.TL_EINDEX:
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
        _check_targets(K.tl_cross_entropy_forward(logits.dtype.code, loss._ptr, stats._ptr,
                                                  logits._ptr, _index_ptr(target), N, C),
                       target, C, "cross_entropy")
        ctx.save_for_backward(logits, target, stats)
        return loss

    @staticmethod
    def vjp(ctx, g):
        logits, target, stats = ctx._saved
        N, C = logits.shape
        g, gs = _grad_stride(g)
        dx = _empty((N, C), logits.dtype)
        check(K.tl_cross_entropy_backward(logits.dtype.code, dx._ptr, g._ptr, gs, logits._ptr,
                                          stats._ptr, _index_ptr(target), N, C), "cross_entropy backward")
        return dx, None

    @staticmethod
    def formula(ctx, g):
        """gx = (softmax(logits) - onehot(target)) * g per row"""
        logits, target, stats = ctx._saved
        C = logits.shape[1]
        return (Softmax.apply(logits) - _onehot(target, C, logits.dtype)) * unsqueeze(g, 1), None


class NllLoss(Function):
    """loss[n] = -log_probs[n, target[n]] for (N, C) log-probabilities, int64 target."""

    @staticmethod
    def forward(ctx, logp, target):
        N, C = logp.shape
        loss = _empty((N,), logp.dtype)
        _check_targets(K.tl_nll_loss_forward(logp.dtype.code, loss._ptr, logp._ptr,
                                             _index_ptr(target), N, C), target, C, "nll_loss")
        ctx.save_for_backward(target)
        ctx.shape = (N, C)
        return loss

    @staticmethod
    def vjp(ctx, g):
        target, = ctx._saved
        N, C = ctx.shape
        g, gs = _grad_stride(g)
        dx = _empty((N, C), g.dtype)
        check(K.tl_nll_loss_backward(g.dtype.code, dx._ptr, g._ptr, gs, _index_ptr(target), N, C),
              "nll_loss backward")
        return dx, None

    @staticmethod
    def formula(ctx, g):
        """gx = -g at each row's target and +0 elsewhere (a NaN g reaches only the target, as
        the C VJP's and PyTorch's scatter: no 0 * NaN)"""
        target, = ctx._saved
        return where(_onehot(target, ctx.shape[1], g.dtype) != 0, -unsqueeze(g, 1), 0.0), None


def _pointwise_forward(ctx, kernel, name, x, t, bad_input=None):
    """loss = kernel(x, t) per element, saving x and t. ``bad_input(x, t)`` raises the error for
    the kernel's TL_EINVAL (an input or target out of the loss's domain)."""
    loss = _empty(x.shape, x.dtype)
    rc = kernel(x.dtype.code, loss._ptr, x._ptr, t._ptr, x.numel())
    if rc == K.TL_EINVAL and bad_input is not None:
        bad_input(x, t)
    check(rc, name)
    ctx.save_for_backward(x, t)
    return loss


def _pointwise_vjp(ctx, kernel, name, g):
    """(gx, gt) of a per-element loss from its C VJP kernel (None where not needed)."""
    x, t = ctx._saved
    want_x, want_t = ctx.needs_input_grad
    g, gs = _grad_stride(g)
    gx = _empty(x.shape, x.dtype) if want_x else None
    gt = _empty(x.shape, x.dtype) if want_t else None
    check(kernel(x.dtype.code, gx._ptr if want_x else NULL, gt._ptr if want_t else NULL,
                 g._ptr, gs, x._ptr, t._ptr, x.numel()), name + " backward")
    return gx, gt


class MseLoss(Function):
    """loss = (x - t)^2 elementwise"""

    @classmethod
    def apply(cls, x, t):
        """The forward and its node written out: the inputs are mse_loss's, already checked (two
        contiguous float tensors of one shape and dtype), and at a small net's size Function.apply's
        generic argument scan and grad-mode switch cost more than the kernel. The node is the one
        Function.apply would make (inputs (x, t), x and t saved)."""
        loss = _empty(x._shape, x.dtype)
        check(K.tl_mse_loss_forward(x.dtype.code, loss._ptr, x._ptr, t._ptr, _numel(x._shape)),
              "mse_loss")
        rx, rt = x.requires_grad, t.requires_grad
        if (rx or rt) and _grad_enabled():
            _record(cls, loss, (x, t), (rx, rt), (x, t))
        return loss

    @staticmethod
    def vjp(ctx, g):
        return _pointwise_vjp(ctx, K.tl_mse_loss_backward, "mse_loss", g)

    @staticmethod
    def formula(ctx, g):
        """gx = 2 g (x - t),  gt = 2 g (t - x) (the C VJP's and PyTorch's order: 2 (x - t) may
        overflow where (2 g) (x - t) does not; t - x keeps a zero's sign as PyTorch)"""
        x, t = ctx._saved
        want_x, want_t = ctx.needs_input_grad
        g2 = 2.0 * g
        return (g2 * (x - t) if want_x else None), (g2 * (t - x) if want_t else None)


class _MseLossMean(Function):
    """F.mse_loss(x, t) with reduction "mean" as one node, PyTorch's ``MseLossBackward0`` (which
    also records one node for the loss and its mean): MseLoss's kernel, then Mean's sum and
    division, so the value is the same bits as MseLoss followed by Mean (one C call:
    csrc/nn.c tl_mse_loss_mean_forward). Its VJP divides g by n and runs MseLoss's C VJP with
    that one value broadcast (stride 0) -- what Mean's VJP and MseLoss's VJP compute in turn, without the second node, its broadcast view and one pass of
    the engine (~6% of a small training step). The inputs are mse_loss's, already checked: two
    contiguous float tensors of one shape and dtype."""

    op_name = "MseLoss"

    @classmethod
    def apply(cls, x, t):
        n = _numel(x._shape)
        out = _empty((), x.dtype)
        # (one C call running MseLoss's kernel, the sum and the division by n in turn)
        rc = K.tl_mse_loss_mean_forward(x.dtype.code, out._ptr, x._ptr, t._ptr, n)
        if rc:
            check(rc, "mse_loss")
        rx, rt = x.requires_grad, t.requires_grad
        if (rx or rt) and _grad_enabled():
            _record(cls, out, (x, t), (rx, rt), (x, t)).n = n
        return out

    @staticmethod
    def vjp(ctx, g):
        x, t = ctx._saved
        want_x, want_t = ctx.needs_input_grad
        gx = _empty(x._shape, x.dtype) if want_x else None
        gt = _empty(x._shape, x.dtype) if want_t else None
        # (g / n, then MseLoss's C VJP with it broadcast, in one call)
        rc = K.tl_mse_loss_mean_backward(x.dtype.code, gx._ptr if want_x else NULL,
                                         gt._ptr if want_t else NULL, g._ptr, x._ptr, t._ptr,
                                         ctx.n)
        if rc:
            check(rc, "mse_loss backward")
        return gx, gt

    @staticmethod
    def formula(ctx, g):
        return MseLoss.formula(ctx, g / float(ctx.n))


class ProbabilityRangeError(ValueError, RuntimeError):
    """binary_cross_entropy's input or target outside [0, 1] (or NaN): a ValueError, as every
    bad value here, and the RuntimeError PyTorch raises."""


def _bce_bad_input(x, t):
    # (the kernel checks both ranges, so a training step pays no min/max from Python; this runs
    # only on its TL_EINVAL; min and max propagate NaN, so a NaN reads [nan, nan])
    xlo, xhi = float(_min(x)), float(_max(x))
    if 0.0 <= xlo and xhi <= 1.0:
        raise ProbabilityRangeError(
            "binary_cross_entropy: all elements of target should be between 0 and 1, got values "
            f"in [{float(_min(t))}, {float(_max(t))}]")
    raise ProbabilityRangeError(
        f"binary_cross_entropy: input values must be between 0 and 1, got values in "
        f"[{xlo}, {xhi}] (use binary_cross_entropy_with_logits for logits)")


class BinaryCrossEntropy(Function):
    """loss = -(t * max(log x, -100) + (1 - t) * max(log(1 - x), -100)) elementwise (the clamp
    is PyTorch's, so x = 0 or 1 gives finite values)"""

    @staticmethod
    def forward(ctx, x, t):
        return _pointwise_forward(ctx, K.tl_binary_cross_entropy_forward, "binary_cross_entropy",
                                  x, t, _bce_bad_input)

    @staticmethod
    def vjp(ctx, g):
        return _pointwise_vjp(ctx, K.tl_binary_cross_entropy_backward, "binary_cross_entropy", g)

    @staticmethod
    def formula(ctx, g):
        """gx = g * (x - t) / max(x (1 - x), eps), eps = float32(1e-12) as in PyTorch,
        gt = g * (max(log(1 - x), -100) - max(log x, -100))"""
        x, t = ctx._saved
        want_x, want_t = ctx.needs_input_grad
        gx = g * (x - t) / clamp(x * (1.0 - x), min=_BCE_EPS) if want_x else None
        gt = g * (clamp(log(1.0 - x), min=-100.0) - clamp(log(x), min=-100.0)) if want_t else None
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """loss = (1 - t) x - min(x, 0) + log(1 + exp(-|x|)) elementwise (BCE of sigmoid(x) without
    overflow or log(0); PyTorch's form, so x = +inf gives inf for t < 1, as PyTorch does)"""

    @staticmethod
    def forward(ctx, x, t):
        return _pointwise_forward(ctx, K.tl_binary_cross_entropy_with_logits_forward,
                                  "binary_cross_entropy_with_logits", x, t)

    @staticmethod
    def vjp(ctx, g):
        return _pointwise_vjp(ctx, K.tl_binary_cross_entropy_with_logits_backward,
                              "binary_cross_entropy_with_logits", g)

    @staticmethod
    def formula(ctx, g):
        """gx = g * (sigmoid(x) - t),  gt = -g * x"""
        x, t = ctx._saved
        want_x, want_t = ctx.needs_input_grad
        return (g * (sigmoid(x) - t) if want_x else None), (-(g * x) if want_t else None)


# ---- the smooth-L1 family: l1_loss, smooth_l1_loss, huber_loss (one C kernel pair, a mode) ----

class _SmoothL1Family(Function):
    """loss per element of d = x - t (csrc/nn.inc smooth_l1_loss_*): |d| (L1Loss), smooth_l1 with
    ``beta`` (SmoothL1Loss), huber with ``delta`` (HuberLoss). Derivative: gx = g q, gt = -g q
    with q = sign(d), clamp(d / beta, -1, 1), clamp(d, -delta, delta): PyTorch's, 0 at the L1
    kink (and at NaN for L1, as PyTorch's sign), and continuous at |d| = beta."""

    code = None
    loss_name = None

    @classmethod
    def forward(cls, ctx, x, t, beta):
        loss = _empty(x.shape, x.dtype)
        check(K.tl_smooth_l1_loss_forward(cls.code, x.dtype.code, loss._ptr, x._ptr, t._ptr,
                                          x.numel(), beta), cls.loss_name)
        ctx.beta = beta
        ctx.save_for_backward(x, t)
        return loss

    @staticmethod
    def vjp(ctx, g):
        x, t = ctx._saved
        want_x, want_t = ctx.needs_input_grad[:2]
        g, gs = _grad_stride(g)
        gx = _empty(x.shape, x.dtype) if want_x else None
        gt = _empty(x.shape, x.dtype) if want_t else None
        check(K.tl_smooth_l1_loss_backward(ctx._fn.code, x.dtype.code, gx._ptr if want_x else NULL,
                                           gt._ptr if want_t else NULL, g._ptr, gs, x._ptr, t._ptr,
                                           x.numel(), ctx.beta), ctx._fn.loss_name + " backward")
        return gx, gt, None

    @staticmethod
    def formula(ctx, g):
        x, t = ctx._saved
        want_x, want_t = ctx.needs_input_grad[:2]
        d, b, code = x - t, ctx.beta, ctx._fn.code
        if code == K.TL_L1_LOSS:
            q = sign(d)
        elif code == K.TL_SMOOTH_L1_LOSS:
            q = clamp(d / b, -1.0, 1.0)
        else:
            q = clamp(d, -b, b)
        return (g * q if want_x else None), (g * -q if want_t else None), None


class L1Loss(_SmoothL1Family):
    code, loss_name = K.TL_L1_LOSS, "l1_loss"


class SmoothL1Loss(_SmoothL1Family):
    code, loss_name = K.TL_SMOOTH_L1_LOSS, "smooth_l1_loss"


class HuberLoss(_SmoothL1Family):
    code, loss_name = K.TL_HUBER_LOSS, "huber_loss"
