"""tl.viz: the drawn graph (DOT structure, rendered by the real Graphviz `dot` when installed,
the files it writes opened and checked), gradient-flow statuses on a vanishing and an exploding
network, GradMonitor's history, memory totals against the saved tensors (and checkpointing
shrinking them), and the loss landscape's minimum at trained parameters."""
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import demo, nn
from tinygrad_lab.nn import functional as F
from tinygrad_lab.viz import graph as viz_graph

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def micrograd_example():
    """micrograd's README expression L = (a*b + c) * f, with every gradient retained."""
    a = tl.tensor(2.0, requires_grad=True)
    b = tl.tensor(-3.0, requires_grad=True)
    c = tl.tensor(10.0, requires_grad=True)
    f = tl.tensor(-2.0, requires_grad=True)
    L = (a * b + c) * f
    return L, dict(a=a, b=b, c=c, f=f)


def nodes_of(source):
    """{node id: label} and [(src, dst)] edges parsed from draw_graph's DOT text."""
    nodes = dict(re.findall(r"^\s*(n\d+) \[label=<(.*?)>, ", source, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+);", source, re.M)
    return nodes, edges


def mlp(widths, act=nn.Sigmoid, seed=0):
    tl.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if act is not None and i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


# ---- draw_graph: structure --------------------------------------------------------------------

def test_dot_structure_of_a_small_graph():
    x = tl.randn(3, 4, requires_grad=True)
    w = tl.randn(4, 2, requires_grad=True)
    y = (x @ w).tanh().sum()
    g = tl.viz.draw_graph(y, params={"x": x, "w": w})
    assert g.source.startswith("digraph G {") and g.source.rstrip().endswith("}")
    nodes, edges = nodes_of(g.source)
    assert len(nodes) == g.num_nodes == 5 and len(edges) == g.num_edges == 4
    labels = " ".join(nodes.values())
    for op in (y.grad_fn, y.grad_fn.next_functions[0][0],
               y.grad_fn.next_functions[0][0].next_functions[0][0]):
        assert f"<B>{op.name()}</B>" in labels          # the names grad_fn.name() gives
    assert "<B>x</B>" in labels and "(3, 4) float32" in labels and "<B>w</B>" in labels
    # edges run from inputs to consumers and end at the root
    by_name = {re.match(r"<B>(\w+)</B>", v).group(1): k for k, v in nodes.items()}
    root = by_name[y.grad_fn.name()]
    assert all(dst != by_name["x"] for _, dst in edges)
    assert any(dst == root for _, dst in edges) and all(src != root for src, _ in edges)


def test_op_nodes_show_the_bytes_they_saved():
    x = tl.randn(5, 7, requires_grad=True, dtype=tl.float64)
    y = x.exp()                     # saves its output: 5 * 7 * 8 bytes
    z = y.sum()                     # saves nothing
    nodes, _ = nodes_of(tl.viz.draw_graph(z).source)
    exp_label = next(v for v in nodes.values() if y.grad_fn.name() in v)
    saved = sum(t.numel() * t.dtype.itemsize for t in y.grad_fn.saved_tensors if t is not None)
    assert saved == 280 and "saved 280 B" in exp_label
    assert any("saved 0 B" in v for v in nodes.values())
    assert "(5, 7) float64" in exp_label


def test_leaves_without_names_show_shapes_and_constants_are_dashed():
    x = tl.randn(2, 3)                              # data: no grad
    w = tl.randn(3, requires_grad=True)
    src = tl.viz.draw_graph((x * w).sum()).source
    assert "(2, 3) float32" in src and "(3,) float32" in src
    assert src.count("dashed") == 1


def test_micrograd_example_values_and_gradients():
    L, params = micrograd_example()
    tl.viz.retain_grads(L)
    L.backward()
    src = tl.viz.draw_graph(L, params=params, show_values=True).source
    nodes, _ = nodes_of(src)
    want = {"a": ("data 2", "grad 6"), "b": ("data -3", "grad -4"), "c": ("data 10", "grad -2"),
            "f": ("data -2", "grad 4")}
    for name, (data, grad) in want.items():
        label = next(v for v in nodes.values() if v.startswith(f"<B>{name}</B>"))
        assert data in label and grad in label, label
    ops = [v for v in nodes.values() if "Backward" in v]
    assert any("data -6" in v and "grad -2" in v for v in ops)      # e = a * b
    assert any("data 4" in v and "grad -2" in v for v in ops)       # d = e + c
    assert any("data -8" in v and "grad 1" in v for v in ops)       # L
    # retain_grads remembered the bytes each node saved before backward freed them
    assert "freed" not in src and "saved 8 B" in src


def test_after_backward_without_retain_grads_ops_say_freed():
    L, params = micrograd_example()
    L.backward()
    src = tl.viz.draw_graph(L, params=params).source
    assert "saved: freed by backward" in src
    assert "grad 6" in src                          # leaves still have .grad


def test_show_grads_false_and_show_values_limits():
    x = tl.randn(100, requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    src = tl.viz.draw_graph(y, show_grads=False, show_values=True).source
    labels = " ".join(nodes_of(src)[0].values())
    assert "grad" not in labels
    assert labels.count("data ") == 1               # the 0-d output; 100 elements: too many


def test_nan_gradient_is_red_and_vanishing_is_grey():
    x = tl.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt().sum()                             # d sqrt / dx at 0 is inf
    y.backward()
    src = tl.viz.draw_graph(y, params={"x": x}).source
    assert f'fillcolor="{viz_graph.NAN}"' in src and "grad has NaN/Inf" in src
    assert "red: gradient with NaN/Inf (1)" in src

    v = tl.tensor([1.0, 2.0], requires_grad=True)
    h = v
    for _ in range(20):
        h = (h * 10).sigmoid()                    # saturated sigmoids: the gradient vanishes
    s = h.sum()
    tl.viz.retain_grads(s)
    s.backward()
    src = tl.viz.draw_graph(s, params={"v": v}).source
    grey = re.findall(rf'label=<<B>v</B>[^\n]*fillcolor="{viz_graph.VANISH}"', src)
    assert grey, src[:2000]
    assert "grey: vanishing gradient" in src


def test_parameter_names_are_escaped():
    w = tl.randn(2, requires_grad=True)
    src = tl.viz.draw_graph((w * w).sum(), params={'a<b>&"c"': w}).source
    assert "a&lt;b&gt;&amp;&quot;c&quot;" in src


def test_draw_graph_of_a_module_a_custom_function_and_a_checkpoint():
    class ScaledSquare(tl.autograd.Function):       # keeps a tensor as a ctx attribute
        @staticmethod
        def forward(ctx, x, k):
            ctx.k, ctx.twice = k, x * 2
            return x * x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.twice * ctx.k, None

    model = mlp([3, 4, 4, 1])
    x = tl.randn(6, 3)
    h = tl.utils.checkpoint.checkpoint(model, x, use_reentrant=False)
    loss = ScaledSquare.apply(h, 3.0).mean()
    src = tl.viz.draw_graph(loss, params=dict(model.named_parameters())).source
    assert "ScaledSquareBackward" in src and "CheckpointBackward" in src
    assert "saved 24 B" in src                      # ctx.twice: 6 x 1 float32
    for name, _ in model.named_parameters():
        assert f"<B>{name}</B>" in src
    assert tl.viz.draw_graph(loss, params=model).source == src     # a Module names them too
    rows = {r["op"]: r["bytes"] for r in tl.viz.memory_report(loss).rows}
    assert rows["ScaledSquareBackward"] == 24 and rows["CheckpointBackward"] == 6 * 3 * 4


def test_graph_of_a_leaf_and_bad_input():
    w = tl.randn(3, requires_grad=True)
    g = tl.viz.draw_graph(w)
    assert g.num_nodes == 1 and g.num_edges == 0
    with pytest.raises(TypeError):
        tl.viz.draw_graph([1.0])


def test_ten_thousand_node_graph():
    # builds in well under a second (no timing assertion here: the README reports the time)
    w = tl.randn(4, requires_grad=True)
    h = w
    for _ in range(5000):
        h = (h * 0.99).tanh()
    loss = h.sum()
    tl.viz.retain_grads(loss)
    loss.backward()
    g = tl.viz.draw_graph(loss, collapse=False)
    assert g.num_nodes == 10002 and g.num_edges == 10001
    assert g.source.count("|grad|") == 10001      # every tensor but the 0-d output
    small = tl.viz.draw_graph(loss)               # over 300 nodes: collapsed by default
    assert small.num_nodes < 12
    assert "\u00d7 4997 more: TanhBackward \u2192 MulBackward" in small.source
    assert "9994 ops not drawn" in small.source


def test_collapse_keeps_the_ends_of_a_repeated_stack():
    model = mlp([2] + [8] * 10 + [1])     # Linear 0 (2 -> 8), 2, 4, ..., 18 (8 -> 8), head 20
    loss = F.mse_loss(model(tl.randn(16, 2)), tl.randn(16, 1))
    # 36 nodes, as is (mse_loss is one node, MseLossBackward, as in PyTorch)
    full = tl.viz.draw_graph(loss, params=dict(model.named_parameters()))
    assert full.num_nodes == 36 and "more:" not in full.source
    before = tl.viz.memory_report(loss).rows
    tl.viz.retain_grads(loss)
    loss.backward()
    g = tl.viz.draw_graph(loss, params=dict(model.named_parameters()), collapse=True)
    nodes, edges = nodes_of(g.source)
    assert g.num_nodes == len(nodes) == 36 - 7 * 3 + 1 and g.num_edges == len(edges)
    src = g.source
    # layer 0 (another input shape), 2 (the first repeat), 18 (the last) and the head 20 stay
    for name in ("0.weight", "2.weight", "18.weight", "20.weight"):
        assert f"<B>{name}</B>" in src
    for name in ("4.weight", "16.bias"):
        assert f"<B>{name}</B>" not in src
    assert "\u00d7 7 more: LinearActBackward" in src and "4.weight .. 16.bias" in src
    hidden_bytes = sum(r["bytes"] for r in before[2:9])      # the 7 hidden layers' nodes
    assert f"saved {viz_graph.fmt_bytes(hidden_bytes)} in all" in src
    assert "14 leaves not drawn" in src and "shape=box3d" in src
    if HAVE_DOT:
        ET.fromstring(g.pipe("svg"))
    assert tl.viz.draw_graph(loss, collapse=False).num_nodes == 36


# ---- Graph: files, Graphviz, Jupyter ----------------------------------------------------------

def test_save_dot_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(viz_graph.shutil, "which", lambda name: None)
    L, params = micrograd_example()
    g = tl.viz.draw_graph(L, params=params)
    path = tmp_path / "g.dot"
    assert g.save(str(path)) == str(path)
    assert path.read_text() == g.source == str(g)
    with pytest.raises(tl.viz.GraphvizNotFoundError) as e:
        g.save(str(tmp_path / "g.svg"))
    assert "apt-get install graphviz" in str(e.value) and "brew install graphviz" in str(e.value)
    assert isinstance(e.value, RuntimeError)
    assert g._repr_svg_() is None                   # Jupyter falls back to repr()
    assert "not installed" in repr(g)
    with pytest.raises(ValueError, match="unknown file type"):
        g.save(str(tmp_path / "g.jpeg"))


@needs_dot
def test_dot_accepts_the_source():
    L, params = micrograd_example()
    L.backward()
    src = tl.viz.draw_graph(L, params=dict(params, **{'we<ird>&"name"': tl.randn(1)}),
                            show_values=True).source
    r = subprocess.run(["dot", "-Tcanon"], input=src.encode(), capture_output=True)
    assert r.returncode == 0 and not r.stderr, r.stderr.decode()


@needs_dot
def test_svg_png_and_pdf_files(tmp_path):
    model = mlp([2, 8, 1])
    loss = F.mse_loss(model(tl.randn(4, 2)), tl.randn(4, 1))
    tl.viz.retain_grads(loss)
    loss.backward()
    g = tl.viz.draw_graph(loss, params=dict(model.named_parameters()))
    svg = tmp_path / "g.svg"
    g.save(str(svg))
    root = ET.parse(str(svg)).getroot()             # well-formed XML
    assert root.tag.endswith("svg")
    text = " ".join(t for t in root.itertext())
    assert "0.weight" in text and "MseLossBackward" in text and "|grad|" in text
    assert g._repr_svg_().lstrip().startswith("<?xml")

    png = tmp_path / "g.png"
    g.save(str(png))
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 300 < width < 4000 and 100 < height < 2000, (width, height)

    pdf = tmp_path / "g.pdf"
    g.save(str(pdf))
    assert pdf.read_bytes()[:5] == b"%PDF-"


@needs_dot
def test_dot_failure_is_reported():
    g = tl.viz.Graph("digraph { this is not dot", 0, 0)
    with pytest.raises(RuntimeError, match="Graphviz dot failed"):
        g.pipe("svg")
    with pytest.raises(ValueError):
        g.pipe("bmp")


# ---- grad_flow --------------------------------------------------------------------------------

def test_grad_flow_rows_match_the_gradients():
    model = mlp([3, 5, 2])
    F.mse_loss(model(tl.randn(7, 3)), tl.randn(7, 2)).backward()
    report = tl.viz.grad_flow(model)
    assert [r["name"] for r in report.rows] == [n for n, _ in model.named_parameters()]
    for r, (_, p) in zip(report.rows, model.named_parameters()):
        g, v = p.grad.numpy(), p.detach().numpy().astype(np.float64)
        assert r["shape"] == p.shape and r["status"] == "ok"
        assert math.isclose(r["grad_mean_abs"], np.abs(g).mean(), rel_tol=1e-5)
        assert math.isclose(r["grad_max_abs"], np.abs(g).max(), rel_tol=1e-6)
        assert math.isclose(r["grad_norm"], np.linalg.norm(g.astype(np.float64)), rel_tol=1e-6)
        assert math.isclose(r["param_norm"], np.linalg.norm(v), rel_tol=1e-6)
        assert math.isclose(r["ratio"], r["grad_norm"] / r["param_norm"], rel_tol=1e-12)
    # the other accepted inputs give the same rows
    assert tl.viz.grad_flow(model.named_parameters()).rows == report.rows
    assert tl.viz.grad_flow(dict(model.named_parameters())).rows == report.rows
    assert report["0.weight"] is report.rows[0] and len(report) == 4
    with pytest.raises(TypeError):
        tl.viz.grad_flow([1, 2])


def test_vanishing_sigmoid_network():
    model = mlp([4] + [8] * 30 + [1])               # 30 sigmoid layers at the default init
    F.mse_loss(model(tl.randn(16, 4)), tl.randn(16, 1)).backward()
    report = tl.viz.grad_flow(model)
    status = {r["name"]: r["status"] for r in report.rows}
    assert status["0.weight"] == "vanishing" and status["0.bias"] == "vanishing"
    last = report.rows[-2]["name"]
    assert status[last] == "ok"
    norms = [r["grad_norm"] for r in report.rows if r["name"].endswith("weight")]
    assert norms[0] < 1e-7 < norms[-1]
    text = str(report)
    assert "VANISHING" in text and "0.weight" in text and "vanishing: |g| < 1e-07" in text


def test_exploding_network():
    model = mlp([8] * 12, act=None)
    with tl.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                tl.nn.init.normal_(p, std=1.5)         # gain ~4 per layer
    F.mse_loss(model(tl.randn(4, 8)), tl.zeros(4, 8)).backward()
    report = tl.viz.grad_flow(model)
    assert report["0.weight"]["status"] == "exploding"
    assert report["0.weight"]["grad_norm"] > 1e3
    assert "EXPLODING" in str(report)


def test_nan_and_none_statuses():
    model = mlp([2, 3, 1])
    F.mse_loss(model(tl.randn(4, 2)), tl.randn(4, 1)).backward()
    model[0].weight.grad = tl.tensor([[float("nan"), 0.0]] * 3)
    model[2].bias.grad = None
    report = tl.viz.grad_flow(model, vanishing=1e-30)
    assert report["0.weight"]["status"] == "nan"
    assert report["2.bias"]["status"] == "none" and report["2.bias"]["grad_norm"] is None
    assert report["0.bias"]["status"] == "ok"
    assert "NAN" in str(report) and "NONE" in str(report)
    big = tl.tensor([3e38, 3e38], requires_grad=True)   # finite, but its float32 norm is not
    big.grad = tl.tensor([3e38, 3e38])
    assert tl.viz.grad_flow({"big": big}).rows[0]["status"] == "exploding"


def test_grad_flow_plot(tmp_path):
    pytest.importorskip("matplotlib")
    model = mlp([2, 4, 1])
    F.mse_loss(model(tl.randn(4, 2)), tl.randn(4, 1)).backward()
    model[0].weight.grad = tl.tensor([[float("inf"), 0.0]] * 4)
    model[2].bias.grad = None
    path = tmp_path / "flow.png"
    fig = tl.viz.grad_flow(model).plot(str(path))
    assert path.read_bytes()[:8] == PNG_MAGIC and fig is not None
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    assert tl.viz.grad_flow(model).plot(ax=ax) is fig
    plt.close(fig)


def test_plots_without_matplotlib_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    model = mlp([2, 1])
    F.mse_loss(model(tl.randn(3, 2)), tl.randn(3, 1)).backward()
    for draw in (tl.viz.grad_flow(model).plot, tl.viz.GradMonitor(model).plot,
                 tl.viz.loss_landscape(model, lambda m: m(tl.ones(1, 2)).sum(), steps=3).plot):
        with pytest.raises(ImportError, match=re.escape('pip install "tinygrad_lab[viz]"')):
            draw()


# ---- GradMonitor ------------------------------------------------------------------------------

def test_grad_monitor_records_each_steps_gradient_norms(tmp_path):
    model = mlp([2, 6, 1])
    opt = tl.optim.SGD(model.parameters(), lr=0.1)
    mon = tl.viz.GradMonitor(model)
    x, y = tl.randn(8, 2), tl.randn(8, 1)
    expect = []
    for _ in range(5):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        got = mon.step()
        expect.append({n: np.linalg.norm(p.grad.numpy().astype(np.float64))
                       for n, p in model.named_parameters()})
        assert got == {n: h[-1] for n, h in mon.history.items()}
        opt.step()
    assert list(mon.history) == [n for n, _ in model.named_parameters()]
    for name, hist in mon.history.items():
        assert len(hist) == 5
        assert np.allclose(hist, [e[name] for e in expect], rtol=1e-6)
    # two backwards in one step (gradient accumulation): the norm of their sum, as .grad
    opt.zero_grad()
    F.mse_loss(model(x), y).backward()
    F.mse_loss(model(x * 2), y).backward()
    mon.step()
    w = model[0].weight
    assert math.isclose(mon.history["0.weight"][-1],
                        np.linalg.norm(w.grad.numpy().astype(np.float64)), rel_tol=1e-6)
    # a step without backward records NaN; after remove() the hooks are gone
    mon.step()
    assert math.isnan(mon.history["0.weight"][-1])
    mon.remove()
    F.mse_loss(model(x), y).backward()
    mon.step()
    assert math.isnan(mon.history["0.weight"][-1])
    pytest.importorskip("matplotlib")
    path = tmp_path / "monitor.png"
    mon.plot(str(path))
    assert path.read_bytes()[:8] == PNG_MAGIC


# ---- memory_report ----------------------------------------------------------------------------

def _distinct_saved(root):
    """Independently of tl.viz: the distinct tensors the graph's nodes saved (walked through
    the public next_functions), and the sum of their bytes."""
    seen, found, stack = set(), {}, [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or node.name() == "AccumulateGrad":
            continue
        seen.add(id(node))
        for t in node.saved_tensors:
            if t is not None:
                found[(t.data_ptr(), t.shape, t.stride(), t.dtype.name)] = t
        for v in vars(node).values():
            if isinstance(v, tl.Tensor):
                found[(v.data_ptr(), v.shape, v.stride(), v.dtype.name)] = v
        stack.extend(n for n, _ in node.next_functions)
    return sum(t.numel() * t.dtype.itemsize for t in found.values()), len(seen)


def test_memory_totals_match_the_saved_tensors():
    model = mlp([10, 32, 32, 3], act=nn.Tanh)
    x = tl.randn(64, 10)
    loss = F.cross_entropy(model(x), tl.randint(0, 3, (64,)))
    report = tl.viz.memory_report(loss)
    total, n_nodes = _distinct_saved(loss)
    assert report.total_bytes == total > 0
    assert len(report.rows) == n_nodes
    assert sum(r["bytes"] for r in report.rows) >= report.total_bytes
    text = str(report)
    assert "total:" in text and "LinearActBackward" in text
    # backward frees what was saved
    loss.backward()
    after = tl.viz.memory_report(loss)
    assert after.total_bytes == 0 and after.freed > 0 and "freed" in str(after)


def test_a_tensor_saved_twice_counts_once():
    x = tl.randn(100, requires_grad=True, dtype=tl.float64)
    y = x.exp()                        # saves y
    z = (y * y).sum()                  # saves y twice
    report = tl.viz.memory_report(z)
    assert report.total_bytes == 800
    assert [r["bytes"] for r in report.rows] == [800, 1600, 0]


def test_checkpoint_reduces_the_memory_kept():
    tl.manual_seed(0)
    layers = [nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(16)]
    x = tl.randn(32, 16, requires_grad=True)
    h = x
    for layer in layers:
        h = layer(h)
    plain = tl.viz.memory_report(h.sum())
    h = x
    for i in range(0, 16, 4):
        h = tl.utils.checkpoint.checkpoint(nn.Sequential(*layers[i:i + 4]), h, use_reentrant=False)
    ckpt = tl.viz.memory_report(h.sum())
    assert ckpt.total_bytes < plain.total_bytes / 3
    assert [r["op"] for r in ckpt.rows].count("CheckpointBackward") == 4


# ---- loss_landscape ---------------------------------------------------------------------------

def _trained_regression():
    tl.manual_seed(1)
    x = tl.randn(64, 3)
    y = x @ tl.tensor([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * tl.randn(64, 1)
    model = nn.Sequential(nn.Linear(3, 1))
    opt = tl.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
    return model, (lambda m: F.mse_loss(m(x), y))


def test_landscape_minimum_at_the_trained_point():
    model, loss_fn = _trained_regression()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    land = tl.viz.loss_landscape(model, loss_fn, steps=21, span=1.0)
    assert land.alphas.shape == (21,) and land.losses.shape == (21,) and land.betas is None
    assert land.alphas[10] == 0.0 and int(np.argmin(land.losses)) == 10
    assert math.isclose(land.losses[10], land.center_loss, rel_tol=1e-6)
    assert land.losses[0] > land.center_loss and land.losses[-1] > land.center_loss
    for p, b in zip(model.parameters(), before):
        assert np.array_equal(p.detach().numpy(), b)          # restored exactly
    land2 = tl.viz.loss_landscape(model, loss_fn, steps=11, span=0.5, dims=2, seed=3)
    assert land2.losses.shape == (11, 11) and land2.betas.shape == (11,)
    assert np.unravel_index(np.argmin(land2.losses), land2.losses.shape) == (5, 5)
    # seeded: the same seed gives the same landscape
    again = tl.viz.loss_landscape(model, loss_fn, steps=11, span=0.5, dims=2, seed=3)
    assert np.array_equal(again.losses, land2.losses)
    assert "2-D" in repr(land2)


def test_landscape_plots(tmp_path):
    pytest.importorskip("matplotlib")
    model, loss_fn = _trained_regression()
    for dims in (1, 2):
        path = tmp_path / f"land{dims}.png"
        tl.viz.loss_landscape(model, loss_fn, steps=7, dims=dims).plot(str(path))
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_filter_normalised_directions():
    w = tl.randn(4, 3) * tl.tensor([[1.0], [2.0], [0.0], [5.0]])   # one filter is all zeros
    b = tl.randn(4)
    d_w, d_b = tl.viz.filter_normalized_direction([w, b])
    assert d_w.shape == w.shape and d_b.shape == b.shape
    assert np.allclose(np.linalg.norm(d_w.numpy(), axis=1), np.linalg.norm(w.numpy(), axis=1),
                       rtol=1e-5, atol=1e-6)
    assert math.isclose(np.linalg.norm(d_b.numpy()), np.linalg.norm(b.numpy()), rel_tol=1e-5)


def test_landscape_restores_parameters_when_the_loss_raises():
    model, loss_fn = _trained_regression()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    calls = []

    def flaky(m):
        calls.append(1)
        if len(calls) == 4:
            raise ZeroDivisionError("boom")
        return loss_fn(m)
    with pytest.raises(ZeroDivisionError):
        tl.viz.loss_landscape(model, flaky, steps=9)
    for p, b in zip(model.parameters(), before):
        assert np.array_equal(p.detach().numpy(), b)


def test_landscape_restores_batchnorm_statistics():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    x, y = tl.randn(16, 3), tl.randn(16, 1)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    tl.viz.loss_landscape(model, lambda m: F.mse_loss(m(x), y), steps=5)   # train mode
    for k, v in model.state_dict().items():
        assert np.array_equal(v.numpy(), before[k]), k


def test_landscape_bad_arguments():
    model, loss_fn = _trained_regression()
    with pytest.raises(ValueError, match="dims"):
        tl.viz.loss_landscape(model, loss_fn, dims=3)
    with pytest.raises(ValueError, match="steps"):
        tl.viz.loss_landscape(model, loss_fn, steps=1)
    with pytest.raises(ValueError, match="span"):
        tl.viz.loss_landscape(model, loss_fn, span=0)
    with pytest.raises(TypeError, match="one-element loss"):
        tl.viz.loss_landscape(model, lambda m: m(tl.randn(2, 3)), steps=3)


# ---- the demo's --explain ---------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _demo(tmp_path, env_path=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if env_path is not None:
        env["PATH"] = env_path
    return subprocess.run([sys.executable, "-m", "tinygrad_lab", "demo", "--steps", "20",
                           "--hidden", "8", "--quiet", "--explain", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_demo_explain_writes_the_graph_and_the_chart(tmp_path):
    r = _demo(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gradient flow (tl.viz.grad_flow)" in r.stdout and "0.weight" in r.stdout
    assert "memory kept for backward" in r.stdout
    if HAVE_DOT:
        svg = tmp_path / "demo_graph.svg"
        assert str(svg) in r.stdout
        ET.parse(str(svg))
    else:
        assert (tmp_path / "demo_graph.dot").exists() and "apt-get install graphviz" in r.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "skipped" in r.stdout and "tinygrad_lab[viz]" in r.stdout
    else:
        png = tmp_path / "demo_grad_flow.png"
        assert str(png) in r.stdout and png.read_bytes()[:8] == PNG_MAGIC


def test_demo_explain_without_graphviz_says_what_it_skipped(tmp_path):
    # a PATH holding only the Python interpreter's folder: no `dot`
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(sys.executable, bindir / "python")
    r = _demo(tmp_path, env_path=str(bindir))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped" in r.stdout and "apt-get install graphviz" in r.stdout
    assert (tmp_path / "demo_graph.dot").read_text().startswith("digraph")
    assert not (tmp_path / "demo_graph.svg").exists()


def test_demo_explain_without_graphviz_or_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(viz_graph.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    x, y = demo.make_spirals(n_per_class=5, seed=1)
    model = demo.make_model(4)
    written = demo.explain(model, x, y, str(tmp_path))
    out = capsys.readouterr().out
    assert written == [str(tmp_path / "demo_graph.dot")]
    assert "skipped" in out and "apt-get install graphviz" in out
    assert 'pip install "tinygrad_lab[viz]"' in out and not (tmp_path / "demo_grad_flow.png").exists()
    assert all(p.grad is None for p in model.parameters())     # it leaves no gradients behind
