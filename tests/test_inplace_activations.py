"""In-place activations: Tensor.relu_/sigmoid_/tanh_, tl.relu_..., F.relu/leaky_relu(inplace=True),
F.relu_/leaky_relu_, nn.ReLU/LeakyReLU(inplace=True): values, gradients (gradcheck, and against
PyTorch when installed), the in-place rules (same object, version bump, leaf refusal) and the
saved-tensor checks PyTorch makes (its node saves the result, so a later in-place change of it,
or an in-place change of a value another node saved, makes backward raise)."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import nn
from tinygrad_lab.nn import functional as F

X = np.array([[-1.5, -0.2, 0.0, 0.3], [0.7, -2.0, 1.1, 2.5]])

# name -> (tl in-place call, NumPy reference)
ACTS = {
    "relu_": (lambda t: t.relu_(), lambda a: np.maximum(a, 0)),
    "sigmoid_": (lambda t: t.sigmoid_(), lambda a: 1 / (1 + np.exp(-a))),
    "tanh_": (lambda t: t.tanh_(), np.tanh),
    "tl.relu_": (lambda t: tl.relu_(t), lambda a: np.maximum(a, 0)),
    "tl.sigmoid_": (lambda t: tl.sigmoid_(t), lambda a: 1 / (1 + np.exp(-a))),
    "tl.tanh_": (lambda t: tl.tanh_(t), np.tanh),
    "F.relu_": (lambda t: F.relu_(t), lambda a: np.maximum(a, 0)),
    "F.relu(inplace)": (lambda t: F.relu(t, inplace=True), lambda a: np.maximum(a, 0)),
    "F.leaky_relu_": (lambda t: F.leaky_relu_(t, 0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
    "F.leaky_relu(inplace)": (lambda t: F.leaky_relu(t, 0.1, inplace=True),
                              lambda a: np.where(a > 0, a, 0.1 * a)),
    "nn.ReLU(inplace)": (nn.ReLU(inplace=True), lambda a: np.maximum(a, 0)),
    "nn.LeakyReLU(inplace)": (nn.LeakyReLU(0.3, inplace=True), lambda a: np.where(a > 0, a, 0.3 * a)),
}


@pytest.mark.parametrize("name", list(ACTS))
def test_values_same_object_and_version(name):
    fn, ref = ACTS[name]
    t = tl.tensor(X)
    v = t._storage.version
    out = fn(t)
    assert out is t
    assert t._storage.version == v + 1
    np.testing.assert_allclose(t.numpy(), ref(X), rtol=1e-15)


@pytest.mark.parametrize("name", list(ACTS))
def test_gradient_through_a_non_leaf(name):
    fn, ref = ACTS[name]
    x = tl.tensor(X, requires_grad=True)
    y = x * 2.0 - 0.5                          # a non-leaf: in place is allowed
    w = tl.tensor(np.arange(8.0).reshape(2, 4) - 3.0)
    out = fn(y)
    assert out is y and y.grad_fn is not None
    (y * w).sum().backward()
    a = X * 2.0 - 0.5
    eps = 1e-6
    numeric = (ref(a + eps) - ref(a - eps)) / (2 * eps) * 2.0 * w.numpy()
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["relu_", "sigmoid_", "tanh_", "F.leaky_relu_"])
def test_gradcheck_and_gradgradcheck(name):
    fn, _ = ACTS[name]
    x = tl.tensor(X + 0.05, requires_grad=True)     # (off relu's kink at 0)
    assert tl.gradcheck(lambda a: fn(a * 1.0), (x,))
    assert tl.gradgradcheck(lambda a: fn(a * 1.0) * a, (x,))


def test_lesson_002_bug_3_runs_as_in_pytorch():
    # the lesson says this raises; it does not (x + 1 saves nothing), in PyTorch or here
    x = tl.tensor([-1.5, 0.5, 2.0], requires_grad=True)
    y = x + 1
    y.relu_()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])
    assert y.grad_fn.name() == "ReluBackward"


def test_overwriting_a_saved_value_raises_at_backward():
    x = tl.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = x.sigmoid()            # sigmoid's backward reads its output y
    z = y * 2
    y.relu_()                  # y's old value is gone
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
    y = x.exp()
    y.tanh_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_overwriting_the_saved_result_raises_at_backward():
    x = tl.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = x * 1
    y.relu_()
    y.relu_()                  # the first relu_'s node saved y after it: now changed again
    with pytest.raises(RuntimeError, match="ReluBackward"):
        y.sum().backward()
    y = x * 1
    y.sigmoid_()
    z = y * y
    y.tanh_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


def test_retain_graph_and_no_grad():
    x = tl.tensor([-1.0, 0.5, 2.0], dtype=tl.float64, requires_grad=True)
    y = x * 3
    y.tanh_()
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * (1 - np.tanh(3 * x.detach().numpy()) ** 2),
                               rtol=1e-12)
    with tl.no_grad():
        x.relu_()              # allowed on a leaf under no_grad, and not recorded
    assert x.is_leaf and x.grad_fn is None
    np.testing.assert_array_equal(x.detach().numpy(), [0.0, 0.5, 2.0])


def test_errors():
    x = tl.tensor([-1.0, 2.0], requires_grad=True)
    for fn in (lambda: x.relu_(), lambda: x.sigmoid_(), lambda: F.relu(x, inplace=True),
               lambda: nn.LeakyReLU(inplace=True)(x)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            fn()
    i = tl.tensor([3, -2])
    assert i.relu_() is i and i.dtype is tl.int64 and i.tolist() == [3, 0]
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        tl.tensor([3, -2]).sigmoid_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        tl.tanh_(tl.tensor([True, False]))
    with pytest.raises(NotImplementedError, match="leaky_relu_"):
        F.leaky_relu_(tl.tensor([3, -2]))
    with pytest.raises(TypeError, match="expected a Tensor"):
        tl.relu_([1.0, -1.0])
    with pytest.raises(TypeError, match="negative_slope"):
        F.leaky_relu_(tl.tensor([1.0]), "0.1")


def test_leaky_relu_negative_slope_backward_raises_as_pytorch():
    x = tl.tensor([-1.0, 2.0], requires_grad=True)
    y = x * 1
    F.leaky_relu_(y, -0.5)
    np.testing.assert_array_equal(y.detach().numpy(), [0.5, 2.0])
    with pytest.raises(RuntimeError, match="negative slope"):
        y.sum().backward()
    y = x * 1
    F.leaky_relu_(y, 0.0)        # slope 0 is fine
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


def test_noncontiguous_tensor():
    x = tl.tensor(X, requires_grad=True)
    y = (x * 1.0).T                              # a strided view (of a non-leaf)
    assert not y.is_contiguous()
    y.sigmoid_()
    y.sum().backward()
    s = 1 / (1 + np.exp(-X))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), rtol=1e-12)


def test_module_reprs_and_sequential():
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.2, inplace=True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    tl.manual_seed(0)
    a = nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 2),
                      nn.LeakyReLU(0.1, inplace=True)).double()
    b = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.LeakyReLU(0.1)).double()
    b.load_state_dict(a.state_dict())
    x = tl.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    a(x).sum().backward()
    b(x).sum().backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, err_msg=n)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    cases = [
        (lambda t: t.relu_(), lambda t: t.relu_()),
        (lambda t: t.sigmoid_(), lambda t: t.sigmoid_()),
        (lambda t: t.tanh_(), lambda t: t.tanh_()),
        (lambda t: F.relu(t, inplace=True), lambda t: torch.nn.functional.relu(t, inplace=True)),
        (lambda t: F.leaky_relu(t, 0.2, inplace=True),
         lambda t: torch.nn.functional.leaky_relu(t, 0.2, inplace=True)),
        (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
        (nn.LeakyReLU(0.05, inplace=True), torch.nn.LeakyReLU(0.05, inplace=True)),
    ]
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 5))
    w = rng.normal(size=(3, 5))
    for ours, theirs in cases:
        xs = []
        for lib, fn in ((tl, ours), (torch, theirs)):
            x = lib.tensor(a, requires_grad=True)
            y = x * 1.5
            z = fn(y)
            assert z is y
            (z * z * lib.tensor(w)).sum().backward()   # (z * z: reads the result twice)
            xs.append((z.detach().numpy(), x.grad.numpy()))
        np.testing.assert_allclose(xs[0][0], xs[1][0], rtol=1e-12)
        np.testing.assert_allclose(xs[0][1], xs[1][1], rtol=1e-12)
    # the same programs raise in both
    for lib in (tl, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x.sigmoid()
        z = y * 2
        y.relu_()
        with pytest.raises(RuntimeError):
            z.sum().backward()
        y = x * 1
        y.relu_()
        y.relu_()
        with pytest.raises(RuntimeError):
            y.sum().backward()
        with pytest.raises(RuntimeError):
            x.relu_()
