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
enum tl_dtype { TL_F32 = 0, TL_F64 = 1, TL_I64 = 2, TL_BOOL = 3 };
enum tl_status { TL_OK = 0, TL_EINVAL = 1, TL_EDTYPE = 2, TL_EINDEX = 3, TL_ENOMEM = 4 };
enum tl_limits { TL_MAX_DIMS = 32 };

/* ---- build and machine information (dispatch.c) ---- */
const char *tl_version(void);
const char *tl_compiler(void);
const char *tl_build_flags(void);
int tl_openmp_enabled(void);
int tl_simd_level(void);               /* 0 = portable C, 1 = AVX2+FMA */
const char *tl_simd_name(void);
int tl_set_simd_level(int level);      /* may only lower the detected level (for tests) */
int tl_set_num_threads(int n);
int tl_get_num_threads(void);

/* ---- storage kernels (copy.c) ---- */
/* dst[i] = (dst dtype) src[i] over an ndim index space `shape`; both sides strided. */
int tl_copy(int dst_dtype, void *dst, const int64_t *dst_strides,
            int src_dtype, const void *src, const int64_t *src_strides,
            int ndim, const int64_t *shape);
/* dst[i] = value (ivalue for int64, value != 0 for bool). */
int tl_fill(int dtype, void *dst, const int64_t *strides, int ndim, const int64_t *shape,
            double value, int64_t ivalue);
/* dst[i] = start + i * step, contiguous, n elements (istart/istep used for int64). */
int tl_arange(int dtype, void *dst, int64_t n, double start, double step,
              int64_t istart, int64_t istep);

/* ---- elementwise kernels (elementwise.c; the op tables there give each formula) ---- */
enum tl_unary_op { TL_NEG = 0, TL_ABS = 1, TL_EXP = 2, TL_LOG = 3, TL_SQRT = 4, TL_SIN = 5,
                   TL_COS = 6, TL_TANH = 7, TL_SIGMOID = 8, TL_RELU = 9, TL_LEAKY_RELU = 10,
                   TL_GELU = 11, TL_CLAMP = 12, TL_POW_SCALAR = 13, TL_ERF = 14 };
enum tl_binary_op { TL_ADD = 0, TL_SUB = 1, TL_MUL = 2, TL_DIV = 3, TL_POW = 4, TL_MAXIMUM = 5,
                    TL_MINIMUM = 6, TL_EQ = 7, TL_NE = 8, TL_LT = 9, TL_LE = 10, TL_GT = 11,
                    TL_GE = 12 };
/* y = op(x; p0, p1). float32/float64 (all ops), int64 (NEG, ABS). */
int tl_unary_forward(int op, int dtype, void *y, const int64_t *y_strides,
                     const void *x, const int64_t *x_strides, int ndim, const int64_t *shape,
                     double p0, double p1);
/* gx = g * op'(x, y) written contiguous; x or y may repeat g's pointer when op does not use it. */
int tl_unary_backward(int op, int dtype, void *gx, const void *g, const int64_t *g_strides,
                      const void *x, const int64_t *x_strides, const void *y,
                      const int64_t *y_strides, int ndim, const int64_t *shape,
                      double p0, double p1);
/* out = a op b with broadcasting as stride-0 dims; comparisons write bool. DIV and POW need
 * float inputs (TL_EDTYPE otherwise). `out` may alias `a` when their layouts are equal. */
int tl_binary_forward(int op, int dtype, void *out, const int64_t *out_strides,
                      const void *a, const int64_t *a_strides, const void *b,
                      const int64_t *b_strides, int ndim, const int64_t *shape);
/* out = cond ? a : b (cond is bool), out contiguous. */
int tl_where_forward(int dtype, void *out, const void *cond, const int64_t *cond_strides,
                     const void *a, const int64_t *a_strides, const void *b,
                     const int64_t *b_strides, int ndim, const int64_t *shape);

/* ---- reductions (reduce.c) ---- */
enum tl_reduce_op { TL_SUM = 0, TL_MAX = 1, TL_MIN = 2, TL_ARGMAX = 3, TL_ARGMIN = 4 };
/* out[o] = op over r of x[o, r]: `shape` lists the kept dims, then the `nred` reduced dims.
 * out is contiguous over the kept dims; dtype of out = dtype of x, except ARGMAX/ARGMIN (int64,
 * the flat index within the reduced dims, first occurrence; NaN counts as the extreme).
 * int64 input supports all ops. TL_EINVAL for max/min/arg* over zero elements. */
int tl_reduce(int op, int dtype, void *out, const void *x, const int64_t *x_strides,
              int ndim, const int64_t *shape, int nred);
/* *count = number of NaN/Inf elements (anomaly detection). */
int tl_count_nonfinite(int dtype, const void *x, const int64_t *x_strides, int ndim,
                       const int64_t *shape, int64_t *count);

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

/* ---- random numbers (random.c): one global xoshiro256** stream ---- */
void tl_manual_seed(uint64_t seed);
int tl_rand_uniform(int dtype, void *dst, int64_t n, double low, double high);
int tl_rand_normal(int dtype, void *dst, int64_t n, double mean, double std);
int tl_randint(void *dst, int64_t n, int64_t low, int64_t high);   /* int64 in [low, high) */
/* cdef-end */

#endif
