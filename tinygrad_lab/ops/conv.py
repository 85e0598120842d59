"""2-D and 3-D convolution and pooling <-> csrc/conv.c.

The public functions (conv2d, conv1d, max_pool2d, avg_pool2d, unfold, fold, exposed as
tl.nn.functional.*) validate the arguments as PyTorch does, compute the output size, and hand C
one int64 geometry array, ``geom`` = (N, C, H, W, OC, KH, KW, stride, padding, dilation, groups,
OH, OW), csrc/tinygrad_lab.h's layout.

conv2d is im2col + one batched GEMM over the groups, forward and backward each one C call
(csrc/conv.c explains the layout). Its ``formula`` (create_graph=True) is the same computation
with ops: ``Im2col`` / ``Col2im`` (each the other's adjoint, so each one's derivative is the
other) and matmul, so gradients of gradients work. Pooling: direct C kernels; max pooling keeps
the argmax of each window (PyTorch's ``indices``) and its derivative scatters g there
(``MaxPool2dBackward``, whose own derivative gathers at the same indices); average pooling is
linear, its VJP is ``AvgPool2dBackward`` and that op's VJP is average pooling again.

conv_transpose2d (and conv_transpose1d on an H = 1 view) is the adjoint of conv2d in its input:
its geom is that conv2d's, its forward conv2d's input gradient and its VJP conv2d's forward and
weight gradient (``ConvTranspose2d``). Adaptive pooling (cells [floor(i*in/out),
ceil((i+1)*in/out))) has its own C kernels; its max variant shares max_pool2d's VJP. The 1-D
pooling functions are the 2-D ones on an H = 1 view.

3-D (conv3d, conv_transpose3d, max/avg/adaptive pooling 3d) runs the same ops with a 22-entry
geometry, (N, C, D, H, W, OC, KD, KH, KW, strides, paddings, dilations (d, h, w each), groups,
OD, OH, OW) (csrc/tinygrad_lab.h): each op picks its 2-D or 3-D kernel by the geometry's length
(``_by_dim``), and the user-visible 3-D ops are subclasses under their own names (Conv3d,
MaxPool3d, ...). max_unpool is a scatter of the values into a zero output (``scatter``).
"""
from .. import dtypes
from .. import kernels as K
from ..autograd.engine import Function, _grad_enabled, _record
from ..creation import arange
from ..kernels import NULL, check, ffi, i64
from ..tensor import Tensor, _empty
from .index import advanced_index
from .linalg import matmul
from .reduce import sum as _sum
from .index import scatter
from .shape import contiguous, permute, reshape, transpose, unsqueeze, squeeze
from ..creation import zeros


def _is3d(geom):
    return len(geom) == 22


def _by_dim(geom, f2, f3):
    """The C function for geom's dimension: f2 (2-D geometry) or f3 (3-D)."""
    return f3 if _is3d(geom) else f2


def _in_shape(geom):
    """x's shape (N, C, [D,] H, W)"""
    return tuple(geom[:5]) if _is3d(geom) else tuple(geom[:4])


def _out_shape(geom):
    """the output's shape (N, OC, [OD,] OH, OW)"""
    return (geom[0], geom[5]) + tuple(geom[19:22]) if _is3d(geom) else (geom[0], geom[4], geom[14], geom[15])


def _groups(geom):
    return geom[18] if _is3d(geom) else geom[13]


def _prod(seq):
    out = 1
    for v in seq:
        out *= v
    return out


class ConvShapeError(ValueError, RuntimeError):
    """A shape PyTorch's conv/pool refuses (PyTorch raises RuntimeError; tl's shape errors are
    ValueError): both."""


class ConvTypeError(TypeError, RuntimeError):
    """A dtype PyTorch's conv/pool refuses (RuntimeError there; TypeError in tl): both."""


def _strides(x):
    return NULL if x._contig else i64(x._strides)


def _out_size(n, k, s, p_lo, p_hi, d, ceil_mode=False):
    """PyTorch's output length: floor (or ceil) of (n + pads - d*(k-1) - 1) / s, plus 1; with
    ceil_mode the last window must start inside the input or the left padding."""
    span = n + p_lo + p_hi - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p_lo:
        out -= 1
    return out


# ---------------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------------

class Im2col(Function):
    """cols (C*KH*KW, N*OH*OW) = the input patches of x (N, C, H, W), zero in the padding (3-D:
    (C*KD*KH*KW, N*OD*OH*OW) of x (N, C, D, H, W), tl_vol2col)."""

    @staticmethod
    def forward(ctx, x, geom):
        ctx.geom = geom
        ks = geom[6:9] if _is3d(geom) else geom[5:7]
        cols = _empty((geom[1] * _prod(ks), _prod(_out_shape(geom)) // _out_shape(geom)[1]), x.dtype)
        fn = K.tl_vol2col if _is3d(geom) else K.tl_im2col
        check(fn(x.dtype.code, cols._ptr, x._ptr, _strides(x), i64(geom)), "im2col")
        return cols

    @staticmethod
    def formula(ctx, g):
        """gx = col2im(g): each patch entry back where it was read from (the adjoint)"""
        return Col2im.apply(contiguous(g), ctx.geom), None


class Col2im(Function):
    """x (N, C, [D,] H, W) = the sum of cols' entries into the positions im2col reads them from."""

    @staticmethod
    def forward(ctx, cols, geom):
        ctx.geom = geom
        gx = _empty(_in_shape(geom), cols.dtype)
        fn = K.tl_col2vol if _is3d(geom) else K.tl_col2im
        check(fn(cols.dtype.code, gx._ptr, cols._ptr, i64(geom)), "col2im")
        return gx

    @staticmethod
    def formula(ctx, g):
        """gcols = im2col(g) (the adjoint)"""
        return Im2col.apply(g, ctx.geom), None


def _ptr(t):
    return NULL if t is None else t._ptr


def _conv_grads(ctx, g, n_bias):
    """(contiguous g, gx, gw, gb) for a conv-like VJP (saved x, w): fresh buffers for the inputs
    that need a gradient (the bias: ``n_bias`` long), None for the others."""
    x, w = ctx._saved
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    return (contiguous(g), _empty(x.shape, x.dtype) if need_x else None,
            _empty(w.shape, w.dtype) if need_w else None,
            _empty((n_bias,), w.dtype) if need_b else None)


class Conv2d(Function):
    """out (N, OC, OH, OW) = conv2d(x (N, C, H, W), w (OC, C/G, KH, KW), b (OC,) or None): im2col
    and one batched GEMM, one C call (tl_conv2d_forward). VJP (tl_conv2d_backward, one call):
    gb = g summed over N, OH, OW; gW = g @ cols^T; gx = col2im(W^T @ g), per group. Stride 1,
    groups 1: the same sums as a direct convolution without cols (see csrc/conv.c)."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        ctx.geom = geom
        out = _empty(_out_shape(geom), x.dtype)
        fn = _by_dim(geom, K.tl_conv2d_forward, K.tl_conv3d_forward)
        check(fn(x.dtype.code, out._ptr, x._ptr, _strides(x), w._ptr, NULL if b is None else b._ptr,
                 i64(geom)), "conv")
        ctx.save_for_backward(x, w)
        return out

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx._saved
        g, gx, gw, gb = _conv_grads(ctx, g, w.shape[0])
        fn = _by_dim(ctx.geom, K.tl_conv2d_backward, K.tl_conv3d_backward)
        check(fn(g.dtype.code, _ptr(gx), _ptr(gw), _ptr(gb), g._ptr, x._ptr, _strides(x), w._ptr,
                 i64(ctx.geom)), "conv backward")
        return gx, gw, gb, None

    @staticmethod
    def formula(ctx, g):
        """gp = g as (G, OC/G, N*OH*OW); gb = sum of g over N, OH, OW;
        gW = gp @ im2col(x)^T; gx = col2im(W^T @ gp)"""
        x, w = ctx._saved
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        geom = ctx.geom
        G, OC = _groups(geom), w.shape[0]
        CKg = _prod(w.shape[1:])
        NL = g.numel() // OC
        gp = _by_group(g, G)
        gx = gw = gb = None
        if need_w:
            gw = _conv_wgrad(gp, x, geom, w.shape)
        if need_x:
            wt = transpose(reshape(w, (G, OC // G, CKg)), 1, 2)
            gx = Col2im.apply(reshape(matmul(wt, gp), (G * CKg, NL)), geom)
        if need_b:
            gb = _sum(g, _spatial_and_batch(g))
        return gx, gw, gb, None


class Conv3d(Conv2d):
    """out (N, OC, OD, OH, OW) = conv3d(x (N, C, D, H, W), w (OC, C/G, KD, KH, KW), b): Conv2d's
    computation with the 3-D geometry (tl_conv3d_forward / _backward: the im2col path)."""


def _spatial_and_batch(t):
    return (0,) + tuple(range(2, t.ndim))


def _by_group(t, G):
    """t (N, C, *S) as (G, C/G, N*prod(S)): the layout of the convolutions' GEMMs."""
    C = t.shape[1]
    return reshape(contiguous(permute(t, (1, 0) + tuple(range(2, t.ndim)))), (G, C // G, -1))


def _conv_wgrad(gp, x, geom, wshape):
    """the weight gradient with ops: gW = gp (G, OC/G, N*OH*OW) @ im2col(x)^T, as ``wshape``."""
    cols = reshape(Im2col.apply(x, geom), (_groups(geom), _prod(wshape[1:]), -1))
    return reshape(matmul(gp, transpose(cols, 1, 2)), wshape)


class ConvTranspose2d(Function):
    """out (N, C, H, W) = conv_transpose2d(x (N, OC, OH, OW), w (OC, C/G, KH, KW), b (C,) or None):
    the adjoint in x of the conv2d whose geometry is ``geom`` (that conv2d maps (N, C, H, W) to
    (N, OC, OH, OW)), so its forward is conv2d's input gradient and its VJP is conv2d's forward
    (gx) and weight gradient (gW, with the roles of input and output gradient swapped); one C
    call each way (tl_conv_transpose2d_forward / _backward)."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        ctx.geom = geom
        out = _empty(_in_shape(geom), x.dtype)
        fn = _by_dim(geom, K.tl_conv_transpose2d_forward, K.tl_conv_transpose3d_forward)
        check(fn(x.dtype.code, out._ptr, x._ptr, w._ptr, NULL if b is None else b._ptr, i64(geom)),
              "conv_transpose")
        ctx.save_for_backward(x, w)
        return out

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx._saved
        g, gx, gw, gb = _conv_grads(ctx, g, ctx.geom[1])
        fn = _by_dim(ctx.geom, K.tl_conv_transpose2d_backward, K.tl_conv_transpose3d_backward)
        check(fn(g.dtype.code, _ptr(gx), _ptr(gw), _ptr(gb), g._ptr, x._ptr, w._ptr, i64(ctx.geom)),
              "conv_transpose backward")
        return gx, gw, gb, None

    @staticmethod
    def formula(ctx, g):
        """gx = conv2d(g, w); gW = conv2d's weight gradient at input g for output gradient x
        (x by group @ im2col(g)^T); gb = sum of g over N, H, W"""
        x, w = ctx._saved
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        conv = Conv3d if _is3d(ctx.geom) else Conv2d
        gx = conv.apply(g, w, None, ctx.geom) if need_x else None
        gw = _conv_wgrad(_by_group(x, _groups(ctx.geom)), g, ctx.geom, w.shape) if need_w else None
        gb = _sum(g, _spatial_and_batch(g)) if need_b else None
        return gx, gw, gb, None


class ConvTranspose3d(ConvTranspose2d):
    """out (N, C, D, H, W) = conv_transpose3d(x (N, OC, OD, OH, OW), w (OC, C/G, KD, KH, KW), b):
    ConvTranspose2d's computation with the 3-D geometry (tl_conv_transpose3d_*)."""


def _tuple(v, n, name, fn):
    """v (an int, or a tuple/list of n ints, or of one) as an n-tuple."""
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(e, int) and not isinstance(e, bool) for e in v):
        return tuple(v)
    if isinstance(v, (tuple, list)) and len(v) == 1 and isinstance(v[0], int):
        return (v[0],) * n
    what = {2: "a pair", 3: "a triple"}.get(n, f"a tuple of {n}")
    raise TypeError(f"{fn}: {name} must be an int or {what} of ints, got {v!r}")


def _pair(v, name, fn):
    return _tuple(v, 2, name, fn)


def _as_2d(v, name, lead):
    """conv1d's argument ``v`` as conv2d's (lead for the H = 1 dim, v); a padding string as is."""
    return v if isinstance(v, str) else (lead, _single(v, name))


def _single(v, name, fn="conv1d"):
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{fn}: {name} must be an int or a 1-tuple of ints, got {v!r}")
    return v


_HALVES = (dtypes.float16, dtypes.bfloat16)


def _check_input(x, fn, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {what} must be a Tensor, got {type(x).__name__}")
    if x.dtype not in (dtypes.float32, dtypes.float64) and x.dtype not in _HALVES:
        raise ConvTypeError(f"{fn}: {what} must be a floating-point tensor (float32, float64, "
                            f"float16, bfloat16), got {x.dtype!r} (convert with .float())")


def _half_as_float(fn):
    """Run ``fn`` (a public conv/pool function) on float16/bfloat16 tensors as float32 and round
    its tensor results back (half precision is storage: the kernels compute in float32, and
    the casts carry the gradients back in the half dtype)."""
    def wrapped(input, *args, **kwargs):  # noqa: A002
        rest = [a for a in args if isinstance(a, Tensor)] + [v for v in kwargs.values() if isinstance(v, Tensor)]
        dt = input.dtype if isinstance(input, Tensor) else None
        if dt not in _HALVES or any(t.dtype is not dt for t in rest):
            return fn(input, *args, **kwargs)
        args = [a.float() if isinstance(a, Tensor) else a for a in args]
        kwargs = {k: v.float() if isinstance(v, Tensor) else v for k, v in kwargs.items()}
        out = fn(input.float(), *args, **kwargs)
        if isinstance(out, tuple):   # (values, indices)
            return (out[0].to(dt),) + out[1:]
        return out.to(dt)
    wrapped.__name__, wrapped.__qualname__, wrapped.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    wrapped.__wrapped__ = fn
    return wrapped


def _batched(x, fn, nd=2):
    """x as (N, C, *nd spatial dims) and whether it was unbatched (C, *spatial)."""
    if x.ndim not in (nd + 1, nd + 2):
        raise ConvShapeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fn}, "
                             f"but got input of size: {list(x.shape)}")
    return (unsqueeze(x, 0), True) if x.ndim == nd + 1 else (x, False)


def _geom(N, C, ins, OC, ks, ss, ps, ds, groups, outs):
    """The C geometry: (N, C, *ins, OC, *kernel, *stride, *padding, *dilation, groups, *outs)
    (16 entries in 2-D, 22 in 3-D; csrc/tinygrad_lab.h)."""
    return (N, C, *ins, OC, *ks, *ss, *ps, *ds, groups, *outs)


def _conv(fn, nd, input, weight, bias, stride, padding, dilation, groups):  # noqa: A002
    """conv2d / conv3d: validation as PyTorch, output size, one Conv2d / Conv3d op."""
    x, unbatched, ss, ds = _conv_setup(fn, input, weight, bias, stride, dilation, groups,
                                       "out_channels, in_channels/groups", nd)
    N, C, ins = x.shape[0], x.shape[1], tuple(x.shape[2:])
    OC, Cg, ks = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    if Cg * groups != C:
        raise ConvShapeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
                             f"input{list(x.shape)} to have {Cg * groups} channels, but got {C} "
                             f"channels instead")
    if bias is not None and tuple(bias.shape) != (OC,):
        raise ConvShapeError(f"{fn}: bias of size {list(bias.shape)} does not match the "
                             f"{OC} output channels of weight {list(weight.shape)}")
    outs = None
    if isinstance(padding, str):
        if padding == "valid":
            ps = (0,) * nd
        elif padding == "same":
            if any(v != 1 for v in ss):
                raise ConvShapeError("padding='same' is not supported for strided convolutions")
            ps = tuple(d * (k - 1) // 2 for d, k in zip(ds, ks))    # the rest goes right/bottom
            outs = ins
        else:
            raise ConvShapeError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
    else:
        ps = _tuple(padding, nd, "padding", fn)
        if min(ps) < 0:
            raise ConvShapeError(f"{fn}: negative padding is not supported, got {ps}")
    if outs is None:
        spans = tuple(d * (k - 1) + 1 for d, k in zip(ds, ks))
        if any(n + 2 * p < e for n, p, e in zip(ins, ps, spans)):
            padded = " x ".join(str(n + 2 * p) for n, p in zip(ins, ps))
            raise ConvShapeError(f"Calculated padded input size per channel: ({padded}). Kernel size: "
                                 f"({' x '.join(map(str, spans))}). Kernel size can't be "
                                 f"greater than actual input size (input {list(input.shape)}, "
                                 f"weight {list(weight.shape)}, padding {ps})")
        outs = tuple(_out_size(n, k, st, p, p, d) for n, k, st, p, d in zip(ins, ks, ss, ps, ds))
    geom = _geom(N, C, ins, OC, ks, ss, ps, ds, groups, outs)
    op = Conv3d if nd == 3 else Conv2d
    out = op.apply(x, contiguous(weight), None if bias is None else contiguous(bias), geom)
    return squeeze(out, 0) if unbatched else out


@_half_as_float
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-D cross-correlation of NCHW ``input`` (or unbatched CHW) with ``weight`` (OC, C/groups,
    KH, KW) plus ``bias`` (OC,), as torch.nn.functional.conv2d. ``padding``: an int, a pair, or
    "valid" (none) / "same" (output as large as the input; stride 1 only, extra padding on the
    right/bottom for an even kernel span, as PyTorch)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@_half_as_float
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """3-D cross-correlation of NCDHW ``input`` (or unbatched CDHW) with ``weight`` (OC,
    C/groups, KD, KH, KW) plus ``bias`` (OC,), as torch.nn.functional.conv3d (padding as
    conv2d's: ints, a triple, "valid" or "same")."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


@_half_as_float
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """1-D convolution of NCL ``input`` (or unbatched CL) with ``weight`` (OC, C/groups, K), as
    torch.nn.functional.conv1d: conv2d on an H = 1 view."""
    _check_input(input, "conv1d")
    _check_input(weight, "conv1d", "weight")
    if input.ndim not in (2, 3):
        raise ConvShapeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got "
                             f"input of size: {list(input.shape)}")
    if weight.ndim != 3:
        raise ConvShapeError(f"conv1d: weight must be 3-D (out_channels, in_channels/groups, k), "
                             f"got size {list(weight.shape)}")
    out = conv2d(unsqueeze(input, -2), unsqueeze(weight, -2), bias, _as_2d(stride, "stride", 1),
                 _as_2d(padding, "padding", 0), _as_2d(dilation, "dilation", 1), groups)
    return squeeze(out, -2)


def _conv_setup(fn, input, weight, bias, stride, dilation, groups, wdims, nd=2):  # noqa: A002
    """The checks the convolutions share (tensors of one floating dtype, an (nd + 2)-D weight
    whose dims are ``wdims`` and the kernel's, dim 0 divisible by groups, positive stride,
    dilation and groups): ((nd + 2)-D input, unbatched?, stride tuple, dilation tuple)."""
    _check_input(input, fn)
    _check_input(weight, fn, "weight")
    if bias is not None:
        _check_input(bias, fn, "bias")
    if weight.dtype is not input.dtype or (bias is not None and bias.dtype is not input.dtype):
        raise ConvTypeError(f"{fn}: input ({input.dtype!r}), weight ({weight.dtype!r})"
                            + (f" and bias ({bias.dtype!r})" if bias is not None else "")
                            + " must have the same dtype")
    x, unbatched = _batched(input, fn, nd)
    if weight.ndim != nd + 2:
        kdims = ", ".join(("kD", "kH", "kW")[-nd:])
        raise ConvShapeError(f"{fn}: weight must be {nd + 2}-D ({wdims}, {kdims}), got size "
                             f"{list(weight.shape)}")
    ss = _tuple(stride, nd, "stride", fn)
    ds = _tuple(dilation, nd, "dilation", fn)
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ConvShapeError(f"{fn}: groups must be a positive integer, got {groups!r}")
    if min(ss) < 1:
        raise ConvShapeError(f"{fn}: non-positive stride is not supported, got {ss}")
    if min(ds) < 1:
        raise ConvShapeError(f"{fn}: dilation should be greater than zero, got {ds}")
    if weight.shape[0] % groups:
        raise ConvShapeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                             f"at dimension 0, but got weight of size {list(weight.shape)} instead")
    return x, unbatched, ss, ds


def _conv_transpose(fn, nd, input, weight, bias, stride, padding, output_padding, groups,  # noqa: A002
                    dilation):
    """conv_transpose2d / 3d: validation as PyTorch, output size, one ConvTranspose2d / 3d op."""
    x, unbatched, ss, ds = _conv_setup(fn, input, weight, bias, stride, dilation, groups,
                                       "in_channels, out_channels/groups", nd)
    ps = _tuple(padding, nd, "padding", fn)
    ops = _tuple(output_padding, nd, "output_padding", fn)
    if min(ps + ops) < 0:
        raise ConvShapeError(f"{fn}: negative padding is not supported, got padding {ps}, "
                             f"output_padding {ops}")
    if any(op >= s and op >= d for op, s, d in zip(ops, ss, ds)):
        raise ConvShapeError(f"output padding must be smaller than either stride or dilation, but got "
                             f"output_padding {ops}, stride {ss}, dilation {ds}")
    N, IC, ins = x.shape[0], x.shape[1], tuple(x.shape[2:])
    WC, OCg, ks = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    if WC != IC:
        raise ConvShapeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                             f"input{list(x.shape)} to have {WC} channels, but got {IC} channels instead")
    OC = OCg * groups
    if bias is not None and tuple(bias.shape) != (OC,):
        raise ConvShapeError(f"{fn}: bias of size {list(bias.shape)} does not match the {OC} "
                             f"output channels of weight {list(weight.shape)} with groups={groups}")
    outs = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1
                 for n, s, p, d, k, op in zip(ins, ss, ps, ds, ks, ops))
    if min(outs) < 1:
        raise ConvShapeError(f"Given input size per channel: ({' x '.join(map(str, ins))}). Calculated "
                             f"output size per channel: ({' x '.join(map(str, outs))}). Output size "
                             f"is too small")
    # the geometry of the convolution this one is the adjoint of: outs -> ins
    geom = _geom(N, OC, outs, IC, ks, ss, ps, ds, groups, ins)
    op = ConvTranspose3d if nd == 3 else ConvTranspose2d
    out = op.apply(contiguous(x), contiguous(weight), None if bias is None else contiguous(bias), geom)
    return squeeze(out, 0) if unbatched else out


@_half_as_float
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    """2-D transposed convolution ("deconvolution") of NCHW ``input`` (or CHW) with ``weight``
    (C_in, C_out/groups, KH, KW) plus ``bias`` (C_out,), as torch.nn.functional.conv_transpose2d:
    the gradient of conv2d with respect to its input. Output size per dim:
    (in - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


@_half_as_float
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    """3-D transposed convolution of NCDHW ``input`` (or CDHW) with ``weight`` (C_in,
    C_out/groups, KD, KH, KW) plus ``bias``, as torch.nn.functional.conv_transpose3d (the
    gradient of conv3d with respect to its input)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


@_half_as_float
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    """1-D transposed convolution of NCL ``input`` (or CL) with ``weight`` (C_in, C_out/groups, K),
    as torch.nn.functional.conv_transpose1d: conv_transpose2d on an H = 1 view."""
    fn = "conv_transpose1d"
    _check_input(input, fn)
    _check_input(weight, fn, "weight")
    if input.ndim not in (2, 3):
        raise ConvShapeError(f"Expected 2D (unbatched) or 3D (batched) input to {fn}, but got "
                             f"input of size: {list(input.shape)}")
    if weight.ndim != 3:
        raise ConvShapeError(f"{fn}: weight must be 3-D (in_channels, out_channels/groups, k), "
                             f"got size {list(weight.shape)}")
    one = lambda v, name, lead: (lead, _single(v, name, fn))  # noqa: E731
    out = conv_transpose2d(unsqueeze(input, -2), unsqueeze(weight, -2), bias, one(stride, "stride", 1),
                           one(padding, "padding", 0), one(output_padding, "output_padding", 0),
                           groups, one(dilation, "dilation", 1))
    return squeeze(out, -2)


def _unfold_geom(fn, shape, kernel_size, dilation, padding, stride):
    """geom of an unfold of (N, C, H, W) = ``shape`` (fold: of its (N, C, *output_size) result)."""
    KH, KW = _pair(kernel_size, "kernel_size", fn)
    dh, dw = _pair(dilation, "dilation", fn)
    ph, pw = _pair(padding, "padding", fn)
    sh, sw = _pair(stride, "stride", fn)
    if min(KH, KW, dh, dw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ConvShapeError(f"{fn}: kernel_size, dilation and stride must be positive and padding "
                             f"non-negative, got {(KH, KW)}, {(dh, dw)}, {(sh, sw)}, {(ph, pw)}")
    N, C, H, W = shape
    OH = _out_size(H, KH, sh, ph, ph, dh)
    OW = _out_size(W, KW, sw, pw, pw, dw)
    if OH < 1 or OW < 1:
        raise ConvShapeError(f"{fn}: given input with spatial size {(H, W)}, kernel_size={(KH, KW)}, "
                             f"dilation={(dh, dw)}, padding={(ph, pw)}, calculated shape of the "
                             f"array of sliding blocks as {(OH, OW)}, but its components must be "
                             f"at least one")
    return (N, C, H, W, C, KH, KW, sh, sw, ph, pw, dh, dw, 1, OH, OW)


@_half_as_float
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """The sliding blocks of NCHW (or CHW) ``input`` as (N, C*kH*kW, L) columns, as
    torch.nn.functional.unfold (im2col; a view of the Im2col op's (C*kH*kW, N*L) output)."""
    _check_input(input, "unfold")
    x, unbatched = _batched(input, "unfold")
    geom = _unfold_geom("unfold", x.shape, kernel_size, dilation, padding, stride)
    N, L = geom[0], geom[14] * geom[15]
    cols = Im2col.apply(x, geom)
    out = permute(reshape(cols, (cols.shape[0], N, L)), (1, 0, 2))
    return squeeze(out, 0) if unbatched else out


@_half_as_float
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """Sum (N, C*kH*kW, L) columns back into (N, C, *output_size), as torch.nn.functional.fold
    (col2im, the adjoint of unfold)."""
    _check_input(input, "fold")
    if input.ndim not in (2, 3):
        raise ConvShapeError(f"Expected 2D (unbatched) or 3D (batched) input to fold, but got "
                             f"input of size: {list(input.shape)}")
    unbatched = input.ndim == 2
    cols = unsqueeze(input, 0) if unbatched else input
    H, W = _pair(output_size, "output_size", "fold")
    KH, KW = _pair(kernel_size, "kernel_size", "fold")
    N, CK, L = cols.shape
    if KH < 1 or KW < 1 or CK % (KH * KW):
        raise ConvShapeError(f"fold: expected size of input's dimension 1 to be divisible by the "
                             f"product of kernel_size, but got input.size(1)={CK} and "
                             f"kernel_size={(KH, KW)}")
    geom = _unfold_geom("fold", (N, CK // (KH * KW), H, W), (KH, KW), dilation, padding, stride)
    if geom[14] * geom[15] != L:
        raise ConvShapeError(f"fold: given output_size={(H, W)}, kernel_size={(KH, KW)}, "
                             f"dilation={geom[11:13]}, padding={geom[9:11]}, stride={geom[7:9]}, "
                             f"expected size of input's dimension 2 to match the calculated number "
                             f"of sliding blocks {geom[14]} * {geom[15]} = {geom[14] * geom[15]}, "
                             f"but got input.size(2)={L}")
    out = Col2im.apply(reshape(contiguous(permute(cols, (1, 0, 2))), (CK, N * L)), geom)
    return squeeze(out, 0) if unbatched else out


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------

def _pool_geom(fn, input, kernel_size, stride, padding, dilation, ceil_mode, nd=2):  # noqa: A002
    """((nd + 2)-D input, unbatched?, geom) for a pooling call, validated as PyTorch."""
    _check_input(input, fn)
    x, unbatched = _batched(input, fn, nd)
    ks = _tuple(kernel_size, nd, "kernel_size", fn)
    ss = ks if stride is None or stride == () or stride == [] else _tuple(stride, nd, "stride", fn)
    ps = _tuple(padding, nd, "padding", fn)
    ds = _tuple(dilation, nd, "dilation", fn)
    if min(ks) < 1:
        raise ConvShapeError(f"{fn}: kernel_size must be greater than zero, but got {ks}")
    if min(ss) < 1:
        raise ConvShapeError(f"{fn}: stride must be greater than zero, but got {ss}")
    if min(ds) < 1:
        raise ConvShapeError(f"{fn}: dilation must be greater than zero, but got {ds}")
    if min(ps) < 0 or any(p > (d * (k - 1) + 1) // 2 for p, k, d in zip(ps, ks, ds)):
        raise ConvShapeError(f"{fn}: pad should be at most half of effective kernel size, but got "
                             f"pad={ps}, kernel_size={ks} and dilation={ds}")
    N, C, ins = x.shape[0], x.shape[1], tuple(x.shape[2:])
    if C == 0 or 0 in ins:
        raise ConvShapeError(f"{fn}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with "
                             f"optional 0 dim batch size for input, but got: {list(input.shape)}")
    outs = tuple(_out_size(n, k, s, p, p, d, ceil_mode) for n, k, s, p, d in zip(ins, ks, ss, ps, ds))
    if min(outs) < 1:
        raise ConvShapeError(f"{fn}: Given input size: ({'x'.join(map(str, (C,) + ins))}). "
                             f"Calculated output size: ({'x'.join(map(str, (C,) + outs))}). "
                             f"Output size is too small")
    return x, unbatched, _geom(N, C, ins, C, ks, ss, ps, ds, 1, outs)


class MaxPool2d(Function):
    """out (N, C, OH, OW) = the maximum of each window (first maximum; NaN wins, as PyTorch),
    idx = its flat position in the (H, W) plane (tl_max_pool2d_forward). VJP: g added at idx.
    ``apply`` is the forward (it returns the indices too, which are no output of the node)."""

    @staticmethod
    def _kernel(*args):
        return K.tl_max_pool2d_forward(*args)

    @classmethod
    def apply(cls, x, geom):
        shape = _out_shape(geom)
        out, idx = _empty(shape, x.dtype), _empty(shape, dtypes.int64)
        check(cls._kernel(x.dtype.code, out._ptr, ffi.cast("int64_t *", idx._ptr),
                          x._ptr, _strides(x), i64(geom)), cls.__name__)
        if x.requires_grad and _grad_enabled():
            _record(cls, out, (x, geom), (True, False), (idx,)).geom = geom
        return out, idx

    @staticmethod
    def vjp(ctx, g):
        idx, = ctx._saved
        return _max_pool_scatter(contiguous(g), idx, ctx.geom), None

    @staticmethod
    def formula(ctx, g):
        """gx = 0, then += g at each window's argmax"""
        idx, = ctx._saved
        return MaxPool2dBackward.apply(contiguous(g), idx, ctx.geom), None


class MaxPool3d(MaxPool2d):
    """out, idx (N, C, OD, OH, OW): MaxPool2d over (D, H, W) windows (tl_max_pool3d_forward);
    idx = the flat position (d*H + h)*W + w."""

    @staticmethod
    def _kernel(*args):
        return K.tl_max_pool3d_forward(*args)


def _max_pool_scatter(g, idx, geom):
    gx = _empty(_in_shape(geom), g.dtype)
    fn = _by_dim(geom, K.tl_max_pool2d_backward, K.tl_max_pool3d_backward)
    check(fn(g.dtype.code, gx._ptr, g._ptr, ffi.cast("int64_t *", idx._ptr), i64(geom)),
          "max_pool backward")
    return gx


class MaxPool2dBackward(Function):
    """gx (N, C, H, W) = zeros with g (N, C, OH, OW) added at the argmax positions idx (max_pool2d's
    VJP as an op, tl_max_pool2d_backward, so it can be differentiated again: its derivative
    gathers gg at idx)."""

    @staticmethod
    def forward(ctx, g, idx, geom):
        ctx.geom = geom
        ctx.save_for_backward(idx)
        return _max_pool_scatter(g, idx, geom)

    @staticmethod
    def formula(ctx, gg):
        """ggy[n, c, o] = gg[n, c, idx[n, c, o]]: a gather (differentiable: x[index arrays])"""
        idx, = ctx._saved
        N, C = ctx.geom[:2]
        flat = reshape(gg, (N * C, _prod(_in_shape(ctx.geom)[2:])))
        rows = reshape(arange(N * C), (N * C, 1))
        out = advanced_index(flat, (rows, reshape(idx, (N * C, -1))))
        return reshape(out, idx.shape), None, None


class AvgPool2d(Function):
    """out (N, C, OH, OW) = window sums / divisor (tl_avg_pool2d_forward: PyTorch's window bounds,
    count_include_pad and divisor_override). VJP: each window += g / its divisor."""

    @staticmethod
    def forward(ctx, x, geom, count_include_pad, divisor):
        ctx.args = (geom, count_include_pad, divisor)
        out = _empty(_out_shape(geom), x.dtype)
        fn = _by_dim(geom, K.tl_avg_pool2d_forward, K.tl_avg_pool3d_forward)
        check(fn(x.dtype.code, out._ptr, x._ptr, _strides(x), i64(geom), count_include_pad, divisor),
              "avg_pool")
        return out

    @staticmethod
    def vjp(ctx, g):
        return _avg_pool_adjoint(contiguous(g), *ctx.args), None, None, None

    @staticmethod
    def formula(ctx, g):
        """gx = each window += g / its divisor (AvgPool2dBackward, differentiable)"""
        return AvgPool2dBackward.apply(contiguous(g), *ctx.args), None, None, None


class AvgPool3d(AvgPool2d):
    """out (N, C, OD, OH, OW): AvgPool2d over (D, H, W) windows (tl_avg_pool3d_*)."""


def _avg_pool_adjoint(g, geom, count_include_pad, divisor):
    gx = _empty(_in_shape(geom), g.dtype)
    fn = _by_dim(geom, K.tl_avg_pool2d_backward, K.tl_avg_pool3d_backward)
    check(fn(g.dtype.code, gx._ptr, g._ptr, i64(geom), count_include_pad, divisor),
          "avg_pool backward")
    return gx


class AvgPool2dBackward(Function):
    """avg_pool2d's VJP as an op (tl_avg_pool2d_backward); it is linear, and its own VJP is
    avg_pool2d again."""

    @staticmethod
    def forward(ctx, g, geom, count_include_pad, divisor):
        ctx.args = (geom, count_include_pad, divisor)
        return _avg_pool_adjoint(g, geom, count_include_pad, divisor)

    @staticmethod
    def formula(ctx, gg):
        """ggy = avg_pool(gg) (the adjoint of the adjoint)"""
        pool = AvgPool3d if _is3d(ctx.args[0]) else AvgPool2d
        return pool.apply(gg, *ctx.args), None, None, None


def _max_pool(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):  # noqa: A002
    x, unbatched, geom = _pool_geom(fn, input, kernel_size, stride, padding, dilation, ceil_mode, nd)
    out, idx = (MaxPool3d if nd == 3 else MaxPool2d).apply(x, geom)
    if unbatched:
        out, idx = squeeze(out, 0), squeeze(idx, 0)
    return (out, idx) if return_indices else out


def _avg_pool(fn, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,  # noqa: A002
              divisor_override):
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise ConvShapeError(f"{fn}: divisor must be not zero, got {divisor_override!r}")
    x, unbatched, geom = _pool_geom(fn, input, kernel_size, stride, padding, 1, ceil_mode, nd)
    out = (AvgPool3d if nd == 3 else AvgPool2d).apply(x, geom, int(bool(count_include_pad)),
                                                      int(divisor_override or 0))
    return squeeze(out, 0) if unbatched else out


@_half_as_float
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Maximum over kH x kW windows of NCHW (or CHW) input, as torch.nn.functional.max_pool2d
    (padding counts as -inf; ``return_indices`` also gives each maximum's flat index h*W + w)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@_half_as_float
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Maximum over kD x kH x kW windows of NCDHW (or CDHW) input, as
    torch.nn.functional.max_pool3d (``return_indices``: each maximum's flat (d*H + h)*W + w)."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@_half_as_float
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """Mean over kH x kW windows of NCHW (or CHW) input, as torch.nn.functional.avg_pool2d
    (``count_include_pad``: padding zeros count in the divisor; ``divisor_override``: divide by
    this instead)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


@_half_as_float
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """Mean over kD x kH x kW windows of NCDHW (or CDHW) input, as torch.nn.functional.avg_pool3d
    (count_include_pad and divisor_override as avg_pool2d's)."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _as_1d_pool(fn, input):
    """(N, C, L) or (C, L) ``input`` as a 2-D pooling input with H = 1."""
    _check_input(input, fn)
    if input.ndim not in (2, 3):
        raise ConvShapeError(f"Expected 2D (unbatched) or 3D (batched) input to {fn}, but got "
                             f"input of size: {list(input.shape)}")
    return unsqueeze(input, -2)


def _squeeze_h(out):
    """A 2-D pooling result (or (values, indices)) with its H = 1 dim dropped."""
    return tuple(squeeze(t, -2) for t in out) if isinstance(out, tuple) else squeeze(out, -2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Maximum over length-``kernel_size`` windows of NCL (or CL) input, as
    torch.nn.functional.max_pool1d (max_pool2d on an H = 1 view; indices index L)."""
    fn = "max_pool1d"
    x = _as_1d_pool(fn, input)
    st = None if stride is None or stride == () or stride == [] else (1, _single(stride, "stride", fn))
    return _squeeze_h(max_pool2d(x, (1, _single(kernel_size, "kernel_size", fn)), st,
                                 (0, _single(padding, "padding", fn)),
                                 (1, _single(dilation, "dilation", fn)), ceil_mode, return_indices))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True):
    """Mean over length-``kernel_size`` windows of NCL (or CL) input, as
    torch.nn.functional.avg_pool1d (avg_pool2d on an H = 1 view)."""
    fn = "avg_pool1d"
    x = _as_1d_pool(fn, input)
    st = None if stride is None or stride == () or stride == [] else (1, _single(stride, "stride", fn))
    return _squeeze_h(avg_pool2d(x, (1, _single(kernel_size, "kernel_size", fn)), st,
                                 (0, _single(padding, "padding", fn)), ceil_mode, count_include_pad))


# ---------------------------------------------------------------------------------------------
# adaptive pooling: output cell (oh, ow) pools rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and
# likewise columns (PyTorch's start/end indices; cells may overlap)
# ---------------------------------------------------------------------------------------------

def _adaptive_geom(fn, input, output_size, nd=2):  # noqa: A002
    """((nd + 2)-D input, unbatched?, geom) for an adaptive pooling call, validated as PyTorch (an
    output_size entry of None keeps that input size)."""
    _check_input(input, fn)
    x, unbatched = _batched(input, fn, nd)
    N, C, ins = x.shape[0], x.shape[1], tuple(x.shape[2:])
    size = (output_size,) * nd if not isinstance(output_size, (tuple, list)) else tuple(output_size)
    if len(size) != nd or not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in size):
        what = {2: "a pair", 3: "a triple"}[nd]
        raise TypeError(f"{fn}: output_size must be an int or {what} of ints (or None), got {output_size!r}")
    outs = tuple(n if v is None else v for n, v in zip(ins, size))
    if min(outs) < 0:
        raise ConvShapeError(f"{fn}: elements of output_size must be greater than or equal to 0 but "
                             f"received {outs}")
    for d in range(1, nd + 2):
        if x.shape[d] == 0:
            raise ConvShapeError(f"{fn}(): Expected input to have non-zero size for non-batch "
                                 f"dimensions, but input has sizes {list(input.shape)} with dimension "
                                 f"{d - 1 if unbatched else d} being empty")
    return x, unbatched, _geom(N, C, ins, C, (1,) * nd, (1,) * nd, (0,) * nd, (1,) * nd, 1, outs)


class AdaptiveAvgPool2d(Function):
    """out (N, C, OH, OW) = the mean of each adaptive cell (tl_adaptive_avg_pool2d_forward).
    VJP: each cell += g / its size (AdaptiveAvgPool2dBackward's kernel)."""

    @staticmethod
    def forward(ctx, x, geom):
        ctx.geom = geom
        out = _empty(_out_shape(geom), x.dtype)
        fn = _by_dim(geom, K.tl_adaptive_avg_pool2d_forward, K.tl_adaptive_avg_pool3d_forward)
        check(fn(x.dtype.code, out._ptr, x._ptr, _strides(x), i64(geom)), "adaptive_avg_pool")
        return out

    @staticmethod
    def vjp(ctx, g):
        return _adaptive_avg_adjoint(contiguous(g), ctx.geom), None

    @staticmethod
    def formula(ctx, g):
        """gx = each cell += g / its size (AdaptiveAvgPool2dBackward, differentiable)"""
        return AdaptiveAvgPool2dBackward.apply(contiguous(g), ctx.geom), None


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """out (N, C, OD, OH, OW): AdaptiveAvgPool2d over (D, H, W) cells (tl_adaptive_avg_pool3d_*)."""


def _adaptive_avg_adjoint(g, geom):
    gx = _empty(_in_shape(geom), g.dtype)
    fn = _by_dim(geom, K.tl_adaptive_avg_pool2d_backward, K.tl_adaptive_avg_pool3d_backward)
    check(fn(g.dtype.code, gx._ptr, g._ptr, i64(geom)), "adaptive_avg_pool backward")
    return gx


class AdaptiveAvgPool2dBackward(Function):
    """adaptive_avg_pool2d's VJP as an op (tl_adaptive_avg_pool2d_backward); linear, its own VJP
    is adaptive_avg_pool2d again."""

    @staticmethod
    def forward(ctx, g, geom):
        ctx.geom = geom
        return _adaptive_avg_adjoint(g, geom)

    @staticmethod
    def formula(ctx, gg):
        """ggy = adaptive_avg_pool(gg) (the adjoint of the adjoint)"""
        pool = AdaptiveAvgPool3d if _is3d(ctx.geom) else AdaptiveAvgPool2d
        return pool.apply(gg, ctx.geom), None


class AdaptiveMaxPool2d(MaxPool2d):
    """out (N, C, OH, OW) = the first maximum of each adaptive cell (NaN wins), idx = its flat
    position h*W + w (tl_adaptive_max_pool2d_forward); the VJP is max_pool2d's (g added at idx)."""

    @staticmethod
    def _kernel(*args):
        return K.tl_adaptive_max_pool2d_forward(*args)


class AdaptiveMaxPool3d(MaxPool2d):
    """out, idx (N, C, OD, OH, OW): AdaptiveMaxPool2d over (D, H, W) cells
    (tl_adaptive_max_pool3d_forward); the VJP is max_pool's."""

    @staticmethod
    def _kernel(*args):
        return K.tl_adaptive_max_pool3d_forward(*args)


def _adaptive(fn, nd, input, output_size, return_indices=None):  # noqa: A002
    """adaptive average pooling (return_indices None) or maximum pooling, 2-D or 3-D"""
    x, unbatched, geom = _adaptive_geom(fn, input, output_size, nd)
    if return_indices is None:
        out = (AdaptiveAvgPool3d if nd == 3 else AdaptiveAvgPool2d).apply(x, geom)
        return squeeze(out, 0) if unbatched else out
    out, idx = (AdaptiveMaxPool3d if nd == 3 else AdaptiveMaxPool2d).apply(x, geom)
    if unbatched:
        out, idx = squeeze(out, 0), squeeze(idx, 0)
    return (out, idx) if return_indices else out


@_half_as_float
def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Mean over the adaptive cells of NCHW (or CHW) input that give an ``output_size`` output,
    as torch.nn.functional.adaptive_avg_pool2d."""
    return _adaptive("adaptive_avg_pool2d", 2, input, output_size)


@_half_as_float
def adaptive_avg_pool3d(input, output_size):  # noqa: A002
    """Mean over the adaptive cells of NCDHW (or CDHW) input, as
    torch.nn.functional.adaptive_avg_pool3d."""
    return _adaptive("adaptive_avg_pool3d", 3, input, output_size)


@_half_as_float
def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    """Maximum over the adaptive cells of NCHW (or CHW) input, as
    torch.nn.functional.adaptive_max_pool2d (``return_indices``: each maximum's flat h*W + w)."""
    return _adaptive("adaptive_max_pool2d", 2, input, output_size, bool(return_indices))


@_half_as_float
def adaptive_max_pool3d(input, output_size, return_indices=False):  # noqa: A002
    """Maximum over the adaptive cells of NCDHW (or CDHW) input, as
    torch.nn.functional.adaptive_max_pool3d (indices: flat (d*H + h)*W + w)."""
    return _adaptive("adaptive_max_pool3d", 3, input, output_size, bool(return_indices))


def _single_size(v, fn):
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
        raise TypeError(f"{fn}: output_size must be an int or a 1-tuple of ints, got {v!r}")
    return v


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """adaptive_avg_pool2d over L of NCL (or CL) input, as torch.nn.functional.adaptive_avg_pool1d."""
    fn = "adaptive_avg_pool1d"
    return _squeeze_h(adaptive_avg_pool2d(_as_1d_pool(fn, input), (1, _single_size(output_size, fn))))


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    """adaptive_max_pool2d over L of NCL (or CL) input, as torch.nn.functional.adaptive_max_pool1d
    (indices index L)."""
    fn = "adaptive_max_pool1d"
    return _squeeze_h(adaptive_max_pool2d(_as_1d_pool(fn, input), (1, _single_size(output_size, fn)),
                                          return_indices))


# ---------------------------------------------------------------------------------------------
# max unpooling: the values back at their max_pool indices, zeros elsewhere
# ---------------------------------------------------------------------------------------------

def _max_unpool(fn, nd, input, indices, kernel_size, stride, padding, output_size):  # noqa: A002
    """max_unpool1d/2d/3d: out (N, C, *size) = 0, out[n, c].flat[indices[n, c, o]] = input[n, c, o]
    (a scatter along the flattened spatial dims; its gradient gathers at the indices).
    size: output_size, or (in - 1)*stride - 2*padding + kernel_size per dim."""
    _check_input(input, fn)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{fn}: indices must be a Tensor, got {type(indices).__name__}")
    if indices.dtype is not dtypes.int64:
        raise ConvTypeError(f"{fn}: expected dtype int64 for `indices` but got dtype {indices.dtype!r}")
    if tuple(indices.shape) != tuple(input.shape):
        raise ConvShapeError(f"{fn}: Expected shape of indices to be same as that of the input tensor "
                             f"({list(input.shape)}) but got indices tensor with shape: "
                             f"{list(indices.shape)}")
    x, unbatched = _batched(input, fn, nd)
    idx = unsqueeze(indices, 0) if unbatched else indices
    ks = _tuple(kernel_size, nd, "kernel_size", fn)
    ss = ks if stride is None or stride == () or stride == [] else _tuple(stride, nd, "stride", fn)
    ps = _tuple(padding, nd, "padding", fn)
    ins = tuple(x.shape[2:])
    default = [(n - 1) * s + k - 2 * p for n, s, k, p in zip(ins, ss, ks, ps)]
    if output_size is None:
        size = default
    else:
        size = [int(v) for v in output_size]
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(size)}'")
        for d in range(nd):
            lo, hi = default[d] - ss[d], default[d] + ss[d]
            if not lo < size[d] < hi:
                raise ValueError(f'invalid output_size "{list(output_size)}" (dim {d} must be '
                                 f"between {lo} and {hi})")
    if min(size) < 0:
        raise ValueError(f"{fn}: output_size must contain non-negative spatial dimensions, got {size}")
    N, C = x.shape[:2]
    volume = _prod(size)
    flat_idx = reshape(contiguous(idx), (N, C, -1))
    if flat_idx.numel() and volume == 0:
        raise ConvShapeError(f"{fn}: Found an invalid max index (the output {size} is empty)")
    out = scatter(zeros((N, C, volume), dtype=x.dtype), 2, flat_idx, reshape(x, (N, C, -1)))
    out = reshape(out, (N, C) + tuple(size))
    return squeeze(out, 0) if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The partial inverse of max_pool1d (its return_indices), as torch.nn.functional.max_unpool1d."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The partial inverse of max_pool2d (its return_indices), as torch.nn.functional.max_unpool2d."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The partial inverse of max_pool3d (its return_indices), as torch.nn.functional.max_unpool3d."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
