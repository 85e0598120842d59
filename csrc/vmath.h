/* vmath.h - float32 transcendentals on 8 lanes (AVX2+FMA) and on 16 (AVX-512), for the AVX2
 * and AVX-512 builds of elementwise.c.
 *
 * The functions and loops are written once, over the vector width, in vmath.inc; this header
 * includes it twice: 8 lanes of __m256 under target("avx2,fma") as tl_vm_exp, tl_vm_exp_loop...,
 * and 16 lanes of __m512 under target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma") as
 * tl_vm512_exp, tl_vm512_exp_loop... elementwise.c runs the 16-lane loops at SIMD level 2 (the
 * CPU has AVX-512 F/VL/BW/DQ; tl_set_simd_level(1) keeps the 8-lane ones there).
 *
 * Each function maps its floats lane by lane; no lane sees another, and the loops run tails
 * through the same code on a masked load, so a result never depends on where an element sits in
 * a buffer (or on the thread split). Both widths apply the same operations, constants and
 * rounding order to each lane (a comparison mask is a vector of lane masks at 8 lanes and an
 * __mmask16 at 16, choosing the same values; the one approximate instruction, RCPPS in tanh,
 * runs as RCPPS on both halves of a 16-lane vector), so the 16-lane results are the 8-lane
 * results, bit for bit: tests/test_vmath_avx512.py compares them for every function, forward
 * and backward. The bounds below hold for both.
 *
 * Error bound, in float32 ulps at the float64 reference value (2^-149 below the normal range):
 * 4 ulp for every function, tested by tests/test_vmath.py (>= 1e6 inputs per function: all
 * binades incl. denormals, runs of consecutive floats at every threshold, special values).
 * Measured maxima over every 3rd float32 bit pattern (1.4e9 inputs per function, against glibc's
 * double exp/log/tanh/erf/erfc): exp 1.04, log 0.88, tanh 1.77, sigmoid 2.40, erf 1.38,
 * gelu 1.77; gelu's gradient 1.96 in ulps of |Phi(x)| + |x phi(x)| (it changes sign at -0.75).
 * Special values: NaN propagates; exp overflows to +inf above ln(FLT_MAX) ~ 88.72 and underflows
 * gradually through the denormals to 0 below ~ -103.97; log(x < 0) = NaN, log(+-0) = -inf,
 * log(inf) = inf, denormal inputs are exact; tanh, sigmoid and erf saturate (tanh(-0) = -0,
 * erf(-0) = -0); gelu(+inf) = inf, gelu(-inf) = NaN (x Phi(x) = -inf * 0, as the formula in
 * elementwise.c and PyTorch's give).
 *
 * Method (coefficients: minimax fits printed by tools/vmath_fit.py from the textbook definitions):
 *   exp:  x = k ln2 + r, |r| <= ln2/2 (k rounded by the 1.5 * 2^23 trick, Cody-Waite with a
 *         two-part ln2), e^r - 1 = r + r^2 P(r) fitted relative to e^r - 1; times 2^k through the
 *         exponent field, or as two normal factors 2^(k>>1) 2^(k-(k>>1)) when the vector holds
 *         an |x| > 86 (one rounding even into the denormals).
 *   log:  x = 2^e m, m in [sqrt(1/2), sqrt 2), log x = e ln2 + log1p(m - 1), m - 1 exact,
 *         log1p(f) = f - f^2/2 + f^3 P(f); non-normal inputs take a slower branch.
 *   tanh: m = e^{2|x|} - 1 from the same reduction (u 2^k + 2^k - 1, exact for small |x|),
 *         tanh = m / (m + 2) with the rounding of m + 2 and of the quotient corrected by fma.
 *   sigmoid: e = e^-|x|; 1/(1+e) for x >= 0, e/(1+e) below (never overflows).
 *   erfc: erfc(a/sqrt2) = G(a) e^{-a^2/2}, G = erfcx(./sqrt2) a polynomial in t = 1/(1+a/4)
 *         evaluated in double (the two halves of a vector), a^2 split exactly into hi + lo for exp, so erfc
 *         keeps its relative accuracy where it is tiny. gelu(x) = x Phi(x) with
 *         Phi(-|x|) = G(|x|) e^{-x^2/2} / 2: that for x < 0 (relative accuracy down to the
 *         underflow near x = -14), 1 - it above.
 *   erf:  |z| < 0.5: z (c_hi + P(z^2)) with 2/sqrt(pi) split in two floats; else 1 - erfc(|z|).
 *
 * The activations silu, softplus, elu (selu), logsigmoid, mish and their g * f'(x) (the rows of
 * elementwise.c, PyTorch's expressions) are built from the same exp reduction; their bound is
 * 4 ulp too, tested by tests/test_vmath_activations.py (measured maxima <= 2.94, the list is
 * there and in README), with the rows' answers at NaN, +-inf, +-0 and the thresholds.
 */
#ifndef TL_VMATH_H
#define TL_VMATH_H
#include <stdint.h>
#include <immintrin.h>

#define TL_VM_MAGIC 12582912.0f                                            /* 1.5 * 2^23 */

/* ---- 8 lanes: AVX2 + FMA (the names vmath.inc's header lists) ---- */
#define TL_VM static inline __attribute__((always_inline, target("avx2,fma")))
#define TL_VM_LOOP __attribute__((target("avx2,fma"))) static
#define VM_N(name) tl_vm_##name
#define VM_W 8
#define VM_F __m256
#define VM_I __m256i
#define VM_D __m256d
#define VM_M __m256
#define VM_PS(op) _mm256_##op##_ps
#define VM_PD(op) _mm256_##op##_pd
#define VM_EPI(op) _mm256_##op##_epi32
#define VM_C(v) _mm256_set1_ps(v)
#define VM_DC(v) _mm256_set1_pd(v)
#define VM_CASTI(x) _mm256_castps_si256(x)
#define VM_CASTF(x) _mm256_castsi256_ps(x)
#define VM_CVTI(x) _mm256_cvtepi32_ps(x)
#define VM_IAND(a, b) _mm256_and_si256(a, b)
#define VM_CMP(a, b, P) _mm256_cmp_ps(a, b, P)
#define VM_SIGNS(x) (x)                                 /* blendv reads the sign bits itself */
#define VM_BLEND(a, b, m) _mm256_blendv_ps(a, b, m)
#define VM_ZMASK(m, x) _mm256_and_ps(m, x)
#define VM_MAND(m, k) _mm256_and_ps(m, k)
#define VM_ANY(m) (_mm256_movemask_ps(m) != 0)
#define VM_ALL(m) (_mm256_movemask_ps(m) == 0xff)
#define VM_RCP(x) _mm256_rcp_ps(x)
#define VM_PD2(F, x, g)                                                                        \
    _mm256_set_m128(_mm256_cvtpd_ps(F(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)),           \
                                      _mm256_cvtps_pd(_mm256_extractf128_ps(g, 1)))),         \
                    _mm256_cvtpd_ps(F(_mm256_cvtps_pd(_mm256_castps256_ps128(x)),             \
                                      _mm256_cvtps_pd(_mm256_castps256_ps128(g)))))
#define VM_TM __m256i
#define VM_TAILMASK(n) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VM_LOADT(p, m) _mm256_maskload_ps(p, m)
#define VM_STORET(p, m, v) _mm256_maskstore_ps(p, m, v)
#include "vmath.inc"

/* ---- 16 lanes: AVX-512 F/VL/BW/DQ (DQ: and/or/xor of float vectors, movepi32_mask,
 * insert/extract of 8 floats) ---- */
#define TL_VM512_TARGET "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"
#define TL_VM static inline __attribute__((always_inline, target(TL_VM512_TARGET)))
#define TL_VM_LOOP __attribute__((target(TL_VM512_TARGET))) static
#define VM_N(name) tl_vm512_##name
#define VM_W 16
#define VM_F __m512
#define VM_I __m512i
#define VM_D __m512d
#define VM_M __mmask16
#define VM_PS(op) _mm512_##op##_ps
#define VM_PD(op) _mm512_##op##_pd
#define VM_EPI(op) _mm512_##op##_epi32
#define VM_C(v) _mm512_set1_ps(v)
#define VM_DC(v) _mm512_set1_pd(v)
#define VM_CASTI(x) _mm512_castps_si512(x)
#define VM_CASTF(x) _mm512_castsi512_ps(x)
#define VM_CVTI(x) _mm512_cvtepi32_ps(x)
#define VM_IAND(a, b) _mm512_and_si512(a, b)
#define VM_CMP(a, b, P) _mm512_cmp_ps_mask(a, b, P)
#define VM_SIGNS(x) _mm512_movepi32_mask(_mm512_castps_si512(x))
#define VM_BLEND(a, b, m) _mm512_mask_blend_ps(m, a, b)
#define VM_ZMASK(m, x) _mm512_maskz_mov_ps(m, x)
#define VM_MAND(m, k) ((__mmask16)((m) & (k)))
#define VM_ANY(m) ((m) != 0)
#define VM_ALL(m) ((m) == 0xffff)
#define VM_RCP(x)                                                                              \
    _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_rcp_ps(_mm512_castps512_ps256(x))),      \
                       _mm256_rcp_ps(_mm512_extractf32x8_ps(x, 1)), 1)
#define VM_PD2(F, x, g)                                                                        \
    _mm512_insertf32x8(                                                                        \
        _mm512_castps256_ps512(_mm512_cvtpd_ps(F(_mm512_cvtps_pd(_mm512_castps512_ps256(x)),  \
                                                 _mm512_cvtps_pd(_mm512_castps512_ps256(g))))), \
        _mm512_cvtpd_ps(F(_mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1)),                      \
                          _mm512_cvtps_pd(_mm512_extractf32x8_ps(g, 1)))), 1)
#define VM_TM __mmask16
#define VM_TAILMASK(n) ((__mmask16)((1u << (n)) - 1u))
#define VM_LOADT(p, m) _mm512_maskz_loadu_ps(m, p)
#define VM_STORET(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#include "vmath.inc"

#endif
