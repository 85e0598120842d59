"""tl.utils.data (Dataset, TensorDataset, samplers, DataLoader, default_collate) and the
permutations behind shuffling (tl.randperm, tl.Generator), against torch.utils.data when
PyTorch is installed."""
import collections
import itertools

import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.utils.data import (BatchSampler, DataLoader, Dataset, RandomSampler,
                                     SequentialSampler, TensorDataset, default_collate,
                                     default_convert)

try:
    import torch
    import torch.utils.data as tud
except ImportError:  # the suite must pass without PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _data(n=10):
    X = tl.arange(n * 3, dtype=tl.float64).reshape(n, 3)
    y = tl.arange(n)
    return X, y


def _np(batch):
    """Batches as NumPy (tl or torch tensors, in lists / tuples / dicts)."""
    if isinstance(batch, dict):
        return {k: _np(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [_np(b) for b in batch]
    if torch is not None and isinstance(batch, torch.Tensor):
        return batch.numpy()
    if isinstance(batch, tl.Tensor):
        return batch.detach().numpy()
    return batch


def _same(a, b):
    a, b = _np(a), _np(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


# ---- datasets --------------------------------------------------------------------------------

def test_tensor_dataset_indexes_every_tensor():
    X, y = _data()
    ds = TensorDataset(X, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), [9, 10, 11])
    assert yi.item() == 3
    assert ds[-1][1].item() == 9
    assert ds.tensors == (X, y)


def test_tensor_dataset_errors():
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(tl.zeros(3, 2), tl.zeros(4))
    with pytest.raises(TypeError, match="expects Tensors"):
        TensorDataset(tl.zeros(3), [1, 2, 3])
    with pytest.raises(IndexError, match="0-d"):
        TensorDataset(tl.tensor(1.0))


def test_dataset_subclass_must_define_getitem():
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# ---- DataLoader: order, batching, length -----------------------------------------------------

@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False),
                                            (9, 3, True), (2, 5, False), (2, 5, True),
                                            (1, 1, False)])
def test_loader_batches_in_order(n, bs, drop_last):
    X, y = _data(n)
    loader = DataLoader(TensorDataset(X, y), batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // bs if drop_last else -(-n // bs))
    rows = [list(range(i, min(i + bs, n))) for i in range(0, n, bs)]
    if drop_last:
        rows = [r for r in rows if len(r) == bs]
    for (xb, yb), idx in zip(batches, rows):
        np.testing.assert_array_equal(xb.numpy(), X.numpy()[idx])
        np.testing.assert_array_equal(yb.numpy(), idx)
        assert yb.dtype is tl.int64 and xb.dtype is tl.float64


def test_loader_default_batch_size_is_one():
    X, y = _data(4)
    batches = list(DataLoader(TensorDataset(X, y)))
    assert len(batches) == 4 and batches[0][0].shape == (1, 3) and batches[0][1].shape == (1,)


def test_loader_batches_are_lists_like_pytorch():
    batch = next(iter(DataLoader(TensorDataset(*_data()), batch_size=4)))
    assert isinstance(batch, list) and len(batch) == 2


def test_tensor_dataset_fast_path_equals_stacking_samples():
    X, y = _data(11)
    fast = list(DataLoader(TensorDataset(X, y), batch_size=4))
    slow = list(DataLoader(TensorDataset(X, y), batch_size=4, collate_fn=default_collate))
    _same(fast, slow)


def test_loader_batches_carry_the_graph():
    X = tl.randn(6, 2, dtype=tl.float64, requires_grad=True)
    for collate_fn in (None, default_collate):
        xb, = next(iter(DataLoader(TensorDataset(X), batch_size=4, collate_fn=collate_fn)))
        xb.sum().backward()
        np.testing.assert_array_equal(X.grad.numpy(), [[1, 1]] * 4 + [[0, 0]] * 2)
        X.grad = None


def test_loader_with_a_custom_dataset_and_collate_fn():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": float(i), "y": i * i, "name": f"n{i}"}

    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    b = batches[1]
    assert b["x"].dtype is tl.float64 and b["y"].dtype is tl.int64
    np.testing.assert_array_equal(b["x"].numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(b["y"].numpy(), [4, 9])
    assert b["name"] == ["n2", "n3"]
    lists = list(DataLoader(Squares(), batch_size=2, collate_fn=lambda batch: batch))
    assert lists[2] == [{"x": 4.0, "y": 16, "name": "n4"}]


def test_batch_size_none_yields_samples():
    ds = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    out = list(DataLoader(ds, batch_size=None))
    assert len(out) == 2 and isinstance(out[0], tl.Tensor)
    np.testing.assert_array_equal(out[1].numpy(), [3.0, 4.0])
    assert len(DataLoader(ds, batch_size=None)) == 2


def test_sampler_and_batch_sampler_arguments():
    X, y = _data(6)
    ds = TensorDataset(X, y)
    order = [5, 0, 3]
    got = [yb.tolist() for _, yb in DataLoader(ds, batch_size=2, sampler=order)]
    assert got == [[5, 0], [3]]
    got = [yb.tolist() for _, yb in DataLoader(ds, batch_sampler=[[1, 2], [0]])]
    assert got == [[1, 2], [0]]


def test_loader_argument_errors():
    ds = TensorDataset(*_data())
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        DataLoader(ds, batch_size=2, drop_last=1)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(TypeError, match="generator must be a tl.Generator or an int seed"):
        DataLoader(ds, shuffle=True, generator="seed")
    assert len(DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True)) == 3


# ---- shuffling ---------------------------------------------------------------------------------

def _epoch(loader):
    return list(itertools.chain.from_iterable(yb.tolist() for _, yb in loader))


def test_shuffle_is_a_permutation_reproducible_under_manual_seed():
    loader = DataLoader(TensorDataset(*_data(20)), batch_size=6, shuffle=True)
    tl.manual_seed(123)
    e1, e2 = _epoch(loader), _epoch(loader)
    tl.manual_seed(123)
    assert _epoch(loader) == e1 and _epoch(loader) == e2
    assert sorted(e1) == list(range(20)) and e1 != list(range(20)) and e1 != e2


def test_shuffle_rows_stay_paired():
    X, y = _data(12)
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True):
        np.testing.assert_array_equal(xb.numpy(), X.numpy()[yb.numpy()])


@pytest.mark.parametrize("make", [lambda: 7, lambda: tl.Generator().manual_seed(7)],
                         ids=["int seed", "tl.Generator"])
def test_shuffle_with_a_generator_ignores_the_global_stream(make):
    ds = TensorDataset(*_data(20))
    tl.manual_seed(0)
    a = DataLoader(ds, batch_size=4, shuffle=True, generator=make())
    first = [_epoch(a), _epoch(a)]
    after = tl.rand(3).tolist()
    tl.manual_seed(0)
    assert tl.rand(3).tolist() == after      # the global stream was not used
    tl.manual_seed(99)
    b = DataLoader(ds, batch_size=4, shuffle=True, generator=make())
    assert [_epoch(b), _epoch(b)] == first   # the generator alone decides
    assert first[0] != first[1]


def test_random_sampler_with_replacement_and_num_samples():
    g = tl.Generator().manual_seed(1)
    s = RandomSampler(range(4), replacement=True, num_samples=50, generator=g)
    draws = list(s)
    assert len(draws) == len(s) == 50 and set(draws) <= {0, 1, 2, 3} and len(set(draws)) == 4
    s = RandomSampler(range(4), num_samples=10, generator=g)
    draws = list(s)
    assert len(draws) == 10   # whole permutations, then the start of one more
    assert sorted(draws[:4]) == [0, 1, 2, 3] and sorted(draws[4:8]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(4), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(4), replacement=1)


def test_sequential_and_batch_samplers():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    assert list(BatchSampler(SequentialSampler(range(10)), 3, False)) == [[0, 1, 2], [3, 4, 5],
                                                                          [6, 7, 8], [9]]
    assert list(BatchSampler(SequentialSampler(range(10)), 3, True)) == [[0, 1, 2], [3, 4, 5],
                                                                         [6, 7, 8]]
    assert len(BatchSampler(range(10), 3, False)) == 4
    assert len(BatchSampler(range(10), 3, True)) == 3


# ---- randperm and Generator ------------------------------------------------------------------

def test_randperm():
    tl.manual_seed(5)
    p = tl.randperm(50)
    assert p.dtype is tl.int64 and p.shape == (50,) and sorted(p.tolist()) == list(range(50))
    tl.manual_seed(5)
    assert tl.randperm(50).tolist() == p.tolist()
    assert tl.randperm(0).shape == (0,) and tl.randperm(1).tolist() == [0]
    q = tl.randperm(4, dtype=tl.float64, requires_grad=True)
    assert q.dtype is tl.float64 and q.requires_grad and sorted(q.tolist()) == [0, 1, 2, 3]
    g1, g2 = tl.Generator().manual_seed(3), tl.Generator().manual_seed(3)
    assert tl.randperm(30, generator=g1).tolist() == tl.randperm(30, generator=g2).tolist()


def test_randperm_is_uniform():
    tl.manual_seed(0)
    counts = collections.Counter(tuple(tl.randperm(3).tolist()) for _ in range(3000))
    assert len(counts) == 6 and all(400 < c < 600 for c in counts.values())   # ~500 each


def test_randperm_errors():
    with pytest.raises(RuntimeError, match="non-negative"):
        tl.randperm(-1)
    with pytest.raises(TypeError):
        tl.randperm(2.5)
    with pytest.raises(TypeError, match="generator must be a tl.Generator"):
        tl.randperm(3, generator=3)
    with pytest.raises(TypeError, match="only floating-point"):
        tl.randperm(3, requires_grad=True)


def test_generator_methods():
    g = tl.Generator()
    assert g.initial_seed() == 67280421310721 and g.device == "cpu"
    assert g.manual_seed(11) is g and g.initial_seed() == 11
    state = g.get_state()
    a = tl.randperm(10, generator=g).tolist()
    g.set_state(state)
    assert tl.randperm(10, generator=g).tolist() == a
    s = g.seed()
    assert g.initial_seed() == s
    with pytest.raises(RuntimeError, match="CPU only"):
        tl.Generator("cuda")


# ---- default_collate -------------------------------------------------------------------------

Point = collections.namedtuple("Point", "x y")

COLLATE_CASES = {
    "floats": [1.5, 2.5],
    "ints": [1, 2, 3],
    "bools": [True, False],
    "strings": ["a", "b"],
    "numpy arrays": [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
    "numpy float32": [np.array([1.0], np.float32), np.array([2.0], np.float32)],
    "numpy scalars": [np.float64(1.0), np.float64(2.0)],
    "dicts": [{"a": 1.0, "b": [1, 2]}, {"a": 2.0, "b": [3, 4]}],
    "tuples": [(1.0, 2), (3.0, 4)],
    "lists": [[1.0, 2], [3.0, 4]],
    "namedtuples": [Point(1.0, 2), Point(3.0, 4)],
    "nested": [({"k": (1, 2.0)}, "s"), ({"k": (3, 4.0)}, "t")],
}


def _to_torch_sample(s):
    if isinstance(s, tl.Tensor):
        return torch.from_numpy(s.numpy().copy())
    return s


@needs_torch
@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_collate_matches_pytorch(name):
    batch = COLLATE_CASES[name]
    got, want = default_collate(batch), tud.default_collate(batch)
    assert isinstance(got, tl.Tensor) if isinstance(want, torch.Tensor) else type(got) is type(want)
    _same(got, want)


@needs_torch
def test_default_collate_of_tensors_matches_pytorch():
    samples = [tl.tensor([[1.0, 2.0]], dtype=tl.float32) * k for k in range(3)]
    got = default_collate(samples)
    want = tud.default_collate([_to_torch_sample(s) for s in samples])
    assert got.shape == (3, 1, 2)
    _same(got, want)
    ints = [tl.tensor(k) for k in range(4)]
    _same(default_collate(ints), tud.default_collate([torch.tensor(k) for k in range(4)]))


def test_default_collate_without_torch():
    out = default_collate(COLLATE_CASES["tuples"])
    assert isinstance(out, list) and out[0].dtype is tl.float64 and out[1].dtype is tl.int64
    np.testing.assert_array_equal(out[0].numpy(), [1.0, 3.0])
    p = default_collate(COLLATE_CASES["namedtuples"])
    assert isinstance(p, Point) and p.y.tolist() == [2, 4]
    assert default_collate([True, False]).dtype is tl.bool
    assert default_collate([tl.zeros(2), tl.ones(2)]).shape == (2, 2)
    assert default_collate(COLLATE_CASES["numpy float32"]).dtype is tl.float32


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert({"a": np.array([1.0]), "b": (np.float64(2.0), "s")})
    assert isinstance(out["a"], tl.Tensor) and isinstance(out["b"], list)
    assert out["b"][0].item() == 2.0 and out["b"][1] == "s"


# ---- against torch's DataLoader ----------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("bs,drop_last", [(1, False), (4, False), (4, True), (7, False)])
def test_sequential_loader_matches_pytorch(bs, drop_last):
    X, y = _data(13)
    ours = DataLoader(TensorDataset(X, y), batch_size=bs, drop_last=drop_last)
    tds = tud.TensorDataset(torch.from_numpy(X.numpy()), torch.from_numpy(y.numpy()))
    theirs = tud.DataLoader(tds, batch_size=bs, drop_last=drop_last)
    assert len(ours) == len(theirs)
    _same(list(ours), list(theirs))


def test_training_with_a_loader():
    """Linear regression with minibatches converges (lesson 001's loop)."""
    tl.manual_seed(0)
    X = tl.randn(64, 3)
    w_true = tl.tensor([[1.0], [-2.0], [0.5]])
    y = X @ w_true
    model = tl.nn.Linear(3, 1)
    opt = tl.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    for _ in range(40):
        for xb, yb in loader:
            opt.zero_grad()
            tl.nn.functional.mse_loss(model(xb), yb).backward()
            opt.step()
    np.testing.assert_allclose(model.weight.detach().numpy(), w_true.numpy().T, atol=1e-3)


def test_reachable_from_the_package():
    assert tl.utils.data.DataLoader is DataLoader and tl.utils.data.TensorDataset is TensorDataset
    assert callable(tl.utils.checkpoint.checkpoint)
