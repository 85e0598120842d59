"""tl.nn modules with PyTorch's constructor signatures, attribute names, default
initialisations and state_dict keys, so weights copy across by name."""
import math
import numbers
import operator
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from .. import dtypes
from ..autograd import RemovableHandle, is_grad_enabled, no_grad
from ..creation import empty, ones, tensor, zeros
from ..ops.elementwise import where as _where
from ..ops.shape import cat as _cat
from ..tensor import Tensor
from . import functional as F
from . import init
from .hooks import BackwardHook


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter (requires grad by default)."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter expects a Tensor, got {type(data).__name__}")
        p = Tensor.__new__(cls)
        p._set_view(data._shared(), data._shape, data._strides, data._offset, data.dtype)
        if requires_grad and not data.dtype.is_floating_point:
            raise TypeError(f"only floating-point parameters can require gradients, got {data.dtype!r}")
        p.requires_grad = bool(requires_grad)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """``copy.deepcopy``: a Parameter (of this class) with its own copy of the values."""
        new = type(self)(Tensor.__deepcopy__(self, memo), self.requires_grad)
        new._grad = memo[id(self)]._grad
        memo[id(self)] = new
        return new


class Module:
    """Base class of layers and models: assign Parameters, buffers and sub-Modules as attributes
    and they are registered (in order) for parameters(), state_dict(), train()/eval()..."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called")
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()) and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None")
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        """Register ``module`` (or None) as the sub-module ``name``, as ``self.name = module``
        does; the name must be a non-empty string without "." that is not another attribute."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        if name not in self._modules and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    # ---- traversal ----
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mp}.{name}" if mp else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mp}.{name}" if mp else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and grads ----
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                with no_grad():
                    p.grad.zero_()

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, dtype):
        """Convert every floating-point parameter and buffer to ``dtype``. Parameters keep their
        identity (optimizers holding them stay valid); their .grad is cleared."""
        dtype = dtypes.as_dtype(dtype)
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p.dtype.is_floating_point and p.dtype is not dtype:
                    c = p.detach().to(dtype)
                    rg = p.requires_grad
                    p._set_view(c._shared(), c._shape, c._strides, c._offset, dtype)
                    p.requires_grad = rg
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.is_floating_point and b.dtype is not dtype:
                    m._buffers[name] = b.to(dtype)
        return self

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        """Convert floating-point parameters and buffers to tl.float16."""
        return self.to(dtypes.float16)

    def bfloat16(self):
        """Convert floating-point parameters and buffers to tl.bfloat16."""
        return self.to(dtypes.bfloat16)

    def float(self):
        return self.to(dtypes.float32)

    # ---- state ----
    def state_dict(self, prefix=""):
        """Parameters and persistent buffers by dotted name ("0.weight", "2.bias", ...), as
        detached tensors sharing memory with the module."""
        out = OrderedDict()
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mp}.{name}" if mp else name] = p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[f"{mp}.{name}" if mp else name] = b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values in by name. With strict=True, missing or unexpected keys raise
        RuntimeError; shape mismatches always raise (naming the key and both shapes)."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: "
                               f"missing keys {missing}, unexpected keys {unexpected}")
        with no_grad():
            for k, t in own.items():
                if k not in state_dict:
                    continue
                src = state_dict[k]
                if not isinstance(src, Tensor):
                    src = tensor(src)
                if tuple(src.shape) != tuple(t.shape):
                    raise RuntimeError(f"size mismatch for {k}: copying a param with shape {src.shape} "
                                       f"from checkpoint, the shape in current model is {t.shape}")
                t.copy_(src)
        return missing, unexpected

    # ---- calling ----
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        if self._has_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    # ---- hooks ----
    # The hook lists are made on first registration; until then these class-level defaults
    # answer, and __call__'s one check (_has_hooks) keeps hook-free calls as cheap as before.
    _has_hooks = False
    _forward_pre_hooks = _forward_hooks = _backward_pre_hooks = _backward_hooks = ()

    def _add_hook(self, kind, entry, prepend):
        hooks = self.__dict__.get(kind)
        if hooks is None:
            hooks = []
            object.__setattr__(self, kind, hooks)
        object.__setattr__(self, "_has_hooks", True)
        if prepend:
            hooks.insert(0, entry)
        else:
            hooks.append(entry)
        return RemovableHandle(hooks, entry)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each forward (``hook(module, args, kwargs)`` with
        ``with_kwargs=True``); a non-None result replaces the arguments (a single value is
        wrapped in a tuple; with kwargs it must be ``(args, kwargs)``). Returns a handle whose
        ``remove()`` unregisters the hook."""
        return self._add_hook("_forward_pre_hooks", (hook, bool(with_kwargs)), prepend)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Call ``hook(module, args, output)`` after each forward (``hook(module, args, kwargs,
        output)`` with ``with_kwargs=True``); a non-None result replaces the output. With
        ``always_call=True`` the hook also runs (output None) when forward raises."""
        return self._add_hook("_forward_hooks", (hook, bool(with_kwargs), bool(always_call)),
                              prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients w.r.t. the module's outputs are
        computed, before any gradient w.r.t. its inputs; a non-None result (a tuple, one entry
        per output) replaces grad_output."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients w.r.t. the module's
        inputs are computed: one entry per positional argument (None for non-tensors and for
        tensors that do not require grad) and per output. A non-None result (a tuple as long as
        grad_input) replaces the gradients passed on to the inputs. When no input requires grad
        the hook fires with the output gradients and grad_input all None (and a warning), as in
        PyTorch. Works by passing the call's tensors through identity nodes (nn/hooks.py)."""
        return self._add_hook("_backward_hooks", hook, prepend)

    def _call_with_hooks(self, args, kwargs):
        """__call__ for a module with hooks, in PyTorch's order: forward pre-hooks, backward-hook
        wrapping of the inputs, forward, forward hooks, backward-hook wrapping of the outputs."""
        bw = BackwardHook(self) if (self._backward_hooks or self._backward_pre_hooks) \
            and is_grad_enabled() else None
        for hook, with_kwargs in list(self._forward_pre_hooks):
            if with_kwargs:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {r}.")
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        if bw is not None:
            args = bw.setup_input(args)
        result, called = None, set()
        try:
            result = self.forward(*args, **kwargs)
            for entry in list(self._forward_hooks):
                hook, with_kwargs, _ = entry
                called.add(id(entry))
                r = hook(self, args, kwargs, result) if with_kwargs else hook(self, args, result)
                if r is not None:
                    result = r
        except Exception:
            for entry in list(self._forward_hooks):
                hook, with_kwargs, always = entry
                if always and id(entry) not in called:
                    try:
                        r = hook(self, args, kwargs, result) if with_kwargs else hook(self, args, result)
                        if r is not None:
                            result = r
                    except Exception as e:  # the forward's error is the one to report
                        warnings.warn("forward hook with ``always_call=True`` raised an exception "
                                      f"that was silenced as another error was raised in forward: {e}",
                                      stacklevel=2)
            raise
        if bw is not None:
            result = bw.setup_output(result)
        return result

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


def _weight_and_bias(module, weight_shape, bias, dtype, bias_size=None):
    """A layer's ``weight`` of ``weight_shape`` and ``bias`` (``bias_size``, default
    weight_shape[0]) (or None), then its reset_parameters()."""
    module.weight = Parameter(empty(*weight_shape, dtype=dtype))
    if bias:
        module.bias = Parameter(empty(weight_shape[0] if bias_size is None else bias_size, dtype=dtype))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()


def _reset_weight_and_bias(weight, bias, fan_in):
    """PyTorch's init of Linear and Conv: weight from kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same bound."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features). PyTorch's init: weight from
    kaiming_uniform_(a=sqrt(5)) i.e. U(-1/sqrt(in), 1/sqrt(in)), bias from the same bound."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        _weight_and_bias(self, (out_features, in_features), bias, dtype)

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias, self.in_features)

    def forward(self, x):
        p = self._parameters   # (what self.weight / self.bias would look up, minus __getattr__)
        return F.linear(x, p["weight"], p["bias"])

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        mods = list(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            m = mods[i]
            act = getattr(mods[i + 1], "_fused_act", None) if i + 1 < n else None
            if act is not None and type(m) is Linear and not (m._has_hooks or mods[i + 1]._has_hooks):
                # Linear then ReLU/Sigmoid/Tanh: one fused op (same values and gradients)
                p = m._parameters
                x = F.linear_act(x, p["weight"], p["bias"], act)
                i += 2
            else:
                x = m(x)
                i += 1
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """Sub-modules in a list, registered under "0", "1", ... so parameters() and state_dict()
    name them "layers.0.weight", as in PyTorch. Index (negative and slices too), len, iterate,
    append/extend/insert/pop, ``+=`` and ``+``; it has no forward (loop over it in yours)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, idx):
        idx = operator.index(idx)
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range")
        return str(idx % n)

    def _renumber(self, modules):
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        self.add_module(self._key(idx), module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[int(self._key(idx))]
        self._renumber(mods)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        out = ModuleList()
        for i, m in enumerate([*self, *other]):
            out.add_module(str(i), m)
        return out

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        offset = len(self)
        for i, m in enumerate(modules):
            self.add_module(str(offset + i), m)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (list.insert's rules)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"ModuleList.insert: expected a Module, got {type(module).__name__}")
        mods = list(self._modules.values())
        mods.insert(operator.index(index), module)
        self._renumber(mods)

    def pop(self, key=-1):
        m = self[key]
        del self[key]
        return m

    def __repr__(self):
        """As PyTorch prints it: runs of identical modules shown once, "(0-2): 3 x Linear(...)"."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return "ModuleList()"
        runs = []   # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}").replace("\n", "\n  ")
                 for a, b, r in runs]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """Sub-modules by name, in insertion order, registered under their keys (so state_dict keys
    read "heads.cls.weight"); the dict API: ``[key]``, ``in``, len, iteration over keys, keys(),
    values(), items(), update(), pop(), clear()."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        m = self[key]
        del self[key]
        return m

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add or replace from a mapping (or ModuleDict), or from an iterable of (key, module)
        pairs."""
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of key/value "
                            "pairs, but got " + type(modules).__name__)
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, m in modules.items():
                self[key] = m
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; is "
                                + type(pair).__name__)
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length {len(pair)}; "
                                 "2 is required")
            self[pair[0]] = pair[1]


def _param_line(p):
    """PyTorch's one-line description of a parameter in a container's repr."""
    size = "x".join(str(n) for n in p.shape)
    return f"Parameter containing: [{p.dtype!r} of size {size}]"


def _as_parameter(value, owner):
    """A Parameter for a container: Parameters as they are, other tensors wrapped (requiring
    grad when floating-point), as PyTorch's ParameterList/ParameterDict do."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value.detach(), requires_grad=value.dtype.is_floating_point)
    raise TypeError(f"{owner} holds Tensors (kept as Parameters), got {type(value).__name__}")


class ParameterList(Module):
    """Parameters in a list, registered under "0", "1", ... (parameters(), state_dict() keys
    "params.0", .to() and repr see them, as PyTorch's). Index (negative too; a slice gives a new
    ParameterList), len, iterate, append, extend, ``+=``; a tensor that is not a Parameter is
    wrapped in one."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _key(self, idx):
        idx = operator.index(idx)
        n = len(self._parameters)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range")
        return str(idx % n)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._parameters.values())[idx])
        return self._parameters[self._key(idx)]

    def __setitem__(self, idx, param):
        self._parameters[self._key(idx)] = _as_parameter(param, "ParameterList")

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, values):
        return self.extend(values)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, value):
        self._parameters[str(len(self))] = _as_parameter(value, "ParameterList")
        return self

    def extend(self, values):
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for v in values:
            self.append(v)
        return self

    def __repr__(self):
        lines = [f"    ({k}): {_param_line(p)}" for k, p in self._parameters.items()]
        return "ParameterList(\n" + "\n".join(lines) + "\n)" if lines else "ParameterList()"


class ParameterDict(Module):
    """Parameters by name (string keys), in insertion order, registered under their keys
    (state_dict keys "params.name"; parameters(), .to() and repr see them, as PyTorch's); the
    dict API: ``[key]``, ``in``, len, iteration over keys, keys(), values(), items(), get(),
    update(), pop(), clear(). A tensor that is not a Parameter is wrapped in one."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"parameter name should be a string. Got {type(key).__name__}")
        if "." in key or key == "":
            raise KeyError(f'parameter name can\'t contain "." or be empty, got: {key!r}')
        self._parameters[key] = _as_parameter(value, "ParameterDict")

    def __delitem__(self, key):
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def clear(self):
        self._parameters.clear()

    def pop(self, key):
        p = self[key]
        del self[key]
        return p

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def update(self, parameters):
        """Add or replace from a mapping (or ParameterDict), or an iterable of (key, value)."""
        if isinstance(parameters, (Mapping, ParameterDict)):
            for key, p in parameters.items():
                self[key] = p
            return
        if not isinstance(parameters, Iterable):
            raise TypeError("ParameterDict.update should be called with an iterable of key/value "
                            "pairs, but got " + type(parameters).__name__)
        for j, pair in enumerate(parameters):
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ParameterDict update sequence element #{j} has length "
                                 f"{len(pair)}; 2 is required")
            self[pair[0]] = pair[1]

    def __repr__(self):
        lines = [f"    ({k}): {_param_line(p)}" for k, p in self._parameters.items()]
        return "ParameterDict(\n" + "\n".join(lines) + "\n)" if lines else "ParameterDict()"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer; any constructor arguments are accepted
    and ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002  (PyTorch's argument name)
        return input


class Flatten(Module):
    """``input.flatten(start_dim, end_dim)``: by default every dim but the batch dim."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):  # noqa: A002
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """``input.unflatten(dim, unflattened_size)``: the inverse of Flatten."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):  # noqa: A002
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class _PadNd(Module):
    """F.pad(input, padding, mode) as a layer; ``padding`` an int (every side) or a tuple of
    2 * n ints (left, right[, top, bottom[, front, back]])."""

    mode, n = "constant", 1

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, numbers.Integral):
            padding = (int(padding),) * (2 * self.n)
        padding = tuple(int(p) for p in padding)
        if len(padding) != 2 * self.n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"{2 * self.n} ints, got {padding}")
        self.padding = padding

    def forward(self, input):  # noqa: A002
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):  # noqa: A002
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``."""
    n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims with ``value``."""
    n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims with ``value``."""
    n = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros."""
    n = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last 2 dims with zeros."""
    n = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last 3 dims with zeros."""
    n = 3


class ReflectionPad1d(_PadNd):
    """Mirrors the last dim (of a (C, W) or (N, C, W) input) without repeating the edge."""
    mode, n = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Mirrors the last 2 dims (of a 3-D or 4-D input) without repeating the edges."""
    mode, n = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Mirrors the last 3 dims (of a 4-D or 5-D input) without repeating the edges."""
    mode, n = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Repeats the edge values of the last dim (of a 2-D or 3-D input)."""
    mode, n = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Repeats the edge values of the last 2 dims (of a 3-D or 4-D input)."""
    mode, n = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Repeats the edge values of the last 3 dims (of a 4-D or 5-D input)."""
    mode, n = "replicate", 3


class CircularPad1d(_PadNd):
    """Wraps the last dim around (of a 2-D or 3-D input)."""
    mode, n = "circular", 1


class CircularPad2d(_PadNd):
    """Wraps the last 2 dims around (of a 3-D or 4-D input)."""
    mode, n = "circular", 2


class CircularPad3d(_PadNd):
    """Wraps the last 3 dims around (of a 4-D or 5-D input)."""
    mode, n = "circular", 3


def _softmax_dim(name, dim, ndim):
    """``dim``, or PyTorch's legacy choice when it is None (with its deprecation warning)."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


class _AlongDim(Module):
    """A function of the input along one dim (``fn(input, dim)``), with PyTorch's legacy choice
    of dim when it is None."""
    fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        fn = type(self).fn
        return fn(input, _softmax_dim(fn.__name__, self.dim, input.ndim))

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """softmax along ``dim`` (the fused kernel of F.softmax)."""
    fn = staticmethod(F.softmax)


class LogSoftmax(_AlongDim):
    """log_softmax along ``dim`` (the fused kernel of F.log_softmax)."""
    fn = staticmethod(F.log_softmax)


class _Activation(Module):
    fn = None

    def forward(self, x):
        return type(self).fn(x)


class ReLU(Module):
    """max(x, 0); ``inplace=True`` overwrites the input (relu_)."""
    _fused_act = "relu"     # nn.Sequential fuses a preceding Linear with it (ops/linalg.py)

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(_Activation):
    fn = staticmethod(F.sigmoid)
    _fused_act = "sigmoid"     # nn.Sequential fuses a preceding Linear with it (ops/linalg.py)


class Tanh(_Activation):
    fn = staticmethod(F.tanh)
    _fused_act = "tanh"     # nn.Sequential fuses a preceding Linear with it (ops/linalg.py)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate) if self.approximate != "none" else F.gelu(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x; ``inplace=True`` overwrites the input."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x where x > 0, else a * x with ``a`` learned: one slope shared by all channels or
    ``num_parameters`` of them (one per channel, dim 1), each starting at ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        _cpu_only(device, "PReLU")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype).fill_(init))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class _InplaceActivation(Module):
    """An activation whose only argument is ``inplace`` (SiLU, Mish, SELU): F.<fn>(x, inplace)."""
    fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return type(self).fn(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(_InplaceActivation):
    """x * sigmoid(x)."""
    fn = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """x * tanh(softplus(x))."""
    fn = staticmethod(F.mish)


class SELU(_InplaceActivation):
    """scale * elu(x, alpha) with the self-normalising constants."""
    fn = staticmethod(F.selu)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):  # noqa: A002
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) for x <= 0."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """clamp(x, min_val, max_val) with a zero gradient at and beyond the bounds."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if not max_val > min_val:    # (PyTorch asserts it)
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class LogSigmoid(_Activation):
    """log(sigmoid(x)), stable for large |x|."""
    fn = staticmethod(F.logsigmoid)


class Softsign(_Activation):
    """x / (1 + |x|)."""
    fn = staticmethod(F.softsign)


class ReLU6(_InplaceActivation):
    """min(max(x, 0), 6)."""
    fn = staticmethod(F.relu6)


class Hardswish(_InplaceActivation):
    """x * min(max(x + 3, 0), 6) / 6 (its repr never shows inplace, as PyTorch's)."""
    fn = staticmethod(F.hardswish)

    def extra_repr(self):
        return ""


class Hardsigmoid(Hardswish):
    """min(max(x + 3, 0), 6) / 6."""
    fn = staticmethod(F.hardsigmoid)


class CELU(Module):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softshrink(Module):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):  # noqa: A002
        return type(self).fn(input, self.lambd)

    fn = staticmethod(F.softshrink)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x outside [-lambd, lambd], 0 inside."""
    fn = staticmethod(F.hardshrink)


class Tanhshrink(_Activation):
    """x - tanh(x)."""
    fn = staticmethod(F.tanhshrink)


class Threshold(Module):
    """value where x <= threshold, else x."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class Softmin(_AlongDim):
    """softmax(-x) along ``dim`` (None: PyTorch's legacy choice, as Softmax)."""
    fn = staticmethod(F.softmin)


class GLU(Module):
    """a * sigmoid(b) for the two halves a, b of the input along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims (biased variance), then scale and
    shift by weight (ones) and bias (zeros); both None without ``elementwise_affine``, the bias
    also with ``bias=False``, as PyTorch registers them."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None,
                 dtype=None):
        super().__init__()
        _cpu_only(device, "LayerNorm")
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _norm_affine(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) inputs. Training uses the batch statistics
    (biased variance) and updates running_mean / running_var (unbiased) with ``momentum``;
    eval uses the running statistics."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype))
            self.bias = Parameter(zeros(num_features, dtype=dtype))
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", zeros((), dtype=dtypes.int64))

    def _check_input_dim(self, x):
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}) expects input of shape (N, {self.num_features}) "
                             f"or (N, {self.num_features}, L), got {x.shape}")

    def forward(self, x):
        self._check_input_dim(x)
        use_batch = self.training or not self.track_running_stats
        momentum = self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / self.num_batches_tracked.item()
        return F.batch_norm(x, self.running_mean if self.track_running_stats else None,
                            self.running_var if self.track_running_stats else None,
                            self.weight if self.affine else None, self.bias if self.affine else None,
                            use_batch, momentum if momentum is not None else 0.0, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of (N, C, H, W) input over N, H and W per channel (BatchNorm1d's
    statistics and running-average updates, on the 4-D input)."""

    def _check_input_dim(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) expects 4D input (N, "
                             f"{self.num_features}, H, W), got input of shape {x.shape}")


class BatchNorm3d(BatchNorm1d):
    """Batch normalisation of (N, C, D, H, W) input over N, D, H and W per channel (BatchNorm1d's
    statistics and running-average updates, on the 5-D input)."""

    def _check_input_dim(self, x):
        if x.ndim != 5 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm3d({self.num_features}) expects 5D input (N, "
                             f"{self.num_features}, D, H, W), got input of shape {x.shape}")


def _ntuple(v, n, name, cls):
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(e, int) for e in v):
        return tuple(v)
    raise TypeError(f"{cls}: {name} must be an int or a tuple of {n} ints, got {v!r}")


class _ConvNd(Module):
    """Conv1d / Conv2d / Conv3d: weight (out_channels, in_channels / groups, *kernel_size) and bias
    (out_channels,), PyTorch's init: kaiming_uniform_(a=sqrt(5)) for the weight, the bias from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * prod(kernel_size)."""

    _n = 2
    _transposed = False   # ConvTranspose*: weight (in_channels, out_channels / groups, *kernel_size)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        cls, n = type(self).__name__, self._n
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{cls}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"in_channels must be divisible by groups (in_channels={in_channels}, groups={groups})")
        if out_channels % groups:
            raise ValueError(f"out_channels must be divisible by groups (out_channels={out_channels}, groups={groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{cls}: padding_mode={padding_mode!r} is not supported (only 'zeros')")
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", cls)
        self.stride = _ntuple(stride, n, "stride", cls)
        self.dilation = _ntuple(dilation, n, "dilation", cls)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of ['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n, "padding", cls)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.padding_mode = padding_mode
        io = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        _weight_and_bias(self, io + self.kernel_size, bias, dtype, out_channels)

    def reset_parameters(self):
        """PyTorch's: fan_in = weight.size(1) * prod(kernel_size) (for ConvTranspose too)."""
        _reset_weight_and_bias(self.weight, self.bias, math.prod(self.weight.shape[1:]))

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if any(getattr(self, "output_padding", ())):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W) input (F.conv2d)."""

    def forward(self, x):
        p = self._parameters
        return F.conv2d(x, p["weight"], p["bias"], self.stride, self.padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W) input (F.conv3d)."""

    _n = 3

    def forward(self, x):
        p = self._parameters
        return F.conv3d(x, p["weight"], p["bias"], self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) input (F.conv1d)."""

    _n = 1

    def forward(self, x):
        p = self._parameters
        return F.conv1d(x, p["weight"], p["bias"], self.stride, self.padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    """ConvTranspose1d / 2d / 3d: weight (in_channels, out_channels / groups,
    *kernel_size), bias (out_channels,), PyTorch's init (fan_in = out_channels / groups *
    prod(kernel_size)); forward(input, output_size=None) picks output_padding to reach
    ``output_size`` as PyTorch does."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", dtype=None):
        cls = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {cls}')
        if isinstance(padding, str):
            raise ValueError(f"{cls}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, dtype)
        self.output_padding = _ntuple(output_padding, self._n, "output_padding", cls)

    def _output_padding(self, x, output_size):
        """output_padding, or the one that makes the output ``output_size`` (PyTorch's rule: each
        size in [min, min + stride - 1], min = (in - 1)*stride - 2*padding + dilation*(k - 1) + 1)."""
        if output_size is None:
            return self.output_padding
        n, cls = self._n, type(self).__name__
        size = [int(v) for v in output_size]
        if len(size) == n + 2 or (len(size) == n + 1 and x.ndim == n + 1):
            size = size[-n:]
        if len(size) != n:
            raise ValueError(f"{cls}: output_size must have {n} or {n + 2} elements (got {len(output_size)})")
        spatial = x.shape[-n:]
        lo = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
              + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(n)]
        hi = [lo[d] + self.stride[d] - 1 for d in range(n)]
        for d in range(n):
            if not lo[d] <= size[d] <= hi[d]:
                raise ValueError(f"requested an output size of {size}, but valid sizes range from "
                                 f"{lo} to {hi} (for an input of {list(spatial)})")
        return tuple(size[d] - lo[d] for d in range(n))


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C, H, W) or (C, H, W) input (F.conv_transpose2d)."""

    def forward(self, x, output_size=None):
        p = self._parameters
        return F.conv_transpose2d(x, p["weight"], p["bias"], self.stride, self.padding,
                                  self._output_padding(x, output_size), self.groups, self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution over (N, C, D, H, W) or (C, D, H, W) input (F.conv_transpose3d)."""

    _n = 3

    def forward(self, x, output_size=None):
        p = self._parameters
        return F.conv_transpose3d(x, p["weight"], p["bias"], self.stride, self.padding,
                                  self._output_padding(x, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C, L) or (C, L) input (F.conv_transpose1d)."""

    _n = 1

    def forward(self, x, output_size=None):
        p = self._parameters
        return F.conv_transpose1d(x, p["weight"], p["bias"], self.stride, self.padding,
                                  self._output_padding(x, output_size), self.groups, self.dilation)


class MaxPool2d(Module):
    """Maximum over kernel_size windows (F.max_pool2d); stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel_size windows (F.avg_pool2d); stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool3d(MaxPool2d):
    """Maximum over kernel_size windows of (N, C, D, H, W) or (C, D, H, W) input (F.max_pool3d)."""

    def forward(self, x):
        return F.max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool3d(AvgPool2d):
    """Mean over kernel_size windows of (N, C, D, H, W) or (C, D, H, W) input (F.avg_pool3d)."""

    def forward(self, x):
        return F.avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _MaxUnpoolNd(Module):
    """MaxUnpool1d/2d/3d: the partial inverse of MaxPool*d (F.max_unpool*d); kernel_size, stride
    (default: kernel_size) and padding kept as tuples, as PyTorch's; forward(input, indices,
    output_size=None)."""

    _n = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        cls, n = type(self).__name__, self._n
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", cls)
        self.stride = _ntuple(stride if stride is not None else kernel_size, n, "stride", cls)
        self.padding = _ntuple(padding, n, "padding", cls)

    def forward(self, x, indices, output_size=None):
        fn = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self._n - 1]
        return fn(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    _n = 3


class MaxPool1d(MaxPool2d):
    """Maximum over kernel_size windows of (N, C, L) or (C, L) input (F.max_pool1d)."""

    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool1d(AvgPool2d):
    """Mean over kernel_size windows of (N, C, L) or (C, L) input (F.avg_pool1d); stride defaults
    to kernel_size; sizes kept as 1-tuples, as PyTorch's."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        one = lambda v, name: _ntuple(v, 1, name, "AvgPool1d")  # noqa: E731
        super().__init__(one(kernel_size, "kernel_size"), None if stride is None else one(stride, "stride"),
                         one(padding, "padding"), ceil_mode, count_include_pad)

    def forward(self, x):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class _AdaptivePool(Module):
    """Adaptive pooling to a fixed ``output_size`` (an int, or a tuple whose None entries keep
    the input's size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    def forward(self, x):
        return F.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)


class AdaptiveAvgPool3d(_AdaptivePool):
    def forward(self, x):
        return F.adaptive_avg_pool3d(x, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    def forward(self, x):
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    def forward(self, x):
        return F.adaptive_max_pool3d(x, self.output_size, self.return_indices)


class Upsample(Module):
    """Resize by ``size`` or ``scale_factor`` (F.interpolate; modes 'nearest', 'nearest-exact',
    'linear', 'bilinear', 'bicubic', 'trilinear', 'area')."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest' (PyTorch's legacy spelling)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True (PyTorch's legacy spelling)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) (F.pixel_shuffle)."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W) (F.pixel_unshuffle)."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x):
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class Embedding(Module):
    """A lookup table: weight (num_embeddings, embedding_dim) ~ N(0, 1); forward gathers rows by
    int64 index (the backward scatter-adds, so repeated indices accumulate)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype))
        init.normal_(self.weight)
        if padding_idx is not None:
            with no_grad():
                self.weight[padding_idx].fill_(0.0)

    def forward(self, idx):
        return F.embedding(idx, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_Loss):
    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    def forward(self, input, target):
        return F.nll_loss(input, target, reduction=self.reduction)


# ---- group / instance normalisation, distances ---------------------------------------------------

def _cpu_only(device, cls):
    if device not in (None, "cpu"):
        raise ValueError(f"{cls}: tinygrad_lab runs on the CPU only, got device={device!r}")


def _norm_affine(module, n, affine, bias, dtype):
    """A normalisation layer's per-channel ``weight`` (ones) and ``bias`` (zeros), each None
    when not ``affine`` (bias also when not ``bias``), as PyTorch registers them."""
    module.register_parameter("weight", Parameter(ones(n, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(zeros(n, dtype=dtype)) if affine and bias else None)


class GroupNorm(Module):
    """Group normalisation (F.group_norm) of (N, num_channels, *) input; with ``affine`` a
    per-channel weight (ones) and bias (zeros)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *,
                 bias=True):
        super().__init__()
        _cpu_only(device, type(self).__name__)
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _norm_affine(self, num_channels, affine, bias, dtype)

    def forward(self, input):  # noqa: A002
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(Module):
    """InstanceNorm1d / 2d: F.instance_norm per (sample, channel); batch statistics in training
    or without ``track_running_stats``, else the running ones. Unbatched input (one dim fewer)
    is normalised as a batch of one."""

    _unbatched_ndim = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__()
        _cpu_only(device, type(self).__name__)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _norm_affine(self, num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", zeros((), dtype=dtypes.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, input):  # noqa: A002
        k = self._unbatched_ndim
        if not isinstance(input, Tensor) or input.ndim not in (k, k + 1):
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"expected {k}D or {k + 1}D input (got {got} input)")
        feature_dim = input.ndim - k
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match num_features "
                                 f"({self.num_features}), but got: {input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You can "
                          "silence this warning by not passing in num_features, which is not used "
                          "because affine=False")
        x = input.unsqueeze(0) if input.ndim == k else input
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if input.ndim == k else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) input."""
    _unbatched_ndim = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W) input."""
    _unbatched_ndim = 3


class CosineSimilarity(Module):
    """F.cosine_similarity(x1, x2, dim, eps)."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """F.pairwise_distance(x1, x2, p, eps, keepdim)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


# ---- more losses (F.kl_div ... F.multi_margin_loss) ----------------------------------------------

class KLDivLoss(_Loss):
    """F.kl_div; ``reduction`` also takes 'batchmean' (the sum divided by the batch size)."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__("mean" if reduction == "batchmean" else reduction)
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class _MarginLoss(_Loss):
    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin


class MarginRankingLoss(_MarginLoss):
    """F.margin_ranking_loss: max(0, -target * (input1 - input2) + margin)."""

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_MarginLoss):
    """F.hinge_embedding_loss: input where target is 1, max(0, margin - input) where -1."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(margin, reduction)

    def forward(self, input, target):  # noqa: A002
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """F.soft_margin_loss: log(1 + exp(-target * input))."""

    def forward(self, input, target):  # noqa: A002
        return F.soft_margin_loss(input, target, self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """F.cosine_embedding_loss: 1 - cos where target is 1, max(0, cos - margin) where -1."""

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_MarginLoss):
    """F.triplet_margin_loss: max(0, margin + d(anchor, positive) - d(anchor, negative))."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        super().__init__(margin, reduction)
        self.p, self.eps, self.swap = p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps,
                                     self.swap, self.reduction)


class PoissonNLLLoss(_Loss):
    """F.poisson_nll_loss: exp(input) - target * input for log-rates (``log_input``)."""

    def __init__(self, log_input=True, full=False, eps=1e-8, reduction="mean"):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, self.eps,
                                  self.reduction)


class GaussianNLLLoss(_Loss):
    """F.gaussian_nll_loss: 0.5 (log(var) + (input - target)^2 / var)."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):  # noqa: A002
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight``, kept as a buffer (in the state_dict), as
    PyTorch's."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """F.multilabel_soft_margin_loss: the class-mean of per-class logistic losses."""

    def forward(self, input, target):  # noqa: A002
        return F.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """F.multi_margin_loss: the multi-class hinge loss of scores against class indices."""

    def __init__(self, p=1, margin=1.0, weight=None, reduction="mean"):
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got "
                             f"{weight.ndim}D instead")
        super().__init__(weight, reduction)
        self.p, self.margin = p, margin

    def forward(self, input, target):  # noqa: A002
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


# ---- attention -------------------------------------------------------------------------------------

class AttentionShapeError(AssertionError, ValueError):
    """MultiheadAttention's inputs of inconsistent sizes: PyTorch's AssertionError, and this
    project's ValueError for a shape problem."""


def _float_mask(mask, dtype, name):
    """A bool mask (True = masked out) as an additive float mask (-inf / 0); a float mask as
    it is, in ``dtype`` (PyTorch's _canonical_mask)."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype is dtypes.bool_:
        return _where(mask, float("-inf"), 0.0).to(dtype)
    if not mask.dtype.is_floating_point:
        raise TypeError(f"only bool and floating types of {name} are supported")
    return mask.to(dtype)


class MultiheadAttention(Module):
    """PyTorch's nn.MultiheadAttention: query, key and value projected (in_proj_weight
    (3 * embed_dim, embed_dim), or q/k/v_proj_weight when kdim or vdim differ from embed_dim),
    split into ``num_heads`` heads, scaled dot-product attention per head (F's weights: a query
    with every key masked gives zeros, not NaN), heads concatenated and out_proj applied.
    Inputs are (L, N, E), (N, L, E) with ``batch_first``, or unbatched (L, E).
    ``key_padding_mask`` (N, S) and ``attn_mask`` ((L, S) or (N * num_heads, L, S)): bool
    (True = ignore that key) or float (added to the scores). Returns (output, weights), the
    weights (N, L, S) averaged over heads (``average_attn_weights``) or (N, num_heads, L, S),
    None unless ``need_weights``."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        _cpu_only(device, "MultiheadAttention")
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                             f"and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim, self.batch_first, self.add_zero_attn = embed_dim // num_heads, batch_first, add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, dtype=dtype))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, dtype=dtype))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        self.register_parameter("in_proj_bias", Parameter(empty(3 * embed_dim, dtype=dtype)) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, dtype=dtype))
            self.bias_v = Parameter(empty(1, 1, embed_dim, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/v."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def _projections(self):
        """(weight, bias) of the query, key and value projections."""
        e = self.embed_dim
        ws = ((self.in_proj_weight[:e], self.in_proj_weight[e:2 * e], self.in_proj_weight[2 * e:])
              if self._qkv_same_embed_dim else (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight))
        b = self.in_proj_bias
        bs = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return zip(ws, bs)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got {type(t).__name__}")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise AttentionShapeError(f"query, key and value should be all 3-D (batched) or all 2-D "
                                      f"(unbatched), got shapes {query.shape}, {key.shape} and {value.shape}")
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                               "Transformer module method `generate_square_subsequent_mask` to "
                               "create this mask.")
        # to (N, L, E)
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        n, tgt_len, e = query.shape
        src_len, h, d = key.shape[1], self.num_heads, self.head_dim
        if e != self.embed_dim:
            raise AttentionShapeError(f"was expecting embedding dimension of {self.embed_dim}, but got {e}")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != n:
            raise AttentionShapeError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                                      f"value's {value.shape[:2]} (or query's batch {n})")
        mask = _float_mask(attn_mask, query.dtype, "attn_mask")
        if mask is not None:
            if mask.ndim == 2 and mask.shape != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            if mask.ndim == 3 and mask.shape != (n * h, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {mask.shape}, but should be "
                                   f"{(n * h, tgt_len, src_len)}.")
            if mask.ndim not in (2, 3):
                raise RuntimeError(f"attn_mask's dimension {mask.ndim} is not supported")
            mask = mask.reshape(1, 1, tgt_len, src_len) if mask.ndim == 2 else mask.reshape(n, h, tgt_len, src_len)
        kpm = _float_mask(key_padding_mask, query.dtype, "key_padding_mask")
        if kpm is not None:
            if kpm.shape != (n, src_len):
                raise AttentionShapeError(f"expecting key_padding_mask shape of {(n, src_len)}, but got {kpm.shape}")
            kpm = kpm.reshape(n, 1, 1, src_len)
            mask = kpm if mask is None else mask + kpm
        (wq, bq), (wk, bk), (wv, bv) = self._projections()
        q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
        extra = 0                       # key positions appended (bias_k/v, add_zero_attn)
        if self.bias_k is not None:
            k = _cat([k, self.bias_k.expand(n, 1, e)], 1)
            v = _cat([v, self.bias_v.expand(n, 1, e)], 1)
            extra += 1
        if self.add_zero_attn:
            k = _cat([k, zeros(n, 1, e, dtype=k.dtype)], 1)
            v = _cat([v, zeros(n, 1, e, dtype=v.dtype)], 1)
            extra += 1
        if mask is not None and extra:
            mask = F.pad(mask, (0, extra))
        # heads: (N, H, L, D)
        q = q.reshape(n, tgt_len, h, d).transpose(1, 2)
        k = k.reshape(n, src_len + extra, h, d).transpose(1, 2)
        v = v.reshape(n, src_len + extra, h, d).transpose(1, 2)
        weights = F._attention_weights(q, k, mask, self.dropout if self.training else 0.0,
                                       1.0 / math.sqrt(d))
        out = (weights @ v).transpose(1, 2).reshape(n, tgt_len, e)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights if batched else weights.squeeze(0))


# ---- RMSNorm, channel and alpha dropout, RReLU, Softmax2d, Bilinear, Fold/Unfold, ChannelShuffle,
# ---- LocalResponseNorm, LPPool, MultiLabelMarginLoss, CTCLoss, EmbeddingBag ------------------------

class RMSNorm(Module):
    """F.rms_norm over the trailing ``normalized_shape`` dims, times a weight (ones; None
    without ``elementwise_affine``). eps None: the machine epsilon of the input's dtype."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        _cpu_only(device, "RMSNorm")
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.register_parameter("weight", Parameter(ones(self.normalized_shape, dtype=dtype))
                                if elementwise_affine else None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _DropoutNd(Module):
    """p and inplace, PyTorch's _DropoutNd; forward calls ``fn`` with self.training."""
    fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):  # noqa: A002
        return type(self).fn(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """F.dropout1d: whole channels of (N, C, L) or (C, L) input zeroed with probability p."""
    fn = F.dropout1d


class Dropout2d(_DropoutNd):
    """F.dropout2d: whole channels of (N, C, H, W) or (C, H, W) input zeroed with probability p."""
    fn = F.dropout2d


class Dropout3d(_DropoutNd):
    """F.dropout3d: whole channels of (N, C, D, H, W) or (C, D, H, W) input zeroed."""
    fn = F.dropout3d


class AlphaDropout(_DropoutNd):
    """F.alpha_dropout: dropout that keeps a SELU network's mean and variance."""
    fn = F.alpha_dropout


class FeatureAlphaDropout(_DropoutNd):
    """F.feature_alpha_dropout: alpha dropout of whole channels."""
    fn = F.feature_alpha_dropout


class RReLU(Module):
    """F.rrelu with training = self.training: random negative slopes in [lower, upper] while
    training, (lower + upper) / 2 in eval mode."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):  # noqa: A002
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of (N, C, H, W) or (C, H, W) input."""

    def forward(self, input):  # noqa: A002
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)


class Bilinear(Module):
    """F.bilinear: y = x1^T A x2 + b with weight (out_features, in1_features, in2_features) and
    bias (out_features,), both U(-1/sqrt(in1_features), 1/sqrt(in1_features)) as PyTorch."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _cpu_only(device, "Bilinear")
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype))
        self.register_parameter("bias", Parameter(empty(out_features, dtype=dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Fold(Module):
    """F.fold: (N, C * prod(kernel_size), L) columns summed back into (N, C, *output_size)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):  # noqa: A002
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """F.unfold: the sliding blocks of (N, C, H, W) input as (N, C * kH * kW, L) columns."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):  # noqa: A002
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class ChannelShuffle(Module):
    """F.channel_shuffle with ``groups``."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):  # noqa: A002
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"


class LocalResponseNorm(Module):
    """F.local_response_norm across ``size`` neighbouring channels."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):  # noqa: A002
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class _LPPoolNd(Module):
    fn = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input):  # noqa: A002
        return type(self).fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """F.lp_pool1d: the p-norm of each window."""
    fn = F.lp_pool1d


class LPPool2d(_LPPoolNd):
    """F.lp_pool2d: the p-norm of each kH x kW window."""
    fn = F.lp_pool2d


class MultiLabelMarginLoss(_Loss):
    """F.multilabel_margin_loss."""

    def forward(self, input, target):  # noqa: A002
        return F.multilabel_margin_loss(input, target, self.reduction)


class CTCLoss(_Loss):
    """F.ctc_loss with ``blank``, ``reduction`` and ``zero_infinity``."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)


class EmbeddingBag(Module):
    """F.embedding_bag over weight (num_embeddings, embedding_dim) ~ N(0, 1) (row padding_idx
    zeroed); forward(input, offsets=None, per_sample_weights=None)."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        _cpu_only(device, "EmbeddingBag")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight)
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0.0)

    def forward(self, input, offsets=None, per_sample_weights=None):  # noqa: A002
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse, per_sample_weights,
                               self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is ``embeddings`` (2-d); ``freeze`` turns off its grad."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
