/* conv.c - 2-D and 3-D convolution (direct, or im2col + the packed GEMM of matmul.c) and pooling.
 *
 * Every kernel takes the layer's geometry as one int64 array `geom` (indices G_* below, the same
 * order as the header's comment): sizes of x (N, C, H, W), out channels OC, kernel (KH, KW),
 * stride, padding, dilation, groups G and the output size (OH, OW) that Python computed.
 *
 * Direct convolution (stride 1, groups 1, float32 / float64 with the AVX2 or AVX-512 build; any
 * dilation and zero padding, x of any strides, images of at least 4 column tiles of padded width,
 * at least MR output channels, kernels larger than 1x1 (direct_ok, measured there); TL_CONV_DIRECT=0 / 1 in the environment turns it off / on whatever the size, for
 * the tests' comparisons): no cols matrix. x is copied zero-padded into xp (N, C, Hp, Wp),
 * Hp = OH + (KH-1)*DH (PH on top, the rest -- PH, or PH + 1 for padding="same" with an even
 * kernel -- below), plus NR elements of slack. Output pixels are indexed in padded width,
 * q = oh * Wp + ow (columns ow >= OW are garbage, dropped later), so for the row p = (c, i, j)
 * of the implicit cols matrix B[p, q] = xp_n[boff[p] + q], boff[p] = c*Hp*Wp + i*DH*Wp + j*DW:
 * every row of B is contiguous in q at its own offset, which is exactly what the GEMM
 * micro-kernel (matmul.inc's mm_kernel_, 12 x 32 on AVX-512, 6 x 16 on AVX2) loads, given
 * "B row p at b + boff[p]" as one more compile-time mode (tl__conv_band). So:
 *   forward  out_pad (OC, rows*Wp) = W (packed once, MR-row slivers, K blocks of KC) @ B, per
 *            (image, band of output rows) unit on the pool's threads, into a per-thread
 *            scratch, then written to out (N, OC, OH, OW) with the bias (conv2d_direct);
 *   gx       the same routine on g zero-padded by (KH-1)*DH - PH on top (and H + PH - OH at
 *            the bottom), with the flipped, transposed weights W'[c, oc, i, j] =
 *            W[oc, c, KH-1-i, KW-1-j] (gx_direct; a padding wider than the kernel's reach
 *            keeps col2im);
 *   gW       gW^T (CK, OC) = sum over n of B_n @ G_n^T: the kernel's other mode, A row p at
 *            xp_n + boff[p] (the rows of B read in place, contracted over q) and G_n^T
 *            (Q = OH*Wp, OC) = g_n packed into NR-column slivers with zeros at the garbage
 *            columns; threads take ranges of row tiles (each sums its rows over the whole batch
 *            in order: deterministic), then gW is the transpose (conv2d_wgrad_direct);
 *   gb       one summing pass over g when nothing else is left for the im2col loop.
 * The garbage columns cost (Wp - OW) / Wp of the arithmetic (2/30 at 28x28, padding 1). A batch
 * whose padded copy passes COLS_BUDGET elements runs in chunks, as the im2col path.
 * Measured (bench/conv2d_timing.py: N=32, C=16, 28x28, OC=32, 3x3, padding 1, float32, fwd+bwd;
 * shared 2-core AVX-512 VM, medians of 9 interleaved runs, TL_CONV_DIRECT=0 / 1 in the same
 * minute; torch 2.13 (oneDNN) alongside): one thread im2col 13.0 ms, direct 8.1-8.4 ms, torch
 * 6.5-6.7 ms; two threads 8.6-9.7 ms, 4.6-5.0 ms, torch 4.0-4.6 ms. Per C call (one thread /
 * two, im2col -> direct, ms): forward 4.7 -> 2.0 / 2.6 -> 1.1, gx alone 3.6 -> 2.3 / 1.9 -> 1.2,
 * gW alone 4.6 -> 2.6 / 2.9 -> 1.7, gx + gW + gb 7.5 -> 5.0 / 4.5 -> 3.1. perf, one thread,
 * fwd+bwd: the two kernel modes hold 43% of the samples, the padding copies 6% (x is padded
 * twice, forward and gW; g once), packing G^T 5%.
 *
 * im2col path (everything else: strides > 1, groups, the portable build; and every conv3d, whose
 * loops are the same with a depth dimension: a 2-D call runs them with D = KD = OD = 1):
 * cols (C*KH*KW, N*OH*OW) = im2col(x), one row per (c, i, j) with the batch inside
 * the columns, so each direction is ONE batched GEMM over the G groups with a long dimension:
 *   forward  tmp (G, OCg, N*L) = W (G, OCg, CKg) @ cols (G, CKg, N*L);  out = tmp as NCHW + b
 *   backward gp (OC, N*L) = g as (OC, N, L), gb = its row sums,
 *            gW (G, OCg, CKg) = gp @ cols^T,  gx = col2im(W^T @ gp)
 * (L = OH*OW, CKg = C/G*KH*KW). Forward does not keep cols: backward recomputes it (im2col is
 * memory-bound and cheap next to the GEMMs; a layer keeps only x). Scratch comes from tl_alloc.
 * Loops are in conv.inc (float and double). Backward kernels overwrite their outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

enum { G_N, G_C, G_H, G_W, G_OC, G_KH, G_KW, G_SH, G_SW, G_PH, G_PW, G_DH, G_DW, G_G, G_OH, G_OW };

/* The 3-D geometry (conv3d, 3-D pooling): sizes of x (N, C, D, H, W), OC, kernel (KD, KH, KW),
 * stride, padding and dilation (each d, h, w), groups, output size (OD, OH, OW). The im2col path
 * and the pooling loops (conv_args) work in it; a 2-D call is the D = KD = OD = 1 case (to3d). */
enum { V_N, V_C, V_D, V_H, V_W, V_OC, V_KD, V_KH, V_KW, V_SD, V_SH, V_SW, V_PD, V_PH, V_PW,
       V_DD, V_DH, V_DW, V_G, V_OD, V_OH, V_OW, V_LEN };

typedef struct {
    void *dst;
    const void *src;
    void *aux;                 /* bias / bias gradient / argmax indices */
    const int64_t *geom;       /* V_* layout */
    int64_t xs[5];             /* x's element strides (N, C, D, H, W) */
    int dir, count_include_pad;
    int64_t divisor;
} conv_args;

/* The output columns ow in [ow_lo, ow_hi) read input column ow * SW + off inside [0, W) (off =
 * j * DW - PW for kernel column j): the loops run over that range without a test per element. */
static inline int64_t ow_lo(int64_t off, int64_t SW, int64_t OW) {
    const int64_t lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
    return lo < OW ? lo : OW;
}
static inline int64_t ow_hi(int64_t off, int64_t SW, int64_t W, int64_t OW) {
    const int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / SW + 1;
    return hi < OW ? hi : OW;
}

/* The direct forward (tl_conv2d_forward's first path, see the header): xp = the zero-padded
 * images (nb, C, Hp, Wp) and NR elements of slack; out_pad band of one unit = OC x (rows * Wp)
 * in a per-thread scratch (ldc apart), then written to out with the bias. */
typedef struct {
    void *out;
    const void *x, *b;
    const int64_t *geom;
    int64_t xs[4];
    void *xp, *pa, *scratch;
    const int64_t *boff;
    int64_t Hp, Wp, rows, bands, ldc, kc, mr;
    /* the weight gradient (conv2d_wgrad_direct): g, its packed transpose pb (per image: OCp / nr
     * slivers of Q = OH * Wp steps), the first image's accumulate flag, row tiles per unit */
    const void *g;
    void *pb;
    int64_t Q, OCp, nr, acc0, tiles, units;
    int nonfinite;   /* pad_ found an Inf or NaN (set atomically) */
} direct_args;

#define TL_TEMPLATE "conv.inc"
#include "instantiate_float.h"

#define RUN(dtype, name, n, cost, args)                                                           \
    ((dtype) == TL_F32 ? tl_parallel_span((n), (cost), PICK_FN(name##f32), (args))               \
                       : tl_parallel_span((n), (cost), PICK_FN(name##f64), (args)))

static int bad_geom3(int dtype, const int64_t *v) {
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    for (int k = 0; k < V_LEN; k++)
        if (v[k] < 0) return TL_EINVAL;
    for (int k = V_KD; k <= V_SW; k++)
        if (v[k] < 1) return TL_EINVAL;
    if (v[V_DD] < 1 || v[V_DH] < 1 || v[V_DW] < 1 || v[V_G] < 1 || v[V_C] % v[V_G] ||
        v[V_OC] % v[V_G])
        return TL_EINVAL;
    return TL_OK;
}

/* v = the 2-D geometry g as a 3-D one with D = KD = OD = 1 (depth stride and dilation 1, no
 * depth padding); xs3 = its x strides with a depth stride (never stepped), or contiguous. */
static void to3d(int64_t *v, const int64_t *g) {
    const int64_t t[V_LEN] = {g[G_N], g[G_C], 1, g[G_H], g[G_W], g[G_OC], 1, g[G_KH], g[G_KW],
                              1, g[G_SH], g[G_SW], 0, g[G_PH], g[G_PW], 1, g[G_DH], g[G_DW],
                              g[G_G], 1, g[G_OH], g[G_OW]};
    memcpy(v, t, sizeof t);
}

static const int64_t *strides3(int64_t *xs3, const int64_t *xs) {
    if (!xs) return NULL;
    xs3[0] = xs[0]; xs3[1] = xs[1]; xs3[2] = 0; xs3[3] = xs[2]; xs3[4] = xs[3];
    return xs3;
}

static int bad_geom(int dtype, const int64_t *g) {
    if (dtype != TL_F32 && dtype != TL_F64) return TL_EDTYPE;
    for (int k = 0; k <= G_OW; k++)
        if (g[k] < 0) return TL_EINVAL;
    if (g[G_KH] < 1 || g[G_KW] < 1 || g[G_SH] < 1 || g[G_SW] < 1 || g[G_DH] < 1 || g[G_DW] < 1
        || g[G_G] < 1 || g[G_C] % g[G_G] || g[G_OC] % g[G_G])
        return TL_EINVAL;
    return TL_OK;
}

/* a->xs = xs (5 strides of x), or x contiguous for the 3-D geometry v */
static void set_strides(conv_args *a, const int64_t *xs, const int64_t *v) {
    if (xs) {
        memcpy(a->xs, xs, sizeof a->xs);
    } else {
        a->xs[4] = 1; a->xs[3] = v[V_W]; a->xs[2] = v[V_H] * v[V_W];
        a->xs[1] = v[V_D] * a->xs[2]; a->xs[0] = v[V_C] * a->xs[1];
    }
}

/* xs = x_strides (4), or x contiguous for the 2-D geometry g (the direct path) */
static void strides2d(int64_t *xs, const int64_t *x_strides, const int64_t *g) {
    if (x_strides) {
        memcpy(xs, x_strides, 4 * sizeof *xs);
    } else {
        xs[3] = 1; xs[2] = g[G_W]; xs[1] = g[G_H] * g[G_W]; xs[0] = g[G_C] * xs[1];
    }
}

static int64_t out_vol(const int64_t *v) { return v[V_OD] * v[V_OH] * v[V_OW]; }
static int64_t in_vol(const int64_t *v) { return v[V_D] * v[V_H] * v[V_W]; }
static int64_t kvol(const int64_t *v) { return v[V_KD] * v[V_KH] * v[V_KW]; }

int tl_vol2col(int dtype, void *cols, const void *x, const int64_t *x_strides, const int64_t *geom) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    conv_args a = {cols, x, NULL, geom, {0}, 0, 0, 0};
    set_strides(&a, x_strides, geom);
    return RUN(dtype, im2col_, geom[V_C] * kvol(geom) * geom[V_N], out_vol(geom) + 1, &a);
}

int tl_col2vol(int dtype, void *gx, const void *cols, const int64_t *geom) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    conv_args a = {gx, cols, NULL, geom, {0}, 0, 0, 0};
    return RUN(dtype, col2im_, geom[V_N] * geom[V_C], kvol(geom) * out_vol(geom) + in_vol(geom) + 1, &a);
}

int tl_im2col(int dtype, void *cols, const void *x, const int64_t *x_strides, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN], xs3[5];
    if (rc) return rc;
    to3d(v, geom);
    return tl_vol2col(dtype, cols, x, strides3(xs3, x_strides), v);
}

int tl_col2im(int dtype, void *gx, const void *cols, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN];
    if (rc) return rc;
    to3d(v, geom);
    return tl_col2vol(dtype, gx, cols, v);
}

static int64_t dsize(int dtype) { return dtype == TL_F32 ? (int64_t)sizeof(float) : (int64_t)sizeof(double); }

/* The batch is cut into chunks of nb samples whose columns fit in COLS_BUDGET elements (at least
 * one sample), so a large batch (a whole test set) needs no columns buffer of its size. */
#define COLS_BUDGET ((int64_t)1 << 23)

static int64_t chunk_of(const int64_t *v, int64_t ck) {
    const int64_t per = ck * out_vol(v);
    const int64_t nb = per > 0 ? COLS_BUDGET / per : v[V_N];
    return nb < 1 ? 1 : nb < v[V_N] ? nb : v[V_N];
}

static int64_t x_batch_stride(const int64_t *x_strides, const int64_t *v) {
    return x_strides ? x_strides[0] : v[V_C] * in_vol(v);
}

/* Whether the direct path applies: a SIMD build for dtype, groups 1, stride 1, something to
 * compute, and images not too small; TL_CONV_DIRECT=0 in the environment turns it off, =1 drops
 * the size rule (the tests compare both paths on small shapes). */
static int direct_ok(int dtype, const int64_t *g, int64_t *mr, int64_t *nr, int64_t *kc) {
    const int64_t CK = g[G_C] * g[G_KH] * g[G_KW];
    if (g[G_G] != 1 || g[G_SH] != 1 || g[G_SW] != 1 || CK == 0 || g[G_OC] == 0) return 0;
    if (g[G_N] * g[G_OH] * g[G_OW] == 0) return 0;
    const char *e = getenv("TL_CONV_DIRECT");
    if (e && e[0] == '0' && e[1] == 0) return 0;
    if (!tl__conv_tile(dtype, CK, mr, nr, kc)) return 0;
    if (e && e[0] == '1' && e[1] == 0) return 1;   /* forced (the tests), whatever the size */
    /* not for small images: a few column tiles per image reuse each K block of W (forward, gx) too
     * little, and gW's contraction per image is too short for its C updates: 4 x 256 x 7 x 7
     * -> 512 channels, 3x3, ran 2x slower direct (one thread, fwd 4.3 vs 4.0 ms, gx 7.0 vs 3.8,
     * gW 9.8 vs 4.0); at 14 x 14 (8 x 128 -> 128) direct was 1.3x faster */
    /* nor for fewer output channels than a tile's rows (the edge kernel wastes the rest: gx of
     * 16 x 3 x 32 x 32 -> 64, 5x5, padding 2 (3 rows) 2.6 -> 3.5 ms direct), nor 1x1 kernels
     * (im2col is a plain copy there: 8 x 64 x 56 x 56 -> 64 ran 1.2-1.5x slower direct) */
    return g[G_OH] * (g[G_OW] + (g[G_KW] - 1) * g[G_DW]) >= 4 * *nr && g[G_OC] >= *mr &&
           g[G_KH] * g[G_KW] > 1;
}

/* boff[p] = the offset of row p = (c, i, j) of the implicit cols matrix in the padded image */
static void fill_boff(int64_t *boff, const int64_t *geom, int64_t Hp, int64_t Wp) {
    for (int64_t c = 0, p = 0; c < geom[G_C]; c++)
        for (int64_t i = 0; i < geom[G_KH]; i++)
            for (int64_t j = 0; j < geom[G_KW]; j++, p++)
                boff[p] = c * Hp * Wp + i * geom[G_DH] * Wp + j * geom[G_DW];
}

/* The columns of one unit's band, rounded up to whole tiles, at most about this many */
#define DIRECT_BAND 1024

static int conv2d_direct(int dtype, void *out, const void *x, const int64_t *x_strides,
                         const void *w, const void *b, const int64_t *geom, int64_t mr, int64_t nr,
                         int64_t kc) {
    const int64_t N = geom[G_N], C = geom[G_C], OC = geom[G_OC], KH = geom[G_KH], KW = geom[G_KW];
    const int64_t OH = geom[G_OH], OW = geom[G_OW], CK = C * KH * KW, sz = dsize(dtype);
    /* the padded frame the outputs read (stride 1): PH + H + the bottom padding Python's OH
     * implies (PH or PH + 1), likewise Wp */
    const int64_t Hp = OH + (KH - 1) * geom[G_DH], Wp = OW + (KW - 1) * geom[G_DW];
    const int64_t plane = C * Hp * Wp, slack = (KW - 1) * geom[G_DW] + nr;
    const int64_t nb = N < COLS_BUDGET / plane ? N : COLS_BUDGET / plane > 0 ? COLS_BUDGET / plane : 1;
    const int nt = tl_get_num_threads();
    /* bands of output rows: whole images up to DIRECT_BAND columns, fewer rows when a chunk of
     * the batch would give under 4 units per thread */
    int64_t rows = DIRECT_BAND / Wp > 0 ? DIRECT_BAND / Wp : 1;
    if (rows > OH) rows = OH;
    while (rows > 1 && nb * ((OH + rows - 1) / rows) < 4 * nt) rows = (rows + 1) / 2;
    const int64_t bands = (OH + rows - 1) / rows, ldc = (rows * Wp + nr - 1) / nr * nr + nr;
    const int64_t mp = (OC + mr - 1) / mr * mr;
    int64_t *boff = (int64_t *)tl_alloc(CK * (int64_t)sizeof(int64_t));
    void *xp = tl_alloc((nb * plane + slack) * sz), *pa = tl_alloc(mp * CK * sz);
    void *scratch = tl_alloc(nt * OC * ldc * sz);
    int rc = TL_OK;
    if (!boff || !xp || !pa || !scratch) rc = TL_ENOMEM;
    if (!rc) {
        fill_boff(boff, geom, Hp, Wp);
        tl__conv_pack(dtype, pa, w, OC, CK, kc);
        memset((char *)xp + nb * plane * sz, 0, (size_t)(slack * sz));
    }
    direct_args d = {NULL, NULL, b, NULL, {0}, xp, pa, scratch, boff, Hp, Wp, rows, bands, ldc, kc, mr};
    int64_t cg[G_OW + 1];
    memcpy(cg, geom, sizeof cg);
    d.geom = cg;
    for (int64_t n0 = 0; n0 < N && !rc; n0 += nb) {
        cg[G_N] = N - n0 < nb ? N - n0 : nb;
        strides2d(d.xs, x_strides, geom);
        d.x = (const char *)x + n0 * d.xs[0] * sz;
        d.out = (char *)out + n0 * OC * OH * OW * sz;
        rc = RUN(dtype, pad_, cg[G_N] * C, Hp * Wp + 1, &d);
        if (!rc)
            rc = tl_parallel(cg[G_N] * bands, nt,
                             dtype == TL_F32 ? PICK_FN(direct_unit_f32) : PICK_FN(direct_unit_f64), &d);
    }
    tl_free(boff);
    tl_free(xp);
    tl_free(pa);
    tl_free(scratch);
    return rc;
}

int tl_conv2d_forward(int dtype, void *out, const void *x, const int64_t *x_strides, const void *w,
                      const void *b, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    if (rc) return rc;
    int64_t mr, nr, kc, v[V_LEN], xs3[5];
    if (direct_ok(dtype, geom, &mr, &nr, &kc))
        return conv2d_direct(dtype, out, x, x_strides, w, b, geom, mr, nr, kc);
    to3d(v, geom);
    return tl_conv3d_forward(dtype, out, x, strides3(xs3, x_strides), w, b, v);
}

/* The im2col path (conv2d's with D = 1): per chunk of the batch, cols = vol2col(x), one batched
 * GEMM over the groups, then out = tmp as NCDHW + b. */
int tl_conv3d_forward(int dtype, void *out, const void *x, const int64_t *x_strides, const void *w,
                      const void *b, const int64_t *geom) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    const int64_t G = geom[V_G], OC = geom[V_OC], OCg = OC / G, N = geom[V_N];
    const int64_t CKg = geom[V_C] / G * kvol(geom), L = out_vol(geom);
    const int64_t sz = dsize(dtype), nb = chunk_of(geom, G * CKg), xs0 = x_batch_stride(x_strides, geom);
    if (N * L == 0 || OC == 0) return TL_OK;
    void *cols = tl_alloc((G * CKg > 0 ? G * CKg : 1) * nb * L * sz);
    void *tmp = tl_alloc(OC * nb * L * sz);
    if (!cols || !tmp) { tl_free(cols); tl_free(tmp); return TL_ENOMEM; }
    int64_t cg[V_LEN];
    memcpy(cg, geom, sizeof cg);
    for (int64_t n0 = 0; n0 < N && !rc; n0 += nb) {
        cg[V_N] = N - n0 < nb ? N - n0 : nb;
        const int64_t NL = cg[V_N] * L;
        rc = CKg > 0 ? tl_vol2col(dtype, cols, (const char *)x + n0 * xs0 * sz, x_strides, cg) : TL_OK;
        if (!rc) {
            const int64_t w_st[3] = {OCg * CKg, CKg, 1}, c_st[3] = {CKg * NL, NL, 1};
            rc = tl_matmul_forward(dtype, tmp, w, w_st, cols, c_st, 1, &G, OCg, NL, CKg);
        }
        if (!rc) {
            conv_args a = {(char *)out + n0 * OC * L * sz, tmp, (void *)b, cg, {0}, 0, 0, 0};
            rc = RUN(dtype, unpermute_bias_, cg[V_N] * OC, L + 1, &a);
        }
    }
    tl_free(cols);
    tl_free(tmp);
    return rc;
}

/* gW of a stride-1 layer without cols: gW^T (CK x OC) = sum over n of A_n @ G_n^T, A_n[p, q] =
 * xp_n[boff[p] + q] (the implicit cols matrix of image n in padded-width pixels q = oh * Wp + ow,
 * read in place by the micro-kernel with per-row A offsets) and G_n^T (Q x OC) = g_n packed
 * into nr-column slivers with zeros at the garbage columns ow >= OW. Threads take ranges of row
 * tiles of gW^T (each accumulates its rows over the whole batch: deterministic), then gW is its
 * transpose. Returns 0 when the path does not apply, or when x holds an Inf or NaN: the garbage
 * columns would multiply it by g's zeros there, a NaN that im2col's gW does not have. */
static int conv2d_wgrad_direct(int dtype, void *gw, const void *g, const void *x,
                               const int64_t *x_strides, const int64_t *geom, int *rc) {
    const int64_t N = geom[G_N], C = geom[G_C], OC = geom[G_OC], KH = geom[G_KH], KW = geom[G_KW];
    const int64_t OH = geom[G_OH], OW = geom[G_OW], CK = C * KH * KW;
    int64_t mr, nr, kc;
    if (!direct_ok(dtype, geom, &mr, &nr, &kc)) return 0;
    const int64_t Hp = OH + (KH - 1) * geom[G_DH], Wp = OW + (KW - 1) * geom[G_DW], Q = OH * Wp;
    tl__conv_tile(dtype, Q, &mr, &nr, &kc);   /* the K block of the contraction over q */
    const int64_t sz = dsize(dtype), plane = C * Hp * Wp, OCp = (OC + nr - 1) / nr * nr;
    const int64_t per = plane + OCp * Q;
    const int64_t nb = N < COLS_BUDGET / per ? N : COLS_BUDGET / per > 0 ? COLS_BUDGET / per : 1;
    const int nt = tl_get_num_threads();
    const int64_t rt = (CK + mr - 1) / mr;
    const int64_t units = rt < 2 * nt ? rt : 2 * nt, tiles = (rt + units - 1) / units;
    int64_t *boff = (int64_t *)tl_alloc(CK * (int64_t)sizeof(int64_t));
    void *xp = tl_alloc((nb * plane + nr) * sz), *pb = tl_alloc(nb * OCp * Q * sz);
    void *gwt = tl_alloc(CK * OCp * sz);
    *rc = TL_OK;
    if (!boff || !xp || !pb || !gwt) *rc = TL_ENOMEM;
    if (!*rc) {
        fill_boff(boff, geom, Hp, Wp);
        memset((char *)xp + nb * plane * sz, 0, (size_t)(nr * sz));
    }
    direct_args d = {NULL, NULL, NULL, NULL, {0}, xp, NULL, gwt, boff, Hp, Wp, 0, 0, OCp, kc, mr,
                     NULL, pb, Q, OCp, nr, 0, tiles, (rt + tiles - 1) / tiles};
    int64_t cg[G_OW + 1];
    memcpy(cg, geom, sizeof cg);
    d.geom = cg;
    for (int64_t n0 = 0; n0 < N && !*rc; n0 += nb) {
        cg[G_N] = N - n0 < nb ? N - n0 : nb;
        strides2d(d.xs, x_strides, geom);
        d.x = (const char *)x + n0 * d.xs[0] * sz;
        d.g = (const char *)g + n0 * OC * OH * OW * sz;
        d.acc0 = n0 > 0;
        *rc = RUN(dtype, pad_, cg[G_N] * C, Hp * Wp + 1, &d);
        if (!*rc && d.nonfinite) break;   /* see above: im2col's gW instead */
        if (!*rc) *rc = RUN(dtype, pack_gt_, cg[G_N], OCp * Q + 1, &d);
        if (!*rc)
            *rc = tl_parallel(d.units, nt,
                              dtype == TL_F32 ? PICK_FN(wgrad_unit_f32) : PICK_FN(wgrad_unit_f64), &d);
    }
    if (!*rc && !d.nonfinite)
        for (int64_t oc = 0; oc < OC; oc++)
            for (int64_t p = 0; p < CK; p++)
                memcpy((char *)gw + (oc * CK + p) * sz, (char *)gwt + (p * OCp + oc) * sz,
                       (size_t)sz);
    tl_free(boff);
    tl_free(xp);
    tl_free(pb);
    tl_free(gwt);
    return *rc || !d.nonfinite;
}

/* gx of a stride-1 layer as a direct convolution (conv2d_direct) of g, zero-padded by
 * (KH - 1) * DH - PH on top and H + PH - OH at the bottom (likewise along W), with the flipped,
 * transposed weights W'[c, oc, i, j] = W[oc, c, KH-1-i, KW-1-j]. Returns 0 (nothing done) when
 * the direct path does not apply: a padding wider than the kernel's reach leaves no such frame,
 * or W holds an Inf or NaN (times the zeros of g's padding: NaN where col2im adds nothing). */
static int gx_direct(int dtype, void *gx, const void *g, const void *w, const int64_t *geom,
                     int *rc) {
    const int64_t C = geom[G_C], OC = geom[G_OC], KH = geom[G_KH], KW = geom[G_KW];
    const int64_t eh = (KH - 1) * geom[G_DH], ew = (KW - 1) * geom[G_DW];
    int64_t tg[G_OW + 1], mr, nr, kc;
    memcpy(tg, geom, sizeof tg);
    tg[G_C] = OC; tg[G_H] = geom[G_OH]; tg[G_W] = geom[G_OW]; tg[G_OC] = C;
    tg[G_PH] = eh - geom[G_PH]; tg[G_PW] = ew - geom[G_PW];
    tg[G_OH] = geom[G_H]; tg[G_OW] = geom[G_W];
    if (tg[G_PH] < 0 || tg[G_PW] < 0 || geom[G_H] + geom[G_PH] < geom[G_OH] ||
        geom[G_W] + geom[G_PW] < geom[G_OW] || geom[G_OH] * geom[G_OW] == 0 ||
        !direct_ok(dtype, tg, &mr, &nr, &kc))
        return 0;
    const int64_t sz = dsize(dtype), KK = KH * KW, nw = C * OC * KK;
    int finite = 1;
    if (dtype == TL_F32)
        for (int64_t k = 0; k < nw; k++) finite &= isfinite(((const float *)w)[k]) != 0;
    else
        for (int64_t k = 0; k < nw; k++) finite &= isfinite(((const double *)w)[k]) != 0;
    if (!finite) return 0;
    char *wt = (char *)tl_alloc(nw * sz);
    if (!wt) {
        *rc = TL_ENOMEM;
        return 1;
    }
    for (int64_t oc = 0; oc < OC; oc++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t k = 0; k < KK; k++) {
                const int64_t to = (c * OC + oc) * KK + KK - 1 - k, from = (oc * C + c) * KK + k;
                if (dtype == TL_F32) ((float *)wt)[to] = ((const float *)w)[from];
                else ((double *)wt)[to] = ((const double *)w)[from];
            }
    *rc = conv2d_direct(dtype, gx, g, NULL, wt, NULL, tg, mr, nr, kc);
    tl_free(wt);
    return 1;
}

int tl_conv2d_backward(int dtype, void *gx, void *gw, void *gb, const void *g, const void *x,
                       const int64_t *x_strides, const void *w, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    if (rc) return rc;
    if (gx && geom[G_N] * geom[G_C] * geom[G_H] * geom[G_W] > 0 &&
        gx_direct(dtype, gx, g, w, geom, &rc)) {
        if (rc || (!gw && !gb)) return rc;
        gx = NULL;   /* done: the im2col path computes what is left */
    }
    if (gw && conv2d_wgrad_direct(dtype, gw, g, x, x_strides, geom, &rc)) {
        if (rc || (!gx && !gb)) return rc;
        gw = NULL;
    }
    int64_t v[V_LEN], xs3[5];
    to3d(v, geom);
    return tl_conv3d_backward(dtype, gx, gw, gb, g, x, strides3(xs3, x_strides), w, v);
}

/* The im2col path's backward (conv2d's with D = 1), per chunk of the batch: gp = g as (OC, NL)
 * with gb its row sums, gW (+)= gp @ cols^T, gx = col2vol(W^T @ gp). */
int tl_conv3d_backward(int dtype, void *gx, void *gw, void *gb, const void *g, const void *x,
                       const int64_t *x_strides, const void *w, const int64_t *geom) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    const int64_t G = geom[V_G], OC = geom[V_OC], OCg = OC / G, C = geom[V_C], N = geom[V_N];
    const int64_t CKg = C / G * kvol(geom), L = out_vol(geom);
    if (!gx && !gw && gb && N * L > 0) {   /* gb alone */
        conv_args a = {NULL, g, gb, geom, {0}, 0, 0, 0};
        return RUN(dtype, permute_sum_, OC, N * L + 1, &a);
    }
    const int64_t sz = dsize(dtype), nb = chunk_of(geom, G * CKg), xs0 = x_batch_stride(x_strides, geom);
    if (N * L == 0 || OC == 0 || CKg == 0) {   /* empty sums: zeros */
        if (gx && N * C * in_vol(geom) > 0) memset(gx, 0, (size_t)(N * C * in_vol(geom) * sz));
        if (gw && OC * CKg > 0) memset(gw, 0, (size_t)(OC * CKg * sz));
        if (gb && OC > 0) memset(gb, 0, (size_t)(OC * sz));
        return TL_OK;
    }
    void *gp = tl_alloc(OC * nb * L * sz);
    void *cols = tl_alloc(G * CKg * nb * L * sz);
    void *gw_part = nb < N && gw ? tl_alloc(OC * CKg * sz) : NULL;
    if (!gp || !cols || (nb < N && gw && !gw_part)) {
        tl_free(gp); tl_free(cols); tl_free(gw_part);
        return TL_ENOMEM;
    }
    int64_t cg[V_LEN];
    memcpy(cg, geom, sizeof cg);
    for (int64_t n0 = 0; n0 < N && !rc; n0 += nb) {
        cg[V_N] = N - n0 < nb ? N - n0 : nb;
        const int64_t NL = cg[V_N] * L, gp_st[3] = {OCg * NL, NL, 1};
        /* gp (OC, NL) = this chunk of g; gb = (n0 ? gb : 0) + its row sums */
        conv_args a = {gp, (const char *)g + n0 * OC * L * sz, gb, cg, {0}, n0 > 0, 0, 0};
        rc = RUN(dtype, permute_sum_, OC, NL + 1, &a);
        if (!rc && gw) {  /* gW (G, OCg, CKg) (+)= gp (G, OCg, NL) @ cols^T (G, NL, CKg) */
            rc = tl_vol2col(dtype, cols, (const char *)x + n0 * xs0 * sz, x_strides, cg);
            const int64_t ct_st[3] = {CKg * NL, 1, NL}, n = OC * CKg;
            if (!rc) rc = tl_matmul_forward(dtype, n0 ? gw_part : gw, gp, gp_st, cols, ct_st, 1, &G,
                                            OCg, CKg, NL);
            if (!rc && n0) rc = tl_binary_forward(TL_ADD, dtype, gw, NULL, gw, NULL, gw_part, NULL, 1, &n);
        }
        if (!rc && gx) {  /* dcols (G, CKg, NL) = W^T (G, CKg, OCg) @ gp (G, OCg, NL); gx = col2vol */
            const int64_t wt_st[3] = {OCg * CKg, 1, CKg};
            rc = tl_matmul_forward(dtype, cols, w, wt_st, gp, gp_st, 1, &G, CKg, NL, OCg);
            if (!rc) rc = tl_col2vol(dtype, (char *)gx + n0 * C * in_vol(geom) * sz, cols, cg);
        }
    }
    tl_free(gp);
    tl_free(cols);
    tl_free(gw_part);
    return rc;
}

/* ---- transposed convolution: the adjoint of conv2d / conv3d in x. geom is that convolution's
 * (x (N, C, H, W) = the transposed convolution's output, OC = its input channels, (OH, OW) = its
 * input size; likewise with D), so
 *   forward  out = the convolution's gx for g = x (the transposed layer's input), plus b per channel;
 *   backward gx = conv(g, w) (forward), gw = the convolution's gW for input g and output gradient
 *            x, gb = g summed over n and the spatial dims.
 * Every path of conv2d (direct or im2col) serves both directions. ---- */

/* out (v's x) += b per channel; gb = g (v's x) summed per channel */
static int add_bias3(int dtype, void *out, const void *b, const int64_t *v) {
    conv_args a = {out, NULL, (void *)b, v, {0}, 0, 0, 0};
    return RUN(dtype, add_bias_, v[V_N] * v[V_C], in_vol(v) + 1, &a);
}

static int sum_bias3(int dtype, void *gb, const void *g, const int64_t *v) {
    /* permute_sum_ over g (N, C, D, H, W) as an output of C channels */
    int64_t t[V_LEN];
    memcpy(t, v, sizeof t);
    t[V_OC] = v[V_C]; t[V_OD] = v[V_D]; t[V_OH] = v[V_H]; t[V_OW] = v[V_W];
    conv_args a = {NULL, g, gb, t, {0}, 0, 0, 0};
    return RUN(dtype, permute_sum_, v[V_C], v[V_N] * in_vol(v) + 1, &a);
}

int tl_conv_transpose2d_forward(int dtype, void *out, const void *x, const void *w, const void *b,
                                const int64_t *geom) {
    int rc = tl_conv2d_backward(dtype, out, NULL, NULL, x, NULL, NULL, w, geom);
    int64_t v[V_LEN];
    if (rc || !b) return rc;
    to3d(v, geom);
    return add_bias3(dtype, out, b, v);
}

int tl_conv_transpose2d_backward(int dtype, void *gx, void *gw, void *gb, const void *g,
                                 const void *x, const void *w, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN];
    if (!rc && gx) rc = tl_conv2d_forward(dtype, gx, g, NULL, w, NULL, geom);
    if (!rc && gw) rc = tl_conv2d_backward(dtype, NULL, gw, NULL, x, g, NULL, w, geom);
    to3d(v, geom);
    return !rc && gb ? sum_bias3(dtype, gb, g, v) : rc;
}

int tl_conv_transpose3d_forward(int dtype, void *out, const void *x, const void *w, const void *b,
                                const int64_t *geom) {
    int rc = tl_conv3d_backward(dtype, out, NULL, NULL, x, NULL, NULL, w, geom);
    return rc || !b ? rc : add_bias3(dtype, out, b, geom);
}

int tl_conv_transpose3d_backward(int dtype, void *gx, void *gw, void *gb, const void *g,
                                 const void *x, const void *w, const int64_t *geom) {
    int rc = bad_geom3(dtype, geom);
    if (!rc && gx) rc = tl_conv3d_forward(dtype, gx, g, NULL, w, NULL, geom);
    if (!rc && gw) rc = tl_conv3d_backward(dtype, NULL, gw, NULL, x, g, NULL, w, geom);
    return !rc && gb ? sum_bias3(dtype, gb, g, geom) : rc;
}

/* ---- pooling: the 3-D geometry (OC = C, G unused); parallel over the N*C volumes. The 2-D
 * entry points run the same loops with D = 1. ---- */

int tl_max_pool3d_forward(int dtype, void *out, int64_t *idx, const void *x,
                          const int64_t *x_strides, const int64_t *geom) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    conv_args a = {out, x, idx, geom, {0}, 0, 0, 0};
    set_strides(&a, x_strides, geom);
    return RUN(dtype, max_pool_, geom[V_N] * geom[V_C], out_vol(geom) * kvol(geom) + 1, &a);
}

int tl_max_pool3d_backward(int dtype, void *gx, const void *g, const int64_t *idx,
                           const int64_t *geom) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    conv_args a = {gx, g, (void *)idx, geom, {0}, 0, 0, 0};
    return RUN(dtype, max_pool_backward_, geom[V_N] * geom[V_C], out_vol(geom) + in_vol(geom) + 1, &a);
}

int tl_avg_pool3d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                          const int64_t *geom, int count_include_pad, int64_t divisor_override) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    conv_args a = {out, x, NULL, geom, {0}, 0, count_include_pad, divisor_override};
    set_strides(&a, x_strides, geom);
    return RUN(dtype, avg_pool_, geom[V_N] * geom[V_C], out_vol(geom) * kvol(geom) + 1, &a);
}

int tl_avg_pool3d_backward(int dtype, void *gx, const void *g, const int64_t *geom,
                           int count_include_pad, int64_t divisor_override) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    conv_args a = {gx, g, NULL, geom, {0}, 1, count_include_pad, divisor_override};
    set_strides(&a, NULL, geom);
    return RUN(dtype, avg_pool_, geom[V_N] * geom[V_C], out_vol(geom) * kvol(geom) + in_vol(geom) + 1, &a);
}

int tl_max_pool2d_forward(int dtype, void *out, int64_t *idx, const void *x,
                          const int64_t *x_strides, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN], xs3[5];
    if (rc) return rc;
    to3d(v, geom);
    return tl_max_pool3d_forward(dtype, out, idx, x, strides3(xs3, x_strides), v);
}

int tl_max_pool2d_backward(int dtype, void *gx, const void *g, const int64_t *idx,
                           const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN];
    if (rc) return rc;
    to3d(v, geom);
    return tl_max_pool3d_backward(dtype, gx, g, idx, v);
}

int tl_avg_pool2d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                          const int64_t *geom, int count_include_pad, int64_t divisor_override) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN], xs3[5];
    if (rc) return rc;
    to3d(v, geom);
    return tl_avg_pool3d_forward(dtype, out, x, strides3(xs3, x_strides), v, count_include_pad,
                                 divisor_override);
}

int tl_avg_pool2d_backward(int dtype, void *gx, const void *g, const int64_t *geom,
                           int count_include_pad, int64_t divisor_override) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN];
    if (rc) return rc;
    to3d(v, geom);
    return tl_avg_pool3d_backward(dtype, gx, g, v, count_include_pad, divisor_override);
}

/* ---- adaptive pooling: geom as pooling's (kernel, stride, padding, dilation unused: 1, 1, 0, 1);
 * each output cell pools rows [floor(oh*H/OH), ceil((oh+1)*H/OH)), likewise depths and columns.
 * Max pooling's backward is tl_max_pool3d_backward (a scatter at idx). dir: conv.inc's
 * adaptive_pool_ (0 average, 1 its adjoint, 2 maximum). ---- */

static int adaptive3(int dtype, void *dst, void *idx, const void *src, const int64_t *x_strides,
                     const int64_t *geom, int dir) {
    int rc = bad_geom3(dtype, geom);
    if (rc) return rc;
    conv_args a = {dst, src, idx, geom, {0}, dir, 0, 0};
    set_strides(&a, x_strides, geom);
    return RUN(dtype, adaptive_pool_, geom[V_N] * geom[V_C], in_vol(geom) + out_vol(geom) + 1, &a);
}

int tl_adaptive_avg_pool3d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                                   const int64_t *geom) {
    return adaptive3(dtype, out, NULL, x, x_strides, geom, 0);
}

int tl_adaptive_avg_pool3d_backward(int dtype, void *gx, const void *g, const int64_t *geom) {
    return adaptive3(dtype, gx, NULL, g, NULL, geom, 1);
}

int tl_adaptive_max_pool3d_forward(int dtype, void *out, int64_t *idx, const void *x,
                                   const int64_t *x_strides, const int64_t *geom) {
    return adaptive3(dtype, out, idx, x, x_strides, geom, 2);
}

int tl_adaptive_avg_pool2d_forward(int dtype, void *out, const void *x, const int64_t *x_strides,
                                   const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN], xs3[5];
    if (rc) return rc;
    to3d(v, geom);
    return adaptive3(dtype, out, NULL, x, strides3(xs3, x_strides), v, 0);
}

int tl_adaptive_avg_pool2d_backward(int dtype, void *gx, const void *g, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN];
    if (rc) return rc;
    to3d(v, geom);
    return adaptive3(dtype, gx, NULL, g, NULL, v, 1);
}

int tl_adaptive_max_pool2d_forward(int dtype, void *out, int64_t *idx, const void *x,
                                   const int64_t *x_strides, const int64_t *geom) {
    int rc = bad_geom(dtype, geom);
    int64_t v[V_LEN], xs3[5];
    if (rc) return rc;
    to3d(v, geom);
    return adaptive3(dtype, out, idx, x, strides3(xs3, x_strides), v, 2);
}
