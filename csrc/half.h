/* half.h - float16 and bfloat16 <-> float32 conversions (internal; the kernels are in half.c).
 *
 * Half precision is storage only (DESIGN.md): kernels load halves into float32, compute, and
 * round back. Every conversion here is bit-identical to PyTorch's CPU casts
 * (tests/test_half.py sweeps all 65,536 half patterns and float32 patterns around every
 * rounding boundary):
 *  - float32 -> float16: round to nearest even; overflow to +-Inf (from 65520 up); float16
 *    subnormals rounded exactly; NaN stays NaN, quiet, with the top 10 bits of its payload (what
 *    the F16C instruction vcvtps2ph does, and so PyTorch's vectorised cast).
 *  - float16 -> float32: exact; a NaN is quieted keeping its payload (vcvtph2ps).
 *  - float32 -> bfloat16: round to nearest even on the top 16 bits; every NaN becomes 0xFFFF
 *    (PyTorch's vectorised cast).
 *  - bfloat16 -> float32: exact, the 16 bits shifted up (NaN payloads kept as they are).
 * The scalar functions below are the portable path and the reference; the 8-lane (AVX2, F16C)
 * and 16-lane (AVX-512F) forms below them are what half.c's bulk loops and elementwise.c's fused
 * loops are made of, chosen at run time. */
#ifndef TL_HALF_H
#define TL_HALF_H
#include <stdint.h>
#include <string.h>
#include "internal.h"

static inline uint32_t tl_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float tl_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float tl_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)                                    /* Inf, or NaN made quiet */
        return tl_bits_f32(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0));
    if (e == 0) {                                     /* zero or subnormal: m * 2^-24, exact */
        float v = (float)m * 5.9604644775390625e-8f;
        return tl_bits_f32(sign | tl_f32_bits(v));
    }
    return tl_bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

static inline uint16_t tl_f32_to_f16(float f) {
    const uint32_t x = tl_f32_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));   /* NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);     /* >= 65520 (and Inf): Inf */
    if (ax < 0x38800000u) {          /* below 2^-14: a float16 subnormal (or zero). Adding 0.5 */
        /* puts the value's 2^-24 units in the low mantissa bits, rounded to nearest even by */
        /* the float addition itself */
        float v = tl_bits_f32(ax) + 0.5f;
        return (uint16_t)(sign | (tl_f32_bits(v) - 0x3f000000u));
    }
    /* normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even */
    return (uint16_t)(sign | ((ax - 0x38000000u + 0xfffu + ((ax >> 13) & 1u)) >> 13));
}

static inline float tl_bf16_to_f32(uint16_t h) { return tl_bits_f32((uint32_t)h << 16); }

static inline uint16_t tl_f32_to_bf16(float f) {
    const uint32_t x = tl_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0xffffu;                                /* NaN */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* (the bulk conversions, tl__half_to_f32 and friends, are declared in internal.h) */

static inline int tl_is_half(int dtype) { return dtype == TL_F16 || dtype == TL_BF16; }
static inline float tl_half_load(int dtype, uint16_t h) {
    return dtype == TL_F16 ? tl_f16_to_f32(h) : tl_bf16_to_f32(h);
}
static inline uint16_t tl_half_store(int dtype, float f) {
    return dtype == TL_F16 ? tl_f32_to_f16(f) : tl_f32_to_bf16(f);
}

#ifdef TL_X86
#include <immintrin.h>
/* ---- 8 lanes at a time (AVX2; F16C for float16): the vectorised forms of the above, the same
 * bits. Callers check tl__half_simd(dtype) first (internal.h). ---- */
/* float32 lanes -> bfloat16 in the low 16 bits of each 32-bit lane: round to nearest even (add
 * 0x7fff plus the lowest kept bit, shift right 16); NaN lanes -> 0xffff */
__attribute__((target("avx2"))) static inline __m256i tl_f32_to_bf16_lanes(__m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_epi8(r, _mm256_set1_epi32(0xffff), nan);
}

/* 8 halves at p widened (exactly) to float32 lanes */
__attribute__((target("avx2,f16c"))) static inline __m256 tl_half_load8(int dtype, const uint16_t *p) {
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (dtype == TL_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* 8 float32 lanes rounded to halves at p */
__attribute__((target("avx2,f16c"))) static inline void tl_half_store8(int dtype, uint16_t *p, __m256 v) {
    __m128i h;
    if (dtype == TL_F16) {
        h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    } else {
        const __m256i r = tl_f32_to_bf16_lanes(v);
        h = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    }
    _mm_storeu_si128((__m128i *)p, h);
}

/* ---- 16 lanes (AVX-512F; callers check tl__half_avx512() first): the same bits again ---- */
__attribute__((target("avx512f"))) static inline __m512 tl_half_load16(int dtype, const uint16_t *p) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (dtype == TL_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* 16 float32 lanes rounded to halves (vcvtps2ph; for bfloat16 the integer rounding above, NaN
 * lanes -> 0xffff, vpmovdw to 16 bits). (Not VCVTNEPS2BF16: it reads float32 subnormals as 0
 * and keeps NaN payloads, so its bits differ from PyTorch's.) */
__attribute__((target("avx512f"))) static inline __m256i tl_half_round16(int dtype, __m512 v) {
    if (dtype == TL_F16) return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    const __m512i x = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb), 16);
    r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0xffff));
    return _mm512_cvtepi32_epi16(r);
}
#endif

/* Elements per block of the convert-compute-convert loops (float32 scratch on the stack). */
#define TL_HALF_BLOCK 1024

#endif
