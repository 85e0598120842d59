"""pytest plugin: check your own ops with one line each (installed with tinygrad_lab as the
``pytest11`` entry point ``tinygrad_lab``; ``pip install tinygrad_lab[test]`` brings pytest).

    # test_my_ops.py
    import pytest
    from tinygrad_lab.testing import OpCase

    CASES = [
        OpCase(MySigmoid.apply, (3, 4)),                 # one line per op: the op, input shapes
        OpCase(MyMatmul.apply, (3, 4), (4, 2)),
        OpCase(MyLoss.apply, (5, 3), target, grad=(0,)),  # tensors as given, check_op options
    ]

    @pytest.mark.parametrize("case", CASES)            # tests named test_op[MySigmoid], ...
    def test_op(case, tl_check):
        tl_check(case)

The ``tl_check`` fixture runs ``tinygrad_lab.testing.check_op`` (on an ``OpCase``, or as
``tl_check(fn, *inputs, **options)``) after ``tl.manual_seed(--tl-seed)``. Options:
``--tl-fast-gradcheck`` (gradcheck and gradgradcheck in fast mode: for large ops),
``--tl-seed N`` (default 0). From a source checkout without the entry point:
``pytest -p tinygrad_lab.pytest_plugin ...``.
"""
try:
    import pytest
except ImportError:     # imported without pytest (importing every module, say): nothing to offer
    pytest = None

from . import testing
from .creation import manual_seed


def pytest_addoption(parser):
    group = parser.getgroup("tinygrad_lab", "tinygrad_lab op checks (tl_check fixture)")
    group.addoption("--tl-fast-gradcheck", action="store_true", default=False,
                    help="tl_check: gradcheck/gradgradcheck in fast mode (random projections)")
    group.addoption("--tl-seed", type=int, default=0,
                    help="tl_check: tl.manual_seed before each check (default 0)")


def pytest_make_parametrize_id(config, val, argname):
    """Parametrized OpCases are named after their op (test_op[MySigmoid])."""
    if isinstance(val, testing.OpCase):
        return val.name
    return None


if pytest is not None:
    @pytest.fixture
    def tl_check(request):
        """``tl_check(case)`` or ``tl_check(fn, *example_inputs, **check_op_options)``: run
        ``tl.testing.check_op``; a failure is an AssertionError naming the case and the smallest
        input that shows it."""
        fast = request.config.getoption("tl_fast_gradcheck")
        seed = request.config.getoption("tl_seed")

        def check(op, *inputs, **options):
            __tracebackhide__ = True
            manual_seed(seed)
            options.setdefault("fast_mode", fast)
            if isinstance(op, testing.OpCase):
                if inputs:
                    raise TypeError("tl_check(case): an OpCase carries its own inputs")
                return op.check(**options)
            return testing.check_op(op, *inputs, **options)

        return check
