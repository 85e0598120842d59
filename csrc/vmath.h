/* vmath.h - AVX2+FMA float32 transcendentals on 8 lanes, for the AVX2 build of elementwise.c.
 *
 * Each function maps an __m256 of 8 floats lane by lane; no lane sees another, and the loops at
 * the bottom run tails through the same code on a masked load, so a result never depends on
 * where an element sits in a buffer (or on the thread split).
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
 *         evaluated in double (4 + 4 lanes), a^2 split exactly into hi + lo for exp, so erfc
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

#define TL_VM static inline __attribute__((always_inline, target("avx2,fma")))
#define TL_VM_C(v) _mm256_set1_ps(v)

/* ---- small helpers ---- */
TL_VM __m256 tl_vm_abs(__m256 x) { return _mm256_andnot_ps(TL_VM_C(-0.0f), x); }
TL_VM __m256 tl_vm_sign(__m256 x) { return _mm256_and_ps(TL_VM_C(-0.0f), x); }
TL_VM __m256 tl_vm_fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }

/* Horner: c[0] x^(n-1) + ... + c[n-1] (highest degree first); unrolled, constants folded */
TL_VM __m256 tl_vm_poly(__m256 x, const float *c, int n) {
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < n; i++) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));
    return p;
}

TL_VM __m256d tl_vm_poly_pd(__m256d x, const double *c, int n) {
    __m256d p = _mm256_set1_pd(c[0]);
    for (int i = 1; i < n; i++) p = _mm256_fmadd_pd(p, x, _mm256_set1_pd(c[i]));
    return p;
}

/* Range reduction and polynomial of exp: returns u = e^r - 1 where h + l = k ln2 + r, and kf,
 * a float whose low mantissa bits hold the integer k (kf = 1.5 * 2^23 + k), so that
 * e^(h + l) = (1 + u) 2^k. l is a small correction to h (|l| <= ulp(h)); LO says whether it is
 * used (a compile-time constant). Needs |h| < 2^21; NaN in h comes out as NaN in u. */
#define TL_VM_MAGIC 12582912.0f                                            /* 1.5 * 2^23 */
TL_VM __m256 tl_vm_exp_reduce(__m256 h, __m256 l, const int LO, __m256 *kf) {
    *kf = tl_vm_fma(h, TL_VM_C(1.44269504088896341f), TL_VM_C(TL_VM_MAGIC)); /* rounds h/ln2 */
    const __m256 k = _mm256_sub_ps(*kf, TL_VM_C(TL_VM_MAGIC));
    __m256 r = _mm256_fnmadd_ps(k, TL_VM_C(0.693145751953125f), h);      /* ln2 hi: exact */
    r = _mm256_fnmadd_ps(k, TL_VM_C(1.428606765330187e-06f), r);         /* ln2 - hi */
    if (LO) r = _mm256_add_ps(r, l);
    static const float c[] = {0.0013882523635402322f, 0.00836651399731636f, 0.04166720062494278f,
                              0.1666654348373413f, 0.4999999701976776f};
    const __m256 p = tl_vm_poly(r, c, 5);
    return tl_vm_fma(p, _mm256_mul_ps(r, r), r);                          /* e^r - 1 */
}

/* x * 2^k for kf from tl_vm_exp_reduce, by adding k to the exponent field: only for x * 2^k
 * normal (and x finite); k << 23 is kf's bit pattern shifted, as 1.5 * 2^23 << 23 wraps to 0 */
TL_VM __m256 tl_vm_ldexp_fast(__m256 x, __m256 kf) {
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(x),
                                                _mm256_slli_epi32(_mm256_castps_si256(kf), 23)));
}

/* c * e^(h + l) for any h (NaN propagates), with c (1 + u) formed by one fma and 2^k applied as
 * two normal factors 2^k1 2^k2, k1 = k >> 1, so the result rounds once even when it lands in
 * the denormals. h is clamped to [-120, 89]: overflow to inf above ln(FLT_MAX) ~ 88.72, and 0
 * below -120 as long as |c| < 2^40. */
TL_VM __m256 tl_vm_mul_exp(__m256 c, __m256 h, __m256 l, const int LO) {
    h = _mm256_max_ps(TL_VM_C(-120.0f), _mm256_min_ps(TL_VM_C(89.0f), h));   /* keeps NaN */
    __m256 kf;
    const __m256 u = tl_vm_exp_reduce(h, l, LO, &kf);
    const __m256i ki = _mm256_sub_epi32(_mm256_castps_si256(kf), _mm256_castps_si256(TL_VM_C(TL_VM_MAGIC)));
    const __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(tl_vm_fma(c, u, c), s1), s2);
}

/* e^x: the fast path scales through the exponent field; a vector with any |x| > 86 (or NaN)
 * takes the general path */
TL_VM __m256 tl_vm_exp(__m256 x) {
    __m256 kf;
    const __m256 u = tl_vm_exp_reduce(x, x, 0, &kf);
    const __m256 y = tl_vm_ldexp_fast(_mm256_add_ps(u, TL_VM_C(1.0f)), kf);
    const __m256 out = _mm256_cmp_ps(tl_vm_abs(x), TL_VM_C(86.0f), _CMP_NLE_UQ);
    if (__builtin_expect(_mm256_movemask_ps(out) != 0, 0))
        return tl_vm_mul_exp(TL_VM_C(1.0f), x, x, 0);
    return y;
}

TL_VM __m256 tl_vm_log(__m256 x) {
    /* x = 2^e * m with m in [sqrt(1/2), sqrt 2): shift the bits so the split falls there */
    const __m256i off = _mm256_set1_epi32(0x3f3504f3);                  /* bits of sqrt(1/2) */
    const __m256i t = _mm256_sub_epi32(_mm256_castps_si256(x), off);
    const __m256 e = _mm256_cvtepi32_ps(_mm256_srai_epi32(t, 23));
    const __m256 m = _mm256_castsi256_ps(
        _mm256_add_epi32(_mm256_and_si256(t, _mm256_set1_epi32(0x007fffff)), off));
    const __m256 f = _mm256_sub_ps(m, TL_VM_C(1.0f));                     /* exact */
    static const float c[] = {-0.07634492218494415f, 0.12761574983596802f, -0.13160182535648346f,
                              0.14201758801937103f, -0.16623356938362122f, 0.20001226663589478f,
                              -0.2500081956386566f, 0.3333333134651184f, -0.5f};
    const __m256 p = tl_vm_poly(f, c, 9);                                 /* log1p(f) - f = f^2 p */
    __m256 y = tl_vm_fma(_mm256_mul_ps(f, f), p, _mm256_mul_ps(e, TL_VM_C(1.428606765330187e-06f)));
    y = _mm256_add_ps(y, f);
    return tl_vm_fma(e, TL_VM_C(0.693145751953125f), y);
}

/* log x; a vector holding any x that is not a positive normal float takes the slow path:
 * denormals are scaled by 2^23 first (exact), +-0 gives -inf, x < 0 NaN, +inf and NaN x */
TL_VM __m256 tl_vm_log_any(__m256 x) {
    const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(x, TL_VM_C(1.17549435e-38f), _CMP_GE_OQ),
                                    _mm256_cmp_ps(x, TL_VM_C(__builtin_inff()), _CMP_LT_OQ));
    if (__builtin_expect(_mm256_movemask_ps(ok) == 0xff, 1)) return tl_vm_log(x);
    const __m256 tiny = _mm256_cmp_ps(x, TL_VM_C(1.17549435e-38f), _CMP_LT_OQ);
    const __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, TL_VM_C(8388608.0f)), tiny);
    const __m256 y = tl_vm_fma(_mm256_and_ps(tiny, TL_VM_C(-23.0f)), TL_VM_C(0.693145751953125f),
                               _mm256_add_ps(tl_vm_log(xs), _mm256_and_ps(tiny, TL_VM_C(-23.0f * 1.428606765330187e-06f))));
    __m256 sp = _mm256_blendv_ps(x, TL_VM_C(__builtin_nanf("")), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    sp = _mm256_blendv_ps(sp, TL_VM_C(-__builtin_inff()), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
    const __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
    return _mm256_blendv_ps(sp, y, _mm256_and_ps(pos, _mm256_cmp_ps(x, TL_VM_C(__builtin_inff()), _CMP_LT_OQ)));
}

/* tanh |x| = m / (m + 2), m = e^{2|x|} - 1 = u 2^k + (2^k - 1) from the reduced exp: accurate for
 * small |x| too (m is then u, with r = 2|x| exactly), no cancellation anywhere. The rounding
 * error of m + 2 is recovered exactly (d - 2 is exact) and folded into the quotient, whose own
 * residual is exact by fma. 2|x| is clamped at 20, where tanh is 1 in float32. */
TL_VM __m256 tl_vm_tanh(__m256 x) {
    const __m256 a = tl_vm_abs(x);
    __m256 kf;
    const __m256 u = tl_vm_exp_reduce(_mm256_min_ps(TL_VM_C(20.0f), _mm256_add_ps(a, a)), x, 0, &kf);
    const __m256 s = tl_vm_ldexp_fast(TL_VM_C(1.0f), kf);                  /* 2^k, k in [0, 29] */
    const __m256 m = tl_vm_fma(u, s, _mm256_sub_ps(s, TL_VM_C(1.0f)));
    const __m256 d = _mm256_add_ps(m, TL_VM_C(2.0f));
    const __m256 dl = _mm256_sub_ps(m, _mm256_sub_ps(d, TL_VM_C(2.0f)));   /* m + 2 = d + dl */
    const __m256 t0 = _mm256_div_ps(m, d);
    const __m256 res = _mm256_fnmadd_ps(t0, dl, _mm256_fnmadd_ps(t0, d, m)); /* m - t0 (d + dl) */
    const __m256 t = tl_vm_fma(res, _mm256_rcp_ps(d), t0);
    return _mm256_or_ps(t, tl_vm_sign(x));
}

TL_VM __m256 tl_vm_sigmoid(__m256 x) {
    const __m256 e = tl_vm_exp(_mm256_or_ps(x, TL_VM_C(-0.0f)));        /* e^-|x| */
    const __m256 num = _mm256_blendv_ps(TL_VM_C(1.0f), e, x);             /* sign bit of x picks e */
    return _mm256_div_ps(num, _mm256_add_ps(TL_VM_C(1.0f), e));
}

/* ---- erfc family: erfcx evaluated in double precision on 4 + 4 lanes ---- */
#define TL_VM_D(v) _mm256_set1_pd(v)

/* G(a) = erfcx(a / sqrt 2) = e^{a^2/2} erfc(a / sqrt 2) for a >= 0 (4 doubles), as a polynomial
 * in t = 1 / (1 + a/4) (relative error 4e-10 on [0, 16]; G(16) is only multiplied by 0 later). */
TL_VM __m256d tl_vm_erfcx_half_pd(__m256d a) {
    a = _mm256_min_pd(TL_VM_D(16.0), a);                  /* keeps NaN; finite for a = inf */
    const __m256d t = _mm256_div_pd(TL_VM_D(1.0), _mm256_fmadd_pd(a, TL_VM_D(0.25), TL_VM_D(1.0)));
    static const double c[] = {-0.03020540726458468, 0.2172081252489406, -0.6202726236289287,
                               0.8754118564868064, -0.7182926906202269, 0.5491802734249418,
                               -0.0686936420502183, 0.2200687433274142, 0.1752020594480988,
                               0.20104054587929737, 0.19934849575000976, 4.26442062515122e-06};
    return tl_vm_poly_pd(t, c, 12);
}

/* Apply the double-lane function F(xd, gd) to both halves of x (and g) and round to float. */
#define TL_VM_PD2(F, x, g)                                                                     \
    _mm256_set_m128(_mm256_cvtpd_ps(F(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)),           \
                                      _mm256_cvtps_pd(_mm256_extractf128_ps(g, 1)))),         \
                    _mm256_cvtpd_ps(F(_mm256_cvtps_pd(_mm256_castps256_ps128(x)),             \
                                      _mm256_cvtps_pd(_mm256_castps256_ps128(g)))))

/* x G(|x|) / 2: for x < 0 this times e^{-x^2/2} is x Phi(x) */
TL_VM __m256d tl_vm_xh_pd(__m256d x, __m256d unused) {
    (void)unused;
    const __m256d a = _mm256_andnot_pd(TL_VM_D(-0.0), x);
    return _mm256_mul_pd(_mm256_mul_pd(x, TL_VM_D(0.5)), tl_vm_erfcx_half_pd(a));
}

/* x / sqrt(2 pi) -+ G(|x|) / 2 (minus for x >= 0): times e^{-x^2/2} this is gelu'(x) for
 * x < 0 and gelu'(x) - 1 above */
TL_VM __m256d tl_vm_dgelu_pd(__m256d x, __m256d unused) {
    (void)unused;
    const __m256d a = _mm256_andnot_pd(TL_VM_D(-0.0), x);
    const __m256d h = _mm256_mul_pd(TL_VM_D(0.5), tl_vm_erfcx_half_pd(a));
    const __m256d hs = _mm256_xor_pd(h, _mm256_andnot_pd(x, TL_VM_D(-0.0)));  /* x < 0 ? h : -h */
    return _mm256_fmadd_pd(x, TL_VM_D(0.398942280401432678), hs);
}

/* G(sqrt2 |z|) = erfcx(|z|) */
TL_VM __m256d tl_vm_erfcx_pd(__m256d z, __m256d unused) {
    (void)unused;
    return tl_vm_erfcx_half_pd(_mm256_mul_pd(_mm256_andnot_pd(TL_VM_D(-0.0), z), TL_VM_D(1.4142135623730951)));
}

/* c e^{scale x^2} (scale -1 or -1/2) with x^2 carried exactly as hi + lo, for |c| < 2^40 or
 * |x| > 15.5. There the exponential is below e^-120 and the result is c * 0 (a signed 0, or NaN
 * for an infinite c, as the formula gives), which also keeps x^2 away from inf - inf. */
TL_VM __m256 tl_vm_mul_gauss(__m256 c, __m256 x, __m256 scale) {
    const __m256 a = tl_vm_abs(x);
    const __m256 far = _mm256_cmp_ps(a, TL_VM_C(15.5f), _CMP_GT_OQ);
    const __m256 xc = _mm256_min_ps(TL_VM_C(16.0f), a);                /* keeps NaN */
    const __m256 ph = _mm256_mul_ps(xc, xc);
    const __m256 pl = _mm256_fmsub_ps(xc, xc, ph);
    const __m256 r = tl_vm_mul_exp(c, _mm256_mul_ps(ph, scale), _mm256_mul_ps(pl, scale), 1);
    return _mm256_blendv_ps(r, _mm256_mul_ps(c, _mm256_setzero_ps()), far);
}

/* gelu(x) = x Phi(x) with Phi(-|x|) = erfc(|x|/sqrt2) / 2 = G(|x|) e^{-x^2/2} / 2:
 * w = x G(|x|)/2 e^{-x^2/2} is gelu(x) for x < 0, and gelu(x) = x - w above. */
TL_VM __m256 tl_vm_gelu(__m256 x) {
    const __m256 w = tl_vm_mul_gauss(TL_VM_PD2(tl_vm_xh_pd, x, x), x, TL_VM_C(-0.5f));
    const __m256 y = _mm256_blendv_ps(_mm256_sub_ps(x, w), w, x);        /* sign bit: x < 0 */
    /* gelu(+inf) = inf (w is inf * 0 there); gelu(-inf) stays NaN, as x Phi(x) gives */
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, TL_VM_C(__builtin_inff()), _CMP_EQ_OQ));
}

/* g * gelu'(x), gelu'(x) = Phi(x) + x phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi) */
TL_VM __m256 tl_vm_gelu_grad(__m256 g, __m256 x) {
    const __m256 v = tl_vm_mul_gauss(TL_VM_PD2(tl_vm_dgelu_pd, x, x), x, TL_VM_C(-0.5f));
    return _mm256_mul_ps(g, _mm256_blendv_ps(_mm256_add_ps(TL_VM_C(1.0f), v), v, x));
}

/* g * erf'(z) = g * 2/sqrt(pi) e^{-z^2} */
TL_VM __m256 tl_vm_erf_grad(__m256 g, __m256 z) {
    return _mm256_mul_ps(g, tl_vm_mul_gauss(TL_VM_C(1.12837916709551257f), z, TL_VM_C(-1.0f)));
}

TL_VM __m256 tl_vm_erf(__m256 z) {
    const __m256 a = tl_vm_abs(z), s = _mm256_mul_ps(z, z);
    /* |z| < 0.5: |z| (c_hi + P(z^2)) */
    static const float c[] = {0.004717990290373564f, -0.02675718441605568f, 0.11282822489738464f,
                              -0.37612608075141907f, -6.016355058591216e-08f};
    const __m256 p = tl_vm_poly(s, c, 5);
    const __m256 small = tl_vm_fma(a, TL_VM_C(1.128379225730896f), _mm256_mul_ps(a, p));
    /* else 1 - erfc(|z|), erfc(|z|) = erfcx(|z|) e^{-z^2} */
    const __m256 ec = tl_vm_mul_gauss(TL_VM_PD2(tl_vm_erfcx_pd, z, z), z, TL_VM_C(-1.0f));
    const __m256 big = _mm256_sub_ps(TL_VM_C(1.0f), ec);
    const __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, TL_VM_C(0.5f), _CMP_LT_OQ));
    return _mm256_or_ps(r, tl_vm_sign(z));                               /* odd; erf(-0) = -0 */
}

/* ---- the activations of elementwise.c's PyTorch rows: silu, softplus, elu (selu), logsigmoid,
 * mish, forward and g * derivative. Each reduces to e = e^h for one h <= 44 and, where the
 * result is x e^h (which underflows through the denormals), that product rounded once, so no
 * denormal e is multiplied by a large x. ---- */

/* e^(h + l) as (1 + u) 2^k1 2^k2 (tl_vm_mul_exp's pieces, shared by several products):
 * h clamped to [-120, 89] (NaN kept); l must be finite */
typedef struct { __m256 u, s1, s2; } tl_vm_expk;
TL_VM tl_vm_expk tl_vm_exp_parts(__m256 h, __m256 l, const int LO) {
    h = _mm256_max_ps(TL_VM_C(-120.0f), _mm256_min_ps(TL_VM_C(89.0f), h));   /* keeps NaN */
    __m256 kf;
    tl_vm_expk e;
    e.u = tl_vm_exp_reduce(h, l, LO, &kf);
    const __m256i ki = _mm256_sub_epi32(_mm256_castps_si256(kf), _mm256_castps_si256(TL_VM_C(TL_VM_MAGIC)));
    const __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    e.s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    e.s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return e;
}

/* c e^(h + l), rounded once (|c| < 2^40, or the clamped h shows); c's sign kept on a 0
 * (c + c u would lose it: -0 + +0 = +0) */
TL_VM __m256 tl_vm_expk_mul(tl_vm_expk e, __m256 c) {
    return _mm256_or_ps(_mm256_mul_ps(_mm256_mul_ps(tl_vm_fma(c, e.u, c), e.s1), e.s2), tl_vm_sign(c));
}

/* x where |x| <= 128, else x * 0 (a signed 0; NaN for +-inf): the factor c of x e^h, h <= 89,
 * for which the product is 0 beyond (and NaN at infinity, as x * e^-inf = inf * 0) */
TL_VM __m256 tl_vm_xfactor(__m256 x) {
    return _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_setzero_ps()),
                            _mm256_cmp_ps(tl_vm_abs(x), TL_VM_C(128.0f), _CMP_GT_OQ));
}

/* log1p(t) for t in [0, 1] (or NaN): log(1 + t) plus the rounding error of 1 + t over 1 + t */
TL_VM __m256 tl_vm_log1p01(__m256 t) {
    const __m256 w = _mm256_add_ps(TL_VM_C(1.0f), t);
    const __m256 c = _mm256_sub_ps(t, _mm256_sub_ps(w, TL_VM_C(1.0f)));   /* exact */
    return _mm256_add_ps(tl_vm_log(w), _mm256_div_ps(c, w));
}

/* e = e^-|x| and xe = x e rounded once (x replaced by tl_vm_xfactor(x)) for silu. A vector with
 * every |x| <= 80 takes the fast path: 2^k through the exponent field, the same bits (both
 * results are normal or exact zeros there, k = 0 for |x| < 0.34), so lanes stay independent. */
TL_VM __m256 tl_vm_silu_exps(__m256 x, __m256 *xe) {
    const __m256 h = _mm256_or_ps(x, TL_VM_C(-0.0f));                      /* -|x| */
    if (__builtin_expect(_mm256_movemask_ps(_mm256_cmp_ps(tl_vm_abs(x), TL_VM_C(80.0f), _CMP_NLE_UQ)) == 0, 1)) {
        __m256 kf;
        const __m256 u = tl_vm_exp_reduce(h, h, 0, &kf);
        *xe = tl_vm_ldexp_fast(tl_vm_fma(x, u, x), kf);
        return tl_vm_ldexp_fast(_mm256_add_ps(u, TL_VM_C(1.0f)), kf);
    }
    const tl_vm_expk ek = tl_vm_exp_parts(h, h, 0);
    *xe = tl_vm_expk_mul(ek, tl_vm_xfactor(x));
    return tl_vm_expk_mul(ek, TL_VM_C(1.0f));
}

/* silu(x) = x / (1 + e^-x): e = e^-|x|; x / (1 + e) for x >= 0, x e / (1 + e) below */
TL_VM __m256 tl_vm_silu(__m256 x) {
    __m256 xe;
    const __m256 e = tl_vm_silu_exps(x, &xe);
    return _mm256_div_ps(_mm256_blendv_ps(x, xe, x), _mm256_add_ps(TL_VM_C(1.0f), e));
}

/* 1 / (1 + e) for e in [0, 1] to about half an ulp: the rounding error of 1 + e (exact, wl)
 * and of the quotient (exact by fma) corrected for */
TL_VM __m256 tl_vm_recip1p(__m256 e) {
    const __m256 w = _mm256_add_ps(TL_VM_C(1.0f), e);
    const __m256 wl = _mm256_sub_ps(e, _mm256_sub_ps(w, TL_VM_C(1.0f)));  /* 1 + e = w + wl */
    const __m256 v0 = _mm256_div_ps(TL_VM_C(1.0f), w);
    const __m256 r = _mm256_fnmadd_ps(v0, w, TL_VM_C(1.0f));              /* 1 - v0 w, exact */
    return tl_vm_fma(v0, _mm256_fnmadd_ps(v0, wl, r), v0);
}

/* g silu'(x), silu' = s (1 + x (1 - s)); with e = e^-|x| and v = 1 / (1 + e) (corrected):
 * x >= 0: v + (x e) v^2; x < 0: (e + (x e) v) v, x e rounded once (x replaced by
 * tl_vm_xfactor(x): NaN at +-inf, as PyTorch). Far left the result is negative; its sign is kept
 * when it rounds to 0, as the row's -0. */
TL_VM __m256 tl_vm_silu_grad(__m256 g, __m256 x) {
    __m256 xe;
    const __m256 e = tl_vm_silu_exps(x, &xe);
    const __m256 v = tl_vm_recip1p(e);
    const __m256 pos = tl_vm_fma(_mm256_mul_ps(xe, v), v, v);
    __m256 neg = _mm256_mul_ps(tl_vm_fma(xe, v, e), v);
    neg = _mm256_or_ps(neg, _mm256_and_ps(TL_VM_C(-0.0f), _mm256_cmp_ps(x, TL_VM_C(-80.0f), _CMP_LT_OQ)));
    return _mm256_mul_ps(g, _mm256_blendv_ps(pos, neg, x));
}

/* z = x beta as hi + lo (lo = 0 where |hi| > 128: there e^-|z| is 0 either way, and lo may
 * be far from small); e = e^-|z| from both */
TL_VM tl_vm_expk tl_vm_softplus_parts(__m256 x, __m256 beta, __m256 *z, __m256 *lo) {
    *z = _mm256_mul_ps(x, beta);
    *lo = _mm256_and_ps(_mm256_fmsub_ps(x, beta, *z),
                        _mm256_cmp_ps(tl_vm_abs(*z), TL_VM_C(128.0f), _CMP_LE_OQ));
    /* -|z| = -|hi| - sign(hi) lo */
    const __m256 l = _mm256_xor_ps(*lo, _mm256_andnot_ps(*z, TL_VM_C(-0.0f)));
    return tl_vm_exp_parts(_mm256_or_ps(*z, TL_VM_C(-0.0f)), l, 1);
}

/* softplus(x) = x where x beta > threshold, else log1p(e^z) / beta = (max(z, 0) + log1p(e^-|z|))
 * / beta, z = x beta carried in two floats (its rounding would otherwise show in e^z) */
TL_VM __m256 tl_vm_softplus(__m256 x, __m256 beta, __m256 thr) {
    __m256 z, lo;
    const tl_vm_expk ek = tl_vm_softplus_parts(x, beta, &z, &lo);
    const __m256 lp = tl_vm_log1p01(tl_vm_expk_mul(ek, TL_VM_C(1.0f)));
    const __m256 big = _mm256_add_ps(z, _mm256_add_ps(lo, lp));
    const __m256 s = _mm256_blendv_ps(lp, big, _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
    return _mm256_blendv_ps(_mm256_div_ps(s, beta), x, _mm256_cmp_ps(z, thr, _CMP_GT_OQ));
}

/* g softplus'(x) = g sigmoid(z) (g where z > threshold): 1 / (1 + e) for z >= 0, e / (1 + e)
 * below, e = e^-|z| */
TL_VM __m256 tl_vm_softplus_grad(__m256 g, __m256 x, __m256 beta, __m256 thr) {
    __m256 z, lo;
    const tl_vm_expk ek = tl_vm_softplus_parts(x, beta, &z, &lo);
    const __m256 e = tl_vm_expk_mul(ek, TL_VM_C(1.0f));
    const __m256 num = _mm256_blendv_ps(TL_VM_C(1.0f), e, z);            /* sign bit of z */
    const __m256 d = _mm256_mul_ps(g, _mm256_div_ps(num, _mm256_add_ps(TL_VM_C(1.0f), e)));
    return _mm256_blendv_ps(d, g, _mm256_cmp_ps(z, thr, _CMP_GT_OQ));
}

/* elu: x > 0 ? x scale : expm1(x) (alpha scale), ac = alpha scale rounded to float as the row
 * does. expm1(x) = u 2^k + (2^k - 1) from the reduced exp (x clamped at -30, where it is -1 in
 * float32); the sign of x is or-ed in so expm1(-0) = -0. NaN takes the second branch. */
TL_VM __m256 tl_vm_elu(__m256 x, __m256 alpha, __m256 scale) {
    __m256 kf;
    const __m256 u = tl_vm_exp_reduce(_mm256_max_ps(TL_VM_C(-30.0f), x), x, 0, &kf);
    const __m256 s = tl_vm_ldexp_fast(TL_VM_C(1.0f), kf);                  /* 2^k, k in [-44, 0] */
    const __m256 m = _mm256_or_ps(tl_vm_fma(u, s, _mm256_sub_ps(s, TL_VM_C(1.0f))), tl_vm_sign(x));
    const __m256 neg = _mm256_mul_ps(m, _mm256_mul_ps(alpha, scale));
    return _mm256_blendv_ps(neg, _mm256_mul_ps(x, scale),
                            _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/* g elu'(x) = g scale for x > 0, else (g alpha scale) e^x rounded once (c * 0 below -120;
 * c e^x as a product for an infinite c, where c + c u would be inf - inf) */
TL_VM __m256 tl_vm_elu_grad(__m256 g, __m256 x, __m256 alpha, __m256 scale) {
    const __m256 c = _mm256_mul_ps(g, _mm256_mul_ps(alpha, scale));
    const tl_vm_expk ek = tl_vm_exp_parts(x, x, 0);
    __m256 neg = _mm256_blendv_ps(tl_vm_expk_mul(ek, c),
                                  _mm256_mul_ps(c, tl_vm_expk_mul(ek, TL_VM_C(1.0f))),
                                  _mm256_cmp_ps(tl_vm_abs(c), TL_VM_C(__builtin_inff()), _CMP_EQ_OQ));
    neg = _mm256_blendv_ps(neg, _mm256_mul_ps(c, _mm256_setzero_ps()),
                           _mm256_cmp_ps(x, TL_VM_C(-120.0f), _CMP_LT_OQ));
    return _mm256_blendv_ps(neg, _mm256_mul_ps(g, scale),
                            _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/* logsigmoid(x) = min(x, 0) - log1p(e^-|x|) (+0 at +inf, as the row) */
TL_VM __m256 tl_vm_logsigmoid(__m256 x) {
    const __m256 e = tl_vm_exp(_mm256_or_ps(x, TL_VM_C(-0.0f)));          /* e^-|x| */
    const __m256 m = _mm256_and_ps(x, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    return _mm256_sub_ps(m, tl_vm_log1p01(e));
}

/* g logsigmoid'(x) = g / (1 + e) for x < 0, g e / (1 + e) else, e = e^-|x| (NaN: the second) */
TL_VM __m256 tl_vm_logsigmoid_grad(__m256 g, __m256 x) {
    const __m256 e = tl_vm_exp(_mm256_or_ps(x, TL_VM_C(-0.0f)));          /* e^-|x| */
    const __m256 num = _mm256_blendv_ps(e, TL_VM_C(1.0f), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    return _mm256_mul_ps(g, _mm256_div_ps(num, _mm256_add_ps(TL_VM_C(1.0f), e)));
}

/* mish(x) = x tanh(log1p(e^x)) = x n / D, n = e (e + 2), D = n + 2, e = e^x (x clamped at 44,
 * where the tanh is 1 in float32). x >= -80: in double from x and e (float); below, where e is
 * (nearly) a denormal, (x e) (e + 2) / D in float with x e rounded once (the fraction is 1). */
TL_VM __m256d tl_vm_mish_pd(__m256d x, __m256d e) {
    const __m256d n = _mm256_mul_pd(e, _mm256_add_pd(e, TL_VM_D(2.0)));
    return _mm256_div_pd(_mm256_mul_pd(x, n), _mm256_add_pd(n, TL_VM_D(2.0)));
}

TL_VM __m256 tl_vm_mish(__m256 x) {
    const tl_vm_expk ek = tl_vm_exp_parts(_mm256_min_ps(TL_VM_C(44.0f), x), x, 0);
    const __m256 e = tl_vm_expk_mul(ek, TL_VM_C(1.0f)), e2 = _mm256_add_ps(e, TL_VM_C(2.0f));
    const __m256 far = _mm256_div_ps(_mm256_mul_ps(tl_vm_expk_mul(ek, tl_vm_xfactor(x)), e2),
                                     tl_vm_fma(e, e2, TL_VM_C(2.0f)));
    return _mm256_blendv_ps(TL_VM_PD2(tl_vm_mish_pd, x, e), far,
                            _mm256_cmp_ps(x, TL_VM_C(-80.0f), _CMP_LT_OQ));
}

/* mish' = t + x sigmoid(x) (1 - t^2) = (n D + 4 x e (1 + e)) / D^2, in double */
TL_VM __m256d tl_vm_dmish_pd(__m256d x, __m256d e) {
    const __m256d n = _mm256_mul_pd(e, _mm256_add_pd(e, TL_VM_D(2.0)));
    const __m256d d = _mm256_add_pd(n, TL_VM_D(2.0));
    const __m256d c = _mm256_mul_pd(_mm256_mul_pd(TL_VM_D(4.0), x), _mm256_mul_pd(e, _mm256_add_pd(e, TL_VM_D(1.0))));
    return _mm256_div_pd(_mm256_fmadd_pd(n, d, c), _mm256_mul_pd(d, d));
}

/* g mish'(x): the double evaluation for -80 <= x <= 30; above, 1 (the second term is below
 * 1e-24; NaN at +inf, as PyTorch); below, t + (x e) / (1 + e) w^2 in float, t = n / D,
 * w = 2 (1 + e) / D (1 - t^2 = w^2), x e rounded once (NaN at -inf) */
TL_VM __m256 tl_vm_mish_grad(__m256 g, __m256 x) {
    const tl_vm_expk ek = tl_vm_exp_parts(_mm256_min_ps(TL_VM_C(44.0f), x), x, 0);
    const __m256 e = tl_vm_expk_mul(ek, TL_VM_C(1.0f)), e1 = _mm256_add_ps(e, TL_VM_C(1.0f));
    const __m256 e2 = _mm256_add_ps(e, TL_VM_C(2.0f));
    const __m256 d = tl_vm_fma(e, e2, TL_VM_C(2.0f));
    const __m256 t = _mm256_div_ps(_mm256_mul_ps(e, e2), d);
    const __m256 w = _mm256_div_ps(_mm256_add_ps(e1, e1), d);
    const __m256 xs = _mm256_div_ps(tl_vm_expk_mul(ek, tl_vm_xfactor(x)), e1);
    const __m256 far = tl_vm_fma(xs, _mm256_mul_ps(w, w), t);
    __m256 r = _mm256_blendv_ps(TL_VM_PD2(tl_vm_dmish_pd, x, e), far,
                                _mm256_cmp_ps(x, TL_VM_C(-80.0f), _CMP_LT_OQ));
    r = _mm256_blendv_ps(r, tl_vm_fma(x, _mm256_setzero_ps(), TL_VM_C(1.0f)),
                         _mm256_cmp_ps(x, TL_VM_C(30.0f), _CMP_GT_OQ));
    return _mm256_mul_ps(g, r);
}

/* ---- loops: contiguous float arrays, 8 lanes at a time; the tail runs the same vector code
 * on a masked load (unused lanes read as 0, never stored) ---- */
TL_VM __m256i tl_vm_tail_mask(int64_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
}

/* out[i] = F(x[i]); p0, p1 (the row's scalars) unused */
#define TL_VM_MAP1(NAME, F)                                                                     \
    __attribute__((target("avx2,fma"))) static void NAME(float *o, const float *x, int64_t n,   \
                                                         float p0, float p1) {                  \
        (void)p0; (void)p1;                                                                     \
        int64_t i = 0;                                                                          \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, F(_mm256_loadu_ps(x + i)));          \
        if (i < n) {                                                                            \
            const __m256i m = tl_vm_tail_mask(n - i);                                           \
            _mm256_maskstore_ps(o + i, m, F(_mm256_maskload_ps(x + i, m)));                     \
        }                                                                                       \
    }

/* out[i] = F(g[i], x[i]) */
#define TL_VM_MAP2(NAME, F)                                                                     \
    __attribute__((target("avx2,fma"))) static void NAME(float *o, const float *g,              \
                                                         const float *x, int64_t n,             \
                                                         float p0, float p1) {                  \
        (void)p0; (void)p1;                                                                     \
        int64_t i = 0;                                                                          \
        for (; i + 8 <= n; i += 8)                                                              \
            _mm256_storeu_ps(o + i, F(_mm256_loadu_ps(g + i), _mm256_loadu_ps(x + i)));         \
        if (i < n) {                                                                            \
            const __m256i m = tl_vm_tail_mask(n - i);                                           \
            _mm256_maskstore_ps(o + i, m, F(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(x + i, m))); \
        }                                                                                       \
    }

/* F(x, p0, p1) and F(g, x, p0, p1): the same with the row's scalars broadcast */
#define TL_VM_MAP1P(NAME, F)                                                                    \
    __attribute__((target("avx2,fma"))) static void NAME(float *o, const float *x, int64_t n,   \
                                                         float p0, float p1) {                  \
        const __m256 a = _mm256_set1_ps(p0), b = _mm256_set1_ps(p1);                            \
        int64_t i = 0;                                                                          \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, F(_mm256_loadu_ps(x + i), a, b));    \
        if (i < n) {                                                                            \
            const __m256i m = tl_vm_tail_mask(n - i);                                           \
            _mm256_maskstore_ps(o + i, m, F(_mm256_maskload_ps(x + i, m), a, b));               \
        }                                                                                       \
    }
#define TL_VM_MAP2P(NAME, F)                                                                    \
    __attribute__((target("avx2,fma"))) static void NAME(float *o, const float *g,              \
                                                         const float *x, int64_t n,             \
                                                         float p0, float p1) {                  \
        const __m256 a = _mm256_set1_ps(p0), b = _mm256_set1_ps(p1);                            \
        int64_t i = 0;                                                                          \
        for (; i + 8 <= n; i += 8)                                                              \
            _mm256_storeu_ps(o + i, F(_mm256_loadu_ps(g + i), _mm256_loadu_ps(x + i), a, b));   \
        if (i < n) {                                                                            \
            const __m256i m = tl_vm_tail_mask(n - i);                                           \
            _mm256_maskstore_ps(o + i, m,                                                       \
                                F(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(x + i, m), a, b)); \
        }                                                                                       \
    }

/* ---- AVX-512F: e^x on 16 lanes for the fused half loops of elementwise.c, the operations of
 * tl_vm_exp lane by lane (the same bits: its two paths agree on every lane they both accept,
 * |x| <= 86, so which lanes share a vector does not matter) ---- */
#define TL_VM512 static inline __attribute__((always_inline, target("avx512f")))
#define TL_VM512_C(v) _mm512_set1_ps(v)

/* tl_vm_exp_reduce without the l term, 16 lanes */
TL_VM512 __m512 tl_vm512_exp_reduce(__m512 h, __m512 *kf) {
    *kf = _mm512_fmadd_ps(h, TL_VM512_C(1.44269504088896341f), TL_VM512_C(TL_VM_MAGIC));
    const __m512 k = _mm512_sub_ps(*kf, TL_VM512_C(TL_VM_MAGIC));
    __m512 r = _mm512_fnmadd_ps(k, TL_VM512_C(0.693145751953125f), h);
    r = _mm512_fnmadd_ps(k, TL_VM512_C(1.428606765330187e-06f), r);
    static const float c[] = {0.0013882523635402322f, 0.00836651399731636f, 0.04166720062494278f,
                              0.1666654348373413f, 0.4999999701976776f};
    __m512 p = TL_VM512_C(c[0]);
    for (int i = 1; i < 5; i++) p = _mm512_fmadd_ps(p, r, TL_VM512_C(c[i]));
    return _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
}

TL_VM512 __m512 tl_vm512_exp(__m512 x) {
    __m512 kf;
    const __m512 u = tl_vm512_exp_reduce(x, &kf);
    const __m512 y = _mm512_castsi512_ps(_mm512_add_epi32(
        _mm512_castps_si512(_mm512_add_ps(u, TL_VM512_C(1.0f))),
        _mm512_slli_epi32(_mm512_castps_si512(kf), 23)));
    const __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(
        _mm512_castps_si512(TL_VM512_C(-0.0f)), _mm512_castps_si512(x)));
    if (__builtin_expect(_mm512_cmp_ps_mask(ax, TL_VM512_C(86.0f), _CMP_NLE_UQ) != 0, 0)) {
        /* tl_vm_mul_exp(1, x, x, 0): clamp (NaN kept), two normal factors 2^k1 2^k2 */
        const __m512 h = _mm512_max_ps(TL_VM512_C(-120.0f), _mm512_min_ps(TL_VM512_C(89.0f), x));
        const __m512 v = tl_vm512_exp_reduce(h, &kf);
        const __m512i ki = _mm512_sub_epi32(_mm512_castps_si512(kf),
                                            _mm512_castps_si512(TL_VM512_C(TL_VM_MAGIC)));
        const __m512i k1 = _mm512_srai_epi32(ki, 1), k2 = _mm512_sub_epi32(ki, k1);
        const __m512i bias = _mm512_set1_epi32(127);
        const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k1, bias), 23));
        const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k2, bias), 23));
        const __m512 one = TL_VM512_C(1.0f);
        return _mm512_mul_ps(_mm512_mul_ps(_mm512_fmadd_ps(one, v, one), s1), s2);
    }
    return y;
}

TL_VM_MAP1(tl_vm_exp_loop, tl_vm_exp)
TL_VM_MAP1(tl_vm_log_loop, tl_vm_log_any)
TL_VM_MAP1(tl_vm_tanh_loop, tl_vm_tanh)
TL_VM_MAP1(tl_vm_sigmoid_loop, tl_vm_sigmoid)
TL_VM_MAP1(tl_vm_gelu_loop, tl_vm_gelu)
TL_VM_MAP1(tl_vm_erf_loop, tl_vm_erf)
TL_VM_MAP2(tl_vm_gelu_grad_loop, tl_vm_gelu_grad)
TL_VM_MAP2(tl_vm_erf_grad_loop, tl_vm_erf_grad)
TL_VM_MAP1(tl_vm_silu_loop, tl_vm_silu)
TL_VM_MAP2(tl_vm_silu_grad_loop, tl_vm_silu_grad)
TL_VM_MAP1P(tl_vm_softplus_loop, tl_vm_softplus)
TL_VM_MAP2P(tl_vm_softplus_grad_loop, tl_vm_softplus_grad)
TL_VM_MAP1P(tl_vm_elu_loop, tl_vm_elu)
TL_VM_MAP2P(tl_vm_elu_grad_loop, tl_vm_elu_grad)
TL_VM_MAP1(tl_vm_logsigmoid_loop, tl_vm_logsigmoid)
TL_VM_MAP2(tl_vm_logsigmoid_grad_loop, tl_vm_logsigmoid_grad)
TL_VM_MAP1(tl_vm_mish_loop, tl_vm_mish)
TL_VM_MAP2(tl_vm_mish_grad_loop, tl_vm_mish_grad)

#endif
