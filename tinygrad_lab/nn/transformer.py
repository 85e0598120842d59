"""PyTorch's transformer layers: nn.TransformerEncoderLayer, TransformerEncoder,
TransformerDecoderLayer, TransformerDecoder and Transformer, composed of MultiheadAttention,
Linear, Dropout and LayerNorm with PyTorch's arguments and submodule names, so state_dicts copy
across by name. The ``is_causal`` arguments are hints only: the mask passed is what is applied
(PyTorch may apply a causal mask instead when the hint is given)."""
import copy
import warnings

from .. import dtypes
from ..creation import full
from ..ops.elementwise import where as _where
from ..tensor import Tensor
from . import functional as F
from . import init
from .modules import (GELU, Dropout, LayerNorm, Linear, Module, ModuleList, MultiheadAttention, ReLU,
                      _cpu_only)


def _activation_fn(activation):
    """``"relu"`` / ``"gelu"`` as F.relu / F.gelu; a callable (function or Module) as it is."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


def _canonical_mask(mask, name, dtype, other=None, other_name=""):
    """PyTorch's _canonical_mask: a bool mask (True = not attended) as an additive float mask
    (-inf / 0) of ``dtype``, a float mask as it is; other dtypes raise AssertionError. Warns when
    ``other`` (the mask this one is combined with) has a different dtype."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype is not dtypes.bool_ and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other is not None and other.dtype is not mask.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same type "
                      f"for both instead.", stacklevel=3)
    if mask.dtype.is_floating_point:
        return mask
    return _where(mask, float("-inf"), 0.0).to(dtype)


def _attend(attn, x, mem, attn_mask, key_padding_mask, is_causal):
    """One attention sub-block's output (no weights), as PyTorch's _sa_block / _mha_block:
    ``x`` attends to ``mem`` (to itself when ``mem`` is None)."""
    mem = x if mem is None else mem
    return attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                need_weights=False, is_causal=is_causal)[0]


class _TransformerLayer(Module):
    """What the encoder layer (``_N_BLOCKS`` 2) and the decoder layer (3) share: the
    submodules, under PyTorch's names and in its order -- self_attn, (the decoder's
    multihead_attn), the feed-forward block (linear1, dropout, linear2, activation),
    norm1..norm<n>, dropout1..dropout<n> -- and the residual step around each block."""

    _N_BLOCKS = 2

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, device=None,
                 dtype=None):
        super().__init__()
        _cpu_only(device, type(self).__name__)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        if self._N_BLOCKS == 3:                              # a decoder layer: attention to memory
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        for i in range(1, self._N_BLOCKS + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        for i in range(1, self._N_BLOCKS + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        activation = _activation_fn(activation)
        self.activation_relu_or_gelu = (1 if activation is F.relu or isinstance(activation, ReLU) else
                                        2 if activation is F.gelu or isinstance(activation, GELU) else 0)
        self.activation = activation

    def _residual(self, x, norm, dropout, block):
        """``norm(x + dropout(block(x)))``, or ``x + dropout(block(norm(x)))`` with norm_first."""
        if self.norm_first:
            return x + dropout(block(norm(x)))
        return norm(x + dropout(block(x)))

    def _ff_block(self, x):
        """linear2(dropout(activation(linear1(x)))), before the residual step's dropout."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm:
    ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``, or with ``norm_first``
    ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``. Input (S, N, E), (N, S, E) with
    ``batch_first``, or unbatched (S, E)."""

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        dt = src.dtype if isinstance(src, Tensor) else None
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", dt,
                                               src_mask, "src_mask")
        src_mask = _canonical_mask(src_mask, "src_mask", dt)
        x = self._residual(src, self.norm1, self.dropout1, lambda h: _attend(
            self.self_attn, h, None, src_mask, src_key_padding_mask, is_causal))
        return self._residual(x, self.norm2, self.dropout2, self._ff_block)


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention on ``tgt``, attention over ``memory`` (multihead_attn), then a
    feed-forward block, each with a residual connection and LayerNorm (norm1..norm3; before
    each block with ``norm_first``)."""

    _N_BLOCKS = 3

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = self._residual(tgt, self.norm1, self.dropout1, lambda h: _attend(
            self.self_attn, h, None, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self._residual(x, self.norm2, self.dropout2, lambda h: _attend(
            self.multihead_attn, h, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self._residual(x, self.norm3, self.dropout3, self._ff_block)


def _clones(layer, num_layers):
    """``num_layers`` independent deep copies of ``layer`` (PyTorch's _get_clones)."""
    if not isinstance(layer, Module):
        raise TypeError(f"expected a Module layer, got {type(layer).__name__}")
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm`` if given.
    ``enable_nested_tensor`` and ``mask_check`` are accepted and ignored (no nested tensors)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        # the bool -> float conversions once here, not in every layer
        dt = src.dtype if isinstance(src, Tensor) else None
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", dt,
                                               mask, "mask")
        mask = _canonical_mask(mask, "mask", dt)
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=bool(is_causal),
                         src_key_padding_mask=src_key_padding_mask)
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn to ``tgt`` (each attending
    to ``memory``), then ``norm`` if given."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask,
                         memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """An encoder (``num_encoder_layers`` encoder layers + LayerNorm) over ``src`` and a
    decoder (``num_decoder_layers`` decoder layers + LayerNorm) over ``tgt`` attending to the
    encoder's output; ``custom_encoder`` / ``custom_decoder`` replace either. Every parameter
    with more than one dim is xavier_uniform_-initialised, as PyTorch."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation=F.relu, custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        _cpu_only(device, "Transformer")
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        def stack(cls, layer_cls, num_layers):
            return cls(layer_cls(*layer_args, dtype=dtype), num_layers,
                       LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))

        self.encoder = (custom_encoder if custom_encoder is not None else
                        stack(TransformerEncoder, TransformerEncoderLayer, num_encoder_layers))
        self.decoder = (custom_decoder if custom_decoder is not None else
                        stack(TransformerDecoder, TransformerDecoderLayer, num_decoder_layers))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
                src_is_causal=None, tgt_is_causal=None, memory_is_causal=False):
        for name, t in (("src", src), ("tgt", tgt)):
            if not isinstance(t, Tensor):
                raise TypeError(f"Transformer: {name} must be a Tensor, got {type(t).__name__}")
        if src.ndim == 3 and src.shape[0 if self.batch_first else 1] != tgt.shape[0 if self.batch_first else 1]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """An (sz, sz) float mask: -inf above the diagonal (future positions), 0 elsewhere."""
        _cpu_only(device, "generate_square_subsequent_mask")
        return full((sz, sz), float("-inf"), dtype=dtype).triu(1)
