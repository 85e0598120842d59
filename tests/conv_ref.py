"""NumPy references for conv2d/conv3d and 2-D/3-D pooling (loops over the kernel taps; used by
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


# ---- 3-D: the same sums with a depth dimension (loops over the kernel taps) ----

def _triples(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)


def _tap_slices(taps, strides, dilations, outs):
    """the strided slices of a padded input that kernel tap ``taps`` reads for every output"""
    return tuple(slice(t * d, t * d + s * (o - 1) + 1, s) for t, s, d, o in zip(taps, strides, dilations, outs))


def conv3d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """out[n, o, z, y, x] = b[o] + sum_{c, k, i, j} w[o, c, k, i, j] * xpad[n, g*Cg + c, z*sd + k*dd, ...]"""
    ss, ds = _triples(stride), _triples(dilation)
    N, C = x.shape[:2]
    OC, Cg = w.shape[:2]
    ks = w.shape[2:]
    if padding == "same":
        pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for d, k in zip(ds, ks))
    elif padding == "valid":
        pads = ((0, 0),) * 3
    else:
        pads = tuple((p, p) for p in _triples(padding))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    outs = tuple((xp.shape[2 + a] - ds[a] * (ks[a] - 1) - 1) // ss[a] + 1 for a in range(3))
    out = np.zeros((N, OC) + outs, dtype=np.result_type(x, w))
    OCg = OC // groups
    for g in range(groups):
        xs, ws = xp[:, g * Cg:(g + 1) * Cg], w[g * OCg:(g + 1) * OCg]
        for taps in np.ndindex(*ks):
            patch = xs[(slice(None), slice(None)) + _tap_slices(taps, ss, ds, outs)]
            out[:, g * OCg:(g + 1) * OCg] += np.einsum("nczyx,oc->nozyx", patch, ws[(slice(None), slice(None)) + taps])
    if b is not None:
        out += b[None, :, None, None, None]
    return out


def conv_transpose3d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """the scatter that is the adjoint of conv3d's gather, plus b[o]"""
    ss, ps, ops, ds = _triples(stride), _triples(padding), _triples(output_padding), _triples(dilation)
    N, IC = x.shape[:2]
    ins, (OCg, ks) = x.shape[2:], (w.shape[1], w.shape[2:])
    outs = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in zip(ins, ss, ps, ds, ks, ops))
    full = np.zeros((N, OCg * groups) + tuple(o + 2 * p + s * n + d * k for o, p, s, n, d, k in
                                               zip(outs, ps, ss, ins, ds, ks)), dtype=np.result_type(x, w))
    ICg = IC // groups
    for g in range(groups):
        xs, ws = x[:, g * ICg:(g + 1) * ICg], w[g * ICg:(g + 1) * ICg]
        for taps in np.ndindex(*ks):
            full[(slice(None), slice(g * OCg, (g + 1) * OCg)) + _tap_slices(taps, ss, ds, ins)] += \
                np.einsum("nczyx,co->nozyx", xs, ws[(slice(None), slice(None)) + taps])
    out = full[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(ps, outs))]
    if b is not None:
        out = out + b[None, :, None, None, None]
    return out


def _windows3d(x, k, stride, padding, dilation, ceil_mode, fill):
    ks, ss, ps, ds = _triples(k), _triples(stride), _triples(padding), _triples(dilation)
    ins = x.shape[2:]
    outs = tuple(out_size(n, kk, s, p, d, ceil_mode) for n, kk, s, p, d in zip(ins, ks, ss, ps, ds))
    ext = tuple(max(n + 2 * p, (o - 1) * s + d * (kk - 1) + 1) for n, p, o, s, d, kk in zip(ins, ps, outs, ss, ds, ks))
    xp = np.full(x.shape[:2] + ext, fill, dtype=x.dtype)
    xp[(slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in zip(ps, ins))] = x
    return np.stack([xp[(slice(None), slice(None)) + _tap_slices(taps, ss, ds, outs)] for taps in np.ndindex(*ks)], -1)


def max_pool3d(x, k, stride=None, padding=0, dilation=1, ceil_mode=False):
    return np.max(_windows3d(x, k, k if stride is None else stride, padding, dilation, ceil_mode, -np.inf), -1)


def avg_pool3d(x, k, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """sum over the window / divisor, PyTorch's divisor rules (avg_pool2d's, per dim)"""
    stride = k if stride is None else stride
    ks, ss, ps = _triples(k), _triples(stride), _triples(padding)
    ins = x.shape[2:]
    s = np.sum(_windows3d(x, k, stride, padding, 1, ceil_mode, 0.0), -1)
    div = np.zeros(s.shape[2:])
    for o in np.ndindex(*div.shape):
        pool = inside = 1
        for a in range(3):
            lo = o[a] * ss[a] - ps[a]
            hi = min(lo + ks[a], ins[a] + ps[a])
            pool *= hi - lo
            inside *= min(hi, ins[a]) - max(lo, 0)
        div[o] = divisor_override or (pool if count_include_pad else inside)
    return s / div


def adaptive_pool3d(x, size, reduce):
    """reduce (np.mean / np.max) over each adaptive cell of x (N, C, D, H, W) -> (N, C, *size)."""
    out = np.zeros(x.shape[:2] + tuple(size), dtype=x.dtype)
    cells = [adaptive_cells(n, o) for n, o in zip(x.shape[2:], size)]
    for o in np.ndindex(*size):
        sl = tuple(slice(*cells[a][o[a]]) for a in range(3))
        out[(slice(None), slice(None)) + o] = reduce(x[(slice(None), slice(None)) + sl], axis=(2, 3, 4))
    return out
