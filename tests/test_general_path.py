"""The general (unfused) path's fast paths give the same results as the paths they shortcut:
sum_to's direct reduction (the VJP of broadcasting), Matmul's C VJP for 2-D operands, and the
in-place update written straight into the tensor (``with no_grad(): W -= lr * W.grad``)."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.ops.elementwise import Add
from tinygrad_lab.ops.linalg import Matmul
from tinygrad_lab.ops.shape import sum_to

SUM_TO = [((4, 4), (4,)), ((128, 256), (256,)), ((3, 4, 5), (4, 1)), ((3, 4, 5), (1, 4, 5)),
          ((2, 3), ()), ((2, 1, 3), (1, 3)), ((5,), (1,)), ((2, 3, 4), (3, 1)), ((0, 3), (3,))]


def _views(shape):
    """g as a contiguous tensor, a transposed view and a stride-0 (expanded) view."""
    r = np.random.default_rng(0)
    yield tl.from_numpy(r.standard_normal(shape))
    if len(shape) >= 2:
        yield tl.from_numpy(r.standard_normal(shape[::-1])).permute(*range(len(shape) - 1, -1, -1))
        yield tl.from_numpy(r.standard_normal(shape[1:])).expand(*shape)


@pytest.mark.parametrize("gshape,shape", SUM_TO)
def test_sum_to_direct_equals_recorded(gshape, shape):
    for g in _views(gshape):
        direct = sum_to(g, shape)                       # outside recording: one kernel call
        assert direct.shape == shape and direct.grad_fn is None
        recorded = sum_to(g.detach().requires_grad_(), shape)  # the composed, recorded path
        assert recorded.grad_fn is not None
        np.testing.assert_array_equal(direct.numpy(), recorded.detach().numpy())
        axes = tuple(range(len(gshape) - len(shape))) + tuple(
            i + len(gshape) - len(shape) for i, n in enumerate(shape) if n == 1)
        ref = g.numpy().sum(axis=axes, keepdims=True).reshape(shape)
        np.testing.assert_allclose(direct.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_sum_to_dropping_a_size_one_dim():
    g = tl.randn(1, 3)
    np.testing.assert_array_equal(sum_to(g, (3,)).numpy(), g.numpy()[0])


def test_sum_to_refuses_a_shape_it_cannot_reach():
    with pytest.raises(RuntimeError, match="cannot be summed"):
        sum_to(tl.randn(3, 4), (5,))


def test_bias_add_vjp_matches_formula_under_create_graph():
    h = tl.randn(8, 5, dtype=tl.float64, requires_grad=True)
    b = tl.randn(5, dtype=tl.float64, requires_grad=True)
    g = tl.randn(8, 5, dtype=tl.float64)
    plain = tl.autograd.grad(h + b, (h, b), g)
    recorded = tl.autograd.grad(h + b, (h, b), g, create_graph=True)
    for p, r in zip(plain, recorded):
        np.testing.assert_array_equal(p.numpy(), r.detach().numpy())
    np.testing.assert_allclose(plain[1].numpy(), g.numpy().sum(0), rtol=1e-12)
    assert Add.vjp is None   # Add's derivative is its formula; sum_to makes it one kernel call


MATMUL = [  # a's shape, b's shape, a transposed view?, b transposed view?
    ((4, 2), (2, 4), False, False), ((1, 2), (2, 8), False, False), ((4, 3), (3, 1), False, True),
    ((5, 7), (7, 3), True, False), ((6, 4), (4, 6), True, True), ((128, 64), (64, 32), False, True),
]


@pytest.mark.parametrize("ashape,bshape,at,bt", MATMUL)
def test_matmul_vjp_equals_formula(ashape, bshape, at, bt):
    r = np.random.default_rng(1)
    an = r.standard_normal(ashape[::-1] if at else ashape)
    bn = r.standard_normal(bshape[::-1] if bt else bshape)
    a = tl.from_numpy(an).requires_grad_()
    b = tl.from_numpy(bn).requires_grad_()
    av, bv = (a.T if at else a), (b.T if bt else b)
    out = av @ bv
    g = tl.from_numpy(r.standard_normal(out.shape))
    for g_used in (g, g[:, :1].expand(*out.shape) if out.shape[1] > 1 else g):
        node = out.grad_fn
        assert node._fn is Matmul
        with tl.no_grad():   # (as backward() runs them)
            ctx_grads = Matmul.vjp(node, g_used)
            formula = Matmul.formula(node, g_used)
        for v, f in zip(ctx_grads, formula):
            assert v.shape == f.shape
            np.testing.assert_allclose(v.numpy(), f.numpy(), rtol=1e-12, atol=1e-12)
    gan, gbn = tl.autograd.grad(out, (a, b), g)
    an_v, bn_v = (an.T if at else an), (bn.T if bt else bn)
    ga_ref, gb_ref = g.numpy() @ bn_v.T, an_v.T @ g.numpy()
    np.testing.assert_allclose(gan.numpy(), ga_ref.T if at else ga_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gbn.numpy(), gb_ref.T if bt else gb_ref, rtol=1e-12, atol=1e-12)


def test_matmul_vjp_of_x_at_w_transposed_gives_a_contiguous_weight_grad():
    x = tl.randn(4, 3)
    w = tl.randn(5, 3, requires_grad=True)
    (x @ w.T).sum().backward()
    assert w.grad.is_contiguous()
    np.testing.assert_allclose(w.grad.numpy(), np.ones((4, 5)).T @ x.numpy(), rtol=1e-6)


def test_matmul_vjp_batched_uses_the_formula():
    a = tl.randn(2, 3, 4, dtype=tl.float64, requires_grad=True)
    b = tl.randn(4, 5, dtype=tl.float64, requires_grad=True)
    assert tl.autograd.gradcheck(lambda a, b: a @ b, (a, b))


# ---- the in-place update written straight into the tensor ---------------------------------------

def _general(t, other, op):
    """What the general path computes: the out-of-place op."""
    return {"add_": t + other, "sub_": t - other, "mul_": t * other, "div_": t / other}[op]


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_"])
@pytest.mark.parametrize("other", ["same", "broadcast", "float", "int"])
def test_direct_inplace_equals_out_of_place(op, other):
    r = np.random.default_rng(2)
    w = tl.from_numpy(r.standard_normal((3, 4)).astype(np.float32)).requires_grad_()
    o = {"same": tl.from_numpy(r.uniform(1, 2, (3, 4)).astype(np.float32)),
         "broadcast": tl.from_numpy(r.uniform(1, 2, (4,)).astype(np.float32)),
         "float": 0.37, "int": 3}[other]
    expected = _general(w.detach(), o, op).numpy().copy()
    with tl.no_grad():
        before = w.detach()
        v0 = before._shared().version
        assert getattr(w, op)(o) is w
    np.testing.assert_array_equal(w.detach().numpy(), expected)
    assert w.detach()._shared().version == v0 + 1   # the write is counted


def test_direct_inplace_keeps_the_saved_tensor_check():
    w = tl.randn(4, requires_grad=True)
    y = tl.randn(4, requires_grad=True)
    loss = (w * y).sum()
    with tl.no_grad():
        w -= 0.1 * y.detach()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_direct_inplace_overlapping_view_takes_the_general_path():
    t = tl.arange(6, dtype=tl.float32)
    t[1:] -= t[:-1]
    a = np.arange(6, dtype=np.float32)
    a[1:] -= a[:-1].copy()
    np.testing.assert_array_equal(t.numpy(), a)
    u = tl.arange(4, dtype=tl.float32)
    u += u                                   # the same view: elementwise in place is exact
    np.testing.assert_array_equal(u.numpy(), 2 * np.arange(4, dtype=np.float32))


def test_inplace_on_leaf_requiring_grad_still_refused_outside_no_grad():
    w = tl.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w -= 0.1 * tl.ones(3)


def test_inplace_that_cannot_broadcast_still_raises():
    t = tl.zeros(4)
    with pytest.raises(ValueError):
        with tl.no_grad():
            t += tl.ones(3, 4)


def test_inplace_dtype_mix_still_promotes_or_refuses():
    t = tl.zeros(3, dtype=tl.float32)
    with tl.no_grad():
        t += tl.ones(3, dtype=tl.float64)    # general path: computed in float64, stored as float32
    np.testing.assert_array_equal(t.numpy(), np.ones(3, np.float32))
    i = tl.zeros(3, dtype=tl.int64)
    with pytest.raises(TypeError):
        i += tl.ones(3)


def test_raw_op_training_step_matches_numpy():
    """The XOR step as the lessons write it: x @ W + b, sigmoid, mse_loss, manual update."""
    xx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    yy = np.array([[0], [1], [1], [0]], np.float64)
    r = np.random.default_rng(3)
    W1n, b1n, W2n, b2n = r.standard_normal((2, 4)), r.standard_normal(4), r.standard_normal((4, 1)), r.standard_normal(1)
    params = [tl.from_numpy(p.copy()).requires_grad_() for p in (W1n, b1n, W2n, b2n)]
    W1, b1, W2, b2 = params
    X, Y = tl.from_numpy(xx), tl.from_numpy(yy)
    for _ in range(3):
        h = (X @ W1 + b1).sigmoid()
        out = (h @ W2 + b2).sigmoid()
        loss = tl.nn.functional.mse_loss(out, Y)
        loss.backward()
        with tl.no_grad():
            for p in params:
                p -= 0.5 * p.grad
                p.grad = None
        hn = 1 / (1 + np.exp(-(xx @ W1n + b1n)))
        on = 1 / (1 + np.exp(-(hn @ W2n + b2n)))
        do = 2 * (on - yy) / on.size * on * (1 - on)
        dh = (do @ W2n.T) * hn * (1 - hn)
        W2n, b2n = W2n - 0.5 * hn.T @ do, b2n - 0.5 * do.sum(0)
        W1n, b1n = W1n - 0.5 * xx.T @ dh, b1n - 0.5 * dh.sum(0)
        np.testing.assert_allclose(loss.item(), ((on - yy) ** 2).mean(), rtol=1e-12)
    for p, ref in zip(params, (W1n, b1n, W2n, b2n)):
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dt", [tl.float32, tl.float64])
@pytest.mark.parametrize("want", [(True, False), (False, True), (True, True)])
def test_mse_loss_mean_shortcut_equals_general_path(dt, want):
    """F.mse_loss's written-out mean case (MseLoss.apply + Mean) gives the values, gradients
    and graph of the general path (the elementwise loss, then .mean())."""
    F = tl.nn.functional
    r = np.random.default_rng(3)
    xn, tn = r.standard_normal((4, 3)), r.standard_normal((4, 3))
    outs = []
    for fast in (True, False):
        x = tl.tensor(xn, dtype=dt, requires_grad=want[0])
        t = tl.tensor(tn, dtype=dt, requires_grad=want[1])
        loss = F.mse_loss(x, t) if fast else F.mse_loss(x, t, reduction="none").mean()
        if fast:   # one node, as PyTorch's MseLossBackward0 (tests/test_eager_fastpaths.py)
            assert loss.grad_fn.name() == "MseLossBackward" and loss.grad_fn._inputs == (x, t)
        else:
            assert type(loss.grad_fn).__name__ == "Context" and loss.grad_fn.name() == "MeanBackward"
            assert loss.grad_fn._inputs[0].grad_fn.name() == "MseLossBackward"
        loss.backward()
        outs.append([loss.detach().numpy()] + [p.grad.numpy() for p, w in zip((x, t), want) if w])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(outs[0][0], ((xn - tn) ** 2).mean(), rtol=1e-6)


def test_mse_loss_shortcut_keeps_checks_and_no_grad():
    F = tl.nn.functional
    x = tl.randn(4, 3, requires_grad=True)
    with tl.no_grad():
        assert F.mse_loss(x, x.detach()).grad_fn is None
    with pytest.raises(ValueError, match="must match"):
        F.mse_loss(x, tl.randn(3, 4))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x.detach(), reduction="avg")
    xt = tl.randn(3, 4, requires_grad=True).T      # not contiguous: the general path
    assert F.mse_loss(xt, xt.detach() + 1).item() == pytest.approx(1.0, rel=1e-6)
