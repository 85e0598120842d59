"""Recurrent layers with PyTorch's signatures, parameter names and init: RNN (tanh/relu), LSTM
(with proj_size), GRU and their cells. Composites of existing ops: the input projection of a
whole sequence is one F.linear, then a Python loop over the time steps runs the recurrence, and
autograd differentiates through it (no recurrent-specific kernel or Function). A PackedSequence
input runs the same steps on the packed rows: step t takes the first batch_sizes[t] rows of the
state (sequences sorted by decreasing length), so each sequence's final state is its state after
its own last step."""
import math
import numbers
import warnings

from ..creation import empty, zeros
from ..ops.shape import cat as _cat
from ..ops.index import index_select
from ..ops.shape import stack as _stack
from ..tensor import Tensor
from . import functional as F
from . import init
from .modules import Module, Parameter, _cpu_only
from .utils.rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---- one time step (gi: the input projection x @ W_ih.T + b_ih, already computed) --------------

def _rnn_step(gi, h, w_hh, b_hh, relu):
    pre = gi + F.linear(h, w_hh, b_hh)
    return F.relu(pre) if relu else pre.tanh()


def _lstm_step(gi, h, c, w_hh, b_hh, w_hr):
    """Gates in PyTorch's order i, f, g, o; with ``w_hr`` (proj_size) h is projected."""
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(gi, h, w_hh, b_hh):
    """Gates in PyTorch's order r, z, n; the reset gate multiplies h's projection, bias included
    (n = tanh(x W_in + b_in + r * (h W_hn + b_hn)))."""
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)


def _time_steps(gi):
    """gi[0], ..., gi[T - 1] as views. Taken in two levels (blocks of ~sqrt(T) steps, then the
    steps of each block) because the gradient of a slice is a zero tensor of its base's shape:
    T slices of gi directly would cost O(T^2) in backward, the two levels O(T^1.5)."""
    steps = gi.shape[0]
    block = max(1, math.isqrt(steps))
    if block < 4:
        return [gi[t] for t in range(steps)]
    out = []
    for start in range(0, steps, block):
        part = gi[start:start + block]
        out += [part[t] for t in range(part.shape[0])]
    return out


def _packed_steps(gi, batch_sizes):
    """Each time step's rows of packed ``gi`` (batch_sizes[t] rows for step t) as views, taken
    in two levels for the reason _time_steps gives."""
    starts = [0]
    for bs in batch_sizes:
        starts.append(starts[-1] + bs)
    steps = len(batch_sizes)
    block = max(1, math.isqrt(steps))
    out = []
    for b0 in range(0, steps, block):
        b1 = min(b0 + block, steps)
        part = gi[starts[b0]:starts[b1]]
        out += [part[starts[t] - starts[b0]:starts[t + 1] - starts[b0]] for t in range(b0, b1)]
    return out


def _check_tensor(x, what, cls):
    if not isinstance(x, Tensor):
        raise TypeError(f"{cls}: {what} must be a Tensor, got {type(x).__name__}")


class RNNBase(Module):
    """The multi-layer recurrent layers' common part: parameters ``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (and LSTM's ``weight_hr_l{k}``),
    suffixed ``_reverse`` for the backward direction, all from U(-1/sqrt(hidden_size),
    1/sqrt(hidden_size)) as in PyTorch."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        _cpu_only(device, mode)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} should be of type int, got: {type(v).__name__}")
            if v <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        num_directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * num_directions
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(empty(*shape, dtype=dtype)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """Nothing to do (PyTorch compacts weights for cuDNN here); kept so code calling it runs."""

    @property
    def all_weights(self):
        """Per layer and direction, the list of its parameters (PyTorch's ``all_weights``)."""
        per = 2 + 2 * self.bias + (self.proj_size > 0)
        ws = [getattr(self, n) for n in self._flat_weights_names]
        return [ws[i:i + per] for i in range(0, len(ws), per)]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ---- forward ----
    def _check_input(self, x, name):
        _check_tensor(x, "input", name)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D"
                             + (" tensor instead" if name == "RNN" else " instead"))
        w = self._parameters[self._flat_weights_names[0]]
        if x.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype ({w.dtype}). "
                             f"Convert input: input.to({w.dtype}), or convert model: model.to({x.dtype})")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")

    def _check_hidden(self, h, expected, msg="Expected hidden size {}, got {}"):
        _check_tensor(h, "hx", type(self).__name__)
        if tuple(h.shape) != expected:
            raise RuntimeError(msg.format(expected, list(h.shape)))

    def _step(self, gi, state, w_hh, b_hh, w_hr):
        """One time step of this layer's kind: the new state tuple ((h,) or (h, c))."""
        if self.mode == "LSTM":
            return _lstm_step(gi, state[0], state[1], w_hh, b_hh, w_hr)
        if self.mode == "GRU":
            return (_gru_step(gi, state[0], w_hh, b_hh),)
        return (_rnn_step(gi, state[0], w_hh, b_hh, self.mode == "RNN_RELU"),)

    def _run_packed(self, x, batch_sizes, states):
        """x: packed data (sum of lengths, input_size), batch_sizes as ints (non-increasing);
        states: per layer and direction, the initial state tuple with batch_sizes[0] rows in
        packed order. Returns the top layer's packed output and the final states (each
        sequence's state after its own last step; the reverse direction starts there)."""
        num_directions = 2 if self.bidirectional else 1
        steps, finals = len(batch_sizes), []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                p = self._parameters
                gis = _packed_steps(F.linear(x, p["weight_ih" + suffix], p.get("bias_ih" + suffix)),
                                    batch_sizes)
                args = (p["weight_hh" + suffix], p.get("bias_hh" + suffix), p.get("weight_hr" + suffix))
                seq, h0 = [None] * steps, states[k]
                if direction == 0:
                    # sequences that end drop off the bottom of the batch; keep their last state
                    state, done = h0, []
                    for t in range(steps):
                        bs = batch_sizes[t]
                        if bs < state[0].shape[0]:
                            done.append(tuple(v[bs:] for v in state))
                            state = tuple(v[:bs] for v in state)
                        state = self._step(gis[t], state, *args)
                        seq[t] = state[0]
                    done.append(state)
                    final = state if len(done) == 1 else tuple(
                        _cat([d[i] for d in reversed(done)], 0) for i in range(len(state)))
                else:
                    # from the last step back: a sequence joins (from its h0) at its last step
                    state = tuple(v[:0] for v in h0)
                    for t in range(steps - 1, -1, -1):
                        have, bs = state[0].shape[0], batch_sizes[t]
                        if bs > have:
                            state = tuple(_cat([v, v0[have:bs]], 0) if have else v0[:bs]
                                          for v, v0 in zip(state, h0))
                        state = self._step(gis[t], state, *args)
                        seq[t] = state[0]
                    final = state
                finals.append(final)
                outs.append(_cat(seq, 0))
            x = outs[0] if num_directions == 1 else _cat(outs, -1)
        return x, finals

    def _forward_packed(self, packed, hx):
        """forward for a PackedSequence: ``hx`` None or a tuple of (L * D, N, H) tensors in the
        original batch order. Returns (PackedSequence, final state tuple in the original order)."""
        name = type(self).__name__
        self._check_input(packed.data, name)
        if packed.data.ndim != 2:
            raise ValueError(f"{name}: a PackedSequence's data must be 2-D (sum of lengths, "
                             f"input_size), got {packed.data.ndim}D")
        batch_sizes = [int(b) for b in packed.batch_sizes.tolist()]
        if not batch_sizes or any(b <= 0 for b in batch_sizes) or any(
                a < b for a, b in zip(batch_sizes, batch_sizes[1:])) or sum(batch_sizes) != packed.data.shape[0]:
            raise ValueError(f"{name}: batch_sizes {batch_sizes} do not describe a packed batch of "
                             f"{packed.data.shape[0]} rows (positive, non-increasing, summing to it)")
        n = batch_sizes[0]
        num_directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        sizes = [real_hidden] + ([self.hidden_size] if self.mode == "LSTM" else [])
        if hx is None:
            hx = tuple(zeros(self.num_layers * num_directions, n, s, dtype=packed.data.dtype)
                       for s in sizes)
        else:
            msgs = (["Expected hidden[0] size {}, got {}", "Expected hidden[1] size {}, got {}"]
                    if self.mode == "LSTM" else ["Expected hidden size {}, got {}"])
            for h, s, msg in zip(hx, sizes, msgs):
                _check_tensor(h, "hx", name)
                if h.ndim != 3:
                    raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                       f"{h.ndim}-D tensor")
                self._check_hidden(h, (self.num_layers * num_directions, n, s), msg)
            if packed.sorted_indices is not None:
                hx = tuple(index_select(h, 1, packed.sorted_indices) for h in hx)
        states = [tuple(h[k] for h in hx) for k in range(self.num_layers * num_directions)]
        out, finals = self._run_packed(packed.data, batch_sizes, states)
        final = tuple(_stack([f[i] for f in finals], 0) for i in range(len(sizes)))
        if packed.unsorted_indices is not None:
            final = tuple(index_select(h, 1, packed.unsorted_indices) for h in final)
        return packed._with_data(out), final

    def _run(self, x, states):
        """x: (T, N, input_size); states: per layer and direction, the initial state tuple
        ((h,) or (h, c)). Returns the top layer's (T, N, D * H_out) output and the final
        states in the same layout."""
        num_directions = 2 if self.bidirectional else 1
        finals = []
        steps = x.shape[0]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                p = self._parameters
                gi = F.linear(x, p["weight_ih" + suffix], p.get("bias_ih" + suffix))
                w_hh, b_hh = p["weight_hh" + suffix], p.get("bias_hh" + suffix)
                w_hr = p.get("weight_hr" + suffix)
                state = states[k]
                seq, gis = [None] * steps, _time_steps(gi)
                for t in (range(steps - 1, -1, -1) if direction else range(steps)):
                    state = self._step(gis[t], state, w_hh, b_hh, w_hr)
                    seq[t] = state[0]
                finals.append(state)
                outs.append(_stack(seq, 0) if steps else zeros(0, x.shape[1], state[0].shape[-1], dtype=x.dtype))
            x = outs[0] if num_directions == 1 else _cat(outs, -1)
        return x, finals

    def _forward(self, x, hx):
        """Shared forward: ``hx`` is None or a tuple of (L * D, N, H) tensors (already checked
        for their number of dims and unsqueezed when the input is unbatched)."""
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        n = x.shape[1]
        num_directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        sizes = [real_hidden] + ([self.hidden_size] if self.mode == "LSTM" else [])
        if hx is None:
            hx = tuple(zeros(self.num_layers * num_directions, n, s, dtype=x.dtype) for s in sizes)
        else:
            msgs = (["Expected hidden[0] size {}, got {}", "Expected hidden[1] size {}, got {}"]
                    if self.mode == "LSTM" else ["Expected hidden size {}, got {}"])
            for h, s, msg in zip(hx, sizes, msgs):
                self._check_hidden(h, (self.num_layers * num_directions, n, s), msg)
        states = [tuple(h[k] for h in hx) for k in range(self.num_layers * num_directions)]
        out, finals = self._run(x, states)
        final = tuple(_stack([f[i] for f in finals], 0) for i in range(len(sizes)))
        if not batched:
            out = out.squeeze(1)
            final = tuple(h.squeeze(1) for h in final)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, final

    def _forward_one_state(self, input, hx, name):  # noqa: A002
        """RNN's and GRU's forward: one state tensor h (LSTM has the pair (h, c))."""
        if isinstance(input, PackedSequence):
            out, (h,) = self._forward_packed(input, None if hx is None else (hx,))
            return out, h
        self._check_input(input, name)
        out, (h,) = self._forward(input, None if hx is None else (self._hx_dims(input, hx),))
        return out, h

    def _hx_dims(self, x, hx):
        """PyTorch's check that h0 has 3 dims for batched and 2 for unbatched input; the
        unbatched one gets its batch dim."""
        _check_tensor(hx, "hx", type(self).__name__)
        want = x.ndim
        if hx.ndim != want:
            kind = "batched 3-D" if want == 3 else "unbatched 2-D"
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {hx.ndim}-D tensor")
        return hx if want == 3 else hx.unsqueeze(1)


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act ``'tanh'`` or
    ``'relu'``. forward(input, hx=None) -> (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx, "RNN")


class GRU(RNNBase):
    """Gated recurrent unit, gates r, z, n (PyTorch's formulas and order).
    forward(input, hx=None) -> (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx, "GRU")


class LSTM(RNNBase):
    """Long short-term memory, gates i, f, g, o (PyTorch's order); with ``proj_size`` > 0 the
    hidden state is projected by ``weight_hr_l{k}`` (proj_size, hidden_size).
    forward(input, hx=None) with hx = (h_0, c_0) -> (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of Tensors")
        if isinstance(input, PackedSequence):
            out, (h, c) = self._forward_packed(input, None if hx is None else tuple(hx))
            return out, (h, c)
        self._check_input(input, "LSTM")
        if hx is not None:
            for h in hx:
                _check_tensor(h, "hx", "LSTM")
            dims = (hx[0].ndim, hx[1].ndim)
            if dims != (input.ndim, input.ndim):
                kind = "batched 3-D" if input.ndim == 3 else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, hx and cx should also be {input.ndim}-D but "
                                   f"got ({dims[0]}-D, {dims[1]}-D) tensors")
            if input.ndim == 2:
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        out, (h, c) = self._forward(input, hx)
        return out, (h, c)


# ---- cells ----------------------------------------------------------------------------------------

class RNNCellBase(Module):
    """One step's parameters: ``weight_ih`` (G * hidden, input), ``weight_hh`` (G * hidden,
    hidden), ``bias_ih``, ``bias_hh`` (G * hidden), from U(-1/sqrt(hidden), 1/sqrt(hidden))."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        _cpu_only(device, type(self).__name__)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        return s if nl == "tanh" else s + f", nonlinearity={nl}"

    def _prepare(self, input, hidden, hidden_names):
        """Checks as PyTorch's cells (ValueError for the number of dims, RuntimeError for sizes);
        returns (batched, 2-D input, list of 2-D hidden states, zeros when not given)."""
        name = type(self).__name__
        _check_tensor(input, "input", name)
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        for what, h in zip(hidden_names, hidden):
            if h is not None:
                _check_tensor(h, what, name)
                if h.ndim not in (1, 2):
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}")
        hs = []
        for i, h in enumerate(hidden):
            if h is None:
                h = zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
            elif not batched:
                h = h.unsqueeze(0)
            if h.ndim != 2 or x.shape[0] != h.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{i} batch size "
                                   f"{h.shape[0] if h.ndim == 2 else list(h.shape)}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {h.shape[1]}, "
                                   f"expected {self.hidden_size}")
            hs.append(h)
        return batched, x, hs

    def _gi(self, x):
        return F.linear(x, self.weight_ih, self.bias_ih)


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act ``'tanh'`` or ``'relu'``;
    forward(input, hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        batched, x, (h,) = self._prepare(input, [hx], ["hidden"])
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        h = _rnn_step(self._gi(x), h, self.weight_hh, self.bias_hh, self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step, gates i, f, g, o; forward(input, hx=None) with hx = (h, c) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h, c) of Tensors")
        batched, x, (h, c) = self._prepare(input, [None, None] if hx is None else list(hx),
                                           ["hx[0]", "hx[1]"])
        h, c = _lstm_step(self._gi(x), h, c, self.weight_hh, self.bias_hh, None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step, gates r, z, n; forward(input, hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        batched, x, (h,) = self._prepare(input, [hx], ["hidden"])
        h = _gru_step(self._gi(x), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
