/* tinygrad_lab.h - the one public header of the C core.
 *
 * tinygrad_lab/_build.py feeds the block between the "cdef-begin" and "cdef-end" markers to
 * cffi's cdef() verbatim, and set_source() #includes this same file, so the Python declarations
 * and the C definitions cannot drift. That block must stay free of preprocessor lines.
 *
 * Conventions (see ../DESIGN notes in README "Architecture"):
 *  - Buffers are passed as void* plus a dtype code; pointers already include the view's offset.
 *  - Shapes and strides are int64 arrays counted in elements (not bytes). A NULL strides array
 *    means "C-contiguous for this shape". Outputs are written, never allocated.
 *  - Every kernel returns a status code (TL_OK == 0); none prints, exits or aborts.
 *  - Backward (VJP) kernels OVERWRITE their input-gradient buffers; the Python engine does the
 *    accumulation into .grad.
 */
#ifndef TINYGRAD_LAB_H
#define TINYGRAD_LAB_H
#include <stdint.h>

/* cdef-begin */
enum tl_dtype { TL_F32 = 0, TL_F64 = 1, TL_I64 = 2, TL_BOOL = 3, TL_F16 = 4, TL_BF16 = 5 };
enum tl_status { TL_OK = 0, TL_EINVAL = 1, TL_EDTYPE = 2, TL_EINDEX = 3, TL_ENOMEM = 4 };
enum tl_limits { TL_MAX_DIMS = 32 };

/* ---- build and machine information (dispatch.c) ---- */
const char *tl_version(void);
const char *tl_compiler(void);
const char *tl_build_flags(void);
int tl_simd_level(void);               /* 0 = portable C, 1 = AVX2+FMA, 2 = AVX-512 (GEMM, vmath...) */
const char *tl_simd_name(void);
/* may only lower the detected level (for tests): 1 on an AVX-512 CPU runs the AVX2 kernels, e.g.
 * the 8-lane vmath transcendentals instead of the 16-lane ones (the same bits) */
int tl_set_simd_level(int level);
/* The float16/bfloat16 loops (casts, fused elementwise) use AVX-512F on a CPU that has it (at
 * the AVX2 level); on = 0 keeps them at AVX2 (for tests and comparisons; the bits are the same).
 * Returns 1 when the AVX-512F loops are in use after the call. */
int tl_set_half_avx512(int on);

/* ---- threads (pool.c) ---- */
int tl_set_num_threads(int n);         /* 1 .. 4096 (1 in a serial build); TL_EINVAL otherwise */
int tl_get_num_threads(void);          /* default: TL_NUM_THREADS, OMP_NUM_THREADS, or CPU mask */
const char *tl_threads_backend(void);  /* "pthreads pool", or "serial (built without threads)" */

/* ---- buffers for large tensors (alloc.c) ----
 * 64-byte aligned; freed blocks are cached (exact size, newest first, up to a byte budget) so a
 * training loop's same-size tensors skip malloc and the page faults of fresh memory. */
void *tl_alloc(int64_t nbytes);          /* NULL when out of memory */
void tl_free(void *p);
void tl_alloc_set_limit(int64_t nbytes); /* cache budget in bytes (0 disables caching) */
void tl_alloc_stats(int64_t *out4);      /* cached bytes, cached blocks, hits, misses */

/* ---- capture and replay (replay.c; the entry point of tl.jit) ----
 * A recorded kernel call is a trampoline number and its arguments packed in tl_arg slots, one
 * per C parameter in order: integers (int, int64_t, uint64_t) in .i, doubles in .d, pointers in
 * .p. The trampolines are generated at build time from this block's declarations (one per
 * entry point returning int or void, see _build.py), each unpacking the slots and calling its
 * kernel; tl_replay_name/tl_replay_signature describe trampoline i (signature: one letter per
 * parameter, 'i' integer, 'u' uint64_t, 'd' double, 'p' pointer). Slots are read at call time,
 * so a caller may rewrite them (new input pointers, a new learning rate) between replays. */
typedef union tl_arg { int64_t i; double d; void *p; } tl_arg;
typedef struct tl_call { int64_t fn; const tl_arg *args; } tl_call;
/* Run calls[0..n) in order; stops at the first non-zero status, returns it and sets *failed to
 * the failing call's index (TL_EINVAL for an unknown trampoline number). */
int tl_replay(const tl_call *calls, int64_t n, int64_t *failed);
int64_t tl_replay_count(void);
const char *tl_replay_name(int64_t i);        /* NULL when out of range */
const char *tl_replay_signature(int64_t i);   /* NULL when out of range */

/* ---- storage kernels (copy.c) ---- */
/* dst[i] = (dst dtype) src[i] over an ndim index space `shape`; both sides strided. Any pair of
 * the six dtypes; float16/bfloat16 go through float32 with round-to-nearest-even (csrc/half.h). */
int tl_copy(int dst_dtype, void *dst, const int64_t *dst_strides,
            int src_dtype, const void *src, const int64_t *src_strides,
            int ndim, const int64_t *shape);
/* dst[i] = value (ivalue for int64, value != 0 for bool, value rounded for float16/bfloat16). */
int tl_fill(int dtype, void *dst, const int64_t *strides, int ndim, const int64_t *shape,
            double value, int64_t ivalue);
/* dst[i] = start + i * step, contiguous, n elements (istart/istep used for int64). */
int tl_arange(int dtype, void *dst, int64_t n, double start, double step,
              int64_t istart, int64_t istep);

/* ---- elementwise kernels (elementwise.c; the op tables there give each formula) ---- */
enum tl_unary_op { TL_NEG = 0, TL_ABS = 1, TL_EXP = 2, TL_LOG = 3, TL_SQRT = 4, TL_SIN = 5,
                   TL_COS = 6, TL_TANH = 7, TL_SIGMOID = 8, TL_RELU = 9, TL_LEAKY_RELU = 10,
                   TL_GELU = 11, TL_CLAMP = 12, TL_POW_SCALAR = 13, TL_ERF = 14,
                   TL_ADD_SCALAR = 15, TL_MUL_SCALAR = 16, TL_RSUB_SCALAR = 17,
                   TL_DIV_SCALAR = 18, TL_RDIV_SCALAR = 19, TL_NORM_TERM = 20,
                   TL_RECIPROCAL = 21, TL_RSQRT = 22, TL_LOG1P = 23, TL_EXPM1 = 24,
                   TL_SIGN = 25, TL_SILU = 26, TL_SOFTPLUS = 27, TL_ELU = 28,
                   TL_HARDTANH = 29, TL_LOG_SIGMOID = 30, TL_MISH = 31, TL_SOFTSIGN = 32,
                   TL_FLOOR = 33, TL_CEIL = 34, TL_ROUND = 35, TL_TRUNC = 36, TL_FRAC = 37,
                   TL_TAN = 38, TL_ASIN = 39, TL_ACOS = 40, TL_ATAN = 41, TL_SINH = 42,
                   TL_COSH = 43, TL_ASINH = 44, TL_ACOSH = 45, TL_ATANH = 46,
                   TL_HARDSIGMOID = 47, TL_HARDSWISH = 48, TL_CELU = 49, TL_SOFTSHRINK = 50,
                   TL_HARDSHRINK = 51, TL_THRESHOLD = 52 };
enum tl_binary_op { TL_ADD = 0, TL_SUB = 1, TL_MUL = 2, TL_DIV = 3, TL_POW = 4, TL_MAXIMUM = 5,
                    TL_MINIMUM = 6, TL_EQ = 7, TL_NE = 8, TL_LT = 9, TL_LE = 10, TL_GT = 11,
                    TL_GE = 12, TL_ATAN2 = 13, TL_LOGADDEXP = 14, TL_HYPOT = 15 };
/* y = op(x; p0, p1). float32/float64 (all ops), int64 (NEG, ABS, SIGN). */
int tl_unary_forward(int op, int dtype, void *y, const int64_t *y_strides,
                     const void *x, const int64_t *x_strides, int ndim, const int64_t *shape,
                     double p0, double p1);
/* gx = g * op'(x, y) written contiguous; x or y may repeat g's pointer when op does not use it. */
int tl_unary_backward(int op, int dtype, void *gx, const void *g, const int64_t *g_strides,
                      const void *x, const int64_t *x_strides, const void *y,
                      const int64_t *y_strides, int ndim, const int64_t *shape,
                      double p0, double p1);
/* out = a op b with broadcasting as stride-0 dims; comparisons write bool. DIV, POW, ATAN2,
 * LOGADDEXP and HYPOT need float inputs (TL_EDTYPE otherwise). `out` may alias `a` when their layouts are equal. */
int tl_binary_forward(int op, int dtype, void *out, const int64_t *out_strides,
                      const void *a, const int64_t *a_strides, const void *b,
                      const int64_t *b_strides, int ndim, const int64_t *shape);
/* The contiguous fast paths of the two above, for n elements (fewer arguments: a cffi call
 * costs ~0.1 us per argument it converts, a third of a small op's C entry). */
int tl_unary_flat(int op, int dtype, void *y, const void *x, int64_t n, double p0, double p1);
int tl_unary_backward_flat(int op, int dtype, void *gx, const void *g, const void *x,
                           const void *y, int64_t n, double p0, double p1);
int tl_binary_flat(int op, int dtype, void *out, const void *a, const void *b, int64_t n);
/* The VJP of out = a op b (float) for op MUL, DIV, POW, MAXIMUM, MINIMUM, ATAN2, LOGADDEXP,
 * HYPOT (elementwise.c's
 * TL_BINARY_GRAD_OPS gives each formula): ga = dL/da and gb = dL/db in one pass, written
 * (overwriting) contiguous in `shape`, the broadcast shape (either output may be NULL: not
 * computed); g, a, b strided over it. Python sums ga, gb back to the inputs' shapes.
 * TL_EINVAL for another op. */
int tl_binary_backward(int op, int dtype, void *ga, void *gb, const void *g,
                       const int64_t *g_strides, const void *a, const int64_t *a_strides,
                       const void *b, const int64_t *b_strides, int ndim, const int64_t *shape);
/* tl_binary_backward of n-element contiguous operands (no broadcasting). */
int tl_binary_backward_flat(int op, int dtype, void *ga, void *gb, const void *g, const void *a,
                            const void *b, int64_t n);
/* out = cond ? a : b (cond is bool), out contiguous. */
int tl_where_forward(int dtype, void *out, const void *cond, const int64_t *cond_strides,
                     const void *a, const int64_t *a_strides, const void *b,
                     const int64_t *b_strides, int ndim, const int64_t *shape);

/* ---- reductions (reduce.c) ---- */
enum tl_reduce_op { TL_SUM = 0, TL_MAX = 1, TL_MIN = 2, TL_ARGMAX = 3, TL_ARGMIN = 4 };
/* out[o] = op over r of x[o, r]: `shape` lists the kept dims, then the `nred` reduced dims.
 * out is contiguous over the kept dims; dtype of out = dtype of x, except ARGMAX/ARGMIN (int64,
 * the flat index within the reduced dims, first occurrence; NaN counts as the extreme).
 * int64 input supports all ops; float16/bfloat16 too (see tl_reduce_to). TL_EINVAL for
 * max/min/arg* over zero elements. */
int tl_reduce(int op, int dtype, void *out, const void *x, const int64_t *x_strides,
              int ndim, const int64_t *shape, int nred);
/* tl_reduce with out in out_dtype: x's dtype, or float32 for a float16/bfloat16 x (the float32
 * result unrounded, e.g. for a mean to divide before rounding). Half inputs are widened in
 * registers/L1 blocks and reduced by the float32 loops (float32 accumulation; a half out is the
 * float32 result rounded once); TL_EDTYPE for any other pairing. */
int tl_reduce_to(int op, int dtype, int out_dtype, void *out, const void *x,
                 const int64_t *x_strides, int ndim, const int64_t *shape, int nred);
/* out[o] (float32) = sum over r of (x[o, r] - center[o])^2 for a float16/bfloat16 x, center
 * float32 (one per output, e.g. a mean from tl_reduce_to): each widened element minus its
 * center rounded to float32, squared and rounded (the float32 ops d = x - c, d * d), then
 * summed as tl_reduce's float32 sum -- var/std without a float32 copy of x (center NULL: no
 * centering). TL_EDTYPE for other dtypes. */
int tl_reduce_sqdev(int dtype, void *out, const void *x, const int64_t *x_strides, int ndim,
                    const int64_t *shape, int nred, const void *center);
/* *out = op over all n elements of contiguous x: tl_reduce of one flat dim, fewer arguments for
 * the small-op path (x.sum(), loss means). */
int tl_reduce_flat(int op, int dtype, void *out, const void *x, int64_t n);
/* The VJP of y = max or min over the `nred` trailing dims of x (float), laid out as tl_reduce's
 * x: gx[o, r] = g[o] / count[o] where x[o, r] == y[o] (or both are NaN), else 0, count[o] the
 * number of such r -- the gradient split evenly among tied extrema, as PyTorch's amax/amin.
 * gx (strided: the permuted strides of the input's contiguous layout; NULL = contiguous) is
 * overwritten; g and y are contiguous over the kept dims. */
int tl_reduce_extremum_backward(int dtype, void *gx, const int64_t *gx_strides, const void *g,
                                const void *x, const int64_t *x_strides, const void *y, int ndim,
                                const int64_t *shape, int nred);
/* out, x: (outer, n, inner) contiguous; out[o, i, k] = sum over j <= i (reverse: j >= i) of
 * x[o, j, k]. float32/float64/int64. The VJP is the reverse cumsum. */
int tl_cumsum(int dtype, void *out, const void *x, int64_t outer, int64_t n, int64_t inner,
              int reverse);
/* y (outer, inner) = prod over j of x (outer, n, inner), contiguous. float32/float64/int64. */
int tl_prod_forward(int dtype, void *y, const void *x, int64_t outer, int64_t n, int64_t inner);
/* gx (overwritten), x: (outer, n, inner); g, y: (outer, inner). No zero in x: gx = g * (y / x);
 * else gx = g * (product of the other elements of the slice): PyTorch's prod_backward.
 * float32/float64. */
int tl_prod_backward(int dtype, void *gx, const void *g, const void *x, const void *y,
                     int64_t outer, int64_t n, int64_t inner);
/* *count = number of NaN/Inf elements (anomaly detection). */
int tl_count_nonfinite(int dtype, const void *x, const int64_t *x_strides, int ndim,
                       const int64_t *shape, int64_t *count);

/* ---- integer-array indexing (index.c): gather and its VJP, the scatter-add ----
 * The index space is (B..., R...): the nb broadcast dims of the index arrays, then the dims of x
 * no index array touches; offs (contiguous over B) holds element offsets into x. */
/* offs[b] = (accumulate ? offs[b] : 0) + wrap(idx[b]) * stride for one index array; an index
 * outside [-size, size) gives TL_EINDEX with *bad = its value. */
int tl_index_offsets(int64_t *offs, const int64_t *idx, const int64_t *idx_strides,
                     int nb, const int64_t *bshape, int64_t size, int64_t stride,
                     int accumulate, int64_t *bad);
/* out[b, r] = x[offs[b] + r . x_rest_strides]; float32/float64/int64/bool. */
int tl_gather_forward(int dtype, void *out, const int64_t *out_strides,
                      const void *x, const int64_t *x_rest_strides, const int64_t *offs,
                      int ndim, int nb, const int64_t *shape);
/* gx (gx_numel elements) zero-filled, then gx[offs[b] + r . gx_rest_strides] += g[b, r]. */
int tl_gather_backward(int dtype, void *gx, int64_t gx_numel, const int64_t *gx_rest_strides,
                       const void *g, const int64_t *g_strides, const int64_t *offs,
                       int ndim, int nb, const int64_t *shape);
/* torch.gather / scatter along one dim: offs[p] = idx[p] * x_strides[dim] + sum over d != dim
 * of p_d * x_strides[d] (offs contiguous over `shape`, idx strided, NULL = contiguous); an idx
 * outside [0, size) gives TL_EINDEX with *bad = its value (no wrapping). */
int tl_dim_offsets(int64_t *offs, const int64_t *idx, const int64_t *idx_strides, int ndim,
                   const int64_t *shape, int dim, int64_t size, const int64_t *x_strides,
                   int64_t *bad);
/* out[offs[p]] = src[p] (accumulate 0; repeated offsets: last in C order wins) or += (1); src
 * `shape` through src_strides (NULL = contiguous). float32/float64/int64; bool assignment. */
int tl_scatter_dim(int dtype, void *out, const void *src, const int64_t *src_strides,
               const int64_t *offs, int ndim, const int64_t *shape, int accumulate);
/* Positions (C order, rows of ndim int64) of the true elements of a bool mask; *count = how
 * many; at most `capacity` rows are written. */
int tl_nonzero(int64_t *out, int64_t capacity, int64_t *count, const void *mask,
               const int64_t *strides, int ndim, const int64_t *shape);
/* ---- counting and ordering (count.c): inputs contiguous, outputs written whole ---- */
/* out[x[i]] += weights ? weights[i] : 1 over nbins bins (int64 counts without weights, else
 * float32/float64 like the weights); a bin outside [0, nbins) gives TL_EINDEX. */
int tl_bincount(int dtype, void *out, int64_t nbins, const int64_t *x, const void *weights,
                int64_t n);
/* torch.histc: counts of the n values of x (float32/float64, out the same dtype) in `bins`
 * equal bins over [lo, hi] (lo < hi); values outside and NaN are skipped. */
int tl_histc(int dtype, void *out, const void *x, int64_t n, int64_t bins, double lo, double hi);
/* torch.unique (sorted 1: ascending, NaN last) / unique_consecutive (sorted 0) of n values:
 * values (x's dtype), inverse (n; NULL: not wanted), counts (NULL: not wanted), *n_unique;
 * perm and tmp: n int64 scratch each. float32/float64/int64/bool. */
int tl_unique(int dtype, void *values, int64_t *inverse, int64_t *counts, int64_t *n_unique,
              const void *x, int64_t n, int64_t *perm, int64_t *tmp, int sorted);
/* torch.unique(dim=) (sorted 1: lexicographic, NaN after numbers) / unique_consecutive(dim=)
 * (sorted 0) of the n slices of m values in x (n, m): rows (up to n: each unique slice's first
 * slice number), inverse (n; NULL: not wanted), counts (NULL: not wanted), *n_unique; perm and
 * tmp: n int64 scratch each. float32/float64/int64/bool. */
int tl_unique_dim(int dtype, int64_t *rows, int64_t *inverse, int64_t *counts, int64_t *n_unique,
                  const void *x, int64_t n, int64_t m, int64_t *perm, int64_t *tmp, int sorted);
/* Tensor.scatter_reduce: out (a copy of self) reduced with src at offs (tl_dim_offsets); reduce
 * 0 sum, 1 prod, 2 mean, 3 amax, 4 amin; include_self 0 starts each hit position from the
 * identity; mean divides by the hit count (+1 with self; floor division for int64), counts:
 * int64 scratch over out. float32/float64/int64. */
int tl_scatter_reduce(int dtype, void *out, int64_t *counts, const void *src,
                      const int64_t *src_strides, const int64_t *offs, int ndim,
                      const int64_t *shape, int reduce, int include_self);
/* ---- neural-network kernels (nn.c) ----
 * float32/float64; the four softmax kernels also float16/bfloat16 (computed in float32 on
 * widened blocks of rows, rounded once). Softmax-like kernels work along the last dim of a
 * contiguous (rows, C) matrix; losses write one value per row (per element for BCE) and Python reduces. `g_stride`
 * is the element stride of a per-row/per-element output gradient (0 = one broadcast value).
 * Kernels taking class targets return TL_EINDEX (writing nothing) unless 0 <= target < C. */
/* y, x (rows, C): y = exp(x - max) / sum(exp(x - max)), per row. */
int tl_softmax_forward(int dtype, void *y, const void *x, int64_t rows, int64_t C);
/* gx, g, y (rows, C); forward y = softmax(x): gx = y * (g - sum(g * y)), per row. */
int tl_softmax_backward(int dtype, void *gx, const void *g, const void *y, int64_t rows,
                        int64_t C);
/* y, x (rows, C): y = x - max - log(sum(exp(x - max))), per row. */
int tl_log_softmax_forward(int dtype, void *y, const void *x, int64_t rows, int64_t C);
/* gx, g, y (rows, C); forward y = log_softmax(x): gx = g - exp(y) * sum(g), per row. */
int tl_log_softmax_backward(int dtype, void *gx, const void *g, const void *y, int64_t rows,
                            int64_t C);
/* loss (N), stats (N, 2), logits (N, C), target (N): log-softmax + nll in one pass;
 * stats[n] = (max, log(sum(exp(logits[n] - max)))), loss[n] = logsumexp - logits[n, target[n]]. */
int tl_cross_entropy_forward(int dtype, void *loss, void *stats, const void *logits,
                             const int64_t *target, int64_t N, int64_t C);
/* dlogits (N, C), g (N), logits (N, C), stats (N, 2) from forward, target (N):
 * dlogits = (softmax(logits) - onehot(target)) * g[n]. */
int tl_cross_entropy_backward(int dtype, void *dlogits, const void *g, int64_t g_stride,
                              const void *logits, const void *stats, const int64_t *target,
                              int64_t N, int64_t C);
/* loss (N), logp (N, C), target (N): loss[n] = -logp[n, target[n]]. */
int tl_nll_loss_forward(int dtype, void *loss, const void *logp, const int64_t *target,
                        int64_t N, int64_t C);
/* dlogp (N, C), g (N), target (N): dlogp[n, c] = -g[n] where c == target[n], else 0. */
int tl_nll_loss_backward(int dtype, void *dlogp, const void *g, int64_t g_stride,
                         const int64_t *target, int64_t N, int64_t C);
/* loss, x, t (n contiguous): loss = -(t*max(log x, -100) + (1-t)*max(log1p(-x), -100)).
 * TL_EINVAL, before writing anything, unless every x is in [0, 1] (NaN included). */
int tl_binary_cross_entropy_forward(int dtype, void *loss, const void *x, const void *t, int64_t n);
/* gx, gt (n; NULL = not needed), g (n), x, t (n): gx = g*(x-t)/max(x(1-x), 1e-12),
 * gt = g*(max(log1p(-x), -100) - max(log x, -100)). */
int tl_binary_cross_entropy_backward(int dtype, void *gx, void *gt, const void *g,
                                     int64_t g_stride, const void *x, const void *t, int64_t n);
/* loss, x, t (n contiguous): loss = max(x, 0) - x*t + log1p(exp(-|x|)). */
int tl_binary_cross_entropy_with_logits_forward(int dtype, void *loss, const void *x,
                                                const void *t, int64_t n);
/* gx, gt (n; NULL = not needed), g (n), x, t (n): gx = g*(sigmoid(x) - t), gt = -g*x. */
int tl_binary_cross_entropy_with_logits_backward(int dtype, void *gx, void *gt, const void *g,
                                                 int64_t g_stride, const void *x, const void *t,
                                                 int64_t n);
/* loss, x, t (n contiguous): loss = (x - t)^2. */
int tl_mse_loss_forward(int dtype, void *loss, const void *x, const void *t, int64_t n);
/* gx, gt (n; NULL = not needed), g (n), x, t (n): gx = 2*g*(x - t), gt = -gx. */
int tl_mse_loss_backward(int dtype, void *gx, void *gt, const void *g, int64_t g_stride,
                         const void *x, const void *t, int64_t n);
/* The smooth-L1 family, per element (d = x - t, a = |d|, b = beta / delta > 0):
 * TL_L1_LOSS a; TL_SMOOTH_L1_LOSS a < b ? 0.5 d^2 / b : a - 0.5 b; TL_HUBER_LOSS a < b ? 0.5 d^2
 * : b (a - 0.5 b). Backward: gx = g q, gt = -g q with q = sign(d) (0 at 0 and NaN), clamp(d / b,
 * -1, 1), clamp(d, -b, b) respectively. TL_EINVAL for b <= 0 (except L1). */
enum tl_smooth_l1_mode { TL_L1_LOSS = 0, TL_SMOOTH_L1_LOSS = 1, TL_HUBER_LOSS = 2 };
int tl_smooth_l1_loss_forward(int mode, int dtype, void *loss, const void *x, const void *t,
                              int64_t n, double beta);
int tl_smooth_l1_loss_backward(int mode, int dtype, void *gx, void *gt, const void *g,
                               int64_t g_stride, const void *x, const void *t, int64_t n,
                               double beta);
/* mse_loss with reduction "mean", one call each way: *loss (0-d) = the sum of (x - t)^2 divided
 * by n, and gx, gt for g (0-d) -- the three kernels MseLoss then Mean run (the elementwise loss
 * into a scratch buffer, tl_reduce_flat, TL_DIV_SCALAR) and Mean's g / n before the VJP, in the
 * same order, so the same bits. TL_ENOMEM if the scratch cannot be allocated. */
int tl_mse_loss_mean_forward(int dtype, void *loss, const void *x, const void *t, int64_t n);
int tl_mse_loss_mean_backward(int dtype, void *gx, void *gt, const void *g, const void *x,
                              const void *t, int64_t n);
/* ---- matrix multiplication (matmul.c) ---- */
/* C[t, i, j] = sum_p A[t, i, p] * B[t, p, j] for t over the batch index space `batch_shape`
 * (nbatch dims, may be 0), i < m, j < n, p < k. Buffers: C contiguous [batch..., m, n]; A viewed
 * as [batch..., m, k] through a_strides (nbatch + 2 element strides: the batch dims, then row,
 * then column); B viewed as [batch..., k, n] through b_strides. NULL strides = contiguous.
 * A transposed operand is swapped row/column strides and a broadcast batch dim is stride 0: the
 * kernel packs its operands, so neither costs a copy. k == 0 writes zeros. float32, float64 and
 * int64 (wrapping, like PyTorch's integer matmul). There is no tl_matmul_backward: the VJP
 * dA = dC @ B^T, dB = A^T @ dC is this same kernel called on transposed views. */
int tl_matmul_forward(int dtype, void *c, const void *a, const int64_t *a_strides,
                      const void *b, const int64_t *b_strides, int nbatch,
                      const int64_t *batch_shape, int64_t m, int64_t n, int64_t k);

/* ---- the fused Linear layer (linear.c): composed from the kernels above in one call ----
 * x (m, k) with element strides (xs0, xs1); W (n, k) with (ws0, ws1); b (n,) with stride bs, or
 * NULL; act a unary op code applied in place (TL_RELU, TL_SIGMOID, TL_TANH: ops whose derivative
 * the output gives) or -1 for none. y (m, n) is written contiguous. */
int tl_linear_forward(int dtype, void *y, const void *x, int64_t xs0, int64_t xs1, const void *w,
                      int64_t ws0, int64_t ws1, const void *b, int64_t bs, int act, int64_t m,
                      int64_t n, int64_t k);
/* Its VJP for output gradient g (m, n) with strides (gs0, gs1): gz = act'(y) * g (y = the
 * forward's contiguous output; with act -1, gz = g and y is not read), then gx (m, k) = gz @ W,
 * gw = W's gradient, gb (n,) = gz summed over rows, each written (contiguous) only when its
 * pointer is non-NULL. gw is (n, k) = gz^T @ x, or with gw_kn (k, n) = x^T @ gz: the weight
 * of y = x @ W + b, passed as W^T's strides (ws0, ws1) (ops/linalg.py Addmm, AddmmAct).
 * TL_ENOMEM if gz's scratch cannot be allocated. */
int tl_linear_backward(int dtype, int act, void *gx, void *gw, int gw_kn, void *gb,
                       const void *g, int64_t gs0, int64_t gs1, const void *x, int64_t xs0,
                       int64_t xs1, const void *w, int64_t ws0, int64_t ws1, const void *y,
                       int64_t m, int64_t n, int64_t k);

/* ---- random numbers (random.c): one global xoshiro256** stream ---- */
void tl_manual_seed(uint64_t seed);
int tl_rand_uniform(int dtype, void *dst, int64_t n, double low, double high);
int tl_rand_normal(int dtype, void *dst, int64_t n, double mean, double std);
int tl_randint(void *dst, int64_t n, int64_t low, int64_t high);   /* int64 in [low, high) */

/* ---- optimizers (optim.c): fused in-place updates, one pass over memory ----
 * p = parameter, g = gradient, state buffers as named; all contiguous, n elements, float32 or
 * float64 (one dtype for every buffer). Parameter and state buffers are UPDATED in place; the
 * formula of each update is written above its definition in optim.c. Optional state buffers
 * are NULL when the variant does not use them. */
/* SGD: buf = momentum buffer (NULL when momentum == 0); first_step: buf := gradient. */
int tl_sgd_step(int dtype, void *p, const void *g, void *buf, int64_t n, double lr,
                double momentum, double dampening, double weight_decay, int nesterov,
                int maximize, int first_step);
/* Adam (decoupled = 0) and AdamW (decoupled = 1): m = exp_avg, v = exp_avg_sq, vmax =
 * max_exp_avg_sq (NULL unless amsgrad); bias corrections 1 - beta1^t and sqrt(1 - beta2^t). */
int tl_adam_step(int dtype, void *p, const void *g, void *m, void *v, void *vmax, int64_t n,
                 double lr, double beta1, double beta2, double eps, double weight_decay,
                 int decoupled, int maximize, double bias_correction1,
                 double bias_correction2_sqrt);
/* RMSprop: sq = square_avg, gavg = grad_avg (NULL unless centered), buf = momentum buffer
 * (NULL unless momentum > 0). */
int tl_rmsprop_step(int dtype, void *p, const void *g, void *sq, void *gavg, void *buf,
                    int64_t n, double lr, double alpha, double eps, double weight_decay,
                    double momentum, int maximize);
/* Adagrad: sum = running sum of squared gradients; clr = lr / (1 + (t - 1) lr_decay). */
int tl_adagrad_step(int dtype, void *p, const void *g, void *sum, int64_t n, double clr,
                    double eps, double weight_decay, int maximize);
/* Adamax: m = exp_avg, u = exp_inf; bias_correction1 = 1 - beta1^t. */
int tl_adamax_step(int dtype, void *p, const void *g, void *m, void *u, int64_t n, double lr,
                   double beta1, double beta2, double eps, double weight_decay, int maximize,
                   double bias_correction1);
/* NAdam: m = exp_avg, v = exp_avg_sq; 1 - beta2^t and the momentum-cache step coefficients. */
int tl_nadam_step(int dtype, void *p, const void *g, void *m, void *v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int decoupled,
                  int maximize, double bias_correction2, double grad_coef, double avg_coef);
/* RAdam: m = exp_avg, v = exp_avg_sq; 1 - beta1^t, and when rectified sqrt(1 - beta2^t) and the
 * rectification term. */
int tl_radam_step(int dtype, void *p, const void *g, void *m, void *v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int decoupled,
                  int maximize, double bias_correction1, int rectified,
                  double bias_correction2_sqrt, double rect);
/* Adadelta: sq = square_avg, acc = acc_delta. */
int tl_adadelta_step(int dtype, void *p, const void *g, void *sq, void *acc, int64_t n,
                     double lr, double rho, double eps, double weight_decay, int maximize);
/* Rprop: prev = previous gradient, step_size = per-element step sizes. */
int tl_rprop_step(int dtype, void *p, const void *g, void *prev, void *step_size, int64_t n,
                  double etaminus, double etaplus, double step_size_min, double step_size_max,
                  int maximize);
/* ASGD: ax = averaged parameter; eta, decay = 1 - lambd eta and mu of this step. */
int tl_asgd_step(int dtype, void *p, const void *g, void *ax, int64_t n, double eta,
                 double decay, double mu, double weight_decay, int maximize);
/* ---- loss scaling (amp.c): tl.amp.GradScaler's steps on its 0-d state tensors ----
 * found_inf: float32 flag (0 or 1); scale: float32; growth_tracker: int64. */
/* found_inf = 1 if g (strided, any float dtype) holds a NaN/Inf; then g *= (float)(1 / scale). */
int tl_amp_unscale_(int dtype, void *g, const int64_t *g_strides, int ndim, const int64_t *shape,
                    void *found_inf, const void *scale);
/* torch's _amp_update_scale_: back off after found_inf, else count the clean step and grow the
 * scale (if it stays finite) every growth_interval of them. */
int tl_amp_update_scale_(void *scale, void *growth_tracker, const void *found_inf,
                         double growth_factor, double backoff_factor, int64_t growth_interval);
/* ---- 2-D convolution and pooling (conv.c) ----
 * geom: int64[16] = {N, C, H, W, OC, KH, KW, stride_h, stride_w, pad_h, pad_w, dilation_h,
 * dilation_w, groups, OH, OW} (pooling: OC and groups unused). x (N, C, H, W) is read through
 * x_strides (4 element strides, NULL = contiguous); every other buffer is contiguous. float32
 * and float64; TL_EINVAL for a negative size or a bad stride/dilation/groups. Backward kernels
 * overwrite their outputs (NULL = not needed). */
/* cols (C*KH*KW, N, OH*OW): cols[(c, i, j), n, oh, ow] = x[n, c, oh*sh - ph + i*dh,
 * ow*sw - pw + j*dw], 0 in the padding. tl_col2im is its adjoint: gx (N, C, H, W) = sum of
 * cols into the positions they were read from. */
int tl_im2col(int dtype, void *cols, const void *x, const int64_t *x_strides, const int64_t *geom);
int tl_col2im(int dtype, void *gx, const void *cols, const int64_t *geom);
/* out (N, OC, OH, OW) = conv2d(x, w (OC, C/groups, KH, KW), b (OC,) or NULL): im2col + one
 * batched GEMM over the groups. Backward for g (N, OC, OH, OW): gx (N, C, H, W), gw (like w),
 * gb (OC,). TL_ENOMEM when the scratch cannot be allocated. */
int tl_conv2d_forward(int dtype, void *out, const void *x, const int64_t *x_strides, const void *w,
                      const void *b, const int64_t *geom);
int tl_conv2d_backward(int dtype, void *gx, void *gw, void *gb, const void *g, const void *x,
                       const int64_t *x_strides, const void *w, const int64_t *geom);
/* out, idx (N, C, OH, OW): the window's first maximum (NaN wins, as PyTorch) and its flat
 * position h*W + w in the (H, W) plane. Backward: gx = 0, gx[n, c][idx] += g. */
int tl_max_pool2d_forward(int dtype, void *out, int64_t *idx, const void *x,
                          const int64_t *x_strides, const int64_t *geom);
int tl_max_pool2d_backward(int dtype, void *gx, const void *g, const int64_t *idx,
                           const int64_t *geom);
/* out = window sum / divisor: divisor_override if non-zero, else the window's size counting
 * padding (count_include_pad) or not; windows wholly in the padding give 0 (PyTorch's rules).
 * Backward: gx = 0, then each window += g / its divisor. */
int tl_avg_pool2d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                          const int64_t *geom, int count_include_pad, int64_t divisor_override);
int tl_avg_pool2d_backward(int dtype, void *gx, const void *g, const int64_t *geom,
                           int count_include_pad, int64_t divisor_override);
/* Transposed convolution (conv_transpose2d), the adjoint of conv2d in x: geom is that conv2d's,
 * so out (N, C, H, W) for x (N, OC, OH, OW) and w (OC, C/groups, KH, KW), b (C,) or NULL; x, g
 * contiguous. Backward for g (N, C, H, W): gx (N, OC, OH, OW) = conv2d(g, w), gw (like w), gb (C,). */
int tl_conv_transpose2d_forward(int dtype, void *out, const void *x, const void *w, const void *b,
                                const int64_t *geom);
int tl_conv_transpose2d_backward(int dtype, void *gx, void *gw, void *gb, const void *g,
                                 const void *x, const void *w, const int64_t *geom);
/* Adaptive pooling (geom as pooling's; kernel, stride, padding, dilation unused): output cell
 * (oh, ow) pools rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and likewise columns. Average: out =
 * the cell's mean; backward gx = 0, then each cell += g / its size. Max: out, idx as
 * tl_max_pool2d_forward (backward: tl_max_pool2d_backward). */
int tl_adaptive_avg_pool2d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                                   const int64_t *geom);
int tl_adaptive_avg_pool2d_backward(int dtype, void *gx, const void *g, const int64_t *geom);
int tl_adaptive_max_pool2d_forward(int dtype, void *out, int64_t *idx, const void *x,
                                   const int64_t *x_strides, const int64_t *geom);
/* ---- 3-D convolution and pooling (conv.c): the same kernels with a depth dimension ----
 * geom: int64[22] = {N, C, D, H, W, OC, KD, KH, KW, stride_d, stride_h, stride_w, pad_d, pad_h,
 * pad_w, dilation_d, dilation_h, dilation_w, groups, OD, OH, OW}; x (N, C, D, H, W) through
 * x_strides (5 element strides, NULL = contiguous). The 2-D functions above are these with
 * D = KD = OD = 1 (conv2d's direct path aside). tl_vol2col / tl_col2vol: tl_im2col / tl_col2im
 * with rows (c, k, i, j) and columns (n, od, oh, ow). conv3d: the im2col path of conv2d.
 * Pooling indices are flat positions (d*H + h)*W + w in the (D, H, W) volume. */
int tl_vol2col(int dtype, void *cols, const void *x, const int64_t *x_strides, const int64_t *geom);
int tl_col2vol(int dtype, void *gx, const void *cols, const int64_t *geom);
int tl_conv3d_forward(int dtype, void *out, const void *x, const int64_t *x_strides, const void *w,
                      const void *b, const int64_t *geom);
int tl_conv3d_backward(int dtype, void *gx, void *gw, void *gb, const void *g, const void *x,
                       const int64_t *x_strides, const void *w, const int64_t *geom);
int tl_conv_transpose3d_forward(int dtype, void *out, const void *x, const void *w, const void *b,
                                const int64_t *geom);
int tl_conv_transpose3d_backward(int dtype, void *gx, void *gw, void *gb, const void *g,
                                 const void *x, const void *w, const int64_t *geom);
int tl_max_pool3d_forward(int dtype, void *out, int64_t *idx, const void *x,
                          const int64_t *x_strides, const int64_t *geom);
int tl_max_pool3d_backward(int dtype, void *gx, const void *g, const int64_t *idx,
                           const int64_t *geom);
int tl_avg_pool3d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                          const int64_t *geom, int count_include_pad, int64_t divisor_override);
int tl_avg_pool3d_backward(int dtype, void *gx, const void *g, const int64_t *geom,
                           int count_include_pad, int64_t divisor_override);
int tl_adaptive_avg_pool3d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                                   const int64_t *geom);
int tl_adaptive_avg_pool3d_backward(int dtype, void *gx, const void *g, const int64_t *geom);
int tl_adaptive_max_pool3d_forward(int dtype, void *out, int64_t *idx, const void *x,
                                   const int64_t *x_strides, const int64_t *geom);
/* ---- sorting, order statistics and scans along one dim (sort.c) ----
 * x is (outer, n, inner) contiguous, n the dim's size. Order: PyTorch's (NaN the largest, -0 ==
 * 0), ties by index, so sorts are stable. Values are copied from x through the indices (exact
 * for every dtype). */
/* values (NULL: argsort), indices: (outer, k, inner), each slice's first k in ascending (or
 * descending) order: sort (k = n), topk. float32/float64/float16/bfloat16/int64/bool. */
int tl_sort_forward(int dtype, void *values, int64_t *indices, const void *x, int64_t outer,
                    int64_t n, int64_t inner, int64_t k, int descending);
/* values, indices: (outer, inner); mode 0: the k-th smallest (1 <= k <= n), 1: the lower median
 * (the first NaN if any), 2: the lower median of the non-NaN elements. n >= 1. */
int tl_kthvalue_forward(int dtype, void *values, int64_t *indices, const void *x, int64_t outer,
                        int64_t n, int64_t inner, int64_t k, int mode);
/* The VJP of values = x gathered at indices (outer, m, inner) along n: gx (outer, n, inner) = 0,
 * then gx[o, indices[o, j, k], k] += g[o, j, k]. float32/float64. */
int tl_sort_backward(int dtype, void *gx, const void *g, const int64_t *indices, int64_t outer,
                     int64_t n, int64_t m, int64_t inner);
/* values, indices (outer, n, inner): running max (is_min: min) and its position; NaN takes over,
 * ties move to the later index (PyTorch's cummax / cummin). The VJP is tl_sort_backward. */
int tl_cummax_forward(int dtype, void *values, int64_t *indices, const void *x, int64_t outer,
                      int64_t n, int64_t inner, int is_min);
/* y = running product along n (float32/float64/int64); backward: gx (overwritten) =
 * y_{i-1} * s_i with s_i = g_i + x_{i+1} s_{i+1}: no division, exact with zeros in x.
 * float32/float64. */
int tl_cumprod_forward(int dtype, void *y, const void *x, int64_t outer, int64_t n,
                       int64_t inner);
int tl_cumprod_backward(int dtype, void *gx, const void *g, const void *x, const void *y,
                        int64_t outer, int64_t n, int64_t inner);
/* y = log of the running sum of exp(x) along n; backward gx_i = sum over j >= i of
 * g_j exp(x_i - y_j) in log space (PyTorch's). float32/float64. */
int tl_logcumsumexp_forward(int dtype, void *y, const void *x, int64_t outer, int64_t n,
                            int64_t inner);
int tl_logcumsumexp_backward(int dtype, void *gx, const void *g, const void *x, const void *y,
                             int64_t outer, int64_t n, int64_t inner);
/* out (outer, m) int64: the insertion point of each of values (outer, m) in seq (outer, n), or
 * in one shared (n,) seq when seq_outer is 0; right: after equal elements. */
int tl_searchsorted(int dtype, int64_t *out, const void *seq, const void *values, int64_t outer,
                    int64_t n, int64_t m, int seq_outer, int right);
/* ---- dense linear algebra on batches of n x n matrices (linalg.c) ----
 * Buffers are contiguous row-major batches; float32/float64. Work happens in place. */
/* lu (batch, n, n): A factored in place into P A = L U (L unit lower below the diagonal, U on
 * and above); piv (batch, n): 1-based row swapped with row i at step i (LAPACK's getrf);
 * info (batch,): 0, or the 1-based index of the first exactly-zero pivot of U. */
int tl_lu_factor(int dtype, void *lu, int64_t *piv, int64_t *info, int64_t batch, int64_t n);
/* x (batch, n, k) = A^-1 x from tl_lu_factor's lu, piv; perturb: a zero diagonal element of U
 * counts as the dtype's eps (PyTorch's det backward). */
int tl_lu_solve(int dtype, void *x, const void *lu, const int64_t *piv, int64_t batch, int64_t n,
                int64_t k, int perturb);
/* det, sign, logabs (batch,) from tl_lu_factor's lu, piv (each output may be NULL): the
 * determinant, the sign of it (0 when it is 0 or NaN) and log |det| (slogdet). */
int tl_lu_det(int dtype, void *det, void *sign, void *logabs, const void *lu, const int64_t *piv,
              int64_t batch, int64_t n);
/* l (batch, n, n): A's lower triangle -> its Cholesky factor L (strict upper triangle zeroed);
 * info (batch,): 0, or the order of the first leading minor that is not positive-definite. */
int tl_cholesky(int dtype, void *l, int64_t *info, int64_t batch, int64_t n);
/* x (batch, n, k) = A^-1 x for a (batch, n, n) triangular (upper or lower; only that triangle
 * is read; unit: a diagonal of ones assumed). */
int tl_solve_triangular(int dtype, void *x, const void *a, int64_t batch, int64_t n, int64_t k,
                        int upper, int unit);
/* w (batch, n) eigenvalues ascending, v (batch, n, n) eigenvectors as columns (each with its
 * largest-magnitude component positive) of the symmetric a (batch, n, n), given by its lower
 * (upper = 0) or upper triangle and overwritten: cyclic Jacobi. */
int tl_eigh(int dtype, void *w, void *v, void *a, int64_t batch, int64_t n, int upper);
/* a (batch, m, n) = Q R by Householder reflections (LAPACK geqrf's signs), a overwritten;
 * k = min(m, n): q (batch, m, k) and r (batch, k, n), or with complete q (batch, m, m) and
 * r (batch, m, n); q or r may be NULL. */
int tl_qr(int dtype, void *q, void *r, void *a, int64_t batch, int64_t m, int64_t n, int complete);
/* cdef-end */

#endif
