"""Integer-array ("advanced") and bool-mask indexing: forward against NumPy's identical indexing,
gradients (gradcheck, gradgradcheck, scatter-add accumulation against np.add.at), zero-size
indices and error messages."""
import numpy as np
import pytest

import tinygrad_lab as tl
from tinygrad_lab.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 5, 6))


def _tl_key(key):
    """The same key with NumPy int arrays turned into tl int64 tensors (and masks into bool)."""
    if not isinstance(key, tuple):
        return _tl_key((key,))[0]
    return tuple(tl.tensor(k) if isinstance(k, np.ndarray) and k.ndim else k for k in key)


# keys valid for A (4, 5, 6) where NumPy and PyTorch agree; each given as NumPy sees it
KEYS = {
    "list": [1, 0, 3],
    "list_repeated": [3, 3, 0, 3],
    "list_negative": [-1, 0, -4],
    "tensor_2d": np.array([[0, 1], [3, 2], [1, 1]]),
    "second_dim": (slice(None), np.array([4, 0, 2])),
    "last_dim_ellipsis": (Ellipsis, np.array([-1, 0, 5])),
    "two_adjacent": (slice(None), np.array([0, 4, 2]), np.array([5, 5, 1])),
    "two_adjacent_broadcast": (slice(1, 3), np.array([[0], [2]]), np.array([1, 4, 5])),
    "non_adjacent": (np.array([0, 1]), slice(None), np.array([1, 2])),
    "non_adjacent_broadcast": (np.array([[0], [3]]), slice(1, 4), np.array([[1, 2, 5]])),
    "separated_by_none": (np.array([0, 1]), None, np.array([1, 2])),
    "none_and_step": (None, slice(None, None, 2), np.array([1, 3]), slice(1, None, 2)),
    "all_three": (np.array([0, 3]), np.array([1, 1]), np.array([5, -6])),
    "mask_full": A > 0.3,
    "mask_trailing": (slice(None), A[0] > 0),
    "mask_first": np.array([True, False, True, True]),
    "mask_and_array": (A[:, :, 0] > 0, np.array([1])),
}


@pytest.mark.parametrize("name", list(KEYS))
def test_forward_matches_numpy(name):
    key = KEYS[name]
    out = tl.tensor(A)[_tl_key(key)]
    ref = A[key]
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out.numpy(), ref)


def test_list_and_numpy_keys_are_index_arrays():
    x = tl.tensor(A)
    np.testing.assert_array_equal(x[[2, 0]].numpy(), A[[2, 0]])
    np.testing.assert_array_equal(x[np.array([2, 0], np.int32)].numpy(), A[[2, 0]])
    np.testing.assert_array_equal(x[:, [[1, 2], [3, 4]]].numpy(), A[:, [[1, 2], [3, 4]]])
    np.testing.assert_array_equal(x[[True, False, False, True]].numpy(), A[[True, False, False, True]])


def test_cross_entropy_pick_float32():
    logits = RNG.standard_normal((7, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 1, 0, 2, 2])
    out = tl.tensor(logits)[tl.arange(7), tl.tensor(y)]
    assert out.dtype is tl.float32
    np.testing.assert_allclose(out.numpy(), logits[np.arange(7), y], rtol=1e-6)


def test_non_contiguous_source():
    x = tl.tensor(A)
    xt = x.permute(2, 0, 1)                          # transposed view
    np.testing.assert_array_equal(xt[[5, 0], :, [1, 2]].numpy(), A.transpose(2, 0, 1)[[5, 0], :, [1, 2]])
    np.testing.assert_array_equal(xt[:, [3, 3, 1]].numpy(), A.transpose(2, 0, 1)[:, [3, 3, 1]])
    xs = x[:, ::2, 1::3]                             # stepped slices
    np.testing.assert_array_equal(xs[[1, 0], [2, 1]].numpy(), A[:, ::2, 1::3][[1, 0], [2, 1]])
    xe = tl.tensor(A[0, 0]).expand(3, 6)             # stride 0
    np.testing.assert_array_equal(xe[[2, 0], [1, 5]].numpy(), np.broadcast_to(A[0, 0], (3, 6))[[2, 0], [1, 5]])


def test_non_contiguous_index_tensor():
    idx = tl.tensor([[0, 1, 2], [3, 2, 1]]).T        # strided int64 view
    np.testing.assert_array_equal(tl.tensor(A)[idx].numpy(), A[np.array([[0, 1, 2], [3, 2, 1]]).T])
    mask = tl.tensor(A[:, :, 0] > 0).T               # strided bool mask
    np.testing.assert_array_equal(tl.tensor(A).permute(1, 0, 2)[mask].numpy(),
                                  A.transpose(1, 0, 2)[(A[:, :, 0] > 0).T])


def test_int64_and_bool_sources():
    labels = tl.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    idx = tl.tensor([7, 0, 7, 2])
    out = labels[idx]
    assert out.dtype is tl.int64 and out.tolist() == [6, 3, 6, 4]
    flags = tl.tensor([True, False, True])
    assert flags[[2, 1, 1]].tolist() == [True, False, False]
    assert flags[[2, 1, 1]].dtype is tl.bool


def test_ints_select_first_as_in_pytorch():
    # PyTorch applies ints as basic selections: x[1, :, [0, 2]] == x[1][:, [0, 2]] (NumPy would
    # treat the 1 as an index array and put the broadcast dims first).
    x = tl.tensor(A)
    np.testing.assert_array_equal(x[1, :, [0, 2]].numpy(), A[1][:, [0, 2]])
    np.testing.assert_array_equal(x[tl.tensor(1), [0, 2]].numpy(), A[1, [0, 2]])
    # an ellipsis that covers no dims does not separate two index arrays
    np.testing.assert_array_equal(x[:, [0, 1], ..., [1, 2]].numpy(), A[:, [0, 1], [1, 2]])


def test_zero_d_keys():
    x = tl.tensor(A)
    np.testing.assert_array_equal(x[tl.tensor(2)].numpy(), A[2])     # 0-d int64 tensor = int
    np.testing.assert_array_equal(x[np.int64(-1), [1]].numpy(), A[-1, [1]])
    assert x[True].shape == (1, 4, 5, 6) and x[False].shape == (0, 4, 5, 6)
    assert x[:, tl.tensor(True)].shape == (4, 1, 5, 6)
    np.testing.assert_array_equal(x[:, True, 1].numpy(), A[:, None, 1])


def test_zero_size_index():
    x = tl.tensor(A, requires_grad=True)
    for key, shape in [([], (0, 5, 6)), (tl.zeros(0, dtype=tl.int64), (0, 5, 6)),
                       ((slice(None), tl.zeros(0, 3, dtype=tl.int64)), (4, 0, 3, 6)),
                       (tl.tensor(A < -10), (0,))]:
        out = x[key]
        assert out.shape == shape
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), 0)
        x.grad = None
    empty = tl.zeros(0, 3)
    assert empty[tl.zeros(0, dtype=tl.int64)].shape == (0, 3)
    assert empty[:, [2, 0]].shape == (0, 2)


def test_large_gather_threads():
    big = RNG.standard_normal((1000, 100))
    idx = RNG.integers(-1000, 1000, 700)
    np.testing.assert_array_equal(tl.tensor(big)[tl.tensor(idx)].numpy(), big[idx])
    np.testing.assert_array_equal(tl.tensor(big)[:, [5, 1]].numpy(), big[:, [5, 1]])


# ---- gradients ----------------------------------------------------------------------------------

GRAD_KEYS = ["list_repeated", "tensor_2d", "second_dim", "two_adjacent_broadcast",
             "non_adjacent_broadcast", "separated_by_none", "none_and_step", "mask_trailing"]


@pytest.mark.parametrize("name", GRAD_KEYS)
def test_grad_accumulates_like_add_at(name):
    key = KEYS[name]
    x = tl.tensor(A, requires_grad=True)
    y = x[_tl_key(key)]
    assert y.grad_fn.name() == "GatherBackward"
    g = RNG.standard_normal(y.shape)
    y.backward(tl.tensor(g))
    expected = np.zeros_like(A)
    np.add.at(expected, key, g)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_repeated_indices_accumulate():
    x = tl.tensor([1.0, 2.0, 3.0], dtype=tl.float64, requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


SMALL = RNG.standard_normal((3, 4, 2))
CHECK_KEYS = [
    lambda t: t[[0, 2, 2, -3]],
    lambda t: t[:, tl.tensor([[1, 1], [3, 0]])],
    lambda t: t[tl.arange(3), [1, 1, 3]],
    lambda t: t[[0, 0], 1:, [1, 1]],
    lambda t: t[None, [2, 2], ::2, 0],
    lambda t: t.permute(2, 0, 1)[[1, 0, 1], :, [3, 3, 0]],
    lambda t: t[tl.tensor(SMALL > 0)],
    lambda t: t.index_select(1, tl.tensor([3, 0, 3])),
]


@pytest.mark.parametrize("i", range(len(CHECK_KEYS)))
def test_gradcheck_and_gradgradcheck(i):
    fn = CHECK_KEYS[i]
    x = tl.tensor(SMALL, requires_grad=True)
    assert gradcheck(fn, (x,))
    # squared so the second derivative depends on x (indexing alone is linear)
    assert gradgradcheck(lambda t: fn(t) * fn(t), (x,))


def test_double_backward_graph():
    x = tl.tensor([0.5, -1.0, 2.0], dtype=tl.float64, requires_grad=True)
    f = (x[[0, 0, 2]] ** 3).sum()
    (gx,) = tl.autograd.grad(f, x, create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), [6 * 0.25, 0.0, 12.0])
    gx.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12 * 0.5, 0.0, 12.0])


def test_float32_grad():
    x = tl.tensor(A.astype(np.float32), requires_grad=True)
    x[:, [1, 1]].sum().backward()
    assert x.grad.dtype is tl.float32
    expected = np.zeros(A.shape, np.float32)
    expected[:, 1] = 2
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_index_modified_in_place_makes_backward_raise():
    x = tl.tensor(A, requires_grad=True)
    idx = tl.tensor([0, 1])
    y = x[idx]
    idx.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_index_select():
    x = tl.tensor(A)
    np.testing.assert_array_equal(x.index_select(2, tl.tensor([5, 0, 5])).numpy(), np.take(A, [5, 0, 5], 2))
    np.testing.assert_array_equal(tl.index_select(x, -3, tl.tensor(1)).numpy(), A[[1]])
    with pytest.raises(IndexError, match="0-d or 1-D int64"):
        x.index_select(0, tl.tensor([[0]]))


# ---- errors -------------------------------------------------------------------------------------

def test_out_of_range_names_value_dim_and_size():
    x = tl.tensor(A)
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 0 with size 4"):
        x[[0, 4]]
    with pytest.raises(IndexError, match="index -7 is out of bounds for dimension 2 with size 6"):
        x[:, [1], [-7]]
    with pytest.raises(IndexError, match="index 9 is out of bounds for dimension 2 with size 6"):
        x[1, :, [9]]   # the int before does not shift the reported dim
    with pytest.raises(IndexError, match="index 0 is out of bounds for dimension 1 with size 0"):
        tl.zeros(2, 0)[:, [0]]


def test_bad_index_types():
    x = tl.tensor(A)
    for bad in (tl.tensor([0.0, 1.0]), [0.5, 1.0], np.array([1.0])):
        with pytest.raises(IndexError, match="int64|ints or bools"):
            x[bad]
        with pytest.raises(TypeError):
            x[bad]
    with pytest.raises(IndexError, match="valid indices"):
        x["a"]
    with pytest.raises(IndexError, match="valid indices"):
        x[1.5]


def test_shape_errors():
    x = tl.tensor(A)
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 3"):
        x[[0], [0], [0], [0]]
    with pytest.raises(IndexError, match="too many indices"):
        x[A > 0, 0]
    with pytest.raises(IndexError, match=r"could not be broadcast together with shapes \(2,\), \(3,\)"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError, match=r"shape of the mask \(5,\) at index 0 does not match"):
        x[np.ones(5, bool)]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., [0], ...]
