"""nn.TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder
and Transformer against PyTorch with the same weights (state_dict copied across by name):
outputs, input gradients and every parameter gradient in float64, in eval mode and in train
mode with dropout=0, with masks of both kinds, batch_first, norm_first, gelu/callable
activations, bias=False and unbatched input; a gradcheck; PyTorch's errors; copy.deepcopy
(which the stacks' layer clones use) and LayerNorm(bias=False)."""
import copy
import warnings

import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn as nn
from tinygrad_lab.autograd import gradcheck

RNG = np.random.default_rng(7)
D, H, FF = 4, 2, 6          # d_model, nhead, dim_feedforward: small and fast


def _pair(name, *args, train=False, **kw):
    """The tl and torch module ``name`` built with the same arguments (float64), torch's
    weights copied into ours."""
    torch = pytest.importorskip("torch")
    tm = getattr(torch.nn, name)(*args, dtype=torch.float64, **kw)
    m = getattr(nn, name)(*args, dtype=tl.float64, **kw)
    assert list(m.state_dict()) == list(tm.state_dict())
    m.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    m.train(train)
    tm.train(train)
    return m, tm


def _masks(*arrays):
    """Each NumPy array as a (tl, torch) pair (None stays None)."""
    torch = pytest.importorskip("torch")
    return [(None, None) if a is None else (tl.tensor(a), torch.tensor(a)) for a in arrays]


def _check(m, tm, shapes, tl_kw, torch_kw):
    """m(*inputs, **tl_kw) equals tm(*inputs, **torch_kw); after one random output gradient,
    the inputs' and every parameter's gradients agree."""
    torch = pytest.importorskip("torch")
    arrays = [RNG.standard_normal(s) for s in shapes]
    xs = [tl.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, r = m(*xs, **tl_kw), tm(*ts, **torch_kw)
    np.testing.assert_allclose(y.detach().numpy(), r.detach().numpy(), rtol=1e-9, atol=1e-11)
    g = RNG.standard_normal(r.shape)
    y.backward(tl.tensor(g))
    r.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)
    theirs = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)


def _kw(**pairs):
    """({name: tl value}, {name: torch value}) from name=(tl, torch) pairs."""
    return {k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()}


@pytest.mark.parametrize("kw, train", [
    ({}, False),
    ({"norm_first": True, "batch_first": True, "activation": "gelu"}, True),
    ({"bias": False, "layer_norm_eps": 1e-3}, True),
])
def test_encoder_layer_matches_torch(kw, train):
    m, tm = _pair("TransformerEncoderLayer", D, H, FF, dropout=0.0, train=train, **kw)
    # (S, N) = (5, 3); a bool src_mask and a bool padding mask (some queries see no key)
    attn = RNG.random((5, 5)) < 0.3
    pad = np.zeros((3, 5), bool)
    pad[0, 3:] = True
    tl_kw, torch_kw = _kw(src_mask=_masks(attn)[0], src_key_padding_mask=_masks(pad)[0])
    shape = (3, 5, D) if kw.get("batch_first") else (5, 3, D)
    _check(m, tm, [shape], tl_kw, torch_kw)


def test_encoder_layer_float_mask_unbatched_and_callable_activation():
    torch = pytest.importorskip("torch")
    m, tm = _pair("TransformerEncoderLayer", D, H, FF, dropout=0.0)
    fm = RNG.standard_normal((5, 5))
    tl_kw, torch_kw = _kw(src_mask=_masks(fm)[0])
    _check(m, tm, [(5, D)], tl_kw, torch_kw)                      # unbatched (S, E)
    # a callable activation, and the causal hint with its mask
    m, tm = _pair("TransformerEncoderLayer", D, H, FF, dropout=0.0)
    m.activation, tm.activation = tl.nn.functional.silu, torch.nn.functional.silu
    cm = tl.nn.Transformer.generate_square_subsequent_mask(5, dtype=tl.float64)
    tcm = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    _check(m, tm, [(5, 2, D)], {"src_mask": cm, "is_causal": True}, {"src_mask": tcm, "is_causal": True})


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "batch_first": True}])
def test_decoder_layer_matches_torch(kw):
    m, tm = _pair("TransformerDecoderLayer", D, H, FF, dropout=0.0, train=True, **kw)
    bf = kw.get("batch_first")
    (tgt_mask, ttgt_mask), (mem_mask, tmem_mask), (tkpm, ttkpm), (mkpm, tmkpm) = _masks(
        np.triu(np.ones((4, 4), bool), 1), RNG.random((4, 5)) < 0.3,
        np.array([[False] * 3 + [True], [False] * 4]), np.array([[False] * 5, [False] * 2 + [True] * 3]))
    tl_kw = dict(tgt_mask=tgt_mask, memory_mask=mem_mask, tgt_key_padding_mask=tkpm,
                 memory_key_padding_mask=mkpm, tgt_is_causal=True)
    torch_kw = dict(tgt_mask=ttgt_mask, memory_mask=tmem_mask, tgt_key_padding_mask=ttkpm,
                    memory_key_padding_mask=tmkpm, tgt_is_causal=True)
    shapes = [(2, 4, D), (2, 5, D)] if bf else [(4, 2, D), (5, 2, D)]
    _check(m, tm, shapes, tl_kw, torch_kw)


def test_stacks_clone_the_layer_and_match_torch():
    torch = pytest.importorskip("torch")
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, dtype=tl.float64)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D, dtype=tl.float64), enable_nested_tensor=False)
    assert len(enc.layers) == 2 and enc.layers[0] is not layer
    p0, p1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert p0 is not p1 and type(p0) is nn.Parameter and np.array_equal(p0.detach().numpy(), p1.detach().numpy())
    tlayer = torch.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, dtype=torch.float64)
    tenc = torch.nn.TransformerEncoder(tlayer, 2, norm=torch.nn.LayerNorm(D, dtype=torch.float64),
                                       enable_nested_tensor=False)
    enc.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in tenc.state_dict().items()})
    pad = np.zeros((2, 5), bool)
    pad[1, 4] = True
    tl_kw, torch_kw = _kw(src_key_padding_mask=_masks(pad)[0])
    _check(enc, tenc, [(5, 2, D)], tl_kw, torch_kw)
    dlayer = nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, batch_first=True, dtype=tl.float64)
    tdlayer = torch.nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, batch_first=True, dtype=torch.float64)
    dec, tdec = nn.TransformerDecoder(dlayer, 2), torch.nn.TransformerDecoder(tdlayer, 2)
    dec.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in tdec.state_dict().items()})
    _check(dec, tdec, [(2, 3, D), (2, 5, D)], {}, {})


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(batch_first):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # torch's nested-tensor notice
        m, tm = _pair("Transformer", D, H, 1, 2, FF, dropout=0.0, batch_first=batch_first, train=True)
    cm = nn.Transformer.generate_square_subsequent_mask(3, dtype=tl.float64)
    tcm = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    shapes = [(2, 5, D), (2, 3, D)] if batch_first else [(5, 2, D), (3, 2, D)]
    _check(m, tm, shapes, {"tgt_mask": cm}, {"tgt_mask": tcm})
    if not batch_first:
        m.eval()
        tm.eval()
        _check(m, tm, [(5, D), (3, D)], {"tgt_mask": cm}, {"tgt_mask": tcm})   # unbatched


def test_transformer_init_and_square_subsequent_mask():
    m = nn.Transformer(D, H, 1, 1, FF)
    assert (m.d_model, m.nhead, m.batch_first) == (D, H, False)
    assert isinstance(m.encoder.norm, nn.LayerNorm) and isinstance(m.decoder.norm, nn.LayerNorm)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()     # xavier_uniform_: |w| <= sqrt(6/(in+out))
    assert np.abs(w).max() <= np.sqrt(6 / (D + FF)) and np.abs(w).max() > 0
    assert float(m.decoder.layers[0].norm1.weight.sum()) == D      # 1-D parameters untouched
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    assert mask.dtype is tl.float32
    np.testing.assert_array_equal(mask.numpy(), np.where(np.triu(np.ones((4, 4)), 1) > 0, -np.inf, 0.0))
    custom = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 1)
    assert nn.Transformer(D, H, custom_encoder=custom, num_decoder_layers=1, dim_feedforward=FF).encoder is custom


def test_dropout_in_train_mode_only():
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.5)
    x = tl.randn(5, 2, D)
    assert layer.dropout.p == layer.dropout1.p == layer.dropout2.p == 0.5
    layer.eval()
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    layer.train()
    tl.manual_seed(0)
    c = layer(x)
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())


def test_gradcheck_encoder_and_decoder_layers():
    enc = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, dtype=tl.float64)
    dec = nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, norm_first=True, activation="gelu",
                                     dtype=tl.float64)
    src = tl.tensor(RNG.standard_normal((3, 1, D)), requires_grad=True)
    tgt = tl.tensor(RNG.standard_normal((2, 1, D)), requires_grad=True)
    w = enc.linear1.weight
    assert gradcheck(lambda x, w_: enc(x), (src, w))
    cm = nn.Transformer.generate_square_subsequent_mask(2, dtype=tl.float64)
    assert gradcheck(lambda t, m_: dec(t, m_, tgt_mask=cm), (tgt, src))


def test_errors_and_warnings():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, H, activation="tanh")
    with pytest.raises(ValueError, match="CPU only"):
        nn.TransformerDecoderLayer(D, H, device="cuda")
    layer = nn.TransformerEncoderLayer(D, H, FF)
    x = tl.randn(3, 2, D)
    with pytest.raises(AssertionError, match="only bool and floating types of src_mask"):
        layer(x, src_mask=tl.zeros(3, 3, dtype=tl.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        layer(x, is_causal=True)
    with pytest.warns(UserWarning, match="mismatched src_key_padding_mask and src_mask"):
        layer(x, src_mask=tl.zeros(3, 3), src_key_padding_mask=tl.zeros(2, 3, dtype=tl.bool))
    m = nn.Transformer(D, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(tl.randn(3, 2, D), tl.randn(3, 1, D))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        m(tl.randn(3, 2, D), tl.randn(3, 2, D + 1))
    with pytest.raises(TypeError, match="expected a Module"):
        nn.TransformerEncoder("layer", 2)


def test_deepcopy():
    p = nn.Parameter(tl.randn(2, 3))
    p.grad = tl.ones(2, 3)
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q is not p
    assert q.grad is not p.grad and np.array_equal(q.grad.numpy(), p.grad.numpy())
    with tl.no_grad():
        q.add_(1.0)
    assert not np.allclose(q.detach().numpy(), p.detach().numpy())
    t = tl.arange(6.0).reshape(2, 3).transpose(0, 1)              # a view: copied values, same shape
    c = copy.deepcopy(t)
    assert type(c) is tl.Tensor and not c.requires_grad
    np.testing.assert_array_equal(c.numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(p * 2)
    layer = nn.TransformerDecoderLayer(D, H, FF, activation=nn.GELU())   # a Module activation
    clone = copy.deepcopy(layer)
    assert isinstance(clone.activation, nn.GELU) and clone.activation is not layer.activation
    assert all(a is not b for a, b in zip(clone.parameters(), layer.parameters()))


def test_layer_norm_without_bias():
    torch = pytest.importorskip("torch")
    ln, tln = nn.LayerNorm(D, bias=False), torch.nn.LayerNorm(D, bias=False)
    assert list(ln.state_dict()) == list(tln.state_dict()) == ["weight"] and ln.bias is None
    x = RNG.standard_normal((2, D)).astype(np.float32)
    np.testing.assert_allclose(ln(tl.tensor(x)).detach().numpy(), tln(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
