"""tl.nn containers (ModuleList, ModuleDict), Identity, Flatten, Softmax, LogSoftmax, and module
hooks (forward pre-hooks, forward hooks, full backward hooks and pre-hooks): registration names
and state_dict keys, the list/dict APIs, hook order/replacement/removal, and, when PyTorch is
installed, the same modules with the same weights giving the same values, gradients and hook
arguments."""
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import nn


def _close(a, b, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), np.asarray(b.detach().numpy()),
                               rtol=rtol, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# ModuleList
# ---------------------------------------------------------------------------------------------

def Stack(lib_nn, sizes):
    """The same model written against tl.nn or torch.nn: a ModuleList and a ModuleDict."""
    class Stack(lib_nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = lib_nn.ModuleList([lib_nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
            self.heads = lib_nn.ModuleDict({"cls": lib_nn.Linear(sizes[-1], 2),
                                            "reg": lib_nn.Linear(sizes[-1], 1)})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return self.heads["cls"](x).sum() + self.heads["reg"](x).sum()
    return Stack()


def test_registration_names():
    m = Stack(nn, [3, 4, 5])
    assert list(m.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                    "layers.1.bias", "heads.cls.weight", "heads.cls.bias",
                                    "heads.reg.weight", "heads.reg.bias"]
    assert [n for n, _ in m.named_parameters()] == list(m.state_dict())
    assert len(list(m.parameters())) == 8
    assert [n for n, _ in m.named_modules()] == ["", "layers", "layers.0", "layers.1", "heads",
                                                 "heads.cls", "heads.reg"]
    m.double()
    assert all(p.dtype is tl.float64 for p in m.parameters())
    m.eval()
    assert not m.layers[0].training and not m.heads["reg"].training


def test_module_list_api():
    a, b, c, d = (nn.Linear(1, 1) for _ in range(4))
    ml = nn.ModuleList([a, b])
    assert len(ml) == 2 and ml[0] is a and ml[-1] is b and list(ml) == [a, b]
    ml.append(c)
    assert ml[2] is c and list(ml._modules) == ["0", "1", "2"]
    sl = ml[1:]
    assert isinstance(sl, nn.ModuleList) and list(sl) == [b, c]
    ml.insert(1, d)
    assert list(ml) == [a, d, b, c]
    ml.insert(-1, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Linear", "Linear", "Linear", "Identity", "Linear"]
    assert isinstance(ml.pop(3), nn.Identity)
    del ml[1]
    assert list(ml) == [a, b, c] and list(ml._modules) == ["0", "1", "2"]
    ml[1] = d
    assert list(ml) == [a, d, c] and ml.state_dict().keys() >= {"1.weight"}
    del ml[0:2]
    assert list(ml) == [c]
    ml += [a, b]
    assert list(ml) == [c, a, b]
    ml2 = ml + nn.ModuleList([d])
    assert list(ml2) == [c, a, b, d] and list(ml) == [c, a, b]
    ml.extend(iter([d]))
    assert len(ml) == 4 and ml.pop() is d and len(ml) == 3
    with pytest.raises(IndexError, match="out of range"):
        ml[3]
    with pytest.raises(IndexError):
        ml[-4]
    with pytest.raises(TypeError):
        ml["0"]
    with pytest.raises(TypeError, match="must be a Module"):
        ml.append(3)
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(5)
    with pytest.raises(NotImplementedError):
        ml(tl.ones(1))
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_module_dict_api():
    a, b, c = (nn.Linear(1, 1) for _ in range(3))
    md = nn.ModuleDict([("x", a), ("y", b)])
    assert list(md) == ["x", "y"] and list(md.keys()) == ["x", "y"] and len(md) == 2
    assert list(md.values()) == [a, b] and list(md.items()) == [("x", a), ("y", b)]
    assert "x" in md and "z" not in md and md["y"] is b and md.y is b
    md["z"] = c
    assert list(md.state_dict()) == ["x.weight", "x.bias", "y.weight", "y.bias", "z.weight", "z.bias"]
    md.update({"x": c, "w": a})
    assert md["x"] is c and list(md) == ["x", "y", "z", "w"]
    md.update(nn.ModuleDict({"v": b}))
    assert md.pop("y") is b and "y" not in md
    del md["z"]
    assert list(md) == ["x", "w", "v"]
    md.clear()
    assert len(md) == 0 and list(md.parameters()) == []
    with pytest.raises(TypeError, match="iterable of key/value pairs"):
        md.update(3)
    with pytest.raises(TypeError, match="should be Iterable"):
        md.update([3])
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        md.update([("a", a, b)])
    with pytest.raises(KeyError, match="contain"):
        md["a.b"] = a
    with pytest.raises(KeyError, match="empty"):
        md[""] = a
    with pytest.raises(TypeError, match="should be a string"):
        md[1] = a
    with pytest.raises(KeyError, match="attribute 'keys' already exists"):
        md["keys"] = a
    with pytest.raises(KeyError):
        md["missing"]


def test_identity_flatten_softmax():
    x = tl.tensor(np.arange(24.0).reshape(2, 3, 4) / 10, requires_grad=True)
    assert nn.Identity(54, unused="x")(x) is x
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Flatten(start_dim=-2, end_dim=-1)(x).shape == (2, 12)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    nn.Flatten()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3, 4)))
    s = nn.Softmax(dim=-1)(x)
    np.testing.assert_allclose(s.sum(-1).detach().numpy(), np.ones((2, 3)), rtol=1e-12)
    ls = nn.LogSoftmax(dim=1)(x)
    np.testing.assert_allclose(ls.exp().sum(1).detach().numpy(), np.ones((2, 4)), rtol=1e-12)
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)" and repr(nn.LogSoftmax(0)) == "LogSoftmax(dim=0)"
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        s3 = nn.Softmax()(x)           # 3-d: PyTorch's legacy choice is dim 0
    _close(s3, tl.softmax(x, 0))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        s2 = nn.LogSoftmax()(x[0])     # 2-d: dim 1
    _close(s2, tl.log_softmax(x[0], 1))


def test_add_module_names():
    m = nn.Module()
    m.add_module("a", nn.Identity())
    m.register_module("b", None)
    assert list(m._modules) == ["a", "b"]
    m.w = nn.Parameter(tl.ones(1))
    with pytest.raises(KeyError, match="attribute 'w' already exists"):
        m.add_module("w", nn.Identity())
    with pytest.raises(TypeError, match="must be a Module"):
        m.add_module("c", 3)


def test_containers_against_pytorch():
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    ours = Stack(nn, [3, 5, 4]).double()
    theirs = Stack(torch.nn, [3, 5, 4]).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    xn = np.random.default_rng(0).normal(size=(6, 3))
    ours(tl.tensor(xn)).backward()
    theirs(torch.from_numpy(xn)).backward()
    for (n, p), (m, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, err_msg=n)
    # printing, with PyTorch's folding of repeated modules
    ml = [nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)]),
          torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU(),
                               torch.nn.Linear(2, 3)])]
    assert repr(ml[0]) == repr(ml[1])
    assert repr(nn.Flatten(0, 2)) == repr(torch.nn.Flatten(0, 2))
    assert repr(nn.Softmax(dim=-1)) == repr(torch.nn.Softmax(dim=-1))
    a = np.random.default_rng(1).normal(size=(2, 3, 4))
    for ours_m, theirs_m in [(nn.Flatten(), torch.nn.Flatten()), (nn.Flatten(0, -2), torch.nn.Flatten(0, -2)),
                             (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
                             (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
                             (nn.Identity(), torch.nn.Identity())]:
        xt, xo = torch.tensor(a, requires_grad=True), tl.tensor(a, requires_grad=True)
        w = np.random.default_rng(2).normal(size=theirs_m(xt).shape)
        yt, yo = theirs_m(xt), ours_m(xo)
        (yt * torch.from_numpy(w)).sum().backward()
        (yo * tl.tensor(w)).sum().backward()
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Forward hooks
# ---------------------------------------------------------------------------------------------

def test_forward_pre_hook_and_forward_hook():
    lin = nn.Linear(2, 2).double()
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append(("pre", m, len(args))))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(("fwd", args[0].shape, out.shape)))
    x = tl.ones(3, 2, dtype=tl.float64)
    y = lin(x)
    assert calls == [("pre", lin, 1), ("fwd", (3, 2), (3, 2))]
    # replacements: a pre-hook's single value is wrapped into the args tuple
    h3 = lin.register_forward_pre_hook(lambda m, args: args[0] * 2)
    h4 = lin.register_forward_hook(lambda m, args, out: out + 100)
    _close(lin(x), lin.forward(x * 2) + 100)
    for h in (h1, h2, h3, h4):
        h.remove()
    h1.remove()                       # removing twice is harmless
    calls.clear()
    _close(lin(x), y)
    assert calls == []


def test_hook_order_prepend_and_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor
    m = Scale()
    order = []
    m.register_forward_hook(lambda mod, a, o: order.append("f1"))
    m.register_forward_hook(lambda mod, a, o: order.append("f0"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a: order.append("p1"))
    m.register_forward_pre_hook(lambda mod, a, kw: order.append(("p0", dict(kw))), prepend=True,
                                with_kwargs=True)
    m(tl.ones(1), factor=3.0)
    assert order == [("p0", {"factor": 3.0}), "p1", "f0", "f1"]
    m2 = Scale()
    m2.register_forward_pre_hook(lambda mod, a, kw: (a, {"factor": 5.0}), with_kwargs=True)
    m2.register_forward_hook(lambda mod, a, kw, out: out + kw["factor"], with_kwargs=True)
    assert m2(tl.ones(1), factor=3.0).item() == 10.0
    m3 = Scale()
    m3.register_forward_pre_hook(lambda mod, a, kw: a, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"tuple of \(new_args, new_kwargs\)"):
        m3(tl.ones(1))


def test_always_call_forward_hook():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, a, o: seen.append("normal"))
    m.register_forward_hook(lambda mod, a, o: seen.append(("always", o)), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(tl.ones(1))
    assert seen == [("always", None)]


def test_hooks_fire_inside_sequential_fused_layers():
    tl.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Tanh()).double()
    x = tl.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    plain = seq(x)
    acts = {}
    handles = [m.register_forward_hook(lambda mod, a, o, i=i: acts.__setitem__(i, o))
               for i, m in enumerate(seq)]
    out = seq(x)
    _close(out, plain)
    assert sorted(acts) == [0, 1, 2, 3]
    _close(acts[1], acts[0].relu())
    _close(acts[3], out)
    for h in handles:
        h.remove()
    acts.clear()
    seq(x)
    assert acts == {}


# ---------------------------------------------------------------------------------------------
# Backward hooks
# ---------------------------------------------------------------------------------------------

class TwoIn(nn.Module):
    def forward(self, a, b, k=3):
        return a * 2 * k


def test_full_backward_hook_arguments():
    m = TwoIn()
    got = []
    m.register_full_backward_hook(lambda mod, gi, go: got.append((mod, gi, go)))
    a = tl.ones(2, requires_grad=True)
    b = tl.ones(2, requires_grad=True)
    out = m(a, b, 3)
    assert out.grad_fn.name() == "BackwardHookFunctionBackward"
    out.sum().backward()
    (mod, gi, go), = got
    assert mod is m and len(gi) == 3 and len(go) == 1 and gi[2] is None   # (k: not a tensor)
    np.testing.assert_array_equal(gi[0].numpy(), [6.0, 6.0])
    np.testing.assert_array_equal(gi[1].numpy(), [0.0, 0.0])    # unused input: zeros
    np.testing.assert_array_equal(go[0].numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(a.grad.numpy(), [6.0, 6.0])
    got.clear()
    m(a, 3.0).sum().backward()                                  # a non-tensor argument: None
    assert got[0][1][1] is None
    got.clear()
    m(a, tl.ones(2)).sum().backward()                           # an input without grad: None
    assert got[0][1][1] is None and got[0][1][0] is not None


def test_full_backward_hook_replaces_grad_input_and_removal():
    tl.manual_seed(0)
    lin = nn.Linear(2, 1).double()
    x = tl.ones(1, 2, dtype=tl.float64, requires_grad=True)
    lin(x).sum().backward()
    plain_x, plain_w = x.grad.numpy().copy(), lin.weight.grad.numpy().copy()
    x.grad = None
    lin.zero_grad()
    h = lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10,))
    lin(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), plain_x * 10)
    np.testing.assert_allclose(lin.weight.grad.numpy(), plain_w)   # parameters unaffected
    h.remove()
    x.grad = None
    lin(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), plain_x)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        lin(x).sum().backward()


def test_full_backward_hook_without_input_grad_warns():
    lin = nn.Linear(2, 1)
    got = []
    lin.register_full_backward_hook(lambda m, gi, go: got.append((gi, go)))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        lin(tl.ones(1, 2)).sum().backward()
    (gi, go), = got
    assert gi == (None,) and go[0].shape == (1, 1)
    lin2 = nn.Linear(2, 1)
    lin2.register_full_backward_hook(lambda m, gi, go: (tl.ones(1, 2),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="should always return None"):
            lin2(tl.ones(1, 2)).sum().backward()


def test_tuple_outputs_and_backward_pre_hook():
    class T(nn.Module):
        def forward(self, a):
            return a * 2, a * 3, 5
    t = T()
    got = []
    t.register_full_backward_hook(lambda m, gi, go: got.append((gi, go)))
    t.register_full_backward_pre_hook(lambda m, go: (go[0] * 10, go[1], go[2]))
    a = tl.ones(2, requires_grad=True)
    o = t(a)
    assert isinstance(o, tuple) and o[2] == 5
    o[0].sum().backward()
    (gi, go), = got
    assert go[1] is None and go[2] is None             # outputs no gradient reached
    np.testing.assert_array_equal(go[0].numpy(), [10.0, 10.0])   # after the pre-hook
    np.testing.assert_array_equal(gi[0].numpy(), [20.0, 20.0])
    np.testing.assert_array_equal(a.grad.numpy(), [20.0, 20.0])
    # a retained graph run again: the output no gradient reaches this time is None again
    got.clear()
    t3 = T()
    t3.register_full_backward_hook(lambda m, gi, go: got.append(go))
    o = t3(a)
    (o[0].sum() + o[1].sum()).backward(retain_graph=True)
    o[0].sum().backward()
    assert got[0][1] is not None and got[1][1] is None
    t2 = T()
    t2.register_full_backward_pre_hook(lambda m, go: (go[0],))
    with pytest.raises(RuntimeError, match="invalid number of grad_output"):
        t2(a)[0].sum().backward()


def test_backward_hook_per_call_no_grad_and_create_graph():
    m = nn.Tanh()
    calls = []
    m.register_full_backward_hook(lambda mod, gi, go: calls.append(gi[0].shape))
    x = tl.tensor([0.3, -0.4], dtype=tl.float64, requires_grad=True)
    (m(x) + m(x * 2).sum()).sum().backward()           # two calls: the hook fires twice
    assert len(calls) == 2
    with tl.no_grad():
        y = m(x)
    assert y.grad_fn is None and len(calls) == 2
    # gradients of gradients through the identity nodes are those of the plain module
    x.grad = None
    g, = tl.autograd.grad(m(x).pow(3).sum(), x, create_graph=True)
    g.sum().backward()
    t = np.tanh(x.detach().numpy())
    d = 1 - t ** 2
    np.testing.assert_allclose(x.grad.numpy(), 3 * (2 * t * d * d + t ** 2 * (-2 * t * d)), rtol=1e-12)
    assert tl.gradcheck(m, (x,)) and tl.gradgradcheck(m, (x,))


def test_hooks_against_pytorch():
    torch = pytest.importorskip("torch")

    def run(lib):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.ReLU(), lib.nn.Linear(5, 4),
                                lib.nn.Tanh(), lib.nn.Linear(4, 2), lib.nn.LogSoftmax(dim=1)).double()
        return net

    ours, theirs = run(tl), run(torch)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    logs = {}
    for name, net in (("tl", ours), ("torch", theirs)):
        rec = logs[name] = []
        for i, layer in enumerate(net):
            layer.register_forward_hook(
                lambda m, a, o, i=i, rec=rec: rec.append(("fwd", i, o.detach().numpy().copy())))
            layer.register_full_backward_hook(
                lambda m, gi, go, i=i, rec=rec: rec.append(
                    ("bwd", i, [None if g is None else g.detach().numpy().copy() for g in gi],
                     [None if g is None else g.detach().numpy().copy() for g in go])))
            if i == 2:   # scale the gradient flowing into the first layers
                layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,))
                layer.register_full_backward_pre_hook(lambda m, go: (go[0] + 1.0,))
    xn = np.random.default_rng(3).normal(size=(6, 3))
    target = [0, 1, 1, 0, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (the first layer's input needs no grad: both warn)
        lo = ours(tl.tensor(xn))
        lt = theirs(torch.from_numpy(xn))
        tl.nn.functional.nll_loss(lo, tl.tensor(target)).backward()
        torch.nn.functional.nll_loss(lt, torch.tensor(target)).backward()
    a, b = logs["tl"], logs["torch"]
    assert [e[:2] for e in a] == [e[:2] for e in b]
    for ea, eb in zip(a, b):
        if ea[0] == "fwd":
            np.testing.assert_allclose(ea[2], eb[2], rtol=1e-12)
        else:
            for ga, gb in zip(ea[2] + ea[3], eb[2] + eb[3]):
                assert (ga is None) == (gb is None)
                if ga is not None:
                    np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=1e-15)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-15, err_msg=n)
