"""The PyTorch idioms the lessons write (API.md "Code as the lessons write it"), each checked against
PyTorch when it is installed (CI installs it) and against fixed expectations otherwise."""
import math

import numpy as np
import pytest

import tinygrad_lab as tl


def leaf(values, dtype=tl.float64):
    return tl.tensor(values, dtype=dtype, requires_grad=True)


def torch_or_skip():
    return pytest.importorskip("torch")


# ---- .data and .grad ---------------------------------------------------------------------------

def test_data_update_is_not_recorded_and_keeps_the_version():
    w = leaf([1.0, 2.0, 3.0])
    y = (w * w).sum()              # saves w
    w.data -= 0.5                  # lesson 000's update: no RuntimeError, no graph
    assert w.grad_fn is None and w.requires_grad and w._storage.version == 0
    assert w.tolist() == [0.5, 1.5, 2.5]
    y.backward()                   # PyTorch too uses the new values silently
    assert w.grad.tolist() == [1.0, 3.0, 5.0]
    d = w.data
    assert not d.requires_grad and d.data_ptr() == w.data_ptr()


def test_data_assignment_replaces_the_values():
    w = leaf([1.0, 2.0])
    w.data = tl.tensor([5.0, 6.0, 7.0], dtype=tl.float64)
    assert w.tolist() == [5.0, 6.0, 7.0] and w.requires_grad and w.shape == (3,)
    with pytest.raises(TypeError, match="needs a Tensor"):
        w.data = [1.0]


def test_grad_assignment_is_checked_where_it_happens():
    p = leaf([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"p.grad = None|t.grad = None") as e:
        p.grad = 0.0
    assert "zero_()" in str(e.value) and "(3,)" in str(e.value)
    with pytest.raises(RuntimeError, match="different size"):
        p.grad = tl.zeros(2, dtype=tl.float64)
    with pytest.raises(RuntimeError, match="different type"):
        p.grad = tl.zeros(3, dtype=tl.float32)
    p.grad = tl.ones(3, dtype=tl.float64)
    (p * 2).sum().backward()
    assert p.grad.tolist() == [3.0, 3.0, 3.0]
    p.grad = None
    del p.grad
    assert p.grad is None


def test_grad_assignment_errors_match_torch():
    torch = torch_or_skip()
    tp, p = torch.ones(3, requires_grad=True), leaf([1.0, 1.0, 1.0], tl.float32)
    for bad, exc in ((0.0, TypeError), (torch.zeros(2), RuntimeError)):
        with pytest.raises(exc):
            tp.grad = bad
    for bad, exc in ((0.0, TypeError), (tl.zeros(2), RuntimeError)):
        with pytest.raises(exc):
            p.grad = bad


# ---- in-place operators -------------------------------------------------------------------------

def test_manual_sgd_with_augmented_assignment_updates_the_parameters():
    params = [leaf([1.0, 2.0]), leaf([3.0])]
    loss = (params[0] * params[0]).sum() + (params[1] * 2).sum()
    loss.backward()
    ids = [id(p) for p in params]
    with tl.no_grad():
        for p in params:
            p -= 0.5 * p.grad      # PyTorch's manual SGD: must change the parameters themselves
    assert [id(p) for p in params] == ids
    assert params[0].tolist() == [0.0, 0.0] and params[1].tolist() == [2.0]
    assert params[0].grad_fn is None and params[0].requires_grad


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_augmented_assignment_matches_torch(op):
    torch = torch_or_skip()
    a, b = np.array([1.0, -2.0, 4.0]), np.array([0.5, 4.0, -1.0])
    x, y = tl.tensor(a), tl.tensor(b)
    tx, ty = torch.tensor(a), torch.tensor(b)
    ptr = x.data_ptr()
    ns = {"x": x, "y": y, "tx": tx, "ty": ty}
    exec(f"x {op} y\ntx {op} ty\nx {op} 2\ntx {op} 2", ns)
    assert ns["x"] is x and x.data_ptr() == ptr
    np.testing.assert_allclose(x.numpy(), ns["tx"].numpy())


def test_in_place_rules_on_augmented_assignment():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1
    y = w * 1.0                    # a non-leaf: recorded in place
    y += w
    y.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]
    s = w.sigmoid()                # saves its output
    z = s * 1.0
    s += 1                         # modifies a saved tensor: backward refuses
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        s.sum().backward()
    del z
    i = tl.tensor([1, 2])
    with pytest.raises(TypeError):
        i /= 2                     # int64 in place cannot hold a float result


# ---- graph introspection and custom Functions ---------------------------------------------------

def test_next_functions_reach_the_parameters_through_accumulate_grad():
    w, b, x = leaf([1.0, 2.0]), leaf([0.5, 0.5]), tl.tensor([3.0, 4.0], dtype=tl.float64)
    out = ((w * x) + b).sum()
    seen, stack = [], [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        seen.append(node.name())
        if node.name() == "AccumulateGrad":
            assert node.variable is w or node.variable is b
        stack.extend(n for n, _ in node.next_functions)
    assert sorted(seen) == sorted(["SumBackward", "AddBackward", "MulBackward", "AccumulateGrad",
                                   "AccumulateGrad"])
    add = out.grad_fn.next_functions[0][0]
    mul, acc_b = (n for n, _ in add.next_functions)
    assert acc_b.variable is b and acc_b is add.next_functions[1][0]   # the same node each time
    assert mul.next_functions[1] == (None, 0)                          # x needs no grad


def test_next_functions_match_torch():
    torch = torch_or_skip()

    def walk(node):
        if node is None:
            return None
        name = node.name().split("::")[-1].rstrip("0123456789")
        return (name, tuple(walk(n) for n, _ in node.next_functions))

    w, x = leaf([1.0, 2.0]), tl.tensor([3.0, 4.0], dtype=tl.float64)
    tw, tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True), torch.tensor([3.0, 4.0])
    assert walk((w * x).exp().sum().grad_fn) == walk((tw * tx).exp().sum().grad_fn)


class _Apply(tl.autograd.Function):
    """y = fn(x) for a user function fn kept on ctx under engine-sounding names."""

    @staticmethod
    def forward(ctx, x, fn):
        ctx.fn, ctx.inputs, ctx.hooks, ctx.trace, ctx.out_ref = fn, "mine", "mine", "mine", "mine"
        ctx.save_for_backward(x)
        return fn(x)

    @staticmethod
    def backward(ctx, g):
        assert (ctx.inputs, ctx.hooks, ctx.trace, ctx.out_ref) == ("mine",) * 4
        x, = ctx.saved_tensors
        with tl.enable_grad():
            xd = x.detach().requires_grad_(True)
            (gx,) = tl.autograd.grad(ctx.fn(xd), xd, g)
        return gx, None


def test_custom_function_ctx_takes_any_user_attribute():
    model = tl.nn.Sequential(tl.nn.Tanh())
    x = leaf([0.5, -1.0])
    _Apply.apply(x, model).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh([0.5, -1.0]) ** 2)


# ---- norms, NaN checks, reductions with NumPy's names -------------------------------------------

@pytest.mark.parametrize("p", [2, "fro", 1, 3, 0.5, math.inf, -math.inf, 0])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (0, True), ((0, 1), False)])
def test_norm_matches_torch(p, dim, keepdim):
    torch = torch_or_skip()
    a = np.array([[1.0, -2.0, 0.0], [3.0, 3.0, -0.5]])
    x, tx = leaf(a), torch.tensor(a, requires_grad=True)
    y = x.norm(p, dim, keepdim)
    ty = tx.norm(p, dim, keepdim)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    if p != 0:
        g = np.linspace(0.5, 1.5, ty.numel()).reshape(ty.shape)
        y.backward(tl.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_norm_of_the_zero_vector_has_zero_gradient():
    z = leaf([0.0, 0.0, 0.0])
    z.norm().backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]     # (PyTorch's choice; sqrt(sum(x*x)) gives NaN)
    g = leaf([3.0, 4.0])
    tl.linalg.vector_norm(g).backward()
    np.testing.assert_allclose(g.grad.numpy(), [0.6, 0.8])
    assert tl.norm(g).item() == 5.0
    with pytest.raises(TypeError, match="floating-point"):
        tl.tensor([1, 2]).norm()


def test_nan_checks_and_any_all_match_torch():
    torch = torch_or_skip()
    a = np.array([[1.0, np.nan, np.inf], [-np.inf, 0.0, 2.0]])
    x, tx = tl.tensor(a), torch.tensor(a)
    for name in ("isnan", "isinf", "isfinite"):
        got, want = getattr(tl, name)(x), getattr(torch, name)(tx)
        assert got.dtype is tl.bool and got.tolist() == want.tolist()
        assert getattr(x, name)().tolist() == want.tolist()
    assert tl.isnan(x).any().item() is True and not tl.isnan(x).all().item()
    for kw in ({}, {"dim": 0}, {"dim": 1, "keepdim": True}):
        assert x.any(**kw).tolist() == tx.any(**kw).tolist()
        assert x.all(**kw).tolist() == tx.all(**kw).tolist()
    assert tl.isnan(tl.tensor([1, 2])).tolist() == [False, False]
    assert tl.zeros(0).any().item() is False and tl.zeros(0).all().item() is True


def test_reductions_accept_numpy_names():
    a = np.arange(12.0).reshape(3, 4) ** 1.5
    x = tl.tensor(a, dtype=tl.float64)
    np.testing.assert_allclose(x.mean(axis=0).numpy(), a.mean(axis=0))
    np.testing.assert_allclose(x.std(axis=0).numpy(), a.std(axis=0, ddof=1))
    np.testing.assert_allclose(x.std(axis=0, correction=0).numpy(), a.std(axis=0))
    np.testing.assert_allclose(x.var(1, correction=2).numpy(), a.var(axis=1, ddof=2))
    np.testing.assert_allclose(x.sum(axis=1, keepdims=True).numpy(), a.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(tl.max(x, axis=1).numpy(), a.max(axis=1))
    assert x.argmax(axis=1).tolist() == [3, 3, 3]
    with pytest.raises(TypeError, match="both dim"):
        x.sum(dim=0, axis=1)


def test_std_correction_matches_torch():
    torch = torch_or_skip()
    a = np.random.default_rng(0).normal(size=(5, 3))
    x, tx = leaf(a), torch.tensor(a, requires_grad=True)
    y, ty = x.std(0, correction=0), tx.std(0, correction=0)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


# ---- creation, bmm, inference_mode --------------------------------------------------------------

@pytest.mark.parametrize("args", [(0, 1, 5), (-3.5, 7, 11), (2, 2, 1), (1, 0, 4), (0, 1, 0)])
def test_linspace_and_logspace_match_torch(args):
    torch = torch_or_skip()
    for dt, tdt in ((tl.float32, torch.float32), (tl.float64, torch.float64)):
        np.testing.assert_allclose(tl.linspace(*args, dtype=dt).numpy(),
                                   torch.linspace(*args, dtype=tdt).numpy(), rtol=1e-6)
        np.testing.assert_allclose(tl.logspace(*args, base=2.0, dtype=dt).numpy(),
                                   torch.logspace(*args, base=2.0, dtype=tdt).numpy(), rtol=1e-6)


def test_linspace_ends_are_exact():
    t = tl.linspace(0.1, 0.7, 7, dtype=tl.float64).tolist()
    assert t[0] == 0.1 and t[-1] == 0.7 and len(t) == 7
    assert tl.logspace(0, 3, 4, dtype=tl.float64).tolist() == [1.0, 10.0, 100.0, 1000.0]
    with pytest.raises(ValueError):
        tl.linspace(0, 1, -1)


def test_bmm():
    a, b = tl.randn(2, 3, 4, dtype=tl.float64), tl.randn(2, 4, 5, dtype=tl.float64)
    np.testing.assert_allclose(tl.bmm(a, b).numpy(), a.numpy() @ b.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="3-D"):
        tl.bmm(tl.randn(3, 4), tl.randn(4, 5))
    with pytest.raises(ValueError, match="do not fit"):
        tl.bmm(tl.randn(2, 3, 4), tl.randn(3, 4, 5))


def test_inference_mode():
    w = leaf([1.0])
    with tl.inference_mode():
        assert not (w * 2).requires_grad
    with tl.inference_mode(False):
        assert (w * 2).requires_grad

    @tl.inference_mode()
    def f(t):
        return t * 2
    assert not f(w).requires_grad and (w * 2).requires_grad


# ---- DLPack --------------------------------------------------------------------------------------

def test_dlpack_with_numpy_shares_memory():
    t = tl.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)
    a[0] = 9.0
    assert t.tolist() == [9.0, 2.0, 3.0]
    b = np.arange(6, dtype=np.int64).reshape(2, 3)[:, ::2]
    u = tl.from_dlpack(b)
    b[1, 1] = 42
    assert u.dtype is tl.int64 and u.tolist() == [[0, 2], [3, 42]]
    assert t.__dlpack_device__() == (1, 0)
    with pytest.raises(RuntimeError, match="detach"):
        np.from_dlpack(leaf([1.0]))
    with pytest.raises(TypeError, match="__dlpack__"):
        tl.from_dlpack([1, 2])


def test_dlpack_with_torch_shares_memory_both_ways():
    torch = torch_or_skip()
    t = tl.tensor([1.0, 2.0])
    tt = torch.from_dlpack(t)
    tt[1] = 7.0
    assert t.tolist() == [1.0, 7.0]
    src = torch.arange(6.0, dtype=torch.float64).reshape(2, 3).t()
    u = tl.from_dlpack(src)
    src[0, 1] = -1.0
    assert u.shape == (3, 2) and u.tolist() == src.tolist()
    assert tl.from_dlpack(torch.tensor([True, False])).tolist() == [True, False]
