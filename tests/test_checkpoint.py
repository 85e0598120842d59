"""tl.utils.checkpoint: the same values and gradients as the plain computation (and as
torch.utils.checkpoint), far fewer activations kept for backward, the recomputation in backward,
random ops inside, and the errors."""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

try:
    import torch
    import torch.utils.checkpoint as tcp
except ImportError:  # the suite must pass without PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

DEPTH, WIDTH = 8, 16


def _mlp(depth=DEPTH, width=WIDTH):
    tl.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [tl.nn.Linear(width, width, dtype=tl.float64), tl.nn.Tanh()]
    return tl.nn.Sequential(*layers)


def _blocks(net):
    """The MLP as (Linear, Tanh) blocks."""
    mods = list(net.children())
    return [tl.nn.Sequential(mods[i], mods[i + 1]) for i in range(0, len(mods), 2)]


def _run(net, x, use_checkpoint):
    h = x
    for blk in _blocks(net):
        h = checkpoint(blk, h) if use_checkpoint else blk(h)
    return h


def _grads(net, x, use_checkpoint):
    net.zero_grad()
    if x.requires_grad:
        x.grad = None
    out = _run(net, x, use_checkpoint)
    (out * out).sum().backward()
    gs = [p.grad.numpy().copy() for p in net.parameters()]
    return out.detach().numpy(), gs, (x.grad.numpy().copy() if x.requires_grad else None)


@pytest.mark.parametrize("x_requires_grad", [True, False])
def test_same_values_and_gradients_as_without_checkpoint(x_requires_grad):
    net = _mlp()
    x = tl.randn(5, WIDTH, dtype=tl.float64, requires_grad=x_requires_grad)
    out0, g0, gx0 = _grads(net, x, False)
    out1, g1, gx1 = _grads(net, x, True)
    np.testing.assert_allclose(out1, out0, rtol=1e-13, atol=1e-14)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    if x_requires_grad:
        np.testing.assert_allclose(gx1, gx0, rtol=1e-12, atol=1e-14)


def _torch_copy(mlp):
    """The (Linear, Tanh)* MLP in torch, with the same weights."""
    mods = list(mlp.children())
    tnet = torch.nn.Sequential(*[torch.nn.Linear(WIDTH, WIDTH, dtype=torch.float64) if i % 2 == 0
                                 else torch.nn.Tanh() for i in range(len(mods))])
    with torch.no_grad():
        for tp, p in zip(tnet.parameters(), mlp.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy()))
    return tnet


@needs_torch
def test_gradients_match_torch_checkpoint():
    net = _mlp()
    x = tl.randn(5, WIDTH, dtype=tl.float64, requires_grad=True)
    out, grads, gx = _grads(net, x, True)
    mods = list(net.children())
    tnet = _torch_copy(net)
    tx = torch.from_numpy(x.detach().numpy()).requires_grad_()
    h = tx
    for i in range(0, len(mods), 2):
        h = tcp.checkpoint(torch.nn.Sequential(tnet[i], tnet[i + 1]), h, use_reentrant=False)
    (h * h).sum().backward()
    np.testing.assert_allclose(out, h.detach().numpy(), rtol=1e-12)
    for g, tp in zip(grads, tnet.parameters()):
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-13)


# ---- memory: what the graph keeps for backward -------------------------------------------------

def _activation_bytes(root, inputs_too=False):
    """Bytes of the distinct non-leaf tensors (activations; parameters and inputs are leaves,
    which exist anyway) that the graph nodes reachable from ``root`` saved for backward -- and,
    with ``inputs_too``, that they hold as their inputs (this engine's nodes keep those alive)."""
    seen_nodes, seen_tensors, total = {}, set(), 0   # (seen_nodes keeps nodes alive: ids stay
    stack = [root.grad_fn]                           # unique)
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes[id(node)] = node
        nxt = node.next_functions   # (first: a fused node is walked as the op-by-op nodes)
        held = list(getattr(node, "_saved", ()) or ())
        if inputs_too:
            held += list(getattr(node, "_inputs", ()))
        for t in held:
            if isinstance(t, tl.Tensor) and not t.is_leaf and id(t) not in seen_tensors:
                seen_tensors.add(id(t))
                total += t.numel() * t.dtype.itemsize
        stack.extend(fn for fn, _ in nxt)
    return total


def _node_names(root):
    seen, names, stack = {}, [], [root.grad_fn]   # (seen keeps nodes alive: ids stay unique)
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        names.append(node.name())
        stack.extend(fn for fn, _ in node.next_functions)
    return names


def test_checkpoint_keeps_fewer_activations_for_backward():
    """A 12-layer MLP checkpointed in 4 segments of 3 layers keeps the 4 segment boundaries'
    activations instead of all 12 layers'."""
    net = _mlp(depth=12, width=32)
    x = tl.randn(64, 32, dtype=tl.float64, requires_grad=True)
    mods = list(net.children())
    segments = [tl.nn.Sequential(*mods[i:i + 6]) for i in range(0, len(mods), 6)]
    h = x
    for seg in segments:
        h = seg(h)
    plain = (h ** 2).sum()
    h = x
    for seg in segments:
        h = checkpoint(seg, h)
    ckpt = (h ** 2).sum()
    one = 64 * 32 * 8   # bytes of one activation
    assert _activation_bytes(plain) == 12 * one          # every layer's output
    assert _activation_bytes(ckpt) == 4 * one            # 3 segment inputs + the last output
    # held as node inputs too: the same, plus the squared output the loss's sum reads
    assert _activation_bytes(plain, inputs_too=True) == 13 * one
    assert _activation_bytes(ckpt, inputs_too=True) == 5 * one
    names = _node_names(ckpt)
    assert names.count("CheckpointBackward") == 4 and "TanhBackward" not in names
    ops = lambda names: [n for n in names if n != "AccumulateGrad"]   # noqa: E731
    assert len(ops(names)) == 6 and len(ops(_node_names(plain))) == 14
    np.testing.assert_allclose(ckpt.item(), plain.item(), rtol=1e-13)


def test_checkpoint_sequential_keeps_fewer_activations():
    net = _mlp(depth=12, width=32)
    x = tl.randn(64, 32, dtype=tl.float64, requires_grad=True)
    one = 64 * 32 * 8
    h = x
    for m in net.children():   # module by module, as checkpoint_sequential runs them
        h = m(h)
    plain = (h ** 2).sum()
    # 12 Linear outputs, 12 Tanh outputs, the squared output
    assert _activation_bytes(plain, inputs_too=True) == 25 * one
    # 4 segments of 3 layers: the outputs of the 3 checkpointed ones, the last (plain) one's 6
    # activations, the squared output
    seq = (checkpoint_sequential(net, 4, x) ** 2).sum()
    assert _activation_bytes(seq, inputs_too=True) == (3 + 6 + 1) * one


# ---- what backward does ------------------------------------------------------------------------

def test_backward_recomputes_the_function():
    calls = []

    def fn(t):
        calls.append(tl.is_grad_enabled())
        return (t * t).sin()

    x = tl.randn(4, dtype=tl.float64, requires_grad=True)
    y = checkpoint(fn, x)
    assert len(calls) == 1 and y.grad_fn.name() == "CheckpointBackward"
    y.sum().backward()
    assert calls == [True, True]   # once in forward, once (with grad) in backward
    np.testing.assert_allclose(x.grad.numpy(), (2 * x * (x * x).cos()).detach().numpy(), rtol=1e-13)


def test_grad_with_respect_to_parameters_inside():
    net = _mlp(depth=3)
    x = tl.randn(2, WIDTH, dtype=tl.float64)
    params = list(net.parameters())
    g1 = tl.autograd.grad(checkpoint(net, x).sum(), params)
    g0 = tl.autograd.grad(net(x).sum(), params)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert all(p.grad is None for p in params)   # grad() leaves .grad alone


def test_closure_over_a_non_leaf_tensor():
    w = tl.randn(3, dtype=tl.float64, requires_grad=True)
    w2 = w * 2   # made outside the checkpointed function, read inside it
    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    y = checkpoint(lambda t: (t * w2).exp(), x)
    y.sum().backward()
    e = (x * w2).exp().detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), e * w2.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(w.grad.numpy(), 2 * e * x.detach().numpy(), rtol=1e-13)
    assert w2.grad_fn is not None   # restored after the recomputation's backward


def test_double_backward_through_checkpoint():
    x = tl.randn(4, dtype=tl.float64, requires_grad=True)
    f = lambda t: (t.sin() * t * t).sum()   # noqa: E731
    g_ck, = tl.autograd.grad(checkpoint(f, x), x, create_graph=True)
    h_ck, = tl.autograd.grad(g_ck.sum(), x)
    g0, = tl.autograd.grad(f(x), x, create_graph=True)
    h0, = tl.autograd.grad(g0.sum(), x)
    np.testing.assert_allclose(g_ck.detach().numpy(), g0.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(h_ck.numpy(), h0.numpy(), rtol=1e-12)


def test_gradcheck_through_checkpoint():
    w = tl.randn(3, 3, dtype=tl.float64, requires_grad=True)
    x = tl.randn(2, 3, dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(lambda a, b: checkpoint(lambda u, v: (u @ v).tanh(), a, b), (x, w))
    assert tl.gradgradcheck(lambda a, b: checkpoint(lambda u, v: (u @ v).tanh(), a, b), (x, w))


def test_tuple_outputs_and_keyword_arguments():
    x = tl.randn(3, dtype=tl.float64, requires_grad=True)

    def fn(t, scale=1.0):
        return t.exp() * scale, (t * t).sum(), "tag", tl.arange(3)

    a, b, tag, idx = checkpoint(fn, x, scale=3.0)
    assert tag == "tag" and idx.tolist() == [0, 1, 2] and not idx.requires_grad
    (a.sum() + 2 * b).backward()
    np.testing.assert_allclose(x.grad.numpy(), (3 * x.exp() + 4 * x).detach().numpy(), rtol=1e-13)
    out = checkpoint(lambda t: [t * 2], x)
    assert isinstance(out, list) and out[0].requires_grad


def test_output_not_needing_grad_is_left_alone():
    x = tl.randn(3, dtype=tl.float64)
    y = checkpoint(lambda t: t * 2, x)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_allclose(y.numpy(), 2 * x.numpy())


def test_under_no_grad_it_is_a_plain_call():
    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    with tl.no_grad():
        y = checkpoint(lambda t: t * 2, x)
    assert y.grad_fn is None and not y.requires_grad


def test_backward_twice_needs_retain_graph():
    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    y = checkpoint(lambda t: (t * t).sum(), x)
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.detach().numpy(), rtol=1e-13)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_input_modified_in_place_before_backward_raises():
    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    h = x * 1.0
    y = checkpoint(lambda t: t.exp(), h)
    with tl.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# ---- random ops inside -------------------------------------------------------------------------

def test_dropout_inside_sees_the_same_mask_in_the_recomputation():
    x = tl.randn(200, dtype=tl.float64, requires_grad=True)
    tl.manual_seed(3)
    y = checkpoint(lambda t: F.dropout(t, 0.5) * 1.0, x)
    y.sum().backward()
    kept = y.detach().numpy() != 0
    assert 50 < kept.sum() < 150
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, 2.0, 0.0))   # the forward's mask
    # the same seed gives the same mask
    tl.manual_seed(3)
    y2 = checkpoint(lambda t: F.dropout(t, 0.5) * 1.0, x)
    np.testing.assert_array_equal(y2.detach().numpy(), y.detach().numpy())


def test_preserve_rng_state_false_leaves_the_generator_alone():
    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    tl.manual_seed(8)
    y = checkpoint(lambda t: t.exp(), x, preserve_rng_state=False)
    y.sum().backward()
    drawn = tl.rand(3).tolist()
    tl.manual_seed(8)
    assert tl.rand(3).tolist() == drawn


def test_random_numbers_after_backward_are_reproducible():
    x = tl.randn(50, dtype=tl.float64, requires_grad=True)

    def step():
        y = checkpoint(lambda t: F.dropout(t, 0.3), x)
        y.sum().backward()
        return y.detach().numpy(), tl.rand(5).tolist()

    tl.manual_seed(11)
    a = step()
    tl.manual_seed(11)
    b = step()
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


# ---- checkpoint_sequential -----------------------------------------------------------------------

@pytest.mark.parametrize("segments", [1, 2, 3, 16])
def test_checkpoint_sequential_same_gradients(segments):
    net = _mlp()
    x = tl.randn(4, WIDTH, dtype=tl.float64, requires_grad=True)
    (net(x) ** 2).sum().backward()
    want = [p.grad.numpy().copy() for p in net.parameters()] + [x.grad.numpy().copy()]
    net.zero_grad()
    x.grad = None
    (checkpoint_sequential(net, segments, x) ** 2).sum().backward()
    got = [p.grad.numpy() for p in net.parameters()] + [x.grad.numpy()]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    out = checkpoint_sequential(list(net.children()), segments, x)
    np.testing.assert_allclose(out.detach().numpy(), net(x).detach().numpy(), rtol=1e-13)


@needs_torch
def test_checkpoint_sequential_matches_torch():
    net = _mlp(depth=4)
    tnet = _torch_copy(net)
    x = tl.randn(3, WIDTH, dtype=tl.float64, requires_grad=True)
    tx = torch.from_numpy(x.detach().numpy()).requires_grad_()
    checkpoint_sequential(net, 2, x).sum().backward()
    tcp.checkpoint_sequential(tnet, 2, tx, use_reentrant=False).sum().backward()
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-13)


# ---- errors ------------------------------------------------------------------------------------

def test_a_recomputation_that_differs_raises_checkpoint_error():
    calls = []

    def fn(t):
        calls.append(1)
        return t * 2 if len(calls) == 1 else t[:2] * 2

    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    y = checkpoint(fn, x)
    with pytest.raises(CheckpointError, match="recomputed outputs"):
        y.sum().backward()
    assert issubclass(CheckpointError, RuntimeError)


def test_argument_errors():
    x = tl.randn(3, dtype=tl.float64, requires_grad=True)
    with pytest.raises(ValueError, match="determinism_check"):
        checkpoint(lambda t: t, x, determinism_check="always")
    with pytest.raises(TypeError, match="use_reentrant"):
        checkpoint(lambda t: t, x, use_reentrant="no")
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(_mlp(depth=1), 0, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments"):
        checkpoint_sequential(_mlp(depth=1), 1, x, foo=1)


def test_use_reentrant_true_works_the_same():
    net = _mlp(depth=2)
    x = tl.randn(2, WIDTH, dtype=tl.float64)
    checkpoint(net, x, use_reentrant=True).sum().backward()
    g1 = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    net(x).sum().backward()
    for a, p in zip(g1, net.parameters()):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-12)
