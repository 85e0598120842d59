"""tl.nn.utils.rnn (pad_sequence, PackedSequence, pack_padded_sequence, pad_packed_sequence,
pack_sequence, unpack_sequence, unpad_sequence) and nn.RNN / LSTM / GRU on a PackedSequence:
values, batch_sizes, sorted/unsorted indices and gradients against PyTorch (float64, same weights
via state_dict), gradcheck through pack and pad, PyTorch's errors."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import gradcheck, gradgradcheck
from tinygrad_lab.nn.utils import rnn as R

RNG = np.random.default_rng(11)


def _torch_rnn():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as TR
    return torch, TR


# ---- plain tests (no torch) -------------------------------------------------------------------

def test_pack_pad_round_trip_and_layout():
    x = tl.tensor(np.arange(4 * 3, dtype=np.float64).reshape(4, 3))     # (T=4, B=3)
    p = R.pack_padded_sequence(x, [4, 2, 1])
    assert p.batch_sizes.tolist() == [3, 2, 1, 1] and p.sorted_indices is None
    assert p.data.tolist() == [0, 1, 2, 3, 4, 6, 9]             # step-major, running sequences
    data, batch_sizes, sorted_indices, unsorted_indices = p        # a named tuple
    assert data is p.data and p._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    out, lens = R.pad_packed_sequence(p, padding_value=-1)
    assert lens.tolist() == [4, 2, 1] and lens.dtype is tl.int64
    assert out.tolist() == [[0, 1, 2], [3, 4, -1], [6, -1, -1], [9, -1, -1]]
    q = R.pack_padded_sequence(x, [1, 4, 2], enforce_sorted=False)
    assert q.sorted_indices.tolist() == [1, 2, 0] and q.unsorted_indices.tolist() == [2, 0, 1]
    assert q.data.tolist() == [1, 2, 0, 4, 5, 7, 10]
    out, lens = R.pad_packed_sequence(q, batch_first=True, total_length=5)
    assert lens.tolist() == [1, 4, 2] and out.shape == (3, 5)
    assert out.tolist() == [[0, 0, 0, 0, 0], [1, 4, 7, 10, 0], [2, 5, 0, 0, 0]]


def test_pad_sequence_sides_and_lists():
    a, b = tl.tensor([[1., 2.], [3., 4.], [5., 6.]]), tl.tensor([[7., 8.]])
    assert R.pad_sequence([a, b], batch_first=True, padding_value=9).tolist() == [
        [[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 9], [9, 9]]]
    assert R.pad_sequence([a, b], padding_side="left").tolist() == [
        [[1, 2], [0, 0]], [[3, 4], [0, 0]], [[5, 6], [7, 8]]]
    seqs = R.unpack_sequence(R.pack_sequence([b, a], enforce_sorted=False))
    assert [s.tolist() for s in seqs] == [b.tolist(), a.tolist()]
    parts = R.unpad_sequence(R.pad_sequence([a, b]), tl.tensor([3, 1]))
    assert [s.tolist() for s in parts] == [a.tolist(), b.tolist()]


def test_gradients_flow_through_pack_and_pad():
    x = tl.tensor(RNG.standard_normal((4, 3, 2)), requires_grad=True)
    for es, lens in ((True, [4, 3, 1]), (False, [2, 4, 3])):
        def f(t):
            p = R.pack_padded_sequence(t, lens, enforce_sorted=es)
            return R.pad_packed_sequence(p._with_data(p.data * p.data), padding_value=0.5)[0]
        assert gradcheck(f, [x]) and gradgradcheck(f, [x])
    a = tl.tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    b = tl.tensor(RNG.standard_normal((1, 2)), requires_grad=True)
    assert gradcheck(lambda u, v: R.pad_sequence([u, v], padding_side="left").exp(), [a, b])
    assert gradcheck(lambda u, v: R.pack_sequence([v, u], enforce_sorted=False).data.sin(), [a, b])


def test_packed_lstm_states_are_each_sequences_last_step():
    """h_n of a length-L sequence equals running that sequence alone for L steps."""
    m = tl.nn.LSTM(3, 4, bidirectional=True, dtype=tl.float64)
    x = tl.tensor(RNG.standard_normal((5, 3, 3)))
    lens = [2, 5, 3]
    with tl.no_grad():
        out, (h, c) = m(R.pack_padded_sequence(x, lens, enforce_sorted=False))
        padded, _ = R.pad_packed_sequence(out)
    for b, n in enumerate(lens):
        with tl.no_grad():
            y, (hb, cb) = m(x[:n, b])
        np.testing.assert_allclose(h[:, b].numpy(), hb.numpy(), atol=1e-12)
        np.testing.assert_allclose(c[:, b].numpy(), cb.numpy(), atol=1e-12)
        np.testing.assert_allclose(padded[:n, b].numpy(), y.numpy(), atol=1e-12)
        assert not padded[n:, b].numpy().any()


def test_packed_gru_gradcheck():
    m = tl.nn.GRU(2, 3, num_layers=2, bidirectional=True, dtype=tl.float64)
    x = tl.tensor(RNG.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = tl.tensor(RNG.standard_normal((4, 2, 3)), requires_grad=True)

    def f(t, h):
        out, hn = m(R.pack_padded_sequence(t, [1, 3], enforce_sorted=False), h)
        return out.data, hn
    assert gradcheck(f, [x, h0])


@pytest.mark.parametrize("call,exc,msg", [
    (lambda x: R.pack_padded_sequence(x, [2, 3, 1]), RuntimeError, "must be sorted in decreasing order"),
    (lambda x: R.pack_padded_sequence(x, [3, 2, 0]), RuntimeError, "greater than 0"),
    (lambda x: R.pack_padded_sequence(x, [0, 2, 1], enforce_sorted=False), RuntimeError, "greater than 0"),
    (lambda x: R.pack_padded_sequence(x, [5, 2, 1]), RuntimeError, "exceeds the padded input's number of steps"),
    (lambda x: R.pack_padded_sequence(x, [3, 2]), RuntimeError, r"len\(lengths\)` to be equal to batch_size"),
    (lambda x: R.pack_padded_sequence(x, tl.tensor([[3, 2, 1]])), RuntimeError, "1D CPU int64"),
    (lambda x: R.pack_padded_sequence(x[0, 0], [2]), IndexError, "Dimension out of range"),
    (lambda x: R.pack_padded_sequence(x[:0], [1, 1, 1]), RuntimeError, "Cannot pack empty tensors"),
    (lambda x: R.pad_packed_sequence(R.pack_padded_sequence(x, [3, 2, 1]), total_length=2),
     ValueError, "total_length=2 and max sequence length being 3"),
    (lambda x: R.pad_sequence([]), RuntimeError, "empty list of sequences"),
    (lambda x: R.pack_sequence([]), RuntimeError, "empty list of sequences"),
    (lambda x: R.pad_sequence([x[0], x[1]], padding_side="middle"), RuntimeError, "padding_side"),
    (lambda x: R.pad_sequence([x[0], x[1, :, :1]]), RuntimeError, "trailing dims must match"),
    (lambda x: R.pad_packed_sequence(x), TypeError, "PackedSequence"),
    (lambda x: tl.nn.LSTM(2, 3)(R.pack_padded_sequence(x, [3, 2, 1]), (tl.zeros(1, 2, 3), tl.zeros(1, 3, 3))),
     RuntimeError, r"Expected hidden\[0\] size \(1, 3, 3\), got \[1, 2, 3\]"),
    (lambda x: tl.nn.GRU(2, 3)(R.pack_padded_sequence(x, [3, 2, 1]), tl.zeros(3, 3)),
     RuntimeError, "hx should also be 3-D"),
    (lambda x: tl.nn.RNN(4, 3)(R.pack_padded_sequence(x, [3, 2, 1])), RuntimeError, "input_size"),
])
def test_errors_as_pytorch(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(tl.zeros(4, 3, 2))


# ---- against torch ----------------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lens,enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 5], False),
                                                 ([3, 3, 1, 3], False), ([1, 1, 1, 1], True)])
def test_pack_and_pad_against_torch(batch_first, lens, enforce_sorted):
    torch, TR = _torch_rnn()
    x = RNG.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))
    a, b = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pa = R.pack_padded_sequence(a, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pb = TR.pack_padded_sequence(b, torch.tensor(lens), batch_first=batch_first,
                                 enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(pa.data.detach().numpy(), pb.data.detach().numpy())
    for u, v in zip(pa[1:], pb[1:]):
        assert (u is None and v is None) or u.tolist() == v.tolist()
    oa, la = R.pad_packed_sequence(pa, batch_first=batch_first, padding_value=2.5, total_length=7)
    ob, lb = TR.pad_packed_sequence(pb, batch_first=batch_first, padding_value=2.5, total_length=7)
    np.testing.assert_array_equal(oa.detach().numpy(), ob.detach().numpy())
    assert la.tolist() == lb.tolist()
    g = RNG.standard_normal(tuple(ob.shape))
    (oa * tl.tensor(g)).sum().backward()
    (ob * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    seqs = [RNG.standard_normal((n, 2)) for n in lens]
    for side in ("left", "right"):
        np.testing.assert_array_equal(
            R.pad_sequence([tl.tensor(s) for s in seqs], batch_first, -1.0, side).numpy(),
            TR.pad_sequence([torch.tensor(s) for s in seqs], batch_first, -1.0, side).numpy())
    ua = R.unpack_sequence(R.pack_sequence([tl.tensor(s) for s in seqs], enforce_sorted=False))
    ub = TR.unpack_sequence(TR.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False))
    for u, v in zip(ua, ub):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def _run_both(m, t, x, lens, batch_first, enforce_sorted, hx_shapes):
    torch, TR = _torch_rnn()
    arrays = [x] + [RNG.standard_normal(s) for s in hx_shapes]
    ls = [tl.tensor(v, requires_grad=True) for v in arrays]
    ts = [torch.tensor(v, requires_grad=True) for v in arrays]
    hl = ht = None
    if hx_shapes:
        hl, ht = (tuple(ls[1:]), tuple(ts[1:])) if len(hx_shapes) == 2 else (ls[1], ts[1])
    ya, ha = m(R.pack_padded_sequence(ls[0], lens, batch_first, enforce_sorted), hl)
    yb, hb = t(TR.pack_padded_sequence(ts[0], lens, batch_first, enforce_sorted), ht)
    assert isinstance(ya, R.PackedSequence)
    assert ya.batch_sizes.tolist() == yb.batch_sizes.tolist()
    ha, hb = (ha if isinstance(ha, tuple) else (ha,)), (hb if isinstance(hb, tuple) else (hb,))
    loss_l, loss_t = 0, 0
    for u, v in zip((ya.data,) + ha, (yb.data,) + hb):
        assert u.shape == tuple(v.shape)
        np.testing.assert_allclose(u.detach().numpy(), v.detach().numpy(), rtol=0, atol=1e-10)
        g = RNG.standard_normal(tuple(v.shape))
        loss_l = loss_l + (u * tl.tensor(g)).sum()
        loss_t = loss_t + (v * torch.tensor(g)).sum()
    loss_l.backward()
    loss_t.backward()
    for u, v in zip(ls, ts):
        np.testing.assert_allclose(u.grad.numpy(), v.grad.numpy(), rtol=0, atol=1e-10)
    for (k, p), q in zip(m.named_parameters(), t.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (1, True), (2, False), (2, True)])
@pytest.mark.parametrize("batch_first,lens,enforce_sorted", [
    (False, [6, 4, 4, 1], True), (True, [3, 6, 1, 5], False), (False, [2, 2, 6, 2], False)])
def test_packed_rnns_against_torch(mode, layers, bidirectional, batch_first, lens, enforce_sorted):
    torch, _ = _torch_rnn()
    m = getattr(tl.nn, mode)(3, 4, layers, bidirectional=bidirectional, batch_first=batch_first,
                             dtype=tl.float64)
    t = getattr(torch.nn, mode)(3, 4, layers, bidirectional=bidirectional, batch_first=batch_first,
                                dtype=torch.float64)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    x = RNG.standard_normal((4, 6, 3) if batch_first else (6, 4, 3))
    hx = (layers * (1 + bidirectional), 4, 4)
    for hx_shapes in ((), (hx, hx) if mode == "LSTM" else (hx,)):
        m.zero_grad()
        t.zero_grad()
        _run_both(m, t, x, lens, batch_first, enforce_sorted, hx_shapes)


def test_packed_lstm_proj_size_and_rnn_relu_against_torch():
    torch, _ = _torch_rnn()
    for name, kw in (("LSTM", dict(proj_size=2, num_layers=2, bidirectional=True)),
                     ("RNN", dict(nonlinearity="relu", bias=False))):
        m = getattr(tl.nn, name)(3, 5, dtype=tl.float64, **kw)
        t = getattr(torch.nn, name)(3, 5, dtype=torch.float64, **kw)
        t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
        _run_both(m, t, RNG.standard_normal((4, 3, 3)), [2, 4, 3], False, False, ())
