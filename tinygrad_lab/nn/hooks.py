"""The plumbing of Module.register_full_backward_hook / register_full_backward_pre_hook.

PyTorch's scheme (torch.utils.hooks.BackwardHook): the tensors a hooked module receives, and
those it returns, pass through identity nodes, so the gradients w.r.t. the outputs and then
w.r.t. the inputs each arrive at one node, where the hooks run. Graph nodes here have one output,
so one call side's identity is two kinds of node: _HookedTensors takes all the tensors and
returns a 0-d token; each tensor's stand-in is a _HookedTensor made from the token. The engine
runs nodes newest first and a node after all its consumers, so every stand-in has put its
gradient in the shared list before _HookedTensors' backward runs -- once, with all of them.
"""
import warnings

from ..autograd import Function
from ..creation import zeros, zeros_like
from ..tensor import Tensor


class _HookedTensors(Function):
    """tensors -> a 0-d token; backward: ``on_grads(grads)`` (what the stand-ins collected,
    then cleared for the next backward through a retained graph) gives the gradients passed on
    to the tensors."""
    op_name = "BackwardHookFunction"   # grad_fn.name(), as in PyTorch

    @staticmethod
    def forward(ctx, *tensors, grads, on_grads, dtype):
        ctx.grads, ctx.on_grads = grads, on_grads
        return zeros((), dtype=dtype)

    @staticmethod
    def backward(ctx, _):
        grads = list(ctx.grads)
        ctx.grads[:] = [None] * len(grads)
        return tuple(ctx.on_grads(grads))


class _HookedTensor(Function):
    """token -> ``tensor``'s stand-in (a view of it); backward puts the stand-in's gradient in
    ``grads[slot]`` and gives the token a zero."""
    op_name = "BackwardHookFunction"

    @staticmethod
    def forward(ctx, token, *, tensor, grads, slot):
        ctx.grads, ctx.slot, ctx.token_dtype = grads, slot, token.dtype
        return tensor.detach()

    @staticmethod
    def backward(ctx, g):
        ctx.grads[ctx.slot] = g
        return zeros((), dtype=ctx.token_dtype)


def _pack(index, values, n):
    """``values`` put at positions ``index`` of an n-tuple of None."""
    out = [None] * n
    for i, v in zip(index, values):
        out[i] = v
    return tuple(out)


class BackwardHook:
    """One call of a module with full backward (pre-)hooks: wraps the call's tensors and runs
    the hooks when the gradients arrive (torch.utils.hooks.BackwardHook's rules)."""

    def __init__(self, module):
        self.module = module
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = 0
        self.input_index = self.output_index = None   # positions of the tensors, when wrapped

    @staticmethod
    def _wrap(values, on_grads):
        """(values with stand-ins for the tensors that require grad, positions of all tensors),
        or (values, None) when no tensor requires grad."""
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
        tensors = [values[i] for i in index]
        if not any(t.requires_grad for t in tensors):
            return values, None
        grads = [None] * len(tensors)
        dtype = next(t.dtype for t in tensors if t.requires_grad)
        token = _HookedTensors.apply(*tensors, grads=grads, dtype=dtype,
                                     on_grads=lambda gs: on_grads(tensors, gs))
        out = list(values)
        for k, (i, t) in enumerate(zip(index, tensors)):
            if t.requires_grad:
                out[i] = _HookedTensor.apply(token, tensor=t, grads=grads, slot=k)
        return (type(values)(*out) if hasattr(values, "_fields") else tuple(out)), index

    def setup_input(self, args):
        self.n_inputs = len(args)
        args, self.input_index = self._wrap(args, self._inputs_done)
        return args

    def setup_output(self, result):
        single = not isinstance(result, tuple)
        if single and not isinstance(result, Tensor):
            warnings.warn("For backward hooks to be called, module output should be a Tensor or a "
                          f"tuple of Tensors but received {type(result)}", stacklevel=3)
        values = (result,) if single else result
        self.n_outputs = len(values)
        values, self.output_index = self._wrap(values, self._outputs_done)
        return values[0] if single else values

    def _outputs_done(self, tensors, grads):
        """The gradients w.r.t. the outputs: backward pre-hooks may replace them; kept for the
        hooks, which run when the input gradients arrive (or now, if no input requires grad)."""
        module = self.module
        self.grad_outputs = _pack(self.output_index, grads, self.n_outputs)
        for hook in list(module._backward_pre_hooks):
            r = hook(module, self.grad_outputs)
            if r is None:
                continue
            if len(r) != len(self.grad_outputs):
                raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(r)}, but expected {len(self.grad_outputs)}")
            self.grad_outputs = tuple(r)
        passed = self.grad_outputs
        if self.input_index is None:
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients.", stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in list(module._backward_hooks):
                r = hook(module, grad_inputs, self.grad_outputs)
                if r is not None and not (isinstance(r, tuple) and all(v is None for v in r)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all gradients.")
            self.grad_outputs = None
        return [passed[i] for i in self.output_index]

    def _inputs_done(self, tensors, grads):
        """The gradients w.r.t. the inputs: the hooks see them with the output gradients and
        may replace them. A tensor input that requires grad but got none gets zeros (what
        PyTorch's identity node passes on)."""
        grads = [None if not t.requires_grad else g if g is not None else zeros_like(t)
                 for t, g in zip(tensors, grads)]
        if self.grad_outputs is None:   # the gradient did not come through the outputs
            return grads
        module = self.module
        res = _pack(self.input_index, grads, self.n_inputs)
        for hook in list(module._backward_hooks):
            r = hook(module, res, self.grad_outputs)
            if r is None:
                continue
            if len(r) != len(res):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                   f"got {len(r)}, but expected {len(res)}")
            res = tuple(r)
        self.grad_outputs = None
        return [res[i] for i in self.input_index]
