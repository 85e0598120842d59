/* count.c - counting and ordering: bincount, histc, unique / unique_consecutive.
 *
 * Inputs are contiguous (Python copies a strided tensor first); outputs are written whole
 * (zero-filled here). Serial: these are small next to the rest of a step, and the histograms'
 * repeated bins would race. Python (tinygrad_lab/ops/count.py) validates and sizes the outputs.
 */
#include <math.h>
#include <string.h>
#include "internal.h"

/* out: nbins counts (int64 when weights is NULL, else weights' float dtype); x: n int64 bin
 * numbers; weights: n values (NULL: count 1 each).
 *   out[x[i]] += weights ? weights[i] : 1
 * A bin outside [0, nbins) stops with TL_EINDEX (Python has checked: defence only). */
#define BINCOUNT_WEIGHTED(T)                                                              \
    do {                                                                                  \
        T *o = (T *)out;                                                                  \
        const T *w = (const T *)weights;                                                  \
        if (nbins) memset(o, 0, (size_t)nbins * sizeof *o);  /* (out is NULL when empty) */ \
        for (int64_t i = 0; i < n; i++) o[x[i]] += w[i];                                  \
    } while (0)

int tl_bincount(int dtype, void *out, int64_t nbins, const int64_t *x, const void *weights,
                int64_t n) {
    if (nbins < 0 || n < 0) return TL_EINVAL;
    for (int64_t i = 0; i < n; i++)
        if (x[i] < 0 || x[i] >= nbins) return TL_EINDEX;
    switch (weights ? dtype : TL_I64) {
        case TL_I64: {
            int64_t *o = (int64_t *)out;
            if (nbins) memset(o, 0, (size_t)nbins * sizeof *o);
            for (int64_t i = 0; i < n; i++) o[x[i]]++;
            return TL_OK;
        }
        case TL_F32: BINCOUNT_WEIGHTED(float); return TL_OK;
        case TL_F64: BINCOUNT_WEIGHTED(double); return TL_OK;
        default: return TL_EDTYPE;
    }
}
#undef BINCOUNT_WEIGHTED

/* out: bins counts and x: n values, both of `dtype` (float32/float64); lo < hi, finite.
 * Element v in [lo, hi] goes to bin (int64)((v - lo) * bins / (hi - lo)) computed in the
 * dtype (PyTorch's linear bin selection), v == hi to the last bin; others (and NaN) are
 * skipped. */
#define HISTC(T)                                                                          \
    do {                                                                                  \
        T *o = (T *)out;                                                                  \
        const T *v = (const T *)x;                                                        \
        const T l = (T)lo, h = (T)hi;                                                     \
        if (bins) memset(o, 0, (size_t)bins * sizeof *o);                                 \
        for (int64_t i = 0; i < n; i++) {                                                 \
            T e = v[i];                                                                   \
            if (!(e >= l && e <= h)) continue;                                            \
            int64_t b = (int64_t)((e - l) * (T)bins / (h - l));                           \
            if (b >= bins) b = bins - 1;                                                  \
            if (b < 0) b = 0;                                                             \
            o[b] += 1;                                                                    \
        }                                                                                 \
    } while (0)

int tl_histc(int dtype, void *out, const void *x, int64_t n, int64_t bins, double lo, double hi) {
    if (bins <= 0 || n < 0 || !(lo < hi)) return TL_EINVAL;
    switch (dtype) {
        case TL_F32: HISTC(float); return TL_OK;
        case TL_F64: HISTC(double); return TL_OK;
        default: return TL_EDTYPE;
    }
}
#undef HISTC

/* ---- unique ----
 * perm: the order the elements (or slices) are visited in -- the stable sort of x (NaN last,
 * in input order) for unique, the identity for unique_consecutive. A run of visited elements
 * that compare equal (==, so every NaN stands alone and -0 == 0) is one unique value; with
 * dim, a run of slices equal element by element is one unique slice. */

/* Stable bottom-up merge sort of the n indices in perm (tmp: n more); AFTER(p, q) says index q
 * must go before index p. x and m (elements per slice) are for AFTER. */
#define MERGE_SORT(NAME, T, AFTER)                                                         \
    static void NAME(int64_t *perm, int64_t *tmp, const T *x, int64_t m, int64_t n) {       \
        (void)m;                                                                          \
        for (int64_t i = 0; i < n; i++) perm[i] = i;                                      \
        int64_t *a = perm, *b = tmp;                                                      \
        for (int64_t w = 1; w < n; w *= 2) {                                              \
            for (int64_t lo = 0; lo < n; lo += 2 * w) {                                   \
                int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n; \
                int64_t i = lo, j = mid, k = lo;                                          \
                while (i < mid && j < hi) b[k++] = AFTER(a[i], a[j]) ? a[j++] : a[i++];   \
                while (i < mid) b[k++] = a[i++];                                          \
                while (j < hi) b[k++] = a[j++];                                           \
            }                                                                             \
            int64_t *t = a; a = b; b = t;                                                 \
        }                                                                                 \
        if (a != perm && n) memcpy(perm, a, (size_t)n * sizeof *perm);                    \
    }

#define NO_NAN(v) 0
#define F_NAN(v) ((v) != (v))

/* Per dtype: sort_by_T orders single values (NaN after every number); row_cmp_T compares two
 * slices of m values lexicographically in that order (<0, 0, >0), row_eq_T says whether they
 * are equal element by element (==); sort_rows_T orders slice numbers by row_cmp_T. */
#define ORDER_FNS(T, ISNAN)                                                                \
    static inline int after_##T(const T *x, int64_t p, int64_t q) {                      \
        T l = x[p], r = x[q];                                                             \
        return (r < l) || (ISNAN(l) && !ISNAN(r));                                        \
    }                                                                                     \
    static int row_cmp_##T(const T *a, const T *b, int64_t m) {                           \
        for (int64_t j = 0; j < m; j++) {                                                 \
            if (a[j] < b[j]) return -1;                                                   \
            if (b[j] < a[j]) return 1;                                                    \
            int an = ISNAN(a[j]) != 0, bn = ISNAN(b[j]) != 0;                             \
            if (an != bn) return an ? 1 : -1;                                             \
        }                                                                                 \
        return 0;                                                                         \
    }                                                                                     \
    static int row_eq_##T(const T *a, const T *b, int64_t m) {                            \
        for (int64_t j = 0; j < m; j++)                                                   \
            if (!(a[j] == b[j])) return 0;                                                \
        return 1;                                                                         \
    }                                                                                     \
    MERGE_SORT(sort_by_##T, T, AFTER_VALUE_##T)                                           \
    MERGE_SORT(sort_rows_##T, T, AFTER_ROW_##T)

#define AFTER_VALUE_float(p, q) after_float(x, p, q)
#define AFTER_VALUE_double(p, q) after_double(x, p, q)
#define AFTER_VALUE_int64_t(p, q) after_int64_t(x, p, q)
#define AFTER_VALUE_uint8_t(p, q) after_uint8_t(x, p, q)
#define AFTER_ROW_float(p, q) (row_cmp_float(x + (p) * m, x + (q) * m, m) > 0)
#define AFTER_ROW_double(p, q) (row_cmp_double(x + (p) * m, x + (q) * m, m) > 0)
#define AFTER_ROW_int64_t(p, q) (row_cmp_int64_t(x + (p) * m, x + (q) * m, m) > 0)
#define AFTER_ROW_uint8_t(p, q) (row_cmp_uint8_t(x + (p) * m, x + (q) * m, m) > 0)
ORDER_FNS(float, F_NAN)
ORDER_FNS(double, F_NAN)
ORDER_FNS(int64_t, NO_NAN)
ORDER_FNS(uint8_t, NO_NAN)

#define UNIQUE(T)                                                                         \
    do {                                                                                  \
        const T *v = (const T *)x;                                                        \
        T *out = (T *)values;                                                             \
        if (sorted) sort_by_##T(perm, tmp, v, 1, n);                                      \
        else for (int64_t i = 0; i < n; i++) perm[i] = i;                                 \
        int64_t u = -1;                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                 \
            T e = v[perm[i]];                                                             \
            if (u < 0 || !(e == out[u])) {                                                \
                out[++u] = e;                                                             \
                if (counts) counts[u] = 0;                                                \
            }                                                                             \
            if (counts) counts[u]++;                                                      \
            if (inverse) inverse[perm[i]] = u;                                            \
        }                                                                                 \
        *n_unique = u + 1;                                                                \
    } while (0)

/* values: up to n unique values (x's dtype); inverse: n (NULL: not wanted), inverse[i] = the
 * position in values of x[i]; counts: up to n (NULL: not wanted); *n_unique: how many values;
 * x: n values; perm, tmp: n int64 scratch each (tmp used only when sorted).
 * sorted 1: torch.unique (values ascending, NaN last); 0: torch.unique_consecutive.
 * float32/float64/int64/bool. */
int tl_unique(int dtype, void *values, int64_t *inverse, int64_t *counts, int64_t *n_unique,
              const void *x, int64_t n, int64_t *perm, int64_t *tmp, int sorted) {
    if (n < 0) return TL_EINVAL;
    switch (dtype) {
        case TL_F32: UNIQUE(float); break;
        case TL_F64: UNIQUE(double); break;
        case TL_I64: UNIQUE(int64_t); break;
        case TL_BOOL: UNIQUE(uint8_t); break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}
#undef UNIQUE

#define UNIQUE_DIM(T)                                                                     \
    do {                                                                                  \
        const T *v = (const T *)x;                                                        \
        if (sorted) sort_rows_##T(perm, tmp, v, m, n);                                    \
        else for (int64_t i = 0; i < n; i++) perm[i] = i;                                 \
        int64_t u = -1;                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                 \
            int64_t r = perm[i];                                                          \
            if (u < 0 || !row_eq_##T(v + r * m, v + rows[u] * m, m)) {                    \
                rows[++u] = r;                                                            \
                if (counts) counts[u] = 0;                                                \
            }                                                                             \
            if (counts) counts[u]++;                                                      \
            if (inverse) inverse[r] = u;                                                  \
        }                                                                                 \
        *n_unique = u + 1;                                                                \
    } while (0)

/* rows: up to n slice numbers, the first slice (in input order) of each unique slice, in
 * result order; inverse: n (NULL: not wanted), inverse[i] = the position of slice i among the
 * unique ones; counts (NULL: not wanted); *n_unique: how many; x: n slices of m values each,
 * (n, m) contiguous; perm, tmp: n int64 scratch each. sorted 1: torch.unique(dim=...)
 * (slices in lexicographic order, NaN after numbers); 0: torch.unique_consecutive(dim=...).
 * float32/float64/int64/bool. */
int tl_unique_dim(int dtype, int64_t *rows, int64_t *inverse, int64_t *counts, int64_t *n_unique,
                  const void *x, int64_t n, int64_t m, int64_t *perm, int64_t *tmp, int sorted) {
    if (n < 0 || m < 0) return TL_EINVAL;
    switch (dtype) {
        case TL_F32: UNIQUE_DIM(float); break;
        case TL_F64: UNIQUE_DIM(double); break;
        case TL_I64: UNIQUE_DIM(int64_t); break;
        case TL_BOOL: UNIQUE_DIM(uint8_t); break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}
#undef UNIQUE_DIM
