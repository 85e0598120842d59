"""tl.utils.checkpoint: trade compute for memory (torch.utils.checkpoint).

``y = checkpoint(block, x)`` gives ``block(x)`` but the graph keeps, instead of every activation
inside ``block``, one node holding ``x``; backward runs ``block(x)`` again with grad on and
differentiates that recomputation. Gradients are the same as without checkpointing.

How it works (one mechanism, whatever ``use_reentrant`` says): the forward runs ``fn`` recording
its graph only long enough to find the tensors it reads that need gradients -- the arguments,
and the parameters or other tensors it closes over (the "boundary") -- then drops that graph and
gives each output one ``CheckpointBackward`` node whose inputs are the boundary. Its backward
re-runs ``fn`` on the same arguments and calls ``tl.autograd.grad`` from the recomputed output to
the boundary, the boundary's own nodes cut off for that call so the recomputation's backward
stops there and the outer backward carries on from the node. So ``backward()``,
``tl.autograd.grad`` with respect to parameters inside ``fn`` and ``create_graph=True`` all work.
"""
import numbers

from ..autograd import Function, enable_grad, grad, is_grad_enabled
from ..autograd import engine
from ..creation import manual_seed, randint
from ..nn.modules import Sequential
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError"]


class CheckpointError(RuntimeError):
    """The recomputation in backward did not reproduce the forward's outputs."""


def _fork_seed():
    """A seed drawn from the global generator (which has no readable state to save)."""
    return int(randint(0, 2 ** 62, (1,)).item())


class _Segment:
    """What one checkpoint call keeps for backward."""

    def __init__(self, fn, args, kwargs, seed, check):
        self.fn, self.args, self.kwargs, self.seed, self.check = fn, args, kwargs, seed, check
        self.outputs = []    # the forward's outputs, outside any graph (while making nodes)
        self.meta = []       # their shapes and dtypes, which the recomputation must reproduce
        self.boundary = []   # the tensors fn reads that require grad

    def run(self):
        """Run fn, with the generator reseeded as in the forward (and reseeded afterwards from
        a draw made first, so later random numbers stay reproducible)."""
        if self.seed is None:
            return self.fn(*self.args, **self.kwargs)
        resume = _fork_seed()
        manual_seed(self.seed)
        try:
            return self.fn(*self.args, **self.kwargs)
        finally:
            manual_seed(resume)

    def recompute(self, index):
        with enable_grad():
            out = self.run()
        outs = _as_list(out)
        if outs is None:
            outs = [out]
        if self.check:
            got, want = _meta(outs), self.meta
            if got != want:
                raise CheckpointError(
                    f"tl.utils.checkpoint: recomputed outputs {got} differ from the forward's "
                    f"{want}: the checkpointed function must compute the same thing in backward "
                    "(determinism_check='none' skips this check).")
        return outs[index]


def _meta(outs):
    return [(o.shape, o.dtype) if isinstance(o, Tensor) else type(o) for o in outs]


def _as_list(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return list(out)
    return None


def _boundary(outputs, start):
    """The tensors requiring grad where the graph recorded since node number ``start`` begins:
    leaves, and tensors made before ``start``."""
    found, seen = {}, set()
    stack = [o for o in outputs if isinstance(o, Tensor)]
    while stack:
        t = stack.pop()
        node = t.grad_fn
        if node is None or node._seq <= start:
            if t.requires_grad:
                found.setdefault(id(t), t)
        elif id(node) not in seen:
            seen.add(id(node))
            if node._unfused is not None:   # the boundary as recorded op by op
                node._unfuse()
            stack.extend(x for x in node._inputs if isinstance(x, Tensor))
    return list(found.values())


class Checkpoint(Function):
    """One output of a checkpointed call: its node's inputs are the call's boundary tensors."""

    @staticmethod
    def forward(ctx, seg, index, *boundary):
        ctx.seg, ctx.index = seg, index
        # the arguments' versions: modifying one in place before backward raises, as for any
        # saved tensor (the recomputation would read changed values)
        ctx.save_for_backward(*[a for a in seg.args if isinstance(a, Tensor)])
        return seg.outputs[index]

    @staticmethod
    def backward(ctx, g):
        seg = ctx.seg
        out = seg.recompute(ctx.index)
        cut = [(t, t.grad_fn) for t in seg.boundary if t.grad_fn is not None]
        try:
            for t, _ in cut:   # the recomputation's backward stops at the boundary
                t.grad_fn = None
            grads = grad(out, seg.boundary, g, allow_unused=True, create_graph=is_grad_enabled())
        finally:
            for t, node in cut:
                t.grad_fn = node
        return (None, None) + tuple(grads)


def checkpoint(function, *args, use_reentrant=False, preserve_rng_state=True,
               determinism_check="default", **kwargs):
    """``function(*args, **kwargs)``, keeping for backward only the inputs and recomputing the
    activations inside ``function`` during backward (see the module docstring).

    ``function`` returns a Tensor or a tuple/list of them (other return values are returned
    with their full graph, nothing saved); each output that needs a gradient and receives one
    costs one recomputation. ``function`` must not modify its inputs in place, and its side
    effects (BatchNorm's running statistics...) happen again in the recomputation, as in
    PyTorch. The backward briefly sets the boundary tensors' ``grad_fn`` to None (restored
    before it returns), so do not run two backwards through the same tensors from two threads.

    ``preserve_rng_state``: tl's global generator has no state that can be read back, so
    instead of restoring it (as PyTorch does) the call forks it: it draws a seed and runs
    ``function`` with the generator reseeded by it, then reseeds the generator from a second
    draw; the recomputation does the same with the same first seed. Random ops inside
    ``function`` (dropout) thus draw the same numbers in forward and recomputation, and
    everything stays reproducible under ``tl.manual_seed``, but the numbers differ from an
    un-checkpointed run. With ``preserve_rng_state=False`` the generator is left alone and
    ``function`` must be deterministic.

    ``use_reentrant`` is accepted for PyTorch compatibility; both values run the mechanism
    above, which supports what PyTorch's non-reentrant variant does. ``determinism_check``:
    ``"default"`` raises CheckpointError when the recomputed outputs' shapes or dtypes differ
    from the forward's, ``"none"`` skips that check."""
    if use_reentrant not in (None, True, False):
        raise TypeError(f"use_reentrant must be a bool, got {use_reentrant!r}")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if not is_grad_enabled():   # nothing is recorded: nothing to recompute
        return function(*args, **kwargs)
    seg = _Segment(function, args, kwargs, _fork_seed() if preserve_rng_state else None,
                   determinism_check == "default")
    start = engine._next_seq()   # nodes made from here on belong to this call
    out = seg.run()
    outs = _as_list(out)
    if outs is None:
        return out
    seg.boundary = _boundary(outs, start)
    seg.meta = _meta(outs)
    seg.outputs = [o.detach() if isinstance(o, Tensor) else o for o in outs]
    result = [Checkpoint.apply(seg, i, *seg.boundary)
              if isinstance(o, Tensor) and o.requires_grad else o for i, o in enumerate(outs)]
    seg.outputs = None   # the forward's graph goes with ``out`` when this returns
    if isinstance(out, Tensor):
        return result[0]
    if hasattr(out, "_fields"):   # a namedtuple
        return type(out)(*result)
    return tuple(result) if isinstance(out, tuple) else result


def checkpoint_sequential(functions, segments, input, use_reentrant=False, **kwargs):
    """Run ``functions`` (an nn.Sequential or a list of modules / functions) in order on
    ``input``, checkpointing all of them but the last segment of ``segments`` equal runs (the
    last one also takes the remainder)."""
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    functions = list(functions)
    if not isinstance(segments, numbers.Integral) or not 0 < segments <= max(len(functions), 1):
        raise ValueError(f"checkpoint_sequential: segments must be an int in [1, "
                         f"{len(functions)}], got {segments!r}")
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)
