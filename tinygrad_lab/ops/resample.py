"""Resampling: F.interpolate ('nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear',
'bicubic', 'area'), pixel_shuffle and pixel_unshuffle, as composites of ops (no Function of their
own: their gradients come from the ops they are made of).

interpolate is separable: along each spatial dim in turn it gathers whole slices
(``index_select``, whose VJP scatter-adds, as PyTorch's nearest backward sums) and, for the
linear and cubic modes, blends the neighbouring slices with per-position weights. The source
indices and weights are PyTorch's (aten/src/ATen/native/UpSample.h), computed here from the sizes
alone: nearest reads floor(dst * scale) in float32 arithmetic, capped at in - 1 (nearest-exact:
floor((dst + 0.5) * scale)); linear copies a dim whose size does not change (whatever
the scale, as PyTorch's kernels) and otherwise reads src = max(scale * (dst + 0.5) - 0.5, 0) (align_corners:
src = dst * (in - 1) / (out - 1)) between i0 = floor(src) and i0 + 1 (capped), weights
1 - (src - i0) and src - i0, in the input's precision. Cubic reads src = scale * (dst + 0.5) -
0.5 unclamped (align_corners as linear), i0 = min(floor(src), in - 1), t = src - i0 clamped to
[0, 1], taps i0 - 1 .. i0 + 2 clamped to [0, in - 1] with Keys' cubic convolution weights
(A = -0.75), and never copies a dim. scale is 1 / scale_factor when a scale_factor is given (and
not recomputed), else in / out. 'area' is adaptive average pooling to the output size (its C
kernels; a 5-D input pools (H, W), then D: the mean of a box is the mean of its means).
"""
import math
import struct

from .. import dtypes
from ..creation import tensor
from ..tensor import Tensor
from .conv import ConvShapeError, _half_as_float, adaptive_avg_pool1d, adaptive_avg_pool2d
from .elementwise import add, mul
from .index import index_select
from .shape import permute, reshape

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}   # spatial dims each needs
_CUBIC_A = -0.75      # PyTorch's (and OpenCV's) cubic convolution parameter


def _f32(v):
    """v rounded to float32 (PyTorch computes nearest's source index in float)."""
    return struct.unpack("f", struct.pack("f", v))[0]


def _nearest_index(n_in, n_out, scale, exact):
    """PyTorch's nearest / nearest-exact source index of each output position."""
    s = _f32(1.0 / scale if scale else n_in / n_out)
    off = 0.5 if exact else 0.0
    return [min(int(math.floor(_f32((i + off) * s))), n_in - 1) for i in range(n_out)]


def _source_scale(n_in, n_out, scale, align_corners, r):
    """PyTorch's area_pixel_compute_scale, rounded by ``r``."""
    if align_corners:
        return r((n_in - 1) / (n_out - 1)) if n_out > 1 else 0.0
    return r(1.0 / scale if scale else n_in / n_out)


def _linear_taps(n_in, n_out, scale, align_corners, single):
    """(i0, i1, w0, w1) lists of PyTorch's linear interpolation; ``single``: float32 arithmetic."""
    r = _f32 if single else float
    s = _source_scale(n_in, n_out, scale, align_corners, r)
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


def _cubic_weights(t, r):
    """Keys' cubic convolution weights of the taps at offsets -1, 0, 1, 2 from floor(src), for
    t = src - floor(src), each operation rounded by ``r`` (PyTorch's
    get_cubic_upsample_coefficients)."""
    a = _CUBIC_A

    def near(x):   # |x| <= 1: ((A + 2) x - (A + 3)) x x + 1
        return r(r(r(r(r((a + 2) * x) - (a + 3)) * x) * x) + 1)

    def far(x):    # 1 < |x| < 2: ((A x - 5A) x + 8A) x - 4A
        return r(r(r(r(r(r(a * x) - 5 * a) * x) + 8 * a) * x) - 4 * a)
    return far(r(t + 1)), near(t), near(r(1 - t)), far(r(2 - t))


def _cubic_taps(n_in, n_out, scale, align_corners, single):
    """([four index lists], [four weight lists]) of PyTorch's bicubic interpolation along a dim."""
    r = _f32 if single else float
    s = _source_scale(n_in, n_out, scale, align_corners, r)
    idx, wts = [[], [], [], []], [[], [], [], []]
    for d in range(n_out):
        src = r(s * d) if align_corners else r(r(s * r(d + 0.5)) - 0.5)
        i0 = min(math.floor(src), n_in - 1)
        t = min(max(r(src - i0), 0.0), 1.0)
        for j, w in enumerate(_cubic_weights(t, r)):
            idx[j].append(min(max(i0 - 1 + j, 0), n_in - 1))
            wts[j].append(w)
    return idx, wts


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


def _area(x, sizes):
    """'area': adaptive average pooling of the spatial dims to ``sizes``."""
    if x.ndim == 3:
        return adaptive_avg_pool1d(x, sizes[0])
    if x.ndim == 4:
        return adaptive_avg_pool2d(x, tuple(sizes))
    n, c, d, h, w = x.shape
    hw = adaptive_avg_pool2d(reshape(x, (n, c * d, h, w)), tuple(sizes[1:]))
    out = adaptive_avg_pool2d(reshape(hw, (n, c, d, sizes[1] * sizes[2])), (sizes[0], None))
    return reshape(out, (n, c) + tuple(sizes))


@_half_as_float
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, L), (N, C, H, W) or (N, C, D, H, W) ``input`` to
    ``size`` (or by ``scale_factor``), as torch.nn.functional.interpolate: modes 'nearest',
    'nearest-exact' and 'area' (3-D to 5-D input), 'linear' (3-D), 'bilinear' and 'bicubic'
    (4-D), 'trilinear' (5-D). float16/bfloat16 are computed in float32."""
    fn = "interpolate"
    _check_float(input, fn)
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {_MODES}, got {mode!r}")
    interpolating = mode in _DIMS
    if align_corners is not None and not interpolating:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        if mode not in ("bilinear", "bicubic") or input.ndim != 4:
            raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                             "modes and requires a 4-D tensor as input")
        raise NotImplementedError("interpolate: antialias=True is not supported (the separable "
                                  "anti-aliasing filters of PyTorch's _upsample_*_aa are not "
                                  "implemented); resize without it, or blur first")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  f"bicubic | trilinear | area | nearest-exact (got {mode})")
    if interpolating and input.ndim - 2 != _DIMS[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_DIMS[mode] + 2}D input")
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    for i, s in enumerate(sizes):
        if s <= 0:
            raise ValueError(f"interpolate: output size must be positive, got {sizes} for input "
                             f"of spatial size {list(input.shape[2:])}")
        if input.shape[i + 2] == 0:
            raise ValueError(f"interpolate: input has an empty spatial dim: {list(input.shape)}")
    if mode == "area":
        return _area(input, sizes)
    out = input
    single = input.dtype is not dtypes.float64
    for i, (n_out, scale) in enumerate(zip(sizes, scales)):
        dim, n_in = i + 2, input.shape[i + 2]
        if not interpolating:
            out = index_select(out, dim, tensor(_nearest_index(n_in, n_out, scale, mode != "nearest")))
            continue
        if mode == "bicubic":
            idx, wts = _cubic_taps(n_in, n_out, scale, bool(align_corners), single)
        elif n_out == n_in:   # PyTorch's linear kernels copy such a dim, whatever the scale
            continue
        else:
            i0, i1, w0, w1 = _linear_taps(n_in, n_out, scale, bool(align_corners), single)
            idx, wts = (i0, i1), (w0, w1)
        terms = [mul(index_select(out, dim, tensor(ix)), _weights(w, dim, out)) for ix, w in zip(idx, wts)]
        acc = terms[0]
        for term in terms[1:]:
            acc = add(acc, term)
        out = acc
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
