"""matmul / @ (tinygrad_lab/ops/linalg.py <-> csrc/matmul.c): forward against NumPy for every shape
rule, edge tiles, strided operands, zero sizes, threads and both micro-kernels; gradients by
gradcheck / gradgradcheck; errors by type and message."""

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab._lib import NULL, lib
from tinygrad_lab.autograd import gradcheck, gradgradcheck

from .helpers import simd_level, threads

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


def rnd(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def assert_matmul(r, a, b):
    """r == a @ b within the GEMM rounding bound |r - ab| <= c * eps * k * (|a| @ |b|)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    exact = np.matmul(a64, b64)
    k = a.shape[-1]
    bound = 4 * EPS[a.dtype.type] * max(k, 1) * np.matmul(np.abs(a64), np.abs(b64)) + 1e-300
    r = np.asarray(r)
    assert r.shape == exact.shape, (r.shape, exact.shape)
    assert r.dtype == a.dtype
    err = np.abs(r - exact)
    assert (err <= bound).all(), f"max err {err.max()} (bound there {bound.flat[err.argmax()]})"


# ---- forward: the shape rules ------------------------------------------------------------------

SHAPES = [
    ((4,), (4,)),                    # dot -> 0-d
    ((3, 4), (4, 5)),                # matrix product
    ((4,), (4, 5)),                  # 1-D @ 2-D
    ((3, 4), (4,)),                  # 2-D @ 1-D
    ((4,), (2, 4, 5)),               # 1-D @ batched
    ((2, 3, 4), (4,)),               # batched @ 1-D
    ((2, 3, 4), (2, 4, 5)),          # batched
    ((3, 4), (2, 4, 5)),             # 2-D @ batched (broadcast a)
    ((2, 3, 4), (4, 5)),             # batched @ 2-D (folded into one product)
    ((2, 1, 3, 4), (5, 4, 6)),       # broadcast batch dims on both sides
    ((1, 3, 4), (2, 4, 5)),          # size-1 batch dim
    ((2, 1, 3, 4), (1, 5, 4, 6)),    # crossed broadcast: neither operand merges into one stride
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_shapes(sa, sb, dtype):
    rng = np.random.default_rng(0)
    a, b = rnd(rng, sa, dtype), rnd(rng, sb, dtype)
    for r in (tl.matmul(tl.tensor(a), tl.tensor(b)), tl.tensor(a) @ tl.tensor(b),
              tl.tensor(a).matmul(tl.tensor(b)), tl.Tensor.__rmatmul__(tl.tensor(b), tl.tensor(a))):
        assert r.shape == np.matmul(a, b).shape
        assert_matmul(r.numpy(), a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_square_sizes_edge_tiles(dtype):
    rng = np.random.default_rng(1)
    for n in range(1, 71):
        a, b = rnd(rng, (n, n), dtype), rnd(rng, (n, n), dtype)
        assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,k,n", [(37, 301, 53), (1, 700, 33), (300, 1, 19), (13, 17, 1),
                                   (6, 256, 16), (7, 257, 17), (1, 1, 1)])
def test_odd_shapes(m, k, n, dtype):
    rng = np.random.default_rng(2)
    a, b = rnd(rng, (m, k), dtype), rnd(rng, (k, n), dtype)
    assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_portable_kernel_matches(dtype):
    rng = np.random.default_rng(3)
    cases = [((37, 53), (53, 29)), ((2, 7, 300), (300, 9)), ((5,), (5, 70)), ((9, 40), (40,)),
             ((50,), (50,))]
    with simd_level(0):
        for sa, sb in cases:
            a, b = rnd(rng, sa, dtype), rnd(rng, sb, dtype)
            assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)
        a, b = rnd(rng, (53, 37), dtype), rnd(rng, (29, 53), dtype)
        assert_matmul((tl.tensor(a).T @ tl.tensor(b).T).numpy(), a.T, b.T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_vector_paths(dtype):
    # m == 1 or n == 1 skips packing: dot form (rows of M), axpy form (columns of M), strided x
    rng = np.random.default_rng(13)
    for rows in (1, 2, 3, 4, 5, 9):
        for k in (1, 15, 16, 17, 33, 100):
            M, v = rnd(rng, (rows, k), dtype), rnd(rng, (2 * k,), dtype)
            tM, tv = tl.tensor(M), tl.tensor(v)
            assert_matmul((tM @ tv[::2]).numpy(), M, v[::2])              # n == 1, strided x
            assert_matmul((tv[:k] @ tM.T).numpy(), v[:k], M.T)            # m == 1, rows of B^T
            Mt = tl.tensor(M.T.copy()).T                                  # column-major M
            assert_matmul((Mt @ tv[:k]).numpy(), M, v[:k])                # axpy form
            assert_matmul((tv[1::2] @ Mt.T).numpy(), v[1::2], M.T)
            M2 = tl.tensor(np.repeat(M, 2, axis=1))[:, ::2]                 # column stride 2
            assert_matmul((M2 @ tv[:k]).numpy(), M, v[:k])
    for nt in (1, 2):
        with threads(nt):
            M, v = rnd(rng, (3001, 500), dtype), rnd(rng, (500,), dtype)
            assert_matmul((tl.tensor(M) @ tl.tensor(v)).numpy(), M, v)
            assert_matmul((tl.tensor(v) @ tl.tensor(M).T).numpy(), v, M.T)
            B, x = rnd(rng, (4, 700, 300), dtype), rnd(rng, (4, 1, 700), dtype)
            assert_matmul((tl.tensor(x) @ tl.tensor(B)).numpy(), x, B)     # batch of row vectors
            big = rnd(rng, (200000,), dtype)
            assert_matmul((tl.tensor(big) @ tl.tensor(big)).numpy(), big, big)


# ---- forward: strided operands (never copied) ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transposed_and_sliced_operands(dtype):
    rng = np.random.default_rng(4)
    a, b, c = rnd(rng, (29, 41), dtype), rnd(rng, (58, 29), dtype), rnd(rng, (50, 40), dtype)
    ta, tb, tc = tl.tensor(a), tl.tensor(b), tl.tensor(c)
    assert_matmul((ta.T @ tb.T[:, ::2]).numpy(), a.T, b.T[:, ::2])          # both transposed, stepped
    assert_matmul((ta[::3, 1:] @ tc[1::2].T).numpy(), a[::3, 1:], c[1::2].T)
    x = rnd(rng, (3, 4, 5, 6), dtype)
    tx = tl.tensor(x)
    # permuted batch dims and a transposed matrix part
    assert_matmul((tx.permute(2, 0, 3, 1) @ tx.permute(2, 0, 1, 3)).numpy(),
                  x.transpose(2, 0, 3, 1), x.transpose(2, 0, 1, 3))
    # expanded (stride 0) batch
    w = rnd(rng, (6, 7), dtype)
    tw = tl.tensor(w).expand(4, 6, 7)
    assert_matmul((tx[0] @ tw[:, :, 1:]).numpy(), x[0], np.broadcast_to(w, (4, 6, 7))[:, :, 1:])


def test_transpose_is_not_copied():
    a = tl.randn(4, 3, dtype=tl.float64, requires_grad=True)
    b = tl.randn(4, 5, dtype=tl.float64, requires_grad=True)
    out = a.T @ b
    assert out.grad_fn.name() == "MatmulBackward"
    assert out.grad_fn._inputs[0].grad_fn.name() == "PermuteBackward"  # the view, no CopyBackward


# ---- forward: zero sizes, dtypes -------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [((0, 4), (4, 5)), ((3, 4), (4, 0)), ((3, 0), (0, 5)),
                                   ((0,), (0,)), ((2, 0, 3), (3, 4)), ((0, 3, 4), (4, 2)),
                                   ((2, 3, 0), (2, 0, 4)), ((0,), (0, 3)), ((2, 3, 0), (0, 0))])
def test_zero_size(sa, sb):
    rng = np.random.default_rng(5)
    a, b = rnd(rng, sa), rnd(rng, sb)
    r = (tl.tensor(a) @ tl.tensor(b)).numpy()
    assert r.shape == np.matmul(a, b).shape
    np.testing.assert_array_equal(r, np.matmul(a, b))   # zeros when k == 0
    ta, tb = tl.tensor(a, requires_grad=True), tl.tensor(b, requires_grad=True)
    (ta @ tb).sum().backward()
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    assert not ta.grad.numpy().any() and not tb.grad.numpy().any()


def test_int64_exact_and_promotion():
    rng = np.random.default_rng(6)
    a = rng.integers(-1000, 1000, (2, 9, 31))
    b = rng.integers(-1000, 1000, (31, 7))
    r = tl.tensor(a) @ tl.tensor(b)
    assert r.dtype is tl.int64
    np.testing.assert_array_equal(r.numpy(), a @ b)
    big = np.array([[2 ** 62, 2 ** 62]])          # wraps like NumPy / PyTorch
    np.testing.assert_array_equal((tl.tensor(big) @ tl.tensor(big.T)).numpy(), big @ big.T)
    bo = tl.tensor([[True, False], [True, True]])
    assert (bo @ bo).dtype is tl.int64
    assert (bo @ bo).tolist() == [[1, 0], [2, 1]]
    f32 = tl.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    f64 = tl.tensor(rng.standard_normal((4, 2)))
    i = tl.tensor(rng.integers(-5, 5, (4, 2)))
    assert (f32 @ f64).dtype is tl.float64
    assert (f32 @ i).dtype is tl.float32
    assert_matmul((f32 @ i).numpy(), f32.numpy(), i.numpy().astype(np.float32))


# ---- forward: threads and blocking ------------------------------------------------------------------

@pytest.mark.parametrize("nt", [1, 2])
def test_threads_large(nt):
    rng = np.random.default_rng(7)
    with threads(nt):
        for n in (256, 513):
            a, b = rnd(rng, (n, n), np.float32), rnd(rng, (n, n), np.float32)
            assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)
        # K and N past one KC / NC block (KC 768 for float32), transposed A
        a, b = rnd(rng, (800, 70), np.float32), rnd(rng, (800, 4200), np.float32)
        assert_matmul((tl.tensor(a).T @ tl.tensor(b)).numpy(), a.T, b)
        # too few rows to split M: the column range is split instead
        a, b = rnd(rng, (3, 900), np.float32), rnd(rng, (900, 500), np.float32)
        assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)
        # tall-thin and short-wide products with a long K (fewer slivers than threads)
        for m, k, n in [(5, 20000, 4), (8, 10000, 7), (6, 100, 10000)]:
            a, b = rnd(rng, (m, k), np.float32), rnd(rng, (k, n), np.float32)
            assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)
        # batch split over threads (even, odd, broadcast), or bands of each matrix (batch of 3)
        for sa, sb in [((4, 70, 90), (4, 90, 60)), ((3, 100, 90), (90, 110)), ((5, 1, 60, 70), (1, 3, 70, 50)),
                       ((3, 200, 150), (3, 150, 120))]:
            a, b = rnd(rng, sa, np.float32), rnd(rng, sb, np.float32)
            assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            assert_matmul((tl.tensor(a64) @ tl.tensor(b64)).numpy(), a64, b64)


# Operands whose K block of B (kc x band width) is at most 64 KiB are read in place, A only when
# its rows are contiguous and B only when its rows are and do not crowd a few L1 sets (rows a
# multiple of 512 bytes apart); the others are packed. Each case is run with every layout, one and
# two threads, float32 and float64.
DIRECT_CASES = [
    (6, 256, 64), (6, 256, 65), (7, 256, 32), (7, 256, 33),     # the threshold (f32 / f64)
    (2000, 64, 32), (35, 600, 30), (13, 5, 1000), (300, 40, 47),  # tall, K blocks, wide, edges
    (256, 256, 256), (250, 300, 161),   # 2 threads: bands of 128 / 80 columns
    (3, 2, 9000), (9000, 2, 3),         # in place with a band wider / taller than a packed panel
    (64, 64, 64), (128, 128, 128), (40, 20, 128),   # B's rows 256 / 512 bytes apart (f32)
    # packed B, A read in place up to 2^28 multiply-adds: several M blocks (MC 48 / 72), K blocks
    # (KC 768 / 256), N panels (NC 4080 / 2040), and a size past the bound (A packed again)
    (150, 300, 200), (301, 513, 97), (100, 1700, 90), (20, 260, 4100), (700, 700, 700),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
def test_in_place_and_packed_operands(nt, dtype):
    rng = np.random.default_rng(14)
    with threads(nt):
        for m, k, n in DIRECT_CASES:
            a, b = rnd(rng, (m, k), dtype), rnd(rng, (k, n), dtype)
            at, bt = rnd(rng, (k, m), dtype), rnd(rng, (n, k), dtype)
            ta, tb, tat, tbt = (tl.tensor(x) for x in (a, b, at, bt))
            assert_matmul((ta @ tb).numpy(), a, b)
            assert_matmul((tat.T @ tb).numpy(), at.T, b)                  # A column-major
            assert_matmul((ta @ tbt.T).numpy(), a, bt.T)                  # B column-major
            assert_matmul((tat.T @ tbt.T).numpy(), at.T, bt.T)
            a2, b2 = rnd(rng, (m, 2 * k), dtype), rnd(rng, (k, 2 * n), dtype)
            assert_matmul((tl.tensor(a2)[:, ::2] @ tl.tensor(b2)[:, 1::2]).numpy(), a2[:, ::2], b2[:, 1::2])
            a3 = rnd(rng, (2 * m + 1, k + 3), dtype)   # rows stepped, offset: A in place anyway
            assert_matmul((tl.tensor(a3)[1::2, 2:k + 2] @ tb).numpy(), a3[1::2, 2:k + 2], b)
        # a batch with a broadcast operand, and int64 (always packed, portable kernel)
        x, w = rnd(rng, (3, 1, 20, 70), dtype), rnd(rng, (2, 70, 45), dtype)
        assert_matmul((tl.tensor(x) @ tl.tensor(w)).numpy(), x, w)
        ia, ib = rng.integers(-50, 50, (40, 300)), rng.integers(-50, 50, (300, 37))
        np.testing.assert_array_equal((tl.tensor(ia) @ tl.tensor(ib)).numpy(), ia @ ib)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_edge_tile_shape(dtype):
    # each edge kernel (1..MR rows x 1..2 vectors, the last one masked: 6 x 16 / 6 x 8 with
    # AVX2, 12 x 32 / 12 x 16 at the AVX-512 level 2), with one K block and accumulating over
    # two (KC 768 float32, 256 float64; AVX-512 384), in place and packed, next to neighbours that must not be written
    rng = np.random.default_rng(15)
    wide = lib.tl_simd_level() == 2
    nr = (16 if dtype == np.float32 else 8) * (2 if wide else 1)
    for m in range(1, 13 if wide else 7):
        for n in range(1, nr + 1):
            for k in (3, 300, 800):
                a, b = rnd(rng, (m, k), dtype), rnd(rng, (k, n), dtype)
                assert_matmul((tl.tensor(a) @ tl.tensor(b)).numpy(), a, b)
                bt = rnd(rng, (n, k), dtype)
                assert_matmul((tl.tensor(a) @ tl.tensor(bt).T).numpy(), a, bt.T)
    # the kernel writes exactly m x n elements: guard zones around C stay untouched
    from tinygrad_lab.kernels import ffi
    code = lib.TL_F32 if dtype == np.float32 else lib.TL_F64
    for m, k, n in [(5, 7, 9), (1, 300, 3), (6, 40, nr + 1), (13, 2, 2 * nr - 1)]:
        a, b = rnd(rng, (m, k), dtype), rnd(rng, (k, n), dtype)
        buf = np.full(m * n + 64, 7.0, dtype)
        c = ffi.cast("char *", ffi.from_buffer(buf)) + 32 * buf.itemsize
        assert lib.tl_matmul_forward(code, c, ffi.from_buffer(a), NULL, ffi.from_buffer(b), NULL,
                                     0, NULL, m, n, k) == 0
        assert (buf[:32] == 7).all() and (buf[32 + m * n:] == 7).all()
        assert_matmul(buf[32:32 + m * n].reshape(m, n), a, b)


def test_concurrent_calls_from_python_threads():
    # the packing buffers are kept in a one-slot spare between calls; calls from several Python
    # threads at once (cffi releases the GIL) each get their own buffer. The kernel is called
    # directly: the Python layer's grad mode is process-wide, not per thread.
    import threading
    from tinygrad_lab.kernels import ffi
    rng = np.random.default_rng(16)
    probs = [(rnd(rng, (m, k), np.float32), rnd(rng, (k, n), np.float32))
             for m, k, n in [(300, 400, 200), (90, 700, 130), (513, 257, 65), (40, 40, 40)]]
    results = {}

    def work(i):
        a, b = probs[i % len(probs)]
        out = []
        for _ in range(15):
            c = np.empty((a.shape[0], b.shape[1]), np.float32)
            rc = lib.tl_matmul_forward(lib.TL_F32, ffi.from_buffer(c), ffi.from_buffer(a), NULL,
                                       ffi.from_buffer(b), NULL, 0, NULL, a.shape[0], b.shape[1],
                                       a.shape[1])
            out.append((rc, c))
        results[i] = out

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i, out in results.items():
        a, b = probs[i % len(probs)]
        for rc, c in out:
            assert rc == 0
            assert_matmul(c, a, b)


def test_thread_count_does_not_change_float64_result_much():
    rng = np.random.default_rng(8)
    a, b = rnd(rng, (300, 400)), rnd(rng, (400, 200))
    with threads(1):
        r1 = (tl.tensor(a) @ tl.tensor(b)).numpy()
    with threads(2):
        r2 = (tl.tensor(a) @ tl.tensor(b)).numpy()
    np.testing.assert_allclose(r1, r2, rtol=1e-12, atol=1e-12)


# ---- gradients -------------------------------------------------------------------------------------

GRAD_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3, 4)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((3,), (2, 3, 2)),
    ((2, 2, 3), (3,)),
    ((2, 2, 3), (2, 3, 2)),
    ((2, 3), (2, 3, 2)),           # a broadcast over the batch
    ((2, 2, 3), (3, 2)),           # b shared (folded weight gradient)
    ((2, 1, 2, 3), (2, 3, 2)),     # broadcast on both sides
    ((1, 2, 3), (2, 3, 1)),
    ((0, 3), (3, 2)),              # zero-size
    ((2, 0), (0, 3)),
]


@pytest.mark.parametrize("sa,sb", GRAD_SHAPES)
def test_gradcheck(sa, sb):
    rng = np.random.default_rng(9)
    a = tl.tensor(rnd(rng, sa), requires_grad=True)
    b = tl.tensor(rnd(rng, sb), requires_grad=True)
    assert gradcheck(tl.matmul, (a, b))
    assert gradgradcheck(tl.matmul, (a, b))


def test_gradcheck_transposed_views_and_one_side():
    rng = np.random.default_rng(10)
    a = tl.tensor(rnd(rng, (3, 2)), requires_grad=True)
    b = tl.tensor(rnd(rng, (4, 3)), requires_grad=True)
    f = lambda x, y: x.T @ y.T[:, ::2]  # noqa: E731
    assert gradcheck(f, (a, b))
    assert gradgradcheck(f, (a, b))
    c = tl.tensor(rnd(rng, (2, 3, 2)))  # constant operand: only one input differentiated
    assert gradcheck(lambda x: x.T @ c, (a,))
    assert gradgradcheck(lambda x: c @ x.T, (a,))


def test_backward_matches_formulas_large():
    rng = np.random.default_rng(11)
    a_np, b_np, g_np = rnd(rng, (3, 1, 20, 30)), rnd(rng, (4, 30, 25)), rnd(rng, (3, 4, 20, 25))
    a, b = tl.tensor(a_np, requires_grad=True), tl.tensor(b_np, requires_grad=True)
    (a @ b).backward(tl.tensor(g_np))
    ga = (g_np @ b_np.swapaxes(-1, -2)).sum(axis=1, keepdims=True)
    gb = (a_np.swapaxes(-1, -2) @ g_np).sum(axis=0)
    np.testing.assert_allclose(a.grad.numpy(), ga, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), gb, rtol=1e-12, atol=1e-12)
    # shared weight (the folded path) in float32
    x_np, w_np = rnd(rng, (5, 7, 30), np.float32), rnd(rng, (30, 11), np.float32)
    x, w = tl.tensor(x_np, requires_grad=True), tl.tensor(w_np, requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(x_np.reshape(-1, 30).sum(0)[:, None], (30, 11)),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(w_np.sum(1), (5, 7, 30)), rtol=1e-5, atol=1e-5)


def test_create_graph_hessian_vector():
    # f(x) = x^T A x: grad = (A + A^T) x, Hessian-vector product = (A + A^T) v
    rng = np.random.default_rng(12)
    A_np, x_np, v_np = rnd(rng, (5, 5)), rnd(rng, (5,)), rnd(rng, (5,))
    A, x = tl.tensor(A_np), tl.tensor(x_np, requires_grad=True)
    (g,) = tl.autograd.grad(x @ (A @ x), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), (A_np + A_np.T) @ x_np, rtol=1e-12)
    (hv,) = tl.autograd.grad(g @ tl.tensor(v_np), x)
    np.testing.assert_allclose(hv.numpy(), (A_np + A_np.T) @ v_np, rtol=1e-12)


# ---- errors ----------------------------------------------------------------------------------------

def test_errors():
    a, b = tl.zeros(2, 3), tl.zeros(4, 5)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        tl.zeros(3) @ tl.zeros(4)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(3, 4, 5\)"):
        tl.zeros(2, 3, 4) @ tl.zeros(3, 4, 5)          # batch dims 2 and 3 do not broadcast
    with pytest.raises(ValueError, match=r"at least 1 dimension.*\(\)"):
        tl.tensor(2.0) @ tl.zeros(3)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        tl.matmul(tl.zeros(3), tl.tensor(1.0))
    with pytest.raises(TypeError, match="expected Tensors"):
        tl.matmul(tl.zeros(3), [1.0, 2.0, 3.0])


def test_kernel_rejects_bad_arguments():
    c = tl.zeros(2, 2)
    p = c._ptr
    assert lib.tl_matmul_forward(lib.TL_BOOL, p, p, NULL, p, NULL, 0, NULL, 2, 2, 2) == lib.TL_EDTYPE
    assert lib.tl_matmul_forward(lib.TL_F32, p, p, NULL, p, NULL, 0, NULL, -1, 2, 2) == lib.TL_EINVAL
    assert lib.tl_matmul_forward(lib.TL_F32, p, NULL, NULL, p, NULL, 0, NULL, 2, 2, 2) == lib.TL_EINVAL
    assert lib.tl_matmul_forward(lib.TL_F32, p, p, NULL, p, NULL, 40, NULL, 2, 2, 2) == lib.TL_EINVAL
