"""tl.testing: assert_close (torch.testing semantics and messages), make_tensor (torch's defaults),
and check_op catching each kind of wrong op it is built for, with the failing case and the
smallest input named."""
import re

import numpy as np
import pytest

import os
import sys

import tinygrad_lab as tl
from tinygrad_lab.testing import OpCase, assert_close, check_op, make_tensor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import test_my_ops  # noqa: E402  (its planted bugs)


def T(data, dtype=tl.float32):
    return tl.tensor(data, dtype=dtype)


# ---- assert_close -------------------------------------------------------------------------------

def test_assert_close_passes_within_the_dtype_default_tolerances():
    assert_close(T([1.0, 2.0]), T([1.0, 2.0 + 2e-6]))                   # float32: 1e-5 + 1.3e-6 * 2
    assert_close(T([1.0], tl.float64), T([1.0 + 1.5e-7], tl.float64))   # float64: 1e-7 + 1e-7
    with pytest.raises(AssertionError):
        assert_close(T([1.0], tl.float64), T([1.0 + 3e-7], tl.float64))
    with pytest.raises(AssertionError):
        assert_close(T([1.0]), T([1.0 + 3e-5]))
    assert_close(T([3, 4], tl.int64), T([3, 4], tl.int64))
    with pytest.raises(AssertionError, match="not equal"):          # integers: exactly
        assert_close(T([3, 4], tl.int64), T([3, 5], tl.int64))
    assert_close(T([1.0]), T([1.5]), rtol=0.0, atol=0.5)
    assert_close(T([float("inf"), -float("inf")]), T([float("inf"), -float("inf")]))
    with pytest.raises(AssertionError):
        assert_close(T([float("inf")]), T([-float("inf")]))


def test_assert_close_message_names_the_worst_element_and_the_count():
    actual = tl.zeros(3, 4)
    expected = tl.zeros(3, 4)
    expected.numpy()[0, 1] = 0.5
    expected.numpy()[2, 3] = -3.0
    expected.numpy()[1, 0] = 1e-3
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected)
    msg = str(info.value)
    assert msg.startswith("Tensor-likes are not close!")
    assert "Mismatched elements: 3 / 12 (25.0%)" in msg
    assert "Greatest absolute difference: 3.0 at index (2, 3) (up to 1e-05 allowed)" in msg
    assert "Worst element: index (2, 3), actual 0.0, expected -3.0" in msg


def test_assert_close_nan_is_a_mismatch_unless_equal_nan():
    nan = float("nan")
    with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 2 \(50.0%\)"):
        assert_close(T([nan, 1.0]), T([nan, 1.0]))
    assert_close(T([nan, 1.0]), T([nan, 1.0]), equal_nan=True)
    with pytest.raises(AssertionError, match=r"Worst element: index \(0,\), actual nan, expected 1.0"):
        assert_close(T([nan, 1.0]), T([1.0, 1.0]), equal_nan=True)


def test_assert_close_shape_dtype_and_argument_errors():
    with pytest.raises(AssertionError, match=r"The values for attribute 'shape' do not match: \(2,\) != \(3,\)"):
        assert_close(T([1.0, 2.0]), T([1.0, 2.0, 3.0]))
    with pytest.raises(AssertionError, match="The values for attribute 'dtype' do not match: tl.float32 != tl.float64"):
        assert_close(T([1.0]), T([1.0], tl.float64))
    assert_close(T([1.0]), T([1.0], tl.float64), check_dtype=False)
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol' must be either specified or omitted"):
        assert_close(T([1.0]), T([1.0]), rtol=1e-3)
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(T([1.0]), np.array([1.0], np.float32))
    with pytest.raises(AssertionError, match="my message"):
        assert_close(T([1.0]), T([2.0]), msg="my message")
    with pytest.raises(AssertionError, match="^prefix: Tensor-likes"):
        assert_close(T([1.0]), T([2.0]), msg=lambda m: "prefix: " + m)


def test_assert_close_scalars_sequences_and_0d():
    assert_close(1.0, 1.0 + 1e-8)
    with pytest.raises(AssertionError, match="Scalars are not close!\n\nExpected 1.5 but got 1.0."):
        assert_close(1.0, 1.5)
    with pytest.raises(AssertionError, match=r"The \(d\)types do not match"):
        assert_close(1, 1.0)
    with pytest.raises(AssertionError, match=r"Expected 2.0 but got 1.0"):
        assert_close(T(1.0), T(2.0))
    assert_close([T([1.0]), T([2.0])], [T([1.0]), T([2.0])])
    with pytest.raises(AssertionError, match=r"The failure occurred for item \[1\]"):
        assert_close([T([1.0]), T([2.0])], [T([1.0]), T([3.0])])
    assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    assert_close(tl.zeros(0, 3), tl.zeros(0, 3))
    x = tl.ones(2, requires_grad=True)
    assert_close(x * 1, tl.ones(2))                      # tensors that require grad compare too


def test_assert_close_agrees_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for dtype, tdtype in ((tl.float32, torch.float32), (tl.float64, torch.float64)):
        for _ in range(60):
            e = rng.standard_normal(6)
            a = e + rng.standard_normal(6) * 10.0 ** rng.uniform(-9, -4)
            ours = theirs = None
            try:
                assert_close(T(a, dtype), T(e, dtype))
            except AssertionError as err:
                ours = str(err)
            try:
                torch.testing.assert_close(torch.tensor(a, dtype=tdtype), torch.tensor(e, dtype=tdtype))
            except AssertionError as err:
                theirs = str(err)
            assert (ours is None) == (theirs is None), (ours, theirs)
            if ours is not None:     # the same count and greatest-difference lines
                for line in theirs.splitlines()[2:4]:
                    head = line.split(":")[0]
                    mine = next(ln for ln in ours.splitlines() if ln.startswith(head))
                    if head == "Mismatched elements":
                        assert mine == line
                    else:
                        assert re.sub(r"[\d.e+-]+ at", "at", mine) == re.sub(r"[\d.e+-]+ at", "at", line)


# ---- make_tensor --------------------------------------------------------------------------------

def test_make_tensor_defaults_follow_torch():
    tl.manual_seed(0)
    x = make_tensor((200, 5), tl.float32)
    assert x.shape == (200, 5) and x.dtype is tl.float32 and x.is_contiguous() and not x.requires_grad
    v = x.numpy()
    assert v.min() >= -9 and v.max() < 9 and v.min() < -8 and v.max() > 8
    i = make_tensor(1000, dtype=tl.int64).numpy()
    assert i.min() == -9 and i.max() == 9
    b = make_tensor(100, dtype=tl.bool)
    assert b.dtype is tl.bool and 0 < int(b.numpy().sum()) < 100
    assert make_tensor(2, 3, dtype=tl.float64).shape == (2, 3)
    p = make_tensor((2, 3), tl.float64, 5.0, 6.0, True)       # the API's positional order
    assert p.requires_grad and (p.detach().numpy() >= 5).all() and (p.detach().numpy() < 6).all()
    assert make_tensor((), tl.float64).shape == ()


def test_make_tensor_options():
    tl.manual_seed(1)
    x = make_tensor((4, 5), tl.float64, low=2.0, high=3.0, requires_grad=True, noncontiguous=True)
    assert x.shape == (4, 5) and not x.is_contiguous() and x.requires_grad and x.is_leaf
    assert (x.detach().numpy() >= 2).all() and (x.detach().numpy() < 3).all()
    assert make_tensor((1,), tl.float32, noncontiguous=True).is_contiguous()   # one element
    z = make_tensor((500,), tl.int64, low=0, high=2, exclude_zero=True).numpy()
    assert (z == 1).all()
    f = make_tensor((10,), tl.float32, low=0.0, high=1e-45, exclude_zero=True).numpy()
    assert (f != 0).all()
    tl.manual_seed(5)
    a = make_tensor((3,), tl.float32).numpy().copy()
    tl.manual_seed(5)
    assert (make_tensor((3,), tl.float32).numpy() == a).all()       # tl.manual_seed reproduces


def test_make_tensor_errors():
    with pytest.raises(ValueError, match="requires_grad=True` is not supported"):
        make_tensor((2,), tl.int64, requires_grad=True)
    with pytest.raises(ValueError, match="`low` must be less than `high`"):
        make_tensor((2,), tl.float32, low=3.0, high=1.0)
    with pytest.raises(ValueError, match="cannot be NaN"):
        make_tensor((2,), tl.float32, low=float("nan"))
    with pytest.raises(TypeError, match="dtype"):
        make_tensor((2,))
    with pytest.raises(RuntimeError, match="CPU only"):
        make_tensor((2,), tl.float32, device="cuda")


# ---- check_op -----------------------------------------------------------------------------------

def f64(*shape, low=-2.0, high=2.0):
    return make_tensor(shape, tl.float64, low=low, high=high)


def test_check_op_passes_builtin_ops_and_reports_what_ran():
    tl.manual_seed(0)
    report = check_op(lambda a, b: a * b, f64(3, 4), f64(4), ref=np.multiply)
    assert "gradgradcheck (float64)" in report.passed and "NaN propagation" in report.passed
    assert any(c.startswith("broadcast: input 1") for c in report.passed)
    assert "0-d inputs" in report.passed and any(c.startswith("empty") for c in report.passed)
    report = check_op(tl.matmul, f64(3, 4), f64(4, 2), name="matmul")
    assert ("0-d inputs", "the op refuses them") in report.skipped
    assert "matmul" in repr(report)
    # int inputs pass through unchanged; grad= picks the differentiated inputs
    target = tl.tensor([0, 2, 1])
    check_op(lambda x, t: tl.nn.functional.cross_entropy(x, t), f64(3, 4), target)
    check_op(lambda c, a: tl.where(c > 0, a, 0.0), f64(3), f64(3), grad=(1,))


class _Scaled(tl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 3                       # wrong: should be g * 2


class _NoSum(tl.autograd.Function):
    """a + b with b broadcast; the gradient of b is not summed back to b's shape."""
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


def test_check_op_catches_a_wrong_gradient_with_the_smallest_input():
    with pytest.raises(AssertionError) as info:
        check_op(_Scaled.apply, f64(3, 4))
    msg = str(info.value)
    assert msg.startswith("check_op(_Scaled) failed: gradcheck (float64)")
    assert "Jacobian mismatch" in msg and "analytic: 3.0" in msg and "numerical: 2.0" in msg
    assert "smallest failing inputs (shrunk from shapes [(3, 4)]):\n    input 0: shape (1, 1) = " in msg


def test_check_op_catches_transposed_and_memory_order_backwards():
    with pytest.raises(AssertionError, match=r"failed: gradcheck \(float64\)[\s\S]*input 1"):
        check_op(test_my_ops.MatMulReshapeGrad.apply, f64(3, 4), f64(4, 2))
    with pytest.raises(AssertionError) as info:
        check_op(test_my_ops.SquareMemoryOrder.apply, f64(3, 4))
    msg = str(info.value)
    assert "failed: transposed inputs" in msg and "gradient of input 0" in msg
    assert "(it fails with input 0 alone transposed)" in msg


def test_check_op_catches_an_unsummed_broadcast_gradient():
    with pytest.raises(AssertionError, match="broadcast|shape"):
        check_op(_NoSum.apply, f64(3, 4), f64(4))


def test_check_op_catches_modified_inputs_nan_and_dtype_problems():
    def inplace(x):
        x.data.mul_(2.0)
        return x * 1.0
    with pytest.raises(AssertionError, match=r"input 0 was modified in place \(element \(0, 0\)"):
        check_op(inplace, f64(2, 3))

    def swallow(x):
        return tl.where(x > 0, x, 0.0)
    with pytest.raises(AssertionError, match="NaN propagation: input 0 element .* set to NaN"):
        check_op(swallow, f64(3, 4))
    check_op(swallow, f64(3, 4), nan=False)

    def always64(x):
        return x.double() * 2
    with pytest.raises(AssertionError, match="float32 inputs gave a tl.float64 output 0"):
        check_op(always64, f64(3))

    def sloppy32(x):                 # float32 path loses everything past 3 digits
        return x if x.dtype is tl.float64 else (x * 1000).to(tl.int64).to(tl.float32) / 1000
    with pytest.raises(AssertionError, match="float32 output against float64"):
        check_op(sloppy32, f64(3, 4), grad=False)


def test_check_op_catches_a_wrong_reference_and_a_crash():
    with pytest.raises(AssertionError, match="float64 output against the reference"):
        check_op(tl.exp, f64(3), ref=lambda a: np.exp(a) + 1e-3)

    def crashes(x):
        raise KeyError("boom")
    with pytest.raises(AssertionError, match=r"forward \(float64 and float32\): KeyError"):
        check_op(crashes, f64(3))


def test_check_op_catches_a_backward_that_create_graph_changes():
    class Differs(tl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * (3.0 if tl.is_grad_enabled() else 2.0)
    with pytest.raises(AssertionError, match="create_graph=True gradients against contiguous"):
        check_op(Differs.apply, f64(3))               # seen first by the layout cases
    with pytest.raises(AssertionError, match="create_graph=True backward against plain backward"):
        check_op(Differs.apply, f64(3), variants=())


def test_check_op_arguments():
    with pytest.raises(ValueError, match="no floating-point tensor"):
        check_op(lambda t: t, tl.tensor([1, 2]))
    with pytest.raises(ValueError, match="not floating-point tensors"):
        check_op(lambda x, t: x * t, f64(3), tl.tensor([1, 2, 3]), grad=(1,))
    with pytest.raises(ValueError, match="unknown variants"):
        check_op(tl.exp, f64(3), variants=("sideways",))


def test_opcase_makes_seeded_inputs_and_runs_check_op():
    case = OpCase(lambda a, b: a * b, (3, 4), (4,), name="mul", low=0.5, high=1.0)
    a, b = case.make_inputs()
    assert a.shape == (3, 4) and a.dtype is tl.float64 and (a.numpy() >= 0.5).all()
    assert (case.make_inputs()[0].numpy() == a.numpy()).all()
    assert case.check().name == "mul" and "mul" in repr(case)
    with pytest.raises(AssertionError, match="check_op\\(_Scaled\\) failed"):
        OpCase(_Scaled.apply, (2, 2)).check()


def test_tl_testing_is_public():
    assert tl.testing.check_op is check_op and tl.testing.assert_close is assert_close


def test_index_backward_refuses_a_gradient_of_the_wrong_shape():
    # check_op's generated 0-d variant found it: a 0-d gradient for a 2-element index result
    # made the copy read past the gradient's strides (garbage in the output)
    g = tl.tensor(1.5, dtype=tl.float64)
    with pytest.raises(ValueError, match=r"gradient of shape \(\) for an index result of shape \(2,\)"):
        tl.ops.shape.IndexBackward.apply(g, (4, 3), (slice(1, 4, 2), 2))
    ok = tl.ops.shape.IndexBackward.apply(tl.tensor([1.0, 2.0], dtype=tl.float64), (4, 3),
                                          (slice(1, 4, 2), 2))
    assert ok.numpy()[:, 2].tolist() == [0.0, 1.0, 0.0, 2.0]
