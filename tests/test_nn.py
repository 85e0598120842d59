"""tl.nn modules: registration, state dicts, modes, PyTorch's initialisations, normalisation
layers, Embedding and Dropout (values against NumPy, gradients by gradcheck)."""
import math

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab import nn
from tinygrad_lab.nn import functional as F

needs_matmul = pytest.mark.skipif(not hasattr(tl.Tensor, "matmul"), reason="tl.matmul not built")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        self.scale = nn.Parameter(tl.ones(2))
        self.register_buffer("steps", tl.zeros((), dtype=tl.int64))
        self.register_buffer("scratch", tl.zeros(2), persistent=False)

    def forward(self, x):
        return self.body(x) * self.scale


def test_registration_names_and_state_dict_keys():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]
    assert list(net.state_dict()) == names[:1] + ["steps"] + names[1:] or \
        set(net.state_dict()) == set(names) | {"steps"}
    assert "scratch" not in net.state_dict()
    assert len(list(net.children())) == 1 and len(list(net.modules())) == 5
    assert all(p.requires_grad and isinstance(p, tl.Tensor) for p in net.parameters())


def test_sequential_keys_match_pytorch_style():
    m = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(m[0], nn.Linear) and len(m) == 3
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in repr(m)


def test_load_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (ka, pa), (kb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(pa.numpy(), pb.numpy())
    sd = a.state_dict()
    sd["extra"] = tl.zeros(1)
    with pytest.raises(RuntimeError, match="unexpected keys"):
        b.load_state_dict(sd)
    sd = a.state_dict()
    sd["scale"] = tl.zeros(3)
    with pytest.raises(RuntimeError, match=r"size mismatch for scale.*\(3,\).*\(2,\)"):
        b.load_state_dict(sd)


def test_train_eval_and_zero_grad():
    net = Net()
    assert net.training and net.body[0].training
    net.eval()
    assert not net.training and not net.body[0].training
    net.train()
    for p in net.parameters():
        p.grad = tl.ones_like(p)
    net.zero_grad(set_to_none=False)
    assert all(p.grad.numpy().sum() == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_linear_init_bounds_match_pytorch():
    tl.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound   # uniform(-b, b) has std b/sqrt(3)
    assert np.abs(b).max() <= bound
    assert lin.bias is not None and nn.Linear(3, 2, bias=False).bias is None


@pytest.mark.parametrize("fn,expected_std", [
    (lambda t: nn.init.xavier_uniform_(t), math.sqrt(2 / (200 + 100))),
    (lambda t: nn.init.xavier_normal_(t), math.sqrt(2 / (200 + 100))),
    (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2) / math.sqrt(200)),
    (lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2) / math.sqrt(200)),
    (lambda t: nn.init.normal_(t, 0.0, 0.3), 0.3),
    (lambda t: nn.init.uniform_(t, -0.5, 0.5), 1 / math.sqrt(12)),
])
def test_init_distributions(fn, expected_std):
    tl.manual_seed(1)
    t = tl.empty(100, 200)
    fn(t)
    a = t.numpy()
    assert abs(a.mean()) < 0.05 * expected_std + 1e-3
    assert abs(a.std() - expected_std) < 0.03 * expected_std


def test_init_constants_and_reproducibility():
    t = tl.empty(3, 4)
    assert nn.init.ones_(t).numpy().tolist() == [[1.0] * 4] * 3
    assert nn.init.zeros_(t).numpy().sum() == 0
    tl.manual_seed(5)
    a = nn.Linear(4, 3).weight.detach().numpy().copy()
    tl.manual_seed(5)
    b = nn.Linear(4, 3).weight.detach().numpy()
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="2 dims"):
        nn.init.xavier_uniform_(tl.empty(3))


def test_layer_norm_values_and_grads():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5))
    ln = nn.LayerNorm((3, 5)).double()
    with tl.no_grad():
        ln.weight.copy_(tl.tensor(rng.standard_normal((3, 5))))
        ln.bias.copy_(tl.tensor(rng.standard_normal((3, 5))))
    y = ln(tl.tensor(x)).detach().numpy()
    mu = x.mean((1, 2), keepdims=True)
    var = x.var((1, 2), keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-5) * ln.weight.detach().numpy() + ln.bias.detach().numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    xt = tl.tensor(x[:2, :, :2], requires_grad=True)
    w = tl.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = tl.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert tl.autograd.gradcheck(lambda x_, w_, b_: F.layer_norm(x_, (3, 2), w_, b_), (xt, w, b))
    assert tl.autograd.gradgradcheck(lambda x_, w_, b_: F.layer_norm(x_, (3, 2), w_, b_), (xt, w, b))


def test_batch_norm_train_eval_and_running_stats():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm1d(3).double()
    xs = [rng.standard_normal((8, 3)) * 2 + 1 for _ in range(3)]
    rm, rv = np.zeros(3), np.ones(3)
    for x in xs:
        y = bn(tl.tensor(x)).detach().numpy()
        ref = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
        np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
        rm = 0.9 * rm + 0.1 * x.mean(0)
        rv = 0.9 * rv + 0.1 * x.var(0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(bn(tl.tensor(x)).detach().numpy(), (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-10)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    xt = tl.tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
    w = tl.tensor([1.5, -0.5], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([0.1, 0.2], dtype=tl.float64, requires_grad=True)
    fn = (lambda x_, w_, b_: F.batch_norm(x_, None, None, w_, b_, training=True))
    assert tl.autograd.gradcheck(fn, (xt, w, b))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        nn.BatchNorm1d(3)(tl.ones(4, 2))


def test_embedding_lookup_grad_and_padding():
    tl.manual_seed(0)
    emb = nn.Embedding(6, 3, padding_idx=0).double()
    assert emb.weight.detach().numpy()[0].tolist() == [0, 0, 0]
    idx = tl.tensor([[1, 0, 1], [5, 2, 1]])
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.detach().numpy(), emb.weight.detach().numpy()[idx.numpy()])
    out.sum().backward()
    g = emb.weight.grad.numpy()
    assert g[1].tolist() == [3, 3, 3] and g[0].tolist() == [0, 0, 0] and g[3].tolist() == [0, 0, 0]
    with pytest.raises(TypeError, match="int64"):
        emb(tl.tensor([1.0]))


def test_dropout_module_modes():
    d = nn.Dropout(0.5)
    x = tl.ones(1000)
    tl.manual_seed(3)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


@needs_matmul
def test_linear_forward_and_gradcheck():
    lin = nn.Linear(3, 2).double()
    x = tl.randn(4, 3, dtype=tl.float64, requires_grad=True)
    ref = x.detach().numpy() @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(x).detach().numpy(), ref, rtol=1e-12)
    assert tl.autograd.gradcheck(lambda x_, w_, b_: F.linear(x_, w_, b_), (x, lin.weight, lin.bias))


@needs_matmul
def test_loss_modules():
    logits = tl.randn(5, 4, dtype=tl.float64)
    y = tl.tensor([0, 3, 1, 1, 2])
    for red in ("mean", "sum", "none"):
        a = nn.CrossEntropyLoss(reduction=red)(logits, y).detach().numpy()
        b = F.cross_entropy(logits, y, reduction=red).detach().numpy()
        np.testing.assert_allclose(a, b)
    t = tl.rand(5, 4, dtype=tl.float64)
    np.testing.assert_allclose(nn.MSELoss()(logits, t).item(), ((logits.numpy() - t.numpy()) ** 2).mean())
    np.testing.assert_allclose(nn.BCEWithLogitsLoss(reduction="sum")(logits, t).item(),
                               F.binary_cross_entropy_with_logits(logits, t, reduction="sum").item())
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


@needs_matmul
def test_small_mlp_trains_to_low_loss():
    tl.manual_seed(0)
    x = tl.randn(64, 2)
    y = ((x[:, 0] * x[:, 1]) > 0).long()
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    first = None
    for _ in range(300):
        loss = F.cross_entropy(net(x), y)
        first = first if first is not None else loss.item()
        net.zero_grad()
        loss.backward()
        with tl.no_grad():
            for p in net.parameters():
                p.sub_(p.grad * 0.5)
    assert loss.item() < 0.25 * first


def test_save_load_model_and_optimizer_continue_identically(tmp_path):
    def make():
        tl.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2), nn.LayerNorm(2))
        return m, tl.optim.Adam(m.parameters(), lr=0.05)

    x, y = tl.randn(8, 3), tl.tensor([0, 1, 1, 0, 1, 0, 0, 1])

    def step(m, opt):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    m1, o1 = make()
    for _ in range(3):
        step(m1, o1)
    tl.save({"model": m1.state_dict(), "opt": o1.state_dict()}, tmp_path / "ckpt.npz")
    ck = tl.load(tmp_path / "ckpt.npz")
    m2, o2 = make()
    m2.load_state_dict(ck["model"])
    o2.load_state_dict(ck["opt"])
    for _ in range(3):
        assert step(m1, o1) == step(m2, o2)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(p1.detach().numpy(), p2.detach().numpy())


def test_against_pytorch_modules_by_state_dict_key():
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.LayerNorm(6), nn.Linear(6, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.GELU(), torch.nn.LayerNorm(6),
                                 torch.nn.Linear(6, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    xn = np.random.default_rng(0).standard_normal((5, 4))
    yn = np.array([0, 2, 1, 1, 0])
    loss = F.cross_entropy(ours(tl.tensor(xn)), tl.tensor(yn))
    loss.backward()
    tl_loss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(xn)), torch.from_numpy(yn))
    tl_loss.backward()
    np.testing.assert_allclose(loss.item(), tl_loss.item(), rtol=1e-12)
    for (k, p), (k2, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert k == k2
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)
    # PyTorch's default init bounds for Linear: U(-1/sqrt(in), 1/sqrt(in))
    assert np.abs(ours[0].weight.detach().numpy()).max() <= 1 / np.sqrt(4)
