/* random.c - seeded random numbers: xoshiro256** seeded through splitmix64.
 * One global stream, so tl.manual_seed(s) makes every random creation function reproducible. */
#include <math.h>
#include "internal.h"

static uint64_t state[4] = {0x9E3779B97F4A7C15ull, 0xBF58476D1CE4E5B9ull,
                            0x94D049BB133111EBull, 0x2545F4914F6CDD1Dull};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next_u64(void) {
    const uint64_t result = rotl(state[1] * 5, 7) * 9, t = state[1] << 17;
    state[2] ^= state[0]; state[3] ^= state[1]; state[1] ^= state[2]; state[0] ^= state[3];
    state[2] ^= t; state[3] = rotl(state[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits */
static inline double next_unit(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }

void tl_manual_seed(uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) state[i] = splitmix64(&x);
}

int tl_rand_uniform(int dtype, void *dst, int64_t n, double low, double high) {
    if (n < 0) return TL_EINVAL;
    const double w = high - low;
    if (dtype == TL_F32) {
        float *d = dst;
        for (int64_t i = 0; i < n; i++) {
            /* 24 random bits so the float32 value stays strictly below 1 */
            float u = (float)(next_u64() >> 40) * 0x1.0p-24f;
            d[i] = (float)(low + w * u);
            if (d[i] >= (float)high && high > low) d[i] = nextafterf((float)high, (float)low);
        }
    } else if (dtype == TL_F64) {
        double *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = low + w * next_unit();
    } else {
        return TL_EDTYPE;
    }
    return TL_OK;
}

/* Box-Muller: each pair of uniforms gives two independent standard normals. */
int tl_rand_normal(int dtype, void *dst, int64_t n, double mean, double std) {
    if (n < 0) return TL_EINVAL;
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - next_unit();            /* (0, 1]: log stays finite */
        double u2 = next_unit();
        double r = sqrt(-2.0 * log(u1));
        double z0 = r * cos(6.283185307179586 * u2), z1 = r * sin(6.283185307179586 * u2);
        if (dtype == TL_F32) {
            ((float *)dst)[i] = (float)(mean + std * z0);
            if (i + 1 < n) ((float *)dst)[i + 1] = (float)(mean + std * z1);
        } else {
            ((double *)dst)[i] = mean + std * z0;
            if (i + 1 < n) ((double *)dst)[i + 1] = mean + std * z1;
        }
    }
    return TL_OK;
}

/* Unbiased integers in [low, high) by rejection of the short final block. */
int tl_randint(void *dst, int64_t n, int64_t low, int64_t high) {
    if (n < 0 || high <= low) return TL_EINVAL;
    const uint64_t range = (uint64_t)high - (uint64_t)low;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    int64_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint64_t x;
        do { x = next_u64(); } while (x >= limit);
        d[i] = (int64_t)((uint64_t)low + x % range);
    }
    return TL_OK;
}
