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
 * The scalar functions below are the portable path and the reference; half.c has the
 * vectorised loops (F16C for float16, AVX2 shifts for bfloat16) chosen at run time. */
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

/* Elements per block of the convert-compute-convert loops (float32 scratch on the stack). */
#define TL_HALF_BLOCK 1024

#endif
