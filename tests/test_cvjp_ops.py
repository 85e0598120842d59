"""The C VJPs of issue 15's "every backward about its forward's cost": tl_binary_backward (mul,
div, pow, maximum, minimum), tl_reduce_extremum_backward (max / min reductions), the norm's
TL_NORM_TERM row and where's VJP through the where kernel.

tests/test_derivatives.py checks each C VJP against its op's formula; here both are checked
against PyTorch at the points where the rules are subtle -- ties, NaN, +-inf, pow at a 0 or
negative base or a 0 exponent, the zero vector of a norm -- in float32 and float64, on
contiguous, transposed and broadcast inputs; and the kernel calls show the C VJPs really run.
"""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import kernels as K

INF, NAN = float("inf"), float("nan")
DTYPES = [(tl.float64, "float64"), (tl.float32, "float32")]

# pairs (a, b) covering ties (0 == -0 too), NaN on either side, +-inf, pow's special bases and
# exponents (0 ** 0, 0 ** -1, (-2) ** 3, (-2) ** 0.5, inf ** 0, nan ** 0, 1 ** nan)
A = [0.0, 0.0, 0.0, -0.0, -2.0, -2.0, 2.0, INF, NAN, 1.0, 0.0, -INF, 2.0, 0.5, -0.0, 3.0,
     1.5, 1.5, -1.0, NAN]
B = [0.0, 2.0, -1.0, 0.5, 3.0, 0.5, 0.0, 0.0, 0.0, NAN, NAN, 2.0, INF, -INF, -2.0, 1.0,
     1.5, -1.5, -1.0, NAN]


def _tl_grads(fn, arrays, dtype, g, create_graph=False, layout="contiguous"):
    ins = []
    for a in arrays:
        t = tl.tensor(np.ascontiguousarray(np.asarray(a).T) if layout == "transposed" else a,
                      dtype=dtype, requires_grad=True)
        ins.append(t)
    views = [t.T if layout == "transposed" else t for t in ins]   # strided views of the leaves
    out = fn(*views)
    grads = tl.autograd.grad(out, ins, tl.tensor(g, dtype=dtype), create_graph=create_graph)
    res = [r.detach().double().numpy() for r in grads]   # (bfloat16 has no NumPy dtype without ml_dtypes)
    return [r.T if layout == "transposed" else r for r in res]


def _torch_grads(torch, fn, arrays, dtype, g):
    ins = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True) for a in arrays]
    out = fn(*ins)
    grads = torch.autograd.grad(out, ins, torch.tensor(g, dtype=getattr(torch, dtype)))
    return [r.detach().double().numpy() for r in grads]


def _same(got, want, dtype):
    tol = dict(rtol=1e-12, atol=0) if dtype is tl.float64 else dict(rtol=1e-5, atol=1e-30)
    for x, y in zip(got, want):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, equal_nan=True, **tol)


def _check_both_paths(torch, fn, tfn, arrays, dtype, tname, layouts=("contiguous",)):
    out = fn(*[tl.tensor(a, dtype=tl.float64) for a in arrays])
    g = np.random.default_rng(0).standard_normal(out.shape)
    want = _torch_grads(torch, tfn, arrays, tname, g)
    for layout in layouts:
        for create_graph in (False, True):   # the C VJP, then the formula
            _same(_tl_grads(fn, arrays, dtype, g, create_graph, layout), want, dtype)


@pytest.mark.parametrize("dtype,tname", DTYPES)
@pytest.mark.parametrize("op", ["maximum", "minimum", "pow", "div", "mul"])
def test_binary_vjps_match_torch_at_special_points(op, dtype, tname):
    torch = pytest.importorskip("torch")
    fn = {"pow": lambda a, b: a ** b, "div": lambda a, b: a / b, "mul": lambda a, b: a * b,
          "maximum": tl.maximum, "minimum": tl.minimum}[op]
    tfn = {"pow": lambda a, b: a ** b, "div": lambda a, b: a / b, "mul": lambda a, b: a * b,
           "maximum": torch.maximum, "minimum": torch.minimum}[op]
    a, b = np.array(A).reshape(4, 5), np.array(B).reshape(4, 5)
    _check_both_paths(torch, fn, tfn, [a, b], dtype, tname, ("contiguous", "transposed"))


@pytest.mark.parametrize("dtype,tname", DTYPES)
@pytest.mark.parametrize("op", ["maximum", "minimum", "pow", "div"])
def test_binary_vjps_broadcast_and_sum_back(op, dtype, tname):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 2.0, (3, 4))
    b = rng.uniform(0.5, 2.0, (4,))
    a[0, :] = b                    # ties along a broadcast row
    fn = {"pow": lambda x, y: x ** y, "div": lambda x, y: x / y, "maximum": tl.maximum,
          "minimum": tl.minimum}[op]
    tfn = {"pow": lambda x, y: x ** y, "div": lambda x, y: x / y, "maximum": torch.maximum,
           "minimum": torch.minimum}[op]
    _check_both_paths(torch, fn, tfn, [a, b], dtype, tname)
    _check_both_paths(torch, fn, tfn, [b, a[:, :1]], dtype, tname)   # (4,) with (3, 1)


def test_maximum_ties_split_half_and_half():
    a = tl.tensor([1.0, 2.0, 3.0, -0.0], requires_grad=True)
    b = tl.tensor([1.0, 5.0, 0.0, 0.0], requires_grad=True)
    tl.maximum(a, b).backward(tl.tensor([2.0, 2.0, 2.0, 2.0]))
    assert a.grad.tolist() == [1.0, 0.0, 2.0, 1.0] and b.grad.tolist() == [1.0, 2.0, 0.0, 1.0]
    a.grad = b.grad = None
    tl.minimum(a, b).backward(tl.tensor([2.0, 2.0, 2.0, 2.0]))
    assert a.grad.tolist() == [1.0, 2.0, 0.0, 1.0] and b.grad.tolist() == [1.0, 0.0, 2.0, 1.0]


def test_pow_gradient_at_zero_base_and_zero_exponent():
    a = tl.tensor([0.0, 0.0, 0.0, 2.0], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([0.0, 2.0, -1.0, 0.0], dtype=tl.float64, requires_grad=True)
    (a ** b).backward(tl.ones(4, dtype=tl.float64))
    # d/da: 0 where b == 0 (not 0 * 0 ** -1 = NaN); d/db: 0 where a == 0 and b >= 0
    assert a.grad.tolist() == [0.0, 0.0, -INF, 0.0]
    assert b.grad.tolist()[:2] == [0.0, 0.0] and b.grad.tolist()[2] == -INF
    assert b.grad.tolist()[3] == pytest.approx(np.log(2.0))


@pytest.mark.parametrize("dtype,tname", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
def test_reduction_vjps_split_ties_evenly_as_amax(op, dtype, tname):
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 3.0, 3.0, -1.0, 3.0], [2.0, 2.0, -1.0, 0.0, -0.0],
                  [INF, INF, 1.0, -0.0, 0.0], [-INF, -INF, -INF, -INF, -INF]])
    tfn = {"max": torch.amax, "min": torch.amin}[op]
    for dim in (None, 0, 1, (0, 1)):
        for keepdim in (False, True):
            def fn(t, d=dim, k=keepdim):
                return getattr(tl, op)(t, d, keepdim=k)

            def tfn_(t, d=dim, k=keepdim):
                return tfn(t, () if d is None else d, keepdim=k)
            _check_both_paths(torch, fn, tfn_, [x], dtype, tname, ("contiguous", "transposed"))


@pytest.mark.parametrize("dtype", [tl.float64, tl.float32])
def test_reduction_vjps_give_nan_maxima_the_gradient(dtype):
    # PyTorch's max() of all elements: where the result is NaN, the NaN elements take g (split
    # evenly); tl keeps that rule along a dim too (torch.amax gives NaN to the whole row there)
    x = [[1.0, NAN, 3.0, NAN], [2.0, 5.0, 5.0, 0.0]]
    for op in ("max", "min"):
        for create_graph in (False, True):
            t = tl.tensor(x, dtype=dtype, requires_grad=True)
            (gx,) = tl.autograd.grad(getattr(t, op)(1), t, tl.tensor([4.0, 4.0], dtype=dtype),
                                     create_graph=create_graph)
            want = [[0.0, 2.0, 0.0, 2.0], [0.0, 2.0, 2.0, 0.0] if op == "max" else [0.0, 0.0, 0.0, 4.0]]
            assert gx.tolist() == want
            (gx,) = tl.autograd.grad(getattr(t, op)(), t, create_graph=create_graph)
            assert gx.tolist() == [[0.0, 0.5, 0.0, 0.5], [0.0] * 4]


def test_reduction_vjp_matches_torch_max_of_all_with_nan():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, NAN, 3.0], [NAN, 5.0, 5.0]])
    for op in ("max", "min"):
        _check_both_paths(torch, lambda t, o=op: getattr(t, o)(), lambda t, o=op: getattr(t, o)(),
                          [x], tl.float64, "float64")


@pytest.mark.parametrize("dtype,tname", DTYPES)
@pytest.mark.parametrize("p", [2.0, 3.0, 1.5, 0.5])
def test_norm_vjp_matches_torch_with_zero_vectors_and_zero_elements(p, dtype, tname):
    torch = pytest.importorskip("torch")
    x = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, -2.0], [1e-3, -3.0, 4.0], [-0.0, 0.0, 2.5]])
    for dim, keepdim in ((1, False), (1, True), (0, False), (None, False)):
        _check_both_paths(
            torch, lambda t, d=dim, k=keepdim: tl.norm(t, p, d, k),
            lambda t, d=dim, k=keepdim: torch.linalg.vector_norm(t, p, d, k), [x], dtype, tname,
            ("contiguous", "transposed"))


def test_norm_vjp_nan_and_inf_as_the_formula():
    x = [[NAN, 1.0, 2.0], [INF, 1.0, 0.0], [0.0, 0.0, 0.0]]
    for p in (2.0, 3.0):
        res = []
        for create_graph in (False, True):
            t = tl.tensor(x, dtype=tl.float64, requires_grad=True)
            (gx,) = tl.autograd.grad(tl.norm(t, p, 1), t, tl.ones(3, dtype=tl.float64),
                                     create_graph=create_graph)
            res.append(gx.detach().numpy())
        np.testing.assert_array_equal(res[0], res[1])
        assert np.isnan(res[0][0]).all() and (res[0][2] == 0).all()


@pytest.mark.parametrize("dtype,tname", DTYPES)
def test_where_vjp_broadcast_matches_torch(dtype, tname):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    c = rng.uniform(-1, 1, (3, 1)) > 0
    a, b = rng.standard_normal((4,)), rng.standard_normal(())
    ta = tl.tensor(a, dtype=dtype, requires_grad=True)
    tb = tl.tensor(b, dtype=dtype, requires_grad=True)
    g = rng.standard_normal((3, 4))
    g[0, 0] = NAN
    ga, gb = tl.autograd.grad(tl.where(tl.tensor(c), ta, tb), [ta, tb], tl.tensor(g, dtype=dtype))
    pa = torch.tensor(a, dtype=getattr(torch, tname), requires_grad=True)
    pb = torch.tensor(b, dtype=getattr(torch, tname), requires_grad=True)
    wa, wb = torch.autograd.grad(torch.where(torch.tensor(c), pa, pb), [pa, pb],
                                 torch.tensor(g, dtype=getattr(torch, tname)))
    _same([ga.numpy().astype(np.float64), gb.numpy().astype(np.float64)],
          [wa.double().numpy(), wb.double().numpy()], dtype)


@pytest.mark.parametrize("dtype", [tl.float16, tl.bfloat16])
def test_half_binary_and_norm_vjps(dtype):
    # half inputs go through the float32 kernel block by block: the gradient is the float32 one,
    # rounded
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, (3, 4))
    a[0] = b[0]
    for fn in (tl.maximum, tl.minimum, lambda x, y: x ** y, lambda x, y: x / y):
        half = _tl_grads(fn, [a, b], dtype, np.ones((3, 4)))
        single = _tl_grads(fn, [tl.tensor(a).to(dtype).float().numpy(),
                                tl.tensor(b).to(dtype).float().numpy()], tl.float32, np.ones((3, 4)))
        for h, s in zip(half, single):
            np.testing.assert_allclose(h, s, rtol=1e-2 if dtype is tl.float16 else 1e-2 * 8)
    gx = _tl_grads(lambda x: tl.norm(x, 3.0, 1), [a], dtype, np.ones(3))[0]
    assert np.isfinite(gx).all() and gx.shape == (3, 4)


def test_the_c_vjps_run_in_plain_backward():
    x = tl.tensor([[1.0, 2.0], [2.0, 0.5]], requires_grad=True)
    y = tl.tensor([[2.0, 2.0], [1.0, 3.0]], requires_grad=True)
    cases = [
        (lambda: tl.maximum(x, y).sum(), "tl_binary_backward"),     # (g: a broadcast view)
        (lambda: (tl.maximum(x, y) * 2.0).sum(), "tl_binary_backward_flat"),
        (lambda: (x ** y[0]).sum(), "tl_binary_backward"),           # broadcast: strided
        (lambda: (x / y).exp().sum(), "tl_binary_backward_flat"),
        (lambda: x.max(), "tl_reduce_extremum_backward"),
        (lambda: x.min(1).sum(), "tl_reduce_extremum_backward"),
        (lambda: tl.norm(x, 3.0, 1).sum(), "tl_unary_backward"),
        (lambda: tl.where(x > 1, x, y).sum(), "tl_where_forward"),
    ]
    for fn, kernel in cases:
        out = fn()
        with K.record() as calls:
            out.backward()
        assert kernel in [n for n, _ in calls], (kernel, [n for n, _ in calls])


def test_unknown_op_code_is_refused_by_binary_backward():
    x = tl.ones(3)
    rc = K.tl_binary_backward_flat(K.TL_ADD, x.dtype.code, x._ptr, x._ptr, x._ptr, x._ptr,
                                   x._ptr, 3)
    assert rc == K.TL_EINVAL


@pytest.mark.parametrize("op", ["mul", "div", "pow", "maximum", "minimum"])
@pytest.mark.parametrize("shapes", [((6,), ()), ((), (6,)), ((3, 4), (4,)), ((4,), (3, 4)),
                                    ((3, 4), (3, 4))])
def test_binary_vjp_with_one_input_requiring_grad(op, shapes):
    # (mul passes g in place of an operand it does not need: the gradient must still be summed
    # back to the input's own shape)
    fn = {"pow": lambda a, b: a ** b, "div": lambda a, b: a / b, "mul": lambda a, b: a * b,
          "maximum": tl.maximum, "minimum": tl.minimum}[op]
    rng = np.random.default_rng(4)
    arrays = [rng.uniform(0.5, 2.0, s) for s in shapes]
    g = rng.standard_normal(np.broadcast_shapes(*shapes))
    both = _tl_grads(fn, arrays, tl.float64, g)
    for k in (0, 1):
        ins = [tl.tensor(a, dtype=tl.float64, requires_grad=i == k) for i, a in enumerate(arrays)]
        (gk,) = tl.autograd.grad(fn(*ins), ins[k], tl.tensor(g, dtype=tl.float64))
        assert gk.shape == shapes[k]
        np.testing.assert_allclose(gk.numpy(), both[k], rtol=1e-12)
