"""Resampling: F.interpolate ('nearest', 'nearest-exact', 'linear', 'bilinear'), pixel_shuffle and
pixel_unshuffle, as composites of ops (no Function of their own: their gradients come from the
ops they are made of).

interpolate is separable: along each spatial dim in turn it gathers whole slices
(``index_select``, whose VJP scatter-adds, as PyTorch's nearest backward sums) and, for the
linear modes, blends the two neighbouring slices with per-position weights. The source indices
and weights are PyTorch's (aten/src/ATen/native/UpSample.h), computed here from the sizes alone:
nearest reads floor(dst * scale) in float32 arithmetic, capped at in - 1 (nearest-exact:
floor((dst + 0.5) * scale)); linear copies a dim whose size does not change (whatever
the scale, as PyTorch's kernels) and otherwise reads src = max(scale * (dst + 0.5) - 0.5, 0) (align_corners:
src = dst * (in - 1) / (out - 1)) between i0 = floor(src) and i0 + 1 (capped), weights
1 - (src - i0) and src - i0, in the input's precision. scale is 1 / scale_factor when a
scale_factor is given (and not recomputed), else in / out.
"""
import math
import struct

from .. import dtypes
from ..creation import tensor
from ..tensor import Tensor
from .conv import ConvShapeError, _half_as_float
from .elementwise import add, mul
from .index import index_select
from .shape import permute, reshape

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_DIMS = {"linear": 1, "bilinear": 2}


def _f32(v):
    """v rounded to float32 (PyTorch computes nearest's source index in float)."""
    return struct.unpack("f", struct.pack("f", v))[0]


def _nearest_index(n_in, n_out, scale, exact):
    """PyTorch's nearest / nearest-exact source index of each output position."""
    s = _f32(1.0 / scale if scale else n_in / n_out)
    off = 0.5 if exact else 0.0
    return [min(int(math.floor(_f32((i + off) * s))), n_in - 1) for i in range(n_out)]


def _linear_taps(n_in, n_out, scale, align_corners, single):
    """(i0, i1, w0, w1) lists of PyTorch's linear interpolation; ``single``: float32 arithmetic."""
    r = _f32 if single else float
    if align_corners:
        s = r((n_in - 1) / (n_out - 1)) if n_out > 1 else 0.0
    else:
        s = r(1.0 / scale if scale else n_in / n_out)
    i0, i1, w0, w1 = [], [], [], []
    for d in range(n_out):
        src = r(s * d) if align_corners else max(r(r(s * r(d + 0.5)) - 0.5), 0.0)
        lo = int(src)
        lam = r(src - lo)
        i0.append(lo)
        i1.append(lo + (1 if lo < n_in - 1 else 0))
        w0.append(r(1.0 - lam))
        w1.append(lam)
    return i0, i1, w0, w1


def _weights(w, dim, x):
    """Weights w (one per position along ``dim``) shaped to broadcast against x."""
    return reshape(tensor(w, dtype=x.dtype), (len(w),) + (1,) * (x.ndim - 1 - dim))


def _check_float(x, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{fn}: input must be a floating-point tensor, got {x.dtype!r}")


def _per_dim(v, spatial, what, given, fmt, letter):
    """``v`` (one value or one per spatial dim) as a list per dim; PyTorch's ValueError otherwise."""
    vals = list(v) if isinstance(v, (tuple, list)) else [v] * len(spatial)
    if len(vals) != len(spatial):
        raise ValueError(f"Input and {what} must have the same number of spatial dimensions, but got "
                         f"input with spatial dimensions of {list(spatial)} and {given} {v}. Please "
                         f"provide input tensor in (N, C, d1, d2, ...,dK) format and {fmt} in "
                         f"({letter}1, {letter}2, ...,{letter}K) format.")
    return vals


def _output_sizes(x, size, scale_factor, recompute_scale_factor):
    """(output sizes, scales or None per dim) from size / scale_factor, as F.interpolate."""
    spatial = x.shape[2:]
    n = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("either size or scale_factor should be defined" if size is None
                         else "only one of size or scale_factor should be defined")
    if size is not None:
        sizes = _per_dim(size, spatial, "output", "output size of", "output size", "o")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
            raise TypeError(f"interpolate: size must be an int or a tuple of ints, got {size!r}")
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        return sizes, [None] * n
    scales = _per_dim(scale_factor, spatial, "scale_factor", "scale_factor of shape", "scale_factor", "s")
    scales = [float(s) for s in scales]
    sizes = [int(math.floor(float(spatial[i]) * scales[i])) for i in range(n)]
    return sizes, [None] * n if recompute_scale_factor else scales


@_half_as_float
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, L) or (N, C, H, W) ``input`` to ``size`` (or by
    ``scale_factor``), as torch.nn.functional.interpolate, for modes 'nearest', 'nearest-exact',
    'linear' (3-D input) and 'bilinear' (4-D input). float16/bfloat16 are computed in float32."""
    fn = "interpolate"
    _check_float(input, fn)
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {_MODES}, got {mode!r}")
    linear = mode in _DIMS
    if align_corners is not None and not linear:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D and 4D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | nearest-exact | linear | "
                                  f"bilinear (got {mode})")
    if linear and input.ndim - 2 != _DIMS[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_DIMS[mode] + 2}D input")
    if mode not in ("nearest", "nearest-exact") and not linear:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (nearest, "
                                  f"nearest-exact, linear, bilinear are)")
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    for i, s in enumerate(sizes):
        if s <= 0:
            raise ValueError(f"interpolate: output size must be positive, got {sizes} for input "
                             f"of spatial size {list(input.shape[2:])}")
        if input.shape[i + 2] == 0:
            raise ValueError(f"interpolate: input has an empty spatial dim: {list(input.shape)}")
    out = input
    single = input.dtype is not dtypes.float64
    for i, (n_out, scale) in enumerate(zip(sizes, scales)):
        dim, n_in = i + 2, input.shape[i + 2]
        if not linear:
            out = index_select(out, dim, tensor(_nearest_index(n_in, n_out, scale, mode != "nearest")))
            continue
        if n_out == n_in:   # PyTorch's linear kernels copy such a dim, whatever the scale
            continue
        i0, i1, w0, w1 = _linear_taps(n_in, n_out, scale, bool(align_corners), single)
        out = add(mul(index_select(out, dim, tensor(i0)), _weights(w0, dim, out)),
                  mul(index_select(out, dim, tensor(i1)), _weights(w1, dim, out)))
    return out


def _check_shuffle(x, r, fn, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(x).__name__}")
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ConvShapeError(f"{fn} expects a positive {what}, but got {r!r}")
    if x.ndim < 3:
        raise ConvShapeError(f"{fn} expects its input to have at least 3 dimensions, but got input with "
                         f"{x.ndim} dimension(s)")


def pixel_shuffle(input, upscale_factor):  # noqa: A002
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), as torch.nn.functional.pixel_shuffle (a reshape,
    permute, reshape)."""
    r = upscale_factor
    _check_shuffle(input, r, "pixel_shuffle", "upscale_factor")
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise ConvShapeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by "
                         f"the square of upscale_factor, but input.size(-3)={C} is not divisible by {r * r}")
    k = len(lead)
    x = reshape(input, tuple(lead) + (C // (r * r), r, r, H, W))
    x = permute(x, tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return reshape(x, tuple(lead) + (C // (r * r), H * r, W * r))


def pixel_unshuffle(input, downscale_factor):  # noqa: A002
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), as torch.nn.functional.pixel_unshuffle (the inverse
    of pixel_shuffle)."""
    r = downscale_factor
    _check_shuffle(input, r, "pixel_unshuffle", "downscale_factor")
    *lead, C, H, W = input.shape
    for name, n, d in (("height", H, -2), ("width", W, -1)):
        if n % r:
            raise ConvShapeError(f"pixel_unshuffle expects {name} to be divisible by downscale_factor, "
                             f"but input.size({d})={n} is not divisible by {r}")
    k = len(lead)
    x = reshape(input, tuple(lead) + (C, H // r, r, W // r, r))
    x = permute(x, tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return reshape(x, tuple(lead) + (C * r * r, H // r, W // r))
