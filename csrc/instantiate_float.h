/* instantiate_float.h - the one way a kernel family instantiates its template: for float and
 * double, portable and AVX2+FMA, for PICK (internal.h) to choose between at run time; optionally
 * also for int64 and bool (portable only), or without the AVX2+FMA build.
 *
 * Usage, in a kernel family's .c file:
 *     #define TL_TEMPLATE "optim.inc"
 *     #include "instantiate_float.h"
 * and before the include, as the family needs:
 *     #define TL_I64_TYPE int64_t  also an int64 pass (TL_SUF i64) with this element type:
 *                                  int64_t, or uint64_t for the same bits in wrap-around
 *                                  arithmetic without signed overflow (matmul.c);
 *     #define TL_U8_TYPE uint8_t   also a bool pass (TL_SUF u8);
 *     #define TL_PORTABLE_ONLY     no AVX2+FMA build: kernels the entry points call directly
 *                                  as name_f32_generic instead of through PICK (index.c, copy.c);
 *     #define TL_AVX512            also an AVX-512 (F, VL, BW, DQ + FMA) pass for float and double,
 *                                  name_f32_avx512, which the family picks itself when
 *                                  tl__simd >= 2 (matmul.c's MM_PICK).
 * The integer passes are portable only, as they always were: the entry points call them
 * directly as name_i64_generic / name_u8_generic, not through PICK.
 * This file undefines TL_TEMPLATE and the options again after the last pass.
 *
 * Each pass includes the template once with:
 *   T, TL_SUF        element type and name suffix: float f32, double f64 (int64 i64, bool u8);
 *   TL_DT            TL_DT_F32 / TL_DT_F64 / TL_DT_I64 / TL_DT_U8, for #if on the dtype (the
 *                    enum tl_dtype of tinygrad_lab.h is invisible to the preprocessor);
 *   TL_IS_FLOAT      1 for float and double, 0 for the integer passes;
 *   TL_ISA, TL_AVX2_BUILD  _generic and 0, or _avx2 and 1 under `#pragma GCC target("avx2,fma")`;
 *   TL_AVX512_BUILD  1 in the opt-in AVX-512 pass (TL_ISA _avx512, TL_AVX2_BUILD 1 as well), else 0;
 *   VT, VLEN, VOP(op), VTAILMASK(n)  only in the AVX2 float passes: the 256-bit vector type, its
 *                    lanes, the intrinsic for op (VOP(loadu) = _mm256_loadu_ps / _pd) and the
 *                    lane mask of maskload / maskstore for the first n lanes, 0 < n <= VLEN; in
 *                    the AVX-512 pass the 512-bit type, _mm512_ intrinsics and an __mmask16 /
 *                    __mmask8 as VTAILMASK(n)
 *                    (names only: a family that uses them includes <immintrin.h> itself).
 * TL_NAME(base) (internal.h) names the template's functions base ## TL_SUF ## TL_ISA, e.g.
 * reduce_f32_avx2, and PICK(name_f32, (args)) calls name_f32_avx2 or name_f32_generic. Anything
 * else a template needs per dtype (nn.inc's exp constants, matmul.inc's tile and blocking) it
 * defines at its top from TL_DT and undefines at its end.
 *
 * Every family of csrc/ instantiates its per-dtype kernels here, except copy.c's conversion
 * matrix (copy_<dst>_<src>, DEFINE_COPY): its kernels are per (destination, source) pair, 16 of
 * them, and a pass here has one T; see copy.c.
 *
 * The file includes itself, once per instruction set (TL_INST_PASS 1) and, inside that, once per
 * dtype (TL_INST_PASS 2); no include guard. */
#ifndef TL_INST_PASS
/* ---- outer: the instruction sets ---- */
#define TL_DT_F32 1
#define TL_DT_F64 2
#define TL_DT_I64 3
#define TL_DT_U8 4
#define TL_INST_PASS 1
#define TL_AVX512_BUILD 0
#define TL_ISA _generic
#define TL_AVX2_BUILD 0
#include "instantiate_float.h"
#undef TL_AVX2_BUILD
#undef TL_ISA
#if defined(TL_X86) && !defined(TL_PORTABLE_ONLY)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define TL_ISA _avx2
#define TL_AVX2_BUILD 1
#include "instantiate_float.h"
#undef TL_AVX2_BUILD
#undef TL_ISA
#pragma GCC pop_options
#endif
#if defined(TL_X86) && defined(TL_AVX512)
/* the opt-in AVX-512 pass (float and double only): TL_AVX2_BUILD stays 1, so the template's
 * AVX2 code is compiled here too (AVX-512F implies AVX2) unless it asks TL_AVX512_BUILD */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define TL_ISA _avx512
#define TL_AVX2_BUILD 1
#undef TL_AVX512_BUILD
#define TL_AVX512_BUILD 1
#include "instantiate_float.h"
#undef TL_AVX512_BUILD
#define TL_AVX512_BUILD 0
#undef TL_AVX2_BUILD
#undef TL_ISA
#pragma GCC pop_options
#endif
#undef TL_AVX512_BUILD
#undef TL_INST_PASS
#undef TL_DT_F32
#undef TL_DT_F64
#undef TL_DT_I64
#undef TL_DT_U8
#undef TL_TEMPLATE
#undef TL_I64_TYPE
#undef TL_U8_TYPE
#undef TL_PORTABLE_ONLY
#undef TL_AVX512

#elif TL_INST_PASS == 1
/* ---- one instruction set: the dtypes ---- */
#undef TL_INST_PASS
#define TL_INST_PASS 2
#define TL_IS_FLOAT 1
#define T float
#define TL_SUF f32
#define TL_DT TL_DT_F32
#include "instantiate_float.h"
#undef T
#undef TL_SUF
#undef TL_DT
#define T double
#define TL_SUF f64
#define TL_DT TL_DT_F64
#include "instantiate_float.h"
#undef T
#undef TL_SUF
#undef TL_DT
#undef TL_IS_FLOAT
#if !TL_AVX2_BUILD
#define TL_IS_FLOAT 0
#ifdef TL_I64_TYPE
#define T TL_I64_TYPE
#define TL_SUF i64
#define TL_DT TL_DT_I64
#include "instantiate_float.h"
#undef T
#undef TL_SUF
#undef TL_DT
#endif
#ifdef TL_U8_TYPE
#define T TL_U8_TYPE
#define TL_SUF u8
#define TL_DT TL_DT_U8
#include "instantiate_float.h"
#undef T
#undef TL_SUF
#undef TL_DT
#endif
#undef TL_IS_FLOAT
#endif
#undef TL_INST_PASS
#define TL_INST_PASS 1

#else
/* ---- one dtype: the AVX2 (or AVX-512) vector names, then the template ---- */
#if TL_AVX512_BUILD && TL_DT == TL_DT_F32
#define VT __m512
#define VLEN 16
#define VOP(op) _mm512_##op##_ps
#define VTAILMASK(n) ((__mmask16)((1u << (n)) - 1u))
#elif TL_AVX512_BUILD && TL_DT == TL_DT_F64
#define VT __m512d
#define VLEN 8
#define VOP(op) _mm512_##op##_pd
#define VTAILMASK(n) ((__mmask8)((1u << (n)) - 1u))
#elif TL_AVX2_BUILD && TL_DT == TL_DT_F32
#define VT __m256
#define VLEN 8
#define VOP(op) _mm256_##op##_ps
#define VTAILMASK(n) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#elif TL_AVX2_BUILD && TL_DT == TL_DT_F64
#define VT __m256d
#define VLEN 4
#define VOP(op) _mm256_##op##_pd
#define VTAILMASK(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#endif
#include TL_TEMPLATE
#undef VT
#undef VLEN
#undef VOP
#undef VTAILMASK
#endif
