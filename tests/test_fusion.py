"""Record-time fusion (autograd/engine.py _record_fused, ops/linalg.py Addmm / AddmmAct and
Linear.fuse_act): ``x @ W + b`` and ``act(x @ W + b)`` / ``act(F.linear(...))`` are recorded as
one node each, and the fusion must be invisible -- the same gradients as op by op, the same names,
hooks / retain_grad / autograd.grad / graph walks on the skipped tensors see the op-by-op graph.

The op-by-op reference is anomaly mode (which records op by op) and, when installed, PyTorch."""
import gc

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import OPS

ACTS = ["sigmoid", "tanh", "relu"]


def _leaves(seed=0, m=5, k=3, n=4, dtype=tl.float64, x_grad=True):
    r = np.random.default_rng(seed)
    x = tl.tensor(r.standard_normal((m, k)), dtype=dtype, requires_grad=x_grad)
    w = tl.tensor(r.standard_normal((k, n)), dtype=dtype, requires_grad=True)
    b = tl.tensor(r.standard_normal(n), dtype=dtype, requires_grad=True)
    return x, w, b


def _grads(fn, leaves, g):
    for t in leaves:
        t.grad = None
    fn(*leaves).backward(g)
    return [None if t.grad is None else t.grad.numpy().copy() for t in leaves]


def _op_by_op(fn, leaves, g):
    with tl.autograd.detect_anomaly():
        return _grads(fn, leaves, g)


def _layer(act):
    return lambda x, w, b: getattr(x @ w + b, act)()


@pytest.mark.parametrize("act", ACTS + [None])
def test_fused_layer_records_one_node_named_as_written(act):
    x, w, b = _leaves()
    z = x @ w + b
    assert z.grad_fn._fn is OPS["Addmm"] and z.grad_fn.name() == "AddBackward"
    if act is not None:
        y = getattr(z, act)()
        assert y.grad_fn._fn is OPS["AddmmAct"]
        assert y.grad_fn.name() == act.capitalize() + "Backward"
        assert repr(y.grad_fn) == f"<{act.capitalize()}Backward>"


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [tl.float32, tl.float64])
@pytest.mark.parametrize("x_grad", [True, False])
def test_fused_gradients_equal_op_by_op(act, dtype, x_grad):
    leaves = _leaves(1, dtype=dtype, x_grad=x_grad)
    g = tl.tensor(np.random.default_rng(2).standard_normal((5, 4)), dtype=dtype)
    fused, ref = _grads(_layer(act), leaves, g), _op_by_op(_layer(act), leaves, g)
    tol = 1e-12 if dtype is tl.float64 else 1e-5
    for a, r in zip(fused, ref):
        assert (a is None) == (r is None)
        if a is not None:
            np.testing.assert_allclose(a, r, rtol=tol, atol=tol)


def test_fused_gradients_match_torch_on_strided_operands():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(3)
    xa, wa, ba = r.standard_normal((6, 8)), r.standard_normal((3, 4)), r.standard_normal((3, 2))
    x = tl.tensor(xa, requires_grad=True)
    w = tl.tensor(wa, requires_grad=True)
    b = tl.tensor(ba, requires_grad=True)
    # x through a column slice, W through a transpose, b a column: all strided
    y = (x[:, ::2] @ w.T + b[:, 1]).tanh()
    assert y.grad_fn._fn is OPS["AddmmAct"]
    y.sum().backward()
    xt = torch.tensor(xa, requires_grad=True)
    wt = torch.tensor(wa, requires_grad=True)
    bt = torch.tensor(ba, requires_grad=True)
    torch.tanh(xt[:, ::2] @ wt.T + bt[:, 1]).sum().backward()
    for ours, theirs in [(x, xt), (w, wt), (b, bt)]:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_another_consumer_of_the_skipped_outputs_still_gets_its_gradient():
    # z and a = x @ W are read again after the fused node was made: the gradient is the sum of
    # both paths (the skipped nodes stay in the graph)
    leaves = _leaves(4)

    def fn(x, w, b):
        a = x @ w
        z = a + b
        y = z.sigmoid()
        return y * 2 + z * z + a.exp()

    g = tl.ones(5, 4, dtype=tl.float64)
    for a, r in zip(_grads(fn, leaves, g), _op_by_op(fn, leaves, g)):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("where", ["z", "a"])
@pytest.mark.parametrize("how", ["hook", "retain_grad", "autograd.grad"])
def test_looking_at_a_skipped_tensor_after_fusion_sees_its_gradient(where, how):
    x, w, b = _leaves(5)
    a = x @ w
    z = a + b
    y = z.sigmoid()            # fused: y's node skips z's and a's
    t = {"z": z, "a": a}[where]
    seen = []
    if how == "hook":
        t.register_hook(lambda g: seen.append(g.numpy().copy()))
    elif how == "retain_grad":
        t.retain_grad()
    assert y.grad_fn.name() == "SigmoidBackward"
    loss = (y * y).sum()
    if how == "autograd.grad":
        (got,) = tl.autograd.grad(loss, [t])
        got = got.numpy()
    else:
        loss.backward()
        got = seen[0] if how == "hook" else t.grad.numpy()
    yv = y.detach().numpy()
    want = 2 * yv * yv * (1 - yv)            # d loss / dz
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # and the leaves' gradients are still right
    if how != "autograd.grad":
        np.testing.assert_allclose(b.grad.numpy(), want.sum(0), rtol=1e-12)
        np.testing.assert_allclose(w.grad.numpy(), x.detach().numpy().T @ want, rtol=1e-12)


def test_a_hook_on_the_matmul_output_undoes_the_bias_fusion_too():
    x, w, b = _leaves(6)
    a = x @ w
    z = a + b                  # Addmm skips a's node
    calls = []
    a.register_hook(lambda g: calls.append(g.numpy().copy()))
    assert z.grad_fn._fn is OPS["Addmm"]   # (undone when backward reaches it)
    z.sum().backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], np.ones((5, 4)))
    assert z.grad_fn._fn is OPS["Add"]
    np.testing.assert_allclose(w.grad.numpy(), x.detach().numpy().T @ np.ones((5, 4)), rtol=1e-12)


def test_a_hook_on_a_skipped_output_marks_every_fused_node_above_it():
    # (a fused node nothing looks at skips the backward's hook checks; a hook or retained .grad
    # on an output it skips, even two fusions down, must still reach it: _mark_special)
    x, w, b = _leaves(9)
    a = x @ w
    z = a + b
    y = z.tanh()
    assert not y.grad_fn._special and not z.grad_fn._special
    calls = []
    a.register_hook(lambda g: calls.append(g))
    assert y.grad_fn._special and z.grad_fn._special and a.grad_fn._special
    y.sum().backward()
    assert len(calls) == 1 and y.grad_fn._fn is OPS["Tanh"] and z.grad_fn._fn is OPS["Add"]
    yv = y.detach().numpy()
    np.testing.assert_allclose(calls[0].numpy(), 1 - yv ** 2, rtol=1e-12)


@pytest.mark.parametrize("how", ["hook", "retain_grad"])
@pytest.mark.parametrize("second", ["add", "act"])
def test_two_consumers_of_one_output_fuse_once_and_hooks_see_both(how, second):
    # a skipped node links to one fused node: the second consumer is recorded op by op, so a
    # hook or retained .grad on the shared output added later sees both gradients (PyTorch's 3)
    x, w, b = _leaves(10)
    b2 = tl.tensor(np.ones(4), dtype=tl.float64, requires_grad=True)
    a = x @ w
    if second == "add":
        shared, y1, y2 = a, a + b, a + b2
    else:
        shared = a + b
        y1, y2 = shared.tanh(), shared.sigmoid()
    assert y1.grad_fn._unfused is not None and y2.grad_fn._unfused is None
    calls = []
    if how == "hook":
        shared.register_hook(lambda g: calls.append(g.numpy().copy()))
    else:
        shared.retain_grad()
    g1, g2 = np.full((5, 4), 1.0), np.full((5, 4), 2.0)
    tl.autograd.backward([y1, y2], [tl.tensor(g1), tl.tensor(g2)])
    want = np.zeros((5, 4))
    for y, g in ((y1, g1), (y2, g2)):
        yv = y.detach().numpy()
        d = g if second == "add" else g * (1 - yv ** 2) if y is y1 else g * yv * (1 - yv)
        want = want + d
    got = calls[0] if how == "hook" else shared.grad.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert how != "hook" or len(calls) == 1


def test_hooks_registered_before_the_next_op_prevent_fusion():
    x, w, b = _leaves(7)
    z = x @ w + b
    z.retain_grad()
    y = z.relu()
    assert y.grad_fn._fn is OPS["Relu"]
    y.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), (z.detach().numpy() > 0).astype(float))


def test_graph_walks_see_the_op_by_op_graph():
    x, w, b = _leaves(8)
    y = (x @ w + b).tanh()
    names = []
    node = y.grad_fn
    while node is not None:
        names.append(node.name())
        nxt = [n for n, _ in node.next_functions if n is not None and n.name() != "AccumulateGrad"]
        node = nxt[0] if nxt else None
    assert names == ["TanhBackward", "AddBackward", "MatmulBackward"]
    y.sum().backward()    # (after un-fusing, the op-by-op nodes compute the same gradients)
    yv = y.detach().numpy()
    np.testing.assert_allclose(b.grad.numpy(), (1 - yv ** 2).sum(0), rtol=1e-12)


def test_saved_tensors_are_the_called_ops():
    x, w, b = _leaves(18)
    y = (x @ w + b).sigmoid()
    saved = y.grad_fn.saved_tensors          # sigmoid saves its output only
    assert saved[0] is None and saved[1] is y
    assert y.grad_fn._fn is OPS["Sigmoid"]


def test_draw_graph_shows_the_ops_as_written():
    x, w, b = _leaves(9)
    y = (x @ w + b).sigmoid()
    src = tl.viz.draw_graph(y).source
    for name in ("SigmoidBackward", "AddBackward", "MatmulBackward"):
        assert name in src


def test_anomaly_mode_records_op_by_op():
    x, w, b = _leaves(10)
    with tl.autograd.detect_anomaly():
        y = (x @ w + b).relu()
    assert y.grad_fn._fn is OPS["Relu"]
    assert y.grad_fn._inputs[0].grad_fn._fn is OPS["Add"]


def test_no_fusion_where_the_pattern_does_not_hold():
    x, w, b = _leaves(11)
    assert (x @ w + b.reshape(1, 4)).grad_fn._fn is OPS["Add"]          # not a 1-D bias
    assert (b + x @ w).grad_fn._fn is OPS["Add"]                        # bias first
    xb = tl.randn(2, 5, 3, dtype=tl.float64)
    assert (xb @ w + b).grad_fn._fn is OPS["Add"]                       # batched
    h = tl.randn(5, 3, dtype=tl.float16)
    wh = tl.randn(3, 4, dtype=tl.float16, requires_grad=True)
    bh = tl.zeros(4, dtype=tl.float16, requires_grad=True)
    assert (h @ wh + bh).grad_fn._fn is OPS["Add"]                      # half: op by op
    assert ((x @ w) * 1.0 + b).grad_fn._fn is OPS["Add"]                # not a matmul output
    assert (x @ w + b).exp().grad_fn._fn is OPS["Exp"]                  # not a fusable act


def test_an_inplace_change_between_the_ops_is_still_caught():
    x, w, b = _leaves(12)
    z = x @ w + b
    with tl.no_grad():
        w.mul_(2.0)            # W was saved by the matmul: backward must refuse, fused or not
    y = z.sigmoid()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_an_inplace_change_of_x_before_the_add_is_seen_as_op_by_op():
    r = np.random.default_rng(13)
    p = tl.tensor(r.standard_normal((5, 3)), requires_grad=True)
    w = tl.tensor(r.standard_normal((3, 4)))        # W needs no gradient: x is not saved
    b = tl.tensor(r.standard_normal(4), requires_grad=True)
    x = p * 1.0
    a = x @ w
    x.mul_(3.0)                # x's history changes after the matmul read it
    y = (a + b).sigmoid()
    y.sum().backward()
    yv = y.detach().numpy()
    gz = yv * (1 - yv)
    np.testing.assert_allclose(p.grad.numpy(), gz @ w.numpy().T, rtol=1e-6)   # not 3x


def test_second_backward_without_retain_graph_still_raises_and_retain_graph_works():
    x, w, b = _leaves(14)
    y = (x @ w + b).tanh().sum()
    y.backward(retain_graph=True)
    first = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_double_backward_through_a_fused_layer():
    x, w, b = _leaves(15)
    y = (x @ w + b).tanh().sum()
    (gw,) = tl.autograd.grad(y, [w], create_graph=True)
    (gx,) = tl.autograd.grad(gw.sum(), [x])
    with tl.autograd.detect_anomaly():
        y2 = (x @ w + b).tanh().sum()
        (gw2,) = tl.autograd.grad(y2, [w], create_graph=True)
        (gx2,) = tl.autograd.grad(gw2.sum(), [x])
    np.testing.assert_allclose(gx.numpy(), gx2.numpy(), rtol=1e-12)


def test_no_reference_cycle_after_backward():
    x, w, b = _leaves(16)
    gc.collect()
    gc.disable()
    try:
        y = ((x @ w + b).sigmoid() @ tl.ones(4, 1, dtype=tl.float64) + tl.zeros(1, dtype=tl.float64)).sigmoid()
        y.sum().backward()
        del y
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("act", ACTS)
def test_custom_module_records_what_sequential_records(act):
    lin = tl.nn.Linear(3, 4).double()
    x = tl.randn(5, 3, dtype=tl.float64)
    y = getattr(F, act)(lin(x))
    assert y.grad_fn._fn is OPS["LinearAct"] and y.grad_fn.name() == act.capitalize() + "Backward"
    y.sum().backward()
    got = [lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()]
    lin.zero_grad()
    F.linear_act(x, lin.weight, lin.bias, act).sum().backward()
    for a, r in zip(got, [lin.weight.grad.numpy(), lin.bias.grad.numpy()]):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)
    # a gradient retained on the skipped Linear output after fusion: backward runs op by op
    z = lin(x)
    y = getattr(F, act)(z)
    z.retain_grad()
    (y * y).sum().backward()
    assert y.grad_fn._fn is OPS[act.capitalize()]
    yv, zv = y.detach().numpy(), z.detach().numpy()
    dact = {"sigmoid": yv * (1 - yv), "tanh": 1 - yv ** 2, "relu": (zv > 0).astype(float)}[act]
    np.testing.assert_allclose(z.grad.numpy(), 2 * yv * dact, rtol=1e-12)


def test_jit_replays_a_fused_step_bit_identically():
    x, w, b = _leaves(17, dtype=tl.float32, x_grad=False)
    w2 = tl.randn(4, 1, requires_grad=True)

    def step(xb):
        for p in (w, b, w2):
            p.grad = None
        loss = (((xb @ w + b).sigmoid() @ w2).sigmoid() ** 2).mean()
        loss.backward()
        return loss

    eager = [step(x).item() for _ in range(3)]
    grads = [p.grad.numpy().copy() for p in (w, b, w2)]
    j = tl.jit(step)
    for _ in range(3):
        out = j(x)
    assert out.item() == eager[-1]
    for p, gr in zip((w, b, w2), grads):
        np.testing.assert_array_equal(p.grad.numpy(), gr)
