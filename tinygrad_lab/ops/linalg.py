"""Matrix multiplication <-> csrc/matmul.c.

``matmul(a, b)`` follows PyTorch (and NumPy's ``@``):
  1-D @ 1-D      the dot product, a 0-d tensor
  2-D @ 2-D      the matrix product
  1-D @ N-D      a is treated as a (1, k) row, and that dim is removed from the result
  N-D @ 1-D      b is treated as a (k, 1) column, and that dim is removed from the result
  N-D @ N-D      a batch of matrix products over the last two dims; the leading (batch) dims
                 broadcast (NumPy rules) and are passed to C as stride-0 dims, never copied.
Transposed or sliced operands are passed to C with their strides (the GEMM packs its operands
anyway), so ``a.T @ b`` costs no copy.

Dtypes: operands are promoted like the elementwise ops (float32 with float64 gives float64, an
integer operand with a float one gives the float dtype). int64 @ int64 stays int64, computed
exactly in C (wrapping on overflow, as PyTorch); bool operands count as int64. Only float
results carry gradients.
"""
import math

from .. import dtypes
from .. import kernels as K
from ..autograd.engine import _FREED, _ONE, _OUTPUT, Function, _grad_enabled, _record, _record_fused
from ..kernels import NULL, check, i64
from ..tensor import _AUTOCAST, Tensor, _empty, _make, tensor_method
from .elementwise import Add, Relu, Sigmoid, Tanh, where
from .index import ShapeMismatch
from .reduce import sum as _sum
from .shape import broadcast_shapes, reshape, sum_to, transpose, unsqueeze
from ..creation import tensor as _tensor


def _batch_strides(t, batch):
    """Strides of ``t`` (ndim >= 2) seen as batch + its last two dims: broadcast batch dims
    (missing, or size 1 against a larger size) get stride 0."""
    lead = len(batch) - (len(t._shape) - 2)
    st = [0 if i < lead or t._shape[i - lead] == 1 else t._strides[i - lead] for i in range(len(batch))]
    return st + [t._strides[-2], t._strides[-1]]


class Matmul(Function):
    """a (..., m, k) @ b (..., k, n), both at least 2-D and of one dtype, with broadcast batch
    dims (matmul() below validates, promotes and handles 1-D operands first)."""

    @classmethod
    def apply(cls, a, b):
        sa, sb, dt = a._shape, b._shape, a.dtype
        m, k, n = sa[-2], sa[-1], sb[-1]
        if len(sa) == 2 and len(sb) == 2:  # the common case, without the batch bookkeeping
            batch = ()
            a_st = NULL if a._contig else i64(a._strides)   # NULL: contiguous
            b_st = NULL if b._contig else i64(b._strides)
        else:
            batch = broadcast_shapes(sa[:-2], sb[:-2])
            a_st, b_st = i64(_batch_strides(a, batch)), i64(_batch_strides(b, batch))
        out = _empty(batch + (m, n) if batch else (m, n), dt)
        rc = K.tl_matmul_forward(dt.code, out._ptr, a._ptr, a_st, b._ptr, b_st,
                                 len(batch), i64(batch) if batch else NULL, m, n, k)
        if rc:
            check(rc, "matmul")
        if (a.requires_grad or b.requires_grad) and _grad_enabled() and dt.is_floating_point:
            _record(cls, out, (a, b), (a.requires_grad, b.requires_grad),
                    (a if b.requires_grad else None, b if a.requires_grad else None))
        return out

    @staticmethod
    def vjp(ctx, g):
        # 2-D operands (the common case): the forward kernel called on transposed strides,
        # straight into fresh gradients -- the formula's transpose views, matmul dispatch and
        # sum_to checks were ~80% of a small matmul's backward (callgrind). Batched: the formula.
        x, y = ctx._inputs
        if len(x._shape) != 2 or len(y._shape) != 2:
            return Matmul.formula(ctx, g)
        a, b = ctx._saved
        need_a, need_b = ctx.needs_input_grad
        (m, n), dt = g._shape, g.dtype
        gs = g._strides
        ga = gb = None
        if need_a:   # dA (m, k) = g (m, n) @ B^T (n, k)
            k = b._shape[0]
            ga = _empty((m, k), dt)
            bs = b._strides
            rc = K.tl_matmul_forward(dt.code, ga._ptr, g._ptr, NULL if g._contig else i64(gs),
                                     b._ptr, i64((bs[1], bs[0])), 0, NULL, m, k, n)
            if rc:
                check(rc, "matmul backward")
        if need_b:
            k = a._shape[1]
            as_ = a._strides
            if y._strides == (1, k):
                # B is a transposed view of a contiguous matrix (x @ W.T): dB^T = g^T @ A
                # contiguous, returned as its transposed view, so W's gradient is contiguous
                gbt = _empty((n, k), dt)
                rc = K.tl_matmul_forward(dt.code, gbt._ptr, g._ptr, i64((gs[1], gs[0])), a._ptr,
                                         NULL if a._contig else i64(as_), 0, NULL, n, k, m)
                gb = _make(gbt._shared(), (k, n), (1, k), 0, dt)
            else:    # dB (k, n) = A^T (k, m) @ g (m, n)
                gb = _empty((k, n), dt)
                rc = K.tl_matmul_forward(dt.code, gb._ptr, a._ptr, i64((as_[1], as_[0])), g._ptr,
                                         NULL if g._contig else i64(gs), 0, NULL, k, n, m)
            if rc:
                check(rc, "matmul backward")
        return ga, gb

    @staticmethod
    def fuse_add(node, a, b, out):
        """out = a + b, a = x @ W of 2-D operands and b a bias (n,) of the same float32/float64
        dtype: one Addmm node instead of Matmul's and Add's (see _record_fused)."""
        x, w = node._inputs
        dt, s = out.dtype, node._seq
        if (len(x._shape) != 2 or len(w._shape) != 2 or b._shape != a._shape[1:]
                or not (dt is _F32 or dt is _F64) or b.dtype is not dt   # (a's is out's)
                or node._special or node._saved is _FREED
                or x.grad_fn is not None and x.grad_fn._seq > s     # changed in place since:
                or w.grad_fn is not None and w.grad_fn._seq > s):   # (see _changed_since)
            return False
        needs, rb = node.needs_input_grad, b.requires_grad
        return _record_fused(Addmm, out, (x, w, b), (needs[0], needs[1], rb), node._saved,
                             node._versions, (Add, (a, b), (True, rb), (), (), None),
                             (node,)) is not None

    @staticmethod
    def formula(ctx, g):
        # dA = g @ B^T and dB = A^T @ g through transposed views (no copies), summed over the
        # batch dims each operand was broadcast along. Written with matmul itself, so the
        # backward pass is recorded under create_graph=True.
        a, b = ctx._saved
        a_shape, b_shape = ctx._inputs[0].shape, ctx._inputs[1].shape
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = sum_to(matmul(g, transpose(b, -2, -1)), a_shape)
        if ctx.needs_input_grad[1]:
            if len(b_shape) == 2 and len(a_shape) > 2:
                # a shared weight: fold a's batch dims into the contraction, one (k, n) product
                # instead of a batch of them and a sum (a reshape of a is a view when its batch
                # and row dims are contiguous with each other, as usual)
                rows = math.prod(a.shape[:-1])
                gb = matmul(transpose(reshape(a, (rows, a.shape[-1])), 0, 1),
                            reshape(g, (rows, g.shape[-1])))
            elif len(b_shape) == 2 and len(a_shape) == 2 and ctx._inputs[1]._strides == (1, b_shape[0]):
                # b is a transposed view of a contiguous matrix (x @ W.T in Linear): compute
                # dB^T = g^T @ A contiguous, so dB is its transposed view and the gradient that
                # reaches W through the transpose is contiguous (no copy when it lands in .grad)
                gb = transpose(matmul(transpose(g, 0, 1), a), 0, 1)
            else:
                gb = sum_to(matmul(transpose(a, -2, -1), g), b_shape)
        return ga, gb


def _linear_kernel(x, w, b, act=-1):
    """act(x @ W^T + b) in one C call: GEMM reading W through transposed strides, then the bias
    and the activation (a unary op code, -1 for none) applied in place."""
    (n_rows, n_in), n_out = x._shape, w._shape[0]
    xs, ws = x._strides, w._strides
    y = _empty((n_rows, n_out), x.dtype)
    rc = K.tl_linear_forward(x.dtype.code, y._ptr, x._ptr, xs[0], xs[1], w._ptr, ws[0], ws[1],
                             NULL if b is None else b._ptr, 0 if b is None else b._strides[0],
                             act, n_rows, n_out, n_in)
    if rc:
        check(rc, "linear")
    return y


def _linear_vjp_kernel(needs, g, x, w, act=None, y=None, kn=False):
    """(dx, dW, db) of y = act(x @ W^T + b) for output gradient g (None where not needed), in
    one C call; act is None or the activation's op class, whose derivative the kernel takes
    from the output y. ``kn``: W is the (k, n) weight of y = act(x @ W + b) (Addmm, AddmmAct),
    read through transposed strides, and dW is (k, n) too."""
    need_x, need_w, need_b = needs[:3]
    (n_rows, n_out), gs, dt = g._shape, g._strides, g.dtype
    # x is saved only when W needs a gradient and W only when x does; k from whichever is here
    k = x._shape[1] if x is not None else w._shape[0 if kn else 1] if w is not None else 0
    gx = _empty((n_rows, k), dt) if need_x else None
    gw = _empty((k, n_out) if kn else (n_out, k), dt) if need_w else None
    gb = _empty((n_out,), dt) if need_b else None
    xs = x._strides if x is not None else (0, 0)
    ws = (0, 0) if w is None else (w._strides[1], w._strides[0]) if kn else w._strides
    rc = K.tl_linear_backward(dt.code, -1 if act is None else act.code,
                              gx._ptr if need_x else NULL,
                              gw._ptr if need_w else NULL, kn,
                              gb._ptr if need_b else NULL,
                              g._ptr, gs[0], gs[1],
                              NULL if x is None else x._ptr, xs[0], xs[1],
                              NULL if w is None else w._ptr, ws[0], ws[1],
                              NULL if y is None else y._ptr,
                              n_rows, n_out, k)
    if rc:
        check(rc, "linear backward")
    return gx, gw, gb


def _linear_formula(needs, g, x, w):
    """(dx, dW, db) of y = x @ W^T + b with differentiable ops."""
    return (matmul(g, w) if needs[0] else None,
            matmul(transpose(g, 0, 1), x) if needs[1] else None,
            _sum(g, 0) if needs[2] else None)


class Linear(Function):
    """y = x @ W^T + b for x (N, in), W (out, in), b (out,) or None, all one float dtype: one GEMM
    reading W through transposed strides plus an in-place bias add (the layer every MLP is made
    of, without the transpose view, the matmul node and the broadcast add node). VJP:
    dx = g @ W, dW = g^T @ x, db = g summed over rows -- one C call."""

    @classmethod
    def apply(cls, x, w, b):
        y = _linear_kernel(x, w, b)
        needs = (x.requires_grad, w.requires_grad, b is not None and b.requires_grad)
        if _grad_enabled() and (needs[0] or needs[1] or needs[2]):
            _record(cls, y, (x, w, b), needs, (x if needs[1] else None, w if needs[0] else None))
        return y

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx._saved
        return _linear_vjp_kernel(ctx.needs_input_grad, g, x, w)

    @staticmethod
    def formula(ctx, g):
        x, w = ctx._saved
        return _linear_formula(ctx.needs_input_grad, g, x, w)

    @staticmethod
    def fuse_act(node, z, y, act):
        """y = act(z) for z this Linear's output (``F.relu(self.fc(x))``): one LinearAct node,
        as nn.Sequential records (see _record_fused)."""
        if node._special or node._saved is _FREED or _changed_since(node, node._inputs):
            return False
        x, w, b = node._inputs
        ctx = _record_fused(LinearAct, y, (x, w, b, None), node.needs_input_grad + (False,),
                            node._saved + (_OUTPUT,), node._versions + (0,), _unfused_act(act, z),
                            (node,))
        if ctx is None:
            return False
        ctx.act = act
        return True


class LinearAct(Function):
    """y = act(x @ W^T + b) for act in relu / sigmoid / tanh: Linear with the activation run in
    place on its output, one node instead of two (nn.Sequential runs a Linear followed by ReLU,
    Sigmoid or Tanh this way). VJP: gz = act'(g) computed from y alone (relu's x > 0 is y > 0),
    then Linear's, in the same C call."""

    @classmethod
    def apply(cls, x, w, b, act):
        y = _linear_kernel(x, w, b, act.code)
        needs = (x.requires_grad, w.requires_grad, b is not None and b.requires_grad, False)
        if _grad_enabled() and (needs[0] or needs[1] or needs[2]):
            _record(cls, y, (x, w, b, None), needs,
                    (x if needs[1] else None, w if needs[0] else None, y)).act = act
        return y

    @staticmethod
    def vjp(ctx, g):
        x, w, y = ctx._saved
        return _linear_vjp_kernel(ctx.needs_input_grad, g, x, w, ctx.act, y) + (None,)

    @staticmethod
    def formula(ctx, g):
        x, w, y = ctx._saved
        gz = ctx.act.deriv(g, y, y, 0.0, 0.0)   # (relu's x > 0 is y > 0)
        return _linear_formula(ctx.needs_input_grad, gz, x, w) + (None,)


def _addmm_formula(needs, g, x, w):
    """(dx, dW, db) of y = x @ W + b with differentiable ops."""
    return (matmul(g, transpose(w, 0, 1)) if needs[0] else None,
            matmul(transpose(x, 0, 1), g) if needs[1] else None,
            _sum(g, 0) if needs[2] else None)


class Addmm(Function):
    """y = x @ W + b, x (m, k), W (k, n), b (n,), one float32/float64 dtype, as one node: the
    lessons' ``x @ W + b`` recorded at the ``+`` (Matmul.fuse_add), so its backward is one C
    call -- the Linear layer's, with W in the x @ W layout -- instead of two nodes and four
    kernels. Named after the op the user called (AddBackward) and turned back into the
    Matmul + Add nodes whenever anything looks at them (engine._record_fused)."""

    fuses = ("Matmul", "Add")

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx._saved
        return _linear_vjp_kernel(ctx.needs_input_grad, g, x, w, kn=True)

    @staticmethod
    def formula(ctx, g):
        x, w = ctx._saved
        return _addmm_formula(ctx.needs_input_grad, g, x, w)

    @staticmethod
    def fuse_act(node, z, y, act):
        """y = act(z) for z = x @ W + b this node's output: one AddmmAct node."""
        # (_special: hooks or a retained .grad on z or on an output the node skips)
        if (node._unfused is None or node._special or node._saved is _FREED
                or _changed_since(node, node._inputs)):
            return False
        ctx = _record_fused(AddmmAct, y, node._inputs, node.needs_input_grad, node._saved + (_OUTPUT,),
                            node._versions + (0,), _unfused_act(act, z),
                            node._skipped + (node,))
        if ctx is None:
            return False
        ctx.act = act
        return True


class AddmmAct(Function):
    """y = act(x @ W + b) for act in relu / sigmoid / tanh, as one node: recorded when the
    activation reads a fresh Addmm output (``(x @ W1 + b1).sigmoid()``), so the backward of a
    whole layer is one C call, as nn.Sequential's LinearAct. Named after the activation
    (SigmoidBackward) and turned back into op-by-op nodes like Addmm."""

    fuses = ("Matmul", "Add", "Relu / Sigmoid / Tanh")

    @staticmethod
    def vjp(ctx, g):
        x, w, y = ctx._saved
        return _linear_vjp_kernel(ctx.needs_input_grad, g, x, w, ctx.act, y, kn=True)

    @staticmethod
    def formula(ctx, g):
        x, w, y = ctx._saved
        gz = ctx.act.deriv(g, y, y, 0.0, 0.0)   # (relu's x > 0 is y > 0)
        return _addmm_formula(ctx.needs_input_grad, gz, x, w)


def _changed_since(node, tensors):
    """Whether any of ``tensors`` (None allowed) got a new grad_fn -- an in-place op -- after
    ``node`` read it: a fused node made now would see the new history, not the one node read."""
    for t in tensors:
        if t is not None and t.grad_fn is not None and t.grad_fn._seq > node._seq:
            return True
    return False


def _unfused_act(act, z):
    """The node y = act(z) would have op by op: Context._unfuse's record (see _Unary.apply),
    naming y as _OUTPUT (the fused node saves it last; a fresh output, at version 0): y itself
    here would be a reference cycle through y.grad_fn, left for the garbage collector."""
    if act.saves == "y":
        return (act, (z,), _ONE, (None, _OUTPUT), (0, 0), _NO_PARAMS)
    return (act, (z,), _ONE, (z, None), (z._storage.version, 0), _NO_PARAMS)


# activations LinearAct applies in place, by name
_ACTS = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}


def _fusable(x, w, b):
    dt = x.dtype
    return (len(x._shape) == 2 and w.dtype is dt and dt.is_floating_point
            and (b is None or (b.dtype is dt and len(b._shape) == 1)))


def linear(x, w, b=None):
    """x @ w.T + b (validated by nn.functional.linear). 2-D x with operands of one float dtype
    runs as the fused Linear op; anything else is composed from matmul and add."""
    if _fusable(x, w, b):
        return Linear.apply(x, w, b)
    y = matmul(x, transpose(w, 0, 1))
    return y if b is None else y + b


def linear_act(x, w, b, act):
    """act(x @ w.T + b) for act "relu", "sigmoid" or "tanh" (arguments validated by the caller):
    the fused LinearAct op when linear() would fuse, else linear() then the activation."""
    if _fusable(x, w, b):
        return LinearAct.apply(x, w, b, _ACTS[act])
    return _ACTS[act].apply(linear(x, w, b))


_BOOL = dtypes.bool_
_F32, _F64 = dtypes.float32, dtypes.float64
_NO_PARAMS = (0.0, 0.0)


@tensor_method("matmul", "__matmul__")
def matmul(a, b):
    """Matrix product with PyTorch's rules for 1-D, 2-D and batched operands (see the module
    docstring). ValueError names both shapes when they do not fit."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and not _AUTOCAST[0]:
        # the common case first: two 2-D operands of one dtype whose inner dims agree, no
        # autocast (a half dtype is fine: the kernel takes two operands of one half dtype)
        sa, sb, dt = a._shape, b._shape, a.dtype
        if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0] and dt is b.dtype and dt is not _BOOL:
            return Matmul.apply(a, b)
    return _matmul(a, b)


def _matmul(a, b):
    """matmul's general case; tinygrad_lab.amp wraps it (autocast, mixed half operands), so
    matmul's common case skips that wrapper's extra call (~2k instructions a call)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        bad = a if not isinstance(a, Tensor) else b
        raise TypeError(f"matmul: expected Tensors, got {type(bad).__name__}")
    sa, sb = a._shape, b._shape
    if not sa or not sb:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes {sa} "
                         f"and {sb} (use * to multiply by a scalar)")
    ka, kb = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        raise ValueError(f"matmul: shapes {sa} and {sb} cannot be multiplied "
                         f"(inner dimensions {ka} and {kb} differ)")
    batch = ()
    if len(sa) > 2 or len(sb) > 2:
        try:
            batch = broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ValueError(f"matmul: the batch dims of shapes {sa} and {sb} cannot be "
                             f"broadcast together") from None
    if a.dtype is not b.dtype or a.dtype is dtypes.bool_:
        dt = dtypes.promote(a.dtype, b.dtype)
        if dt is dtypes.bool_:
            dt = dtypes.int64
        return matmul(a.to(dt), b.to(dt))   # one dtype now (2-D: the inline path above)
    out_shape = batch + (sa[-2:-1] if len(sa) > 1 else ()) + (sb[-1:] if len(sb) > 1 else ())
    out = Matmul.apply(unsqueeze(a, 0) if len(sa) == 1 else a, unsqueeze(b, 1) if len(sb) == 1 else b)
    return out if out.shape == out_shape else reshape(out, out_shape)


@tensor_method("__rmatmul__")
def rmatmul(a, b):
    return matmul(b, a)


def bmm(a, b):
    """Batched matrix product of two 3-D tensors (b, n, m) @ (b, m, p) -> (b, n, p); unlike
    matmul, no broadcasting."""
    for name, t in (("input", a), ("mat2", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bmm: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != 3:
            raise ValueError(f"bmm: {name} must be a 3-D tensor, got shape {t.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: shapes {a.shape} and {b.shape} do not fit (need (b, n, m) and "
                         "(b, m, p) with the same b)")
    return matmul(a, b)


tensor_method()(bmm)


# ---- dot, mv, mm, outer, inner, addmm, addmv, baddbmm (PyTorch's names, checks and messages) ----
# Every product goes through matmul (looked up at call time, so tl.amp's wrapper applies): the
# existing Matmul op and its GEMM kernel, no new kernel; outer is a broadcast multiply, as in
# PyTorch. The checks raise PyTorch's RuntimeError for shapes as ShapeMismatch (also this
# project's ValueError) and for dtypes as DtypeMismatch (also a TypeError).

class DtypeMismatch(RuntimeError, TypeError):
    """Two operands of a product in different dtypes: PyTorch's RuntimeError, and this project's
    TypeError for a dtype problem."""


def _tensors(name, **args):
    for arg, t in args.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(t).__name__}")


def _same_dtype(msg, *ts):
    if any(t.dtype is not ts[0].dtype for t in ts[1:]):
        raise DtypeMismatch(msg + ", but found " + " and ".join(repr(t.dtype) for t in ts))


@tensor_method()
def dot(input, tensor):  # noqa: A002  (PyTorch's parameter names)
    """torch.dot: the inner product of two 1-D tensors of the same size and dtype (0-d result)."""
    _tensors("dot", input=input, tensor=tensor)
    if input.ndim != 1 or tensor.ndim != 1:
        raise ShapeMismatch(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    n, m = input.shape[0], tensor.shape[0]
    if n != m:
        raise ShapeMismatch(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have "
                            f"the same number of elements, but got {n} and {m} elements respectively")
    _same_dtype("dot : expected both vectors to have same dtype", input, tensor)
    return matmul(input, tensor)


@tensor_method()
def mv(input, vec):  # noqa: A002
    """torch.mv: matrix (n, m) @ vector (m,) -> (n,), one dtype."""
    _tensors("mv", input=input, vec=vec)
    if input.ndim != 2 or vec.ndim != 1:
        raise ShapeMismatch(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    n, m = input.shape
    if vec.shape[0] != m:
        raise ShapeMismatch(f"size mismatch, got input ({n}), mat ({n}x{m}), vec ({vec.shape[0]})")
    _same_dtype("mv: expected the matrix and the vector to have the same dtype", input, vec)
    return matmul(input, vec)


@tensor_method()
def mm(input, mat2):  # noqa: A002
    """torch.mm: matrix (n, m) @ matrix (m, p), no broadcasting, one dtype."""
    _tensors("mm", input=input, mat2=mat2)
    _check_mm("self", input, "mat2", mat2)
    _same_dtype("mm: expected self and mat2 to have the same dtype", input, mat2)
    return matmul(input, mat2)


def _check_mm(n1, m1, n2, m2):
    for name, t in ((n1, m1), (n2, m2)):
        if t.ndim != 2:
            raise ShapeMismatch(f"{name} must be a matrix, got {t.ndim}-D tensor")
    if m1.shape[1] != m2.shape[0]:
        raise ShapeMismatch(f"mat1 and mat2 shapes cannot be multiplied ({m1.shape[0]}x{m1.shape[1]} "
                            f"and {m2.shape[0]}x{m2.shape[1]})")


@tensor_method("outer", "ger")
def outer(input, vec2):  # noqa: A002
    """torch.outer: (n,) and (m,) -> (n, m), out[i, j] = input[i] * vec2[j] (a broadcast
    multiply, as PyTorch; the dtypes promote)."""
    _tensors("outer", input=input, vec2=vec2)
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise ShapeMismatch(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return reshape(input, (input.shape[0], 1)) * reshape(vec2, (1, vec2.shape[0]))


ger = outer


@tensor_method()
def inner(input, other):  # noqa: A002
    """torch.inner: sums over the last dim of both, out[i..., j...] = sum_k input[i..., k] *
    other[j..., k] (shape input.shape[:-1] + other.shape[:-1]); a 0-d operand multiplies. One
    GEMM: input as (I, k) @ other as (J, k) transposed."""
    _tensors("inner", input=input, other=other)
    if not input.ndim or not other.ndim:
        return input * other
    k = input.shape[-1]
    if other.shape[-1] != k:
        raise ShapeMismatch(f"inner() the last dimension must match on both input tensors but got "
                            f"shapes {list(input.shape)} and {list(other.shape)}")
    _same_dtype("inner: both inputs should have same dtype", input, other)
    if input.ndim == 1 and other.ndim == 1:
        return matmul(input, other)
    a = reshape(input, (_numel(input.shape[:-1]), k))
    b = reshape(other, (_numel(other.shape[:-1]), k))
    return reshape(matmul(a, transpose(b, 0, 1)), input.shape[:-1] + other.shape[:-1])


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


_FALSE = _tensor(False)


def _scaled_sum(name, input, prod, beta, alpha):
    """beta * input + alpha * prod with input broadcast to prod's shape (PyTorch's addmm family):
    beta 0 ignores input's values (NaN and inf included; its gradient is 0), alpha 1 and beta 1
    are not multiplied (so ``mm + bias`` meets matmul's record-time Addmm fusion)."""
    _tensors(name, input=input)
    try:
        if broadcast_shapes(input.shape, prod.shape) != prod.shape:
            raise ValueError
    except ValueError:
        raise ShapeMismatch(f"{name}: the tensor of shape {list(input.shape)} cannot be expanded to "
                            f"the product's shape {list(prod.shape)}") from None
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        # input * 0 would turn its NaN into NaN: where(False, input, 0) gives zeros and a zero
        # gradient, like PyTorch's beta = 0
        return prod + where(_FALSE, input, 0.0)
    return prod + (input if beta == 1 else input * beta)


@tensor_method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1):  # noqa: A002
    """torch.addmm: beta * input + alpha * (mat1 @ mat2), input broadcast to (n, p)."""
    _tensors("addmm", mat1=mat1, mat2=mat2)
    _check_mm("mat1", mat1, "mat2", mat2)
    return _scaled_sum("addmm", input, matmul(mat1, mat2), beta, alpha)


@tensor_method()
def addmv(input, mat, vec, *, beta=1, alpha=1):  # noqa: A002
    """torch.addmv: beta * input + alpha * (mat @ vec), input broadcast to (n,)."""
    _tensors("addmv", mat=mat, vec=vec)
    if mat.ndim != 2 or vec.ndim != 1:
        raise ShapeMismatch(f"vector + matrix @ vector expected, got {input.ndim}, {mat.ndim}, "
                            f"{vec.ndim}")
    n, m = mat.shape
    _tensors("addmv", input=input)
    if input.ndim > 1:
        raise ShapeMismatch(f"vector + matrix @ vector expected, got {input.ndim}, 2, 1")
    if vec.shape[0] != m or input.ndim == 1 and input.shape[0] not in (1, n):
        raise ShapeMismatch(f"size mismatch, got input ({', '.join(map(str, input.shape))}), mat "
                            f"({n}x{m}), vec ({vec.shape[0]})")
    return _scaled_sum("addmv", input, matmul(mat, vec), beta, alpha)


@tensor_method()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002
    """torch.baddbmm: beta * input + alpha * bmm(batch1, batch2), input broadcast to (b, n, p)."""
    _tensors("baddbmm", batch1=batch1, batch2=batch2)
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t.ndim != 3:
            raise ShapeMismatch(f"{name} must be a 3D tensor, got {t.ndim}-D")
    b, _, m = batch1.shape
    if batch2.shape[:2] != (b, m):
        raise ShapeMismatch(f"Expected size for first two dimensions of batch2 tensor to be: "
                            f"[{b}, {m}] but got: [{batch2.shape[0]}, {batch2.shape[1]}].")
    return _scaled_sum("baddbmm", input, matmul(batch1, batch2), beta, alpha)
