/* copy.c - strided copy with dtype conversion, fill and arange: the storage kernels behind
 * contiguous(), clone(), to(dtype), slicing assignment and the creation functions.
 *
 * fill is instantiated from copy.inc through instantiate_float.h for float, double, int64 and
 * bool, portable only. The conversions are the one per-dtype family that does not go through it:
 * a kernel per (destination, source) pair, 4 x 4 of them, each reading one element type and
 * writing another, while instantiate_float.h includes its template once per dtype with a single
 * T. Built through it they would need a second dtype loop inside each pass, i.e. a second
 * mechanism; they have no float/double or AVX2 split to share either (all 16 are portable, and
 * 12 of them involve int64 or bool). So DEFINE_COPY below instantiates the pairs directly. */
#include "half.h"

/* Conversion into each destination type; bool is normalised to 0/1 like PyTorch. */
#define CVT_float(v)   ((float)(v))
#define CVT_double(v)  ((double)(v))
#define CVT_int64_t(v) ((int64_t)(v))
#define CVT_uint8_t(v) ((uint8_t)((v) != 0))

/* One instantiation per (destination, source) type pair (see the top of this file for why not
 * through instantiate_float.h). */
#define DEFINE_COPY(TD, TS)                                                              \
    static void copy_##TD##_##TS(TD *dst, const TS *src, tl_iter *it) {                  \
        const int64_t n = it->inner, sd = it->istride[0], ss = it->istride[1];           \
        do {                                                                             \
            TD *d = dst + it->off[0];                                                    \
            const TS *s = src + it->off[1];                                              \
            if (sd == 1 && ss == 1)                                                      \
                for (int64_t i = 0; i < n; i++) d[i] = CVT_##TD(s[i]);                   \
            else                                                                         \
                for (int64_t i = 0; i < n; i++) d[i * sd] = CVT_##TD(s[i * ss]);         \
        } while (tl_iter_next(it));                                                      \
    }
#define DEFINE_COPY_FROM(TS) \
    DEFINE_COPY(float, TS) DEFINE_COPY(double, TS) DEFINE_COPY(int64_t, TS) DEFINE_COPY(uint8_t, TS)
DEFINE_COPY_FROM(float)
DEFINE_COPY_FROM(double)
DEFINE_COPY_FROM(int64_t)
DEFINE_COPY_FROM(uint8_t)

#define COPY_CASE(DD, TD, SD, TS) \
    case (DD) * 4 + (SD): copy_##TD##_##TS((TD *)dst, (const TS *)src, &it); break;
#define COPY_CASES_FROM(SD, TS)                                                    \
    COPY_CASE(TL_F32, float, SD, TS) COPY_CASE(TL_F64, double, SD, TS)             \
    COPY_CASE(TL_I64, int64_t, SD, TS) COPY_CASE(TL_BOOL, uint8_t, SD, TS)

/* ---- conversions with float16/bfloat16 on either side: through a float32 block ----
 * Each run of the iterator is cut into blocks of TL_HALF_BLOCK elements: the source block is
 * read into float32 scratch (a half through half.h, the others by a C cast: float64 -> float16
 * rounds twice, through float32, as PyTorch's cast does), then written out as the destination
 * type. Contiguous float32 <-> half runs use half.c's vectorised loops directly. */
static void load_f32(float *t, int dt, const char *s, int64_t ss, int64_t n) {
    switch (dt) {
        case TL_F32: for (int64_t i = 0; i < n; i++) t[i] = ((const float *)s)[i * ss]; break;
        case TL_F64: for (int64_t i = 0; i < n; i++) t[i] = (float)((const double *)s)[i * ss]; break;
        case TL_I64: for (int64_t i = 0; i < n; i++) t[i] = (float)((const int64_t *)s)[i * ss]; break;
        case TL_BOOL: for (int64_t i = 0; i < n; i++) t[i] = (float)((const uint8_t *)s)[i * ss]; break;
        default:
            if (ss == 1) tl__half_to_f32(dt, t, (const uint16_t *)s, n);
            else for (int64_t i = 0; i < n; i++) t[i] = tl_half_load(dt, ((const uint16_t *)s)[i * ss]);
    }
}

static void store_f32(char *d, int dt, int64_t sd, const float *t, int64_t n) {
    switch (dt) {
        case TL_F32: for (int64_t i = 0; i < n; i++) ((float *)d)[i * sd] = t[i]; break;
        case TL_F64: for (int64_t i = 0; i < n; i++) ((double *)d)[i * sd] = (double)t[i]; break;
        /* a float -> int64 cast as the float copies do (NaN/out of range: what the CPU gives) */
        case TL_I64: for (int64_t i = 0; i < n; i++) ((int64_t *)d)[i * sd] = (int64_t)t[i]; break;
        case TL_BOOL: for (int64_t i = 0; i < n; i++) ((uint8_t *)d)[i * sd] = t[i] != 0; break;
        default:
            if (sd == 1) tl__f32_to_half(dt, (uint16_t *)d, t, n);
            else for (int64_t i = 0; i < n; i++) ((uint16_t *)d)[i * sd] = tl_half_store(dt, t[i]);
    }
}

static const int64_t ITEMSIZE[6] = {4, 8, 8, 1, 2, 2};

static void copy_via_f32(int dd, char *dst, int sdt, const char *src, tl_iter *it) {
    float tmp[TL_HALF_BLOCK];
    const int64_t n = it->inner, sd = it->istride[0], ss = it->istride[1];
    const int64_t di = ITEMSIZE[dd], si = ITEMSIZE[sdt];
    do {
        for (int64_t i = 0; i < n; i += TL_HALF_BLOCK) {
            const int64_t m = n - i < TL_HALF_BLOCK ? n - i : TL_HALF_BLOCK;
            load_f32(tmp, sdt, src + (it->off[1] + i * ss) * si, ss, m);
            store_f32(dst + (it->off[0] + i * sd) * di, dd, sd, tmp, m);
        }
    } while (tl_iter_next(it));
}

/* Any copy with a half on one side: the threaded vectorised casts, a same-type memcpy, or the
 * float32 blocks. */
static int copy_half(int dd, void *dst, int sdt, const void *src, tl_iter *it) {
    const int contiguous = it->size == it->inner && it->istride[0] == 1 && it->istride[1] == 1;
    if (contiguous && dd == TL_F32 && tl_is_half(sdt))
        return tl__half_to_f32_par(sdt, (float *)dst, (const uint16_t *)src, it->size);
    if (contiguous && sdt == TL_F32 && tl_is_half(dd))
        return tl__f32_to_half_par(dd, (uint16_t *)dst, (const float *)src, it->size);
    if (contiguous && dd == sdt) {
        memcpy(dst, src, (size_t)it->size * 2);
        return TL_OK;
    }
    copy_via_f32(dd, (char *)dst, sdt, (const char *)src, it);
    return TL_OK;
}

int tl_copy(int dst_dtype, void *dst, const int64_t *dst_strides,
            int src_dtype, const void *src, const int64_t *src_strides,
            int ndim, const int64_t *shape) {
    if ((unsigned)dst_dtype > TL_BF16 || (unsigned)src_dtype > TL_BF16) return TL_EDTYPE;
    tl_iter it;
    const int64_t *strides[2] = {dst_strides, src_strides};
    int rc = tl_iter_init(&it, ndim, shape, 2, strides);
    if (rc || it.size == 0) return rc;
    if (tl_is_half(dst_dtype) || tl_is_half(src_dtype))
        return copy_half(dst_dtype, dst, src_dtype, src, &it);
    switch (dst_dtype * 4 + src_dtype) {
        COPY_CASES_FROM(TL_F32, float)
        COPY_CASES_FROM(TL_F64, double)
        COPY_CASES_FROM(TL_I64, int64_t)
        COPY_CASES_FROM(TL_BOOL, uint8_t)
    }
    return TL_OK;
}

/* ---- instantiate fill: float and double, int64 and bool; portable only ---- */
#define TL_TEMPLATE "copy.inc"
#define TL_I64_TYPE int64_t
#define TL_U8_TYPE uint8_t
#define TL_PORTABLE_ONLY
#include "instantiate_float.h"

int tl_fill(int dtype, void *dst, const int64_t *strides, int ndim, const int64_t *shape,
            double value, int64_t ivalue) {
    tl_iter it;
    const int64_t *st[1] = {strides};
    int rc = tl_iter_init(&it, ndim, shape, 1, st);
    if (rc || it.size == 0) return rc;
    switch (dtype) {
        case TL_F32: fill_f32_generic((float *)dst, (float)value, &it); break;
        case TL_F64: fill_f64_generic((double *)dst, value, &it); break;
        case TL_I64: fill_i64_generic((int64_t *)dst, ivalue, &it); break;
        case TL_BOOL: fill_u8_generic((uint8_t *)dst, (uint8_t)(value != 0), &it); break;
        case TL_F16: case TL_BF16: {
            const uint16_t h = tl_half_store(dtype, (float)value);
            do {
                uint16_t *d = (uint16_t *)dst + it.off[0];
                for (int64_t i = 0; i < it.inner; i++) d[i * it.istride[0]] = h;
            } while (tl_iter_next(&it));
            break;
        }
        default: return TL_EDTYPE;
    }
    return TL_OK;
}

int tl_arange(int dtype, void *dst, int64_t n, double start, double step,
              int64_t istart, int64_t istep) {
    if (n < 0) return TL_EINVAL;
    switch (dtype) {
        /* computed in double then rounded, so float32 ranges do not drift */
        case TL_F32: for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)(start + (double)i * step); break;
        case TL_F64: for (int64_t i = 0; i < n; i++) ((double *)dst)[i] = start + (double)i * step; break;
        /* unsigned, so no signed overflow is possible (Python checks the range fits int64) */
        case TL_I64:
            for (int64_t i = 0; i < n; i++)
                ((int64_t *)dst)[i] = (int64_t)((uint64_t)istart + (uint64_t)i * (uint64_t)istep);
            break;
        default: return TL_EDTYPE;
    }
    return TL_OK;
}
