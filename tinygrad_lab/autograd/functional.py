"""tl.autograd.functional: derivatives of a whole function at a point, with
torch.autograd.functional's signatures and return conventions.

    jacobian(f, inputs)   d out / d in, one backward per output element
    hessian(f, inputs)    the jacobian of the gradient of a scalar function
    vjp(f, inputs, v)     (f(inputs), v^T J)        one backward
    jvp(f, inputs, v)     (f(inputs), J v)          the double-backward trick: the VJP is linear in
                                                    its vector u, so J v = d(u^T J)/du . v
    vhp(f, inputs, v)     (f(inputs), v^T H)        backward of the gradient
    hvp(f, inputs, v)     (f(inputs), H v)          the double-backward trick on the gradient

``inputs`` is a Tensor or a tuple of Tensors and ``f`` is called as ``f(*inputs)``. Results
follow those shapes: a Tensor where the user gave a Tensor, a tuple where a tuple (the jacobian
of a tuple-output function of tuple inputs is a tuple of tuples, ``jac[i][j]`` of shape
``out_i.shape + in_j.shape``). With ``create_graph=False`` the results are outside any graph;
with ``True`` they can be differentiated again, back to the user's inputs. An output that does
not depend on an input gives zeros (``strict=True`` raises instead).
"""
from ..creation import zeros, zeros_like
from ..ops.shape import stack
from ..tensor import Tensor
from .engine import enable_grad, grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name, fn_name):
    """(whether ``inp`` was a tuple, ``inp`` as a tuple), checking every element is a Tensor."""
    is_tuple = isinstance(inp, tuple)
    items = inp if is_tuple else (inp,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} has type {type(el)}.")
    return is_tuple, items


def _unpack(res, is_tuple):
    """Undo _as_tuple on a result: ``is_tuple`` is one flag, or (outer, inner) for nested."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        if not inner:
            res = tuple(el[0] for el in res)
        return res if outer else res[0]
    return res if is_tuple else res[0]


def _prepare(inputs, create_graph, need_graph):
    """The tensors ``f`` is called on: with create_graph, a recorded alias of each input that
    requires grad (results stay connected to the user's tensors); else fresh leaves."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view(t.shape))
        else:
            d = t.detach()
            out.append(d.requires_grad_(True) if need_graph else d)
    return tuple(out)


def _finish(res, create_graph):
    """Detach results (nested tuples too) unless create_graph."""
    if create_graph:
        return res
    return tuple(_finish(r, False) if isinstance(r, tuple) else r.detach() for r in res)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            prefix = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {b.shape} but got "
                               f"{a.shape}.")


_INDEPENDENT = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The "
               "outputs must be computed in a differentiable manner from the input when running "
               "in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the "
                   "user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
}


def _check_requires_grad(tensors, kind, strict):
    """strict mode: every tensor must exist and be connected to the inputs."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_INDEPENDENT[kind].format(i=i))


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """tl.autograd.grad over the outputs that require grad; None for every input when none
    does, and None for an input no output depends on."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph,
                create_graph=create_graph, allow_unused=True)


_ZERO_MSG = {
    "back": "The output of the user-provided function is independent of input {i}. This is not "
            "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} "
                         "in the grad_jacobian. This is not allowed in strict mode as it prevents "
                         "from using the double backward trick to replace forward mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """Zeros (shaped like ``refs[i]``) for missing gradients; strict mode raises instead."""
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_ZERO_MSG[stage].format(i=i))
            g = zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               "create_graph=True.")
        res.append(g)
    return tuple(res)


def _product(outputs, is_outputs_tuple, res, refs, is_res_tuple, strict, create_graph, stage):
    """What vjp / jvp / vhp / hvp return: (the function's outputs, the product ``res`` with
    zeros shaped like ``refs`` where it is missing), in the user's structure."""
    res = _fill_in_zeros(res, refs, strict, create_graph, stage)
    return (_unpack(_finish(outputs, create_graph), is_outputs_tuple),
            _unpack(_finish(res, create_graph), is_res_tuple))


def _prepare_v(v, ref, is_ref_tuple, create_graph, fn_name, none_msg):
    if v is None:
        if len(ref) != 1 or ref[0].numel() != 1:
            raise RuntimeError(none_msg)
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _prepare(v, create_graph, need_graph=False)
    _validate_v(v, ref, is_ref_tuple)
    return v


def _call(func, inputs, fn_name, strict):
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    return is_tuple, outputs


def _single_scalar(outputs, is_tuple, fn_name):
    if is_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), v^T J)``: the vector-Jacobian product, shaped like ``inputs``. ``v``
    (shaped like the outputs) may be omitted when the output has one element."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _prepare_v(v, outputs, is_outputs_tuple, create_graph, "vjp",
                       "The vector v can only be None if the user-provided function returns a "
                       "single Tensor with a single element.")
    res = _grad(outputs, inputs, v, create_graph=create_graph)
    return _product(outputs, is_outputs_tuple, res, inputs, is_inputs_tuple, strict, create_graph,
                    "back")


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), J v)``: the Jacobian-vector product, shaped like the outputs, by the
    double-backward trick (as PyTorch). ``v`` (shaped like ``inputs``) may be omitted when the
    input has one element."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "jvp",
                       "The vector v can only be None if the input to the user-provided "
                       "function is a single Tensor with a single element.")
        is_outputs_tuple, outputs = _call(func, inputs, "jvp", strict)
        # u^T J as a function of a dummy u: linear in u, so its derivative along v is J v
        us = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _grad(outputs, inputs, us, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    res = _grad(grad_inputs, us, v, create_graph=create_graph)
    return _product(outputs, is_outputs_tuple, res, outputs, is_outputs_tuple, strict, create_graph,
                    "back_trick")


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output i and input j a tensor of shape
    ``out_i.shape + in_j.shape``, computed with one backward per output element.
    ``vectorize`` and ``strategy="forward-mode"`` (PyTorch's vmap / forward-AD paths) are not
    available: NotImplementedError."""
    if strategy not in ("forward-mode", "reverse-mode"):   # (PyTorch's error type)
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    if vectorize or strategy == "forward-mode":
        raise NotImplementedError("tl.autograd.functional.jacobian computes reverse-mode, one "
                                  "backward per output element: vectorize=True and "
                                  "strategy='forward-mode' are not available")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, "jacobian", strict)
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]   # rows[j]: d out.flat[k] / d input j, for each k
            flat = out.reshape(-1)
            for k in range(out.numel()):
                vj = _grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)
                for j, (row, g, inp) in enumerate(zip(rows, vj, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {j}. This is not allowed "
                                               "in strict mode.")
                        g = zeros_like(inp)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(f"The jacobian of the user-provided function is "
                                           f"independent of input {i}. This is not allowed in "
                                           "strict mode when create_graph=True.")
                    row.append(g)
            jac.append(tuple(
                stack(row, 0).reshape(out.shape + inp.shape) if row
                else zeros(out.shape + inp.shape, dtype=inp.dtype)   # an empty output
                for row, inp in zip(rows, inputs)))
        jac = _finish(tuple(jac), create_graph)
    return _unpack(jac, (is_outputs_tuple, is_inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function returning one element: for inputs i and j a tensor of shape
    ``in_i.shape + in_j.shape`` (a tuple of tuples for tuple inputs): the jacobian of the
    jacobian."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar_func(*inp):
        out = func(*inp)
        is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(outs, "outputs", strict)
        _single_scalar(outs, is_tuple, "hessian")
        return out.reshape(())

    def jac_func(*inp):
        jac = jacobian(scalar_func, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _unpack(res, (is_inputs_tuple, is_inputs_tuple))


def _scalar_and_gradient(func, inputs, v, create_graph, strict, fn_name):
    """Shared start of vhp / hvp: prepared inputs and v, the one-element output and its
    gradient recorded (create_graph=True)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, fn_name,
                   "The vector v can only be None if the input to the user-provided function "
                   "is a single Tensor with a single element.")
    is_outputs_tuple, outputs = _call(func, inputs, fn_name, strict)
    _single_scalar(outputs, is_outputs_tuple, fn_name)
    jac = _grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), v^T H)`` for a function returning one element: the backward of its
    gradient, shaped like ``inputs``."""
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _scalar_and_gradient(
            func, inputs, v, create_graph, strict, "vhp")
    res = _grad(jac, inputs, v, create_graph=create_graph)
    return _product(outputs, is_outputs_tuple, res, inputs, is_inputs_tuple, strict, create_graph,
                    "double_back")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), H v)`` for a function returning one element, by the double-backward
    trick on its gradient (as PyTorch; equal to vhp when the Hessian is symmetric)."""
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _scalar_and_gradient(
            func, inputs, v, create_graph, strict, "hvp")
        us = tuple(zeros_like(t, requires_grad=True) for t in inputs)
        double_back = _grad(jac, inputs, us, create_graph=True)
    res = _grad(double_back, us, v, create_graph=create_graph)
    return _product(outputs, is_outputs_tuple, res, inputs, is_inputs_tuple, strict, create_graph,
                    "double_back_trick")
