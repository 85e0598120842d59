"""tinygrad_lab: a small, inspectable tensor autograd engine with a C kernel core.

    import tinygrad_lab as tl
    x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4., 6.])
"""
from . import dtypes as _dtypes
from ._config import get_num_threads, set_num_threads, show_config
from .dtypes import (bfloat16, float16, float32, float64, int64, get_default_dtype,
                     set_default_dtype)
from .dtypes import bool_ as bool  # noqa: A001  (tl.bool, as torch.bool)
from .dtypes import DType as dtype
from .tensor import Tensor, empty_cache, set_cache_limit
from .creation import (Generator, arange, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, linspace, logspace, manual_seed, ones, ones_like, rand, randint,
                       randn, randperm, tensor, zeros, zeros_like)
from . import autograd
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
# amp first: it wraps the float32-only ops so they take half inputs (and follow autocast); the
# tl.<op> names below are bound to those wrappers
from . import amp
from .amp import autocast
from . import ops
from .ops.shape import (broadcast_shapes, broadcast_to, cat, chunk, clone, detach, diag, diagonal,
                        expand, flatten, flip, moveaxis, movedim, narrow, permute, reshape, roll,
                        split, squeeze, stack, swapaxes, swapdims, tile, transpose, unflatten,
                        unsqueeze)
from .ops.elementwise import (abs, add, ceil, clamp, clip, cos, div, eq, erf, exp, expm1, fix,
                              floor, frac, ge, gelu, gt, isfinite, isinf, isnan, le, leaky_relu,
                              log, log1p, logical_and, logical_not, logical_or, lt, maximum,
                              minimum, mul, ne, neg, pow, reciprocal, relu, round, rsqrt, sigmoid,
                              sign, sin, sqrt, sub, tanh, trunc, where)
from .ops.elementwise import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2,
                              arctanh, asin, asinh, atan, atan2, atanh, cosh, sinh, square, tan)
from .ops.elementwise import addcdiv, addcmul, hypot, lerp, logaddexp, nan_to_num
from .ops.index import (gather, index_select, masked_fill, repeat_interleave, scatter, scatter_add,
                        take_along_dim, trace, tril, triu)
from .ops.index_reduce import index_add, index_copy, index_fill, masked_scatter, scatter_reduce
from .ops.count import (argwhere, bincount, count_nonzero, histc, nonzero, unique,
                        unique_consecutive)
from .ops.linalg import addmm, addmv, baddbmm, bmm, dot, ger, inner, matmul, mm, mv, outer
from .ops.decomp import (cholesky_legacy as cholesky, cholesky_solve, inverse, logdet,
                         triangular_solve)
from .ops.decomp import det, slogdet
from .ops.reduce import (all, amax, amin, any, argmax, argmin, cumsum, logsumexp, max, mean, min, norm,
                         prod, std, sum, var)
from .ops.nn import log_softmax, softmax
from .ops.products import cross, einsum, kron, tensordot
from .ops.stacking import (atleast_1d, atleast_2d, atleast_3d, cartesian_prod, column_stack, diff,
                           dsplit, dstack, hsplit, hstack, meshgrid, row_stack, tensor_split,
                           vsplit, vstack)
from .ops.stats import (aminmax, cdist, corrcoef, cov, dist, nanmean, nansum, std_mean, var_mean)
from .ops.sort import (argsort, bucketize, cummax, cummin, cumprod, kthvalue, logcumsumexp, median,
                       msort, nanmedian, return_types, searchsorted, sort, topk)
from .jit import jit
from . import linalg, nn
from .autograd import set_detect_anomaly, detect_anomaly
from .autograd import gradcheck, gradgradcheck
from . import optim
from . import distributed
from . import utils
from . import viz
# tl.autograd.functional sits above the rest of tl.autograd (it uses ops): imported from here
from .autograd import functional as _functional
del _functional
from .serialization import load, save
from . import testing
from .ops.inplace import relu_, sigmoid_, tanh_  # (torch.relu_ ...; also Tensor methods)

__version__ = "0.1.0"
float = float32  # noqa: A001  (tl.float / tl.double aliases, as in PyTorch)
double = float64
long = int64
half = float16
