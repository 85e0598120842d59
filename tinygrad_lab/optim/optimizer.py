"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, state_dict.

Layout and behaviour follow torch.optim.Optimizer:
- ``param_groups`` is a list of dicts, each with ``"params"`` (a list of Tensors) and every
  hyper-parameter (missing ones are filled from the optimizer's ``defaults``);
- ``state`` maps each parameter to a dict (``"step"`` and Tensor buffers such as
  ``"exp_avg"``), created on the parameter's first update;
- ``state_dict()`` packs both with parameters replaced by their index in group order:
  ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

Subclasses implement ``step`` by calling one fused C kernel per parameter (csrc/optim.c) through
``_apply_update``, which hands the kernel contiguous buffers and writes back into strided
parameters.
"""
import warnings
from collections import defaultdict
from functools import partial

from .. import dtypes
from .. import kernels as K
from ..autograd import enable_grad, no_grad
from ..creation import copy as _copy, full, zeros
from ..kernels import NULL, check
from ..tensor import _SHAPES, Tensor, _shape_info


class _RequiredParameter:
    """Marks a hyper-parameter that has no default (torch.optim.optimizer.required)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of all optimizers. ``params`` is an iterable of Tensors or of dicts (parameter
    groups, each with a ``"params"`` entry and optional per-group hyper-parameters)."""

    # The step of optimizers that set _KERNEL (a kernels.py entry point) and define
    # _state_buffers(group, p) -> the kernel's buffers and _scalars(group, p) -> its scalars
    # (counting the step; a tl.jit replay calls it again before each replayed step).
    _KERNEL = None
    # per-parameter state kept as Python numbers (PyTorch keeps 0-d tensors): name -> type
    _STATE_SCALARS = {"step": int}

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got a Tensor of shape {params.shape}")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- parameter groups ------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Append a parameter group (a dict with ``"params"``); hyper-parameters it does not set
        take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use a "
                            "list instead.")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
            if not p.dtype.is_floating_point:
                raise TypeError(f"optimizer can only optimize float32/float64 Tensors, but one of "
                                f"the params has dtype {p.dtype!r}")
        param_group = dict(param_group)
        param_group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        self._check_group(param_group)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; each "
                          "is updated once per occurrence", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def _check_group(self, group):
        """Validate a group's hyper-parameters (subclasses raise ValueError like PyTorch)."""

    # ---- gradients ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors: set them to None (default) or to
        zero in place."""
        for group in self.param_groups:
            for p in group["params"]:   # (``_grad``: the optimizer's own, unchecked writes)
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    g = g if g.grad_fn is None else g.detach()
                    g.requires_grad = False
                    with no_grad():
                        g.zero_()
                    p._grad = g

    @staticmethod
    def _closure_loss(closure):
        """Run ``closure`` (which re-evaluates the model and returns the loss) with grad on."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state dict --------------------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` with
        parameters numbered in group order. State Tensors are returned by reference, as in
        PyTorch (they keep changing while training goes on; clone or save them to keep a
        snapshot)."""
        index, packed_groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            packed_groups.append(packed)
        state = {}
        for p, s in self.state.items():
            key = index.get(id(p)) if isinstance(p, Tensor) else p
            state[key if key is not None else p] = s
        return {"state": state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict):
        """Load a dict made by ``state_dict()`` (or ``tl.load`` of one) into this optimizer,
        whose groups must have the same sizes. Hyper-parameters come from the dict; state
        Tensors are copied and converted to their parameter's dtype."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict expects a dict with 'state' and 'param_groups' entries")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)} vs {len(self.param_groups)})")
        for g, sg in zip(self.param_groups, saved_groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match "
                                 f"the size of optimizer's group ({len(sg['params'])} vs "
                                 f"{len(g['params'])} parameters)")
        id_map = {}
        for g, sg in zip(self.param_groups, saved_groups):
            id_map.update(zip(sg["params"], g["params"]))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {name: _cast_state(p, name, value, self._STATE_SCALARS)
                            for name, value in v.items()}
            else:
                state[k] = v
        new_groups = []
        for g, sg in zip(self.param_groups, saved_groups):
            ng = {k: v for k, v in sg.items() if k != "params"}
            if isinstance(ng.get("betas"), list):      # a JSON round trip turns tuples into lists
                ng["betas"] = tuple(ng["betas"])
            ng["params"] = g["params"]
            new_groups.append(ng)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        lines.append(")")
        return "\n".join(lines)

    # ---- helpers for subclasses ----------------------------------------------------------------
    def _with_grads(self):
        """(group, param, grad) for every parameter that has a gradient, in group order; grads
        come contiguous, in the parameter's dtype, not aliasing it."""
        for group in self.param_groups:
            for p, g in _params_with_grad(group):
                yield group, p, g

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        if self._KERNEL is None:
            raise NotImplementedError
        loss = self._closure_loss(closure)
        capturing, kernel = K.capturing(), getattr(K, self._KERNEL)
        name = f"{type(self).__name__}.step"
        for group, p, g in self._with_grads():
            _apply_update(kernel, name, p, g, self._state_buffers(group, p),
                          *self._scalars(group, p),
                          refresh=partial(self._scalars, group, p) if capturing else None)
        return loss

    def _count_step(self, p):
        """Increment and return (state, step number t >= 1) of parameter ``p``."""
        state = self.state[p]
        state["step"] = state.get("step", 0) + 1
        return state, state["step"]

    def _buffer(self, state, name, p, fill=0.0):
        """State buffer ``name`` of parameter ``p``: contiguous, p's dtype and shape (created
        filled with ``fill``, zeros by default, when missing)."""
        b = state.get(name)
        if b is None:
            if K.capturing():
                raise RuntimeError(
                    f"tl.jit: optimizer state '{name}' would be created inside a captured step, "
                    "and a replay would zero it again every step. Its parameter had no gradient "
                    "in the eager first call; make sure every call computes the same gradients.")
            b = state[name] = _zeros_like(p) if fill == 0 else full(p.shape, fill, dtype=p.dtype)
        elif not isinstance(b, Tensor) or b.shape != p.shape:
            got = b.shape if isinstance(b, Tensor) else type(b).__name__
            raise RuntimeError(f"optimizer state '{name}' has shape {got}, but its parameter has "
                               f"shape {p.shape}")
        elif b.dtype is not p.dtype or not b.is_contiguous():
            b = state[name] = _copy(b, p.dtype)
        return b


_LABELS = {"lr": "learning rate", "eps": "epsilon value", "momentum": "momentum value",
           "weight_decay": "weight_decay value", "alpha": "alpha value",
           "lr_decay": "lr_decay value", "momentum_decay": "momentum_decay value",
           "initial_accumulator_value": "initial_accumulator_value value"}


def _check_nonnegative(group, *keys):
    """PyTorch's hyper-parameter checks: ValueError("Invalid learning rate: -1") etc."""
    for k in keys:
        if not 0.0 <= group[k]:
            raise ValueError(f"Invalid {_LABELS[k]}: {group[k]}")


def _check_betas(group):
    """Adam-family betas: a pair in [0, 1), PyTorch's messages."""
    betas = group["betas"]
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


class _AdamFamily(Optimizer):
    """Adamax, NAdam, RAdam: Adam's checks (lr, eps, betas, weight_decay, in PyTorch's order)
    and, by default, its two moment buffers ``"exp_avg"``, ``"exp_avg_sq"``."""

    def _check_group(self, g):
        _check_nonnegative(g, "lr", "eps")
        _check_betas(g)
        _check_nonnegative(g, "weight_decay")

    def _state_buffers(self, group, p):
        state = self.state[p]
        return self._buffer(state, "exp_avg", p), self._buffer(state, "exp_avg_sq", p)


def _zeros_like(p):
    return zeros(p.shape, dtype=p.dtype)


def _cast_state(p, name, value, scalars):
    """A loaded state entry: the per-parameter scalars (``scalars``: name -> int or float, e.g.
    the step count) become Python numbers, also from PyTorch's 0-d tensors; Tensors become fresh
    contiguous copies in the parameter's dtype (so two optimizers never share buffers)."""
    if name in scalars:
        return scalars[name](value.item() if isinstance(value, Tensor) else value)
    if isinstance(value, Tensor):
        if value.shape != p.shape:
            raise ValueError(f"loaded optimizer state '{name}' has shape {value.shape}, but its "
                             f"parameter has shape {p.shape}")
        return _copy(value, p.dtype if value.dtype.is_floating_point else value.dtype)
    return value


def _params_with_grad(group):
    """(param, grad) pairs of a group, skipping parameters whose .grad is None. Gradients are
    returned contiguous, in the parameter's dtype and not aliasing it."""
    out = []
    for p in group["params"]:
        g = p._grad
        if g is None:
            continue
        if g._shape != p._shape:
            raise RuntimeError(f"gradient of shape {g.shape} does not match its parameter's shape {p.shape}")
        if g.dtype is not p.dtype or not g._contig or g._data is p._data:
            g = _copy(g, p.dtype)
        out.append((p, g))
    return out


def _apply_update(kernel, name, p, g, buffers, *scalars, refresh=None):
    """Run ``kernel(dtype, p, g, *buffers, n, *scalars)`` on contiguous memory: a strided
    parameter is updated through a contiguous copy that is written back. Buffers may be None
    (passed as NULL). Bumps p's version counter (autograd's in-place check). Inside a tl.jit
    capture, ``refresh()`` (required there) does the next step's bookkeeping and returns its
    ``scalars``: the replay calls it before each step, so schedulers and step counts apply."""
    if p.dtype.is_half:
        return _apply_update_half(kernel, name, p, g, buffers, *scalars, refresh=refresh)
    work = p if p._contig else _copy(p)
    # (pointers and sizes written out: this runs per parameter per step, and a small network's
    # step is mostly this Python)
    ptrs = [work._ptr, g._ptr]
    for b in buffers:
        ptrs.append(NULL if b is None else b._ptr)
    rc = kernel(p.dtype.code, *ptrs, (_SHAPES.get(p._shape) or _shape_info(p._shape))[1], *scalars)
    if rc:
        check(rc, name)
    if refresh is not None:
        K.live_args(4 + len(buffers), refresh)
    if work is not p:
        K.copy_into(p, work)
    p._bump_version()
    for b in buffers:   # the state it updated too (PyTorch's in-place updates count there as well)
        if b is not None:
            b._bump_version()


def _apply_update_half(kernel, name, p, g, buffers, *scalars, refresh=None):
    """The update of a float16/bfloat16 parameter: computed in float32 (parameter, gradient and
    state widened), then rounded back into the parameter and its state, which stay in the
    parameter's dtype as in PyTorch."""
    f32 = dtypes.float32
    work = _copy(p, f32)
    wide = [None if b is None else _copy(b, f32) for b in buffers]
    ptrs = [work._ptr, _copy(g, f32)._ptr] + [NULL if b is None else b._ptr for b in wide]
    check(kernel(f32.code, *ptrs, work.numel(), *scalars), name)
    if refresh is not None:
        K.live_args(4 + len(buffers), refresh)
    K.copy_into(p, work)
    for b, w in zip(buffers, wide):
        if b is not None:
            K.copy_into(b, w)
            b._bump_version()
    p._bump_version()
