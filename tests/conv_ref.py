"""NumPy references for conv2d and 2-D pooling (loops over the kernel taps; used by
tests/test_ops.py SPECS and tests/test_conv.py)."""
import numpy as np


def _pairs(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def out_size(n, k, s, p, d, ceil_mode=False):
    span = n + 2 * p - d * (k - 1) - 1
    o = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """out[n, o, y, x] = b[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw]"""
    (sh, sw), (dh, dw) = _pairs(stride), _pairs(dilation)
    N, C, H, W = x.shape
    OC, Cg, KH, KW = w.shape
    if padding == "same":
        th, tw = dh * (KH - 1), dw * (KW - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    elif padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        ph, pw = _pairs(padding)
        pads = ((ph, ph), (pw, pw))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    OH = (xp.shape[2] - dh * (KH - 1) - 1) // sh + 1
    OW = (xp.shape[3] - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N, OC, OH, OW), dtype=np.result_type(x, w))
    OCg = OC // groups
    for g in range(groups):
        xs = xp[:, g * Cg:(g + 1) * Cg]
        ws = w[g * OCg:(g + 1) * OCg]
        for i in range(KH):
            for j in range(KW):
                patch = xs[:, :, i * dh: i * dh + sh * (OH - 1) + 1: sh, j * dw: j * dw + sw * (OW - 1) + 1: sw]
                out[:, g * OCg:(g + 1) * OCg] += np.einsum("ncyx,oc->noyx", patch, ws[:, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def _windows(x, k, stride, padding, dilation, ceil_mode, fill):
    """(N, C, OH, OW, KH*KW) windows of x padded with ``fill`` (ceil_mode windows may run past
    the padding: padded further with ``fill``), plus the output size."""
    (KH, KW), (sh, sw), (ph, pw), (dh, dw) = _pairs(k), _pairs(stride), _pairs(padding), _pairs(dilation)
    N, C, H, W = x.shape
    OH, OW = out_size(H, KH, sh, ph, dh, ceil_mode), out_size(W, KW, sw, pw, dw, ceil_mode)
    eh = max(H + 2 * ph, (OH - 1) * sh + dh * (KH - 1) + 1)
    ew = max(W + 2 * pw, (OW - 1) * sw + dw * (KW - 1) + 1)
    xp = np.full((N, C, eh, ew), fill, dtype=x.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    wins = np.stack([xp[:, :, i * dh: i * dh + sh * (OH - 1) + 1: sh, j * dw: j * dw + sw * (OW - 1) + 1: sw]
                     for i in range(KH) for j in range(KW)], axis=-1)
    return wins


def max_pool2d(x, k, stride=None, padding=0, dilation=1, ceil_mode=False):
    return np.max(_windows(x, k, k if stride is None else stride, padding, dilation, ceil_mode, -np.inf), -1)


def avg_pool2d(x, k, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """sum over the window / divisor, PyTorch's divisor rules (ceil_mode windows: the part past
    the padding is never counted)"""
    stride = k if stride is None else stride
    (KH, KW), (sh, sw), (ph, pw) = _pairs(k), _pairs(stride), _pairs(padding)
    N, C, H, W = x.shape
    s = np.sum(_windows(x, k, stride, padding, 1, ceil_mode, 0.0), -1)
    OH, OW = s.shape[2:]
    div = np.zeros((OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            h0, w0 = oh * sh - ph, ow * sw - pw
            h1, w1 = min(h0 + KH, H + ph), min(w0 + KW, W + pw)
            pool = (h1 - h0) * (w1 - w0)
            inside = (min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0))
            div[oh, ow] = divisor_override or (pool if count_include_pad else inside)
    return s / div


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """out[n, g*OCg + o, y*sh - ph + i*dh, x*sw - pw + j*dw] += x[n, g*ICg + c, y, x] * w[g*ICg + c, o, i, j]
    (the scatter that is the adjoint of conv2d's gather), plus b[o]"""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = (_pairs(stride), _pairs(padding),
                                                _pairs(output_padding), _pairs(dilation))
    N, IC, H, W = x.shape
    _, OCg, KH, KW = w.shape
    OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1
    OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1
    full = np.zeros((N, OCg * groups, OH + 2 * ph + sh * H + dh * KH, OW + 2 * pw + sw * W + dw * KW),
                    dtype=np.result_type(x, w))
    ICg = IC // groups
    for g in range(groups):
        xs, ws = x[:, g * ICg:(g + 1) * ICg], w[g * ICg:(g + 1) * ICg]
        for i in range(KH):
            for j in range(KW):
                full[:, g * OCg:(g + 1) * OCg, i * dh: i * dh + sh * H: sh, j * dw: j * dw + sw * W: sw] += \
                    np.einsum("ncyx,co->noyx", xs, ws[:, :, i, j])
    out = full[:, :, ph:ph + OH, pw:pw + OW]
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def adaptive_cells(n, out):
    """PyTorch's adaptive pooling cells along one dim: [floor(i*n/out), ceil((i+1)*n/out))."""
    return [(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]


def adaptive_pool2d(x, size, reduce):
    """reduce (np.mean / np.max) over each adaptive cell of x (N, C, H, W) -> (N, C, *size)."""
    N, C, H, W = x.shape
    out = np.zeros((N, C) + tuple(size), dtype=x.dtype)
    for oh, (h0, h1) in enumerate(adaptive_cells(H, size[0])):
        for ow, (w0, w1) in enumerate(adaptive_cells(W, size[1])):
            out[:, :, oh, ow] = reduce(x[:, :, h0:h1, w0:w1], axis=(2, 3))
    return out


def adaptive_avg_pool2d_adjoint(g, hw):
    """The adjoint of adaptive average pooling of an (H, W) = ``hw`` input, applied to g."""
    N, C, OH, OW = g.shape
    out = np.zeros((N, C) + tuple(hw))
    for oh, (h0, h1) in enumerate(adaptive_cells(hw[0], OH)):
        for ow, (w0, w1) in enumerate(adaptive_cells(hw[1], OW)):
            out[:, :, h0:h1, w0:w1] += g[:, :, oh, ow, None, None] / ((h1 - h0) * (w1 - w0))
    return out
