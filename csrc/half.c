/* half.c - the bulk float16/bfloat16 <-> float32 conversions (the scalar ones, their exact
 * semantics and PyTorch's, are in half.h): portable loops over half.h's functions, and
 * vectorised ones chosen at run time -- F16C's vcvtps2ph/vcvtph2ps for float16 (when the CPU
 * has F16C), AVX2 integer shifts for bfloat16 (round to nearest even: add 0x7fff plus the
 * lowest kept bit, shift right 16; NaN lanes blended to 0xffff), and, on a CPU with AVX-512F,
 * 16-lane versions of the same operations (tl_set_half_avx512 turns them off); casts writing
 * TL_HALF_STREAM_MIN bytes or more store with streaming stores (on the Xeon VM, 1e7 elements,
 * under load: 0.74-0.76x the time of PyTorch's .to() on one thread, where ordinary AVX-512
 * stores measured ~0.9-1.0x; README "Native half kernels"). All give the same bits as the
 * portable loops (tests/test_half.py runs both through tl_set_simd_level;
 * tests/test_half_kernels.py compares the AVX-512 and AVX2 loops). */
#include "half.h"
#ifdef TL_X86
#include <cpuid.h>
#endif

static void h2f_generic(int dtype, float *dst, const uint16_t *src, int64_t n) {
    if (dtype == TL_F16)
        for (int64_t i = 0; i < n; i++) dst[i] = tl_f16_to_f32(src[i]);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = tl_bf16_to_f32(src[i]);
}

static void f2h_generic(int dtype, uint16_t *dst, const float *src, int64_t n) {
    if (dtype == TL_F16)
        for (int64_t i = 0; i < n; i++) dst[i] = tl_f32_to_f16(src[i]);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = tl_f32_to_bf16(src[i]);
}

#ifdef TL_X86
/* F16C is a separate CPUID bit (leaf 1, ECX bit 29) from AVX2: checked once. */
static int has_f16c(void) {
    static int known = -1;
    if (known < 0) {
        unsigned a, b, c, d;
        known = __get_cpuid(1, &a, &b, &c, &d) ? (int)((c >> 29) & 1u) : 0;
    }
    return known;
}

__attribute__((target("avx2,f16c")))
static void f16_to_f32_f16c(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = tl_f16_to_f32(src[i]);
}

__attribute__((target("avx2,f16c")))
static void f32_to_f16_f16c(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = tl_f32_to_f16(src[i]);
}

__attribute__((target("avx2")))
static void bf16_to_f32_avx2(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(w, 16));
    }
    for (; i < n; i++) dst[i] = tl_bf16_to_f32(src[i]);
}

__attribute__((target("avx2")))
static void f32_to_bf16_avx2(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i lo = tl_f32_to_bf16_lanes(_mm256_loadu_ps(src + i));
        __m256i hi = tl_f32_to_bf16_lanes(_mm256_loadu_ps(src + i + 8));
        /* packus interleaves the 128-bit lanes: [lo0-3 hi0-3 lo4-7 hi4-7]; permute restores order */
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
        _mm256_storeu_si256((__m256i *)(dst + i), p);
    }
    for (; i < n; i++) dst[i] = tl_f32_to_bf16(src[i]);
}

/* ---- fused a (op) b for contiguous halves: load, widen, op, round, store in registers ----
 * The elementwise kernels' block path (widen into scratch, the float32 kernel, round back) is
 * general; for the four arithmetic ops on contiguous operands this loop does the same in one
 * pass (the same float32 IEEE operation and the same rounding, so the same bits). */
#define HALF_BINARY_LOOP(NAME, VEXPR, SEXPR)                                                      \
    __attribute__((target("avx2,f16c")))                                                          \
    static void NAME(int dt, uint16_t *o, const uint16_t *a, const uint16_t *b, int64_t n) {     \
        int64_t i = 0;                                                                            \
        for (; i + 8 <= n; i += 8) {                                                              \
            const __m256 x = tl_half_load8(dt, a + i), y = tl_half_load8(dt, b + i);                    \
            tl_half_store8(dt, o + i, VEXPR);                                                        \
        }                                                                                         \
        for (; i < n; i++) {                                                                      \
            const float x = tl_half_load(dt, a[i]), y = tl_half_load(dt, b[i]);                   \
            o[i] = tl_half_store(dt, SEXPR);                                                      \
        }                                                                                         \
    }
HALF_BINARY_LOOP(half_add, _mm256_add_ps(x, y), x + y)
HALF_BINARY_LOOP(half_sub, _mm256_sub_ps(x, y), x - y)
HALF_BINARY_LOOP(half_mul, _mm256_mul_ps(x, y), x * y)
HALF_BINARY_LOOP(half_div, _mm256_div_ps(x, y), x / y)

/* ---- AVX-512F: 16 lanes (tl_half_load16 / tl_half_round16 of half.h), tails by the 8-lane
 * or scalar loops above (the same bits) ---- */
static int avx512_on = 1;        /* tl_set_half_avx512: off keeps the 8-lane loops at level 2 */

__attribute__((target("avx512f")))
static void f32_to_half_avx512(int dt, uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    if (dt == TL_F16)
        for (; i + 16 <= n; i += 16)
            _mm256_storeu_si256((__m256i *)(dst + i), tl_half_round16(TL_F16, _mm512_loadu_ps(src + i)));
    else
        for (; i + 16 <= n; i += 16)
            _mm256_storeu_si256((__m256i *)(dst + i), tl_half_round16(TL_BF16, _mm512_loadu_ps(src + i)));
    if (dt == TL_F16) f32_to_f16_f16c(dst + i, src + i, n - i);
    else f32_to_bf16_avx2(dst + i, src + i, n - i);
}

/* The same with streaming (non-temporal) stores: for outputs too large to stay in cache, they
 * skip reading each destination line before writing it (a third of a cast's memory traffic).
 * Scalar / 8-lane stores up to the first 32-byte boundary; the caller fences (_mm_sfence). */
__attribute__((target("avx512f")))
static void f32_to_half_stream(int dt, uint16_t *dst, const float *src, int64_t n) {
    int64_t i = (int64_t)(((32 - ((uintptr_t)dst & 31)) & 31) / 2);
    if (i > n) i = n;
    if (dt == TL_F16) {
        f32_to_f16_f16c(dst, src, i);
        for (; i + 16 <= n; i += 16)
            _mm256_stream_si256((__m256i *)(dst + i), tl_half_round16(TL_F16, _mm512_loadu_ps(src + i)));
        f32_to_f16_f16c(dst + i, src + i, n - i);
    } else {
        f32_to_bf16_avx2(dst, src, i);
        for (; i + 16 <= n; i += 16)
            _mm256_stream_si256((__m256i *)(dst + i), tl_half_round16(TL_BF16, _mm512_loadu_ps(src + i)));
        f32_to_bf16_avx2(dst + i, src + i, n - i);
    }
}

__attribute__((target("avx512f")))
static void half_to_f32_avx512(int dt, float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    if (dt == TL_F16)
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, tl_half_load16(TL_F16, src + i));
    else
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, tl_half_load16(TL_BF16, src + i));
    if (dt == TL_F16) f16_to_f32_f16c(dst + i, src + i, n - i);
    else bf16_to_f32_avx2(dst + i, src + i, n - i);
}

#define HALF_BINARY_LOOP512(NAME, VOP, TAIL)                                                      \
    __attribute__((target("avx512f")))                                                            \
    static void NAME(int dt, uint16_t *o, const uint16_t *a, const uint16_t *b, int64_t n) {     \
        int64_t i = 0;                                                                            \
        if (dt == TL_F16)                                                                         \
            for (; i + 16 <= n; i += 16)                                                          \
                _mm256_storeu_si256((__m256i *)(o + i), tl_half_round16(TL_F16,                   \
                    VOP(tl_half_load16(TL_F16, a + i), tl_half_load16(TL_F16, b + i))));          \
        else                                                                                      \
            for (; i + 16 <= n; i += 16)                                                          \
                _mm256_storeu_si256((__m256i *)(o + i), tl_half_round16(TL_BF16,                  \
                    VOP(tl_half_load16(TL_BF16, a + i), tl_half_load16(TL_BF16, b + i))));        \
        TAIL(dt, o + i, a + i, b + i, n - i);                                                     \
    }
HALF_BINARY_LOOP512(half_add512, _mm512_add_ps, half_add)
HALF_BINARY_LOOP512(half_sub512, _mm512_sub_ps, half_sub)
HALF_BINARY_LOOP512(half_mul512, _mm512_mul_ps, half_mul)
HALF_BINARY_LOOP512(half_div512, _mm512_div_ps, half_div)
#endif

int tl_set_half_avx512(int on) {
#ifdef TL_X86
    avx512_on = on != 0;
#else
    (void)on;
#endif
    return tl__half_avx512();
}

int tl__half_avx512(void) {
#ifdef TL_X86
    return tl__simd >= 2 && avx512_on && has_f16c();   /* level 2: the CPU has AVX-512 */
#else
    return 0;
#endif
}

int tl__half_simd(int dtype) {
#ifdef TL_X86
    return tl__simd && (dtype == TL_BF16 || has_f16c());
#else
    (void)dtype;
    return 0;
#endif
}

int tl__half_binary(int dtype, int op, uint16_t *out, const uint16_t *a, const uint16_t *b,
                    int64_t n) {
#ifdef TL_X86
    if (tl__half_avx512()) {
        switch (op) {
            case TL_ADD: half_add512(dtype, out, a, b, n); return 1;
            case TL_SUB: half_sub512(dtype, out, a, b, n); return 1;
            case TL_MUL: half_mul512(dtype, out, a, b, n); return 1;
            case TL_DIV: half_div512(dtype, out, a, b, n); return 1;
            default: break;
        }
    }
    if (tl__simd && (dtype == TL_BF16 || has_f16c())) {
        switch (op) {
            case TL_ADD: half_add(dtype, out, a, b, n); return 1;
            case TL_SUB: half_sub(dtype, out, a, b, n); return 1;
            case TL_MUL: half_mul(dtype, out, a, b, n); return 1;
            case TL_DIV: half_div(dtype, out, a, b, n); return 1;
            default: break;
        }
    }
#endif
    (void)dtype; (void)op; (void)out; (void)a; (void)b; (void)n;
    return 0;
}

void tl__half_to_f32(int dtype, float *dst, const uint16_t *src, int64_t n) {
#ifdef TL_X86
    if (tl__half_avx512()) { half_to_f32_avx512(dtype, dst, src, n); return; }
    if (tl__simd) {
        if (dtype == TL_BF16) { bf16_to_f32_avx2(dst, src, n); return; }
        if (has_f16c()) { f16_to_f32_f16c(dst, src, n); return; }
    }
#endif
    h2f_generic(dtype, dst, src, n);
}

void tl__f32_to_half(int dtype, uint16_t *dst, const float *src, int64_t n) {
#ifdef TL_X86
    if (tl__half_avx512()) { f32_to_half_avx512(dtype, dst, src, n); return; }
    if (tl__simd) {
        if (dtype == TL_BF16) { f32_to_bf16_avx2(dst, src, n); return; }
        if (has_f16c()) { f32_to_f16_f16c(dst, src, n); return; }
    }
#endif
    f2h_generic(dtype, dst, src, n);
}

typedef struct { int dtype, stream; void *dst; const void *src; } cvt_args;

/* Casts writing at least this many bytes use streaming stores (AVX-512 loops only). */
#define TL_HALF_STREAM_MIN ((int64_t)8 << 20)

static int h2f_span(void *ctx, int64_t lo, int64_t hi, int slot) {
    const cvt_args *a = (const cvt_args *)ctx;
    (void)slot;
    tl__half_to_f32(a->dtype, (float *)a->dst + lo, (const uint16_t *)a->src + lo, hi - lo);
    return TL_OK;
}

static int f2h_span(void *ctx, int64_t lo, int64_t hi, int slot) {
    const cvt_args *a = (const cvt_args *)ctx;
    (void)slot;
#ifdef TL_X86
    if (a->stream && tl__half_avx512() && ((uintptr_t)a->dst & 1) == 0) {   /* (2-byte aligned) */
        f32_to_half_stream(a->dtype, (uint16_t *)a->dst + lo, (const float *)a->src + lo, hi - lo);
        _mm_sfence();
        return TL_OK;
    }
#endif
    tl__f32_to_half(a->dtype, (uint16_t *)a->dst + lo, (const float *)a->src + lo, hi - lo);
    return TL_OK;
}

int tl__half_to_f32_par(int dtype, float *dst, const uint16_t *src, int64_t n) {
    cvt_args a = {dtype, 0, dst, src};
    return tl_parallel_span(n, 1, h2f_span, &a);
}

int tl__f32_to_half_par(int dtype, uint16_t *dst, const float *src, int64_t n) {
    cvt_args a = {dtype, 2 * n >= TL_HALF_STREAM_MIN, dst, src};
    return tl_parallel_span(n, 1, f2h_span, &a);
}
