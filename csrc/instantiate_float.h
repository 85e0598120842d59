/* instantiate_float.h - instantiate a kernel template for float and double, portable and
 * AVX2+FMA, for PICK (internal.h) to choose between at run time.
 *
 * Usage, in a kernel family's .c file:
 *     #define TL_TEMPLATE "optim.inc"
 *     #include "instantiate_float.h"
 * The template is included with T = float / double and TL_SUF = f32 / f64, once with
 * TL_ISA = _generic and (on x86) once more with TL_ISA = _avx2 under
 * `#pragma GCC target("avx2,fma")` (with TL_AVX2_BUILD defined); TL_NAME(base) (internal.h)
 * names its functions.
 * PICK(name_f32, (args)) (internal.h) then calls name_f32_avx2 or name_f32_generic.
 * The file includes itself for the per-dtype pass; no include guard, since each kernel family
 * includes it once with its own TL_TEMPLATE. */
#ifdef TL_INSTANTIATE_DTYPES
/* inner pass: both dtypes for the current TL_ISA (TL_F32 marks the float pass) */
#define T float
#define TL_SUF f32
#define TL_F32 1
#include TL_TEMPLATE
#undef TL_F32
#undef T
#undef TL_SUF
#define T double
#define TL_SUF f64
#include TL_TEMPLATE
#undef T
#undef TL_SUF

#else
#define TL_INSTANTIATE_DTYPES
#define TL_ISA _generic
#include "instantiate_float.h"
#undef TL_ISA
#ifdef TL_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define TL_ISA _avx2
#define TL_AVX2_BUILD 1
#include "instantiate_float.h"
#undef TL_AVX2_BUILD
#undef TL_ISA
#pragma GCC pop_options
#endif
#undef TL_INSTANTIATE_DTYPES
#endif
