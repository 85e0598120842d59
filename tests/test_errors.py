"""API.md "Errors": every bad input raises a clear Python exception naming what was wrong, and
no input can crash the process (checked in a subprocess)."""
import subprocess
import sys
import textwrap

import pytest

import tinygrad_lab as tl

BINARY = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b), ("maximum", tl.maximum),
    ("minimum", tl.minimum), ("eq", lambda a, b: a == b), ("lt", lambda a, b: a < b),
    ("where", lambda a, b: tl.where(a > 0, a, b)),
]


@pytest.mark.parametrize("name,op", BINARY, ids=[n for n, _ in BINARY])
def test_broadcast_failure_names_both_shapes(name, op):
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        op(tl.ones(2, 3), tl.ones(4))


def test_bad_reshape_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
        tl.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        tl.ones(2, 3).reshape(-1, -1)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, -1\)"):
        tl.ones(2, 3).reshape(4, -1)


def test_view_of_incompatible_strides():
    with pytest.raises(ValueError, match="reshape"):
        tl.ones(2, 3).T.view(6)


@pytest.mark.parametrize("call", [
    lambda t: t.sum(2), lambda t: t.mean(-3), lambda t: t.max(5), lambda t: t.argmax(2),
    lambda t: t.transpose(0, 2), lambda t: t.unsqueeze(4), lambda t: t.squeeze(3),
    lambda t: tl.cat([t, t], 2), lambda t: t.logsumexp(7), lambda t: t.var((0, 0)),
])
def test_bad_dim(call):
    with pytest.raises(ValueError, match="dim"):
        call(tl.ones(2, 3))


def test_expand_and_permute_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 3\)"):
        tl.ones(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match="permutation"):
        tl.ones(2, 3).permute(0, 0)


def test_cat_and_stack_shape_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)"):
        tl.cat([tl.ones(2, 3), tl.ones(3, 3)], 1)
    with pytest.raises(ValueError, match="same shape"):
        tl.stack([tl.ones(2), tl.ones(3)])


def test_unsupported_data():
    with pytest.raises(TypeError, match="string"):
        tl.tensor("abc")
    with pytest.raises(TypeError, match="expected a number"):
        tl.tensor([1.0, "a"])
    with pytest.raises(ValueError, match="ragged"):
        tl.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="dtype"):
        tl.zeros(2, dtype="complex64")
    with pytest.raises(TypeError, match="floating"):
        tl.ones(2, dtype=tl.int64, requires_grad=True)
    with pytest.raises(TypeError, match="Tensor or a number"):
        tl.ones(2) + "x"


def test_index_errors():
    t = tl.ones(2, 3)
    with pytest.raises(IndexError, match="out of bounds.*size 2"):
        t[2]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]
    with pytest.raises(ValueError, match="step"):
        t[::-1]


@pytest.mark.parametrize("make", [
    lambda: tl.zeros(-1), lambda: tl.ones(2, -3), lambda: tl.empty((3, -1)),
    lambda: tl.full((-2,), 1.0), lambda: tl.rand(-1), lambda: tl.randn(2, -2),
])
def test_negative_dims(make):
    with pytest.raises(ValueError, match="negative dimension"):
        make()


def test_autograd_misuse_is_runtime_error():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    z = x.exp()
    s = z.sum()
    z.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        s.backward()


def test_matmul_inner_dim_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
        tl.ones(2, 3) @ tl.ones(4, 2)


def test_cross_entropy_target_errors():
    F = tl.nn.functional
    with pytest.raises(IndexError, match="4"):
        F.cross_entropy(tl.ones(3, 4), tl.tensor([0, 4, 1]))
    with pytest.raises(TypeError, match="int64"):
        F.cross_entropy(tl.ones(3, 4), tl.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3, 4\)"):
        F.cross_entropy(tl.ones(3, 4), tl.tensor([0, 1]))


def test_numpy_on_tensor_requiring_grad():
    with pytest.raises(RuntimeError, match="detach"):
        tl.ones(2, requires_grad=True).numpy()


HOSTILE = textwrap.dedent(r'''
    import tinygrad_lab as tl
    bad = [
        lambda: tl.zeros(2**62, 2**62), lambda: tl.zeros(10**30), lambda: tl.ones(-5),
        lambda: tl.zeros(*([1] * 100)), lambda: tl.randn(2**40, 2**40), lambda: tl.arange(0, 10, 0),
        lambda: tl.arange(0, float("inf")), lambda: tl.randint(5, 2, (3,)), lambda: tl.eye(-3),
        lambda: tl.ones(3).reshape(2**40, -1), lambda: tl.ones(3).expand(2**62, 2**62),
        lambda: tl.ones(2, 3)[5], lambda: tl.ones(2, 3)[:, -9], lambda: tl.ones(2, 3)[0, 0, 0],
        lambda: tl.ones(2, 3).sum(99), lambda: tl.ones(2, 3).permute(5, 0),
        lambda: tl.ones(2, 3).transpose(0, -9), lambda: tl.cat([tl.ones(2), tl.ones(2, 2)]),
        lambda: tl.ones(2, 3).max(-7), lambda: tl.ones(0).max(), lambda: tl.ones(0).argmax(),
        lambda: tl.tensor([[1], [1, 2]]), lambda: tl.tensor(object()), lambda: tl.tensor([1, None]),
        lambda: tl.tensor(10**30), lambda: tl.ones(2).view(-1, -1), lambda: tl.ones(3).split(0),
        lambda: tl.ones(3).chunk(-1), lambda: tl.full((2,), "x"), lambda: tl.ones(2).to("int8"),
        lambda: tl.set_num_threads(0), lambda: tl.manual_seed("x"), lambda: tl.ones(3).squeeze(4),
        lambda: tl.ones(3)[tl.tensor([5])], lambda: tl.ones(3)[[-4]], lambda: tl.ones(3)[[2**62]],
        lambda: tl.ones(2, 2)[tl.tensor([[0, 1]]), tl.tensor([0, 1, 1])], lambda: tl.ones(3)[[0.5]],
        lambda: tl.ones(3)[tl.tensor([True, False])], lambda: tl.ones(3).index_select(0, [3]),
    ]
    for a, b in [((2, 3), (4,)), ((5,), (6,)), ((2, 1, 3), (2, 4, 1, 2))]:
        for op in (lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x / y,
                   lambda x, y: x ** y, tl.maximum, tl.minimum, lambda x, y: x == y,
                   lambda x, y: x < y, lambda x, y: tl.where(x > 0, x, y)):
            bad.append(lambda op=op, a=a, b=b: op(tl.ones(*a), tl.ones(*b)))
    F = tl.nn.functional
    bad += [
        lambda: tl.ones(2, 3) @ tl.ones(4, 2), lambda: tl.ones(3) @ tl.ones(4), lambda: tl.ones(()) @ tl.ones(2),
        lambda: tl.ones(2, 2, 3) @ tl.ones(3, 3, 2), lambda: tl.matmul(tl.ones(2**31, 0), tl.ones(5, 2)),
        lambda: F.cross_entropy(tl.ones(3, 4), tl.tensor([0, 4, 1])),
        lambda: F.cross_entropy(tl.ones(3, 4), tl.tensor([0, -1, 1])),
        lambda: F.cross_entropy(tl.ones(3, 4), tl.tensor([0, 1])),
        lambda: F.cross_entropy(tl.ones(3, 4), tl.tensor([0.0, 1.0, 2.0])),
        lambda: F.nll_loss(tl.ones(3, 4), tl.tensor([9, 0, 0])), lambda: F.softmax(tl.ones(3), 2),
        lambda: F.mse_loss(tl.ones(3), tl.ones(4)), lambda: F.binary_cross_entropy(tl.ones(3) * 2, tl.ones(3)),
        lambda: F.linear(tl.ones(2, 3), tl.ones(4, 5)), lambda: F.dropout(tl.ones(3), 1.5),
        lambda: tl.nn.Linear(3, 2)(tl.ones(2, 4)), lambda: tl.nn.Embedding(3, 2)(tl.tensor([3])),
        lambda: tl.optim.SGD([tl.ones(2, requires_grad=True)], lr=-1),
    ]
    raised = 0
    for f in bad:
        try:
            f()
        except (ValueError, TypeError, IndexError, RuntimeError, MemoryError, OverflowError):
            raised += 1
    print("survived", raised, len(bad))
''')


def test_hostile_inputs_raise_and_never_crash():
    r = subprocess.run([sys.executable, "-c", HOSTILE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"process died (code {r.returncode}):\n{r.stderr[-2000:]}"
    survived, raised, total = r.stdout.split()
    assert raised == total, f"only {raised} of {total} hostile calls raised:\n{r.stdout}"
