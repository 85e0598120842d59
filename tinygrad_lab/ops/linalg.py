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
from .. import dtypes
from .._lib import check, i64, lib
from ..autograd import Function
from ..tensor import Tensor
from .shape import broadcast_shapes, reshape, sum_to, transpose, unsqueeze


def _batch_strides(t, batch):
    """Strides of ``t`` (ndim >= 2) seen as batch + its last two dims: broadcast batch dims
    (missing, or size 1 against a larger size) get stride 0."""
    lead = len(batch) - (t.ndim - 2)
    st = [0 if i < lead or t.shape[i - lead] == 1 else t._strides[i - lead] for i in range(len(batch))]
    return st + [t._strides[-2], t._strides[-1]]


class Matmul(Function):
    """a (..., m, k) @ b (..., k, n), both at least 2-D, with broadcast batch dims."""

    @staticmethod
    def forward(ctx, a, b):
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        out = Tensor._empty(batch + (m, n), a.dtype)
        check(lib.tl_matmul_forward(a.dtype.code, out._ptr(), a._ptr(), i64(_batch_strides(a, batch)),
                                    b._ptr(), i64(_batch_strides(b, batch)), len(batch), i64(batch),
                                    m, n, k), "matmul")
        ctx.save_for_backward(a if b.requires_grad else None, b if a.requires_grad else None)
        return out

    @staticmethod
    def backward(ctx, g):
        # dA = g @ B^T and dB = A^T @ g through transposed views (no copies), summed over the
        # batch dims each operand was broadcast along. Written with matmul itself, so the
        # backward pass is recorded under create_graph=True.
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.inputs[0].shape, ctx.inputs[1].shape
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = sum_to(matmul(g, transpose(b, -2, -1)), a_shape)
        if ctx.needs_input_grad[1]:
            if len(b_shape) == 2 and len(a_shape) > 2:
                # a shared weight: fold a's batch dims into the contraction, one (k, n) product
                # instead of a batch of them and a sum (a reshape of a is a view when its batch
                # and row dims are contiguous with each other, as usual)
                rows = a.numel() // a.shape[-1] if a.shape[-1] else g.numel() // g.shape[-1]
                gb = matmul(transpose(reshape(a, (rows, a.shape[-1])), 0, 1),
                            reshape(g, (rows, g.shape[-1])))
            else:
                gb = sum_to(matmul(transpose(a, -2, -1), g), b_shape)
        return ga, gb


def matmul(a, b):
    """Matrix product with PyTorch's rules for 1-D, 2-D and batched operands (see the module
    docstring). ValueError names both shapes when they do not fit."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        bad = a if not isinstance(a, Tensor) else b
        raise TypeError(f"matmul: expected Tensors, got {type(bad).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} "
                         f"and {b.shape} (use * to multiply by a scalar)")
    ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"(inner dimensions {ka} and {kb} differ)")
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch dims of shapes {a.shape} and {b.shape} cannot be "
                         f"broadcast together") from None
    dt = dtypes.promote(a.dtype, b.dtype)
    if dt is dtypes.bool_:
        dt = dtypes.int64
    a, b = a.to(dt), b.to(dt)
    out_shape = batch + (a.shape[-2:-1] if a.ndim > 1 else ()) + (b.shape[-1:] if b.ndim > 1 else ())
    out = Matmul.apply(unsqueeze(a, 0) if a.ndim == 1 else a, unsqueeze(b, 1) if b.ndim == 1 else b)
    return out if out.shape == out_shape else reshape(out, out_shape)


METHODS = {
    "matmul": matmul,
    "__matmul__": matmul,
    "__rmatmul__": lambda a, b: matmul(b, a),
}
