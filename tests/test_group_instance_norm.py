"""F.group_norm / nn.GroupNorm, F.instance_norm / nn.InstanceNorm1d/2d, F.normalize,
F.cosine_similarity / nn.CosineSimilarity, F.pairwise_distance / nn.PairwiseDistance: values and
gradients against PyTorch, gradcheck in float64, running statistics, PyTorch's errors. (All are
composites of existing ops: group and instance norm are layer_norm on an (N * G, -1) reshape.)"""
import numpy as np
import pytest

import tinygrad_lab as tl
import tinygrad_lab.nn.functional as F
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(5)


def _t(a, grad=False, dtype=tl.float64):
    return tl.tensor(np.asarray(a, np.float64), dtype=dtype, requires_grad=grad)


def _torch_pair(fn_tl, fn_torch, arrays, rtol=1e-10, atol=1e-12):
    """Forward values and every input's gradient (for a random output gradient) of fn_tl on tl
    tensors and fn_torch on torch tensors, in float64."""
    torch = pytest.importorskip("torch")
    xs = [_t(a, True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, r = fn_tl(*xs), fn_torch(*ts)
    np.testing.assert_allclose(y.detach().numpy(), r.detach().numpy(), rtol=rtol, atol=atol)
    g = RNG.standard_normal(r.shape)
    y.backward(_t(g))
    r.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_group_norm_matches_torch_and_gradcheck():
    torch = pytest.importorskip("torch")
    x, w, b = RNG.standard_normal((2, 6, 3, 2)), RNG.standard_normal(6), RNG.standard_normal(6)
    _torch_pair(lambda *a: F.group_norm(a[0], 3, a[1], a[2]),
                lambda *a: torch.nn.functional.group_norm(a[0], 3, a[1], a[2]), [x, w, b])
    _torch_pair(lambda a: F.group_norm(a, 2, eps=0.1), lambda a: torch.nn.functional.group_norm(a, 2, eps=0.1),
                [RNG.standard_normal((3, 4))])
    xs = [_t(RNG.standard_normal((2, 4, 3)), True), _t(RNG.standard_normal(4), True), _t(RNG.standard_normal(4), True)]
    assert gradcheck(lambda a, w, b: F.group_norm(a, 2, w, b), xs)
    assert gradgradcheck(lambda a, w, b: F.group_norm(a, 2, w, b), xs)
    y = F.group_norm(_t(x, dtype=tl.float32), 3)
    assert y.dtype is tl.float32
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.group_norm(torch.tensor(x), 3).numpy(), atol=1e-5)


def test_group_norm_errors_and_module():
    x = _t(RNG.standard_normal((2, 6, 4)))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match="divisible by num_groups"):   # (also a ValueError)
        F.group_norm(x, 4)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.group_norm(_t([1.0, 2.0]), 1)
    with pytest.raises(RuntimeError, match="weight of shape"):
        F.group_norm(x, 2, weight=_t(np.ones(3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.group_norm(_t(np.ones((1, 2))), 2)
    with pytest.raises(TypeError):
        F.group_norm(x, 2.0)
    m = tl.nn.GroupNorm(3, 6)
    assert list(m.state_dict()) == ["weight", "bias"] and repr(m) == "GroupNorm(3, 6, eps=1e-05, affine=True, bias=True)"
    np.testing.assert_allclose(m(x).detach().numpy(), F.group_norm(x, 3).numpy())
    assert list(tl.nn.GroupNorm(3, 6, affine=False).parameters()) == []
    with pytest.raises(ValueError, match="divisible"):
        tl.nn.GroupNorm(4, 6)


def test_instance_norm_matches_torch():
    torch = pytest.importorskip("torch")
    x, w, b = RNG.standard_normal((2, 3, 5)), RNG.standard_normal(3), RNG.standard_normal(3)
    _torch_pair(lambda *a: F.instance_norm(a[0], weight=a[1], bias=a[2]),
                lambda *a: torch.nn.functional.instance_norm(a[0], weight=a[1], bias=a[2]), [x, w, b])
    xs = [_t(RNG.standard_normal((2, 2, 2, 3)), True)]
    assert gradcheck(lambda a: F.instance_norm(a), xs)
    rm, rv = _t(RNG.random(3)), _t(RNG.random(3) + 0.5)
    y = F.instance_norm(_t(x), rm, rv, use_input_stats=False)
    r = torch.nn.functional.instance_norm(torch.tensor(x), torch.tensor(rm.numpy()),
                                          torch.tensor(rv.numpy()), use_input_stats=False)
    np.testing.assert_allclose(y.numpy(), r.numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (4, 3, 5)), ("InstanceNorm2d", (2, 3, 2, 3))])
def test_instance_norm_modules_running_stats(cls, shape):
    torch = pytest.importorskip("torch")
    m = getattr(tl.nn, cls)(3, momentum=0.2, affine=True, track_running_stats=True)
    r = getattr(torch.nn, cls)(3, momentum=0.2, affine=True, track_running_stats=True).double()
    m.double()
    assert list(m.state_dict()) == list(r.state_dict())
    for _ in range(2):
        x = RNG.standard_normal(shape)
        np.testing.assert_allclose(m(_t(x)).detach().numpy(), r(torch.tensor(x)).detach().numpy(), atol=1e-10)
    for k in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(m, k).numpy(), getattr(r, k).numpy(), rtol=1e-12)
    m.eval(), r.eval()
    x = RNG.standard_normal(shape)
    np.testing.assert_allclose(m(_t(x)).detach().numpy(), r(torch.tensor(x)).detach().numpy(), atol=1e-10)
    # unbatched input: a batch of one
    np.testing.assert_allclose(m(_t(x[0])).detach().numpy(), r(torch.tensor(x[0])).detach().numpy(), atol=1e-10)


def test_instance_norm_errors_and_defaults():
    m = tl.nn.InstanceNorm1d(3)
    assert m.running_mean is None and list(m.parameters()) == [] and list(m.state_dict()) == []
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        m(_t(np.ones((1, 3, 2, 2))))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(_t(np.ones((2, 3, 1))))
    with pytest.raises(ValueError, match="match num_features"):
        tl.nn.InstanceNorm2d(4, affine=True)(_t(np.ones((1, 3, 2, 2))))
    with pytest.warns(UserWarning, match="does not match num_features"):
        tl.nn.InstanceNorm1d(4)(_t(RNG.standard_normal((1, 3, 2))))
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.instance_norm(_t(np.ones((2, 3, 2))), use_input_stats=False)


@pytest.mark.parametrize("p", [2, 1, 3.0, float("inf")])
def test_normalize_and_pairwise_distance(p):
    torch = pytest.importorskip("torch")
    F_ = torch.nn.functional
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    a[1] = 0.0                                   # a zero vector: the eps clamp
    _torch_pair(lambda x: F.normalize(x, p), lambda x: F_.normalize(x, p), [a])
    _torch_pair(lambda x: F.normalize(x, p, dim=0), lambda x: F_.normalize(x, p, dim=0), [a])
    _torch_pair(lambda x, y: F.pairwise_distance(x, y, p), lambda x, y: F_.pairwise_distance(x, y, p), [a, b])
    _torch_pair(lambda x, y: F.pairwise_distance(x, y, p, keepdim=True),
                lambda x, y: F_.pairwise_distance(x, y, p, keepdim=True), [a, b[0]])   # broadcast
    if p != float("inf"):   # (inf: max of |x| has a kink wherever two entries tie)
        assert gradcheck(lambda x, y: F.pairwise_distance(x, y, p), [_t(a + 1, True), _t(b, True)])


def test_cosine_similarity():
    torch = pytest.importorskip("torch")
    F_ = torch.nn.functional
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    _torch_pair(F.cosine_similarity, F_.cosine_similarity, [a, b])
    _torch_pair(lambda x, y: F.cosine_similarity(x, y, dim=-1, eps=0.5),
                lambda x, y: F_.cosine_similarity(x, y, dim=-1, eps=0.5), [a * 0.1, b[:1]])
    z = np.zeros((3, 4))
    z[0] = 1e-9                        # norms below eps: clamped, the gradient passes through
    _torch_pair(F.cosine_similarity, F_.cosine_similarity, [z, b])
    xs = [_t(a, True), _t(b, True)]
    assert gradcheck(F.cosine_similarity, xs) and gradgradcheck(F.cosine_similarity, xs)
    m = tl.nn.CosineSimilarity(dim=0)
    np.testing.assert_allclose(m(_t(a), _t(b)).numpy(), F_.cosine_similarity(torch.tensor(a), torch.tensor(b), dim=0).numpy())
    assert tl.nn.PairwiseDistance(p=1.0, keepdim=True)(_t(a), _t(b)).shape == (3, 1)
    with pytest.raises(ValueError):
        F.cosine_similarity(_t(a), _t(np.ones((2, 4))))
    # integer inputs compute in the default float dtype
    assert F.cosine_similarity(tl.tensor([[1, 2]]), tl.tensor([[2, 4]])).dtype is tl.float32
