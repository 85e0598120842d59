/* reduce.c - sum / max / min / argmax / argmin over trailing dims, and the NaN/Inf scan used by
 * anomaly mode.
 *
 * Python permutes the reduced dims to the end (a view, no copy), so every reduction here is
 * "out[o] = reduce over r of x[o, r]" with `shape` = kept dims followed by `nred` reduced dims.
 * Two loop orders, picked by memory layout:
 *   rows    - the reduced elements of one output are closest in memory (e.g. sum over the last
 *             dim): one output at a time, a vectorised inner reduction;
 *   columns - a kept dim is innermost in memory (e.g. sum over dim 0): out is a vector of
 *             accumulators and each reduced slab is added into it, so memory is read in order.
 * float32 sums accumulate in float lanes over short blocks and add the blocks in double, which
 * keeps 1e7-element sums accurate without giving up SIMD.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* a running sum: double for float inputs, exact int64 for integer inputs */
typedef union { double f; int64_t i; } tl_sum_t;

#define TL_ISA _generic
#define T float
#define TL_SUF f32
#define TL_IS_FLOAT 1
#include "reduce.inc"
#undef T
#undef TL_SUF
#define T double
#define TL_SUF f64
#include "reduce.inc"
#undef T
#undef TL_SUF
#undef TL_IS_FLOAT
#define T int64_t
#define TL_SUF i64
#define TL_IS_FLOAT 0
#include "reduce.inc"
#undef T
#undef TL_SUF
#undef TL_IS_FLOAT
#undef TL_ISA

#ifdef TL_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#define TL_ISA _avx2
#define TL_AVX2_BUILD 1
#define TL_IS_FLOAT 1
/* 256-bit helpers for the max/min loops (reduce.inc) */
#define T float
#define TL_SUF f32
#define VEC __m256
#define VLEN 8
#define VSET1 _mm256_set1_ps
#define VZERO _mm256_setzero_ps
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VMAX _mm256_max_ps
#define VMIN _mm256_min_ps
#define VOR _mm256_or_ps
#define VUNORD(a, b) _mm256_cmp_ps(a, b, _CMP_UNORD_Q)   /* lanes where a or b is NaN */
#define VBLEND _mm256_blendv_ps
#define VMASK_T __m256i            /* lane masks for the first n < VLEN lanes */
#define VTAILMASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VMASKLOAD _mm256_maskload_ps
#define VMASKSTORE _mm256_maskstore_ps
#define VMASK _mm256_movemask_ps
#include "reduce.inc"
#undef T
#undef TL_SUF
#undef VEC
#undef VLEN
#undef VSET1
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VMAX
#undef VMIN
#undef VOR
#undef VUNORD
#undef VBLEND
#undef VMASK_T
#undef VTAILMASK
#undef VMASKLOAD
#undef VMASKSTORE
#undef VMASK
#define T double
#define TL_SUF f64
#define VEC __m256d
#define VLEN 4
#define VSET1 _mm256_set1_pd
#define VZERO _mm256_setzero_pd
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VMAX _mm256_max_pd
#define VMIN _mm256_min_pd
#define VOR _mm256_or_pd
#define VUNORD(a, b) _mm256_cmp_pd(a, b, _CMP_UNORD_Q)
#define VBLEND _mm256_blendv_pd
#define VMASK_T __m256i
#define VTAILMASK(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define VMASKLOAD _mm256_maskload_pd
#define VMASKSTORE _mm256_maskstore_pd
#define VMASK _mm256_movemask_pd
#include "reduce.inc"
#undef T
#undef TL_SUF
#undef TL_IS_FLOAT
#undef TL_AVX2_BUILD
#undef TL_ISA
#pragma GCC pop_options
#endif

int tl_reduce(int op, int dtype, void *out, const void *x, const int64_t *x_strides,
              int ndim, const int64_t *shape, int nred) {
    if (ndim < 0 || ndim > TL_MAX_DIMS || nred < 0 || nred > ndim) return TL_EINVAL;
    if (op < TL_SUM || op > TL_ARGMIN) return TL_EINVAL;
    int64_t st[TL_MAX_DIMS], s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        st[d] = x_strides ? x_strides[d] : s;
        s *= shape[d];
    }
    const int nkeep = ndim - nred;
    int64_t nout = 1, nr = 1;
    for (int d = 0; d < nkeep; d++) nout *= shape[d];
    for (int d = nkeep; d < ndim; d++) nr *= shape[d];
    if (nout == 0) return TL_OK;
    if (nr == 0 && op != TL_SUM) return TL_EINVAL;    /* max/argmax of nothing is undefined */
    switch (dtype) {
        case TL_F32: return PICK(reduce_f32, (op, out, x, st, ndim, shape, nkeep, nout, nr));
        case TL_F64: return PICK(reduce_f64, (op, out, x, st, ndim, shape, nkeep, nout, nr));
        case TL_I64: return reduce_i64_generic(op, out, x, st, ndim, shape, nkeep, nout, nr);
        default: return TL_EDTYPE;
    }
}

int tl_reduce_flat(int op, int dtype, void *out, const void *x, int64_t n) {
    return tl_reduce(op, dtype, out, x, NULL, 1, &n, 1);
}

int tl_count_nonfinite(int dtype, const void *x, const int64_t *x_strides, int ndim,
                       const int64_t *shape, int64_t *count) {
    tl_iter it;
    const int64_t *st[1] = {x_strides};
    int rc = tl_iter_init(&it, ndim, shape, 1, st);
    if (rc) return rc;
    int64_t c = 0;
    if (it.size) do {
        for (int64_t i = 0; i < it.inner; i++) {
            double v = dtype == TL_F32 ? ((const float *)x)[it.off[0] + i * it.istride[0]]
                     : dtype == TL_F64 ? ((const double *)x)[it.off[0] + i * it.istride[0]] : 0.0;
            c += !isfinite(v);
        }
    } while (tl_iter_next(&it));
    *count = c;
    return dtype == TL_F32 || dtype == TL_F64 || dtype == TL_I64 || dtype == TL_BOOL ? TL_OK : TL_EDTYPE;
}
