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
 * reduce.inc holds the loops, instantiated through instantiate_float.h for float and double,
 * portable and AVX2+FMA (picked at run time), and int64, portable.
 * float16/bfloat16 inputs run the float32 loops on halves widened in blocks: 1024 of a row at a
 * time into an L1 buffer (rows order), or the CROWS rows of a columns block (columns order), so
 * there is no float32 copy of x; the float32 result is rounded once on store (or written as
 * float32 by tl_reduce_to, for a mean). Contiguous runs are summed in the float32 loops' order,
 * so the bits are those of the float32 reduction of the widened tensor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "half.h"
#ifdef TL_X86
#include <immintrin.h>
#endif

/* a running sum: double for float inputs; for integer inputs uint64_t, so an int64 sum wraps
 * in two's complement as PyTorch's does, with no signed overflow (undefined behaviour in C) */
typedef union { double f; uint64_t i; } tl_sum_t;

/* columns order: rows combined in T lanes per accumulator pass, and kept elements per pass (its
 * 8 KiB of sums stay in L1 as the rows stream by) */
#define CROWS 8
#define COLS 1024

/* ---- how a reduction is cut for threads ----
 * By its shape alone, never by the thread count, so every thread count gives the same bits:
 *   RED_ROWS    rows order: chunks of whole outputs;
 *   RED_SLICES  rows order, fewer than RED_FEW outputs, long reductions (>= 2 TL_PAR_MIN
 *               elements): each output's reduced elements in `nsplit` slices (at most
 *               RED_MAX_SLICES, >= TL_PAR_MIN elements each, bounds multiples of 1024, the float
 *               sum's block), partial results combined in slice order (so a float sum adds the
 *               slices' double sums left to right);
 *   RED_COLS    columns order: chunks of whole kept elements;
 *   RED_BANDS   columns order, fewer than 2 * COLS kept elements, enough reduced rows: `nsplit`
 *               bands of rows (at most RED_MAX_BANDS, bounds multiples of CROWS, >= 64 rows and
 *               TL_PAR_MIN elements each, so a split needs the 2 * TL_PAR_MIN elements
 *               tl_parallel_span asks before it uses threads) reduced into partial vectors,
 *               combined in band order. (With TL_CHUNK_MIN elements per band, a 128x256 float32
 *               column sum -- the bias-add VJP of a batch of 128 -- took two bands: 3.7 us on 2
 *               threads, 2.1 us in one piece, on the 2-core VM.) (Splitting few columns instead would make every thread read every row's
 *               cache lines; measured slower than bands already at 1024 columns on 2 threads.)
 *               The combining is serial and reads every partial vector: a 4096x1024 float32
 *               column sum on 2 threads took 217 / 225 / 228 / 233 us with 2 / 4 / 8 / 16
 *               bands on a quiet machine, and 353 / 329 / 321 / 352 us with a busy process on
 *               the other core (more bands leave more to the caller when a worker is late).
 * Whole outputs or kept elements need no combining: their results equal the serial ones. */
enum { RED_ROWS, RED_SLICES, RED_COLS, RED_BANDS };
#define RED_FEW 16
#define RED_MAX_SLICES 16
#define RED_MAX_BANDS 8

typedef struct {
    int op, ndim, nkeep, how;
    int hdt, ohdt;      /* x is float16/bfloat16 (that dtype; 0: x is T), out too (0: T) */
    const float *center; /* tl_reduce_sqdev's centers (one per output), else NULL */
    void *out;
    const void *x;
    const int64_t *st, *shape;
    int64_t nout, nr;
    tl_iter ko, ri;     /* columns order: kept elements (operands out, x); reduced elements (x) */
    int64_t nsplit;     /* slices per output or bands */
    int64_t align;      /* their bounds are multiples of this */
    void *part;         /* their partial results (tl_alloc) */
} red_args;

/* Start of slice / band q (q == nsplit: the end). */
static int64_t red_split(const red_args *a, int64_t q) {
    if (q >= a->nsplit) return a->nr;
    return (a->nr / a->nsplit * q + a->nr % a->nsplit * q / a->nsplit) / a->align * a->align;
}

/* Fill in a: the loop order, the cut, and buffers for partial results (slice_size bytes per
 * slice partial, cacc_size per band element). */
static int red_plan(red_args *a, int op, int hdt, int ohdt, const float *center, void *out, const void *x, const int64_t *st, int ndim,
                    const int64_t *shape, int nkeep, int64_t nout, int64_t nr, size_t slice_size,
                    size_t cacc_size) {
    const int nred = ndim - nkeep;
    /* Which loop order: is the smallest non-trivial stride on a kept dim? */
    int64_t best_keep = INT64_MAX, best_red = INT64_MAX;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 1) continue;
        int64_t s = st[d] < 0 ? -st[d] : st[d];
        if (d < nkeep) { if (s < best_keep) best_keep = s; }
        else if (s < best_red) best_red = s;
    }
    const int columns = (op == TL_SUM || op == TL_MAX || op == TL_MIN) && nkeep > 0 &&
                        best_keep < best_red && nr > 1;
    /* (fields set one by one: the iterators are large and only some cuts need them) */
    a->op = op, a->hdt = hdt, a->ohdt = ohdt, a->center = center, a->ndim = ndim, a->nkeep = nkeep, a->out = out, a->x = x, a->st = st;
    a->shape = shape, a->nout = nout, a->nr = nr, a->nsplit = 1, a->align = 1, a->part = NULL;
    const int64_t *rs[1] = {st + nkeep}, *kst[2] = {NULL, st};
    size_t bytes = 0;
    if (!columns) {
        a->how = RED_ROWS;
        if (nout < RED_FEW && nr >= 2 * TL_PAR_MIN) {
            a->how = RED_SLICES;
            a->nsplit = nr / TL_PAR_MIN < RED_MAX_SLICES ? nr / TL_PAR_MIN : RED_MAX_SLICES;
            a->align = 1024;
            bytes = (size_t)(nout * a->nsplit) * slice_size;
            tl_iter_init(&a->ri, nred, shape + nkeep, 1, rs);
        }
    } else {
        tl_iter_init(&a->ko, nkeep, shape, 2, kst);
        tl_iter_init(&a->ri, nred, shape + nkeep, 1, rs);
        a->how = RED_COLS;
        int64_t rows = (TL_PAR_MIN + nout - 1) / nout;
        if (rows < 8 * CROWS) rows = 8 * CROWS;
        if (nout < 2 * COLS && nr >= 2 * rows) {
            a->how = RED_BANDS;
            a->nsplit = nr / rows < RED_MAX_BANDS ? nr / rows : RED_MAX_BANDS;
            a->align = CROWS;
            bytes = (size_t)(nout * a->nsplit) * cacc_size;
        }
    }
    if (bytes && (a->part = tl_alloc((int64_t)bytes)) == NULL) return TL_ENOMEM;
    return TL_OK;
}

static void red_free(red_args *a) {
    if (a->part) tl_free(a->part);
}

/* ---- AVX-512 float32 column sums (level 2) ----
 * colsum_f32_avx512 adds the column sums of nrows float32 rows of m contiguous elements (row r
 * at x + r * rs) to the double accumulators acc[0, m): the columns order's sum (col_rows_ /
 * col_block_ in reduce.inc) with the same additions in the same order -- each full block of
 * CROWS = 8 rows summed as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) in float lanes, then
 * added to the running double sum; the rows after the last full block added one by one in
 * double -- so the same bits, with two changes of loop order:
 *   - strips of 64 columns whose 8 double accumulators (zmm) stay in registers over a chunk of
 *     rows (the chunk ~32 KiB, so the strips after the first read it from L1), instead of a
 *     load and store of the accumulators per 8-row block;
 *   - the first strip cut short (when m > 64) so that the others' loads are 64-byte aligned
 *     whenever rows are: tensors under 256 KiB live in 16-byte aligned memory (tensor.py), and a
 *     misaligned 64-byte load spans two cache lines.
 * Measured (a C loop, a 128x256 column sum held in L2): the AVX2 loop 1.4 us (2.1 us at a
 * 16-byte offset), this one 1.2 us (1.35 us); 4096x1024: 600 -> 565 us; for fewer than 128
 * columns (one strip, no alignment gain) no faster, so col_rows_ calls it from 128 columns on.
 * tl_set_simd_level(1) turns it off. */
#ifdef TL_X86
#define COLSUM_CHUNK_BYTES (32 << 10)
/* one strip of w <= 64 columns (FULL: w == 64) over the rows [0, nrows) */
#define COLSUM_STRIP_BODY_(FULL)                                                                   \
    do {                                                                                           \
        __mmask16 k[4];                                                                            \
        __m512d lo[4], hi[4];                                                                      \
        for (int j = 0; j < 4; j++) {                                                              \
            const int64_t rem = w - 16 * j;                                                        \
            k[j] = FULL || rem >= 16 ? (__mmask16)0xffff : rem > 0 ? (__mmask16)((1u << rem) - 1) : 0; \
            lo[j] = _mm512_maskz_loadu_pd((__mmask8)k[j], a + 16 * j);                             \
            hi[j] = _mm512_maskz_loadu_pd((__mmask8)(k[j] >> 8), a + 16 * j + 8);                  \
        }                                                                                          \
        int64_t r = 0;                                                                             \
        for (; r + 8 <= nrows; r += 8) {                                                           \
            const float *p = xs + r * rs;                                                          \
            for (int j = 0; j < 4; j++) {                                                          \
                if (!FULL && !k[j]) break;                                                         \
                const float *q = p + 16 * j;                                                       \
                const __m512 s = CS_ADD_(CS_ADD_(CS_ADD_(CS_LD_(q, FULL), CS_LD_(q + rs, FULL)),              \
                                         CS_ADD_(CS_LD_(q + 2 * rs, FULL), CS_LD_(q + 3 * rs, FULL))),        \
                                 CS_ADD_(CS_ADD_(CS_LD_(q + 4 * rs, FULL), CS_LD_(q + 5 * rs, FULL)),         \
                                         CS_ADD_(CS_LD_(q + 6 * rs, FULL), CS_LD_(q + 7 * rs, FULL))));       \
                lo[j] = _mm512_add_pd(lo[j], _mm512_cvtps_pd(_mm512_castps512_ps256(s)));          \
                hi[j] = _mm512_add_pd(hi[j], _mm512_cvtps_pd(CS_HI_(s)));                          \
            }                                                                                      \
        }                                                                                          \
        for (; r < nrows; r++) {                                                                   \
            const float *p = xs + r * rs;                                                          \
            for (int j = 0; j < 4; j++) {                                                          \
                if (!FULL && !k[j]) break;                                                         \
                const __m512 s = CS_LD_(p + 16 * j, FULL);                                         \
                lo[j] = _mm512_add_pd(lo[j], _mm512_cvtps_pd(_mm512_castps512_ps256(s)));          \
                hi[j] = _mm512_add_pd(hi[j], _mm512_cvtps_pd(CS_HI_(s)));                          \
            }                                                                                      \
        }                                                                                          \
        for (int j = 0; j < 4; j++) {                                                              \
            _mm512_mask_storeu_pd(a + 16 * j, (__mmask8)k[j], lo[j]);                              \
            _mm512_mask_storeu_pd(a + 16 * j + 8, (__mmask8)(k[j] >> 8), hi[j]);                   \
        }                                                                                          \
    } while (0)
#define CS_ADD_ _mm512_add_ps
#define CS_LD_(q, FULL) ((FULL) ? _mm512_loadu_ps(q) : _mm512_maskz_loadu_ps(k[j], q))
#define CS_HI_(s) _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1))
__attribute__((target("avx512f")))
static void colsum_strip64_f32_(const float *xs, int64_t rs, int64_t nrows, double *a) {
    const int64_t w = 64;
    COLSUM_STRIP_BODY_(1);
}
__attribute__((target("avx512f")))
static void colsum_strip_f32_(const float *xs, int64_t rs, int64_t nrows, int64_t w, double *a) {
    COLSUM_STRIP_BODY_(0);
}
#undef CS_ADD_
#undef CS_LD_
#undef CS_HI_
#undef COLSUM_STRIP_BODY_

__attribute__((target("avx512f")))
static void colsum_f32_avx512(const float *x, int64_t rs, int64_t nrows, int64_t m, double *acc) {
    const int64_t head = (int64_t)((64 - ((uintptr_t)x & 63)) & 63) / 4;
    int64_t rb = COLSUM_CHUNK_BYTES / (m * 4) / 8 * 8;
    if (rb < 8) rb = 8;
    for (int64_t r0 = 0; r0 < nrows; r0 += rb) {
        const int64_t n = nrows - r0 < rb ? nrows - r0 : rb;
        const float *xr = x + r0 * rs;
        int64_t c0 = 0;
        if (head && m > 64) {
            c0 = head < m ? head : m;
            colsum_strip_f32_(xr, rs, n, c0, acc);
        }
        for (; c0 + 64 <= m; c0 += 64) colsum_strip64_f32_(xr + c0, rs, n, acc + c0);
        if (c0 < m) colsum_strip_f32_(xr + c0, rs, n, m - c0, acc + c0);
    }
}
#undef COLSUM_CHUNK_BYTES
#endif

/* ---- instantiate: float and double, portable and AVX2+FMA (whose max/min loops use 256-bit
 * intrinsics, see reduce.inc); int64, portable (exact sums) ---- */
#define TL_TEMPLATE "reduce.inc"
#define TL_I64_TYPE int64_t
#include "instantiate_float.h"

/* The element strides of an operand laid out over `shape` (NULL: contiguous) into st, and the
 * number of outputs (kept dims) and of reduced elements per output. */
static void red_layout(int ndim, const int64_t *shape, int nkeep, const int64_t *strides,
                       int64_t *st, int64_t *nout, int64_t *nr) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        st[d] = strides ? strides[d] : s;
        s *= shape[d];
    }
    *nout = *nr = 1;
    for (int d = 0; d < nkeep; d++) *nout *= shape[d];
    for (int d = nkeep; d < ndim; d++) *nr *= shape[d];
}

/* tl_reduce_to and tl_reduce_sqdev (center non-NULL: SUM of a half x into float32 only) */
static int reduce_any(int op, int dtype, int out_dtype, void *out, const void *x,
                      const int64_t *x_strides, int ndim, const int64_t *shape, int nred,
                      const float *center) {
    if (ndim < 0 || ndim > TL_MAX_DIMS || nred < 0 || nred > ndim) return TL_EINVAL;
    if (op < TL_SUM || op > TL_ARGMIN) return TL_EINVAL;
    /* out is x's dtype, or float32 for a half x (arg* write int64 whatever out_dtype says) */
    if (op == TL_ARGMAX || op == TL_ARGMIN) out_dtype = dtype;
    if (out_dtype != dtype && !(tl_is_half(dtype) && out_dtype == TL_F32)) return TL_EDTYPE;
    const int nkeep = ndim - nred;
    int64_t st[TL_MAX_DIMS], nout, nr;
    red_layout(ndim, shape, nkeep, x_strides, st, &nout, &nr);
    if (nout == 0) return TL_OK;
    if (nr == 0 && op != TL_SUM) return TL_EINVAL;    /* max/argmax of nothing is undefined */
    switch (dtype) {
        case TL_F32: return PICK(reduce_f32, (op, 0, 0, NULL, out, x, st, ndim, shape, nkeep, nout, nr));
        case TL_F16: case TL_BF16:   /* the float32 loops, on halves widened a block at a time */
            return PICK(reduce_f32, (op, dtype, out_dtype == TL_F32 ? 0 : dtype, center, out, x, st,
                                     ndim, shape, nkeep, nout, nr));
        case TL_F64: return PICK(reduce_f64, (op, 0, 0, NULL, out, x, st, ndim, shape, nkeep, nout, nr));
        case TL_I64: return reduce_i64_generic(op, 0, 0, NULL, out, x, st, ndim, shape, nkeep, nout, nr);
        default: return TL_EDTYPE;
    }
}

int tl_reduce_to(int op, int dtype, int out_dtype, void *out, const void *x,
                 const int64_t *x_strides, int ndim, const int64_t *shape, int nred) {
    return reduce_any(op, dtype, out_dtype, out, x, x_strides, ndim, shape, nred, NULL);
}

int tl_reduce_sqdev(int dtype, void *out, const void *x, const int64_t *x_strides, int ndim,
                    const int64_t *shape, int nred, const void *center) {
    if (!tl_is_half(dtype)) return TL_EDTYPE;
    return reduce_any(TL_SUM, dtype, TL_F32, out, x, x_strides, ndim, shape, nred,
                      (const float *)center);
}

int tl_reduce(int op, int dtype, void *out, const void *x, const int64_t *x_strides,
              int ndim, const int64_t *shape, int nred) {
    return tl_reduce_to(op, dtype, dtype, out, x, x_strides, ndim, shape, nred);
}

int tl_reduce_flat(int op, int dtype, void *out, const void *x, int64_t n) {
    return tl_reduce(op, dtype, out, x, NULL, 1, &n, 1);
}

int tl_reduce_extremum_backward(int dtype, void *gx, const int64_t *gx_strides, const void *g,
                                const void *x, const int64_t *x_strides, const void *y, int ndim,
                                const int64_t *shape, int nred) {
    if (ndim < 0 || ndim > TL_MAX_DIMS || nred < 0 || nred > ndim) return TL_EINVAL;
    const int nkeep = ndim - nred;
    int64_t gst[TL_MAX_DIMS], xst[TL_MAX_DIMS], nout, nr;
    red_layout(ndim, shape, nkeep, gx_strides, gst, &nout, &nr);
    red_layout(ndim, shape, nkeep, x_strides, xst, &nout, &nr);
    if (nout == 0) return TL_OK;
    if (nr == 0) return TL_EINVAL;                    /* no max of nothing to differentiate */
    switch (dtype) {
        case TL_F32: return PICK(extremum_bwd_f32, ((float *)gx, gst, g, x, xst, y, ndim, shape,
                                                    nkeep, nout, nr));
        case TL_F64: return PICK(extremum_bwd_f64, ((double *)gx, gst, g, x, xst, y, ndim, shape,
                                                    nkeep, nout, nr));
        default: return TL_EDTYPE;
    }
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
            const int64_t j = it.off[0] + i * it.istride[0];
            if (dtype == TL_F16 || dtype == TL_BF16) {   /* exponent bits all ones */
                const uint16_t e = dtype == TL_F16 ? 0x7c00 : 0x7f80;
                c += (((const uint16_t *)x)[j] & e) == e;
                continue;
            }
            double v = dtype == TL_F32 ? ((const float *)x)[j]
                     : dtype == TL_F64 ? ((const double *)x)[j] : 0.0;
            c += !isfinite(v);
        }
    } while (tl_iter_next(&it));
    *count = c;
    return (unsigned)dtype <= TL_BF16 ? TL_OK : TL_EDTYPE;
}

/* ---- cumsum and prod along one dim ----
 * Python makes x contiguous and views it as (outer, n, inner) with n the dim's size. */

#define CUMSUM_LOOP(T)                                                                    \
    do {                                                                                  \
        T *o_ = (T *)out;                                                                 \
        const T *x_ = (const T *)x;                                                       \
        for (int64_t o = 0; o < outer; o++) {                                             \
            T *ob = o_ + o * n * inner;                                                   \
            const T *xb = x_ + o * n * inner;                                             \
            for (int64_t j = 0; j < n; j++) {                                             \
                int64_t i = reverse ? n - 1 - j : j, p = reverse ? i + 1 : i - 1;         \
                for (int64_t k = 0; k < inner; k++)                                       \
                    ob[i * inner + k] = j ? ob[p * inner + k] + xb[i * inner + k]         \
                                          : xb[i * inner + k];                            \
            }                                                                             \
        }                                                                                 \
    } while (0)

/* out, x: (outer, n, inner) contiguous.
 * out[o, i, k] = sum over j <= i of x[o, j, k] (reverse 1: over j >= i). The VJP of a cumsum is
 * the reverse cumsum of g. float32/float64/int64 (int64 wraps, as PyTorch's). */
int tl_cumsum(int dtype, void *out, const void *x, int64_t outer, int64_t n, int64_t inner,
              int reverse) {
    if (outer < 0 || n < 0 || inner < 0) return TL_EINVAL;
    switch (dtype) {
        case TL_F32: CUMSUM_LOOP(float); break;
        case TL_F64: CUMSUM_LOOP(double); break;
        case TL_I64: CUMSUM_LOOP(uint64_t); break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}
#undef CUMSUM_LOOP

#define PROD_LOOP(T)                                                                      \
    do {                                                                                  \
        T *y_ = (T *)y;                                                                   \
        const T *x_ = (const T *)x;                                                       \
        for (int64_t o = 0; o < outer; o++) {                                             \
            T *yb = y_ + o * inner;                                                       \
            const T *xb = x_ + o * n * inner;                                             \
            for (int64_t k = 0; k < inner; k++) yb[k] = 1;                                \
            for (int64_t j = 0; j < n; j++)                                               \
                for (int64_t k = 0; k < inner; k++) yb[k] *= xb[j * inner + k];           \
        }                                                                                 \
    } while (0)

/* y: (outer, inner); x: (outer, n, inner), both contiguous. y[o, k] = prod over j of x[o, j, k]
 * (1 for n = 0). float32/float64/int64 (int64 wraps). */
int tl_prod_forward(int dtype, void *y, const void *x, int64_t outer, int64_t n, int64_t inner) {
    if (outer < 0 || n < 0 || inner < 0) return TL_EINVAL;
    switch (dtype) {
        case TL_F32: PROD_LOOP(float); break;
        case TL_F64: PROD_LOOP(double); break;
        case TL_I64: PROD_LOOP(uint64_t); break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}
#undef PROD_LOOP

#define PROD_BACKWARD_LOOP(T)                                                             \
    do {                                                                                  \
        T *gx_ = (T *)gx;                                                                 \
        const T *g_ = (const T *)g, *x_ = (const T *)x, *y_ = (const T *)y;              \
        int64_t total = outer * n * inner, zeros = 0;                                     \
        for (int64_t i = 0; i < total; i++) zeros += x_[i] == 0;                          \
        for (int64_t o = 0; o < outer; o++)                                               \
            for (int64_t k = 0; k < inner; k++) {                                         \
                const T *xs = x_ + o * n * inner + k;                                     \
                T *gs = gx_ + o * n * inner + k;                                          \
                const T gv = g_[o * inner + k], yv = y_[o * inner + k];                   \
                if (!zeros) {                                                             \
                    for (int64_t i = 0; i < n; i++) gs[i * inner] = gv * (yv / xs[i * inner]); \
                    continue;                                                             \
                }                                                                         \
                T acc = 1;                 /* exclusive products: before i, then after i */ \
                for (int64_t i = 0; i < n; i++) {                                         \
                    gs[i * inner] = acc;                                                  \
                    acc *= xs[i * inner];                                                 \
                }                                                                         \
                acc = 1;                                                                  \
                for (int64_t i = n - 1; i >= 0; i--) {                                    \
                    gs[i * inner] = gv * (gs[i * inner] * acc);                           \
                    acc *= xs[i * inner];                                                 \
                }                                                                         \
            }                                                                             \
    } while (0)

/* gx, x: (outer, n, inner); g, y: (outer, inner); all contiguous; gx overwritten.
 * Forward: y[o, k] = prod over j of x[o, j, k]. PyTorch's derivative:
 *   no element of x is 0:  gx = g * (y / x);
 *   else: gx[o, i, k] = g * prod over j != i of x[o, j, k] (exclusive products before and after
 *     i: one zero in a slice gets the product of the others, the rest 0; two zeros: all 0).
 * (For a product of all elements with two or more zeros PyTorch's plain backward returns zeros
 * outright, so an Inf or NaN beside them gives 0 there and NaN here, as in its create_graph
 * backward, which computes the products as here.)
 * float32/float64. */
int tl_prod_backward(int dtype, void *gx, const void *g, const void *x, const void *y,
                     int64_t outer, int64_t n, int64_t inner) {
    if (outer < 0 || n < 0 || inner < 0) return TL_EINVAL;
    switch (dtype) {
        case TL_F32: PROD_BACKWARD_LOOP(float); break;
        case TL_F64: PROD_BACKWARD_LOOP(double); break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}
#undef PROD_BACKWARD_LOOP
