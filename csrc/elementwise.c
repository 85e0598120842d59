/* elementwise.c - unary, binary and ternary (where) elementwise kernels.
 *
 * The tables below are the single place where each elementwise op is defined: its forward
 * expression next to its derivative, like PyTorch's derivatives.yaml. elementwise.inc expands
 * them into strided, broadcasting loops once per dtype and instruction set (instantiate_float.h:
 * float and double, portable and AVX2+FMA; int64 and bool, portable), each a range kernel that
 * tl_parallel_span (pool.c) hands chunks of the flat index space to; the tl_* entry points at
 * the bottom pick the AVX2+FMA build at run time when the CPU has it.
 *
 * In the expressions: x = input, y = forward output, g = output gradient, p0/p1 = scalar
 * parameters (slope, clamp bounds, exponent). Backward writes gx = dL/dx (overwrites).
 *
 * The AVX2 float32 build runs the contiguous loops of exp, log, tanh, sigmoid, erf and gelu
 * (and gelu's and erf's backward) through csrc/vmath.h (the list is TL_VMATH_OPS below): the
 * same functions, vectorised, with error bound 4 ulp against float64 (measured at most 2.4;
 * tested by tests/test_vmath.py), on 8 lanes, or on 16 with AVX-512 at SIMD level 2 (the same
 * bits: tests/test_vmath_avx512.py). Strided loops and the portable build use these expressions
 * with libm, within the same bound. silu, softplus, elu/selu, logsigmoid and mish (forward and
 * backward) have vector loops too, within 4 ulp (tests/test_vmath_activations.py); their rows
 * below are PyTorch's expressions, less accurate in places (the test's module doc says where).
 */
#include <math.h>
#include <tgmath.h>
#include "half.h"
#ifdef TL_X86
#include "vmath.h"
#endif

#define SQRT1_2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794
#define TWO_OVER_SQRT_PI 1.12837916709551257390

/* x ** p for a scalar exponent as PyTorch computes it: p = 0.5 is sqrt(x) and p = -0.5 is
 * 1 / sqrt(x) (so (-inf) ** 0.5 = nan and (-0) ** 0.5 = -0, where C's pow gives inf and 0) */
#define POWS(x, p) ((p) == (T)0.5 ? sqrt(x) : (p) == (T)-0.5 ? (T)1 / sqrt(x) : pow(x, p))

/* v bounded by b: b where v CMP b or b is NaN (PyTorch's clamp propagates a NaN bound) */
#define BOUND(v, CMP, b) (((v) CMP (b) || (b) != (b)) ? (b) : (v))

/* the largest x whose e^x is finite in T (float: 0x1.62e42ep+6 = 88.7228317; double:
 * 709.782712893384), and sinh / cosh overflowing beyond it, as PyTorch's vectorised kernels */
#define EXP_MAX_ARG(T) (sizeof(T) == sizeof(float) ? (T)0x1.62e42ep+6 : (T)0x1.62e42fefa39efp+9)
#define SINH_(x) (fabs(x) > EXP_MAX_ARG(T) ? copysign((T)INFINITY, x) : sinh(x))
#define COSH_(x) (fabs(x) > EXP_MAX_ARG(T) ? (T)INFINITY : cosh(x))

#define ATAN2_RECIP(a, b) ((a) * (a) + (b) * (b) == 0 ? (T)0 : (T)1 / ((a) * (a) + (b) * (b)))

/* min(max(v, 0), 6) with NaN passing through (hardsigmoid, hardswish) */
#define RELU6_(v) ((v) < 0 ? (T)0 : (v) > 6 ? (T)6 : (v))
/* PyTorch's celu backward input scale: 1.0 / alpha.toFloat(), in double, then T */
#define CELU_BWD_SCALE(a) ((T)(1.0 / (double)(float)(a)))

/* r ** 3 for rsqrt's derivative, multiplied out (PyTorch: result.pow(3)) */
#define RSQRT3(r) ((r) * (r) * (r))

/*        op          forward  y = f(x)                                    backward  gx = g * f'(x) */
#define TL_UNARY_FLOAT_OPS(X)                                                                     \
    X(NEG,        -x,                                                          -g)                \
    /* g * sign(x), multiplied as PyTorch's g * sgn(x): sign(NaN) = sign(0) = 0, NaN g at 0 is NaN */ \
    X(ABS,        fabs(x),                        g * (x > 0 ? (T)1 : (x < 0 ? (T)-1 : (T)0)))  \
    X(EXP,        exp(x),                                                      g * y)             \
    X(LOG,        log(x),                                                      g / x)             \
    X(SQRT,       sqrt(x),                                             g / ((T)2 * y))            \
    /* the derivative's x * x in double: a rounded float square is far off inside exp */         \
    X(ERF,        erf(x),                   g * (T)(TWO_OVER_SQRT_PI * exp(-(double)x * (double)x))) \
    X(SIN,        sin(x),                                                g * cos(x))              \
    X(COS,        cos(x),                                               -g * sin(x))              \
    X(TANH,       tanh(x),                                         g * ((T)1 - y * y))            \
    /* split at 0 so exp never overflows: y = 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below */        \
    X(SIGMOID,    x >= 0 ? (T)1 / ((T)1 + exp(-x)) : exp(x) / ((T)1 + exp(x)), g * y * ((T)1 - y)) \
    /* NaN passes through, forward and gradient (PyTorch: relu(nan) = nan; its VJP zeroes only */ \
    /* where x <= 0, so a NaN input passes g); relu(-0) = -0 as torch.relu gives */              \
    X(RELU,       x < 0 ? (T)0 : x,                                     x <= 0 ? (T)0 : g)        \
    X(LEAKY_RELU, x > 0 ? x : p0 * x,                                   x > 0 ? g : p0 * g)       \
    /* exact GELU: x * Phi(x), Phi(x) = erfc(-x/sqrt2)/2 (not (1 + erf)/2, which cancels for x < 0); */ \
    /* float widens to double so the rounding of x/sqrt2 cannot spoil erfc's relative accuracy */ \
    X(GELU,       (T)(0.5 * (double)x * erfc(-(double)x * SQRT1_2)),                              \
                  g * (T)(0.5 * erfc(-(double)x * SQRT1_2)                                         \
                          + (double)x * INV_SQRT_2PI * exp(-0.5 * (double)x * (double)x)))         \
    /* min(max(x, p0), p1): a NaN x or bound gives NaN, and p1 wins when p0 > p1 (PyTorch: */    \
    /* clamp(x, min=8, max=2) is all 2); the gradient flows where p0 <= x <= p1 (PyTorch's rule) */ \
    X(CLAMP,      BOUND(BOUND(x, <, p0), >, p1),                   (x >= p0 && x <= p1) ? g : (T)0) \
    /* x ** p0 for a scalar exponent (POWS: +-0.5 as sqrt, so (-inf) ** 0.5 = nan, as PyTorch */ \
    /* and NumPy); the p0 == 0 case has a zero gradient everywhere */                              \
    X(POW_SCALAR, POWS(x, p0),                 p0 == 0 ? (T)0 : g * p0 * POWS(x, p0 - (T)1))  \
    /* a tensor with a Python number p0 (rounded to T first, as PyTorch does): x + 0.5, 2 / x... */ \
    X(ADD_SCALAR,  x + p0,                                                      g)                \
    X(MUL_SCALAR,  x * p0,                                                      g * p0)           \
    X(RSUB_SCALAR, p0 - x,                                                      -g)               \
    X(DIV_SCALAR,  x / p0,                                                      g / p0)           \
    X(RDIV_SCALAR, p0 / x,                                                      -(g * p0) / (x * x)) \
    /* |x| ** p0, a term of the p0-norm's sum (p1 = p0 - 1). Its backward is the norm's VJP, so */ \
    /* there y is the norm (broadcast over the reduced dims), not this row's output: g times */   \
    /* x / y (p0 = 2) or sign(x) |x|^p1 / y^p1, 0 where y == 0 (no derivative at the zero vector: */ \
    /* PyTorch's choice) or x == 0 (p0 < 1: 0 * inf); ops/reduce.py's Norm writes the same */      \
    X(NORM_TERM,   POWS(fabs(x), p0),                                                              \
                   (y == 0 ? (T)0 : p0 == 2 ? x / y : x == 0 ? (T)0                                \
                    : (x > 0 ? (T)1 : x < 0 ? (T)-1 : (T)0) * POWS(fabs(x), p1) / POWS(y, p1)) * g) \
    /* The rows below follow PyTorch's CPU kernels (aten/src/ATen/native/cpu/Activation.cpp,  */ \
    /* derivatives.yaml) expression for expression, so NaN, +-inf and 0 give PyTorch's answers; */ \
    /* where PyTorch's derivative reads its output, these recompute it from x (the node saves  */ \
    /* x, not y: no output -> node -> output cycle). 1 / x; d = -g * (1/x)^2 (PyTorch's -g*y*y) */ \
    X(RECIPROCAL,  (T)1 / x,                                  -g * (((T)1 / x) * ((T)1 / x)))    \
    /* 1 / sqrt(x); d = -0.5 * g * y^3 with y recomputed */                                       \
    X(RSQRT,       (T)1 / sqrt(x),                  (T)-0.5 * g * RSQRT3((T)1 / sqrt(x)))            \
    /* log(1 + x) and e^x - 1 by libm's log1p / expm1: exact near 0, where log(1 + x) is not; */ \
    /* expm1's d = g * (y + 1) with y recomputed (PyTorch's: 0, not e^x, once y rounds to -1) */   \
    X(LOG1P,       log1p(x),                                               g / (x + (T)1))      \
    X(EXPM1,       expm1(x),                                           g * (expm1(x) + (T)1))   \
    /* sign(NaN) = 0 as PyTorch's (0 < x) - (x < 0); the gradient is 0 everywhere (zeros_like) */ \
    X(SIGN,        (T)((x > 0) - (x < 0)),                                 (T)0)                 \
    /* x * sigmoid(x) as x / (1 + e^-x); d = s (1 + x (1 - s)), NaN at -inf as PyTorch */          \
    X(SILU,        x / ((T)1 + exp(-x)),                                                          \
                   g * ((T)1 / ((T)1 + exp(-x))) * ((T)1 + x * ((T)1 - (T)1 / ((T)1 + exp(-x))))) \
    /* p0 = beta, p1 = threshold: x where x * beta > threshold, else log1p(e^(x beta)) / beta; */ \
    /* d = g z / (z + 1), z = e^(x beta), and g above the threshold */                           \
    X(SOFTPLUS,    x * p0 > p1 ? x : log1p(exp(x * p0)) / p0,                                     \
                   x * p0 > p1 ? g : g * exp(x * p0) / (exp(x * p0) + (T)1))                      \
    /* p0 = alpha, p1 = scale (1 for elu; selu's constants for selu): scale * x for x > 0, */   \
    /* alpha * scale * (e^x - 1) otherwise. NaN takes the second branch: a NaN gradient, as */    \
    /* PyTorch's vectorised kernels give (its scalar tail loop gives g * scale there instead) */  \
    X(ELU,         x > 0 ? x * p1 : expm1(x) * (p0 * p1),                                         \
                   x > 0 ? g * p1 : g * (p0 * p1) * exp(x))                                       \
    /* clamp(x, p0, p1) forward; the gradient is g strictly inside the bounds, 0 at and beyond */ \
    /* them and at NaN (PyTorch's vectorised kernel, and clamp's rule; its scalar tail loop */    \
    /* passes g at NaN) */                                                                        \
    X(HARDTANH,    BOUND(BOUND(x, <, p0), >, p1),                 (x > p0 && x < p1) ? g : (T)0) \
    /* min(x, 0) - log1p(e^-|x|); d = 1 - z / (1 + z) for x < 0, z / (1 + z) else, z = e^-|x| */  \
    X(LOG_SIGMOID, (x < 0 ? x : (T)0) - log1p(exp(-fabs(x))),                                     \
                   g * (x < 0 ? (T)1 - exp(-fabs(x)) / ((T)1 + exp(-fabs(x)))                      \
                                : exp(-fabs(x)) / ((T)1 + exp(-fabs(x)))))                         \
    /* x tanh(softplus(x)); d = t + x sigmoid(x) (1 - t^2), t = tanh(log1p(e^x)) */              \
    X(MISH,        x * tanh(log1p(exp(x))),                                                       \
                   g * (tanh(log1p(exp(x))) + x * ((T)1 / ((T)1 + exp(-x)))                        \
                        * ((T)1 - tanh(log1p(exp(x))) * tanh(log1p(exp(x))))))                     \
    /* x / (1 + |x|), and the gradient PyTorch's composite (x / (|x| + 1)) gives: the quotient */ \
    /* rule's two terms, the second through abs (times sign(x)); NaN at +-inf, as PyTorch */     \
    X(SOFTSIGN,    x / (fabs(x) + (T)1),                                                          \
                   g / (fabs(x) + (T)1)                                                           \
                   + -g * ((x / (fabs(x) + (T)1)) / (fabs(x) + (T)1)) * (T)((x > 0) - (x < 0))) \
    /* Rounding (PyTorch's kernels: std::floor, ceil, nearbyint, trunc; NaN, +-inf and -0 pass */ \
    /* through). The gradient of floor, ceil, round and trunc is 0 everywhere, NaN inputs and  */ \
    /* NaN or inf g included (PyTorch's zeros_like(grad)); frac's is g itself.                 */ \
    X(FLOOR,       floor(x),                                                 (T)0)                \
    X(CEIL,        ceil(x),                                                  (T)0)                \
    X(TRUNC,       trunc(x),                                                 (T)0)                \
    /* half to even (nearbyint in the default rounding mode). p0 = 10^|decimals| (1: plain     */ \
    /* round), p1 != 0 for decimals < 0: PyTorch's round_decimals_kernel, x * p0 rounded, / p0  */ \
    /* (or x / p0 rounded, * p0), p0 rounded to T first as PyTorch's opmath scalar is           */ \
    X(ROUND,       p0 == (T)1 ? nearbyint(x)                                                     \
                   : p1 != 0 ? nearbyint(x / p0) * p0 : nearbyint(x * p0) / p0,   (T)0)           \
    /* x - trunc(x), the sign of x's (-2.5 -> -0.5; -2 -> +0 and +-inf -> NaN, as PyTorch)      */ \
    X(FRAC,        x - trunc(x),                                             g)                   \
    /* Trig and hyperbolic: libm's functions, as PyTorch's scalar kernels; the derivatives are */ \
    /* PyTorch's derivatives.yaml expressions (tan's result recomputed: the node saves x), so */  \
    /* the domain edges give its answers: asin'(+-1) = acosh'(1) = atanh'(+-1) = inf, NaN out */  \
    /* of the domain. 1 + tan^2 */                                                                \
    X(TAN,         tan(x),                                       g * ((T)1 + tan(x) * tan(x)))    \
    /* rsqrt(-x * x + 1) and -rsqrt(-x * x + 1) */                                                 \
    X(ASIN,        asin(x),                                 g * ((T)1 / sqrt(-x * x + (T)1)))      \
    X(ACOS,        acos(x),                               g * -((T)1 / sqrt(-x * x + (T)1)))       \
    X(ATAN,        atan(x),                                          g / (x * x + (T)1))           \
    /* PyTorch's vectorised sinh and cosh (any tensor of 16+ elements) overflow to +-inf once  */ \
    /* e^|x| does (|x| > EXP_MAX_ARG, 88.72 in float, 709.78 in double) where libm's (its      */ \
    /* scalar tail loop) stays finite up to 89.4 / 710.5: these give the vectorised answers,   */ \
    /* forward and in each other's derivative */                                                  \
    X(SINH,        SINH_(x),                                                 g * COSH_(x))        \
    X(COSH,        COSH_(x),                                                 g * SINH_(x))        \
    /* rsqrt(x * x + 1), rsqrt(x * x - 1) (x * x: PyTorch's self.pow(2)), 1 / (1 - x * x) */      \
    X(ASINH,       asinh(x),                                 g * ((T)1 / sqrt(x * x + (T)1)))      \
    X(ACOSH,       acosh(x),                                 g * ((T)1 / sqrt(x * x - (T)1)))      \
    X(ATANH,       atanh(x),                                          g / ((T)1 - x * x))           \
    /* Activations, PyTorch's kernels (aten/src/ATen/native/cpu/Activation.cpp); where its     */ \
    /* vectorised and scalar loops disagree (at NaN) these give the vectorised answer, what it */ \
    /* returns for 16+ elements. hardsigmoid: min(max(x + 3, 0), 6) / 6 (NaN passes); d = g /  */ \
    /* 6 strictly inside (-3, 3), with 1/6 a float constant in both dtypes as PyTorch's        */ \
    X(HARDSIGMOID, RELU6_(x + (T)3) / (T)6,                                                       \
                   (x > (T)-3 && x < (T)3) ? g * (T)(1.0f / 6.0f) : (T)0)                          \
    /* x * min(max(x + 3, 0), 6) / 6; d = 0 for x <= -3, g for x >= 3, g (x / 3 + 1/2) between  */ \
    /* and at NaN (a NaN gradient: the vectorised kernel; its scalar loop passes g) */            \
    X(HARDSWISH,   x * RELU6_(x + (T)3) / (T)6,                                                   \
                   x <= (T)-3 ? (T)0 : x >= (T)3 ? g : g * (x / (T)3 + (T)0.5))                    \
    /* p0 = alpha, p1 = 1 / alpha: elu with input scale 1 / alpha (PyTorch's celu); the        */ \
    /* backward's scale is 1 / (float)alpha in double, as PyTorch's derivatives.yaml writes it */ \
    X(CELU,        x > 0 ? x : expm1(x * p1) * p0,                                                \
                   x > 0 ? g : g * CELU_BWD_SCALE(p0) * p0 * exp(x * CELU_BWD_SCALE(p0)))          \
    /* p0 = lambda. softshrink: x -+ lambda outside [-lambda, lambda], +0 inside, NaN stays     */ \
    /* NaN; hardshrink: x outside, +0 inside. Both pass g strictly outside, 0 at and inside    */ \
    /* the bounds and at NaN (the vectorised kernels; the scalar loop passes g at NaN) */         \
    X(SOFTSHRINK,  x != x ? x : x > p0 ? x - p0 : x < -p0 ? x + p0 : (T)0,                         \
                   (x < -p0 || x > p0) ? g : (T)0)                                                 \
    X(HARDSHRINK,  (x >= -p0 && x <= p0) ? (T)0 : x,                 (x < -p0 || x > p0) ? g : (T)0) \
    /* p0 = threshold, p1 = value: value where x <= threshold, else x (NaN passes, with g) */    \
    X(THRESHOLD,   x <= p0 ? p1 : x,                                        x <= p0 ? (T)0 : g)

/*        op        out = f(a, b), same dtype as the inputs (float and int64; WRAP: int64 in
 *                  two's complement as PyTorch, through unsigned arithmetic, elementwise.inc) */
#define TL_BINARY_ARITH_OPS(X)                                                                    \
    X(ADD,      WRAP(a, +, b))                                                                    \
    X(SUB,      WRAP(a, -, b))                                                                    \
    X(MUL,      WRAP(a, *, b))                                                                    \
    /* NaN in either input propagates, as in PyTorch */                                          \
    X(MAXIMUM,  (a != a || b != b) ? a + b : (a > b ? a : b))                                     \
    X(MINIMUM,  (a != a || b != b) ? a + b : (a < b ? a : b))

/* float dtypes only (Python converts integer inputs first, so no integer division by zero) */
#define TL_BINARY_FLOAT_OPS(X)                                                                    \
    X(DIV,      a / b)                                                                            \
    X(POW,      pow(a, b))                                                                        \
    X(ATAN2,    atan2(a, b))                                                                      \
    /* PyTorch's logaddexp kernel: max(a, b) + log1p(e^-|a - b|), and a itself where a == b is */ \
    /* infinite (inf - inf would be NaN); a NaN on either side gives NaN */                      \
    X(LOGADDEXP, (a == b && fabs(a) == (T)INFINITY) ? a                                           \
                 : (a > b ? a : b) + log1p(exp(-fabs(a - b))))                                    \
    X(HYPOT,    hypot(a, b))

/* The C VJPs of binary ops (tl_binary_backward): ga = dL/da and gb = dL/db from the output
 * gradient g and the inputs a, b (the forward above). Each is the derivative its op's row in
 * tinygrad_lab/ops/elementwise.py also writes with Tensor ops (`formula`, for create_graph),
 * in the same order of operations, so the two agree to the last bit (tests/test_derivatives.py
 * compares them, at 0, ties, +-inf and NaN too).
 *        op        ga = g * d(out)/da                          gb = g * d(out)/db */
#define TL_BINARY_GRAD_OPS(X)                                                                     \
    X(MUL,      g * b,                                          g * a)                            \
    /* -g * ((a / b) / b), PyTorch's order: b * b would overflow where a / b / b does not */     \
    X(DIV,      g / b,                                          -g * ((a / b) / b))               \
    /* PyTorch's pow_backward: ga is 0 where b == 0 (0 ** -1 would give inf * 0 = NaN), gb is */ \
    /* 0 where a == 0 and b >= 0 (log(0) = -inf); out = a ** b recomputed, as the forward did */ \
    X(POW,      b == 0 ? (T)0 : g * b * pow(a, b - (T)1),                                         \
                (a == 0 && b >= 0) ? (T)0 : g * pow(a, b) * log(a))                               \
    /* the winner takes g, a tie splits it 0.5 / 0.5, the loser gets 0; a NaN on either side */  \
    /* is neither a win nor a tie nor a loss, so both take g (PyTorch's masked_fill rule) */      \
    X(MAXIMUM,  a < b ? (T)0 : a == b ? g * (T)0.5 : g,         b < a ? (T)0 : a == b ? g * (T)0.5 : g) \
    X(MINIMUM,  a > b ? (T)0 : a == b ? g * (T)0.5 : g,         b > a ? (T)0 : a == b ? g * (T)0.5 : g) \
    /* PyTorch's atan2_backward: g * b * recip, g * -a * recip, recip = 1 / (a a + b b), and 0  */ \
    /* where a a + b b is 0 (at the origin, or where both squares underflow: a 0 gradient) */       \
    X(ATAN2,    g * b * ATAN2_RECIP(a, b),                      g * -a * ATAN2_RECIP(a, b))       \
    /* derivatives.yaml: g / (1 + e^(b - a)), g / (1 + e^(a - b)) */                               \
    X(LOGADDEXP, g / ((T)1 + exp(b - a)),                       g / ((T)1 + exp(a - b)))          \
    /* g * a / result, g * b / result, the result recomputed (NaN at a = b = 0: 0 / 0, as PyTorch) */ \
    X(HYPOT,    g * a / hypot(a, b),                            g * b / hypot(a, b))

/* out is bool (uint8) */
#define TL_COMPARE_OPS(X)                                                                         \
    X(EQ, a == b) X(NE, a != b) X(LT, a < b) X(LE, a <= b) X(GT, a > b) X(GE, a >= b)

#ifdef TL_X86
/* Contiguous float32 loops from csrc/vmath.h that replace the expressions above in the AVX2
 * build: tl_vm_<name>_loop on 8 lanes, or tl_vm512_<name>_loop on 16 at SIMD level 2 (the CPU
 * has AVX-512; the same bits). none: no loop, the expression is used.
 *        op        forward: y[i] = f(x[i])    backward: gx[i] = g[i] * f'(x[i]) */
#define TL_VMATH_OPS(X)                                                                           \
    X(EXP,         exp,                        none)                                              \
    X(LOG,         log,                        none)                                              \
    X(TANH,        tanh,                       none)                                              \
    X(SIGMOID,     sigmoid,                    none)                                              \
    X(ERF,         erf,                        erf_grad)                                          \
    X(GELU,        gelu,                       gelu_grad)                                         \
    X(SILU,        silu,                       silu_grad)                                         \
    X(SOFTPLUS,    softplus,                   softplus_grad)                                     \
    X(ELU,         elu,                        elu_grad)                                          \
    X(LOG_SIGMOID, logsigmoid,                 logsigmoid_grad)                                   \
    X(MISH,        mish,                       mish_grad)
#define tl_vm_none_loop NULL
#define tl_vm512_none_loop NULL

/* p0, p1: the row's scalars, rounded to float (softplus's beta and threshold, elu's alpha, scale) */
typedef void (*tl_vm_fwd_fn)(float *y, const float *x, int64_t n, float p0, float p1);
typedef void (*tl_vm_bwd_fn)(float *gx, const float *g, const float *x, int64_t n, float p0, float p1);

/* the loop of op at the machine's width (NULL: none); called from the AVX2 build only */
static tl_vm_fwd_fn vmath_fwd(int op) {
    const int wide = tl__simd >= 2;
    switch (op) {
#define X(NAME, FWD, BWD) case TL_##NAME: return wide ? tl_vm512_##FWD##_loop : tl_vm_##FWD##_loop;
        TL_VMATH_OPS(X)
#undef X
        default: return NULL;
    }
}

static tl_vm_bwd_fn vmath_bwd(int op) {
    const int wide = tl__simd >= 2;
    switch (op) {
#define X(NAME, FWD, BWD) case TL_##NAME: return wide ? tl_vm512_##BWD##_loop : tl_vm_##BWD##_loop;
        TL_VMATH_OPS(X)
#undef X
        default: return NULL;
    }
}

/* The same vmath functions on n contiguous halves in one pass over registers: 8 halves widened
 * (exact), the float32 function, rounded back (half.h's 8-lane conversions), no float32 buffer.
 * Lanes are independent and the tail runs the same code on zero-padded lanes, so the bits are
 * those of the float32 loop on the widened values rounded once (the block path's). */
#define HALF_VM_BODY(DT, F)                                                                       \
    do {                                                                                          \
        int64_t i = 0;                                                                            \
        for (; i + 8 <= n; i += 8) tl_half_store8(DT, o + i, F(tl_half_load8(DT, x + i)));        \
        if (i < n) {                                                                              \
            uint16_t t[8] = {0};                                                                  \
            for (int64_t j = 0; j < n - i; j++) t[j] = x[i + j];                                  \
            tl_half_store8(DT, t, F(tl_half_load8(DT, t)));                                       \
            for (int64_t j = 0; j < n - i; j++) o[i + j] = t[j];                                  \
        }                                                                                         \
    } while (0)
#define HALF_VM_MAP1(NAME, F)                                                                     \
    __attribute__((target("avx2,fma,f16c")))                                                      \
    static void NAME(int dt, uint16_t *o, const uint16_t *x, int64_t n) {                         \
        if (dt == TL_F16) HALF_VM_BODY(TL_F16, F);                                                \
        else HALF_VM_BODY(TL_BF16, F);                                                            \
    }
HALF_VM_MAP1(half_vm_exp, tl_vm_exp)
HALF_VM_MAP1(half_vm_log, tl_vm_log_any)
HALF_VM_MAP1(half_vm_tanh, tl_vm_tanh)
HALF_VM_MAP1(half_vm_sigmoid, tl_vm_sigmoid)
HALF_VM_MAP1(half_vm_erf, tl_vm_erf)
HALF_VM_MAP1(half_vm_gelu, tl_vm_gelu)
#undef HALF_VM_MAP1
#undef HALF_VM_BODY

/* The same on 16 lanes with AVX-512 (vmath.h's tl_vm512_* functions, the bits of the 8-lane
 * ones; half.h's 16-lane conversions), the last n % 16 by the 8-lane loop */
#define HALF_VM512_BODY(DT, F)                                                                    \
    for (; i + 16 <= n; i += 16)                                                                  \
        _mm256_storeu_si256((__m256i *)(o + i), tl_half_round16(DT, F(tl_half_load16(DT, x + i))))
#define HALF_VM512_MAP1(NAME, F, TAIL)                                                            \
    __attribute__((target(TL_VM512_TARGET ",f16c")))                                              \
    static void NAME(int dt, uint16_t *o, const uint16_t *x, int64_t n) {                         \
        int64_t i = 0;                                                                            \
        if (dt == TL_F16) HALF_VM512_BODY(TL_F16, F);                                             \
        else HALF_VM512_BODY(TL_BF16, F);                                                         \
        TAIL(dt, o + i, x + i, n - i);                                                            \
    }
HALF_VM512_MAP1(half_vm512_exp, tl_vm512_exp, half_vm_exp)
HALF_VM512_MAP1(half_vm512_log, tl_vm512_log_any, half_vm_log)
HALF_VM512_MAP1(half_vm512_tanh, tl_vm512_tanh, half_vm_tanh)
HALF_VM512_MAP1(half_vm512_sigmoid, tl_vm512_sigmoid, half_vm_sigmoid)
HALF_VM512_MAP1(half_vm512_erf, tl_vm512_erf, half_vm_erf)
HALF_VM512_MAP1(half_vm512_gelu, tl_vm512_gelu, half_vm_gelu)
#undef HALF_VM512_MAP1
#undef HALF_VM512_BODY

typedef void (*half_vm_fn)(int dt, uint16_t *o, const uint16_t *x, int64_t n);

/* the fused half loop of op, whose float32 loop is TL_VMATH_OPS's (NULL: none); wide: the
 * 16-lane one */
static half_vm_fn half_vmath_fwd(int op, int wide) {
    switch (op) {
        case TL_EXP: return wide ? half_vm512_exp : half_vm_exp;
        case TL_LOG: return wide ? half_vm512_log : half_vm_log;
        case TL_TANH: return wide ? half_vm512_tanh : half_vm_tanh;
        case TL_SIGMOID: return wide ? half_vm512_sigmoid : half_vm_sigmoid;
        case TL_ERF: return wide ? half_vm512_erf : half_vm_erf;
        case TL_GELU: return wide ? half_vm512_gelu : half_vm_gelu;
        default: return NULL;
    }
}
#endif

/* One call's arguments for the range kernels of elementwise.inc: the iterator over the
 * operands (operand 0 the output), the output buffer(s), the inputs, the op and its scalars. */
typedef struct {
    const tl_iter *it;
    int op;
    void *out, *out2;
    const void *in[3];
    double p0, p1;
} ew_args;

#define EW_ARGS(args)                                                                            \
    const ew_args *ea = (const ew_args *)(args);                                                 \
    const tl_iter *it = ea->it;                                                                  \
    const int op = ea->op;                                                                       \
    (void)op; (void)slot

/* ---- instantiate: float and double, portable and AVX2+FMA (the AVX2 float32 build takes the
 * contiguous loops of TL_VMATH_OPS from vmath.h; see elementwise.inc); int64 and bool, portable,
 * for arithmetic, comparisons and where only ---- */
#define TL_TEMPLATE "elementwise.inc"
#define TL_I64_TYPE int64_t
#define TL_U8_TYPE uint8_t
#include "instantiate_float.h"

/* Set up an iterator for `nops` operands; returns early on bad arguments or empty tensors. */
#define ITER_OR_RETURN(it, ndim, shape, n, ...)                                                  \
    tl_iter it;                                                                                  \
    {                                                                                            \
        const int64_t *_st[n] = {__VA_ARGS__};                                                   \
        int _rc = tl_iter_init(&it, ndim, shape, n, _st);                                        \
        if (_rc) return _rc;                                                                     \
        if (it.size == 0) return TL_OK;                                                          \
    }

/* Run range kernel FN over every element of iterator it, threaded when large. */
#define RUN(FN) tl_parallel_span(it.size, 1, FN, &a)

/* ---- float16 / bfloat16: convert, compute in float32, convert back ----
 * Blocks of TL_HALF_BLOCK elements: the half inputs are widened into float32 scratch, the
 * float32 kernel runs on the block (the same code, so the float32 result rounded once), the
 * outputs are rounded back (comparisons write bools). Contiguous operands: threads take ranges
 * of blocks and the conversions are vectorised; strided ones (broadcasts, views): one thread
 * walks the iterator's runs, converting element by element. Operand order in `strides` and in
 * the iterator: the outputs (nout), then the inputs (nin). */
enum { HALF_UNARY, HALF_UNARY_BWD, HALF_BINARY, HALF_BINARY_BWD };
typedef struct {
    int kind, op, dtype, nout, nin;
    void *out[2];
    const void *in[3];
    double p0, p1;
} half_args;

#define IS_COMPARE(op) ((op) >= TL_EQ && (op) <= TL_GE)   /* (ATAN2... follow the comparisons) */

typedef float half_bufs[6][TL_HALF_BLOCK];   /* 0: out, 1-3: inputs, 4: second out */

/* The float32 kernel on one block of m elements (inputs in b[1..], results in b[0] and b[4],
 * or bools in bools for a comparison). */
static int half_compute(const half_args *h, half_bufs b, uint8_t *bools, int64_t m) {
    switch (h->kind) {
        case HALF_UNARY:
            return tl_unary_forward(h->op, TL_F32, b[0], NULL, b[1], NULL, 1, &m, h->p0, h->p1);
        case HALF_UNARY_BWD:
            return tl_unary_backward(h->op, TL_F32, b[0], b[1], NULL, b[2], NULL, b[3], NULL, 1,
                                     &m, h->p0, h->p1);
        case HALF_BINARY_BWD:
            return tl_binary_backward(h->op, TL_F32, h->out[0] ? b[0] : NULL,
                                      h->out[1] ? b[4] : NULL, b[1], NULL, b[2], NULL, b[3], NULL,
                                      1, &m);
        default:
            return tl_binary_forward(h->op, TL_F32, IS_COMPARE(h->op) ? (void *)bools : (void *)b[0],
                                     NULL, b[1], NULL, b[2], NULL, 1, &m);
    }
}

static int half_is_compare(const half_args *h) { return h->kind == HALF_BINARY && IS_COMPARE(h->op); }

static int half_span(void *ctx, int64_t lo, int64_t hi, int slot) {
    const half_args *h = (const half_args *)ctx;
    half_bufs b;
    (void)slot;
    if (h->kind == HALF_BINARY && h->op <= TL_DIV &&
        tl__half_binary(h->dtype, h->op, (uint16_t *)h->out[0] + lo,
                        (const uint16_t *)h->in[0] + lo, (const uint16_t *)h->in[1] + lo, hi - lo))
        return TL_OK;   /* + - * / in one vectorised pass (half.c) */
#ifdef TL_X86
    if (h->kind == HALF_UNARY && tl__half_simd(h->dtype)) {
        const half_vm_fn f = half_vmath_fwd(h->op, tl__half_avx512());
        if (f) {        /* exp, log, tanh...: widen, vmath, round in registers */
            f(h->dtype, (uint16_t *)h->out[0] + lo, (const uint16_t *)h->in[0] + lo, hi - lo);
            return TL_OK;
        }
    }
#endif
    for (int64_t i = lo; i < hi; i += TL_HALF_BLOCK) {
        int64_t m = hi - i < TL_HALF_BLOCK ? hi - i : TL_HALF_BLOCK;
        for (int k = 0; k < h->nin; k++)
            tl__half_to_f32(h->dtype, b[k + 1], (const uint16_t *)h->in[k] + i, m);
        int rc = half_compute(h, b, (uint8_t *)h->out[0] + i, m);
        if (rc) return rc;
        if (half_is_compare(h)) continue;
        for (int k = 0; k < h->nout; k++)
            if (h->out[k]) tl__f32_to_half(h->dtype, (uint16_t *)h->out[k] + i, b[k ? 4 : 0], m);
    }
    return TL_OK;
}

static int half_strided(const half_args *h, int ndim, const int64_t *shape,
                        const int64_t *const *strides) {
    tl_iter it;
    int rc = tl_iter_init(&it, ndim, shape, h->nout + h->nin, strides);
    if (rc || it.size == 0) return rc;
    half_bufs b;
    uint8_t bools[TL_HALF_BLOCK];
    const int no = h->nout;
    do {
        for (int64_t i = 0; i < it.inner; i += TL_HALF_BLOCK) {
            int64_t m = it.inner - i < TL_HALF_BLOCK ? it.inner - i : TL_HALF_BLOCK;
            for (int k = 0; k < h->nin; k++) {
                const uint16_t *src = (const uint16_t *)h->in[k];
                const int64_t o = it.off[no + k] + i * it.istride[no + k], s = it.istride[no + k];
                for (int64_t j = 0; j < m; j++) b[k + 1][j] = tl_half_load(h->dtype, src[o + j * s]);
            }
            rc = half_compute(h, b, bools, m);
            if (rc) return rc;
            for (int k = 0; k < no; k++) {
                if (!h->out[k]) continue;
                const int64_t o = it.off[k] + i * it.istride[k], s = it.istride[k];
                if (half_is_compare(h)) {
                    for (int64_t j = 0; j < m; j++) ((uint8_t *)h->out[k])[o + j * s] = bools[j];
                } else {
                    const float *r = b[k ? 4 : 0];
                    for (int64_t j = 0; j < m; j++)
                        ((uint16_t *)h->out[k])[o + j * s] = tl_half_store(h->dtype, r[j]);
                }
            }
        }
    } while (tl_iter_next(&it));
    return TL_OK;
}

/* The half path of an entry point: `strides` holds the nout + nin operands' strides. */
static int run_half(int kind, int op, int dtype, void *out, void *out2, int nin,
                    const void *const *in, double p0, double p1, int ndim, const int64_t *shape,
                    const int64_t *const *strides) {
    if (ndim < 0 || ndim > TL_MAX_DIMS) return TL_EINVAL;
    half_args h = {kind, op, dtype, kind == HALF_BINARY_BWD ? 2 : 1, nin, {out, out2},
                   {in[0], nin > 1 ? in[1] : NULL, nin > 2 ? in[2] : NULL}, p0, p1};
    int contiguous = 1;
    for (int k = 0; k < h.nout + nin; k++) contiguous &= strides[k] == NULL;
    if (!contiguous) return half_strided(&h, ndim, shape, strides);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n > 0 ? tl_parallel_span(n, 1, half_span, &h) : TL_OK;
}

int tl_unary_forward(int op, int dtype, void *y, const int64_t *y_strides,
                     const void *x, const int64_t *x_strides, int ndim, const int64_t *shape,
                     double p0, double p1) {
    if (tl_is_half(dtype)) {
        const int64_t *st[2] = {y_strides, x_strides};
        const void *in[1] = {x};
        return run_half(HALF_UNARY, op, dtype, y, NULL, 1, in, p0, p1, ndim, shape, st);
    }
    ITER_OR_RETURN(it, ndim, shape, 2, y_strides, x_strides)
    ew_args a = {&it, op, y, NULL, {x}, p0, p1};
    switch (dtype) {
        case TL_F32: return RUN(PICK_FN(unary_fwd_f32));
        case TL_F64: return RUN(PICK_FN(unary_fwd_f64));
        case TL_I64: return RUN(unary_fwd_i64_generic);
        default: return TL_EDTYPE;
    }
}

int tl_unary_flat(int op, int dtype, void *y, const void *x, int64_t n, double p0, double p1) {
    return tl_unary_forward(op, dtype, y, NULL, x, NULL, 1, &n, p0, p1);
}

int tl_unary_backward(int op, int dtype, void *gx, const void *g, const int64_t *g_strides,
                      const void *x, const int64_t *x_strides, const void *y,
                      const int64_t *y_strides, int ndim, const int64_t *shape,
                      double p0, double p1) {
    if (tl_is_half(dtype)) {
        const int64_t *st[4] = {NULL, g_strides, x_strides, y_strides};
        const void *in[3] = {g, x, y};
        return run_half(HALF_UNARY_BWD, op, dtype, gx, NULL, 3, in, p0, p1, ndim, shape, st);
    }
    ITER_OR_RETURN(it, ndim, shape, 4, NULL, g_strides, x_strides, y_strides)
    ew_args a = {&it, op, gx, NULL, {g, x, y}, p0, p1};
    switch (dtype) {
        case TL_F32: return RUN(PICK_FN(unary_bwd_f32));
        case TL_F64: return RUN(PICK_FN(unary_bwd_f64));
        default: return TL_EDTYPE;
    }
}

int tl_unary_backward_flat(int op, int dtype, void *gx, const void *g, const void *x,
                           const void *y, int64_t n, double p0, double p1) {
    return tl_unary_backward(op, dtype, gx, g, NULL, x, NULL, y, NULL, 1, &n, p0, p1);
}

int tl_binary_forward(int op, int dtype, void *out, const int64_t *out_strides,
                      const void *a_, const int64_t *a_strides, const void *b,
                      const int64_t *b_strides, int ndim, const int64_t *shape) {
    if (tl_is_half(dtype)) {
        const int64_t *st[3] = {out_strides, a_strides, b_strides};
        const void *in[2] = {a_, b};
        return run_half(HALF_BINARY, op, dtype, out, NULL, 2, in, 0, 0, ndim, shape, st);
    }
    ITER_OR_RETURN(it, ndim, shape, 3, out_strides, a_strides, b_strides)
    ew_args a = {&it, op, out, NULL, {a_, b}, 0, 0};
    switch (dtype) {
        case TL_F32: return RUN(PICK_FN(binary_f32));
        case TL_F64: return RUN(PICK_FN(binary_f64));
        case TL_I64: return RUN(binary_i64_generic);
        case TL_BOOL: return RUN(binary_u8_generic);
        default: return TL_EDTYPE;
    }
}

int tl_binary_flat(int op, int dtype, void *out, const void *a, const void *b, int64_t n) {
    return tl_binary_forward(op, dtype, out, NULL, a, NULL, b, NULL, 1, &n);
}

int tl_binary_backward(int op, int dtype, void *ga, void *gb, const void *g,
                       const int64_t *g_strides, const void *a_, const int64_t *a_strides,
                       const void *b, const int64_t *b_strides, int ndim, const int64_t *shape) {
    switch (op) {
#define X(NAME, GA, GB) case TL_##NAME:
        TL_BINARY_GRAD_OPS(X)
#undef X
            break;
        default: return TL_EINVAL;
    }
    if (tl_is_half(dtype)) {
        const int64_t *st[5] = {NULL, NULL, g_strides, a_strides, b_strides};
        const void *in[3] = {g, a_, b};
        return run_half(HALF_BINARY_BWD, op, dtype, ga, gb, 3, in, 0, 0, ndim, shape, st);
    }
    ITER_OR_RETURN(it, ndim, shape, 4, NULL, g_strides, a_strides, b_strides)
    ew_args a = {&it, op, ga, gb, {g, a_, b}, 0, 0};
    switch (dtype) {
        case TL_F32: return RUN(PICK_FN(binary_bwd_f32));
        case TL_F64: return RUN(PICK_FN(binary_bwd_f64));
        default: return TL_EDTYPE;
    }
}

int tl_binary_backward_flat(int op, int dtype, void *ga, void *gb, const void *g, const void *a,
                            const void *b, int64_t n) {
    return tl_binary_backward(op, dtype, ga, gb, g, NULL, a, NULL, b, NULL, 1, &n);
}

int tl_where_forward(int dtype, void *out, const void *cond, const int64_t *cond_strides,
                     const void *a_, const int64_t *a_strides, const void *b,
                     const int64_t *b_strides, int ndim, const int64_t *shape) {
    ITER_OR_RETURN(it, ndim, shape, 4, NULL, cond_strides, a_strides, b_strides)
    ew_args a = {&it, 0, out, NULL, {cond, a_, b}, 0, 0};
    switch (dtype) {
        case TL_F32: return RUN(PICK_FN(where_f32));
        case TL_F64: return RUN(PICK_FN(where_f64));
        case TL_I64: return RUN(where_i64_generic);
        case TL_BOOL: return RUN(where_u8_generic);
        default: return TL_EDTYPE;
    }
}
