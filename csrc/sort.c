/* sort.c - sorting, order statistics and scans along one dim.
 *
 * Python makes x contiguous and views it as (outer, n, inner), n the dim's size; a "slice" is
 * one (o, k) pair: the n elements x[o, 0..n, k], stride inner.
 *
 * Every element becomes an unsigned 64-bit key whose order is PyTorch's order of the values
 * (key below): floats by value with -0 == 0 and NaN above +inf (PyTorch's "NaN is the largest
 * value"), int64 by value, bool false < true; descending is the complemented key. Elements are
 * then ordered by (key, index), a total order, so every result is deterministic and sorts are
 * stable whatever the algorithm: ties keep their input order, ascending or descending.
 * Values are copied from x bit for bit through the indices, so every dtype (float16/bfloat16
 * included) sorts exactly.
 *
 *   tl_sort_forward      sort, argsort, topk (the first k of the order)
 *   tl_kthvalue_forward  kthvalue, median, nanmedian (one element of the order per slice)
 *   tl_sort_backward     their VJP, and cummax/cummin's: g scatter-added back through indices
 *   tl_cummax_forward    cummax / cummin (values and indices)
 *   tl_cumprod_forward / _backward, tl_logcumsumexp_forward / _backward
 *   tl_searchsorted      searchsorted / bucketize
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "half.h"

typedef struct { uint64_t key; int64_t idx; } pair;

static inline uint64_t key_of_double(double d) {
    if (d != d) return UINT64_MAX;                  /* NaN: above everything */
    if (d == 0) d = 0.0;                            /* -0 == 0 */
    uint64_t u;
    memcpy(&u, &d, 8);
    return (u >> 63) ? ~u : u | 0x8000000000000000ull;
}

/* The key of element i of x (dtype checked by the caller: elem_size != 0). */
static inline uint64_t key_at(int dtype, const void *x, int64_t i) {
    switch (dtype) {
        case TL_F32: return key_of_double(((const float *)x)[i]);
        case TL_F64: return key_of_double(((const double *)x)[i]);
        case TL_I64: return (uint64_t)((const int64_t *)x)[i] ^ 0x8000000000000000ull;
        case TL_BOOL: return ((const uint8_t *)x)[i] != 0;
        default: return key_of_double(tl_half_load(dtype, ((const uint16_t *)x)[i]));
    }
}

static int elem_size(int dtype) {
    switch (dtype) {
        case TL_F32: return 4;
        case TL_F64: case TL_I64: return 8;
        case TL_BOOL: return 1;
        case TL_F16: case TL_BF16: return 2;
        default: return 0;
    }
}

static inline void copy_elem(void *dst, int64_t i, const void *src, int64_t j, int size) {
    switch (size) {
        case 8: ((uint64_t *)dst)[i] = ((const uint64_t *)src)[j]; break;
        case 4: ((uint32_t *)dst)[i] = ((const uint32_t *)src)[j]; break;
        case 2: ((uint16_t *)dst)[i] = ((const uint16_t *)src)[j]; break;
        default: ((uint8_t *)dst)[i] = ((const uint8_t *)src)[j]; break;
    }
}

static inline int before(pair a, pair b) {
    return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

static void insertion_sort(pair *p, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        pair v = p[i];
        int64_t j = i;
        for (; j > 0 && before(v, p[j - 1]); j--) p[j] = p[j - 1];
        p[j] = v;
    }
}

/* Sort p[0..n) by (key, idx): insertion-sorted runs of 16, then bottom-up merges through tmp
 * (n pairs). */
static void merge_sort(pair *p, pair *tmp, int64_t n) {
    const int64_t run = 16;
    for (int64_t i = 0; i < n; i += run) insertion_sort(p + i, n - i < run ? n - i : run);
    pair *a = p, *b = tmp;
    for (int64_t w = run; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) b[o++] = before(a[j], a[i]) ? a[j++] : a[i++];
            while (i < mid) b[o++] = a[i++];
            while (j < hi) b[o++] = a[j++];
        }
        pair *t = a; a = b; b = t;
    }
    if (a != p && n) memcpy(p, a, (size_t)n * sizeof(pair));
}

/* Rearrange p[0..n) so that p[m] is the element at position m of the order, everything before
 * it precedes it and everything after follows (quickselect with a median-of-3 pivot; after
 * 2 log2(n) + 8 rounds without finishing, the rest is merge-sorted, so the worst case stays
 * O(n log n)). tmp: n pairs. */
static void select_nth(pair *p, pair *tmp, int64_t n, int64_t m) {
    int64_t lo = 0, hi = n - 1, budget = 8;
    for (int64_t s = n; s > 1; s >>= 1) budget += 2;
    while (hi - lo > 16) {
        if (budget-- == 0) { merge_sort(p + lo, tmp, hi - lo + 1); return; }
        int64_t mid = lo + (hi - lo) / 2;
        pair t;
        if (before(p[mid], p[lo])) { t = p[mid]; p[mid] = p[lo]; p[lo] = t; }
        if (before(p[hi], p[lo])) { t = p[hi]; p[hi] = p[lo]; p[lo] = t; }
        if (before(p[hi], p[mid])) { t = p[hi]; p[hi] = p[mid]; p[mid] = t; }
        pair pivot = p[mid];
        int64_t i = lo, j = hi;                     /* Hoare partition around the pivot */
        while (i <= j) {
            while (before(p[i], pivot)) i++;
            while (before(pivot, p[j])) j--;
            if (i <= j) { t = p[i]; p[i] = p[j]; p[j] = t; i++; j--; }
        }
        if (m <= j) hi = j;
        else if (m >= i) lo = i;
        else return;                                /* p[m] is the pivot itself */
    }
    insertion_sort(p + lo, hi - lo + 1);
}

/* ---- sort / topk and kthvalue / median: one slice per item, spread over threads ---- */

typedef struct {
    int dtype, size, descending, mode;
    void *values;
    int64_t *indices;
    const void *x;
    int64_t n, inner, k;
} order_args;

/* The pairs of slice s (= o * inner + k) into p; returns the number of NaN keys. */
static int64_t load_slice(const order_args *a, pair *p, int64_t s) {
    int64_t o = s / a->inner, kk = s % a->inner, base = o * a->n * a->inner + kk, nans = 0;
    uint64_t flip = a->descending ? UINT64_MAX : 0;
    for (int64_t j = 0; j < a->n; j++) {
        uint64_t key = key_at(a->dtype, a->x, base + j * a->inner);
        nans += key == UINT64_MAX && a->dtype != TL_I64;
        p[j].key = key ^ flip;
        p[j].idx = j;
    }
    return nans;
}

static int sort_span(void *ctx, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const order_args *a = (const order_args *)ctx;
    pair *p = (pair *)malloc((size_t)(2 * a->n + 1) * sizeof(pair));
    if (!p) return TL_ENOMEM;
    for (int64_t s = lo; s < hi; s++) {
        load_slice(a, p, s);
        if (a->k < a->n) {
            if (a->k > 0) select_nth(p, p + a->n, a->n, a->k - 1);
            merge_sort(p, p + a->n, a->k);
        } else {
            merge_sort(p, p + a->n, a->n);
        }
        int64_t o = s / a->inner, kk = s % a->inner;
        int64_t xbase = o * a->n * a->inner + kk, obase = o * a->k * a->inner + kk;
        for (int64_t j = 0; j < a->k; j++) {
            int64_t at = obase + j * a->inner;
            if (a->values) copy_elem(a->values, at, a->x, xbase + p[j].idx * a->inner, a->size);
            if (a->indices) a->indices[at] = p[j].idx;
        }
    }
    free(p);
    return TL_OK;
}

/* values (may be NULL: argsort), indices (may be NULL): (outer, k, inner); x: (outer, n, inner);
 * all contiguous, 0 <= k <= n. Each slice's first k elements in the order (ascending, or
 * descending: NaN first, then largest), ties in input order: sort (k = n) and topk.
 * float32/float64/float16/bfloat16/int64/bool. */
int tl_sort_forward(int dtype, void *values, int64_t *indices, const void *x, int64_t outer,
                    int64_t n, int64_t inner, int64_t k, int descending) {
    int size = elem_size(dtype);
    if (!size) return TL_EDTYPE;
    if (outer < 0 || n < 0 || inner < 0 || k < 0 || k > n) return TL_EINVAL;
    order_args a = {dtype, size, descending, 0, values, indices, x, n, inner, k};
    return tl_parallel_span(outer * inner, n ? n : 1, sort_span, &a);
}

static int kth_span(void *ctx, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const order_args *a = (const order_args *)ctx;
    pair *p = (pair *)malloc((size_t)(2 * a->n + 1) * sizeof(pair));
    if (!p) return TL_ENOMEM;
    for (int64_t s = lo; s < hi; s++) {
        int64_t nans = load_slice(a, p, s), m = a->n - nans, pos;
        if (a->mode == 0) pos = a->k - 1;                           /* kthvalue */
        else if (a->mode == 1) pos = nans ? m : (a->n - 1) / 2;     /* median: the first NaN */
        else pos = m ? (m - 1) / 2 : 0;                             /* nanmedian */
        select_nth(p, p + a->n, a->n, pos);
        int64_t o = s / a->inner, kk = s % a->inner;
        copy_elem(a->values, s, a->x, o * a->n * a->inner + kk + p[pos].idx * a->inner, a->size);
        a->indices[s] = p[pos].idx;
    }
    free(p);
    return TL_OK;
}

/* values, indices: (outer, inner); x: (outer, n, inner), contiguous, n >= 1. One element of
 * each slice's ascending order (ties by index): mode 0, the k-th (1 <= k <= n: kthvalue);
 * mode 1, the lower median ((n - 1) / 2), or the first NaN when the slice has one (median);
 * mode 2, the lower median of the non-NaN elements, the first NaN when all are NaN (nanmedian).
 * float32/float64/float16/bfloat16/int64/bool. */
int tl_kthvalue_forward(int dtype, void *values, int64_t *indices, const void *x, int64_t outer,
                        int64_t n, int64_t inner, int64_t k, int mode) {
    int size = elem_size(dtype);
    if (!size) return TL_EDTYPE;
    if (outer < 0 || n < 1 || inner < 0 || mode < 0 || mode > 2 || (mode == 0 && (k < 1 || k > n)))
        return TL_EINVAL;
    order_args a = {dtype, size, 0, mode, values, indices, x, n, inner, k};
    return tl_parallel_span(outer * inner, n, kth_span, &a);
}

/* gx: (outer, n, inner), overwritten; g, indices: (outer, m, inner); all contiguous.
 * Forward: values[o, j, k] = x[o, indices[o, j, k], k] (sort, topk, kthvalue, median, cummax).
 * gx = 0, then gx[o, indices[o, j, k], k] += g[o, j, k] (repeated indices accumulate: cummax).
 * An index outside [0, n): TL_EINDEX. float32/float64 (Python sorts halves in float32 when
 * they need a gradient). */
int tl_sort_backward(int dtype, void *gx, const void *g, const int64_t *indices, int64_t outer,
                     int64_t n, int64_t m, int64_t inner) {
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    if (outer < 0 || n < 0 || m < 0 || inner < 0) return TL_EINVAL;
    if (outer * n * inner)   /* (an empty gx is NULL: memset(NULL, 0, 0) is undefined) */
        memset(gx, 0, (size_t)(outer * n * inner) * (dtype == TL_F32 ? 4 : 8));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < m; j++)
            for (int64_t kk = 0; kk < inner; kk++) {
                int64_t src = (o * m + j) * inner + kk, i = indices[src];
                if (i < 0 || i >= n) return TL_EINDEX;
                int64_t dst = (o * n + i) * inner + kk;
                if (dtype == TL_F32) ((float *)gx)[dst] += ((const float *)g)[src];
                else ((double *)gx)[dst] += ((const double *)g)[src];
            }
    return TL_OK;
}

/* values, indices, x: (outer, n, inner) contiguous. values[o, i, k] = max (is_min: min) of
 * x[o, 0..i, k], indices its position: PyTorch's rule, in which a NaN always takes over and a
 * tie moves the index to the later element. float32/float64/float16/bfloat16/int64/bool. */
int tl_cummax_forward(int dtype, void *values, int64_t *indices, const void *x, int64_t outer,
                      int64_t n, int64_t inner, int is_min) {
    int size = elem_size(dtype);
    if (!size) return TL_EDTYPE;
    if (outer < 0 || n < 0 || inner < 0) return TL_EINVAL;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t kk = 0; kk < inner; kk++) {
            int64_t base = o * n * inner + kk, best = 0;
            uint64_t kb = 0;
            for (int64_t j = 0; j < n; j++) {
                int64_t at = base + j * inner;
                uint64_t kx = key_at(dtype, x, at);
                int isnan_x = kx == UINT64_MAX && dtype != TL_I64;
                int isnan_b = kb == UINT64_MAX && dtype != TL_I64;
                if (j == 0 || isnan_x || (!isnan_b && (is_min ? kx <= kb : kx >= kb))) {
                    kb = kx;
                    best = j;
                }
                copy_elem(values, at, x, base + best * inner, size);
                indices[at] = best;
            }
        }
    return TL_OK;
}

/* ---- cumprod and logcumsumexp (float32/float64 from one macro) ---- */

/* Run BODY for every slice (o, kk) of the (outer, n, inner) layout; b = its first element. */
#define FOR_SLICES(...)                                                                   \
    for (int64_t o = 0; o < outer; o++)                                                   \
        for (int64_t kk = 0; kk < inner; kk++) {                                          \
            int64_t b = o * n * inner + kk;                                               \
            __VA_ARGS__                                                                   \
        }

/* The body of a float32/float64 scan entry point: check the sizes, run LOOP(T). */
#define SCAN_DISPATCH(LOOP)                                                               \
    do {                                                                                  \
        if (outer < 0 || n < 0 || inner < 0) return TL_EINVAL;                            \
        switch (dtype) {                                                                  \
            case TL_F32: LOOP(float); break;                                              \
            case TL_F64: LOOP(double); break;                                             \
            default: return TL_EDTYPE;                                                    \
        }                                                                                 \
        return TL_OK;                                                                     \
    } while (0)

#define CUMPROD_FORWARD(T)                                                                \
    do {                                                                                  \
        T *y_ = (T *)y;                                                                   \
        const T *x_ = (const T *)x;                                                       \
        FOR_SLICES(                                                                       \
            T acc = 1;                                                                    \
            for (int64_t j = 0; j < n; j++) y_[b + j * inner] = acc *= x_[b + j * inner]; \
        )                                                                                 \
    } while (0)

/* y, x: (outer, n, inner) contiguous; y[o, i, k] = prod over j <= i of x[o, j, k]. */
int tl_cumprod_forward(int dtype, void *y, const void *x, int64_t outer, int64_t n,
                       int64_t inner) {
    if (dtype == TL_I64 && outer >= 0 && n >= 0 && inner >= 0) {   /* wraps, as PyTorch's */
        CUMPROD_FORWARD(uint64_t);
        return TL_OK;
    }
    SCAN_DISPATCH(CUMPROD_FORWARD);
}
#undef CUMPROD_FORWARD

/* gx_i = sum over j >= i of g_j * prod over l <= j, l != i of x_l
 *      = y_{i-1} * s_i,  s_i = g_i + x_{i+1} * s_{i+1}  (y_{-1} = 1, s_{n-1} = g_{n-1}):
 * the products of the other elements without a division, so exact with zeros in x (PyTorch's
 * cumprod_backward divides by x only where there is no zero) and O(n). A slice with an Inf or
 * NaN in x or g takes every term g_j * (x_0 ... x_j with x_i as 1) as it stands instead, O(n^2),
 * so that 0 * Inf makes NaN exactly where the create_graph formula's products do. */
#define CUMPROD_BACKWARD(T)                                                               \
    do {                                                                                  \
        T *gx_ = (T *)gx;                                                                 \
        const T *g_ = (const T *)g, *x_ = (const T *)x, *y_ = (const T *)y;               \
        FOR_SLICES(                                                                       \
            int finite = 1;                                                               \
            for (int64_t i = 0; i < n; i++)                                               \
                finite &= isfinite(x_[b + i * inner]) && isfinite(g_[b + i * inner]);     \
            if (finite) {                                                                 \
                T s = 0;                                                                  \
                for (int64_t i = n - 1; i >= 0; i--) {                                    \
                    s = i == n - 1 ? g_[b + i * inner]                                    \
                                   : g_[b + i * inner] + x_[b + (i + 1) * inner] * s;     \
                    gx_[b + i * inner] = i ? y_[b + (i - 1) * inner] * s : s;             \
                }                                                                         \
                continue;                                                                 \
            }                                                                             \
            for (int64_t i = 0; i < n; i++) {                                             \
                T p = 1, acc = 0;                                                         \
                for (int64_t j = 0; j < n; j++) {                                         \
                    p *= j == i ? (T)1 : x_[b + j * inner];                               \
                    if (j >= i) acc += g_[b + j * inner] * p;                             \
                }                                                                         \
                gx_[b + i * inner] = acc;                                                 \
            }                                                                             \
        )                                                                                 \
    } while (0)

/* gx (overwritten), g, x, y: (outer, n, inner) contiguous. Forward: y = cumprod of x along n.
 * gx_i = sum over j >= i of g_j * prod over l <= j, l != i of x_l (CUMPROD_BACKWARD: exact
 * with zeros in x). float32/float64. */
int tl_cumprod_backward(int dtype, void *gx, const void *g, const void *x, const void *y,
                        int64_t outer, int64_t n, int64_t inner) {
    SCAN_DISPATCH(CUMPROD_BACKWARD);
}
#undef CUMPROD_BACKWARD

/* log(exp(a) + exp(b)) without overflow; both -inf (or both +inf) give a, NaN propagates
 * (PyTorch's _log_add_exp_helper). */
#define LOG_ADD_EXP(T, EXP, LOG1P)                                                        \
    static inline T log_add_exp_##T(T a, T b) {                                           \
        T mn = a < b ? a : b, mx = a < b ? b : a;                                         \
        if (a != a || b != b) return a + b;                                               \
        if (mn != mx || isfinite(mn)) return mx + LOG1P(EXP(mn - mx));                    \
        return a;                                                                         \
    }
LOG_ADD_EXP(float, expf, log1pf)
LOG_ADD_EXP(double, exp, log1p)
#undef LOG_ADD_EXP
static inline float exp_float(float v) { return expf(v); }
static inline double exp_double(double v) { return exp(v); }
static inline float log_float(float v) { return logf(v); }
static inline double log_double(double v) { return log(v); }

#define LCSE_FORWARD(T)                                                                   \
    do {                                                                                  \
        T *y_ = (T *)y;                                                                   \
        const T *x_ = (const T *)x;                                                       \
        FOR_SLICES(                                                                       \
            T acc = -INFINITY;                                                            \
            for (int64_t j = 0; j < n; j++)                                               \
                y_[b + j * inner] = acc = log_add_exp_##T(acc, x_[b + j * inner]);        \
        )                                                                                 \
    } while (0)

/* y, x: (outer, n, inner) contiguous; y_i = log(sum over j <= i of exp(x_j)), one stable
 * log-add-exp per step. float32/float64. */
int tl_logcumsumexp_forward(int dtype, void *y, const void *x, int64_t outer, int64_t n,
                            int64_t inner) {
    SCAN_DISPATCH(LCSE_FORWARD);
}
#undef LCSE_FORWARD

/* gx_i = sum over j >= i of g_j exp(x_i - y_j), as PyTorch: the positive and negative parts of
 * g summed in log space by a reverse scan, lp_i = log(sum over j >= i of g+_j exp(-y_j)) (ln the
 * same for g-), then gx_i = exp(lp_i + x_i) - exp(ln_i + x_i). */
#define LCSE_BACKWARD(T)                                                                  \
    do {                                                                                  \
        T *gx_ = (T *)gx;                                                                 \
        const T *g_ = (const T *)g, *x_ = (const T *)x, *y_ = (const T *)y;               \
        FOR_SLICES(                                                                       \
            T lp = -INFINITY, ln = -INFINITY;                                             \
            for (int64_t i = n - 1; i >= 0; i--) {                                        \
                int64_t at = b + i * inner;                                               \
                T gv = g_[at];                                                            \
                T lgp = gv > 0 ? log_##T(gv) : (gv != gv ? gv : -INFINITY);               \
                T lgn = gv < 0 ? log_##T(-gv) : (gv != gv ? gv : -INFINITY);              \
                lp = log_add_exp_##T(lp, lgp - y_[at]);                                   \
                ln = log_add_exp_##T(ln, lgn - y_[at]);                                   \
                gx_[at] = exp_##T(lp + x_[at]) - exp_##T(ln + x_[at]);                    \
            }                                                                             \
        )                                                                                 \
    } while (0)

/* gx (overwritten), g, x, y: (outer, n, inner) contiguous; y = logcumsumexp of x along n.
 * float32/float64. */
int tl_logcumsumexp_backward(int dtype, void *gx, const void *g, const void *x, const void *y,
                             int64_t outer, int64_t n, int64_t inner) {
    SCAN_DISPATCH(LCSE_BACKWARD);
}
#undef LCSE_BACKWARD

/* out: (outer, m) int64; seq: (outer, n) sorted ascending (seq_outer 0: one (n,) sequence
 * shared by every row); values: (outer, m); contiguous, one dtype. out[o, j] = the first i with
 * seq[o, i] >= values[o, j] (right: >), in the order of the sort keys (NaN largest).
 * float32/float64/float16/bfloat16/int64/bool. */
int tl_searchsorted(int dtype, int64_t *out, const void *seq, const void *values, int64_t outer,
                    int64_t n, int64_t m, int seq_outer, int right) {
    if (!elem_size(dtype)) return TL_EDTYPE;
    if (outer < 0 || n < 0 || m < 0) return TL_EINVAL;
    for (int64_t o = 0; o < outer; o++) {
        int64_t sb = seq_outer ? o * n : 0;
        for (int64_t j = 0; j < m; j++) {
            uint64_t kv = key_at(dtype, values, o * m + j);
            int64_t lo = 0, hi = n;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                uint64_t ks = key_at(dtype, seq, sb + mid);
                if (right ? ks <= kv : ks < kv) lo = mid + 1;
                else hi = mid;
            }
            out[o * m + j] = lo;
        }
    }
    return TL_OK;
}
