"""The ops: every differentiable op is a ``Function`` subclass (a ``class`` statement with the
op's name) in one family module, next to the C kernels it calls and the Tensor methods that
reach it:

    shape.py        <-> csrc/copy.c         views, copies, cat, flip, diagonal, constant padding
    elementwise.py  <-> csrc/elementwise.c  unary, binary, where
    reduce.py       <-> csrc/reduce.c       sum, max, min, arg*, mean, var, logsumexp
    index.py        <-> csrc/index.c        indexing (x[key]): gather and its VJP
    linalg.py       <-> csrc/matmul.c, linear.c   matmul / @, the fused Linear layer
    decomp.py       <-> csrc/linalg.c       LU, solve, inv, det, slogdet, Cholesky, triangular solves
    nn.py           <-> csrc/nn.c           softmax, log_softmax, fused losses
    inplace.py      (csrc/copy.c)           add_, mul_, copy_, fill_, x[key] = v ...
    index_reduce.py <-> csrc/index.c        index_add/copy/fill, scatter_reduce, masked_scatter
    count.py        <-> csrc/count.c        nonzero, bincount, histc, unique (no gradients)
    conv.py         <-> csrc/conv.c         conv2d (im2col + GEMM), max/avg pooling
    sort.py         <-> csrc/sort.c         sort, topk, kthvalue, median, cummax, cumprod, searchsorted
    resample.py     (composed: gather ...)  interpolate, pixel_shuffle / pixel_unshuffle
    products.py     (composed: matmul ...)  einsum, tensordot, kron, cross
    stacking.py     (composed: views, cat)  tensor_split, hstack..., meshgrid, diff
    stats.py        (composed)              nansum, nanmean, var_mean, aminmax, cdist, cov ...

Each module imports only the ones above it in this list; importing the package attaches every
op's Tensor methods (``tensor_method``).
"""
from . import shape, elementwise, reduce, index, linalg, decomp, nn, inplace, index_reduce, count, conv, sort  # noqa: F401  (in layer order)
from . import products, stacking, stats  # noqa: F401
