"""F.scaled_dot_product_attention and nn.MultiheadAttention: outputs, attention weights and
every gradient (inputs and parameters) against PyTorch with the same weights (state_dict copied
across by name), masks of both kinds, causal, unbatched, batch_first, gradcheck in float64, and
PyTorch's errors. (Composites of matmul, softmax, where and linear.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import gradcheck

RNG = np.random.default_rng(3)


def _same_output_and_grads(y, r, pairs):
    """y (tl) equals r (torch); after backward of one random output gradient through both,
    each (tl tensor, torch tensor) of ``pairs`` has the same .grad."""
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(y.detach().numpy(), r.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = RNG.standard_normal(r.shape)
    y.backward(tl.tensor(g))
    r.backward(torch.tensor(g))
    for x, t in pairs:
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def _sdpa_vs_torch(shapes, tl_kw=None, torch_kw=None):
    torch = pytest.importorskip("torch")
    arrays = [RNG.standard_normal(s) for s in shapes]
    xs = [tl.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.scaled_dot_product_attention(*xs, **(tl_kw or {}))
    r = torch.nn.functional.scaled_dot_product_attention(*ts, **(torch_kw or tl_kw or {}))
    _same_output_and_grads(y, r, zip(xs, ts))


QKV = ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))


def test_sdpa_plain_causal_scale_gqa():
    _sdpa_vs_torch(QKV)
    _sdpa_vs_torch(QKV, {"is_causal": True, "scale": 0.3})
    _sdpa_vs_torch(((6, 5), (4, 5), (4, 3)), {"is_causal": True})        # more queries than keys
    _sdpa_vs_torch(((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 7)), {"enable_gqa": True})


def test_sdpa_masks_and_fully_masked_rows():
    torch = pytest.importorskip("torch")
    m = RNG.random((4, 6)) < 0.5
    m[1] = False                                   # a query that sees no key: zeros, zero grad
    _sdpa_vs_torch(QKV, {"attn_mask": tl.tensor(m)}, {"attn_mask": torch.tensor(m)})
    fm = RNG.standard_normal((3, 1, 6))
    fm[0, 0, :] = -np.inf
    _sdpa_vs_torch(QKV, {"attn_mask": tl.tensor(fm)}, {"attn_mask": torch.tensor(fm)})


def test_sdpa_gradcheck_and_float32():
    q, k, v = (tl.tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    mask = tl.tensor(RNG.standard_normal((3, 5)))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask), (q, k, v))
    y = F.scaled_dot_product_attention(q.detach().float(), k.detach().float(), v.detach().float(), is_causal=True)
    assert y.dtype is tl.float32 and y.shape == (2, 3, 3)


def test_sdpa_dropout_and_errors():
    q, k, v = (tl.tensor(RNG.standard_normal(s)) for s in ((3, 4), (5, 4), (5, 2)))
    tl.manual_seed(0)
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tl.ones(3, 5, dtype=tl.bool), is_causal=True)
    with pytest.raises(ValueError, match="same last dim"):
        F.scaled_dot_product_attention(q, k[:, :3], v)
    with pytest.raises(ValueError, match="same sequence length"):
        F.scaled_dot_product_attention(q, k, v[:4])
    with pytest.raises(TypeError, match="same floating-point dtype"):
        F.scaled_dot_product_attention(q, k, v.float())
    with pytest.raises(RuntimeError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tl.ones(2, 5))


def _mha_vs_torch(kw, q, k, v, fwd=None):
    torch = pytest.importorskip("torch")
    fwd = fwd or {}
    ref = torch.nn.MultiheadAttention(**kw).double()
    m = tl.nn.MultiheadAttention(**kw).double()
    assert list(m.state_dict()) == list(ref.state_dict())
    m.load_state_dict({n: tl.tensor(p.detach().numpy()) for n, p in ref.state_dict().items()})
    tq = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    mq = [tl.tensor(a, requires_grad=True) for a in (q, k, v)]
    conv = {n: tl.tensor(a.numpy()) if isinstance(a, torch.Tensor) else a for n, a in fwd.items()}
    o, w = ref(*tq, **fwd)
    o2, w2 = m(*mq, **conv)
    assert (w is None) == (w2 is None)
    if w is not None:
        np.testing.assert_allclose(w2.detach().numpy(), w.detach().numpy(), rtol=1e-10, atol=1e-12)
    params = dict(m.named_parameters())
    _same_output_and_grads(o2, o, list(zip(mq, tq)) + [(params[n], p) for n, p in ref.named_parameters()])


L, S, N, E = 3, 4, 2, 8
Q, K, V = RNG.standard_normal((L, N, E)), RNG.standard_normal((S, N, E)), RNG.standard_normal((S, N, E))


def test_mha_plain_batch_first_unbatched():
    _mha_vs_torch({"embed_dim": E, "num_heads": 2}, Q, K, V)
    t = lambda a: a.transpose(1, 0, 2).copy()    # noqa: E731
    _mha_vs_torch({"embed_dim": E, "num_heads": 2, "batch_first": True}, t(Q), t(K), t(V))
    _mha_vs_torch({"embed_dim": E, "num_heads": 4}, Q[:, 0], K[:, 0], V[:, 0])


def test_mha_masks():
    torch = pytest.importorskip("torch")
    kpm = np.zeros((N, S), bool)
    kpm[0, 1] = True
    am = RNG.standard_normal((L, S))
    _mha_vs_torch({"embed_dim": E, "num_heads": 4}, Q, K, V,
                  {"key_padding_mask": torch.tensor(kpm), "attn_mask": torch.tensor(am > 0),
                   "average_attn_weights": False})
    causal = torch.tensor(np.triu(np.ones((L, S), bool), 1))
    _mha_vs_torch({"embed_dim": E, "num_heads": 2}, Q, K, V,
                  {"attn_mask": causal, "need_weights": False, "is_causal": True})
    _mha_vs_torch({"embed_dim": E, "num_heads": 2, "kdim": 5, "vdim": 3, "bias": False},
                  Q, RNG.standard_normal((S, N, 5)), RNG.standard_normal((S, N, 3)),
                  {"attn_mask": torch.tensor(RNG.standard_normal((N * 2, L, S)))})
    _mha_vs_torch({"embed_dim": E, "num_heads": 2, "add_bias_kv": True, "add_zero_attn": True},
                  Q, K, V, {"attn_mask": torch.tensor(am)})


def test_mha_errors_and_defaults():
    m = tl.nn.MultiheadAttention(E, 2)
    assert m.in_proj_weight.shape == (3 * E, E) and m.q_proj_weight is None
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and m.out_proj.weight.shape == (E, E)
    q = tl.tensor(Q, dtype=tl.float32)
    out, w = m(q, q, q)
    assert out.shape == (L, N, E) and w.shape == (N, L, L)
    with pytest.raises(AssertionError):
        tl.nn.MultiheadAttention(6, 4)
    with pytest.raises(AssertionError, match="expecting embedding dimension of 8"):
        m(q[..., :4], q[..., :4], q[..., :4])
    with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask"):
        m(q, q, q, attn_mask=tl.zeros(2, 2))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(q, q, q, is_causal=True)
    with pytest.raises(ValueError, match="key_padding_mask"):
        m(q, q, q, key_padding_mask=tl.zeros(N, L + 1, dtype=tl.bool))
    m.dropout = 1.0                      # training: every weight dropped
    assert np.all(m(q, q, q)[1].detach().numpy() == 0)
    m.eval()
    assert np.all(m(q, q, q)[1].detach().numpy() > 0)


def test_masked_attention_and_multi_margin_capture_under_jit():
    """No value is read from Python on the way (no data-dependent branch), so tl.jit captures
    and replays them."""
    mask = tl.tensor(RNG.random((3, 5)) < 0.5)
    sdpa = tl.jit(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    loss = tl.jit(lambda x, t: F.multi_margin_loss(x, t))
    q, k, v = tl.randn(3, 4), tl.randn(5, 4), tl.randn(5, 2)
    x, t = tl.randn(4, 5), tl.tensor([0, 1, 2, 3])
    for _ in range(3):
        np.testing.assert_allclose(sdpa(q, k, v).numpy(), F.scaled_dot_product_attention(q, k, v, attn_mask=mask).numpy())
        assert loss(x, t).item() == pytest.approx(F.multi_margin_loss(x, t).item())
