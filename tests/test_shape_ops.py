"""Composite shape ops (built from the view/copy primitives in test_ops.py): values against NumPy
and gradients by gradcheck/gradgradcheck, including negative and tuple dims."""
import numpy as np
import pytest

import tinygrad_lab as tl

rng = np.random.default_rng(7)


def t64(shape, requires_grad=True):
    return tl.tensor(rng.standard_normal(shape), dtype=tl.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("size,dim", [(2, 0), (3, 1), ([1, 4], -1), (5, 1)])
def test_split(size, dim):
    x = t64((4, 5))
    parts = x.split(size, dim)
    ref = np.split(x.detach().numpy(), np.cumsum(size)[:-1] if isinstance(size, list) else
                   list(range(size, x.shape[dim], size)), axis=dim)
    assert [p.shape for p in parts] == [r.shape for r in ref]
    for p, r in zip(parts, ref):
        np.testing.assert_array_equal(p.detach().numpy(), r)
    assert tl.autograd.gradcheck(lambda a: tl.cat([q * (i + 1) for i, q in enumerate(a.split(size, dim))], dim), (x,))


@pytest.mark.parametrize("n,dim", [(2, 0), (3, 1), (4, -1), (1, 0)])
def test_chunk(n, dim):
    x = t64((4, 5))
    parts = x.chunk(n, dim)
    size = -(-x.shape[dim] // n)
    assert all(p.shape[dim] == size for p in parts[:-1]) and sum(p.shape[dim] for p in parts) == x.shape[dim]
    assert tl.autograd.gradgradcheck(lambda a: parts_sum(a.chunk(n, dim)), (x,))


def parts_sum(parts):
    return tl.stack([(p * p).sum() for p in parts])


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(dim):
    a, b = t64((2, 3)), t64((2, 3))
    s = tl.stack([a, b], dim)
    np.testing.assert_array_equal(s.detach().numpy(), np.stack([a.detach().numpy(), b.detach().numpy()], dim))
    assert tl.autograd.gradcheck(lambda x, y: tl.stack([x, y * 2], dim), (a, b))


def test_cat_negative_dim_and_dtype_promotion():
    a = tl.ones(2, 2)
    b = tl.zeros(2, 1, dtype=tl.float64)
    c = tl.cat([a, b], -1)
    assert c.shape == (2, 3) and c.dtype is tl.float64


@pytest.mark.parametrize("fn,ref", [
    (lambda t: t.flatten(), lambda a: a.reshape(-1)),
    (lambda t: t.flatten(1), lambda a: a.reshape(2, -1)),
    (lambda t: t.flatten(0, 1), lambda a: a.reshape(6, 4)),
    (lambda t: t.unsqueeze(-1).squeeze(-1), lambda a: a),
    (lambda t: t[:, :1].squeeze(1), lambda a: a[:, 0]),
    (lambda t: t[:, :1].squeeze((0, 1)), lambda a: a[:, 0]),
    (lambda t: t.view(4, 6), lambda a: a.reshape(4, 6)),
    (lambda t: t.transpose(0, -1), lambda a: a.transpose(2, 1, 0)),
    (lambda t: t.permute(-1, 0, 1), lambda a: a.transpose(2, 0, 1)),
    (lambda t: t.sum((0, -1), keepdim=True), lambda a: a.sum((0, 2), keepdims=True)),
    (lambda t: t.mean((-2,)), lambda a: a.mean(1)),
    (lambda t: t.var(1, unbiased=False), lambda a: a.var(1)),
    (lambda t: t.max((0, 2)), lambda a: a.max((0, 2))),
    (lambda t: t.logsumexp((1, 2), keepdim=True), lambda a: np.log(np.exp(a).sum((1, 2), keepdims=True))),
])
def test_shape_and_reduction_forms(fn, ref):
    x = t64((2, 3, 4))
    np.testing.assert_allclose(fn(x).detach().numpy(), ref(x.detach().numpy()), rtol=1e-12)
    assert tl.autograd.gradcheck(fn, (x,))


def test_squeeze_leaves_non_unit_dims_alone():
    assert tl.ones(2, 1, 3).squeeze(0).shape == (2, 1, 3)
    assert tl.ones(2, 1, 3).squeeze().shape == (2, 3)


def test_argmax_argmin():
    a = np.array([[1.0, 5.0, 5.0], [7.0, -1.0, 7.0]])
    t = tl.tensor(a)
    assert t.argmax().item() == 3 and t.argmin().item() == 4
    assert t.argmax(1).tolist() == [1, 0] and t.argmin(0).tolist() == [0, 1, 0]
    assert t.argmax(1, keepdim=True).shape == (2, 1) and t.argmax().dtype is tl.int64
