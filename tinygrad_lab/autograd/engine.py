"""The autograd engine: graph nodes, grad mode, backward(), tl.autograd.grad, Function.

Every differentiable op -- built-in or user-written -- is a ``Function`` subclass. A node of the
graph is a ``Context`` (``out.grad_fn``) holding the op, its inputs and what it saved.
``backward()`` walks the nodes in reverse creation order, calling each op's derivative:

- a user Function has one, ``backward(ctx, *grads)``;
- a built-in op has up to two, side by side in its class: ``vjp``, the fused C kernels that
  plain ``backward()`` runs, and ``formula``, the same derivative written with Tensor ops, which
  runs under ``create_graph=True`` (so it is recorded and can be differentiated again). An op
  whose derivative is only a formula uses it in both cases. tests/test_derivatives.py checks,
  for every op, that the two agree.

Built-in ops record their node with ``_record`` from their own forward (the hot path);
``Function.apply`` is the generic path for user Functions and the ops that use it.
"""
import contextvars
import functools
import heapq
import itertools
import struct
import sys
import traceback
import weakref

from .. import kernels as K
from ..creation import copy as _copy, tensor as _tensor
from ..tensor import _SHAPES, _UNSHARED, Tensor, _empty, _numel, _shape_info, tensor_method

_tensor_module = sys.modules[Tensor.__module__]   # (tl.tensor is the function of that name)

# ---------------------------------------------------------------------------------------------
# Grad mode
# ---------------------------------------------------------------------------------------------


# Grad mode is per thread, as in PyTorch: the C kernels release the GIL, so two Python threads
# running ops would otherwise interleave no_grad's save/restore and could leave recording
# switched off. A ContextVar gives that (each thread starts from the default, True; an asyncio
# task from its creator's mode) and reads in ~15 ns, where a threading.local attribute takes ~50
# and every op reads it. (Anomaly mode is process-wide, as in PyTorch: the module global
# _anomaly.)
_GRAD = contextvars.ContextVar("tinygrad_lab.grad_enabled", default=True)
_grad_enabled, _set_grad = _GRAD.get, _GRAD.set
_anomaly = False


def is_grad_enabled():
    return _grad_enabled()


def set_grad_enabled(mode):
    _set_grad(bool(mode))


class _GradMode:
    """Base of no_grad / enable_grad: a context manager and a decorator."""

    mode = None

    def __enter__(self):
        self._prev = _grad_enabled()
        _set_grad(self.mode)

    def __exit__(self, *exc):
        _set_grad(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Ops run inside do not record a graph (use for inference and parameter updates)."""
    mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a no_grad block."""
    mode = True


class inference_mode(_GradMode):
    """Like no_grad (PyTorch's faster variant for inference): ops inside record no graph.
    ``inference_mode(False)`` changes nothing. A context manager and a decorator."""

    def __init__(self, mode=True):
        self._on = bool(mode)

    def __enter__(self):
        self._prev = _grad_enabled()
        if self._on:
            _set_grad(False)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(self._on):
                return fn(*args, **kwargs)
        return wrapper


# ---------------------------------------------------------------------------------------------
# Anomaly detection
# ---------------------------------------------------------------------------------------------

def set_detect_anomaly(mode):
    """When on, each op remembers where its forward was called, and backward raises a
    RuntimeError naming the op and that line as soon as a gradient contains NaN or Inf.
    Process-wide (every thread), as torch.autograd.set_detect_anomaly."""
    global _anomaly
    _anomaly = bool(mode)


def is_anomaly_enabled():
    return _anomaly


class detect_anomaly:
    """Context manager form of set_detect_anomaly(True)."""

    def __enter__(self):
        self._prev = _anomaly
        set_detect_anomaly(True)

    def __exit__(self, *exc):
        set_detect_anomaly(self._prev)
        return False


_PACKAGE = __name__.split(".")[0]


def _user_frame():
    """The innermost stack frame outside tinygrad_lab (where the user called the op)."""
    pkg = _PACKAGE
    for fs in reversed(traceback.extract_stack()[:-2]):
        mod_file = fs.filename.replace("\\", "/")
        if f"/{pkg}/" not in mod_file:
            return f'File "{fs.filename}", line {fs.lineno}, in {fs.name}\n    {fs.line or ""}'
    return "<unknown>"


# ---------------------------------------------------------------------------------------------
# Graph nodes
# ---------------------------------------------------------------------------------------------

class RemovableHandle:
    """Returned by register_hook; ``remove()`` unregisters the hook."""

    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


# A node's own output in its ctx._saved (and in a fused node's op-by-op record, _record_fused).
# An op whose derivative reads its output (exp, sigmoid, softmax, ...) saving the tensor itself
# would make a reference cycle, out -> out.grad_fn -> its _saved -> out, so a graph that is
# never backwarded (a forward run without no_grad) would keep every such buffer until the
# garbage collector runs: the node keeps this marker and a weak reference (_outw) instead, and
# the engine puts the tensor back before the node's backward (_with_output). That tensor is
# alive then: the engine reaches a node only through its output (the root, or an input a later
# node holds), as PyTorch saves an output without its grad_fn for the same reason.
_OUTPUT = object()

# ctx._saved once a backward without retain_graph has freed it: not empty, so the engine's one
# check of _saved (then _check_saved) catches a second backward through the node
_FREED = (None,)


class Context:
    """One node of the graph (``tensor.grad_fn``) and the ``ctx`` a Function sees.

    Rarely-set fields are class-level defaults, so making a node costs one small object."""

    _inputs = ()
    needs_input_grad = ()
    _saved = ()
    _versions = ()
    _hooks = None         # hooks registered on the (non-leaf) output tensor
    _out_ref = None       # the output tensor, only when it retains its grad
    _trace = None         # where forward ran (anomaly mode)
    _g = None             # the gradient of the output accumulated so far, during backward
    _special = False      # hooks or out_ref set: the engine calls _node_hooks
    _seq = 0              # creation order: a node's inputs' nodes were all made before it
    _replaced = None      # the grad_fn an in-place op replaced with this node (see _history_at)
    _unfused = None       # a fused node: the op-by-op node it stands for (see _record_fused)
    _skipped = ()         # a fused node: the nodes its backward skips
    _fused_into = None    # a skipped node: a weak reference to the fused node that consumed it
    _outw = None          # a weak reference to the output when _saved holds it as _OUTPUT

    _fn = None            # the Function whose forward made this node (set right after creation;
    #                       no __init__, because calling the bare class is the cheapest new object)

    def name(self):
        # op_name: the user's op when a variant implements it (x * 2 runs MulScalar: "MulBackward");
        # a fused node is named after the op the user called last (see _record_fused)
        fn = self._fn if self._unfused is None else self._unfused[0]
        return getattr(fn, "op_name", fn.__name__) + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._versions = [t._storage.version if t is not None else 0 for t in tensors]

    # (built-in ops' backward read ctx._saved: the engine's _check_saved has run first)
    @property
    def saved_tensors(self):
        if self._unfused is not None:   # what the op the user called saved
            self._unfuse()
        if self._saved is _FREED:
            self._raise_freed()
        if self._outw is not None:
            return _with_output(self._saved, self)
        return self._saved

    def _check_saved(self):
        """Raise if the saved tensors were freed by an earlier backward or modified in place
        since forward (the engine calls this before the node's backward)."""
        if self._saved is _FREED:
            self._raise_freed()
        i = 0
        versions = self._versions
        for t in self._saved:
            if t is not None and t._storage.version != versions[i]:
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation has been modified by an "
                    f"in-place operation: saved tensor {i} of {self.name()} (shape {t.shape}) is at "
                    f"version {t._storage.version}; expected version {self._versions[i]}. Avoid the "
                    "in-place operation, or clone() the tensor before modifying it.")
            i += 1

    def _raise_freed(self):
        raise RuntimeError(
            f"Trying to backward through the graph a second time (or to use saved tensors of "
            f"{self.name()} after they were freed). Saved tensors are freed after backward; "
            "pass retain_graph=True to the first backward if you need to backward twice.")

    @property
    def next_functions(self):
        """``(node, 0)`` per tensor input: its grad_fn, the AccumulateGrad node of a leaf that
        requires grad, or None -- so the graph can be walked back to the parameters (op by op:
        a fused node is first turned back into the node of the op the user called)."""
        if self._unfused is not None:
            self._unfuse()
        return tuple((_history_at(t.grad_fn, self._seq) if t.grad_fn is not None else
                      _grad_accumulator(t) if t.requires_grad else None, 0)
                     for t in self._inputs if isinstance(t, Tensor))


    def _unfuse(self):
        """Turn this fused node back into the op-by-op node it stands for (see _record_fused),
        in place, so every tensor pointing at it sees the change."""
        fn, inputs, needs, saved, versions, params = self._unfused
        self._unfused, self._skipped = None, ()
        self._fn, self._inputs, self.needs_input_grad = fn, inputs, needs
        self._special = self._hooks is not None or self._out_ref is not None
        if self._saved is not _FREED:   # (a backward without retain_graph freed it: still freed)
            out = self._saved[-1] if self._saved else None
            self._saved = tuple(out if t is _OUTPUT else t for t in saved)
            self._versions = versions
        if params is not None:
            self.params = params


def _history_at(fn, seq):
    """The grad_fn a tensor had when node number ``seq`` consumed it: an in-place op on a tensor
    gives it a new grad_fn (made later, so numbered higher) that remembers the one it replaced;
    nodes recorded before the change must keep seeing the old history, as in PyTorch."""
    while fn is not None and fn._seq > seq:
        fn = fn._replaced
    return fn


class AccumulateGrad:
    """The node of a leaf that requires grad, as ``next_functions`` shows it (PyTorch's
    AccumulateGrad): ``variable`` is the leaf, where backward accumulates into ``.grad``."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


def _grad_accumulator(t):
    """t's AccumulateGrad node: the same object while anyone holds it (the leaf keeps only a
    weak reference, since the node holds the leaf)."""
    ref = t.__dict__.get("_grad_accumulator")
    node = ref() if ref is not None else None
    if node is None:
        node = AccumulateGrad(t)
        t.__dict__["_grad_accumulator"] = weakref.ref(node)
    return node


_heappop, _heappush = heapq.heappop, heapq.heappush
_next_seq = itertools.count(1).__next__  # Context._seq (atomic under the GIL)

OPS = {}  # name -> Function subclass, every built-in op (filled as op modules are imported)


class Function:
    """Base class of every differentiable op. Subclass it with static methods
    ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` and call ``Fn.apply(*args)``.
    backward returns one gradient (or None) per forward argument.

    Built-in ops (tinygrad_lab.ops) instead define ``formula`` (the derivative with Tensor ops)
    and, when fused C kernels compute it faster, ``vjp`` beside it; the engine runs
    ``formula`` under create_graph and ``vjp or formula`` otherwise."""

    differentiable = True  # False for ops whose output never carries a gradient (comparisons...)
    vjp = None       # (ctx, *grads) -> input gradients, with C kernels; None: use formula
    formula = None   # (ctx, *grads) -> input gradients, with differentiable Tensor ops
    # Record-time fusion (see _record_fused), asked of the op whose output the next op reads:
    # fuse_add(node, a, b, out) records out = a + b (a: node's output) as one fused node,
    # fuse_act(node, x, y, act) records y = act(x) (x: node's output) likewise; each returns
    # True when it did, False to record op by op.
    fuse_add = None
    fuse_act = None
    fuses = None     # a fused op (recorded only by fusion): the ops it stands for

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "backward" in cls.__dict__:   # a user Function: its backward is its only derivative
            cls.formula = cls.__dict__["backward"]
        # Built-in ops register themselves so the generated tests cover every op.
        if cls.__module__.startswith(_PACKAGE + ".ops.") and not cls.__name__.startswith("_"):
            OPS[cls.__name__] = cls

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = Context()
        ctx._fn = cls
        ctx._seq = _next_seq()
        prev = _grad_enabled()
        record = False
        if prev and cls.differentiable:
            for a in args:
                if type(a) is Tensor or isinstance(a, Tensor):
                    if a.requires_grad:
                        record = True
                        break
        _set_grad(False)
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            _set_grad(prev)
        if record:
            if not isinstance(out, Tensor):
                raise TypeError(f"{cls.__name__}.forward must return a Tensor, got {type(out).__name__}")
            if not out.dtype.is_floating_point:
                return out  # integer/bool results carry no gradient
            ctx._inputs = args
            ctx.needs_input_grad = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
            if _anomaly:
                ctx._trace = _user_frame()
            if ctx._saved and any(t is out for t in ctx._saved):
                _save_output_weakly(ctx, out)
            out.grad_fn = ctx
            out.requires_grad = True
        return out




def _record(fn, out, inputs, needs, saved=None):
    """Make ``out`` the output of a graph node of Function ``fn``: the node Function.apply would
    make, for built-in ops whose wrapper already computed ``out`` (it skips apply's generic
    argument scan, ~40% of a small op's cost). ``inputs`` are the op's arguments (Tensors or
    None), ``needs`` which of them require grad, ``saved`` what backward reads from
    ctx.saved_tensors (their versions are recorded now). Returns the node."""
    ctx = Context()
    ctx._fn = fn
    ctx._seq = _next_seq()
    ctx._inputs = inputs
    ctx.needs_input_grad = needs
    if saved is not None:
        ctx._saved = saved
        if len(saved) == 2:  # (written out: a comprehension is a function call)
            x, y = saved
            ctx._versions = (0 if x is None else x._storage.version, 0 if y is None else y._storage.version)
            if y is out:   # an op saving its output (always last): see _OUTPUT
                ctx._saved = (x, _OUTPUT)
                ctx._outw = _weakref(out)
        else:
            ctx._versions = [0 if t is None else t._storage.version for t in saved]
            if saved and saved[-1] is out:
                _save_output_weakly(ctx, out)
    if _anomaly:
        ctx._trace = _user_frame()
    out.grad_fn = ctx
    out.requires_grad = True
    return ctx


def _record_fused(fn, out, inputs, needs, saved, versions, unfused, skipped):
    """Record-time fusion: make ``out`` -- the output of the op the user just called, whose
    own node was never made -- the output of one node of Function ``fn`` standing for that op
    and the ops behind it (``x @ W + b`` then ``.sigmoid()``: one AddmmAct node whose inputs are
    x, W and b). Its backward is one C call where op by op it was several nodes and kernels.

    The ``skipped`` nodes stay in the graph, and gradients still reach them from any other
    consumer of their outputs -- correct because the fused derivative is the sum of the same
    chain rule terms. Fusion must stay invisible: ``unfused`` = (Function, inputs, needs, saved,
    versions, params) is the node op by op, restored in place (Context._unfuse) when a backward
    reaches the node while a skipped output has hooks, retains its gradient or is one autograd.grad
    asked for (_node_hooks; a hook or retained .grad on a skipped output makes the fused node
    ``_special`` too: _mark_special), and whenever the graph is walked (next_functions, tl.viz,
    checkpoint). ``saved`` / ``versions`` are the skipped nodes' own, so
    in-place changes since those ops ran are still caught. Anomaly mode records op by op (each
    node checks its own gradient), and so does a second fusion over the same skipped node:
    returns None there, else the node."""
    if _anomaly:
        return None
    ref = skipped[-1]._fused_into
    if ref is not None and ref() is not None:
        # a second consumer of the same output (z = x @ W; z + b1; z + b2): op by op, since a
        # skipped node links to one fused node, the one a hook on z must turn back
        return None
    ctx = _record(fn, out, inputs, needs)
    ctx._saved = saved
    ctx._versions = versions
    if saved and saved[-1] is _OUTPUT:   # (the callers save ``out`` as _OUTPUT directly)
        ctx._outw = _weakref(out)
    ctx._unfused = unfused
    ctx._skipped = skipped
    # skipped[-1] is the node this one consumed; any before it were skipped by that one and point
    # at it already, so _mark_special follows a chain (each link can unfuse alone). Weak: the
    # fused node reaches it back through its _unfused inputs, and a cycle would wait for the GC.
    skipped[-1]._fused_into = _weakref(ctx)
    return ctx


_weakref = weakref.ref


def _save_output_weakly(ctx, out):
    """ctx saved its own output ``out`` (anywhere in _saved): hold it as _OUTPUT and a weak
    reference instead (see _OUTPUT). (_record does it inline for the two-tensor case.)"""
    saved = ctx._saved
    if saved[-1] is out:   # (where ops save it: no generator)
        ctx._saved = saved[:-1] + (_OUTPUT,)
    else:
        ctx._saved = tuple(_OUTPUT if t is out else t for t in saved)
    ctx._outw = _weakref(out)


def _output(node):
    """The output ``node`` holds weakly (see _OUTPUT)."""
    out = node._outw()
    if out is None:   # (only a node held without its output, e.g. y.grad_fn after del y)
        raise RuntimeError(
            f"the output of {node.name()} was freed, and with it the value its backward reads: "
            "keep a reference to the output tensor for as long as its node is used")
    return out


def _with_output(saved, node):
    """``saved`` with node's output in place of _OUTPUT."""
    out = _output(node)
    return tuple(out if t is _OUTPUT else t for t in saved)


def _mark_special(node):
    """``node`` got hooks or a retained .grad: the backward must call _node_hooks on it and on
    every fused node skipping it (which then runs op by op). A mark stays once set (a removed
    hook leaves an empty list); _node_hooks checks what is really there."""
    while node is not None:
        node._special = True
        ref = node._fused_into
        node = ref() if ref is not None else None


_ONE = (True,)  # ``needs`` of a one-input op recorded because its input requires grad

# The implicit gradient of a 0-d output, one per dtype, reused by every backward() (allocating it
# was ~5% of a small fwd+bwd). Kernels only read it; backward() replaces it once anything wrote
# to it (in-place ops bump its version, and its value is checked too), and _owned never makes a
# tensor sharing its buffer a leaf's .grad.
_SEEDS = {}  # dtype -> (seed, a typed pointer to its value: indexing it is the cheapest read)
_cast = K.ffi.cast
_SEED_PTR = {4: "float *", 8: "double *"}
# 1.0 by dtype code: float32, float64, float16 (0x3c00), bfloat16 (0x3f80)
_ONE_BYTES = {0: struct.pack("=f", 1.0), 1: struct.pack("=d", 1.0), 4: struct.pack("=H", 0x3c00),
              5: struct.pack("=H", 0x3f80)}


# ---------------------------------------------------------------------------------------------
# The backward pass
# ---------------------------------------------------------------------------------------------

def _grad_tuple(grads, n):
    """A backward's gradients, one per input: missing ones are None, extra ones ignored."""
    return (grads + (None,) * n)[:n]


def _check_grad(g, t, node):
    if not isinstance(g, Tensor):
        raise TypeError(f"{node.name()} returned {type(g).__name__}; expected a Tensor or None")
    if g._shape != t._shape:
        raise RuntimeError(f"{node.name()} returned a gradient of shape {g.shape} for an input of "
                           f"shape {t.shape}")
    if g.dtype is not t.dtype:
        g = g.to(t.dtype)
    return g


def _backward_pass(roots, retain_graph, create_graph, inputs=None, allow_unused=False):
    """The backward pass from ``roots``, (output, its gradient) pairs, shared by Tensor.backward
    and autograd.grad; then the callbacks queued during it (queue_callback). With ``inputs``
    given, returns their gradients instead of accumulating into leaves' ``.grad``.

    One pass, in reverse creation order: a node's consumers were all created after it, so always
    running the pending node created last (a heap keyed on -Context._seq) runs each node once,
    after every consumer has added to its gradient -- no separate pass to count consumers, and a
    node no gradient reaches never runs. A node's pending gradient waits on the node itself
    (``node._g``), a leaf's in ``leaf_grads``.

    (One frame for the whole pass, and no per-thread state to set and reset: a small backward's
    cost is mostly this function's own Python.)"""
    callbacks = []    # queue_callback's queue for this backward (it finds it through this frame)
    leaf_grads = {}   # id(leaf tensor) -> (tensor, gradient)
    heap = []         # (-node._seq, node) of every node holding a pending gradient
    for out, g in roots:
        node = out.grad_fn
        if node is None:
            if out.requires_grad:
                _add(leaf_grads, id(out), out, g)
        elif node._g is None:
            node._g = g
            heap.append((-node._seq, node))
        else:
            node._g = node._g + g

    wanted = captured = None
    if inputs is not None:
        wanted = {id(t.grad_fn): t for t in inputs if t.grad_fn is not None}
        captured = {}

    direct = inputs is None and not create_graph  # leaves' .grad can be written as we go
    # leaves with post-accumulate-grad hooks: how many gradients each still expects (see
    # _post_hook_counts); their hooks fire when the count reaches 0
    pending = _post_hook_counts(heap) if direct and _n_post_hooks else None
    # The next node to run waits in ``nxt`` rather than in the heap while it is the only pending
    # one (a chain of ops: no heap traffic at all); a second pending node sends both to the heap.
    nxt = None
    if len(heap) > 1:
        heapq.heapify(heap)
    elif heap:
        nxt = heap.pop()[1]
    # Grad mode is create_graph during the pass (PyTorch's rule), so that hooks, formulas, user
    # backwards and the built-in VJPs that fall back to Tensor ops on saved tensors requiring
    # grad (batched matmul, where, ...) record nothing unless asked to: a hook must never see a
    # gradient with a grad_fn in a plain backward (tests/test_engine_fastpath.py). (Switching it
    # lazily, before the first such call only, saved ~4% of a small backward but let those VJPs
    # record.)
    token = _GRAD.set(True if create_graph else False)
    anomaly = _anomaly
    refcounts = _REFCOUNTS
    pop, push = _heappop, _heappush
    try:
        while True:
            if heap:
                if nxt is not None:
                    push(heap, (-nxt._seq, nxt))
                    nxt = None
                node = pop(heap)[1]
            elif nxt is not None:
                node = nxt
                nxt = None
            else:
                break
            g = node._g
            node._g = None
            if node._special or wanted is not None:
                g = _node_hooks(node, g, wanted, captured)
            saved = node._saved
            if saved:   # freed by an earlier backward, or changed in place since forward?
                # (an op saving its output holds it weakly, as _OUTPUT: put it back first)
                if len(saved) == 2:   # (built-in ops save two: checked here, a call fewer)
                    x, y = saved
                    if y is _OUTPUT:   # (written out: a call costs more than the rest)
                        y = node._outw()
                        if y is None:
                            _output(node)   # raises
                        saved = node._saved = (x, y)
                    elif x is _OUTPUT:
                        saved = node._saved = _with_output(saved, node)
                        x, y = saved
                    vx, vy = node._versions
                    if (x is not None and x._storage.version != vx
                            or y is not None and y._storage.version != vy):
                        node._check_saved()   # raises, naming the tensor
                elif len(saved) == 3:   # (fused layers save x, W, y)
                    x, y, z = saved
                    if z is _OUTPUT:
                        z = node._outw()
                        if z is None:
                            _output(node)
                        saved = node._saved = (x, y, z)
                    elif x is _OUTPUT or y is _OUTPUT:
                        saved = node._saved = _with_output(saved, node)
                        x, y, z = saved
                    vx, vy, vz = node._versions
                    if (x is not None and x._storage.version != vx
                            or y is not None and y._storage.version != vy
                            or z is not None and z._storage.version != vz):
                        node._check_saved()
                else:
                    if node._outw is not None and saved is not _FREED:
                        saved = node._saved = _with_output(saved, node)
                    node._check_saved()
            fn = node._fn
            vjp = fn.vjp
            if vjp is None or create_graph:
                vjp = fn.formula
            grads = vjp(node, g)
            del g   # (an op passing g through, like add, may then have it adopted: _owned)
            ins = node._inputs
            if type(grads) is not tuple:
                grads = (grads,)
            if len(grads) != len(ins):
                grads = _grad_tuple(grads, len(ins))
            if saved:   # (nodes that saved nothing can run again)
                if not retain_graph:
                    node._saved = _FREED
                elif node._outw is not None:   # back to the weak form (see _OUTPUT)
                    node._saved = tuple(_OUTPUT if t is node._outw() else t for t in saved)
            needs = node.needs_input_grad
            i = -1
            for gi in grads:   # (indexing the inputs: a zip costs more than the loop body)
                i += 1
                if gi is not None and needs[i]:
                    t = ins[i]
                    if type(gi) is not Tensor or gi._shape != t._shape or gi.dtype is not t.dtype:
                        gi = _check_grad(gi, t, node)
                    if anomaly and K.has_nonfinite(gi):
                        raise RuntimeError(
                            f"Function '{node.name()}' returned nan or inf values in its gradient "
                            f"(input of shape {t.shape}). Its forward was called at:\n{node._trace}")
                    fn = t.grad_fn
                    if fn is not None and fn._seq > node._seq:   # t was changed in place later
                        fn = _history_at(fn, node._seq)
                    if fn is None and direct and t._hooks is None:
                        # a leaf: straight into .grad, as PyTorch's AccumulateGrad does. The
                        # first gradient is adopted when nothing else references it: a fresh
                        # kernel output whose only references are the engine's (grads, gi and
                        # getrefcount's argument), else see _owned
                        acc = t._grad
                        if acc is None:
                            if (refcounts and _getrefcount(gi) <= 3 and gi._storage is _UNSHARED
                                    and gi.grad_fn is None
                                    or refcounts and _owned(gi, grads, ins, t)):
                                t._grad = gi
                            else:
                                t._grad = _copy(gi)
                        elif acc._contig and acc.dtype is gi.dtype:
                            K.add_into(acc, gi)
                        else:
                            _accumulate_grad(t, gi, False)
                        if t._post_hooks is not None:
                            _post_accumulate(t, pending)
                    elif fn is None:
                        prior = leaf_grads.get(id(t))
                        leaf_grads[id(t)] = (t, gi) if prior is None else (t, prior[1] + gi)
                    elif fn._g is None:
                        fn._g = gi
                        if nxt is None:
                            nxt = fn
                        else:
                            push(heap, (-fn._seq, fn))
                    else:
                        fn._g = fn._g + gi
    except BaseException:   # drop the pending gradients so a retry starts clean
        for _, n in heap:
            n._g = None
        if nxt is not None:
            nxt._g = None
        raise
    finally:
        _GRAD.reset(token)

    if pending:   # leaves whose last expected gradient never came (a backward returned None)
        for t, n, received in list(pending.values()):
            if received and n != _FIRED:
                _post_accumulate(t, pending, last=True)
    if inputs is not None:
        result = []
        for t in inputs:
            if t.grad_fn is None:
                g = leaf_grads.get(id(t), (None, None))[1]
            else:
                g = captured.get(id(t.grad_fn))
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated tensors (shape {t.shape}) appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired behavior.")
            result.append(g)
        result = tuple(result)
    else:
        result = None
        for t, g in leaf_grads.values():  # leaves with hooks, under create_graph, or an output
            _to_leaf(t, g, create_graph)
            if t._post_hooks is not None:
                _run_post_hooks(t)
    if callbacks:
        _run_callbacks(callbacks)
    return result


# ---- post-accumulate-grad hooks and end-of-backward callbacks ---------------------------------

_n_post_hooks = 0   # post-accumulate-grad hooks registered (and not removed) in the process
_FIRED = -1         # a pending count once the leaf's hooks have run in this backward


def _post_hook_counts(heap):
    """{id(leaf): [leaf, n, 0]} for the leaves with post-accumulate-grad hooks this backward
    reaches, n the number of graph edges that may bring them a gradient (the 0 counts those
    that did). Leaves' gradients are added as they arrive, with no count of how many will come,
    while PyTorch calls this hook once, after the last one: so when such hooks exist (and only
    then), this walk of the graph counts them first."""
    counts = {}
    seen = set()
    stack = [n for _, n in heap]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for t, need in zip(node._inputs, node.needs_input_grad):
            if not need:
                continue
            fn = t.grad_fn
            if fn is not None and fn._seq > node._seq:
                fn = _history_at(fn, node._seq)
            if fn is not None:
                stack.append(fn)
            elif t._post_hooks is not None:
                entry = counts.get(id(t))
                if entry is None:
                    counts[id(t)] = [t, 1, 0]
                else:
                    entry[1] += 1
    return counts


def _post_accumulate(t, pending, last=False):
    """A gradient was added into leaf ``t``'s .grad: run its post-accumulate-grad hooks if
    that was the last one this backward brings (or ``last``)."""
    entry = pending.get(id(t)) if pending is not None else None
    if entry is not None and not last:
        entry[1] -= 1
        entry[2] += 1
        if entry[1] > 0:
            return
    if entry is not None:
        entry[1] = _FIRED
    _run_post_hooks(t)


def _run_post_hooks(t):
    for h in list(t._post_hooks):
        if h(t) is not None:
            raise RuntimeError("post accumulate grad hooks cannot return a value")


def queue_callback(callback):
    """Run ``callback()`` once the backward pass running now has finished: every gradient is in
    ``.grad`` and every hook has run (PyTorch's ``Variable._execution_engine.queue_callback``;
    DistributedDataParallel waits for its last allreduce this way). Callbacks run in the order
    queued; one may queue more. Only valid during a backward (from a hook or a Function's
    backward): RuntimeError otherwise."""
    # The queue is a local of the innermost _backward_pass running in this thread, found on the
    # stack: a backward pays nothing for a per-thread "queue" variable it would set and reset
    # (~5% of a small one), and each thread (its own stack) stays independent.
    f = sys._getframe(1)
    while f is not None:
        if f.f_code is _PASS_CODE:
            f.f_locals["callbacks"].append(callback)
            return
        f = f.f_back
    raise RuntimeError("queue_callback can only be called during the backward pass")


_PASS_CODE = _backward_pass.__code__


def _run_callbacks(callbacks):
    """Run a finished backward's queued callbacks in order (a callback may queue another: the
    backward's frame is still on the stack)."""
    i = 0
    while i < len(callbacks):
        callbacks[i]()
        i += 1


def _run_hooks(hooks, g):
    """Call each gradient hook in turn; a non-None return value replaces the gradient, and must
    be a Tensor of the same shape and dtype (PyTorch's TypeError / RuntimeError), so a wrong
    gradient is never stored in .grad or passed on."""
    for h in list(hooks):
        r = h(g)
        if r is None:
            continue
        name = getattr(h, "__name__", type(h).__name__)
        if not isinstance(r, Tensor):
            raise TypeError(f"expected Tensor, but hook returned '{type(r).__name__}'")
        if r._shape != g._shape:
            raise RuntimeError(f"hook '{name}' has changed the size of value (was {g.shape}, "
                               f"got {r.shape})")
        if r.dtype is not g.dtype:
            raise RuntimeError(f"hook '{name}' has changed the type of value (was {g.dtype!r} "
                               f"got {r.dtype!r})")
        g = r
    return g


def _node_hooks(node, g, wanted, captured):
    """The rare per-node work of the backward pass: hooks registered on a non-leaf tensor, its
    retained .grad, capturing the gradient autograd.grad asked for, and a fused node that must
    run op by op because one of the outputs it skips has any of those. Returns the gradient
    (a hook may replace it)."""
    if node._unfused is not None:
        for n in node._skipped:
            if n._hooks or n._out_ref is not None or wanted is not None and id(n) in wanted:
                node._unfuse()
                break
    if node._hooks:
        g = _run_hooks(node._hooks, g)
    if node._out_ref is not None and wanted is None:
        with no_grad():   # a retained .grad is data, never part of the graph
            _accumulate_grad(node._out_ref, g, False)
    if wanted is not None and id(node) in wanted:
        captured[id(node)] = g
    return g


def _to_leaf(t, g, create_graph):
    """Accumulate ``g`` into leaf ``t``'s .grad running its hooks first, or recording the sum
    (create_graph). The common case (no hooks) is written out in _backward_pass's loop."""
    prev = _grad_enabled()
    _set_grad(bool(create_graph))
    try:
        if t._hooks:
            g = _run_hooks(t._hooks, g)
        _accumulate_grad(t, g, create_graph)  # (after hooks g's owners are unknown: not owned)
    finally:
        _set_grad(prev)


def _accumulate_grad(t, g, create_graph, owned=False):
    """``t.grad += g``: the one routine that adds a gradient into a ``.grad`` (leaves, and
    non-leaves that retain theirs). The first gradient is adopted when ``owned`` (nothing else
    references it) or recorded (create_graph), else copied; later ones are added in place into
    a contiguous ``.grad`` of the same dtype, or out of place (recorded under create_graph)."""
    acc = t._grad
    if acc is None:
        t._grad = g if owned or create_graph else _copy(g)
    elif not create_graph and acc._contig and acc.dtype is g.dtype:
        K.add_into(acc, g)
    else:
        t._grad = acc + g


# Whether the engine may read reference counts (_owned): a CPython implementation detail, so
# elsewhere (and in the tests that switch it off) every gradient that becomes a .grad is copied.
_REFCOUNTS = sys.implementation.name == "cpython"
_getrefcount = sys.getrefcount


def _owned(g, grads, inputs, t):
    """True when nothing but the engine references gradient ``g`` (still inside _backward_pass's
    loop over a node's ``inputs``, ``t`` the one it goes to) or its buffer, so it can become a
    leaf's .grad without a copy (the engine checks a fresh kernel output's case itself). The 4
    references allowed are the engine's own (the backward's returned tuple ``grads``, the loop
    variable, this call's argument and getrefcount's; measured, and pinned both ways by
    tests/test_autograd.py); one more when the op handed this same tensor
    to both of its inputs (add: ``grads`` holds it twice) and this is the second, whose first
    was copied, as PyTorch's AccumulateGrad steals a gradient its refcount allows; a Storage
    object, when it has one, 3 (its own, ``st`` and getrefcount's; pinned the same way).
    Anything shared -- the same tensor given to two inputs, a tensor the backward also kept, a
    live view -- is copied instead."""
    if g.grad_fn is not None:
        return False
    n = _getrefcount(g)
    if n > 4 and not (n == 5 and len(grads) == 2 and grads[0] is g and grads[1] is g
                      and inputs[1] is t and inputs[0] is not t):
        return False
    st = g._storage
    if st is _UNSHARED:  # a kernel output no view has seen: it owns its whole buffer
        return True
    # tl.jit's capture keeps every buffer made meanwhile in a list (tensor.py): those references
    # are not users (else a replay would copy every large gradient into its .grad)
    pins = _tensor_module._capture_pins
    return (g._contig and g._offset == 0
            and _getrefcount(st) <= (3 if pins is None else 3 + pins.count(st))
            and st.nbytes == (_SHAPES.get(g._shape) or _shape_info(g._shape))[1] * g.dtype.itemsize)


def _add(table, key, t, g):
    if key in table:
        table[key] = (t, table[key][1] + g)
    else:
        table[key] = (t, g)


def _as_grad(g, out):
    """The gradient backward() starts from: ``g`` checked against ``out``, or 1 for a
    one-element output."""
    if g is None:
        if out._shape and _numel(out._shape) != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got an "
                               f"output of shape {out.shape}. Pass a gradient of that shape.")
        one = _ONE_BYTES[out.dtype.code]
        g = _empty(out._shape, out.dtype)
        g._data[0:len(one)] = one  # the one element (a slice store: 4x cheaper than tl_fill)
        return g
    if not isinstance(g, Tensor):
        g = _tensor(g, dtype=out.dtype)
    if g._shape != out._shape:
        raise ValueError(f"gradient has shape {g.shape} but the output has shape {out.shape}")
    return g


@tensor_method()
def backward(tensor, gradient=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensor)/d(leaf) into every leaf's .grad (Tensor.backward; see API.md
    "Autograd")."""
    if not tensor.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None and not tensor._shape and not tensor.dtype.is_half:
        # a 0-d loss: the cached 1 (_SEEDS), if intact
        cached = _SEEDS.get(tensor.dtype)
        if cached is None or cached[0]._storage.version or cached[1][0] != 1.0:
            seed = _as_grad(None, tensor)
            _SEEDS[tensor.dtype] = (seed, _cast(_SEED_PTR[seed.dtype.itemsize], seed._data))
        else:
            seed = cached[0]
    elif type(gradient) is Tensor and gradient._shape == tensor._shape:
        seed = gradient   # (_as_grad's checks, written out for the common case)
    else:
        seed = _as_grad(gradient, tensor)
    _backward_pass(((tensor, seed),), retain_graph or create_graph, create_graph)


def backward_all(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """tl.autograd.backward, as torch.autograd.backward: Tensor.backward for a tensor or a sequence
    of tensors, in one pass (a node reached from several of them runs once, with their gradients
    summed). ``grad_tensors``: one gradient per tensor (None: the implicit 1 of a 0-d tensor)."""
    if isinstance(tensors, Tensor):
        return backward(tensors, grad_tensors, retain_graph, create_graph)
    tensors = list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    else:
        grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad_tensors has {len(grad_tensors)} gradients for {len(tensors)} tensors")
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward expected Tensors; element {i} is {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        roots.append((t, _as_grad(g, t)))
    if roots:
        _backward_pass(tuple(roots), retain_graph or create_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs`` as a tuple, without touching ``.grad``."""
    single = isinstance(outputs, Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("grad: every input must be a Tensor that requires grad")
    for o in outputs:
        if not o.requires_grad:
            raise RuntimeError("grad: an output does not require grad and has no grad_fn")
    if retain_graph is None:
        retain_graph = create_graph
    gos = [_as_grad(g, o) for g, o in zip(grad_outputs, outputs)]
    return _backward_pass(tuple(zip(outputs, gos)), retain_graph, create_graph, inputs,
                          allow_unused)



# ---------------------------------------------------------------------------------------------
# Tensor methods of the engine
# ---------------------------------------------------------------------------------------------

@tensor_method()
def requires_grad_(self, requires_grad=True):
    if requires_grad and not self.dtype.is_floating_point:
        raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype!r}")
    if not requires_grad and self.grad_fn is not None:
        raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use detach()")
    self.requires_grad = bool(requires_grad)
    return self


@tensor_method()
def register_post_accumulate_grad_hook(self, hook):
    """Call ``hook(tensor)`` after backward has added this leaf's gradient into ``.grad`` --
    once per backward, after the last contribution, as in PyTorch (data-parallel training starts
    its gradient allreduce from here). The hook must return None. Returns a handle whose
    ``remove()`` unregisters it."""
    global _n_post_hooks
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if self._post_hooks is None:
        self._post_hooks = []
    self._post_hooks.append(hook)
    _n_post_hooks += 1
    return _PostHookHandle(self._post_hooks, hook)


class _PostHookHandle(RemovableHandle):
    def remove(self):
        global _n_post_hooks
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)
            _n_post_hooks -= 1


@tensor_method()
def retain_grad(self):
    """Keep .grad on this non-leaf tensor after backward."""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
    if self.grad_fn is not None:
        self.grad_fn._out_ref = self
        _mark_special(self.grad_fn)
        self._retains_grad = True


@tensor_method()
def register_hook(self, fn):
    """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None return value
    replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is None:
        if self._hooks is None:
            self._hooks = []
        hooks = self._hooks
    else:
        if self.grad_fn._hooks is None:
            self.grad_fn._hooks = []
            _mark_special(self.grad_fn)
        hooks = self.grad_fn._hooks
    hooks.append(fn)
    return RemovableHandle(hooks, fn)
