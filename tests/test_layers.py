"""The package's architecture, checked from its source (README "Architecture"):

- layers import downward only -- storage -> kernel calls -> autograd engine -> ops -> nn / optim /
  utils -- with no import cycle and no import inside a function (which could hide one);
- every call into C goes through the kernel-call layer (tinygrad_lab/kernels.py), so a step's
  calls can be recorded and replayed;
- every op is a ``class`` statement named after the op, with one forward, and the C entry points
  it calls carry its name.
"""
import ast
import inspect
import pathlib
import re

import numpy as np

import tinygrad_lab as tl
from tinygrad_lab import kernels as K
from tinygrad_lab.autograd import OPS, Function

PKG = pathlib.Path(tl.__file__).parent
ROOT = "tinygrad_lab"

# Each module's layer; a module may import only modules of a lower layer (or, within its own
# layer, ones that do not import it back: the cycle test below). Build-time and command-line
# modules sit outside the runtime stack.
LAYERS = [
    ("C library and plain data", ["_lib", "dtypes", "_terminal"]),
    ("storage", ["tensor"]),
    ("kernel calls", ["kernels"]),
    ("creation", ["creation", "_config"]),
    ("autograd engine", ["autograd", "autograd.engine", "autograd.gradcheck"]),
    ("ops", ["ops", "ops.shape", "ops.elementwise", "ops.reduce", "ops.index", "ops.linalg", "ops.decomp",
             "ops.nn", "ops.inplace", "ops.index_reduce", "ops.count", "ops.conv", "ops.sort",
             "ops.resample", "ops.products", "ops.stacking", "ops.stats"]),
    ("nn / optim / utils", ["nn", "nn.functional", "nn.hooks", "nn.init", "nn.modules", "nn.rnn", "nn.transformer", "nn.utils", "nn.utils.rnn", "optim",
                            "optim.optimizer", "optim.sgd", "optim.adam", "optim.rmsprop", "jit",
                            "optim.adagrad", "optim.adamax", "optim.nadam", "optim.radam",
                            "optim.adadelta", "optim.rprop", "optim.asgd", "optim.lbfgs",
                            "optim.lr_scheduler", "utils_grad", "serialization", "linalg",
                            "autograd.functional", "utils", "utils.data", "utils.checkpoint",
                            "viz", "viz._common", "viz.graph", "viz.flow", "viz.memory",
                            "viz.landscape", "distributed", "nn.parallel", "testing", "amp"]),
    ("package and programs", ["", "demo", "__main__", "pytest_plugin"]),
]
LAYER = {mod: i for i, (_, mods) in enumerate(LAYERS) for mod in mods}
OUTSIDE = {"_build"}   # cffi builder, run by setup.py only


def _modules():
    """{dotted name relative to the package ("" for __init__): (path, is_package)}"""
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _imports(name):
    """(imported module, line, inside a function?) for each import of a package module in
    module ``name``."""
    path, is_pkg = MODULES[name]
    tree = ast.parse(path.read_text())
    pkg_parts = name.split(".") if name else []
    if not is_pkg:
        pkg_parts = pkg_parts[:-1]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = pkg_parts[:len(pkg_parts) - (child.level - 1)] if child.level > 1 \
                        else list(pkg_parts)
                    base = base + (child.module.split(".") if child.module else [])
                elif child.module and child.module.split(".")[0] == ROOT:
                    base = child.module.split(".")[1:]
                else:
                    continue
                for alias in child.names:
                    sub = ".".join(base + [alias.name])
                    target = sub if sub in MODULES else ".".join(base)
                    found.append((target, child.lineno, inner))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == ROOT:
                        found.append((".".join(alias.name.split(".")[1:]), child.lineno, inner))
            visit(child, inner)

    visit(tree, False)
    return found


def _edges():
    """module -> set of modules it needs imported first: what it imports, plus the __init__ of
    each package above an imported module (Python runs it first) that is not its own package."""
    edges = {}
    for name in MODULES:
        own = {".".join(name.split(".")[:i]) for i in range(len(name.split(".")) + 1)}
        deps = set()
        for target, _, _ in _imports(name):
            parts = target.split(".") if target else []
            for i in range(len(parts) + 1):
                dep = ".".join(parts[:i])
                if dep not in own and dep in MODULES:
                    deps.add(dep)
        deps.discard(name)
        edges[name] = deps
    return edges


def test_every_module_has_a_layer():
    missing = sorted(set(MODULES) - set(LAYER) - OUTSIDE)
    assert not missing, f"modules without a layer in tests/test_layers.py LAYERS: {missing}"


def test_no_import_inside_a_function():
    bad = [f"{name or '__init__'}.py:{line} imports {target or ROOT}"
           for name in MODULES for target, line, inner in _imports(name) if inner]
    assert not bad, "imports inside functions (each hides a dependency, or a cycle): " + "; ".join(bad)


def test_layers_import_downward_only():
    bad = []
    for name, deps in _edges().items():
        if name in OUTSIDE:
            continue
        for dep in deps:
            if LAYER[dep] > LAYER[name]:
                bad.append(f"{name or ROOT} ({LAYERS[LAYER[name]][0]}) imports {dep or ROOT} "
                           f"({LAYERS[LAYER[dep]][0]})")
    assert not bad, "upward imports: " + "; ".join(sorted(bad))


def _cycle(edges):
    """One import cycle as a list of modules, or None."""
    state = {}
    stack = []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle():
    cycle = _cycle(_edges())
    assert cycle is None, "import cycle: " + " -> ".join(m or ROOT for m in cycle)


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_gradcheck_is_reexported():
    assert tl.autograd.gradcheck is tl.gradcheck
    assert tl.autograd.gradgradcheck is tl.gradgradcheck


# ---- the kernel-call layer ----------------------------------------------------------------------

ALLOCATOR = {"tl_alloc", "tl_free", "tl_alloc_set_limit"}   # storage (tensor.py) calls these


def test_every_c_call_goes_through_the_kernel_layer():
    bad = []
    for name, (path, _) in MODULES.items():
        if name in ("_lib", "kernels") or name in OUTSIDE:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "lib":
                if not (name == "tensor" and node.attr in ALLOCATOR):
                    bad.append(f"{name}.py:{node.lineno} lib.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in ("_C", "_lib") \
                    and name != "tensor":
                bad.append(f"{name}.py:{node.lineno} imports from {node.module}")
    assert not bad, "C calls outside tinygrad_lab/kernels.py: " + "; ".join(bad)


def test_no_kernel_entry_point_is_bound_at_import():
    # a name bound to K.tl_* at import would bypass kernels.record(): look for module-level or
    # class-level assignments of kernel attributes
    bad = []
    for name, (path, _) in MODULES.items():
        if name == "kernels" or name in OUTSIDE:
            continue
        tree = ast.parse(path.read_text())
        scopes = [tree] + [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        for scope in scopes:
            for stmt in scope.body:
                if isinstance(stmt, ast.Assign):
                    for node in ast.walk(stmt.value):
                        if isinstance(node, ast.Attribute) and node.attr.startswith("tl_"):
                            bad.append(f"{name}.py:{stmt.lineno}")
    assert not bad, "kernel entry points bound at import (look them up per call): " + "; ".join(bad)


def test_record_and_replay_a_step():
    x = tl.tensor([1.0, 2.0, 3.0], dtype=tl.float64)
    w = tl.tensor([0.5, -1.0, 2.0], dtype=tl.float64, requires_grad=True)
    with K.record() as calls:
        y = (x * w).tanh().sum()
        y.backward()
    names = [n for n, _ in calls]
    assert names[:3] == ["tl_binary_flat", "tl_unary_flat", "tl_reduce_flat"], names
    assert "tl_unary_backward" in names and "tl_binary_backward_flat" in names   # (g: a broadcast view)
    assert K.tl_binary_flat is K.ENTRY_POINTS["tl_binary_flat"]   # restored after the block
    # new input values in the same buffers: replaying the recorded calls recomputes y and w.grad
    x.numpy()[:] = [3.0, 1.0, -2.0]
    K.replay(calls)
    want = np.tanh(np.array([3.0, 1.0, -2.0]) * [0.5, -1.0, 2.0])
    np.testing.assert_allclose(y.item(), want.sum(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), (1 - want ** 2) * [3.0, 1.0, -2.0], rtol=1e-12)


# ---- findable ops ------------------------------------------------------------------------------

def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# Ops whose kernels do not carry their name, and why.
NOT_NAMED_IN_C = {
    "Reshape": "a view: no kernel", "Permute": "a view: no kernel", "Expand": "a view: no kernel",
    "BasicIndex": "a view: no kernel",
    "Copy": "tl_copy", "Cast": "tl_copy", "Cat": "tl_copy into slices of the output",
    "IndexBackward": "tl_copy into a view of zeros", "Overwrite": "tl_copy",
    "Mean": "the TL_SUM reduction, then TL_DIV_SCALAR in place",
    "LinearAct": "tl_linear_forward / tl_linear_backward with the activation's unary op code",
    "Addmm": "recorded by fusion (Matmul then Add): tl_linear_backward with gw_kn",
    "AddmmAct": "recorded by fusion (Addmm then an activation): tl_linear_backward with gw_kn",
    "Norm": "composed of elementwise and TL_SUM kernels (its own node: the derivative at 0)",
    "GatherDim": "tl_gather_forward over tl_dim_offsets' offsets",
    "GatherDimBackward": "tl_gather_backward (the scatter-add) over tl_dim_offsets' offsets",
    "Flip": "tl_copy from a view with the flipped dims' strides negated",
    "Diagonal": "a view: no kernel",
    "DiagonalBackward": "tl_copy into the diagonal view of zeros",
    "ConstantPad": "tl_fill, then tl_copy into the interior view",
    "Lerp": "composed of elementwise kernels (sub, mul, where): PyTorch's two branches",
    "NanToNum": "composed of comparisons and where", "Addcmul": "TL_MUL then TL_ADD",
    "Addcdiv": "TL_MUL, TL_DIV then TL_ADD",
    "Cdist": "composed of elementwise and reduction kernels (its own node: PyTorch's derivative)",
    "Median": "tl_kthvalue_forward on the flattened tensor; VJP tl_reduce_extremum_backward",
    "Inv": "tl_lu_factor, then tl_lu_solve against the identity",
    "Solve": "tl_lu_factor, then tl_lu_solve", "Det": "tl_lu_factor, then tl_lu_det",
    "Slogdet": "tl_lu_factor, then tl_lu_det",
}


def test_every_op_is_a_class_statement_named_after_the_op():
    classes = {}
    for name, (path, _) in MODULES.items():
        if name.startswith("ops."):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef):
                    classes[node.name] = name
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id == "type" and len(node.args) == 3:
                    raise AssertionError(f"ops/{name}.py:{node.lineno} makes a class with type()")
    for name, op in OPS.items():
        assert op.__name__ == name and name in classes, f"{name}: no `class {name}` in tinygrad_lab/ops"
        assert op.__module__ == f"{ROOT}.{classes[name]}"


def test_every_op_has_one_forward():
    # either the generic Function.apply runs the op's forward, or the op's own apply is its
    # forward (the hot paths record their node directly) -- never both; a fused op (recorded
    # by record-time fusion, ``fuses`` naming the ops it stands for) has neither
    for name, op in OPS.items():
        own_apply = op.apply.__func__ is not Function.apply.__func__ \
            if hasattr(op.apply, "__func__") else True
        own_forward = op.forward is not Function.forward
        if op.fuses:
            assert not own_apply and not own_forward, f"{name}: a fused op with its own forward"
            assert all(n in OPS for part in op.fuses for n in part.split(" / ")), name
            continue
        assert own_apply != own_forward, \
            f"{name}: {'both a forward and its own apply' if own_apply else 'no forward'}"


def test_ops_and_their_c_kernels_share_names():
    stale = sorted(set(NOT_NAMED_IN_C) - set(OPS))
    assert not stale, f"NOT_NAMED_IN_C lists ops that no longer exist: {stale}"
    for name, op in OPS.items():
        src = inspect.getsource(inspect.getmodule(op))
        used = set(re.findall(r"K\.(tl_\w+|TL_\w+)", src))
        for c in used:
            assert hasattr(K, c), f"{op.__module__} calls {c}, which the C library does not export"
        if name in NOT_NAMED_IN_C:
            continue
        snake = _snake(name)
        assert any(c.lower() in (f"tl_{snake}", f"tl_{snake}_forward", f"tl_{snake}_backward")
                   for c in used), f"{name}: no C entry point or op code named tl_{snake}*"
