/* vmath_check.c - sweep float32 bit patterns through csrc/vmath.h and report the largest error
 * in float32 ulps against glibc's double functions (a development tool, not part of the build).
 *
 *     gcc -O2 -Icsrc -o /tmp/vmath_check tools/vmath_check.c -lm
 *     /tmp/vmath_check FN [STRIDE [LO HI]]
 *
 * FN: 0 exp, 1 log, 2 tanh, 3 sigmoid, 4 gelu, 5 erf, 6 gelu' (g = 1), 7 erf' (g = 1).
 * Every STRIDE-th bit pattern (default 3; 1 = exhaustive) with LO <= x <= HI (default: all,
 * NaNs included). An ulp is taken at the reference value (2^-149 below the normal range);
 * gelu' is measured in ulps of |Phi(x)| + |x phi(x)|, the size of its terms, since it changes
 * sign. NaN/inf disagreements are counted as "bad" and printed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmath.h"

static const char *names[] = {"exp", "log", "tanh", "sigmoid", "gelu", "erf", "gelu'", "erf'"};

static double ulp_at(double r) {
    r = fabs(r);
    if (r < 0x1p-126) return 0x1p-149;
    if (r >= 0x1p128) r = 0x1.fffffep127;
    int e;
    frexp(r, &e);
    return ldexp(1.0, e - 24);
}

static double phi_big(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }
static double x_phi(double x) { return x * 0.39894228040143267794 * exp(-0.5 * x * x); }

static double ref(int fn, double x) {
    switch (fn) {
        case 0: return exp(x);
        case 1: return log(x);
        case 2: return tanh(x);
        case 3: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
        case 4: return x * phi_big(x);
        case 5: return erf(x);
        case 6: return phi_big(x) + x_phi(x);
        default: return 1.12837916709551257390 * exp(-x * x);
    }
}

__attribute__((target("avx2,fma"))) static void run(int fn, const float *x, float *y, int n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int i = 0; i < n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        __m256 r;
        switch (fn) {
            case 0: r = tl_vm_exp(v); break;
            case 1: r = tl_vm_log_any(v); break;
            case 2: r = tl_vm_tanh(v); break;
            case 3: r = tl_vm_sigmoid(v); break;
            case 4: r = tl_vm_gelu(v); break;
            case 5: r = tl_vm_erf(v); break;
            case 6: r = tl_vm_gelu_grad(one, v); break;
            default: r = tl_vm_erf_grad(one, v); break;
        }
        _mm256_storeu_ps(y + i, r);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FN [STRIDE [LO HI]]\n", argv[0]);
        return 2;
    }
    const int fn = atoi(argv[1]);
    const uint64_t stride = argc > 2 ? strtoull(argv[2], 0, 0) : 3;
    const int ranged = argc > 4;
    const double lo = ranged ? atof(argv[3]) : 0, hi = ranged ? atof(argv[4]) : 0;
    if (fn < 0 || fn > 7 || stride < 1) return 2;
    enum { B = 4096 };
    static float xs[B], ys[B];
    double worst = 0, wr = 0;
    float wx = 0, wy = 0;
    long count = 0, bad = 0;
    int nb = 0;
    for (uint64_t u = 0; u < (1ull << 32); u += stride) {
        const uint32_t bits = (uint32_t)u;
        float x;
        memcpy(&x, &bits, 4);
        if (!ranged || (x >= lo && x <= hi)) xs[nb++] = x;
        if (nb < B && u + stride < (1ull << 32)) continue;
        const int n = nb;
        while (nb % 8) xs[nb++] = 0;
        run(fn, xs, ys, nb);
        for (int i = 0; i < n; i++, count++) {
            const double r = ref(fn, xs[i]);
            const float y = ys[i];
            if (isnan(r) || isnan(y) || isinf((float)r) || isinf(y)) {
                const int same = (isnan(r) && isnan(y)) || (float)r == y;
                if (!same && bad++ < 5) printf("mismatch x=%a y=%a ref=%a\n", xs[i], y, r);
                continue;
            }
            const double scale = fn == 6 ? fabs(phi_big(xs[i])) + fabs(x_phi(xs[i])) : r;
            const double e = fabs((double)y - r) / ulp_at(scale);
            if (e > worst) worst = e, wx = xs[i], wy = y, wr = r;
        }
        nb = 0;
    }
    printf("%-8s n=%ld max %.3f ulp at x=%.9g (%a) y=%.9g ref=%.12g bad=%ld\n", names[fn], count,
           worst, wx, wx, wy, wr, bad);
    return bad != 0;
}
