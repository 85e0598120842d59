"""draw_graph: the graph behind a tensor as Graphviz DOT text, with what each node saved for
backward and, after backward, each tensor's gradient norm (red: NaN/Inf, grey: vanishing).

The DOT text needs nothing but Python; rendering it to SVG/PNG/PDF runs Graphviz's ``dot``
program (from the OS package manager: ``apt-get install graphviz``, ``brew install graphviz``).

The walk reads the engine's own records: a node (``grad_fn``, a Context) keeps its input
tensors (``_inputs``) and what it saved for backward (``_saved``, plus tensors the op kept as
``ctx`` attributes); an input that is the output of another node is that node's output tensor,
so every tensor of the graph -- its values and, when it retains it, its ``.grad`` -- is at hand.
"""
import html
import os
import shutil
import subprocess

from ..autograd.engine import _FREED, _history_at
from ..tensor import Tensor
from ._common import all_finite, fmt_bytes, fmt_num, norms

__all__ = ["draw_graph", "retain_grads", "Graph", "GraphvizNotFoundError"]

GRAPHVIZ_HINT = ("Graphviz's `dot` program is needed to render the graph: install it with "
                 "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
                 "`conda install graphviz`, or save the DOT text with .save('graph.dot')")

# fill colours: parameters/leaves, ops, the root, constants, and the two warnings
LEAF, OP, ROOT, CONST = "#cfe2ff", "#fff3cd", "#d1e7dd", "#ffffff"
NAN, VANISH = "#ff6b6b", "#c8c8c8"
VALUES_MAX = 8           # show_values prints tensors with at most this many elements
RUN = "#f3f3f3"          # a collapsed run of repeats
COLLAPSE_OVER = 300      # draw_graph(collapse=None) collapses graphs with more nodes


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed (or not on PATH)."""


# ---------------------------------------------------------------------------------------------
# Walking the graph
# ---------------------------------------------------------------------------------------------

def saved_tensors(node):
    """What node keeps for its backward: the tensors it saved (``save_for_backward`` or a
    built-in op's record), plus tensors the op stored as ``ctx`` attributes (``where``'s
    condition). None once a backward without retain_graph freed them."""
    saved = node._saved
    if saved is _FREED:
        return None
    out = [t for t in saved if isinstance(t, Tensor)]
    if node._outw is not None and node._outw() is not None:   # its own output (engine._OUTPUT)
        out.append(node._outw())
    out += [v for k, v in vars(node).items() if not k.startswith("_") and isinstance(v, Tensor)]
    return out


def tensor_bytes(t):
    return t.numel() * t.dtype.itemsize


def walk(root):
    """The graph behind ``root``: (nodes, outputs, leaves, edges).

    nodes: its Contexts, inputs before consumers (creation order); outputs: id(node) -> the
    node's output tensor where known (every node but one replaced by an in-place op);
    leaves: id(tensor) -> leaf or constant tensor; edges: (source id, consumer node id) pairs,
    source a node or leaf id."""
    if not isinstance(root, Tensor):
        raise TypeError(f"expected a Tensor, got {type(root).__name__}")
    outputs, leaves, edges = {}, {}, []
    nodes = {}
    if root.grad_fn is None:
        leaves[id(root)] = root
        return [], outputs, leaves, edges
    outputs[id(root.grad_fn)] = root
    stack = [root.grad_fn]
    nodes[id(root.grad_fn)] = root.grad_fn
    while stack:
        node = stack.pop()
        if node._unfused is not None:   # drawn op by op, as the user wrote it
            node._unfuse()
        for t in node._inputs:
            if not isinstance(t, Tensor):
                continue
            fn = t.grad_fn
            if fn is not None:
                if fn._seq > node._seq:          # t was changed in place after node read it
                    fn = _history_at(fn, node._seq)
                elif id(fn) not in outputs:
                    outputs[id(fn)] = t
                edges.append((id(fn), id(node)))
                if id(fn) not in nodes:
                    nodes[id(fn)] = fn
                    stack.append(fn)
            else:
                leaves[id(t)] = t
                edges.append((id(t), id(node)))
    return sorted(nodes.values(), key=lambda n: n._seq), outputs, leaves, edges


def retain_grads(root):
    """Make every tensor of the graph behind ``root`` keep its gradient (``retain_grad()`` on
    each non-leaf that requires grad) and remember what each node saved, so that a
    ``draw_graph`` after ``backward()`` shows every tensor's gradient and the bytes each node
    held (backward frees them). Call it before backward; returns ``root``."""
    nodes, outputs, _, _ = walk(root)
    for node in nodes:
        t = outputs.get(id(node))
        if t is not None and t.requires_grad:
            t.retain_grad()
        saved = saved_tensors(node)
        if saved is not None:
            node._tl_viz_saved = sum(tensor_bytes(s) for s in saved)
    return root


def saved_bytes(node):
    """Bytes ``node`` keeps for backward, or, once backward freed them, what retain_grads
    recorded (None when unknown)."""
    saved = saved_tensors(node)
    if saved is None:
        return getattr(node, "_tl_viz_saved", None)
    return sum(tensor_bytes(s) for s in saved)


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------

def _shape(t):
    return "scalar" if not t.shape else str(tuple(t.shape))


def _values(t):
    """Small tensors' values, 4 significant digits: '0.8814' or '[0.1, -2, 3.5]'."""
    v = t.detach().tolist()

    def f(x):
        return f"{x:.4g}" if isinstance(x, float) else str(x)

    def rec(x):
        return "[" + ", ".join(rec(e) for e in x) + "]" if isinstance(x, list) else f(x)
    return rec(v)


def _grad_texts(tensors, vanishing):
    """Per tensor: (text, fill colour or None, norm) for its .grad -- the value of a
    one-element gradient, else its norm; red fill for NaN/Inf, grey for a norm below
    ``vanishing``. (None, None, None) without a gradient."""
    grads = [t.grad for t in tensors]
    found = iter(norms([g for g in grads if g is not None]))
    out = []
    for g in grads:
        if g is None:
            out.append((None, None, None))
            continue
        n = next(found)
        if not (n < float("inf")) and not all_finite(g):
            out.append(("grad has NaN/Inf", NAN, n))
            continue
        fill = VANISH if n < vanishing else None
        if g.numel() == 1:
            out.append((f"grad {g.detach().reshape(()).item():.4g}", fill, n))
        else:
            out.append((f"|grad| {fmt_num(n)}", fill, n))
    return out


def _label(title, lines, bold=True):
    """A Graphviz HTML-like label: the title (bold) over smaller lines. The caller escapes
    text from users (parameter names); the rest is numbers and op names."""
    head = f"<B>{title}</B>" if bold else title
    rest = "".join(f'<BR/><FONT POINT-SIZE="10">{x}</FONT>' for x in lines if x)
    return f"<{head}{rest}>"


# ---------------------------------------------------------------------------------------------
# The Graph object
# ---------------------------------------------------------------------------------------------

class Graph:
    """A drawn graph: ``source`` is its Graphviz DOT text; ``save(path)`` writes it (``.dot``) or
    renders it with Graphviz's ``dot`` (``.svg``, ``.png``, ``.pdf``); in Jupyter it shows itself
    as SVG."""

    FORMATS = ("svg", "png", "pdf")

    def __init__(self, source, num_nodes, num_edges):
        self.source = source
        self.num_nodes = num_nodes
        self.num_edges = num_edges

    def __str__(self):
        return self.source

    def __repr__(self):
        how = ".save('graph.svg') renders it" if shutil.which("dot") else \
            "Graphviz's dot is not installed: .save('graph.dot') writes the DOT text"
        return f"<tl.viz.Graph: {self.num_nodes} nodes, {self.num_edges} edges; {how}>"

    def pipe(self, format="svg"):  # noqa: A002  (graphviz's name)
        """The graph rendered by ``dot -T<format>``, as bytes."""
        if format not in self.FORMATS:
            raise ValueError(f"format must be one of {self.FORMATS}, got {format!r}")
        exe = shutil.which("dot")
        if exe is None:
            raise GraphvizNotFoundError(GRAPHVIZ_HINT)
        r = subprocess.run([exe, f"-T{format}"], input=self.source.encode(), capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"Graphviz dot failed (exit {r.returncode}): "
                               f"{r.stderr.decode(errors='replace').strip()}")
        return r.stdout

    def save(self, path):
        """Write the graph to ``path``: ``.dot``/``.gv`` the DOT text (no dependency), ``.svg``,
        ``.png`` or ``.pdf`` rendered by Graphviz. Returns ``path``."""
        ext = os.path.splitext(str(path))[1].lower().lstrip(".")
        if ext in ("dot", "gv"):
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.source)
        elif ext in self.FORMATS:
            data = self.pipe(ext)
            with open(path, "wb") as f:
                f.write(data)
        else:
            raise ValueError(f"Graph.save: unknown file type {ext!r} in {path!r}; use .dot, .gv, "
                             ".svg, .png or .pdf")
        return path

    def _repr_svg_(self):
        """Jupyter's rich display (None without Graphviz: Jupyter then prints repr())."""
        if shutil.which("dot") is None:
            return None
        return self.pipe("svg").decode("utf-8")


# ---------------------------------------------------------------------------------------------
# draw_graph
# ---------------------------------------------------------------------------------------------

def _run_label(run, saved, outputs, grad_text, warn, names):
    """The DOT attributes of the box standing for a collapsed run of repeats."""
    ops = run["ops"]
    pattern = " \u2192 ".join(run["pattern"])
    lines = [f"{len(ops)} ops" + (f", {len(run['leaves'])} leaves" if run["leaves"] else "")
             + " not drawn"]
    named = [names[q] for q in run["leaves"] if q in names]
    if named:
        span = f"{named[0]} .. {named[-1]}" if len(named) > 1 else str(named[0])
        lines.append(html.escape(span))
    sizes = [saved[k] for k in ops]
    lines.append("saved: freed by backward" if None in sizes else
                 f"saved {fmt_bytes(sum(sizes))} in all")
    known = [grad_text[id(outputs[k])] for k in ops if k in outputs and id(outputs[k]) in grad_text]
    fills = [fill for text, fill, _ in known if text]
    found = [n for text, _, n in known if text]
    fill = RUN
    if NAN in fills:
        fill = NAN
        lines.append(f"{fills.count(NAN)} gradients with NaN/Inf")
    elif found:
        lines.append(f"|grad| {fmt_num(min(found))} .. {fmt_num(max(found))}")
        if len(found) == len(ops) and all(f == VANISH for f in fills):
            fill = VANISH
    warn[NAN] += fills.count(NAN)
    warn[VANISH] += fills.count(VANISH)
    title = f"\u00d7 {run['repeats']} more: {pattern}"
    return (f'[label={_label(title, lines)}, shape=box3d, style="filled", fillcolor="{fill}", '
            'margin="0.2,0.1"]')


def _repeats(nodes, outputs, leaves, edges, saved, min_repeats=3, max_period=8):
    """Runs of a repeated pattern in the graph's chains, for draw_graph(collapse=...).

    A chain is a path of op nodes each of which reads exactly one op output, used by nothing
    else (a deep stack of layers, an unrolled loop); its parameters and constants may differ
    from step to step, but not their shapes. Where a pattern of up to ``max_period`` ops
    (same op names, output shapes and dtypes, saved bytes and leaf shapes) repeats at least
    ``min_repeats`` times in a row, the first and the last repetition stay and the ones in
    between are hidden. Returns (hidden node/leaf ids, runs: dicts with ``pred``, ``succ``,
    ``ops`` (hidden node ids), ``pattern`` (op names) and ``repeats``)."""
    byid = {id(n): n for n in nodes}
    op_in, leaf_in, n_out = {}, {}, {}
    for a, b in edges:
        n_out[a] = n_out.get(a, 0) + 1
        (leaf_in if a in leaves else op_in).setdefault(b, []).append(a)
    nxt = {}
    for n in nodes:
        ins = op_in.get(id(n), ())
        if len(ins) == 1 and n_out.get(ins[0]) == 1:
            nxt[ins[0]] = id(n)
    has_prev = set(nxt.values())

    def sig(k):
        t = outputs.get(k)
        return (byid[k].name(), None if t is None else (t.shape, t.dtype.name), saved[k],
                tuple(sorted((leaves[q].shape, leaves[q].requires_grad)
                             for q in leaf_in.get(k, ()))))

    hidden, runs = set(), []
    for n in nodes:
        if id(n) in has_prev or id(n) not in nxt:
            continue
        chain = [id(n)]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        if len(chain) < min_repeats:
            continue
        sigs = [sig(k) for k in chain]
        i = 0
        while i < len(chain):
            best = None
            for p in range(1, max_period + 1):
                if i + p * min_repeats > len(chain):
                    break
                k = 1
                pattern = sigs[i:i + p]
                while i + (k + 1) * p <= len(chain) and sigs[i + k * p:i + (k + 1) * p] == pattern:
                    k += 1
                if k >= min_repeats and (best is None or k * p > best[0] * best[1]):
                    best = (k, p)
            if best is None:
                i += 1
                continue
            k, p = best
            ops = chain[i + p:i + (k - 1) * p]
            hidden.update(ops)
            runs.append({"pred": chain[i + p - 1], "succ": chain[i + (k - 1) * p], "ops": ops,
                         "pattern": [s[0] for s in sigs[i:i + p]], "repeats": k - 2})
            i += k * p
    if hidden:             # leaves read only by hidden ops go too
        used = {a for a, b in edges if b not in hidden}
        for run in runs:
            run["leaves"] = [q for k in run["ops"] for q in leaf_in.get(k, ()) if q not in used]
            hidden.update(run["leaves"])
    return hidden, runs


def draw_graph(root, params=None, show_values=False, show_grads=True, vanishing=1e-7,
               rankdir="LR", collapse=None):
    """Draw the graph that produced ``root``. Returns a :class:`Graph` (``.source`` is the DOT
    text, ``.save("g.svg")`` renders it).

    - op nodes (yellow): the op's name (``grad_fn.name()``), output shape and dtype, and the
      bytes it saved for backward ("freed" after a backward, unless ``retain_grads(root)`` ran
      before it); the output ``root`` is green;
    - leaves (blue): their name from ``params`` (a dict name -> tensor, e.g.
      ``dict(model.named_parameters())``, or the model itself) or else their shape; inputs that do not require grad
      are white and dashed;
    - with ``show_grads``, after backward: each tensor's gradient norm (its value when it has one
      element). Leaves have ``.grad``; other tensors have one when they retain it
      (``t.retain_grad()``, or ``tl.viz.retain_grads(root)`` before backward for all of them).
      A gradient holding NaN/Inf turns its node red, one with norm below ``vanishing`` grey;
    - ``show_values``: the values of tensors with at most 8 elements (micrograd's
      ``data | grad`` for a graph of scalars).

    - ``collapse``: a pattern of ops repeated 3 or more times along a chain (a deep stack of
      identical layers, an unrolled loop) is drawn once at each end, with one box between them
      saying how many repeats it stands for, what they saved in total and the range of their
      gradient norms (red if one has NaN/Inf, grey if all vanish). None (the default)
      collapses graphs of more than 300 nodes; True or False always / never.

    Edges run from inputs to the op that reads them (forward order, left to right; ``rankdir="TB"``
    draws top to bottom). Building the text is linear in the graph's size, with the gradient
    norms batched into a few ops (a 10,000-node graph takes a fraction of a second; Graphviz then
    takes longer to lay it out)."""
    if hasattr(params, "named_parameters"):          # a Module: its parameters' names
        params = dict(params.named_parameters())
    elif params is not None and not isinstance(params, dict):
        params = dict(params)
    names = {id(t): name for name, t in (params or {}).items()}
    nodes, outputs, leaves, edges = walk(root)
    saved = {id(n): saved_bytes(n) for n in nodes}
    if collapse is None:
        collapse = len(nodes) + len(leaves) > COLLAPSE_OVER
    hidden, runs = _repeats(nodes, outputs, leaves, edges, saved) if collapse else (set(), [])
    # every tensor drawn, in drawing order: leaves, then each node's output (None: unknown)
    tensors = list(leaves.values()) + [outputs.get(id(n)) for n in nodes]
    with_grad = [t for t in tensors if t is not None and show_grads and t.requires_grad]
    grad_text = dict(zip(map(id, with_grad), _grad_texts(with_grad, vanishing)))
    warn = {NAN: 0, VANISH: 0}
    memo = {}   # identical labels (a repeated layer's ops) are built once

    def extra(t):
        """Value and gradient lines for tensor t, and a warning fill colour (or None)."""
        lines, fill = [], None
        if t is None:
            return lines, fill
        if show_values and t.numel() <= VALUES_MAX:
            lines.append(f"data {_values(t)}")
        text, fill, _ = grad_text.get(id(t), (None, None, None))
        if text:
            lines.append(text)
        if fill:
            warn[fill] += 1
        return lines, fill

    ids = {}
    out = [f'digraph G {{\n  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=11, '
           'nodesep=0.25, ranksep=0.35];\n'
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12, '
           'margin="0.12,0.06"];\n  edge [color="#555555", arrowsize=0.7];\n']
    add = out.append
    for key, t in leaves.items():
        if key in hidden:
            continue
        i = ids[key] = f"n{len(ids)}"
        name = names.get(key)
        meta = f"{_shape(t)} {t.dtype.name}"
        lines, fill = extra(t)
        if name is not None:
            label = _label(html.escape(str(name)), [meta] + lines)
        else:
            label = _label(meta, lines, bold=False)
        if t.requires_grad:
            add(f'  {i} [label={label}, fillcolor="{fill or LEAF}"];\n')
        else:
            add(f'  {i} [label={label}, fillcolor="{CONST}", style="rounded,dashed,filled"];\n')
    for node in nodes:
        if id(node) in hidden:
            continue
        i = ids[id(node)] = f"n{len(ids)}"
        t = outputs.get(id(node))
        b = saved[id(node)]
        more, fill = extra(t)
        key = (node.name(), None if t is None else (t.shape, t.dtype.name), b, tuple(more),
               fill or (ROOT if t is root else OP), t is root)
        text = memo.get(key)
        if text is None:
            lines = [] if t is None else [f"{_shape(t)} {t.dtype.name}"]
            lines.append("saved: freed by backward" if b is None else f"saved {fmt_bytes(b)}")
            pen = ", penwidth=2" if t is root else ""
            label = _label(node.name(), lines + more)
            text = memo[key] = f'[label={label}, fillcolor="{key[4]}"{pen}]'
        add(f"  {i} {text};\n")
    if hidden:
        edges = [(a, b) for a, b in edges if a not in hidden and b not in hidden]
    for n_run, run in enumerate(runs):
        i = ids[("run", n_run)] = f"n{len(ids)}"
        add(f"  {i} {_run_label(run, saved, outputs, grad_text, warn, names)};\n")
        edges += [(run["pred"], ("run", n_run)), (("run", n_run), run["succ"])]
    add("".join(f"  {ids[a]} -> {ids[b]};\n" for a, b in edges))
    legend = ["blue: parameters and inputs that require grad", "yellow: ops (bytes saved for "
              "backward)", "green: the output"]
    if warn[NAN]:
        legend.append(f"red: gradient with NaN/Inf ({warn[NAN]})")
    if warn[VANISH]:
        legend.append(f"grey: vanishing gradient, norm < {vanishing:g} ({warn[VANISH]})")
    if runs:
        legend.append("stacked boxes: repeats drawn once (collapse=False draws them all)")
    rows = [" | ".join(legend[i:i + 3]) for i in range(0, len(legend), 3)]
    add('  label="' + "\\n".join(rows) + '";\n  labelloc=b;\n}\n')
    return Graph("".join(out), len(ids), len(edges))
