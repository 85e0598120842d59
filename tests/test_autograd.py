"""Semantics of every bullet of API.md "Autograd"."""
import re

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import Function, GradcheckError


def leaf(values, dtype=tl.float64):
    return tl.tensor(values, dtype=dtype, requires_grad=True)


# ---- backward and accumulation ------------------------------------------------------------------

def test_backward_accumulates_into_leaf_grad():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 7, 9])
    assert x.grad.requires_grad is False and x.grad.grad_fn is None


def test_leaf_grad_does_not_alias_other_grads():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    with tl.no_grad():
        a.grad.add_(10.0)
    np.testing.assert_allclose(b.grad.numpy(), [1, 1])


def test_non_leaf_grad_is_none_unless_retained():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * y
    y.retain_grad()
    w = x + 1
    (z.sum() + w.sum()).backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy())
    assert w.grad is None
    assert y.is_leaf is False and x.is_leaf is True


def test_backward_needs_gradient_for_non_scalar():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(tl.tensor([1.0, 10.0], dtype=tl.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2, 20])


def test_backward_gradient_shape_mismatch():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(tl.ones(3, dtype=tl.float64))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.ones(2).sum().backward()


def test_grad_fn_names():
    x = leaf([1.0])
    assert (x * 2).grad_fn.name() == "MulBackward"
    assert x.exp().grad_fn.name() == "ExpBackward"
    assert x.grad_fn is None
    assert "grad_fn=<MulBackward>" in repr(x * 2)


# ---- tl.autograd.grad ---------------------------------------------------------------------------

def test_autograd_grad_returns_tuple_and_leaves_dot_grad_alone():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gw = tl.autograd.grad((x * w).sum(), (x, w))
    np.testing.assert_allclose(gx.numpy(), [3, 4])
    np.testing.assert_allclose(gw.numpy(), [1, 2])
    assert x.grad is None and w.grad is None


def test_autograd_grad_allow_unused():
    x, u = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        tl.autograd.grad((x * 2).sum(), (x, u), retain_graph=True)
    gx, gu = tl.autograd.grad((x * 2).sum(), (x, u), allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), [2])


def test_autograd_grad_wrt_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 3
    (gy,) = tl.autograd.grad((y * y).sum(), y)
    np.testing.assert_allclose(gy.numpy(), 2 * np.array([3.0, 6.0]))


# ---- freeing the graph --------------------------------------------------------------------------

def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


# ---- higher order -------------------------------------------------------------------------------

def test_hessian_vector_product():
    x = leaf([1.0, -2.0, 0.5])
    v = tl.tensor([1.0, 0.5, -1.0], dtype=tl.float64)
    (g,) = tl.autograd.grad((x ** 3).sum() + (x.sin() * x).sum(), x, create_graph=True)
    (hv,) = tl.autograd.grad((g * v).sum(), x)
    xn = np.array([1.0, -2.0, 0.5])
    h_diag = 6 * xn + 2 * np.cos(xn) - xn * np.sin(xn)
    np.testing.assert_allclose(hv.numpy(), h_diag * v.numpy(), rtol=1e-12)


def test_gradient_penalty_backward():
    w = leaf([[0.5, -1.0], [2.0, 0.3]])
    x = tl.tensor([[1.0, 2.0]], dtype=tl.float64, requires_grad=True)
    out = (x * w).tanh().sum()
    (gx,) = tl.autograd.grad(out, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    # finite-difference check of d penalty / d w
    def pen(wv):
        t = np.tanh(np.array([[1.0, 2.0]]) * wv)
        g = ((1 - t ** 2) * wv).sum(0)
        return (g ** 2).sum()
    wn = w.detach().numpy().copy()
    num = np.zeros_like(wn)
    for idx in np.ndindex(wn.shape):
        e = np.zeros_like(wn)
        e[idx] = 1e-6
        num[idx] = (pen(wn + e) - pen(wn - e)) / 2e-6
    np.testing.assert_allclose(w.grad.numpy(), num, rtol=1e-5, atol=1e-8)


def test_third_derivative():
    x = leaf([0.7])
    (g1,) = tl.autograd.grad(x.tanh().sum(), x, create_graph=True)
    (g2,) = tl.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = tl.autograd.grad(g2.sum(), x)
    t = np.tanh(0.7)
    np.testing.assert_allclose(g3.numpy(), [-2 * (1 - t * t) * (1 - 3 * t * t)], rtol=1e-12)


# ---- grad mode ----------------------------------------------------------------------------------

def test_no_grad_and_enable_grad_context_managers():
    x = leaf([1.0])
    with tl.no_grad():
        assert not tl.is_grad_enabled()
        y = x * 2
        with tl.enable_grad():
            assert tl.is_grad_enabled()
            z = x * 2
    assert tl.is_grad_enabled()
    assert y.requires_grad is False and y.grad_fn is None
    assert z.requires_grad is True


def test_no_grad_and_enable_grad_decorators():
    @tl.no_grad()
    def f(t):
        return t * 2

    @tl.enable_grad()
    def g(t):
        return t * 2

    x = leaf([1.0])
    assert f(x).requires_grad is False
    with tl.no_grad():
        assert g(x).requires_grad is True


def test_no_grad_restores_on_exception():
    with pytest.raises(ZeroDivisionError):
        with tl.no_grad():
            1 / 0
    assert tl.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert d.requires_grad is False and d.grad_fn is None
    y = tl.tensor([1.0, 2.0])
    assert y.requires_grad_() is y and y.requires_grad
    with pytest.raises(TypeError, match="floating"):
        tl.tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        tl.tensor([1, 2], requires_grad=True)


# ---- hooks --------------------------------------------------------------------------------------

def test_register_hook_replaces_gradient_and_can_be_removed():
    x = leaf([1.0, 2.0])
    seen = []
    h = x.register_hook(lambda g: (seen.append(g.numpy().copy()), g * 10)[1])
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [30, 30])
    np.testing.assert_allclose(seen[0], [3, 3])
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_hook_on_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g * 0.5)
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 0.5 * 2 * (2 * np.array([1.0, 2.0])))


# ---- in-place and version counters --------------------------------------------------------------

def test_modified_saved_tensor_raises_naming_the_op():
    x = leaf([1.0, 2.0])
    y = x.exp()
    z = (y * 1.0).sum() + y.sum()
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="ExpBackward.*version 1; expected version 0"):
        z.backward()


def test_in_place_on_leaf_requiring_grad_raises_outside_no_grad():
    x = leaf([1.0, 2.0])
    for op in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(3),
               lambda: x.sub_(1), lambda: x.div_(2), lambda: x.clamp_(0, 1),
               lambda: x.copy_(tl.ones(2, dtype=tl.float64))):
        with pytest.raises(RuntimeError, match="leaf"):
            op()
    with tl.no_grad():
        x.add_(1).mul_(2).sub_(1).div_(3).clamp_(0, 1.5)
    np.testing.assert_allclose(x.detach().numpy(), np.clip(((np.array([1, 2.0]) + 1) * 2 - 1) / 3, 0, 1.5))


def test_in_place_on_view_of_leaf_raises():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="view of a leaf"):
        x[1:].add_(1.0)


def test_in_place_on_non_leaf_is_differentiated():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.add_(x)          # y = 3x
    y.mul_(2.0)        # y = 6x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6, 6])


def test_in_place_ops_values():
    t = tl.tensor([1.0, 2.0, 3.0])
    t.add_(1).mul_(tl.tensor([1.0, 2.0, 3.0])).sub_(1, alpha=2).div_(2)
    np.testing.assert_allclose(t.numpy(), ((np.array([1, 2, 3.0]) + 1) * [1, 2, 3] - 2) / 2)
    t.clamp_(min=2.0)
    assert t.numpy().min() == 2.0
    t.zero_()
    assert t.numpy().tolist() == [0, 0, 0]
    t.fill_(4.5)
    t[1:].fill_(1.0)
    t[0] = 7.0
    assert t.numpy().tolist() == [7.0, 1.0, 1.0]
    t.copy_(tl.tensor([1, 2, 3]))
    assert t.numpy().tolist() == [1, 2, 3]


def test_in_place_shape_and_dtype_rules():
    t = tl.ones(3)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3,\)"):
        t.add_(tl.ones(2, 3))
    i = tl.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        i.mul_(1.5)


# ---- custom Functions ---------------------------------------------------------------------------

class MySigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = 1.0 / (1.0 + (-x).exp())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1.0 - y)


class ScaledMul(Function):
    @staticmethod
    def forward(ctx, a, b, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False, False)
        return g * b * ctx.scale, None, None


class WrongSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x  # wrong: should be 2 * g * x


def test_custom_function_gradcheck():
    x = leaf([[0.3, -1.2], [2.0, 0.1]])
    y = MySigmoid.apply(x)
    assert y.grad_fn.name() == "MySigmoidBackward"
    assert tl.autograd.gradcheck(MySigmoid.apply, (x,))
    assert tl.autograd.gradgradcheck(MySigmoid.apply, (x,))


def test_custom_function_needs_input_grad_and_non_tensor_args():
    a, b = leaf([1.0, 2.0]), tl.tensor([3.0, 4.0], dtype=tl.float64)
    ScaledMul.apply(a, b, 0.5).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.5, 2.0])


def test_gradcheck_catches_wrong_backward_and_names_everything():
    x = leaf([1.5, -0.5])
    with pytest.raises(GradcheckError) as e:
        tl.autograd.gradcheck(WrongSquare.apply, (x,))
    msg = str(e.value)
    assert "input 0" in msg and "element (0,)" in msg
    assert re.search(r"analytic: 1\.5\b", msg) and re.search(r"numerical: (3\.0|2\.9999)", msg)
    assert tl.autograd.gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_gradcheck_requires_an_input_with_grad():
    with pytest.raises(ValueError, match="requires grad"):
        tl.autograd.gradcheck(lambda t: t * 2, (tl.ones(2, dtype=tl.float64),))


# ---- anomaly detection --------------------------------------------------------------------------

def test_detect_anomaly_names_op_and_forward_line():
    x = leaf([0.0, 1.0])
    with tl.autograd.detect_anomaly():
        y = x.sqrt().sum()  # d sqrt / dx at 0 is inf
        with pytest.raises(RuntimeError) as e:
            y.backward()
    msg = str(e.value)
    assert "SqrtBackward" in msg and "nan or inf" in msg
    assert "test_autograd.py" in msg and "x.sqrt()" in msg


def test_set_detect_anomaly_off_by_default():
    x = leaf([0.0])
    x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])
    tl.autograd.set_detect_anomaly(True)
    try:
        y = leaf([0.0]).log().sum()
        with pytest.raises(RuntimeError, match="LogBackward"):
            y.backward()
    finally:
        tl.autograd.set_detect_anomaly(False)


# ---- deep graphs --------------------------------------------------------------------------------

def test_backward_through_100000_deep_graph():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])
    del y  # freeing a 100k chain must not overflow the C stack either


def test_leaf_grad_never_aliases_user_gradient_or_retained_grads():
    a = leaf([1.0, 2.0])
    g = tl.tensor([1.0, 1.0], dtype=tl.float64)
    a.backward(g)
    with tl.no_grad():
        a.grad.add_(5.0)
    assert g.tolist() == [1.0, 1.0]
    a.grad = None
    y = a * 2
    y.retain_grad()
    y.sum().backward()
    with tl.no_grad():
        a.grad.mul_(0.0)
    assert y.grad.tolist() == [1.0, 1.0]


@pytest.fixture
def copies(monkeypatch):
    """A list that gets one entry per gradient the engine copies before making it a .grad."""
    import tinygrad_lab.autograd.engine as ag
    made, orig = [], ag._copy
    monkeypatch.setattr(ag, "_copy", lambda g: (made.append(1), orig(g))[1])
    return made


def test_fresh_leaf_gradients_are_not_copied(copies):
    a, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a * w).sum().backward()
    assert copies == []                      # both gradients were fresh kernel outputs
    a.grad = w.grad = None
    (a + w).sum().backward()                 # Add hands the same tensor to both inputs
    assert len(copies) >= 1 and a.grad._data is not w.grad._data


class _GradElsewhere(Function):
    """y = x, whose backward returns a fresh gradient 2g that something else may still reach:
    mode "kept" keeps the tensor itself (as a buggy or caching op might), "view" keeps a view of
    it, "bump" only writes it in place (it gets a Storage object, and nothing else holds it)."""
    mode, kept = "kept", []

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        gx = g * 2.0
        mode = _GradElsewhere.mode
        if mode == "bump":
            gx.add_(0.0)
        else:
            _GradElsewhere.kept.append(gx if mode == "kept" else gx[0:1])
        return gx


def test_leaf_grad_never_aliases_a_gradient_someone_else_holds():
    # leaves' .grad take a backward's fresh output without a copy only when nothing else
    # references it (autograd._owned counts the references)
    x = leaf([1.0, 2.0])
    _GradElsewhere.mode, _GradElsewhere.kept = "kept", []
    _GradElsewhere.apply(x).sum().backward()
    with tl.no_grad():
        x.grad.add_(100.0)
    assert _GradElsewhere.kept[0].tolist() == [2.0, 2.0]
    assert x.grad.tolist() == [102.0, 102.0]


def test_owned_gradient_storage_references_pinned_both_ways(copies):
    # _owned allows the Storage 3 references (the gradient's, its local name and getrefcount's):
    # one fewer would copy a gradient nothing else sees; one more would adopt a buffer a live
    # view still writes to
    x = leaf([1.0, 2.0])
    _GradElsewhere.mode = "bump"
    _GradElsewhere.apply(x).sum().backward()
    assert copies == [] and x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    _GradElsewhere.mode, _GradElsewhere.kept = "view", []
    _GradElsewhere.apply(x).sum().backward()
    assert copies == [1]
    with tl.no_grad():
        _GradElsewhere.kept[0].fill_(-5.0)
    assert x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("refcounts", [True, False], ids=["adopt-by-refcount", "always-copy"])
def test_leaf_gradients_with_and_without_reference_counts(copies, monkeypatch, refcounts):
    # _owned reads CPython reference counts to adopt a fresh gradient as .grad without a copy;
    # elsewhere (engine._REFCOUNTS False) every gradient is copied: same results either way
    import tinygrad_lab.autograd.engine as ag
    monkeypatch.setattr(ag, "_REFCOUNTS", refcounts)
    a, w, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([0.5]), leaf([1.0, 2.0])
    _GradElsewhere.mode, _GradElsewhere.kept = "kept", []
    for _ in range(2):                      # the second pass accumulates in place
        ((a * w).tanh() + b).sum().backward()
        _GradElsewhere.apply(c).sum().backward()
    t = np.tanh(np.array([3.0, 8.0]))
    np.testing.assert_allclose(a.grad.numpy(), 2 * (1 - t ** 2) * [3.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), 2 * (1 - t ** 2) * [1.0, 2.0], rtol=1e-6)
    assert b.grad.tolist() == [4.0] and c.grad.tolist() == [4.0, 4.0]
    # the kept gradient was never adopted as c.grad (which then grew in place)
    assert _GradElsewhere.kept[0].tolist() == [2.0, 2.0]
    # adoption skips the copies of a's, w's and b's first gradients; c's (kept) is copied anyway
    assert len(copies) == (1 if refcounts else 4)


class _ScaleGradInPlace(Function):
    """y = x, with a (bad) backward that doubles its incoming gradient in place."""

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        g.mul_(2.0)
        return g


def test_implicit_gradient_is_reused_but_never_corrupted():
    # backward() of a 0-d output starts from one cached 1 per dtype (autograd._SEEDS); nothing a
    # user does to the gradients it reaches may change a later backward pass
    x = leaf([1.0, 2.0])

    def grad_of_3x():
        x.grad = None
        (x * 3).sum().backward()
        return x.grad.tolist()

    y = x.sum()
    y.retain_grad()
    y.backward()
    with tl.no_grad():
        y.grad.mul_(5.0)                # in place through a retained grad (shares the 1's buffer)
    assert grad_of_3x() == [3.0, 3.0]
    y = x.sum()
    y.retain_grad()
    y.backward()
    y.grad.numpy()[...] = 7.0           # behind autograd's back: no version bump
    assert grad_of_3x() == [3.0, 3.0]
    s = leaf(2.0)
    _ScaleGradInPlace.apply(s).backward()   # the custom backward writes to the 1 itself
    assert s.grad.item() == 2.0 and grad_of_3x() == [3.0, 3.0]
    s.grad = None
    s.backward()                        # a 0-d leaf: its .grad must be its own buffer
    with tl.no_grad():
        s.grad.mul_(4.0)
    assert s.grad.item() == 4.0 and grad_of_3x() == [3.0, 3.0]
    s.grad = None
    s.backward()
    assert s.grad.item() == 1.0


# ---- threads ------------------------------------------------------------------------------------

def test_grad_mode_is_per_thread():
    # C calls release the GIL; a no_grad block in one thread must not switch recording off in
    # another (PyTorch keeps grad mode per thread too).
    import threading
    x = leaf([1.0, 2.0, 3.0])
    stop = threading.Event()
    errors = []

    def toggler():
        while not stop.is_set():
            with tl.no_grad():
                (x * 2).sum()

    def recorder():
        try:
            for _ in range(300):
                assert (x * 3).sum().requires_grad
        except AssertionError as e:
            errors.append(e)

    ts = [threading.Thread(target=toggler), threading.Thread(target=recorder)]
    ts[0].start()
    ts[1].start()
    ts[1].join()
    stop.set()
    ts[0].join()
    assert not errors and tl.is_grad_enabled()
    with tl.no_grad():
        seen = []
        t = threading.Thread(target=lambda: seen.append(tl.is_grad_enabled()))
        t.start()
        t.join()
        assert seen == [True] and not tl.is_grad_enabled()


def test_autograd_backward_takes_a_sequence_of_tensors_as_torch():
    # torch.autograd.backward(tensors, grad_tensors): one pass over several roots
    a = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    tl.autograd.backward([(a * a).sum(), a * 3.0], [None, tl.tensor([1.0, -1.0], dtype=tl.float64)])
    np.testing.assert_allclose(a.grad.numpy(), [2.0 + 3.0, 4.0 - 3.0])
    a.grad = None
    tl.autograd.backward(a * a, tl.ones(2, dtype=tl.float64))   # a single tensor, as Tensor.backward
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="2 gradients for 1 tensors"):
        tl.autograd.backward([(a * a).sum()], [None, None])
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        tl.autograd.backward([(a * a).sum(), tl.ones(())])
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        tl.autograd.backward([a * a])
