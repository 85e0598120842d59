"""Native float16/bfloat16 kernels (issue 16's remaining kernel work): reductions that read
halves, widen them in registers/L1 blocks, accumulate in float32 and round once -- no float32
copy of the input; transcendentals fused as widen -> vmath -> round in registers; the casts'
AVX-512 loops. Checked bit for bit against the float32 kernel on the widened values (the path
they replace), against PyTorch, over NaN/Inf, empty, 0-d, strided and broadcast views,
subnormals, threads, SIMD levels and the AVX-512/AVX2 loops, with gradients."""
import contextlib

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import kernels as K
from tinygrad_lab._lib import ffi, lib
from tinygrad_lab.ops.nn import _row_kernel

from .helpers import rng_for, simd_level, simd_levels, threads

HALVES = [tl.float16, tl.bfloat16]
TOL = {tl.float16: 4e-3, tl.bfloat16: 3e-2}


def _bits(t):
    """The float32 bit patterns of t widened (exact for a half; compares halves bit for bit)."""
    return t.detach().float().numpy().view(np.uint32)


def _same(a, b):
    assert a.dtype is b.dtype and a.shape == b.shape
    if a.dtype is tl.int64:
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    else:
        np.testing.assert_array_equal(_bits(a), _bits(b))


def _half(shape, dt, rng, scale=3.0):
    return tl.tensor((rng.standard_normal(shape) * scale).astype(np.float32)).to(dt)


def _torch_dtype(torch, dt):
    return {tl.float16: torch.float16, tl.bfloat16: torch.bfloat16}[dt]


# (shape, dim): rows order, columns order, the threaded cuts (slices of one long row, bands of
# few columns), several dims, a full reduction
SHAPES = [((5000,), None), ((300000,), 0), ((64, 3000), 1), ((3000, 64), 0), ((4096, 1024), 0),
          ((40, 50000), 0), ((2, 70000), 1), ((7, 3, 5), (0, 2)), ((7, 3, 5), -1), ((6, 1), 0)]
OPS = ["sum", "mean", "max", "min", "argmax", "argmin"]


def _reduce(op, x, dim):
    fn = getattr(x, op)
    return fn() if dim is None else fn(dim)


@pytest.mark.parametrize("dt", HALVES, ids=str)
@pytest.mark.parametrize("shape,dim", SHAPES, ids=str)
def test_reductions_bit_identical_to_the_widened_float32_path(dt, shape, dim):
    """Contiguous inputs: the same summation order as the float32 kernel on x.float(), so the
    same bits after the one rounding (argmax/argmin the same indices), on any thread count."""
    x = _half(shape, dt, rng_for("red", str(dt), shape))
    if isinstance(dim, tuple) or dim is None:
        ops = [o for o in OPS if not o.startswith("arg")] if isinstance(dim, tuple) else OPS
    else:
        ops = OPS
    for op in ops:
        ref = _reduce(op, x.float(), dim)
        ref = ref if op.startswith("arg") else ref.to(dt)
        for n in (1, 2):
            with threads(n):
                _same(_reduce(op, x, dim), ref)


@pytest.mark.parametrize("level", simd_levels())
@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_portable_and_simd_builds_agree(dt, level):
    x = _half((33, 1027), dt, rng_for("simd", str(dt)))
    with simd_level(level):
        for op in OPS:
            for dim in (0, 1, None):
                ref = _reduce(op, x.float(), dim)
                _same(_reduce(op, x, dim), ref if op.startswith("arg") else ref.to(dt))


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_no_float32_copy_of_the_input(dt):
    """The kernels read the halves: no cast kernel runs over the input (only a mean's
    output-sized float32 result is rounded by tl_copy)."""
    x = _half((64, 100), dt, rng_for("nocopy", str(dt)))
    for op, dim in [("sum", 1), ("sum", None), ("max", 0), ("min", 1), ("argmax", 1),
                    ("argmin", None)]:
        with K.record() as calls:
            _reduce(op, x, dim)
        assert [name for name, _ in calls] in (["tl_reduce"], ["tl_reduce_flat"]), (op, calls)
    with K.record() as calls:
        x.mean(0)
    assert [name for name, _ in calls] == ["tl_reduce_to", "tl_unary_flat", "tl_copy"]
    assert calls[2][1][0] == dt.code      # the copy rounds the (100,) float32 means


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_strided_and_broadcast_views(dt):
    """Views are reduced in place (no contiguous copy): equal to the float32 kernel on the
    same float32 view where the loop order is the same (transposes, strided rows), and to a
    float64 reference within a rounding elsewhere."""
    rng = rng_for("views", str(dt))
    base = _half((96, 130), dt, rng)
    b32 = base.float()
    views = [lambda t: t.T, lambda t: t[:, ::3], lambda t: t[::2, 5:], lambda t: t[3].expand(4, 130),
             lambda t: t[:, :1].expand(96, 7)]
    for view in views:
        v, v32 = view(base), view(b32)
        assert not v.is_contiguous()
        for op in OPS:
            for dim in (0, 1, None):
                got, ref = _reduce(op, v, dim), _reduce(op, v32, dim)
                if op.startswith("arg") or op in ("max", "min"):
                    _same(got, ref if op.startswith("arg") else ref.to(dt))
                else:
                    exact = _reduce(op, v.double(), dim).numpy()
                    np.testing.assert_allclose(got.float().numpy(), exact, rtol=TOL[dt], atol=1e-3)
    # a transposed view sums columns in the float32 kernel's order: the same bits
    _same(base.T.sum(1), b32.T.sum(1).to(dt))
    _same(base[:, ::3].sum(1), b32[:, ::3].sum(1).to(dt))


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_nan_inf_empty_zero_dim_and_subnormals(dt):
    nan, inf = float("nan"), float("inf")
    x = tl.tensor([[1.0, nan, 3.0, inf], [-inf, 2.0, -1.0, 0.5], [inf, -inf, 1.0, 1.0]], dtype=dt)
    for op in OPS:
        for dim in (0, 1, None):
            ref = _reduce(op, x.float(), dim)
            _same(_reduce(op, x, dim), ref if op.startswith("arg") else ref.to(dt))
    assert np.isnan(x.max().item()) and x.argmax().item() == 1
    assert np.isnan(x[2].sum().item()) and x[1].sum().item() == -inf
    # empty: sums are 0, means NaN, max/argmax refuse as PyTorch does
    e = tl.zeros((0, 3), dtype=dt)
    assert e.sum().item() == 0 and e.sum(0).dtype is dt and np.isnan(e.mean().item())
    np.testing.assert_array_equal(e.sum(0).float().numpy(), [0, 0, 0])
    assert e.sum(1).shape == (0,) and e.max(1).shape == (0,)
    with pytest.raises(RuntimeError):
        e.max()
    with pytest.raises(IndexError):
        e.argmax(0)
    # 0-d
    s = tl.tensor(2.5, dtype=dt)
    for op in OPS:
        r = _reduce(op, s, None)
        assert r.shape == () and r.item() == (0 if op.startswith("arg") else 2.5)
    # subnormals: exact in float32, summed there, rounded once (float16: 2^-24 steps)
    tiny = 2.0 ** -24 if dt is tl.float16 else 2.0 ** -133
    t = tl.full((3000,), tiny, dtype=dt)
    assert t.sum().item() == tl.tensor(3000 * tiny, dtype=dt).item() and t.mean().item() == tiny
    _same(t.sum(), t.float().sum().to(dt))


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_keepdim_mean_over_dims_and_large_sums(dt):
    x = _half((300, 40), dt, rng_for("mean", str(dt)))
    for dim in (0, 1, (0, 1), None):
        for keepdim in (False, True):
            ref = x.float().mean(dim, keepdim=keepdim) if dim is not None else x.float().mean()
            got = x.mean(dim, keepdim=keepdim) if dim is not None else x.mean()
            _same(got, ref.to(dt))
    # accumulation in float32, not in half (a float16 running sum of ones stops at 2048,
    # bfloat16's at 256): 1e5 rounded once -- above float16's 65504, so Inf there
    ones = tl.ones(100000, dtype=dt)
    assert ones.mean().item() == 1.0
    assert ones.sum().item() == (float("inf") if dt is tl.float16 else 99840.0)


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_gradients_match_the_widened_path(dt):
    """Gradients arrive in the input's dtype with the bits of the float32 computation rounded
    back (sum/mean broadcast g, g / n; max/min share g among ties in float32)."""
    rng = rng_for("grad", str(dt))
    a = (rng.standard_normal((30, 20)) * 2).astype(np.float32)
    a[3, :4] = 5.0                                  # ties for max along dim 1 and overall
    a[:, 7] = -9.0
    for op, dim in [("sum", 1), ("sum", None), ("mean", 0), ("mean", None), ("mean", (0, 1)),
                    ("max", 1), ("max", None), ("min", 0), ("min", None)]:
        x = tl.tensor(a, dtype=dt, requires_grad=True)
        y = _reduce(op, x, dim)
        g = tl.tensor(np.linspace(0.3, 3.1, y.numel()).reshape(y.shape).astype(np.float32),
                      dtype=dt)
        y.backward(g)
        x32 = tl.tensor(a, dtype=dt).float().requires_grad_()
        _reduce(op, x32, dim).backward(g.float())
        assert x.grad.dtype is dt
        _same(x.grad, x32.grad.to(dt))


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_sum_to_of_a_broadcast_gradient(dt):
    """The bias-add VJP sums the half gradient straight in the reduction kernel."""
    x = _half((256, 64), dt, rng_for("bias", str(dt)))
    b = _half((64,), dt, rng_for("bias-b", str(dt))).requires_grad_()
    c = _half((256, 1), dt, rng_for("bias-c", str(dt))).requires_grad_()
    g = _half((256, 64), dt, rng_for("bias-g", str(dt)))
    (x + b + c).backward(g)
    _same(b.grad, g.float().sum(0).to(dt))
    _same(c.grad, g.float().sum(1, keepdim=True).to(dt))


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_reductions_match_torch(dt):
    torch = pytest.importorskip("torch")
    tdt = _torch_dtype(torch, dt)
    a = (rng_for("torch", str(dt)).standard_normal((64, 513)) * 4).astype(np.float32)
    x = tl.tensor(a).to(dt)
    tx = torch.from_numpy(a).to(tdt)
    for op in OPS:
        for dim in (0, 1, None):
            got = _reduce(op, x, dim)
            ref = getattr(tx, op)() if dim is None else getattr(tx, op)(dim)
            ref = ref if isinstance(ref, torch.Tensor) else ref.values   # (values, indices)
            if op.startswith("arg"):
                np.testing.assert_array_equal(got.numpy(), ref.numpy())
            else:
                assert got.dtype is dt
                scale = np.abs(a).sum() if op in ("sum",) and dim is None else 1.0
                np.testing.assert_allclose(got.float().numpy(), ref.float().numpy(),
                                           rtol=TOL[dt], atol=TOL[dt] * (1 + scale / 64))
    # gradients of mean over a dim, in bfloat16/float16
    xg = tl.tensor(a, dtype=dt, requires_grad=True)
    txg = torch.from_numpy(a).to(tdt).requires_grad_()
    xg.mean(1).sum().backward()
    txg.mean(1).sum().backward()
    np.testing.assert_array_equal(xg.grad.float().numpy(), txg.grad.float().numpy())


# ---- fused transcendentals and the AVX-512 loops -----------------------------------------------

@contextlib.contextmanager
def half_avx512(on):
    """The half loops with (on=1, where the CPU has AVX-512F) or without AVX-512."""
    lib.tl_set_half_avx512(on)
    try:
        yield
    finally:
        lib.tl_set_half_avx512(1)


def _loop_variants():
    """(simd level, avx512 on) pairs this machine can run: portable, AVX2, AVX-512."""
    out = [(0, 0)]
    if lib.tl_simd_level():
        out.append((lib.tl_simd_level(), 0))
        if lib.tl_set_half_avx512(1):
            out.append((lib.tl_simd_level(), 1))
    return out


def _special_halves(dt):
    """Every finite and special value class: all 65,536 bit patterns of the type."""
    bits = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16)
    t = tl.empty((2 ** 16,), dtype=dt)
    ffi.memmove(t._ptr, ffi.from_buffer(bits), bits.nbytes)
    return t


UNARY = {"exp": lambda t: t.exp(), "log": lambda t: t.log(), "tanh": lambda t: t.tanh(),
         "sigmoid": lambda t: t.sigmoid(), "erf": lambda t: t.erf(),
         "gelu": lambda t: tl.nn.functional.gelu(t), "sqrt": lambda t: t.sqrt()}


@pytest.mark.parametrize("variant", _loop_variants(), ids=str)
@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_fused_unary_ops_bit_identical_over_all_halves(dt, variant):
    """Every half bit pattern (NaN payloads, +-Inf, subnormals, the overflow edge of exp) through
    each op: the bits of the float32 op on the widened values, rounded once."""
    level, avx = variant
    x = _special_halves(dt)
    with simd_level(level), half_avx512(avx):
        for name, f in UNARY.items():
            got, ref = f(x), f(x.float()).to(dt)
            np.testing.assert_array_equal(_bits(got), _bits(ref), err_msg=name)


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_fused_unary_ops_tails_and_threads(dt):
    rng = rng_for("tails", str(dt))
    for n in (1, 7, 8, 9, 15, 16, 17, 31, 1000, 70001):
        x = _half((n,), dt, rng, scale=30.0)          # |x| > 86 in some vectors, not others
        for avx in (0, 1):
            for nt in (1, 2):
                with half_avx512(avx), threads(nt):
                    for name, f in UNARY.items():
                        np.testing.assert_array_equal(_bits(f(x)), _bits(f(x.float()).to(dt)),
                                                      err_msg=f"{name} n={n}")


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_fused_exp_matches_torch(dt):
    torch = pytest.importorskip("torch")
    tdt = _torch_dtype(torch, dt)
    a = np.concatenate([np.linspace(-110, 90, 20001), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    x = tl.tensor(a.astype(np.float32)).to(dt)
    ref = torch.from_numpy(a.astype(np.float32)).to(tdt).exp().float().numpy()
    np.testing.assert_allclose(x.exp().float().numpy(), ref, rtol=TOL[dt] / 4, atol=0,
                               equal_nan=True)


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_casts_and_fused_arithmetic_avx512_equals_avx2(dt):
    """The 16-lane casts and + - * / give the 8-lane loops' bits (which tests/test_half.py
    checks against PyTorch), at every length mod 16."""
    rng = rng_for("avx512", str(dt))
    h = _special_halves(dt)
    f = np.concatenate([rng.standard_normal(5000).astype(np.float32) * 1e5,
                        rng.integers(0, 2 ** 32, 5000, dtype=np.uint64).astype(np.uint32).view(np.float32)])
    for n in (1, 15, 16, 17, 33, 2 ** 16):
        hn, fn = h[:n], tl.tensor(f[:n])
        other = h[2 ** 16 - n:]
        res = []
        for avx in (0, 1):
            with half_avx512(avx):
                res.append([_bits(hn.float()), _bits(fn.to(dt)), _bits(hn + other), _bits(hn - other),
                            _bits(hn * other), _bits(hn / other)])
        for a, b in zip(*res):
            np.testing.assert_array_equal(a, b)


# ---- softmax / log_softmax ----------------------------------------------------------------------

SOFTMAXES = {"softmax": (lambda x, d: tl.softmax(x, d), K.tl_softmax_backward),
             "log_softmax": (lambda x, d: tl.log_softmax(x, d), K.tl_log_softmax_backward)}


@pytest.mark.parametrize("dt", HALVES, ids=str)
@pytest.mark.parametrize("name", sorted(SOFTMAXES))
def test_softmax_kernels_on_halves(dt, name):
    """Forward: the float32 kernel on the widened rows, rounded once (the bits of the float32
    copy path), on any thread count. Backward: the float32 kernel on the widened g and saved
    half y (as PyTorch's half backward reads its half output)."""
    f, bwd = SOFTMAXES[name]
    rng = rng_for("softmax", name, str(dt))
    for shape, dim in [((64, 1000), -1), ((3, 5000), 1), ((1000, 3), 0), ((2, 3, 4), 1), ((7,), 0),
                       ((2, 9000), -1), ((300, 700), 1)]:
        x = _half(shape, dt, rng, scale=5.0)
        for n in (1, 2):
            with threads(n):
                _same(f(x, dim), f(x.float(), dim).to(dt))
        xr = x.detach().requires_grad_()
        y = f(xr, dim)
        g = _half(shape, dt, rng)
        y.backward(g)
        yl, gl = y.detach().transpose(dim, -1).contiguous(), g.transpose(dim, -1).contiguous()
        ref = _row_kernel(bwd, name, yl.float(), gl.float(), yl.float()).to(dt)
        _same(xr.grad, ref.transpose(dim, -1).contiguous())
        assert xr.grad.dtype is dt


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_softmax_on_halves_edge_cases(dt):
    nan, inf = float("nan"), float("inf")
    x = tl.tensor([[1.0, inf, 0.0], [nan, 1.0, 2.0], [-inf, -inf, 0.0], [-inf, -inf, -inf]], dtype=dt)
    for f, _ in SOFTMAXES.values():
        _same(f(x, 1), f(x.float(), 1).to(dt))
        _same(f(x.T, 0), f(x.float().T, 0).to(dt))          # a transposed view
        assert f(tl.zeros((0, 5), dtype=dt), 1).shape == (0, 5)
        assert f(tl.zeros((4, 0), dtype=dt), 1).shape == (4, 0)
        s = f(tl.tensor(3.0, dtype=dt), 0)
        assert s.shape == () and s.dtype is dt
    assert tl.softmax(x, 1)[0].float().tolist()[1] != tl.softmax(x, 1)[0].float().tolist()[1]  # inf row: NaN
    # double backward (create_graph) on halves: the formulas run in half ops
    xr = _half((4, 6), dt, rng_for("sm-2nd", str(dt))).requires_grad_()
    (gx,) = tl.autograd.grad(tl.softmax(xr, 1).pow(2).sum(), [xr], create_graph=True)
    gx.sum().backward()
    assert gx.dtype is dt and xr.grad.dtype is dt and np.isfinite(xr.grad.float().numpy()).all()


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_softmax_on_halves_matches_torch(dt):
    torch = pytest.importorskip("torch")
    tdt = _torch_dtype(torch, dt)
    a = (rng_for("sm-torch", str(dt)).standard_normal((32, 257)) * 4).astype(np.float32)
    g = (rng_for("sm-torch-g", str(dt)).standard_normal((32, 257))).astype(np.float32)
    for name, (f, _) in SOFTMAXES.items():
        x = tl.tensor(a, dtype=dt, requires_grad=True)
        tx = torch.from_numpy(a).to(tdt).requires_grad_()
        y, ty = f(x, 1), getattr(torch, name)(tx, 1)
        # (log_softmax near 0 is x - max - logsumexp: its error is absolute, of their size)
        np.testing.assert_allclose(y.detach().float().numpy(), ty.detach().float().numpy(),
                                   rtol=TOL[dt], atol=TOL[dt] * 0.2)
        y.backward(tl.tensor(g, dtype=dt))
        ty.backward(torch.from_numpy(g).to(tdt))
        np.testing.assert_allclose(x.grad.float().numpy(), tx.grad.float().numpy(),
                                   rtol=4 * TOL[dt], atol=4 * TOL[dt] * np.abs(g).max() * 0.1)


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_native_half_kernels_replay_under_jit(dt):
    """tl.jit captures and replays the native half calls (tl_reduce_to, the half softmax...):
    the replayed step gives the eager step's bits."""
    x = _half((64, 32), dt, rng_for("jit", str(dt)))
    w = _half((32,), dt, rng_for("jit-w", str(dt))).requires_grad_()

    def loss(x):
        return tl.log_softmax(x * w, 1).mean(0).sum() + (x + w).max(1).mean() + (x - w).sum(0).mean()

    step = tl.jit(lambda x: (setattr(w, "grad", None), loss(x).backward(), w.grad)[2])
    got = [step(x).detach().clone() for _ in range(3)]
    w.grad = None
    loss(x).backward()
    for g in got:
        _same(g, w.grad)


# ---- var / std ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", HALVES, ids=str)
@pytest.mark.parametrize("shape,dim", SHAPES + [((3, 0), 0), ((3, 0), 1)], ids=str)
def test_var_std_bit_identical_to_the_widened_path(dt, shape, dim):
    """mean (float32, tl_reduce_to), then the float32 (x - mean)^2 summed (tl_reduce_sqdev),
    divided and (std) rooted in float32, rounded once: the bits of x.float().var() rounded."""
    x = _half(shape, dt, rng_for("var", str(dt), shape), scale=3.0) + 1.5
    for op in ("var", "std"):
        for kw in ({}, {"correction": 0}, {"keepdim": True}, {"unbiased": False}):
            ref = getattr(x.float(), op)(dim, **kw).to(dt)
            for n in (1, 2):
                with threads(n):
                    _same(getattr(x, op)(dim, **kw), ref)


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_var_std_no_copy_views_special_values_gradients(dt):
    x = _half((64, 100), dt, rng_for("var-nocopy", str(dt)))
    with K.record() as calls:
        x.var(1)
    assert [name for name, _ in calls] == ["tl_reduce_to", "tl_unary_flat", "tl_reduce_sqdev",
                                           "tl_unary_flat", "tl_copy"]
    for view in (x.T, x[:, ::3], x[5].expand(7, 100)):
        for op in ("var", "std"):
            for dim in (0, 1, None):
                exact = getattr(view.double(), op)(dim).numpy()
                np.testing.assert_allclose(getattr(view, op)(dim).float().numpy(), exact,
                                           rtol=2 * TOL[dt], atol=1e-6)
    _same(x.T.var(1), x.float().T.var(1).to(dt))
    nan, inf = float("nan"), float("inf")
    s = tl.tensor([[1.0, inf, 2.0], [nan, 1.0, 1.0], [3.0, 3.0, 3.0]], dtype=dt)
    for op in ("var", "std"):
        _same(getattr(s, op)(1), getattr(s.float(), op)(1).to(dt))
        assert getattr(tl.tensor(2.0, dtype=dt), op)().isnan().item()          # one element
    assert s[2].std().item() == 0 and s[2].var(0, correction=0).item() == 0
    # with autograd: the float32 composition on the widened x (gradients in x's dtype)
    a = _half((30, 20), dt, rng_for("var-grad", str(dt)))
    for op, dim in (("var", 1), ("std", 0), ("std", None)):
        xr = a.detach().requires_grad_()
        x32 = a.float().requires_grad_()
        y = getattr(xr, op)(dim)
        _same(y, getattr(x32.detach(), op)(dim).to(dt))
        y.sum().backward()
        getattr(x32, op)(dim).to(dt).sum().backward()
        assert xr.grad.dtype is dt
        _same(xr.grad, x32.grad.to(dt))


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_var_std_match_torch(dt):
    torch = pytest.importorskip("torch")
    tdt = _torch_dtype(torch, dt)
    a = (rng_for("var-torch", str(dt)).standard_normal((48, 333)) * 3 + 2).astype(np.float32)
    x, tx = tl.tensor(a).to(dt), torch.from_numpy(a).to(tdt)
    for op in ("var", "std"):
        for dim in (0, 1, None):
            got = getattr(x, op)(dim) if dim is not None else getattr(x, op)()
            ref = getattr(tx, op)(dim) if dim is not None else getattr(tx, op)()
            np.testing.assert_allclose(got.float().numpy(), ref.float().numpy(), rtol=2 * TOL[dt])
