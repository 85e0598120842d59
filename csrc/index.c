/* index.c - integer-array ("advanced") indexing: index arrays -> element offsets, the gather
 * that reads x at those offsets, its VJP (a scatter-add), and nonzero for bool masks.
 *
 * tinygrad_lab/ops/index.py reduces every advanced key to one layout. The index space has
 * `ndim` dims: first the `nb` broadcast dims B of the index arrays, then the dims R of x that no
 * index array touches. offs (contiguous over B) holds, for each position b of B, the element
 * offset in x of the indexed position, so the element of x at (b, r) is
 *     x[offs[b] + sum_d r_d * x_rest_strides[d]].
 * The output's strides are given in the same (B, R) order, which is how Python puts the index
 * dims either in place of the indexed dims or first (NumPy's rule) in a contiguous result.
 * index.inc holds the gather (float, double, int64, bool) and the scatter-add (float, double),
 * instantiated through instantiate_float.h, portable build only.
 */
#include <math.h>
#include <string.h>
#include "internal.h"

/* offs: B (contiguous); idx: B (int64, strided; stride 0 = broadcast).
 * offs[b] = (accumulate ? offs[b] : 0) + wrap(idx[b]) * stride, wrap(v) = v < 0 ? v + size : v.
 * An index outside [-size, size) stops with TL_EINDEX and *bad = that index value. */
int tl_index_offsets(int64_t *offs, const int64_t *idx, const int64_t *idx_strides,
                     int nb, const int64_t *bshape, int64_t size, int64_t stride,
                     int accumulate, int64_t *bad) {
    tl_iter it;
    const int64_t *st[2] = {NULL, idx_strides};
    int rc = tl_iter_init(&it, nb, bshape, 2, st);
    if (rc || it.size == 0) return rc;
    do {
        int64_t *o = offs + it.off[0];
        const int64_t *p = idx + it.off[1];
        const int64_t so = it.istride[0], sp = it.istride[1];
        for (int64_t i = 0; i < it.inner; i++) {
            int64_t v = p[i * sp];
            if (v < -size || v >= size) {
                *bad = v;
                return TL_EINDEX;
            }
            if (v < 0) v += size;
            o[i * so] = (accumulate ? o[i * so] : 0) + v * stride;
        }
    } while (tl_iter_next(&it));
    return TL_OK;
}

/* Iterator over the (B, R) index space with operands 0 = the dense side (out or g, strides
 * `dense_strides`), 1 = x or gx (stride 0 over B, `rest_strides` over R), 2 = offs (contiguous
 * over B, stride 0 over R). */
static int index_space(tl_iter *it, int ndim, int nb, const int64_t *shape,
                       const int64_t *dense_strides, const int64_t *rest_strides) {
    if (ndim < 0 || ndim > TL_MAX_DIMS || nb < 0 || nb > ndim) return TL_EINVAL;
    int64_t xs[TL_MAX_DIMS], fs[TL_MAX_DIMS], s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (d >= nb) {
            xs[d] = rest_strides ? rest_strides[d - nb] : s;
            s *= shape[d];
            fs[d] = 0;
        }
    }
    s = 1;
    for (int d = nb - 1; d >= 0; d--) {
        xs[d] = 0;
        fs[d] = s;
        s *= shape[d];
    }
    const int64_t *st[3] = {dense_strides, xs, fs};
    return tl_iter_init(it, ndim, shape, 3, st);
}

/* The arguments of one gather, for the range kernels below. */
typedef struct {
    const tl_iter *it;
    void *out;
    const void *x;
    const int64_t *offs;
} gather_args;

/* ---- instantiate: float and double, int64 and bool (the gather only); portable only ---- */
#define TL_TEMPLATE "index.inc"
#define TL_I64_TYPE int64_t
#define TL_U8_TYPE uint8_t
#define TL_PORTABLE_ONLY
#include "instantiate_float.h"

/* out: (B, R) seen through out_strides (NULL = contiguous over (B, R)); x: any strided tensor,
 * passed as its base pointer plus the strides of its R dims; offs: B contiguous.
 * out[b, r] = x[offs[b] + r . x_rest_strides]. float32/float64/int64/bool. */
int tl_gather_forward(int dtype, void *out, const int64_t *out_strides,
                      const void *x, const int64_t *x_rest_strides, const int64_t *offs,
                      int ndim, int nb, const int64_t *shape) {
    tl_iter it;
    int rc = index_space(&it, ndim, nb, shape, out_strides, x_rest_strides);
    if (rc || it.size == 0) return rc;
    gather_args a = {&it, out, x, offs};
    switch (dtype) {
        case TL_F32: return tl_parallel_span(it.size, 1, gather_f32_generic, &a);
        case TL_F64: return tl_parallel_span(it.size, 1, gather_f64_generic, &a);
        case TL_I64: return tl_parallel_span(it.size, 1, gather_i64_generic, &a);
        case TL_BOOL: return tl_parallel_span(it.size, 1, gather_u8_generic, &a);
        default: return TL_EDTYPE;
    }
}

/* gx: gx_numel elements (the whole buffer, zero-filled here: overwritten, not accumulated),
 * addressed through offs and gx_rest_strides like x in the forward; g: (B, R) through
 * g_strides (NULL = contiguous); offs: B contiguous (offsets for gx's layout).
 * Forward: out[b, r] = x[offs[b] + r . x_rest_strides]
 * VJP:     gx[offs[b] + r . gx_rest_strides] += g[b, r]   (repeated indices accumulate). */
int tl_gather_backward(int dtype, void *gx, int64_t gx_numel, const int64_t *gx_rest_strides,
                       const void *g, const int64_t *g_strides, const int64_t *offs,
                       int ndim, int nb, const int64_t *shape) {
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    if (gx_numel < 0) return TL_EINVAL;
    if (gx_numel) memset(gx, 0, (size_t)gx_numel * (dtype == TL_F32 ? sizeof(float) : sizeof(double)));
    tl_iter it;
    int rc = index_space(&it, ndim, nb, shape, g_strides, gx_rest_strides);
    if (rc || it.size == 0) return rc;
    if (dtype == TL_F32) scatter_add_f32_generic((float *)gx, (const float *)g, offs, &it);
    else scatter_add_f64_generic((double *)gx, (const double *)g, offs, &it);
    return TL_OK;
}

/* mask: bool, `shape` through `strides` (NULL = contiguous); out: (capacity, ndim) int64.
 * Writes the multi-index of each true element in C order (at most `capacity` rows) and sets
 * *count to the number of true elements. Call with capacity 0 (out may be NULL) to size out. */
int tl_nonzero(int64_t *out, int64_t capacity, int64_t *count, const void *mask,
               const int64_t *strides, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > TL_MAX_DIMS) return TL_EINVAL;
    int64_t st[TL_MAX_DIMS], pos[TL_MAX_DIMS], total = 1, s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        st[d] = strides ? strides[d] : s;
        s *= shape[d];
        total *= shape[d];
        pos[d] = 0;
    }
    const uint8_t *m = (const uint8_t *)mask;
    int64_t c = 0, off = 0;
    for (int64_t i = 0; i < total; i++) {
        if (m[off]) {
            if (c < capacity)
                for (int d = 0; d < ndim; d++) out[c * ndim + d] = pos[d];
            c++;
        }
        for (int d = ndim - 1; d >= 0; d--) {      /* odometer step to the next element */
            if (++pos[d] < shape[d]) { off += st[d]; break; }
            off -= (shape[d] - 1) * st[d];
            pos[d] = 0;
        }
    }
    *count = c;
    return TL_OK;
}

/* ---- torch.gather / scatter along one dim ----
 * Python turns index (int64, `shape`) into one element offset per position (tl_dim_offsets),
 * then gathers with tl_gather_forward (nb = ndim: no R dims), takes the VJP with
 * tl_gather_backward, and scatters with tl_scatter_dim. */

/* offs: `shape` contiguous; idx: `shape` through idx_strides (NULL = contiguous); x_strides: the
 * strides of the tensor the offsets address (ndim of them).
 * offs[p] = idx[p] * x_strides[dim] + sum over d != dim of p_d * x_strides[d]: the offset of
 * x[p_0, ..., idx[p], ..., p_{ndim-1}] (torch.gather's element). Python has checked
 * shape[d] <= x's size for d != dim. An idx outside [0, size) stops with TL_EINDEX and
 * *bad = its value: no wrapping, as PyTorch's gather/scatter. */
int tl_dim_offsets(int64_t *offs, const int64_t *idx, const int64_t *idx_strides, int ndim,
                   const int64_t *shape, int dim, int64_t size, const int64_t *x_strides,
                   int64_t *bad) {
    if (ndim < 1 || ndim > TL_MAX_DIMS || dim < 0 || dim >= ndim) return TL_EINVAL;
    int64_t st[TL_MAX_DIMS], xs[TL_MAX_DIMS], pos[TL_MAX_DIMS], total = 1, s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (shape[d] < 0) return TL_EINVAL;
        st[d] = idx_strides ? idx_strides[d] : s;
        xs[d] = d == dim ? 0 : x_strides[d];
        s *= shape[d];
        total *= shape[d];
        pos[d] = 0;
    }
    const int64_t sdim = x_strides[dim];
    int64_t ioff = 0, xoff = 0;
    for (int64_t i = 0; i < total; i++) {
        int64_t v = idx[ioff];
        if (v < 0 || v >= size) {
            *bad = v;
            return TL_EINDEX;
        }
        offs[i] = xoff + v * sdim;
        for (int d = ndim - 1; d >= 0; d--) {      /* odometer step to the next position */
            if (++pos[d] < shape[d]) { ioff += st[d]; xoff += xs[d]; break; }
            ioff -= (shape[d] - 1) * st[d];
            xoff -= (shape[d] - 1) * xs[d];
            pos[d] = 0;
        }
    }
    return TL_OK;
}

/* The src side of a scatter: st = src_strides (NULL: contiguous over `shape`), *total = the
 * number of index positions. */
static int src_walk(int ndim, const int64_t *shape, const int64_t *src_strides, int64_t *st,
                    int64_t *total) {
    if (ndim < 0 || ndim > TL_MAX_DIMS) return TL_EINVAL;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (shape[d] < 0) return TL_EINVAL;
        st[d] = src_strides ? src_strides[d] : s;
        s *= shape[d];
    }
    *total = s;
    return TL_OK;
}

/* For each index position i (C order over `shape`, `total` of them), soff being its element
 * offset in src (strides st): BODY, reading and writing o_[offs[i]] and s_[soff]. */
#define FOR_SCATTERED(T, BODY)                                                            \
    do {                                                                                  \
        T *o_ = (T *)out;                                                                 \
        const T *s_ = (const T *)src;                                                     \
        int64_t soff = 0;                                                                 \
        for (int d = 0; d < ndim; d++) pos[d] = 0;                                        \
        for (int64_t i = 0; i < total; i++) {                                             \
            BODY;                                                                         \
            for (int d = ndim - 1; d >= 0; d--) {                                         \
                if (++pos[d] < shape[d]) { soff += st[d]; break; }                        \
                soff -= (shape[d] - 1) * st[d];                                           \
                pos[d] = 0;                                                               \
            }                                                                             \
        }                                                                                 \
    } while (0)
#define SCATTER_LOOP(T, ACC) \
    FOR_SCATTERED(T, if (ACC) o_[offs[i]] += s_[soff]; else o_[offs[i]] = s_[soff])

/* out: the buffer offs addresses (tl_dim_offsets); src: `shape` through src_strides (NULL =
 * contiguous; all 0 = one value scattered everywhere); offs: `shape` contiguous.
 * out[offs[p]] = src[p] (accumulate 0: repeated offsets keep the last value in C order) or
 * out[offs[p]] += src[p] (accumulate 1). Serial: repeated offsets would race.
 * float32/float64/int64, and bool for assignment. */
int tl_scatter_dim(int dtype, void *out, const void *src, const int64_t *src_strides,
               const int64_t *offs, int ndim, const int64_t *shape, int accumulate) {
    int64_t st[TL_MAX_DIMS], pos[TL_MAX_DIMS], total;
    int rc = src_walk(ndim, shape, src_strides, st, &total);
    if (rc || total == 0) return rc;
    switch (dtype) {
        case TL_F32: if (accumulate) SCATTER_LOOP(float, 1); else SCATTER_LOOP(float, 0); break;
        case TL_F64: if (accumulate) SCATTER_LOOP(double, 1); else SCATTER_LOOP(double, 0); break;
        case TL_I64: if (accumulate) SCATTER_LOOP(uint64_t, 1); else SCATTER_LOOP(int64_t, 0); break;
        case TL_BOOL: if (accumulate) return TL_EDTYPE; SCATTER_LOOP(uint8_t, 0); break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}

/* ---- scatter_reduce along one dim (Tensor.scatter_reduce) ----
 * out: the buffer offs addresses (tl_dim_offsets), a copy of self; src: `shape` through
 * src_strides (NULL = contiguous); offs: `shape` contiguous; counts: out_numel int64 scratch
 * (mean only, else may be NULL). reduce: 0 sum, 1 prod, 2 mean, 3 amax, 4 amin.
 *   include_self 0: every position some offs[p] hits starts from the reduction's identity
 *                   (0, 1, 0, -inf, +inf) instead of self's value;
 *   then out[offs[p]] = out[offs[p]] (op) src[p] for p in C order;
 *   mean: out[i] /= counts[i] + include_self where counts[i] (the number of p hitting i) > 0
 *         (floor division for int64, as PyTorch).
 * amax/amin propagate NaN. Serial: repeated offsets would race. float32/float64/int64. */
#define SR_STEP(T, EXPR) \
    FOR_SCATTERED(T, const T a = o_[offs[i]]; const T b = s_[soff]; o_[offs[i]] = (EXPR))

#define SR_ALL(T, IS_FLOAT, LOWEST, HIGHEST)                                              \
    do {                                                                                  \
        T *o_ = (T *)out;                                                                 \
        if (!include_self) {                                                              \
            T id = reduce == 1 ? (T)1 : reduce == 3 ? LOWEST : reduce == 4 ? HIGHEST : (T)0; \
            for (int64_t i = 0; i < total; i++) o_[offs[i]] = id;                         \
        }                                                                                 \
        switch (reduce) {                                                                 \
            case 0: case 2: SR_STEP(T, a + b); break;                                     \
            case 1: SR_STEP(T, a * b); break;                                             \
            case 3: SR_STEP(T, (IS_FLOAT && b != b) || b > a ? b : a); break;             \
            default: SR_STEP(T, (IS_FLOAT && b != b) || b < a ? b : a); break;            \
        }                                                                                 \
        if (reduce == 2) {                                                                \
            for (int64_t i = 0; i < total; i++) counts[offs[i]] = 0;                      \
            for (int64_t i = 0; i < total; i++) counts[offs[i]]++;                        \
            for (int64_t i = 0; i < total; i++) {                                         \
                int64_t c = counts[offs[i]];                                              \
                if (c <= 0) continue;               /* done already (repeated offset) */  \
                T n = (T)(c + (include_self ? 1 : 0));                                    \
                T v = o_[offs[i]];                                                        \
                if (IS_FLOAT) o_[offs[i]] = v / n;                                        \
                else {                              /* floor division */                  \
                    T q = v / n;                                                          \
                    o_[offs[i]] = (q * n != v && (v < 0) != (n < 0)) ? q - 1 : q;         \
                }                                                                         \
                counts[offs[i]] = 0;                                                      \
            }                                                                             \
        }                                                                                 \
    } while (0)

int tl_scatter_reduce(int dtype, void *out, int64_t *counts, const void *src,
                      const int64_t *src_strides, const int64_t *offs, int ndim,
                      const int64_t *shape, int reduce, int include_self) {
    if (reduce < 0 || reduce > 4 || (reduce == 2 && !counts)) return TL_EINVAL;
    int64_t st[TL_MAX_DIMS], pos[TL_MAX_DIMS], total;
    int rc = src_walk(ndim, shape, src_strides, st, &total);
    if (rc || total == 0) return rc;
    switch (dtype) {
        case TL_F32: SR_ALL(float, 1, -INFINITY, INFINITY); break;
        case TL_F64: SR_ALL(double, 1, -INFINITY, INFINITY); break;
        case TL_I64: SR_ALL(int64_t, 0, INT64_MIN, INT64_MAX); break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}
#undef SR_ALL
#undef SR_STEP
#undef SCATTER_LOOP
#undef FOR_SCATTERED
