"""The eager general path's fast paths (issue 15, part 1, second round) give what the general
routines they shortcut give: _empty's written-out fields, ``lr * grad`` straight to the scalar
op, the in-place update, the one-node mse_loss, the engine's shortcuts -- values, gradients,
hooks, in-place version errors and grad mode (per thread, as in PyTorch)."""
import importlib
import threading

import numpy as np
import pytest

import tinygrad_lab as tl

T = importlib.import_module("tinygrad_lab.tensor")   # (tl.tensor is the function)

F = tl.nn.functional
FLOATS = [tl.float32, tl.float64]


# ---- _empty ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (3,), (2, 5), (0, 4)])
@pytest.mark.parametrize("dt", FLOATS + [tl.int64, tl.bool])
def test_empty_fields_are_init_fields(shape, dt):
    t = T._empty(shape, dt)
    info = T._shape_info(shape)
    ref = T._init_fields(T._new_tensor(T.Tensor), T._UNSHARED, t._data, shape, info[0], 0, dt, True)
    for name in T.Tensor.__slots__:
        if name in ("__dict__", "__weakref__"):
            continue
        assert getattr(t, name) == getattr(ref, name), name
    assert t._storage is T._UNSHARED and t.grad_fn is None and not t.requires_grad


def test_empty_pins_its_buffer_during_capture():
    pins = []
    T._set_capture(None, pins)
    try:
        t = T._empty((4,), tl.float32)
    finally:
        T._set_capture(None, None)
    assert len(pins) == 1 and pins[0] is t._data


# ---- lr * grad ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", FLOATS)
def test_rmul_float_equals_mul(dt):
    x = tl.randn(3, 4, dtype=dt, requires_grad=True)
    a, b = 0.37 * x, x * 0.37
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert a.grad_fn.name() == b.grad_fn.name() == "MulBackward"
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 0.37, x.grad.numpy().dtype))


def test_rmul_other_operands_keep_promotion():
    i = tl.tensor([1, 2, 3])
    r = 0.5 * i                     # int64 tensor: the default float dtype, as PyTorch
    assert r.dtype is tl.float32 and r.tolist() == [0.5, 1.0, 1.5]
    assert (2 * i).dtype is tl.int64 and (2 * i).tolist() == [2, 4, 6]
    h = tl.ones(3, dtype=tl.float16)
    assert (0.5 * h).dtype is tl.float16 and (0.5 * h).tolist() == [0.5, 0.5, 0.5]


# ---- the in-place update under no_grad ---------------------------------------------------------

@pytest.mark.parametrize("dt", FLOATS)
def test_manual_update_equals_general(dt):
    r = np.random.default_rng(0)
    w0, g0 = r.standard_normal((4, 3)), r.standard_normal((4, 3))
    p = tl.from_numpy(w0.copy()).to(dt).requires_grad_()
    p.grad = tl.from_numpy(g0.copy()).to(dt)
    with tl.no_grad():
        p.sub_(0.5 * p.grad)
        p -= 0.25 * p.grad
    ref = tl.from_numpy(w0.copy()).to(dt) - 0.5 * tl.from_numpy(g0.copy()).to(dt)
    ref = ref - 0.25 * tl.from_numpy(g0.copy()).to(dt)
    np.testing.assert_array_equal(p.detach().numpy(), ref.numpy())
    assert p.requires_grad and p.grad_fn is None


def test_update_bumps_the_version_a_saved_tensor_checks():
    p = tl.randn(3, requires_grad=True)
    y = p.sigmoid()        # saves its output
    z = (y * p).sum()      # saves p
    with tl.no_grad():
        p.sub_(0.1 * tl.ones(3))
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_update_with_grad_on_raises_on_a_leaf():
    p = tl.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        p.sub_(0.5 * tl.ones(3))


# ---- mse_loss as one node ----------------------------------------------------------------------

def _mse_pair(dt, want, shape=(4, 3)):
    r = np.random.default_rng(5)
    return (tl.tensor(r.standard_normal(shape), dtype=dt, requires_grad=want[0]),
            tl.tensor(r.standard_normal(shape), dtype=dt, requires_grad=want[1]))


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("want", [(True, False), (False, True), (True, True)])
def test_mse_loss_one_node_vjp_equals_formula(dt, want):
    """The C VJP (plain backward) and the formula (create_graph=True) agree, and double
    backward works through the formula."""
    x, t = _mse_pair(dt, want)
    inputs = [p for p, w in zip((x, t), want) if w]
    loss = F.mse_loss(x, t)
    assert loss.grad_fn.name() == "MseLossBackward"
    fast = tl.autograd.grad(loss, inputs, retain_graph=True)
    slow = tl.autograd.grad(loss, inputs, create_graph=True)
    for a, b in zip(fast, slow):
        assert b.grad_fn is not None
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)
    if want[0]:
        gx = tl.autograd.grad(F.mse_loss(x, t), x, create_graph=True)[0]
        (hx,) = tl.autograd.grad(gx.sum(), x)
        np.testing.assert_allclose(hx.numpy(), np.full(x.shape, 2.0 / x.numel()), rtol=1e-6)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(4, 3), (0, 3), (300, 400)])   # (300, 400): threaded kernels
def test_mse_loss_one_node_is_bit_identical_to_two_nodes(dt, shape):
    # one C call each way (tl_mse_loss_mean_forward / _backward) runs MseLoss's kernel, the sum
    # and the division, then g / n and MseLoss's VJP: the same bits as the two nodes
    x, t = _mse_pair(dt, (True, True), shape)
    one = F.mse_loss(x, t)
    one.backward()
    g1 = (x.grad.numpy().copy(), t.grad.numpy().copy())
    x.grad = t.grad = None
    two = F.mse_loss(x, t, reduction="none").mean()
    two.backward()
    assert np.array_equal(one.detach().numpy(), two.detach().numpy(), equal_nan=True)  # (empty: 0 / 0)
    assert np.array_equal(g1[0], x.grad.numpy()) and np.array_equal(g1[1], t.grad.numpy())


def test_mse_loss_one_node_gradcheck():
    x, t = _mse_pair(tl.float64, (True, True), (3, 5))
    assert tl.autograd.gradcheck(F.mse_loss, (x, t))


def test_mse_loss_one_node_matches_torch():
    torch = pytest.importorskip("torch")
    x, t = _mse_pair(tl.float32, (True, True), (8, 2))
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    tt = torch.tensor(t.detach().numpy(), requires_grad=True)
    loss, ref = F.mse_loss(x, t), torch.nn.functional.mse_loss(xt, tt)
    loss.backward()
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_mse_loss_one_node_keeps_autograd_rules():
    x, t = _mse_pair(tl.float32, (True, False))
    seen = []
    x.register_hook(lambda g: seen.append(g.shape))
    loss = F.mse_loss(x, t)
    loss.backward()
    assert seen == [x.shape]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    loss = F.mse_loss(x, t)
    with tl.no_grad():
        t.mul_(2.0)            # t is saved: the node sees the version change
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
    with tl.no_grad():
        assert F.mse_loss(x, t).grad_fn is None


# ---- .grad's C getter, sum()'s broadcast gradient view --------------------------------------------

def test_grad_property_reads_validates_and_deletes():
    p = tl.ones(3, requires_grad=True)
    assert p.grad is None
    (p * 2.0).sum().backward()
    assert p.grad is p._grad and p.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor"):
        p.grad = 3
    with pytest.raises(RuntimeError, match="different size"):
        p.grad = tl.ones(4)
    with pytest.raises(RuntimeError, match="different type"):
        p.grad = tl.ones(3, dtype=tl.float64)
    del p.grad
    assert p.grad is None
    assert "gradient accumulated by backward" in tl.Tensor.grad.__doc__


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (5,), (2, 3), (0,), (2, 0)])
def test_sum_gradient_view(shape):
    x = tl.randn(*shape, dtype=tl.float64, requires_grad=True)
    seen = []
    y = x * 1.0
    y.register_hook(lambda g: seen.append((g.shape, g.is_contiguous(), g.stride())))
    y.sum().backward()
    n = x.numel()
    assert seen == [(x.shape, n == 1, (0,) * len(shape))]
    assert seen[0][1] == T._is_contiguous(shape, (0,) * len(shape))   # what _make would say
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))
    if n:
        assert tl.autograd.gradcheck(lambda t: t.sum(), (x,))


def test_manual_update_of_a_parameter_is_direct_and_equal():
    """A Module's parameters updated by hand (p -= lr * p.grad) take the direct path too."""
    from tinygrad_lab.ops import inplace
    lin = tl.nn.Linear(3, 2)
    x = tl.randn(4, 3)
    tl.nn.functional.mse_loss(lin(x), tl.zeros(4, 2)).backward()
    p = lin.weight
    ref = p.detach().numpy() - 0.1 * p.grad.numpy()
    version = p._shared().version
    calls = []
    orig = inplace._inplace
    inplace._inplace = lambda *a, **k: calls.append(a) or orig(*a, **k)
    try:
        with tl.no_grad():
            p -= 0.1 * p.grad
    finally:
        inplace._inplace = orig
    assert calls == [] and isinstance(p, tl.nn.Parameter) and p.requires_grad
    assert p._shared().version == version + 1
    np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-6, atol=1e-7)


def test_fast_paths_follow_the_calling_threads_grad_mode():
    """Grad mode is per thread (as in PyTorch): inside no_grad in this thread, another thread's
    ops still record, its in-place update of a leaf still raises, and this thread's fast paths
    (the direct update, 0.5 * grad, the one-node mse_loss) record nothing."""
    p = tl.randn(3, requires_grad=True)
    t = tl.zeros(3)
    seen = {}

    def other():
        seen["mse"] = F.mse_loss(p, t).grad_fn is not None
        seen["mul"] = (0.5 * p).grad_fn is not None
        try:
            p.sub_(0.1)
            seen["sub_"] = "no error"
        except RuntimeError:
            seen["sub_"] = "raised"

    with tl.no_grad():
        th = threading.Thread(target=other)
        th.start()
        th.join()
        assert F.mse_loss(p, t).grad_fn is None and (0.5 * p).grad_fn is None
        p.sub_(0.1)
    assert seen == {"mse": True, "mul": True, "sub_": "raised"}
