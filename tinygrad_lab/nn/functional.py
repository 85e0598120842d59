"""``tl.nn.functional`` (import as ``F``): stateless layers, activations and losses.

    import tinygrad_lab.nn.functional as F
    loss = F.cross_entropy(F.linear(x, w, b), target)

Every function validates its arguments here, before any kernel runs: shape problems raise
ValueError naming the shapes, dtype problems TypeError, class indices out of range IndexError.
softmax, log_softmax and the losses are fused C kernels (csrc/nn.c via ops/nn.py);
activations are the elementwise ops; linear is matmul plus a bias.
"""
import numbers

from .. import dtypes
from ..ops import nn as _nn
from ..ops.linalg import linear as _linear, linear_act as _linear_act
from ..ops import elementwise as _ew
from ..ops.elementwise import gelu, sigmoid, tanh  # noqa: F401  (re-exported)
from ..ops.elementwise import logsigmoid, softplus, softsign  # noqa: F401  (re-exported)
from ..ops.inplace import activation_copy_ as _activation_copy_
from ..ops.inplace import elu_, hardtanh_, leaky_relu_, relu_  # noqa: F401  (re-exported)
from ..ops.nn import log_softmax, softmax  # noqa: F401  (re-exported)
from ..ops.conv import avg_pool2d, conv1d, conv2d, fold, max_pool2d, unfold  # noqa: F401  (re-exported)
from ..ops.conv import conv_transpose1d, conv_transpose2d  # noqa: F401  (re-exported)
from ..ops.conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,  # noqa: F401
                        adaptive_max_pool2d, avg_pool1d, max_pool1d)
from ..ops.resample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: F401  (re-exported)
from ..ops.reduce import max as _max, mean as _mean, min as _min, sum as _sum
from ..ops.index import ShapeMismatch, scatter as _scatter
from ..autograd import no_grad
from ..creation import rand, zeros, zeros_like
from ..ops import shape as _sh
from ..ops.shape import contiguous, permute, reshape, unsqueeze
from ..tensor import _AUTOCAST, Tensor, _numel, _wrap_dim

__all__ = ["linear", "linear_act", "layer_norm", "batch_norm", "embedding", "relu", "relu_", "sigmoid", "tanh", "gelu", "leaky_relu", "leaky_relu_", "silu", "softplus", "elu", "elu_", "selu", "hardtanh", "hardtanh_",
           "logsigmoid", "mish", "softsign", "softmax", "log_softmax",
           "dropout", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss", "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "unfold", "fold",
           "l1_loss", "smooth_l1_loss", "huber_loss", "one_hot", "pad",
           "relu6", "hardswish", "hardsigmoid", "celu", "celu_", "softshrink", "hardshrink",
           "tanhshrink", "threshold", "threshold_", "softmin", "glu"]
__all__ += ["conv_transpose1d", "conv_transpose2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
            "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d", "max_pool1d", "interpolate",
            "pixel_shuffle", "pixel_unshuffle"]

_REDUCTIONS = ("mean", "sum", "none")


def _tensor(t, what, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {what} must be a Tensor, got {type(t).__name__}")
    return t


def _check_reduction(reduction, fn):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction, shape):
    if reduction == "sum":
        return _sum(loss)
    if reduction == "mean":
        return _mean(loss)          # NaN for an empty batch, as PyTorch
    return loss if loss.shape == shape else reshape(loss, shape)


# ---- layers -------------------------------------------------------------------------------------

def linear(x, weight, bias=None):
    """``x @ weight.T + bias``; weight is (out_features, in_features), bias (out_features,)."""
    if _plain(x, weight, bias):   # (nn.Linear's call, without tinygrad_lab.amp's wrapper)
        _check_linear(x, weight, bias)
        return _linear(x, weight, bias)
    return _linear_amp(x, weight, bias)


def _linear_amp(x, weight, bias=None):
    """linear with a half operand or under autocast (tinygrad_lab.amp wraps this one)."""
    _check_linear(x, weight, bias)
    return _linear(x, weight, bias)


def _plain(x, weight, bias):
    """No autocast block open and tensors of no half dtype: the common case of linear and
    linear_act, which then skip amp's wrapper (~2k instructions a call)."""
    return (not _AUTOCAST[0] and isinstance(x, Tensor) and isinstance(weight, Tensor)
            and not x.dtype.is_half and not weight.dtype.is_half
            and (bias is None or isinstance(bias, Tensor) and not bias.dtype.is_half))


def _check_linear(x, weight, bias):
    if not (isinstance(x, Tensor) and isinstance(weight, Tensor)):
        _tensor(x, "input", "linear")
        _tensor(weight, "weight", "linear")
    xs, ws = x._shape, weight._shape
    if len(ws) != 2:
        raise ValueError(f"linear: weight must be 2-d (out_features, in_features), got shape {ws}")
    if not xs or xs[-1] != ws[1]:
        raise ValueError(f"linear: input shape {xs} does not match weight shape {ws} "
                         f"(the input's last dim must be in_features = {ws[1]})")
    if bias is not None:
        _tensor(bias, "bias", "linear")
        if bias._shape != (ws[0],) and bias._shape != ():
            raise ValueError(f"linear: bias shape {bias.shape} does not match weight shape {ws} "
                             f"(expected ({ws[0]},))")


def linear_act(x, weight, bias, act):
    """``act(linear(x, weight, bias))`` for act "relu", "sigmoid" or "tanh" as one fused op (what
    nn.Sequential runs for a Linear followed by that activation): same values and gradients,
    one graph node and no intermediate tensor."""
    if act not in ("relu", "sigmoid", "tanh"):
        raise ValueError(f"linear_act: act must be 'relu', 'sigmoid' or 'tanh', got {act!r}")
    if _plain(x, weight, bias):
        _check_linear(x, weight, bias)
        return _linear_act(x, weight, bias, act)
    return _linear_act_amp(x, weight, bias, act)


def _linear_act_amp(x, weight, bias, act):
    """linear_act with a half operand or under autocast (tinygrad_lab.amp wraps this one)."""
    _check_linear(x, weight, bias)
    return _linear_act(x, weight, bias, act)


def relu(input, inplace=False):  # noqa: A002  (PyTorch's argument name)
    """max(x, 0); ``inplace=True`` overwrites ``input`` (relu_)."""
    return relu_(input) if inplace else _ew.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x where x > 0, else negative_slope * x; ``inplace=True`` overwrites ``input``
    (leaky_relu_)."""
    return leaky_relu_(input, negative_slope) if inplace else _ew.leaky_relu(input, negative_slope)


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x); ``inplace=True`` overwrites ``input``."""
    return _activation_copy_(input, "silu", _ew.silu) if inplace else _ew.silu(input)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, alpha * (exp(x) - 1) for x <= 0; ``inplace=True`` overwrites ``input``."""
    return elu_(input, alpha) if inplace else _ew.elu(input, alpha)


def selu(input, inplace=False):  # noqa: A002
    """scale * elu(x, alpha) with the self-normalising constants; ``inplace=True`` overwrites
    ``input``."""
    return _activation_copy_(input, "selu", _ew.selu) if inplace else _ew.selu(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """clamp(x, min_val, max_val), zero gradient at and beyond the bounds; ``inplace=True``
    overwrites ``input``."""
    if inplace:
        return hardtanh_(input, min_val, max_val)
    return _ew.hardtanh(input, min_val, max_val)


def mish(input, inplace=False):  # noqa: A002
    """x * tanh(softplus(x)); ``inplace=True`` overwrites ``input``."""
    return _activation_copy_(input, "mish", _ew.mish) if inplace else _ew.mish(input)


def relu6(input, inplace=False):  # noqa: A002
    """min(max(x, 0), 6): PyTorch's hardtanh(x, 0, 6) (a HardtanhBackward node, no gradient at
    0 and 6 or at NaN); ``inplace=True`` overwrites ``input``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardswish(input, inplace=False):  # noqa: A002
    """x * min(max(x + 3, 0), 6) / 6; ``inplace=True`` overwrites ``input``."""
    return _activation_copy_(input, "hardswish", _ew.hardswish) if inplace else _ew.hardswish(input)


def hardsigmoid(input, inplace=False):  # noqa: A002
    """min(max(x + 3, 0), 6) / 6; ``inplace=True`` overwrites ``input``."""
    return _activation_copy_(input, "hardsigmoid", _ew.hardsigmoid) if inplace else _ew.hardsigmoid(input)


def celu(input, alpha=1.0, inplace=False):  # noqa: A002
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); ``inplace=True`` overwrites ``input``."""
    return celu_(input, alpha) if inplace else _ew.celu(input, alpha)


def celu_(input, alpha=1.0):  # noqa: A002
    """``input = celu(input, alpha)`` in place."""
    return _activation_copy_(input, "celu_", _ew.celu, alpha)


def softshrink(input, lambd=0.5):  # noqa: A002
    """x - lambd above lambd, x + lambd below -lambd, 0 between (lambd >= 0)."""
    return _ew.softshrink(input, lambd)


def hardshrink(input, lambd=0.5):  # noqa: A002
    """x outside [-lambd, lambd], 0 inside."""
    return _ew.hardshrink(input, lambd)


def tanhshrink(input):  # noqa: A002
    """x - tanh(x), PyTorch's composite (Sub and Tanh nodes)."""
    return input - _ew.tanh(input)


def threshold(input, threshold, value, inplace=False):  # noqa: A002
    """``value`` where x <= threshold, else x; ``inplace=True`` overwrites ``input``."""
    return threshold_(input, threshold, value) if inplace else _ew.threshold(input, threshold, value)


def threshold_(input, threshold, value):  # noqa: A002
    """``input = threshold(input, threshold, value)`` in place."""
    return _activation_copy_(input, "threshold_", _ew.threshold, threshold, value)


def softmin(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """softmax(-x) along ``dim`` (an int, as softmax's)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"softmin: expected a Tensor, got {type(input).__name__}")
    if dim is None:
        raise TypeError("softmin: dim must be given (an int), as in softmin(x, dim=-1)")
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim)


def glu(input, dim=-1):  # noqa: A002
    """The gated linear unit: a * sigmoid(b), a and b the two halves of ``input`` along ``dim``
    (whose size must be even: RuntimeError otherwise, as PyTorch)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"glu: expected a Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _wrap_dim(dim, input.ndim)
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.chunk(2, d)
    return a * _ew.sigmoid(b)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims with the biased variance, then
    ``* weight + bias`` (composed from reductions and elementwise ops)."""
    _tensor(x, "input", "layer_norm")
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or k > x.ndim or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with normalized_shape "
                         f"{normalized_shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} shape {t.shape} must equal normalized_shape {normalized_shape}")
    dims = tuple(range(x.ndim - k, x.ndim))
    mu = _mean(x, dims, keepdim=True)
    d = x - mu
    var = _mean(d * d, dims, keepdim=True)
    # var - var is 0, or NaN when the variance overflowed to inf: then d / sqrt(inf) = 0 would
    # hide the overflow; the row is NaN, forward and backward, as PyTorch's layer_norm gives
    # for [1e308, -1e308, 0]
    y = d / ((var + eps) ** 0.5 + (var - var))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over dim 1 of (N, C), (N, C, L) or (N, C, H, W) input. ``training=True`` normalises
    with the batch statistics (biased variance) and, when running stats are given, updates them
    in place: running = (1 - momentum) * running + momentum * batch (unbiased variance)."""
    _tensor(x, "input", "batch_norm")
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm: expected (N, C), (N, C, L) or (N, C, H, W) input, got shape {x.shape}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} shape {t.shape} does not match {c} channels of input {x.shape}")
    dims = (0,) + tuple(range(2, x.ndim))
    bshape = (1, c) + (1,) * (x.ndim - 2)
    if training:
        n = _numel([x.shape[d] for d in dims])
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
        mu = _mean(x, dims, keepdim=True)
        d = x - mu
        var = _mean(d * d, dims, keepdim=True)
        if running_mean is not None and running_var is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(reshape(mu, (c,)).detach() * momentum)
                running_var.mul_(1 - momentum).add_(reshape(var, (c,)).detach() * (momentum * n / (n - 1)))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: eval mode needs running_mean and running_var")
        d = x - reshape(running_mean, bshape)
        var = reshape(running_var, bshape)
    y = d / (var + eps) ** 0.5
    if weight is not None:
        y = y * reshape(weight, bshape)
    if bias is not None:
        y = y + reshape(bias, bshape)
    return y


def embedding(idx, weight, padding_idx=None):
    """Rows of ``weight`` picked by int64 ``idx`` (any shape); the gradient scatter-adds into the
    picked rows (repeated indices accumulate) and never reaches row ``padding_idx``."""
    _tensor(idx, "indices", "embedding")
    _tensor(weight, "weight", "embedding")
    if idx.dtype is not dtypes.int64:
        raise TypeError(f"embedding: indices must be int64, got {idx.dtype!r}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (num_embeddings, dim), got shape {weight.shape}")
    out = weight[idx]
    if padding_idx is not None and out.requires_grad:
        keep = (idx != padding_idx).to(weight.dtype)
        out = out * reshape(keep, tuple(idx.shape) + (1,)) + out.detach() * reshape(1.0 - keep, tuple(idx.shape) + (1,))
    return out


def dropout(x, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by 1/(1 - p), with the seeded
    generator (tl.manual_seed). Identity when ``training`` is False or p == 0."""
    _tensor(x, "input", "dropout")
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
    if not training or p == 0:
        return x
    if not x.dtype.is_floating_point:
        raise TypeError(f"dropout: input must be a floating-point tensor, got dtype {x.dtype!r}")
    if p == 1:
        return x * zeros_like(x)
    keep = (rand(x.shape, dtype=x.dtype) >= p).to(x.dtype)
    return x * (keep * (1.0 / (1.0 - p)))


# ---- pointwise losses ---------------------------------------------------------------------------

def _pair(input, target, fn):
    """Validate a (prediction, target) pair of float tensors of one shape; common dtype."""
    _tensor(input, "input", fn)
    _tensor(target, "target", fn)
    for what, t in (("input", input), ("target", target)):
        if not t.dtype.is_floating_point:
            raise TypeError(f"{fn}: {what} must be a floating-point tensor, got dtype {t.dtype!r}")
    if input.shape != target.shape:
        raise ValueError(f"{fn}: target shape {target.shape} must match input shape {input.shape}")
    dt = dtypes.promote(input.dtype, target.dtype)
    return input.to(dt), target.to(dt)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2, reduced."""
    if (reduction == "mean" and type(input) is Tensor and type(target) is Tensor
            and input.dtype is target.dtype and input.dtype.is_floating_point
            and not input.dtype.is_half and not _AUTOCAST[0]
            and input._contig and target._contig and input._shape == target._shape):
        # the training loop's call, written out: every check below passes and every conversion
        # is the identity; the loss and its mean are one node (as PyTorch's MseLossBackward0),
        # the same values as the elementwise loss followed by the one-node mean. (Half inputs
        # and autocast go through _mse_loss, which tinygrad_lab.amp wraps.)
        return _nn._MseLossMean.apply(input, target)
    return _mse_loss(input, target, reduction)


def _mse_loss(input, target, reduction="mean"):
    """mse_loss beyond its common case (tinygrad_lab.amp wraps this one)."""
    _check_reduction(reduction, "mse_loss")
    input, target = _pair(input, target, "mse_loss")
    return _reduce(_nn.MseLoss.apply(contiguous(input), contiguous(target)), reduction, input.shape)


def l1_loss(input, target, reduction="mean"):
    """|input - target|, reduced; the gradient at input == target is 0 (PyTorch's)."""
    _check_reduction(reduction, "l1_loss")
    input, target = _pair(input, target, "l1_loss")
    return _reduce(_nn.L1Loss.apply(contiguous(input), contiguous(target), 0.0), reduction,
                   input.shape)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target), reduced;
    beta = 0 is l1_loss. Negative beta: RuntimeError (PyTorch's)."""
    _check_reduction(reduction, "smooth_l1_loss")
    beta = float(beta)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction)
    input, target = _pair(input, target, "smooth_l1_loss")
    return _reduce(_nn.SmoothL1Loss.apply(contiguous(input), contiguous(target), beta), reduction,
                   input.shape)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target), reduced.
    delta <= 0: RuntimeError (PyTorch's)."""
    _check_reduction(reduction, "huber_loss")
    delta = float(delta)
    if not delta > 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    input, target = _pair(input, target, "huber_loss")
    return _reduce(_nn.HuberLoss.apply(contiguous(input), contiguous(target), delta), reduction,
                   input.shape)


def binary_cross_entropy(input, target, reduction="mean"):
    """-(t log(x) + (1 - t) log(1 - x)) for probabilities x in [0, 1]; each log is clamped at
    -100 (PyTorch's rule), so x = 0 or 1 gives finite loss and gradient."""
    _check_reduction(reduction, "binary_cross_entropy")
    input, target = _pair(input, target, "binary_cross_entropy")
    loss = _nn.BinaryCrossEntropy.apply(contiguous(input), contiguous(target))
    return _reduce(loss, reduction, input.shape)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """binary_cross_entropy(sigmoid(input), target) computed stably from the logits:
    max(x, 0) - x t + log(1 + exp(-|x|))."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    input, target = _pair(input, target, "binary_cross_entropy_with_logits")
    loss = _nn.BinaryCrossEntropyWithLogits.apply(contiguous(input), contiguous(target))
    return _reduce(loss, reduction, input.shape)


# ---- class-index losses -------------------------------------------------------------------------

def _class_target(input, target, fn):
    """Validate (N, C) scores with (N,) int64 class indices -- also (C,) with a 0-d target, and
    (N, C, d1, ...) with (N, d1, ...) as in PyTorch. Returns the scores as a contiguous (M, C)
    matrix, the targets as (M,), and the shape of the unreduced loss."""
    _tensor(input, "input", fn)
    _tensor(target, "target", fn)
    if not input.dtype.is_floating_point:
        raise TypeError(f"{fn}: input must be a floating-point tensor, got dtype {input.dtype!r}")
    if target.dtype is not dtypes.int64:
        raise TypeError(f"{fn}: target must be an int64 tensor of class indices, got dtype {target.dtype!r}")
    if input.ndim == 0:
        raise ValueError(f"{fn}: input must have shape (N, C) or (C,), got shape {input.shape}")
    C = input.shape[0] if input.ndim == 1 else input.shape[1]
    out_shape = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    if target.shape != out_shape:
        raise ValueError(f"{fn}: target shape {target.shape} does not match input shape {input.shape} "
                         f"(expected target shape {out_shape})")
    if input.ndim > 2:   # class dim to the end, then one row per (n, d1, ...)
        input = permute(input, (0,) + tuple(range(2, input.ndim)) + (1,))
    # (N, C) scores with (N,) targets, the usual case, go as they are: two reshape nodes are ~10%
    # of a small network's step. Each class index is checked by the loss kernel (ops/nn.py).
    scores = input if input.ndim == 2 else reshape(input, (_numel(out_shape), C))
    target = target if target.ndim == 1 else reshape(target, (-1,))
    return contiguous(scores), contiguous(target), out_shape


def cross_entropy(input, target, reduction="mean"):
    """log_softmax + negative log-likelihood in one fused kernel: for logits (N, C) and int64
    class indices (N,), loss[n] = logsumexp(input[n]) - input[n, target[n]], reduced."""
    _check_reduction(reduction, "cross_entropy")
    scores, target, shape = _class_target(input, target, "cross_entropy")
    return _reduce(_nn.CrossEntropy.apply(scores, target), reduction, shape)


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood: loss[n] = -input[n, target[n]] for log-probabilities (N, C)."""
    _check_reduction(reduction, "nll_loss")
    scores, target, shape = _class_target(input, target, "nll_loss")
    return _reduce(_nn.NllLoss.apply(scores, target), reduction, shape)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape (*tensor.shape, num_classes) with a 1 at each class index of the
    int64 ``tensor`` (values in [0, num_classes)); num_classes=-1: max(tensor) + 1. Errors as
    PyTorch's (RuntimeError)."""
    if not isinstance(tensor, Tensor) or tensor.dtype is not dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    n = tensor.numel()
    if num_classes == -1:
        if n == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(_max(tensor).item()) + 1
    if n:
        if int(_min(tensor).item()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(_max(tensor).item()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    elif num_classes < 0:
        raise RuntimeError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    out = zeros(*tensor.shape, num_classes, dtype=dtypes.int64)
    return _scatter(out, -1, unsqueeze(tensor, -1), 1) if n else out


# ---- pad ------------------------------------------------------------------------------------------

class PadNotSupported(NotImplementedError, ValueError):
    """A padding mode, or a mode with this many padded dims for this input, that F.pad does not
    take: PyTorch's NotImplementedError, and this project's ValueError for a bad argument."""


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):  # noqa: A002  (PyTorch's argument names)
    """torch.nn.functional.pad: ``pad`` = (left, right) for the last dim, then (top, bottom) for
    the one before, and so on. ``mode`` "constant" (fill with ``value``, default 0; any number of
    dims; negative pads crop), "reflect" (mirror without repeating the edge; each pad < the
    dim's size), "replicate" (repeat the edge) or "circular" (wrap around; each pad <= the
    size): these three pad the last 1, 2 or 3 dims of an input with one or two more dims (a
    batch, and channels), as PyTorch.

    constant is the ConstantPad op (a fill and one copy; its gradient is the interior of the
    output gradient). The other modes are a cat of edge strips and the input per padded dim
    (_pad_dim); the gradient of an edge value used several times accumulates, as in PyTorch."""
    _tensor(input, "input", "pad")
    try:
        pads = tuple(int(p) for p in pad)
    except TypeError:
        raise TypeError(f"pad(): pad must be a tuple of ints, got {pad!r}") from None
    if len(pads) % 2:
        raise ShapeMismatch("Padding length must be divisible by 2")
    k = len(pads) // 2
    if k > input.ndim:
        raise ShapeMismatch(f"Padding length should be less than or equal to two times the input "
                                f"dimension but got padding length {len(pads)} and input of "
                                f"dimension {input.ndim}")
    if mode not in _PAD_MODES:
        raise PadNotSupported(f"Unrecognised padding mode {mode}")
    # (before, after) for each padded dim, in dim order
    dims = list(range(input.ndim - k, input.ndim))
    pairs = [(pads[2 * (input.ndim - 1 - d)], pads[2 * (input.ndim - 1 - d) + 1]) for d in dims]
    if mode == "constant":
        return _constant_pad(input, dims, pairs, 0.0 if value is None else value)
    if value not in (None, 0):
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise PadNotSupported(f"Padding size {len(pads)} is not supported for {input.ndim}D input "
                              f"tensor. Supported combinations for non-constant padding: 2D or 3D "
                              f"input with padding size 2 (the last dim), 3D or 4D with 4 (the last "
                              f"2), 4D or 5D with 6 (the last 3)")
    if any(n == 0 for n in input.shape[1:]) or input.ndim == k + 1 and input.shape[0] == 0:
        raise ShapeMismatch(f"{mode} padding: expected an input with non-zero dims apart from "
                                f"a batch dim (possibly 0), but got shape {list(input.shape)}")
    for d, (b, a) in zip(dims, pairs):
        n = input.shape[d]
        if mode == "reflect" and (b >= n or a >= n):
            raise ShapeMismatch(f"Argument #4: Padding size should be less than the corresponding "
                                    f"input dimension, but got: padding ({b}, {a}) at dimension {d} "
                                    f"of input {list(input.shape)}")
        kept = n - max(-b, 0) - max(-a, 0)      # circular: what is left after a crop wraps
        if mode == "circular" and (b > n or a > n or max(b, 0) > kept or max(a, 0) > kept):
            raise ShapeMismatch("Padding value causes wrapping around more than once.")
        if n + b + a < 0:
            raise ShapeMismatch(f"pad: the padding ({b}, {a}) of dim {d} leaves a negative size "
                                    f"({n + b + a}) for input of shape {list(input.shape)}")
    out = input
    for d, (b, a) in zip(dims, pairs):
        out = _pad_dim(out, d, b, a, mode)
    return out if out is not input else _sh.clone(input)


def _pad_dim(x, d, b, a, mode):
    """x padded along dim d by (b, a) in a non-constant mode: cat of [edge strip, the kept part,
    edge strip], the strips views of x (reflect: a flipped copy of a thin slice; replicate: an
    edge entry expanded; circular: the other end of the kept part). One copy of x a padded dim,
    with long contiguous runs (a gather with one index per output element was 8-12x slower than
    PyTorch on images); all differentiable ops, so the gradient of an entry used several times
    accumulates."""
    n = x.shape[d]
    lo, hi = max(-b, 0), n - max(-a, 0)        # negative pads crop
    b, a = max(b, 0), max(a, 0)
    if not b and not a:
        return x if (lo, hi) == (0, n) else _sh.narrow(x, d, lo, hi - lo)
    mid = _sh.narrow(x, d, lo, hi - lo)
    if mode == "reflect":                      # mirrored about the original edges
        left = _sh.flip(_sh.narrow(x, d, 1, b), d) if b else None
        right = _sh.flip(_sh.narrow(x, d, n - 1 - a, a), d) if a else None
    elif mode == "replicate":
        def edge(i, m):
            e = _sh.narrow(x, d, i, 1)
            return _sh.expand(e, e.shape[:d] + (m,) + e.shape[d + 1:])
        left = edge(0, b) if b else None
        right = edge(n - 1, a) if a else None
    else:                                      # circular: the kept part wraps around
        m = hi - lo
        left = _sh.narrow(mid, d, m - b, b) if b else None
        right = _sh.narrow(mid, d, 0, a) if a else None
    return _sh.cat([t for t in (left, mid, right) if t is not None and t.shape[d]], d)


def _constant_pad(x, dims, pairs, value):
    if not isinstance(value, numbers.Real):
        raise TypeError(f"pad(): value must be a number, got {type(value).__name__}")
    crop = [slice(None)] * x.ndim
    for d, (b, a) in zip(dims, pairs):
        n = x.shape[d]
        start, stop = max(-b, 0), n - max(-a, 0)
        if stop < start:
            raise ShapeMismatch(f"narrow(): length must be non-negative (padding ({b}, {a}) of "
                                    f"dim {d} of input {list(x.shape)})")
        crop[d] = slice(start, stop)
    if any(b < 0 or a < 0 for b, a in pairs):
        x = x[tuple(crop)]                          # a view of the kept part
    full_pairs = [(0, 0)] * x.ndim
    for d, (b, a) in zip(dims, pairs):
        full_pairs[d] = (max(b, 0), max(a, 0))
    if all(p == (0, 0) for p in full_pairs):
        return _sh.clone(x)
    return _sh.ConstantPad.apply(x, tuple(full_pairs), value)
