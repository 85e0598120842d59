"""nn.RNN / LSTM / GRU and RNNCell / LSTMCell / GRUCell (tinygrad_lab/nn/rnn.py): outputs, final
states and every gradient (input, initial states, all parameters) against PyTorch with the same
weights (state_dict copied across by name) in float64; layers, bidirectional, batch_first,
unbatched, proj_size, dropout; gradcheck of the cells; PyTorch's errors; a tl.jit-captured LSTM
training step replays the eager losses."""
import math

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import gradcheck

RNG = np.random.default_rng(7)


def _pair(name, *args, **kw):
    """(tl module in float64, torch module with the same weights)."""
    torch = pytest.importorskip("torch")
    m = getattr(tl.nn, name)(*args, dtype=tl.float64, **kw)
    t = getattr(torch.nn, name)(*args, dtype=torch.float64, **kw)
    assert list(m.state_dict()) == list(t.state_dict())
    for (k, a), b in zip(m.state_dict().items(), t.state_dict().values()):
        assert a.shape == tuple(b.shape), k
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    return m, t


def _flat(r):
    """An output tuple (possibly nested, as LSTM's) as a flat list of tensors."""
    out = []
    for v in (r if isinstance(r, (tuple, list)) else (r,)):
        out += _flat(v) if isinstance(v, (tuple, list)) else [v]
    return out


def _compare(m, t, x_shape, hx_shapes=None):
    """Forward both with the same input (and initial states), backward random output
    gradients through every output; compare outputs and the gradients of the input, the
    states and every parameter (atol 1e-10)."""
    torch = pytest.importorskip("torch")
    arrays = [RNG.standard_normal(x_shape)] + [RNG.standard_normal(s) for s in hx_shapes or ()]
    xs = [tl.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    hx_l = hx_t = None
    if hx_shapes:
        hx_l, hx_t = (xs[1:], ts[1:]) if len(hx_shapes) == 2 else (xs[1], ts[1])
        if len(hx_shapes) == 2:
            hx_l, hx_t = tuple(hx_l), tuple(hx_t)
    ys, rs = _flat(m(xs[0], hx_l)), _flat(t(ts[0], hx_t))
    assert len(ys) == len(rs)
    loss_l, loss_t = 0, 0
    for y, r in zip(ys, rs):
        assert y.shape == tuple(r.shape)
        np.testing.assert_allclose(y.detach().numpy(), r.detach().numpy(), rtol=0, atol=1e-10)
        g = RNG.standard_normal(r.shape)
        loss_l = loss_l + (y * tl.tensor(g)).sum()
        loss_t = loss_t + (r * torch.tensor(g)).sum()
    loss_l.backward()
    loss_t.backward()
    for a, b in zip(xs, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=0, atol=1e-10)
    tp = dict(t.named_parameters())
    for k, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[k].grad.numpy(), rtol=0, atol=1e-10, err_msg=k)


def test_rnn_tanh_relu_layers_and_directions():
    m, t = _pair("RNN", 3, 4)
    _compare(m, t, (5, 2, 3))
    m, t = _pair("RNN", 3, 4, num_layers=2, nonlinearity="relu", bidirectional=True)
    _compare(m, t, (4, 2, 3), [(4, 2, 4)])
    m, t = _pair("RNN", 3, 4, bias=False, batch_first=True)
    _compare(m, t, (2, 4, 3), [(1, 2, 4)])


def test_lstm_layers_bidirectional_batch_first_unbatched():
    m, t = _pair("LSTM", 3, 4)
    _compare(m, t, (5, 2, 3))
    m, t = _pair("LSTM", 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    _compare(m, t, (2, 4, 3), [(4, 2, 4), (4, 2, 4)])
    m, t = _pair("LSTM", 3, 4, num_layers=2)
    _compare(m, t, (4, 3), [(2, 4), (2, 4)])                     # unbatched, with states
    _compare(m, t, (4, 3))


def test_lstm_proj_size():
    m, t = _pair("LSTM", 3, 5, num_layers=2, bidirectional=True, proj_size=2)
    assert m.weight_hr_l1_reverse.shape == (2, 5) and m.weight_ih_l1.shape == (20, 4)
    _compare(m, t, (3, 2, 3), [(4, 2, 2), (4, 2, 5)])


def test_gru_layers_bidirectional_unbatched():
    m, t = _pair("GRU", 3, 4, num_layers=2, bidirectional=True)
    _compare(m, t, (4, 2, 3), [(4, 2, 4)])
    m, t = _pair("GRU", 3, 4, batch_first=True, bias=False)
    _compare(m, t, (4, 3))
    m, t = _pair("GRU", 2, 3, bidirectional=True)
    _compare(m, t, (18, 1, 2))              # long enough for the steps to be taken in blocks


def test_cells_against_torch():
    for name, hx in (("RNNCell", [(2, 4)]), ("LSTMCell", [(2, 4), (2, 4)]), ("GRUCell", [(2, 4)])):
        m, t = _pair(name, 3, 4)
        _compare(m, t, (2, 3), hx)
        _compare(m, t, (2, 3))
        _compare(m, t, (3,), [s[1:] for s in hx])               # unbatched
    m, t = _pair("RNNCell", 3, 4, nonlinearity="relu", bias=False)
    _compare(m, t, (2, 3), [(2, 4)])


def test_cells_gradcheck():
    tl.manual_seed(0)
    x = tl.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    h = tl.tensor(RNG.standard_normal((2, 2)), requires_grad=True)
    c = tl.tensor(RNG.standard_normal((2, 2)), requires_grad=True)
    lstm = tl.nn.LSTMCell(3, 2, dtype=tl.float64)
    gru = tl.nn.GRUCell(3, 2, dtype=tl.float64)
    assert gradcheck(lambda a, b, d, *ws: lstm(a, (b, d))[0] * 2 + lstm(a, (b, d))[1],
                     (x, h, c, *lstm.parameters()))
    assert gradcheck(lambda a, b, *ws: gru(a, b), (x, h, *gru.parameters()))


def test_parameters_init_repr_and_all_weights():
    tl.manual_seed(1)
    m = tl.nn.GRU(3, 16, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse"]
    assert len(names) == 16 and m.weight_ih_l1.shape == (48, 32) and m.bias_hh_l1_reverse.shape == (48,)
    bound = 1 / math.sqrt(16)
    for p in m.parameters():
        v = p.detach().numpy()
        assert p.dtype == tl.float32 and v.min() >= -bound and v.max() <= bound and v.std() > bound / 3
    m.flatten_parameters()
    assert len(m.all_weights) == 4 and m.all_weights[3][0] is m.weight_ih_l1_reverse
    assert repr(m) == "GRU(3, 16, num_layers=2, bidirectional=True)"
    assert repr(tl.nn.LSTM(3, 4, proj_size=2, batch_first=True)) == "LSTM(3, 4, proj_size=2, batch_first=True)"
    assert repr(tl.nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert tl.nn.LSTMCell(3, 4, bias=False).bias_ih is None


def test_dropout_between_layers():
    tl.manual_seed(0)
    m = tl.nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = tl.randn(4, 2, 3)
    tl.manual_seed(1)
    a = m(x)[0]
    tl.manual_seed(2)
    b = m(x)[0]
    assert not np.array_equal(a.detach().numpy(), b.detach().numpy())   # dropout in training
    m.eval()
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), m(x)[0].detach().numpy())
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        tl.nn.GRU(3, 4, dropout=0.2)


def test_constructor_errors():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'x'. Select from 'tanh' or 'relu'."):
        tl.nn.RNN(3, 4, nonlinearity="x")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        tl.nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        tl.nn.GRU(3, 0)
    with pytest.raises(TypeError, match="input_size should be of type int, got: float"):
        tl.nn.GRU(3.0, 4)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        tl.nn.RNN(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        tl.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(TypeError):
        tl.nn.GRU(3, 4, proj_size=2)        # not an argument of GRU (PyTorch: same TypeError)


def test_forward_errors_as_pytorch():
    lstm, rnn = tl.nn.LSTM(3, 4), tl.nn.RNN(3, 4)
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        lstm(tl.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 1D tensor instead"):
        rnn(tl.zeros(3))
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 5"):
        lstm(tl.zeros(2, 2, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 4\), got \[1, 3, 4\]"):
        lstm(tl.zeros(5, 2, 3), (tl.zeros(1, 3, 4), tl.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 2, 5\]"):
        lstm(tl.zeros(5, 2, 3), (tl.zeros(1, 2, 4), tl.zeros(1, 2, 5)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 2, 3\]"):
        rnn(tl.zeros(5, 2, 3), tl.zeros(1, 2, 3))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        rnn(tl.zeros(5, 3), tl.zeros(1, 1, 4))
    with pytest.raises(RuntimeError, match=r"For batched 3-D input, hx and cx should also be 3-D but got \(2-D, 3-D\)"):
        lstm(tl.zeros(5, 2, 3), (tl.zeros(2, 4), tl.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        rnn(tl.zeros(5, 2, 3, dtype=tl.float64))


def test_cell_errors_as_pytorch():
    cell, lcell = tl.nn.GRUCell(3, 4), tl.nn.LSTMCell(3, 4)
    with pytest.raises(ValueError, match="GRUCell: Expected input to be 1D or 2D, got 3D instead"):
        cell(tl.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="GRUCell: Expected hidden to be 1D or 2D, got 3D instead"):
        cell(tl.zeros(2, 3), tl.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 3"):
        cell(tl.zeros(2, 5))
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 5, expected 4"):
        cell(tl.zeros(2, 3), tl.zeros(2, 5))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        cell(tl.zeros(2, 3), tl.zeros(3, 4))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 5, expected 4"):
        lcell(tl.zeros(2, 3), (tl.zeros(2, 4), tl.zeros(2, 5)))
    with pytest.raises(ValueError, match=r"LSTMCell: Expected hx\[1\] to be 1D or 2D, got 3D instead"):
        lcell(tl.zeros(2, 3), (tl.zeros(2, 4), tl.zeros(1, 2, 4)))


def _lstm_model(calls):
    emb = tl.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    head = tl.nn.Linear(5, 1)
    opt = tl.optim.Adam(list(emb.parameters()) + list(head.parameters()), lr=0.05)

    def step(x, y):
        calls.append(1)
        opt.zero_grad()
        out, (h, c) = emb(x)
        loss = tl.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()
        opt.step()
        return loss
    return step


def test_jit_captures_an_lstm_training_step():
    x = tl.tensor(RNG.standard_normal((2, 4, 3)), dtype=tl.float32)
    y = tl.tensor(RNG.standard_normal((2, 1)), dtype=tl.float32)
    losses = []
    for use_jit in (False, True):
        tl.manual_seed(0)
        calls = []
        step = _lstm_model(calls)
        run = tl.jit(step) if use_jit else step
        losses.append([run(x, y).item() for _ in range(5)])
    assert losses[0] == losses[1]
    assert len(calls) == 2                      # eager, capture; then three replays in C
    assert losses[0][-1] < losses[0][0]
