"""tl.autograd.functional (jacobian, hessian, vjp, jvp, hvp, vhp) against
torch.autograd.functional in float64 -- values, return structure (Tensor vs tuple), create_graph
and strict mode -- and against closed forms when PyTorch is missing."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import functional as AF

try:
    import torch
    import torch.autograd.functional as TF
except ImportError:  # the suite must pass without PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _x(*shape, seed=0):
    return np.random.default_rng(seed + len(shape)).uniform(-1.5, 1.5, size=shape)


def _tl(a):
    return tl.tensor(a, dtype=tl.float64)


def _torch(a):
    return torch.tensor(a, dtype=torch.float64)


# Each case: (name, function written once for both libraries through `lib`, NumPy inputs). The
# function gets a namespace with the few ops that differ in spelling.
class _Lib:
    def __init__(self, mod):
        self.mod = mod

    def tanh(self, t):
        return t.tanh()


A = _x(3, 4, seed=7)

VECTOR_CASES = {
    # vector -> vector
    "exp*sin": (lambda L, x: x.exp() * x.sin(), (_x(3),)),
    # matrix -> matrix, through a constant matrix
    "matmul tanh": (lambda L, x: L.tanh(x @ L.A), (_x(2, 3),)),
    # vector -> scalar (0-d)
    "cubic sum": (lambda L, x: (x ** 3).sum(), (_x(4),)),
    # two inputs -> two outputs
    "tuple in/out": (lambda L, x, y: (x * y.sum(), (x * x).sum() * y), (_x(3), _x(2, 2))),
    # two inputs -> one output
    "two inputs": (lambda L, x, y: (x.sin() * y).sum(dim=0), (_x(2, 3), _x(2, 3))),
}

SCALAR_CASES = {
    "cubic sum": (lambda L, x: (x ** 3).sum(), (_x(4),)),
    "log-sum-exp": (lambda L, x: (x.exp().sum()).log(), (_x(2, 3),)),
    "two inputs": (lambda L, x, y: (x.sin() * y * y).sum(), (_x(3), _x(3))),
    "matrix form": (lambda L, x, y: (L.tanh(x @ L.A) * y).sum(), (_x(2, 3), _x(2, 4))),
}


def _libs():
    ours = _Lib(tl)
    ours.A = _tl(A)
    theirs = _Lib(torch)
    theirs.A = _torch(A)
    return ours, theirs


def _args(arrays, conv, as_tuple):
    ts = tuple(conv(a) for a in arrays)
    return ts if as_tuple or len(ts) > 1 else ts[0]


def _assert_same(ours, theirs, rtol=1e-10):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same(a, b, rtol)
        return
    assert isinstance(ours, tl.Tensor), f"expected a Tensor, got {type(ours).__name__}"
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=1e-12)


def _vs(fn_name, func, arrays, as_tuple, v_like=None):
    """fn_name's result with tl and with torch (v, when needed, shaped like the 'inputs' or the
    'outputs')."""
    results = []
    for lib, conv, mod in zip(_libs(), (_tl, _torch), (AF, TF)):
        args = _args(arrays, conv, as_tuple)
        f = lambda *a, lib=lib: func(lib, *a)   # noqa: E731
        v = ()
        if v_like == "inputs":
            v = (_v_for(args, conv),)
        elif v_like == "outputs":
            v = (_v_for(f(*(args if isinstance(args, tuple) else (args,))), conv),)
        results.append(getattr(mod, fn_name)(f, args, *v))
    return results


def _v_for(ref, conv):
    """A fixed vector shaped like ``ref`` (a tensor or a tuple of them)."""
    if isinstance(ref, tuple):
        return tuple(_v_for(r, conv) for r in ref)
    return conv(np.cos(np.arange(int(np.prod(ref.shape))) + 0.3).reshape(tuple(ref.shape)))


# ---- against PyTorch ---------------------------------------------------------------------------

# (function, its test cases, what v is shaped like: None when it takes no v)
FUNCTIONS = [("jacobian", VECTOR_CASES, None), ("vjp", VECTOR_CASES, "outputs"),
             ("jvp", VECTOR_CASES, "inputs"), ("hessian", SCALAR_CASES, None),
             ("hvp", SCALAR_CASES, "inputs"), ("vhp", SCALAR_CASES, "inputs")]


@needs_torch
@pytest.mark.parametrize("as_tuple", [False, True], ids=["tensor input", "tuple input"])
@pytest.mark.parametrize("fn_name,cases,v_like,name",
                         [(f, c, v, n) for f, c, v in FUNCTIONS for n in c],
                         ids=[f"{f}-{n}" for f, c, _ in FUNCTIONS for n in c])
def test_matches_torch(fn_name, cases, v_like, name, as_tuple):
    """Values and structure: a Tensor where torch gives a Tensor, tuples where it gives tuples
    ((output, product) pairs for the products)."""
    func, arrays = cases[name]
    ours, theirs = _vs(fn_name, func, arrays, as_tuple, v_like)
    _assert_same(ours, theirs)


@needs_torch
@pytest.mark.parametrize("fn_name,cases,v_like", FUNCTIONS, ids=[f for f, _, _ in FUNCTIONS])
def test_create_graph_results_can_be_differentiated_like_torch(fn_name, cases, v_like):
    """With create_graph=True the results stay connected to the user's inputs: the gradient of
    their sum with respect to those inputs matches torch's."""
    func, arrays = cases["two inputs"]
    ours_lib, torch_lib = _libs()
    grads = []
    for lib, conv, mod in ((ours_lib, _tl, AF), (torch_lib, _torch, TF)):
        xs = tuple(conv(a).requires_grad_() for a in arrays)
        f = lambda *a, lib=lib: func(lib, *a)   # noqa: E731
        if v_like is None:
            res = getattr(mod, fn_name)(f, xs, create_graph=True)
        else:
            ref = xs if v_like == "inputs" else func(lib, *xs).detach()
            res = getattr(mod, fn_name)(f, xs, _v_for(ref, conv), create_graph=True)[1]
        flat = []
        stack = [res]
        while stack:
            r = stack.pop()
            if isinstance(r, tuple):
                stack.extend(r)
            else:
                flat.append(r)
        total = sum((r * r).sum() for r in flat)
        assert total.requires_grad
        mod_grad = tl.autograd.grad if mod is AF else torch.autograd.grad
        grads.append(mod_grad(total, xs, allow_unused=True))
    for a, b in zip(*grads):
        if b is None:
            assert a is None or not a.detach().numpy().any()
        else:
            np.testing.assert_allclose(a.detach().numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


# ---- closed forms (these run without PyTorch too) ------------------------------------------

def test_jacobian_closed_form():
    x = _tl([1.0, 2.0, 3.0])
    jac = AF.jacobian(lambda t: t * t, x)
    np.testing.assert_allclose(jac.numpy(), np.diag([2.0, 4.0, 6.0]))
    assert not jac.requires_grad and x.grad is None
    a, b = _tl([1.0, 2.0]), _tl([3.0])
    j = AF.jacobian(lambda u, w: (u * w, u.sum()), (a, b))
    assert isinstance(j, tuple) and all(isinstance(r, tuple) and len(r) == 2 for r in j)
    assert j[0][0].shape == (2, 2) and j[0][1].shape == (2, 1) and j[1][0].shape == (2,)
    np.testing.assert_allclose(j[0][1].numpy(), [[1.0], [2.0]])
    np.testing.assert_allclose(j[1][1].numpy(), [0.0])   # independent: zeros


def test_hessian_closed_form():
    x = _tl([1.0, -2.0])
    h = AF.hessian(lambda t: (t[0] ** 2) * t[1], x)
    np.testing.assert_allclose(h.numpy(), [[2 * -2.0, 2 * 1.0], [2 * 1.0, 0.0]])
    hh = AF.hessian(lambda u, w: (u * w).sum(), (_tl([1.0, 2.0]), _tl([3.0, 4.0])))
    assert isinstance(hh, tuple) and isinstance(hh[0], tuple)
    np.testing.assert_allclose(hh[0][1].numpy(), np.eye(2))
    np.testing.assert_allclose(hh[0][0].numpy(), np.zeros((2, 2)))


def test_products_closed_form():
    x, v = _tl([1.0, 2.0, 3.0]), _tl([1.0, 0.0, -1.0])
    out, r = AF.vjp(lambda t: t ** 3, x, v)
    np.testing.assert_allclose(out.numpy(), [1.0, 8.0, 27.0])
    np.testing.assert_allclose(r.numpy(), [3.0, 0.0, -27.0])
    out, r = AF.jvp(lambda t: t ** 3, x, v)
    np.testing.assert_allclose(r.numpy(), [3.0, 0.0, -27.0])
    for fn in (AF.hvp, AF.vhp):
        out, r = fn(lambda t: (t ** 3).sum(), x, v)
        assert out.item() == 36.0
        np.testing.assert_allclose(r.numpy(), [6.0, 0.0, -18.0])
    # a one-element input or output needs no v
    _, r = AF.vjp(lambda t: (t * t).sum(), x)
    np.testing.assert_allclose(r.numpy(), [2.0, 4.0, 6.0])
    _, r = AF.jvp(lambda t: t * _tl([1.0, 2.0]), _tl([3.0]))
    np.testing.assert_allclose(r.numpy(), [1.0, 2.0])


def test_inputs_are_not_touched():
    x = _tl([1.0, 2.0]).requires_grad_()
    AF.vjp(lambda t: (t * t).sum(), x)
    AF.hessian(lambda t: (t * t).sum(), x)
    assert x.grad is None


def test_create_graph_false_results_are_detached():
    x = _tl([1.0, 2.0]).requires_grad_()
    out, r = AF.vjp(lambda t: (t * t).sum(), x, create_graph=False)
    assert not out.requires_grad and not r.requires_grad
    out, r = AF.vjp(lambda t: (t * t).sum(), x, create_graph=True)
    assert out.requires_grad and r.requires_grad
    g, = tl.autograd.grad(r.sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0])


# ---- strict mode and errors ----------------------------------------------------------------------

def test_independent_inputs_give_zeros_or_raise_in_strict_mode():
    a, b = _tl([1.0, 2.0]), _tl([3.0])
    f = lambda u, w: u * 2   # noqa: E731  (independent of w)
    _, (ga, gb) = AF.vjp(f, (a, b), _tl([1.0, 1.0]))
    np.testing.assert_allclose(gb.numpy(), [0.0])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(f, (a, b), _tl([1.0, 1.0]), strict=True)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is "
                                           "independent of input 1"):
        AF.jacobian(f, (a, b), strict=True)
    with pytest.raises(RuntimeError, match="does not require gradients"):
        AF.jacobian(lambda u: _tl([1.0]), a, strict=True)
    with pytest.raises(RuntimeError, match="jacobian of the user-provided function .* independent"):
        AF.hessian(lambda u: u.sum(), a, strict=True)   # linear: constant jacobian
    np.testing.assert_allclose(AF.hessian(lambda u: u.sum(), a).numpy(), np.zeros((2, 2)))


def test_errors():
    x = _tl([1.0, 2.0])
    with pytest.raises(TypeError, match="The inputs given to jacobian must be either a Tensor "
                                        "or a tuple of Tensors"):
        AF.jacobian(lambda t: t, [1.0, 2.0])
    with pytest.raises(TypeError, match="value at index 1"):
        AF.vjp(lambda a, b: a, (x, 3.0))
    with pytest.raises(TypeError, match="outputs of the user-provided function"):
        AF.jacobian(lambda t: 3.0, x)
    with pytest.raises(RuntimeError, match="v can only be None if the user-provided function "
                                           "returns a single Tensor with a single element"):
        AF.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None if the input"):
        AF.jvp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="v has invalid size: should be"):
        AF.vjp(lambda t: t * 2, x, _tl([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="v is a tuple of invalid length"):
        AF.jvp(lambda a, b: a * b, (x, x), (x,))
    with pytest.raises(RuntimeError, match="The given v should contain a single Tensor"):
        AF.vjp(lambda t: t * 2, x, (x, x))
    with pytest.raises(RuntimeError, match="should return a single Tensor"):
        AF.hessian(lambda t: (t.sum(), t.sum()), x)
    with pytest.raises(RuntimeError, match="should contain a single element"):
        AF.hessian(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="should contain a single element"):
        AF.hvp(lambda t: t * 2, x, x)
    with pytest.raises(RuntimeError, match="function given to vhp should return a single Tensor"):
        AF.vhp(lambda t: (t.sum(),), x, x)
    with pytest.raises(NotImplementedError, match="vectorize"):
        AF.jacobian(lambda t: t, x, vectorize=True)
    with pytest.raises(AssertionError, match="strategy"):
        AF.jacobian(lambda t: t, x, strategy="sideways")


def test_reachable_from_the_package():
    assert tl.autograd.functional is AF
    assert set(AF.__all__) == {"vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"}


@needs_torch
@pytest.mark.parametrize("fn_name,v_like", [("jacobian", None), ("vjp", "outputs"),
                                            ("jvp", "inputs"), ("hessian", None),
                                            ("hvp", "inputs"), ("vhp", "inputs")])
@pytest.mark.parametrize("create_graph", [False, True])
def test_strict_mode_errors_match_torch(fn_name, v_like, create_graph):
    """A function that ignores its second input (and is linear in the first): strict mode
    raises the same RuntimeError as torch."""
    messages = []
    for conv, mod in ((_tl, AF), (_torch, TF)):
        xs = (conv(np.array([1.0, 2.0])), conv(np.array([3.0])))
        f = lambda u, w: (u * 2).sum()   # noqa: E731
        v = () if v_like is None else (_v_for(xs if v_like == "inputs" else f(*xs), conv),)
        with pytest.raises(RuntimeError) as info:
            getattr(mod, fn_name)(f, xs, *v, create_graph=create_graph, strict=True)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
