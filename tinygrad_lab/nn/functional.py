"""``tl.nn.functional`` (import as ``F``): stateless layers, activations and losses.

    import tinygrad_lab.nn.functional as F
    loss = F.cross_entropy(F.linear(x, w, b), target)

Every function validates its arguments here, before any kernel runs: shape problems raise
ValueError naming the shapes, dtype problems TypeError, class indices out of range IndexError.
softmax, log_softmax and the losses are fused C kernels (csrc/nn.c via ops/nn.py);
activations are the elementwise ops; linear is matmul plus a bias.
"""
import math
import numbers
import warnings

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
from ..ops.conv import conv_transpose1d, conv_transpose2d, conv_transpose3d, conv3d  # noqa: F401  (re-exported)
from ..ops.conv import (adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d, max_pool3d,  # noqa: F401
                        max_unpool1d, max_unpool2d, max_unpool3d)
from ..ops.conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,  # noqa: F401
                        adaptive_max_pool2d, avg_pool1d, max_pool1d)
from ..ops.resample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: F401  (re-exported)
from ..ops.reduce import max as _max, mean as _mean, min as _min, sum as _sum
from ..ops.reduce import argmax as _argmax, cumsum as _cumsum
from ..ops.index import ShapeMismatch, scatter as _scatter
from ..ops.index_reduce import index_add as _index_add, scatter_reduce as _scatter_reduce
from ..ops.index import gather as _gather, repeat_interleave as _repeat_interleave, tril as _tril
from ..ops.reduce import all as _all, any as _any, norm as _norm
from ..ops.linalg import DtypeMismatch, matmul as _matmul
from ..creation import arange, full, ones, tensor as _tensor_of
from ..autograd import is_grad_enabled, no_grad
from ..creation import rand, zeros, zeros_like
from ..ops import shape as _sh
from ..ops.shape import contiguous, permute, reshape, unsqueeze
from ..tensor import _AUTOCAST, Tensor, _numel, _wrap_dim

__all__ = ["linear", "linear_act", "layer_norm", "batch_norm", "embedding", "relu", "relu_", "sigmoid", "tanh", "gelu", "leaky_relu", "leaky_relu_", "prelu", "silu", "softplus", "elu", "elu_", "selu", "hardtanh", "hardtanh_",
           "logsigmoid", "mish", "softsign", "softmax", "log_softmax",
           "dropout", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss", "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "unfold", "fold",
           "l1_loss", "smooth_l1_loss", "huber_loss", "one_hot", "pad",
           "relu6", "hardswish", "hardsigmoid", "celu", "celu_", "softshrink", "hardshrink",
           "tanhshrink", "threshold", "threshold_", "softmin", "glu",
           "group_norm", "instance_norm", "normalize", "cosine_similarity", "pairwise_distance",
           "kl_div", "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "poisson_nll_loss",
           "gaussian_nll_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
           "scaled_dot_product_attention",
           "conv_transpose1d", "conv_transpose2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d", "max_pool1d", "interpolate",
           "pixel_shuffle", "pixel_unshuffle",
           "rms_norm", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
           "rrelu", "bilinear", "channel_shuffle", "local_response_norm", "lp_pool1d", "lp_pool2d",
           "gumbel_softmax", "multilabel_margin_loss", "ctc_loss", "embedding_bag",
           "conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d",
           "adaptive_max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d"]

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


def prelu(input, weight):  # noqa: A002
    """x where x > 0, else weight * x, with one learned slope (``weight`` of one element) or one
    per channel (dim 1; dim 0 has no channel meaning, as in PyTorch). At x = 0 the input's
    gradient is the slope, as PyTorch's."""
    _tensor(input, "input", "prelu")
    _tensor(weight, "weight", "prelu")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if weight.dtype is not input.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {input.dtype} and {weight.dtype}")
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels}.")
    # one slope: a 0-d weight, so a 0-d input stays 0-d; else one per channel along dim 1
    weight = reshape(weight, () if n == 1 else (n,) + (1,) * (input.ndim - 2))
    return _ew.where(input > 0, input, weight * input)


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
    """Batch normalisation over dim 1 of (N, C, *) input (BatchNorm1d/2d/3d's). ``training=True`` normalises
    with the batch statistics (biased variance) and, when running stats are given, updates them
    in place: running = (1 - momentum) * running + momentum * batch (unbiased variance)."""
    _tensor(x, "input", "batch_norm")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected (N, C, *) input of at least 2 dims, got shape {x.shape}")
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



# ---- group / instance normalisation, normalize, distances ---------------------------------------

def _int_arg(v, what, fn):
    """``v`` as an int (bools refused): a TypeError naming ``what`` otherwise."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}(): argument '{what}' must be int, not {type(v).__name__}")
    return int(v)


def _affine(y, x, weight, bias, fn):
    """``y * weight + bias``, the (C,) weight and bias broadcast over dim 1 of (N, C, *) x."""
    cs = (x.shape[1],) + (1,) * (x.ndim - 2)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        _tensor(t, name, fn)
        if t.numel() != x.shape[1] or t.ndim != 1:
            raise ShapeMismatch(f"{fn}: expected {name} to be a vector of size equal to the number "
                                f"of channels in input, but got {name} of shape {t.shape} and "
                                f"input of shape {x.shape}")
    if weight is not None:
        y = y * reshape(weight, cs)
    if bias is not None:
        y = y + reshape(bias, cs)
    return y


def _normalize_rows(x, rows, eps):
    """x seen as ``rows`` rows, each normalised to zero mean and unit biased variance:
    layer_norm over the last dim of a (rows, -1) reshape, returned in x's shape."""
    m = _numel(x.shape) // rows if rows else 0
    return reshape(layer_norm(reshape(x, (rows, m)), (m,), eps=eps), x.shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Group normalisation of (N, C, *) input: the C channels split into ``num_groups`` groups,
    each (sample, group) normalised over its channels and positions (biased variance; layer_norm
    on an (N * num_groups, -1) reshape), then the per-channel ``* weight + bias``."""
    _tensor(input, "input", "group_norm")
    if input.ndim < 2:
        raise ShapeMismatch(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[0], input.shape[1]
    g = _int_arg(num_groups, "num_groups", "group_norm")
    if g <= 0 or c % g:
        raise ShapeMismatch(f"Expected number of channels in input to be divisible by num_groups, "
                            f"but got input of shape {input.shape} and num_groups={num_groups}")
    if _numel((n * c // g,) + input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{[n * c // g, g] + list(input.shape[2:])}")
    return _affine(_normalize_rows(input, n * g, eps), input, weight, bias, "group_norm")


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,  # noqa: A002
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation of (N, C, *spatial) input: each (sample, channel) normalised over
    its positions (biased variance), then ``* weight + bias`` per channel. With
    ``use_input_stats`` the running stats, when given, are updated in place with the batch
    average of the per-instance mean and unbiased variance (PyTorch's rule); without it the
    running stats normalise, as batch_norm in eval mode."""
    _tensor(input, "input", "instance_norm")
    if input.ndim < 2:
        raise ShapeMismatch(f"instance_norm: expected input of shape (N, C, *), got {input.shape}")
    n, c = input.shape[0], input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and (not isinstance(t, Tensor) or tuple(t.shape) != (c,)):
            got = t.shape if isinstance(t, Tensor) else type(t).__name__
            raise ShapeMismatch(f"instance_norm: {name} should contain {c} elements, got {got}")
    cs = (c,) + (1,) * (input.ndim - 2)
    if use_input_stats:
        m = _numel(input.shape[2:])
        if m == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
        y = _normalize_rows(input, n * c, eps)
        if running_mean is not None and running_var is not None and n * c:
            with no_grad():
                rows = reshape(input.detach(), (n, c, m))
                mu = _mean(rows, 2)
                var = _mean((rows - unsqueeze(mu, 2)) ** 2, 2) * (m / (m - 1))
                running_mean.mul_(1 - momentum).add_(_mean(mu, 0).to(running_mean.dtype) * momentum)
                running_var.mul_(1 - momentum).add_(_mean(var, 0).to(running_var.dtype) * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("Expected running_mean and running_var to be defined when use_input_stats is false")
        y = (input - reshape(running_mean, cs)) / (reshape(running_var, cs) + eps) ** 0.5
    return _affine(y, input, weight, bias, "instance_norm")


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):  # noqa: A002
    """``input / max(norm(input, p, dim, keepdim=True), eps)``: unit p-norm vectors along
    ``dim`` (the clamp is a real one: no gradient through the norm where it is below eps)."""
    _tensor(input, "input", "normalize")
    if out is not None:
        raise TypeError("normalize: out= is not supported (tensors here are written by ops only)")
    return input / _ew.clamp(_norm(input, p, dim, keepdim=True), min=eps)


def _clamp_min_no_grad(t, lo):
    """t with values below ``lo`` raised to lo, the gradient passing as if unclamped: PyTorch's
    ``with no_grad(): t.clamp_(min=lo)`` on a clone (cosine_similarity, gaussian_nll_loss)."""
    return _ew.where(t >= lo, t, t - t.detach() + lo)


def _float_inputs(fn, *ts):
    """Tensors promoted to one floating dtype (ints and bools to the default float)."""
    for i, t in enumerate(ts):
        _tensor(t, f"input{i + 1}" if len(ts) > 1 else "input", fn)
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = dtypes.promote(dt, t.dtype)
    if not dt.is_floating_point:
        dt = dtypes.get_default_dtype()
    return [t.to(dt) for t in ts]


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps)) along ``dim`` (x1 and x2 broadcast).
    As PyTorch, each input is divided by its own clamped norm first (keeps the result in
    [-1, 1]) and the clamp passes the gradient through (a no-grad clamp in PyTorch)."""
    x1, x2 = _float_inputs("cosine_similarity", x1, x2)
    shape = _sh.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = _sh.expand(x1, shape), _sh.expand(x2, shape)
    n1 = _clamp_min_no_grad(_norm(x1, 2, dim, keepdim=True), eps)
    n2 = _clamp_min_no_grad(_norm(x2, 2, dim, keepdim=True), eps)
    return _sum((x1 / n1) * (x2 / n2), dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of ``x1 - x2 + eps`` over the last dim (of the broadcast shape)."""
    x1, x2 = _float_inputs("pairwise_distance", x1, x2)
    return _norm(x1 - x2 + eps, p, max(x1.ndim, x2.ndim) - 1, keepdim=keepdim)


# ---- more losses (composites of tl ops; PyTorch's formulas, so their NaN and kink behaviour) ----

def _reduction(loss, reduction, fn):
    """'mean' / 'sum' / 'none' of an elementwise or per-sample ``loss``."""
    _check_reduction(reduction, fn)
    return _reduce(loss, reduction, loss.shape)


def kl_div(input, target, reduction="mean", log_target=False):  # noqa: A002
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``:
    target * (log(target) - input) elementwise (0 where target == 0), or, with ``log_target``,
    exp(target) * (target - input). ``reduction='batchmean'`` (the mathematical KL divergence)
    divides the sum by the batch size; 'mean' divides by the number of elements and warns, as
    PyTorch."""
    input, target = _float_inputs("kl_div", input, target)
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if log_target:
        loss = _ew.exp(target) * (target - input)
    else:
        # xlogy(target, target) - target * input; as PyTorch's, a target's gradient at 0 is NaN
        loss = _ew.where(target == 0, 0.0, target * _ew.log(target)) - target * input
    if reduction == "batchmean":
        total = _sum(loss)
        return total / input.shape[0] if input.ndim else total
    return _reduction(loss, reduction, "kl_div")


def _same_ndim(fn, **ts):
    if len({t.ndim for t in ts.values()}) > 1:
        sizes = ", ".join(f"{k}: {list(t.shape)}" for k, t in ts.items())
        raise ShapeMismatch(f"{fn} : All input tensors should have same dimension but got sizes: {sizes}")


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin): input1 should rank above input2 where
    target is 1, below where it is -1."""
    input1, input2, target = _float_inputs("margin_ranking_loss", input1, input2, target)
    _same_ndim("margin_ranking_loss", input1=input1, input2=input2, target=target)
    return _reduction(_ew.clamp(-target * (input1 - input2) + margin, min=0.0), reduction,
                      "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):  # noqa: A002
    """input where target == 1, max(0, margin - input) where target == -1 (PyTorch's rule for
    other target values: the sum of both terms where target is neither)."""
    input, target = _float_inputs("hinge_embedding_loss", input, target)
    loss = (_ew.where(target != 1, _ew.clamp(margin - input, min=0.0), 0.0)
            + _ew.where(target != -1, input, 0.0))
    return _reduction(loss, reduction, "hinge_embedding_loss")


def _not_differentiable(fn, what, t):
    """PyTorch's error for an argument its kernel gives no gradient, when it requires grad."""
    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{what}'. This input cannot have requires_grad True.")


def soft_margin_loss(input, target, reduction="mean"):  # noqa: A002
    """log(1 + exp(-target * input)) elementwise (softplus, so large margins do not
    overflow)."""
    input, target = _float_inputs("soft_margin_loss", input, target)
    _not_differentiable("soft_margin_loss", "target", target)
    return _reduction(softplus(-input * target), reduction, "soft_margin_loss")


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(input1, input2) where target == 1, max(0, cos - margin) where target == -1, cos
    along the last dim of (N, D) inputs with (N,) target (or (D,) with a 0-d target);
    cos = x1.x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12)), PyTorch's."""
    input1, input2, target = _float_inputs("cosine_embedding_loss", input1, input2, target)
    td = target.ndim
    if td not in (0, 1):
        raise ShapeMismatch("0D or 1D target tensor expected, multi-target not supported")
    if input1.ndim != td + 1 or input2.ndim != td + 1:
        raise ShapeMismatch(f"{td}D target tensor expects {td + 1}D input tensors, but found inputs "
                            f"with sizes {list(input1.shape)} and {list(input2.shape)}.")
    eps = 1e-12
    cos = _sum(input1 * input2, td) / ((_sum(input1 * input1, td) + eps)
                                       * (_sum(input2 * input2, td) + eps)) ** 0.5
    loss = (_ew.where(target == 1, 1.0 - cos, 0.0)
            + _ew.where(target == -1, _ew.clamp(cos - margin, min=0.0), 0.0))
    return _reduction(loss, reduction, "cosine_embedding_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d = pairwise_distance(p,
    eps); ``swap`` uses min(d(a, n), d(p, n)) as the negative distance."""
    anchor, positive, negative = _float_inputs("triplet_margin_loss", anchor, positive, negative)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) > 1:
        raise ShapeMismatch(f"The anchor, positive, and negative tensors are expected to have the "
                            f"same number of dimensions, but got: anchor {dims[0]}D, positive "
                            f"{dims[1]}D, and negative {dims[2]}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduction(_ew.clamp(margin + d_pos - d_neg, min=0.0), reduction, "triplet_margin_loss")


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8,  # noqa: A002
                     reduction="mean"):
    """Poisson negative log-likelihood: exp(input) - target * input for log-rates
    (``log_input``), else input - target * log(input + eps); ``full`` adds Stirling's
    approximation of log(target!) where target > 1."""
    input, target = _float_inputs("poisson_nll_loss", input, target)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_input:
        loss = _ew.exp(input) - target * input
    else:
        loss = input - target * _ew.log(input + eps)
    if full:
        stirling = target * _ew.log(target) - target + 0.5 * _ew.log(2 * math.pi * target)
        loss = loss + _ew.where(target <= 1, 0.0, stirling)
    return _reduction(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):  # noqa: A002
    """Gaussian negative log-likelihood 0.5 (log(var) + (input - target)^2 / var) (+ 0.5 log(2 pi)
    with ``full``), var clamped below at eps with the gradient passing through (PyTorch's
    no-grad clamp). ``var`` is input's shape, one dim short of it, or broadcastable to it in
    exactly one dim of size 1 (homoscedastic), or a float."""
    _tensor(input, "input", "gaussian_nll_loss")
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = ones(input.shape, dtype=input.dtype) * float(var)
    else:
        _tensor(var, "var", "gaussian_nll_loss")
        if bool(_any(var < 0)):
            raise ValueError("var has negative entry/entries")
    input, target, var = _float_inputs("gaussian_nll_loss", input, target, var)
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = unsqueeze(var, -1)
        elif not (input.ndim == var.ndim and
                  sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not valid")
    var = _clamp_min_no_grad(var, eps)
    loss = 0.5 * (_ew.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduction(loss, reduction, "gaussian_nll_loss")


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):  # noqa: A002
    """Mean over the C classes (the last dim) of the per-class binary cross-entropy of
    sigmoid(input) against 0/1 ``target``, each class scaled by ``weight``; one loss per sample."""
    input, target = _float_inputs("multilabel_soft_margin_loss", input, target)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * _tensor(weight, "weight", "multilabel_soft_margin_loss")
    c = input.shape[-1] if input.ndim else 1
    return _reduction(_sum(loss, input.ndim - 1 if input.ndim else None) / c, reduction,
                      "multilabel_soft_margin_loss")


class TargetOutOfRange(IndexError, RuntimeError):
    """A class index outside [0, C): this project's IndexError for class indices, and the
    RuntimeError PyTorch's multi_margin_loss raises."""


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):  # noqa: A002
    """Multi-class hinge loss of (N, C) scores (or (C,) with a 0-d target) against int64 class
    indices: sum over i != y of weight[y] * max(0, margin - x[y] + x[i])^p, divided by C."""
    _tensor(input, "input", "multi_margin_loss")
    _tensor(target, "target", "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and _tensor(weight, "weight", "multi_margin_loss").ndim != 1:
        raise ValueError("weight must be one-dimensional")
    if target.dtype is not dtypes.int64:
        raise TypeError(f"multi_margin_loss: target must be an int64 tensor of class indices, "
                        f"got dtype {target.dtype!r}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"multi_margin_loss: input must be a floating-point tensor, got dtype {input.dtype!r}")
    if input.ndim > 2 or input.ndim == 2 and input.shape[1] == 0 or input.ndim < 2 and input.numel() == 0:
        raise ShapeMismatch(f"Expected non-empty vector or matrix with optional 0-dim batch size, "
                            f"but got: {list(input.shape)}")
    n, c = (input.shape[0], input.shape[1]) if input.ndim == 2 else (1, input.numel())
    if target.ndim > 1 or target.numel() != n:
        raise ShapeMismatch(f"inconsistent target size, expected {n} but got {list(target.shape)}")
    if weight is not None and weight.numel() != c:
        raise ShapeMismatch(f"inconsistent weight size, expected {c} but got {list(weight.shape)}")
    _not_differentiable("multi_margin_loss", "weight", weight)
    x, y = reshape(input, (n, c)), reshape(target, (n, 1))
    try:    # (gather checks every index in C: no value read from Python, so tl.jit can capture)
        z = margin - _gather(x, 1, y) + x
    except RuntimeError as e:
        raise TargetOutOfRange(f"target out of range: {e}") from None
    h = _ew.where(z > 0, z, 0.0)        # PyTorch's test: the gradient where z > 0; NaN counts 0
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * reshape(weight.to(x.dtype)[reshape(y, (n,))], (n, 1))
    h = _ew.where(y == arange(c), 0.0, h)                 # not the target class itself
    loss = _sum(h, 1) / c
    return _reduction(loss if input.ndim == 2 else reshape(loss, ()), reduction, "multi_margin_loss")


# ---- attention ------------------------------------------------------------------------------------

def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value for query (..., L, E), key (..., S, E) and
    value (..., S, Ev), scale = 1/sqrt(E) by default; composed from matmul and softmax.
    ``attn_mask`` broadcasts to (..., L, S): bool (True takes part) or float (added to the
    scores); ``is_causal`` keeps the lower triangle (query i sees keys j <= i). A query row
    with every key masked gives zeros (and a zero gradient), as PyTorch's. ``dropout_p``
    drops attention weights (always, as PyTorch: pass 0.0 in eval). ``enable_gqa`` repeats
    key/value heads (dim -3) to match query's."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        _tensor(t, name, "scaled_dot_product_attention")
        if t.ndim < 2:
            raise ShapeMismatch(f"scaled_dot_product_attention: {name} must have at least 2 dims "
                                f"(..., seq, features), got shape {t.shape}")
    if not (query.dtype is key.dtype is value.dtype) or not query.dtype.is_floating_point:
        raise DtypeMismatch(f"Expected query, key, and value to have the same floating-point dtype, "
                            f"but got query.dtype: {query.dtype} key.dtype: {key.dtype} and "
                            f"value.dtype: {value.dtype} instead.")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hk == 0 or hq % hk or value.shape[-3] != hk:
            raise ShapeMismatch(f"scaled_dot_product_attention: with enable_gqa, query's {hq} heads "
                                f"must be a multiple of key's and value's ({hk}, {value.shape[-3]})")
        key = _repeat_interleave(key, hq // hk, -3)
        value = _repeat_interleave(value, hq // hk, -3)
    L, E, S = query.shape[-2], query.shape[-1], key.shape[-2]
    if key.shape[-1] != E:
        raise ShapeMismatch(f"scaled_dot_product_attention: query {query.shape} and key {key.shape} "
                            f"must have the same last dim (the embedding)")
    if value.shape[-2] != S:
        raise ShapeMismatch(f"scaled_dot_product_attention: key {key.shape} and value {value.shape} "
                            f"must have the same sequence length (dim -2)")
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                               "when is_causal=True")
        attn_mask = _tril(ones(L, S, dtype=dtypes.bool_))
    weights = _attention_weights(query, key, attn_mask, dropout_p,
                                 1.0 / math.sqrt(E) if scale is None else float(scale), is_causal)
    return _matmul(weights, value)


def _attention_weights(query, key, attn_mask, dropout_p, scale, causal=False):
    """softmax(query @ key^T * scale + mask) along the keys, then dropout: the attention
    weights (..., L, S) of scaled_dot_product_attention and MultiheadAttention. A bool mask
    keeps the True entries; a float mask is added. A row with every key masked (all -inf) gives
    zeros and a zero gradient (PyTorch's safe softmax), not NaN."""
    scores = _matmul(query, _sh.transpose(key, -2, -1)) * scale
    empty_rows = None                 # (..., L, 1): True where every key of a query is masked
    if attn_mask is not None:
        _tensor(attn_mask, "attn_mask", "scaled_dot_product_attention")
        try:
            _sh.broadcast_shapes(attn_mask.shape, scores.shape)
        except ValueError:
            raise ShapeMismatch(f"scaled_dot_product_attention: attn_mask of shape {attn_mask.shape} "
                                f"does not broadcast to the scores' shape {scores.shape} "
                                f"(..., L, S)") from None
        if attn_mask.dtype is dtypes.bool_:
            scores = _ew.where(attn_mask, scores, float("-inf"))
            empty_rows = ~_any(attn_mask, -1, keepdim=True)
        else:
            scores = scores + attn_mask.to(scores.dtype)
            empty_rows = _all(scores.detach() == float("-inf"), -1, keepdim=True)
    if empty_rows is None or causal:      # (a causal mask keeps key 0 for every query)
        weights = softmax(scores, -1)
    else:
        # the scores of such rows are replaced before the softmax, so that no NaN reaches the
        # gradient either (always, whether or not a row is empty: no value is read from Python,
        # so tl.jit can capture it)
        weights = _ew.where(empty_rows, 0.0, softmax(_ew.where(empty_rows, 0.0, scores), -1))
    return dropout(weights, dropout_p) if dropout_p > 0.0 else weights


# ---- rms_norm -------------------------------------------------------------------------------------

# torch.finfo(dtype).eps: rms_norm's default eps
_EPS = {dtypes.float16: 2.0 ** -10, dtypes.bfloat16: 2.0 ** -7, dtypes.float32: 2.0 ** -23,
        dtypes.float64: 2.0 ** -52}


def rms_norm(input, normalized_shape, weight=None, eps=None):  # noqa: A002
    """x / sqrt(mean(x^2 over the trailing ``normalized_shape`` dims) + eps) * weight; eps None
    is the machine epsilon of input's dtype (torch.finfo(dtype).eps), as PyTorch. A composite
    (a mean, a pow and two products): measured against a fused kernel, see the README."""
    _tensor(input, "input", "rms_norm")
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or k > input.ndim or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ShapeMismatch(f"Given normalized_shape={list(normalized_shape)}, expected input with "
                            f"shape [*, {', '.join(map(str, normalized_shape))}], but got input of "
                            f"size{list(input.shape)}")
    if weight is not None and tuple(_tensor(weight, "weight", "rms_norm").shape) != normalized_shape:
        raise ShapeMismatch(f"rms_norm: weight shape {weight.shape} must equal normalized_shape "
                            f"{normalized_shape}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"rms_norm: input must be a floating-point tensor, got dtype {input.dtype!r}")
    if eps is None:
        eps = _EPS[input.dtype]
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * (_mean(input * input, dims, keepdim=True) + eps) ** -0.5
    return y * weight if weight is not None else y


# ---- channel-wise and alpha dropout ---------------------------------------------------------------

_SELU_ALPHA = 1.7580993408473766      # -selu's scale * alpha: where alpha dropout sends dropped units


def _check_p(p):
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")


def _masked_dropout(x, p, training, feature, alpha, fn):
    """PyTorch's _dropout_impl: a keep mask (drawn per element, or per (sample, channel) with
    ``feature`` and broadcast over the rest) with P(keep) = 1 - p, then x * mask / (1 - p), or
    with ``alpha`` a * (x * mask + alpha' * (mask - 1)) + alpha' * a * p (alpha' = 1.758..., a =
    1/sqrt((alpha'^2 p + 1)(1 - p))), which keeps a SELU network's mean and variance. The
    gradient is the mask times the scale. Identity in eval mode or with p == 0."""
    _tensor(x, "input", fn)
    _check_p(p)
    if not training or p == 0:
        return x
    if not x.dtype.is_floating_point:
        raise TypeError(f"{fn}: input must be a floating-point tensor, got dtype {x.dtype!r}")
    if feature and x.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1:
        return x * zeros_like(x)
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
    keep = (rand(shape, dtype=x.dtype) >= p).to(x.dtype)
    if not alpha:
        return x * (keep * (1.0 / (1.0 - p)))
    a = 1.0 / math.sqrt((_SELU_ALPHA * _SELU_ALPHA * p + 1) * (1 - p))
    return x * (keep * a) + (keep - 1.0) * (_SELU_ALPHA * a) + _SELU_ALPHA * a * p


def _maybe_inplace(x, inplace, fn, f):
    """f(x), or with ``inplace`` f's result written into x (ops/inplace.py records it)."""
    return _activation_copy_(x, fn, f) if inplace else f(x)


def _channel_dropout(x, batched, fn, p, training, inplace):
    """Channel-wise dropout of (N, C, *) input, or of (C, *) input with ``batched`` False."""
    if not training or p == 0:
        return x
    def f(a):
        if not batched:
            return reshape(_masked_dropout(unsqueeze(a, 0), p, training, True, False, fn), a.shape)
        return _masked_dropout(a, p, training, True, False, fn)
    return _maybe_inplace(x, inplace, fn, f)


def dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p`` (one draw per
    (sample, channel)), scale the rest by 1/(1 - p)."""
    _tensor(input, "input", "dropout1d")
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           f"input. Note that dropout1d exists to provide channel-wise dropout on "
                           f"inputs with 1 spatial dimension, a channel dimension, and an optional "
                           f"batch dimension (i.e. 2D or 3D inputs).")
    return _channel_dropout(input, input.ndim == 3, "dropout1d", p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability ``p``. As
    PyTorch, 3-d input is taken as (N, C, L) with a warning, and other ranks warn and drop
    per (dim 0, dim 1) entry."""
    _tensor(input, "input", "dropout2d")
    _check_p(p)
    d = input.ndim
    if d not in (3, 4):
        warnings.warn(f"dropout2d: Received a {d}-D input to dropout2d, which is deprecated and "
                      f"will result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that dropout2d "
                      f"exists to provide channel-wise dropout on inputs with 2 spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. 3D "
                      f"or 4D inputs).", stacklevel=2)
    if d == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape (C, H, "
                      "W). To maintain the 1D channel-wise dropout behavior, please switch to "
                      "using dropout1d instead.", stacklevel=2)
    return _channel_dropout(input, True, "dropout2d", p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``
    (other ranks warn and are taken as unbatched, as PyTorch)."""
    _tensor(input, "input", "dropout3d")
    _check_p(p)
    d = input.ndim
    if d not in (4, 5):
        warnings.warn(f"dropout3d: Received a {d}-D input to dropout3d, which is deprecated and "
                      f"will result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that dropout3d "
                      f"exists to provide channel-wise dropout on inputs with 3 spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. 4D "
                      f"or 5D inputs).", stacklevel=2)
    return _channel_dropout(input, d == 5, "dropout3d", p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """Dropout for SELU networks: dropped elements go to SELU's negative saturation value and an
    affine map restores zero mean and unit variance (training defaults to False, as PyTorch)."""
    if not inplace or not training or p == 0:
        return _masked_dropout(input, p, training, False, True, "alpha_dropout")
    return _activation_copy_(input, "alpha_dropout",
                             lambda a: _masked_dropout(a, p, training, False, True, "alpha_dropout"))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """alpha_dropout of whole channels: one draw per (dim 0, dim 1) entry."""
    if not inplace or not training or p == 0:
        return _masked_dropout(input, p, training, True, True, "feature_alpha_dropout")
    return _activation_copy_(input, "feature_alpha_dropout",
                             lambda a: _masked_dropout(a, p, training, True, True, "feature_alpha_dropout"))


# ---- rrelu, bilinear, channel_shuffle, local_response_norm, lp_pool, gumbel_softmax ---------------

def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):  # noqa: A002
    """Randomized leaky ReLU: x for x > 0, else x * a. Training draws a ~ U(lower, upper) per
    element (tl's generator; the gradient is a there); eval uses a = (lower + upper) / 2 (a
    leaky_relu). ``training`` defaults to False, as PyTorch's functional."""
    _tensor(input, "input", "rrelu")
    lower, upper = float(lower), float(upper)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")

    def f(x):
        if not training:
            return _ew.leaky_relu(x, (lower + upper) / 2)
        if not x.dtype.is_floating_point:
            raise TypeError(f"rrelu: input must be a floating-point tensor, got dtype {x.dtype!r}")
        slope = rand(x.shape, dtype=x.dtype) * (upper - lower) + lower
        return x * _ew.where(x.detach() > 0, 1.0, slope)      # PyTorch's test: x <= 0 draws
    return _maybe_inplace(input, inplace, "rrelu", f)


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]: input1
    (*, in1), input2 (*, in2) with the same leading dims, weight (out, in1, in2), bias (out,).
    One matmul with weight as an (in1, out * in2) matrix, then a product and a sum over in2."""
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        _tensor(t, name, "bilinear")
    if input1.ndim != input2.ndim:
        raise ShapeMismatch(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                            f"{input2.ndim}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise ShapeMismatch(f"bilinear(): input batch dimensions do not match: got "
                            f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if input1.ndim == 0 or weight.ndim != 3:
        raise ShapeMismatch(f"bilinear(): expected inputs of at least 1 dim and a 3-d weight "
                            f"(out, in1, in2), got {list(input1.shape)} and weight "
                            f"{list(weight.shape)}")
    o, i1, i2 = weight.shape
    if input1.shape[-1] != i1:
        raise ShapeMismatch(f"bilinear(): input1 size does not match weight size: got "
                            f"{input1.shape[-1]} but expected {i1}")
    if input2.shape[-1] != i2:
        raise ShapeMismatch(f"bilinear(): input2 size does not match weight size: got "
                            f"{input2.shape[-1]} but expected {i2}")
    if bias is not None and (_tensor(bias, "bias", "bilinear").ndim != 1 or bias.shape[0] != o):
        raise ShapeMismatch(f"bilinear(): bias size does not match weight size: got "
                            f"{list(bias.shape)} but expected [{o}]")
    lead = input1.shape[:-1]
    w = reshape(permute(weight, (1, 0, 2)), (i1, o * i2))
    t = reshape(_matmul(reshape(input1, (-1, i1)), w), (-1, o, i2))
    y = reshape(_sum(t * unsqueeze(reshape(input2, (-1, i2)), 1), 2), lead + (o,))
    return y + bias if bias is not None else y


def channel_shuffle(input, groups):  # noqa: A002
    """(N, C, *) -> the C channels seen as (groups, C / groups), transposed: channel g * (C /
    groups) + k goes to position k * groups + g (ShuffleNet's)."""
    _tensor(input, "input", "channel_shuffle")
    g = _int_arg(groups, "groups", "channel_shuffle")
    if input.ndim < 3:
        raise ShapeMismatch(f"channel_shuffle expects input to have at least 3 dimensions, but got "
                            f"input with sizes {list(input.shape)}")
    if g <= 0:
        raise ShapeMismatch(f"Number of groups to divide channels in must be positive. Value of "
                            f"groups:{g}")
    n, c = input.shape[:2]
    if c % g:
        raise ShapeMismatch(f"Number of channels must be divisible by groups. Got {c} channels "
                            f"and {g} groups.")
    rest = input.shape[2:]
    y = _sh.transpose(reshape(input, (n, g, c // g) + rest), 1, 2)
    return reshape(contiguous(y), input.shape)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):  # noqa: A002
    """x / (k + alpha * mean of x^2 over a window of ``size`` channels)^beta, the window centred
    on each channel (size // 2 before, (size - 1) // 2 after, zeros beyond the edges), as
    PyTorch's: (N, C, *) input."""
    _tensor(input, "input", "local_response_norm")
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    size = _int_arg(size, "size", "local_response_norm")
    if size <= 0:
        raise ValueError(f"local_response_norm: size must be positive, got {size}")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = pad(input * input, (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2))
    win = _sh.narrow(sq, 1, 0, c)
    for j in range(1, size):               # (the window sum as size shifted slices)
        win = win + _sh.narrow(sq, 1, j, c)
    return input / (win * (alpha / size) + k) ** beta


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, pool, n):
    _tensor(input, "input", pool.__name__.replace("avg", "lp"))
    out = pool(input ** norm_type, kernel_size, stride, 0, ceil_mode)
    # PyTorch's sign(out) * relu(|out|): a negative mean of powers stays negative (then NaN)
    return (_ew.sign(out) * _ew.relu(_ew.abs(out)) * n) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """(sum of x^p over each window)^(1/p) of (N, C, L) or (C, L) input (p = norm_type): the
    average pool of x^p times the window size, as PyTorch's."""
    if not isinstance(kernel_size, numbers.Integral):
        (kernel_size,) = kernel_size
    return _lp_pool(input, float(norm_type), kernel_size, stride, ceil_mode, avg_pool1d, kernel_size)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """(sum of x^p over each kH x kW window)^(1/p) of (N, C, H, W) or (C, H, W) input."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, numbers.Integral) else kernel_size
    return _lp_pool(input, float(norm_type), kernel_size, stride, ceil_mode, avg_pool2d, kh * kw)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) along ``dim``, g ~ Gumbel(0, 1) from tl's generator; ``hard``
    returns the one-hot of its argmax with the soft sample's gradient (straight-through).
    ``eps`` is unused, as in PyTorch."""
    _tensor(logits, "logits", "gumbel_softmax")
    if not logits.dtype.is_floating_point:
        raise TypeError(f"gumbel_softmax: logits must be floating-point, got dtype {logits.dtype!r}")
    # -log(E), E = -log(U) ~ Exp(1): U == 0 gives g = -inf (probability 0), never NaN
    g = -_ew.log(-_ew.log(rand(logits.shape, dtype=logits.dtype)))
    y = softmax((logits + g) / tau, dim)
    if not hard:
        return y
    d = _wrap_dim(dim, logits.ndim)
    index = _argmax(y.detach(), d, keepdim=True)
    y_hard = _scatter(zeros_like(logits), d, index, 1.0)
    return y_hard - y.detach() + y


# ---- multilabel_margin_loss, ctc_loss -------------------------------------------------------------

def multilabel_margin_loss(input, target, reduction="mean"):  # noqa: A002
    """Multi-label hinge loss of (N, C) scores (or (C,)) against int64 ``target`` of input's
    shape holding class indices, the list ending at the first -1: sum over the listed classes j
    and the unlisted classes i of max(0, 1 - (x[j] - x[i])), divided by C."""
    _tensor(input, "input", "multilabel_margin_loss")
    _tensor(target, "target", "multilabel_margin_loss")
    _check_reduction(reduction, "multilabel_margin_loss")
    if not input.dtype.is_floating_point:
        raise TypeError(f"multilabel_margin_loss: input must be a floating-point tensor, got dtype "
                        f"{input.dtype!r}")
    if target.dtype is not dtypes.int64:
        raise TypeError(f"multilabel_margin_loss: target must be an int64 tensor of class indices, "
                        f"got dtype {target.dtype!r}")
    if input.ndim > 2 or input.ndim == 2 and input.shape[1] == 0 or input.ndim < 2 and input.numel() == 0:
        raise ShapeMismatch(f"Expected non-empty vector or matrix with optional 0-dim batch size, "
                            f"but got: {list(input.shape)}")
    if target.shape != input.shape:
        raise ShapeMismatch(f"inconsistent target size: {list(target.shape)} for input of size: "
                            f"{list(input.shape)}")
    n, c = (input.shape[0], input.shape[1]) if input.ndim == 2 else (1, input.numel())
    x, y = reshape(input, (n, c)), reshape(target, (n, c))
    # x[y_j] for every entry, -1 read as 0: gather checks each index in C, so a class outside
    # [-1, C), after the first -1 too, raises as in PyTorch (and no value is read from Python,
    # so tl.jit can capture the loss)
    try:
        xy = _gather(x, 1, _ew.where(y == -1, 0, y))
    except RuntimeError as e:
        raise TargetOutOfRange(f"multilabel_margin_loss: target out of range: {e}") from None
    listed = _cumsum((y == -1).to(dtypes.int64), 1) == 0        # before the first -1
    yi = _ew.where(listed, y, 0)
    hit = _ew.logical_and(unsqueeze(yi, 2) == arange(c), unsqueeze(listed, 2))
    is_target = _any(hit, 1)                                     # (n, C): class i is listed
    z = 1.0 - unsqueeze(xy, 2) + unsqueeze(x, 1)                 # (n, j, i)
    h = _ew.where(z > 0, z, 0.0)                                 # NaN counts 0, as PyTorch
    h = _ew.where(_ew.logical_and(unsqueeze(listed, 2), unsqueeze(~is_target, 1)), h, 0.0)
    loss = _sum(h, (1, 2)) / c
    return _reduction(loss if input.ndim == 2 else reshape(loss, ()), reduction,
                      "multilabel_margin_loss")


def _log_sum_exp(x):
    """log(sum(exp(x))) over dim 0, with a zero gradient (not NaN) where every entry is -inf:
    the CTC recursion's unreachable states."""
    m = _max(x.detach(), 0)
    dead = m == float("-inf")
    m = _ew.where(dead, 0.0, m)
    s = _sum(_ew.exp(x - m), 0)
    return _ew.where(dead, float("-inf"), m + _ew.log(_ew.where(dead, 1.0, s)))


def _lengths(v, n, what):
    """CTC's input_lengths / target_lengths (a tensor or a sequence of ints) as a list of n ints."""
    if isinstance(v, Tensor):
        if v.dtype.is_floating_point or v.dtype is dtypes.bool_:
            raise TypeError(f"ctc_loss: {what} must be integers, got dtype {v.dtype!r}")
        v = v.reshape(-1).tolist()
    elif isinstance(v, numbers.Integral):
        v = [v]
    v = [int(a) for a in v]
    if len(v) != n:
        raise ShapeMismatch(f"{what} must be of size batch_size ({n}), got {len(v)}")
    if any(a < 0 for a in v):
        raise ShapeMismatch(f"ctc_loss: {what} must be non-negative, got {v}")
    return v


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist temporal classification loss: -log of the total probability of the
    alignments of each target sequence with its input. ``log_probs`` (T, N, C) (or (T, C)
    unbatched), ``targets`` (N, S) padded or 1-D concatenated (sum(target_lengths),), lengths as
    tensors or int sequences. The log-space alpha recursion over the 2S + 1 blank-interleaved
    labels, written with tensor ops (T steps on (N, 2S + 1) tensors, so gradients come from
    autograd). 'mean' divides each loss by its target length, then averages."""
    _tensor(log_probs, "log_probs", "ctc_loss")
    _tensor(targets, "targets", "ctc_loss")
    _check_reduction(reduction, "ctc_loss")
    if not log_probs.dtype.is_floating_point:
        raise TypeError(f"ctc_loss: log_probs must be a floating-point tensor, got dtype "
                        f"{log_probs.dtype!r}")
    if targets.dtype.is_floating_point or targets.dtype is dtypes.bool_:
        raise TypeError(f"ctc_loss: targets must be integer class indices, got dtype {targets.dtype!r}")
    if log_probs.ndim not in (2, 3):
        raise ShapeMismatch(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape "
                            f"{list(log_probs.shape)}")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = unsqueeze(log_probs, 1)
        if targets.ndim == 1:
            targets = unsqueeze(targets, 0)
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise ShapeMismatch(f"blank must be in label range (0 <= blank < {C}), got {blank}")
    ins = _lengths(input_lengths, N, "input_lengths")
    tls = _lengths(target_lengths, N, "target_lengths")
    if max(ins, default=0) > T:
        raise ShapeMismatch(f"Expected input_lengths to have value at most {T}, but got value "
                            f"{max(ins)}")
    L = max(tls, default=0)
    targets = targets.to(dtypes.int64)
    if targets.ndim == 2:
        if targets.shape[0] != N or targets.shape[1] < L:
            raise ShapeMismatch(f"ctc_loss: targets of shape {list(targets.shape)} must be (N, S) "
                                f"with N = {N} and S >= the longest target length {L}")
        tg = _sh.narrow(targets, 1, 0, L)
    elif targets.ndim == 1:
        if targets.shape[0] != sum(tls):
            raise ShapeMismatch(f"ctc_loss: 1-D (concatenated) targets must have sum(target_lengths)"
                                f" = {sum(tls)} entries, got {targets.shape[0]}")
        starts = [sum(tls[:i]) for i in range(N)]          # each row padded with its first entry
        pick = [[starts[i] + (s if s < tls[i] else 0) for s in range(L)] if tls[i] else [0] * L
                for i in range(N)]
        tg = (targets[_tensor_of(pick, dtype=dtypes.int64)] if L and sum(tls)
              else zeros(N, L, dtype=dtypes.int64))
    else:
        raise ShapeMismatch(f"ctc_loss: targets must be (N, S) or 1-D, got shape {list(targets.shape)}")
    # the extended labels: blank, l1, blank, l2, ..., blank (padding past each length is blank)
    tlen = _tensor_of([[a] for a in tls], dtype=dtypes.int64)             # (N, 1)
    tg = _ew.where(arange(L) < tlen, tg, blank) if L else tg
    ext = reshape(_sh.stack([full((N, L), blank, dtype=dtypes.int64), tg], 2), (N, 2 * L))
    ext = _sh.cat([ext, full((N, 1), blank, dtype=dtypes.int64)], 1)   # (N, 2L + 1)
    S = 2 * L + 1
    pos = arange(S)
    # the skip s-2 -> s is allowed onto a label that differs from the one two back
    prev2 = _sh.cat([ext[:, :2], ext[:, :-2]], 1) if S > 2 else ext
    skip = _ew.logical_and(_ew.logical_and(ext != blank, pos >= 2), ext != prev2)
    try:
        lp = _gather(log_probs, 2, _sh.expand(unsqueeze(ext, 0), (T, N, S)))   # (T, N, S)
    except RuntimeError as e:
        raise TargetOutOfRange(f"ctc_loss: a target is outside [0, {C}): {e}") from None
    ninf = float("-inf")
    tin = _tensor_of([[a] for a in ins], dtype=dtypes.int64)              # (N, 1)
    # t = 0: start in the first blank or the first label; an empty input ends where it starts
    if T:
        alpha = _ew.where(_ew.logical_and(pos < 2, tin > 0), lp[0], ninf)
        alpha = _ew.where(_ew.logical_and(pos == 0, tin == 0), 0.0, alpha)
    else:
        alpha = _ew.where(pos == 0, zeros(N, S, dtype=log_probs.dtype), ninf)   # (T = 0)
    pad1 = full((N, 1), ninf, dtype=log_probs.dtype)
    for t in range(1, T):
        # alpha_t(s) = logsumexp(alpha(s), alpha(s - 1), alpha(s - 2) where skip) + lp_t(s)
        a1 = _sh.cat([pad1, alpha[:, :-1]], 1)
        if S > 2:
            a2 = _ew.where(skip, _sh.cat([pad1, pad1, alpha[:, :-2]], 1), ninf)
            new = _log_sum_exp(_sh.stack([alpha, a1, a2])) + lp[t]
        else:
            new = _log_sum_exp(_sh.stack([alpha, a1])) + lp[t]
        # samples past their input length stay put (the lengths are known here: no op when none is)
        alpha = _ew.where(tin > t, new, alpha) if min(ins) <= t else new
    end = _gather(alpha, 1, 2 * tlen)
    before = _ew.where(tlen > 0, _gather(alpha, 1, _ew.clamp(2 * tlen - 1, min=0)), ninf)
    loss = -reshape(_log_sum_exp(_sh.stack([end, before])), (N,))
    # PyTorch's kernel returns the gradient of the logits under log_probs = log_softmax(logits):
    # exp(log_probs) more than the derivative, at t < the input length. A zero-valued term with
    # that gradient gives the same numbers (identical after a log_softmax either way).
    if T and log_probs.requires_grad:
        e = _ew.where(_sh.expand(reshape(arange(T), (T, 1, 1)), (T, N, 1)) < reshape(tin, (1, N, 1)),
                      _ew.exp(log_probs) - _ew.exp(log_probs.detach()), 0.0)
        # (not for an impossible target: its gradient stays 0, where PyTorch's is NaN)
        loss = loss + _ew.where(loss.detach() == float("inf"), 0.0, _sum(e, (0, 2)))
    if zero_infinity:
        loss = _ew.where(loss == float("inf"), 0.0, loss)
    if reduction == "mean":
        return _mean(loss / _ew.clamp(reshape(tlen, (N,)), min=1).to(loss.dtype))
    if reduction == "sum":
        return _sum(loss)
    return reshape(loss, ()) if unbatched else loss


# ---- embedding_bag --------------------------------------------------------------------------------

_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,  # noqa: A002
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sums, means or maxima of bags of embeddings without the (bags, length, dim) tensor: 2-d
    ``input`` (B, L) is B bags of L indices; 1-d ``input`` with ``offsets`` (B,) (or (B + 1,)
    with ``include_last_offset``) starts bag b at offsets[b]. ``per_sample_weights`` (input's
    shape) scale each row ('sum' only); entries equal to ``padding_idx`` are left out (and not
    counted by 'mean'); an empty bag gives zeros. Written as index_add (sum, mean) and
    scatter_reduce 'amax' (max) of the picked rows; max_norm, scale_grad_by_freq and sparse
    are not supported (NotImplementedError)."""
    _tensor(input, "input", "embedding_bag")
    _tensor(weight, "weight", "embedding_bag")
    if mode not in _BAG_MODES:
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding_bag: max_norm, scale_grad_by_freq and sparse are not "
                                  "supported")
    if input.dtype is not dtypes.int64:
        raise TypeError(f"embedding_bag: input must be int64 indices, got dtype {input.dtype!r}")
    if weight.ndim != 2:
        raise ShapeMismatch(f"embedding_bag: weight has to be a 2D Tensor, but got Tensor of "
                            f"dimension {weight.ndim}")
    if per_sample_weights is not None:
        _tensor(per_sample_weights, "per_sample_weights", "embedding_bag")
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' "
                                      f"(got mode='{mode}'). Please open a feature request on "
                                      f"GitHub.")
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)})"
                             f" is not None, then it must have the same shape as the input "
                             f"({list(input.shape)})")
    num, dim = weight.shape
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated is "
                             f"a mini-batch of fixed length sequences. However, found offsets of "
                             f"type {type(offsets).__name__}")
        b, length = input.shape
        bag = reshape(_sh.expand(unsqueeze(arange(b), 1), (b, length)), (-1,))
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        _tensor(offsets, "offsets", "embedding_bag")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        if offsets.dtype is not dtypes.int64:
            raise TypeError(f"embedding_bag: offsets must be int64, got dtype {offsets.dtype!r}")
        b = offsets.shape[0] - (1 if include_last_offset else 0)
        if b < 0:
            raise ValueError("embedding_bag: include_last_offset needs at least one offset")
        if offsets.shape[0] and int(offsets[0].item()) != 0:
            raise ValueError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                             f"has to start from position 0. However, got {int(offsets[0].item())}")
        # bag of entry i = the number of offsets <= i, minus one (b: past the last offset)
        n = input.shape[0]
        bag = _sum((unsqueeze(arange(n), 1) >= offsets).to(dtypes.int64), 1) - 1 if offsets.shape[0] \
            else zeros(n, dtype=dtypes.int64)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    flat = reshape(input, (-1,))
    if flat.numel() and (int(_min(flat).item()) < 0 or int(_max(flat).item()) >= num):
        raise IndexError(f"embedding_bag: index out of range in self (indices must be in [0, {num}))")
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if not -num <= padding_idx < num:
            raise ShapeMismatch(f"padding_idx must be within the number of embeddings, -{num} "
                                f"through {num - 1}, but got {padding_idx}")
        padding_idx %= num
        bag = _ew.where(flat == padding_idx, b, bag)        # padding goes to the spare bag b
    rows = weight[flat]                                     # (n, dim)
    if per_sample_weights is not None:
        rows = rows * unsqueeze(reshape(per_sample_weights, (-1,)).to(weight.dtype), 1)
    if mode == "max":
        idx = _sh.expand(unsqueeze(bag, 1), rows.shape)
        out = _scatter_reduce(zeros(b + 1, dim, dtype=weight.dtype), 0, idx, rows, "amax",
                              include_self=False)
    else:
        out = _index_add(zeros(b + 1, dim, dtype=weight.dtype), 0, bag, rows)
        if mode == "mean":
            counts = _index_add(zeros(b + 1, dtype=weight.dtype), 0, bag,
                                ones(bag.shape[0], dtype=weight.dtype))
            out = out / unsqueeze(_ew.clamp(counts, min=1.0), 1)
    return _sh.narrow(out, 0, 0, b)
