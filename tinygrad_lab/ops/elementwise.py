"""Elementwise ops <-> csrc/elementwise.c.

Unary ops are one table row each: the C op code, what backward needs (x and/or y), and the
derivative written with Tensor ops. Backward calls the fused C VJP kernel; when the backward
pass is itself being recorded (create_graph=True) it uses the Tensor-op derivative instead, so
gradients of gradients work to any order. Binary ops' VJPs are written with ops.
"""
import numbers

from .. import dtypes
from .._lib import NULL, check, i64, lib
from ..autograd import _ONE, Function, _record, _grad_enabled
from ..tensor import _SHAPES, Tensor, _empty, _shape_info, tensor
from .shape import _broadcast_strides, broadcast_shapes, sum_to

# C entry points of the hot paths, bound once (a cffi lib attribute lookup costs ~25 ns)
_tl_mul_backward = lib.tl_mul_backward
_tl_unary_backward_flat = lib.tl_unary_backward_flat

INF = float("inf")


def _strides(t, shape=None):
    """C strides of ``t`` seen as ``shape`` (broadcast), or NULL for the contiguous fast path."""
    if shape is None or t._shape == shape:
        return NULL if t._contig else i64(t._strides)
    return i64(_broadcast_strides(t, shape))


def _scalar(v, dtype):
    """A 0-d tensor holding Python number ``v`` (the fill kernel; no NumPy round trip)."""
    t = _empty((), dtype)
    check(lib.tl_fill(dtype.code, t._ptr(), NULL, 0, NULL, float(v), int(v) if dtype is dtypes.int64 else 0),
          "scalar")
    return t


# ---------------------------------------------------------------------------------------------
# Unary ops
# ---------------------------------------------------------------------------------------------

def _unary_kernel(code, x, p0=0.0, p1=0.0):
    shape = x._shape
    y = _empty(shape, x.dtype)
    if x._contig:
        rc = _unary_flat(code, x.dtype.code, y._data,
                         x._ptr() if x._offset else x._data, _SHAPES[shape][1], p0, p1)
    else:
        rc = lib.tl_unary_forward(code, x.dtype.code, y._data, NULL, x._ptr(),
                                  i64(x._strides), len(shape), _SHAPES[shape][2], p0, p1)
    if rc:
        check(rc, "unary op")
    return y


def _unary_vjp_kernel(code, g, x, y, p0, p1):
    shape = g._shape
    gx = _empty(shape, g.dtype)
    x = x if x is not None else g  # unused operands: pass g (the kernel never reads them)
    y = y if y is not None else g
    if g._contig and x._contig and y._contig:
        rc = _tl_unary_backward_flat(code, g.dtype.code, gx._data, g._ptr(), x._ptr(),
                                     y._ptr(), _SHAPES[shape][1], p0, p1)
    else:
        rc = lib.tl_unary_backward(code, g.dtype.code, gx._data, g._ptr(), g._cstrides(),
                                   x._ptr(), x._cstrides(), y._ptr(), y._cstrides(),
                                   len(shape), _SHAPES[shape][2], p0, p1)
    if rc:
        check(rc, "unary backward")
    return gx


def _where0(cond, g):
    return where(cond, g, 0.0)


#   name         C op            saves   derivative with Tensor ops: gx(g, x, y, p0, p1)
UNARY_TABLE = [
    ("neg",        lib.TL_NEG,        "",   lambda g, x, y, p, q: -g),
    ("abs",        lib.TL_ABS,        "x",  lambda g, x, y, p, q: where(x > 0, g, where(x < 0, -g, 0.0))),
    ("exp",        lib.TL_EXP,        "y",  lambda g, x, y, p, q: g * y),
    ("log",        lib.TL_LOG,        "x",  lambda g, x, y, p, q: g / x),
    ("sqrt",       lib.TL_SQRT,       "y",  lambda g, x, y, p, q: g / (2.0 * y)),
    ("erf",        lib.TL_ERF,        "x",  lambda g, x, y, p, q: g * 1.1283791670955126 * exp(-(x * x))),
    ("sin",        lib.TL_SIN,        "x",  lambda g, x, y, p, q: g * cos(x)),
    ("cos",        lib.TL_COS,        "x",  lambda g, x, y, p, q: -(g * sin(x))),
    ("tanh",       lib.TL_TANH,       "y",  lambda g, x, y, p, q: g * (1.0 - y * y)),
    ("sigmoid",    lib.TL_SIGMOID,    "y",  lambda g, x, y, p, q: g * y * (1.0 - y)),
    ("relu",       lib.TL_RELU,       "x",  lambda g, x, y, p, q: _where0(x > 0, g)),
    ("leaky_relu", lib.TL_LEAKY_RELU, "x",  lambda g, x, y, p, q: where(x > 0, g, g * p)),
    ("gelu",       lib.TL_GELU,       "x",  lambda g, x, y, p, q: g * (0.5 * (1.0 + erf(x * 0.7071067811865476))
                                                                     + x * 0.3989422804014327 * exp(-0.5 * x * x))),
    ("clamp",      lib.TL_CLAMP,      "x",  lambda g, x, y, p, q: where(x < p, 0.0, where(x > q, 0.0, g))),
    ("pow_scalar", lib.TL_POW_SCALAR, "x",  lambda g, x, y, p, q: g * 0.0 if p == 0 else g * p * x ** (p - 1)),
    # a tensor with a Python number p (x + 0.5, 2 * x, 1 - x, x / n, 1 / x): no 0-d tensor, no
    # broadcasting
    ("add_scalar",  lib.TL_ADD_SCALAR,  "", lambda g, x, y, p, q: g),
    ("mul_scalar",  lib.TL_MUL_SCALAR,  "", lambda g, x, y, p, q: g * p),
    ("rsub_scalar", lib.TL_RSUB_SCALAR, "", lambda g, x, y, p, q: -g),
    ("div_scalar",  lib.TL_DIV_SCALAR,  "", lambda g, x, y, p, q: g / p),
    ("rdiv_scalar", lib.TL_RDIV_SCALAR, "x", lambda g, x, y, p, q: -(g * p) / (x * x)),
]


def _make_unary(name, code, saves, deriv):
    """One Function class per table row, named after the op (Exp, Tanh, ... -> ExpBackward)."""

    def forward(ctx, x, p0=0.0, p1=0.0):
        y = _unary_kernel(code, x, p0, p1)
        ctx.params = (p0, p1)
        ctx.save_for_backward(x if "x" in saves else None, y if "y" in saves else None)
        return y

    def backward(ctx, g):
        x, y = ctx._saved or (None, None)   # ops that save nothing skip saving
        if _grad_enabled():  # create_graph: build the derivative from differentiable ops
            return deriv(g, x, y, *ctx.params)
        if code == lib.TL_NEG:
            return _unary_kernel(code, g)
        return _unary_vjp_kernel(code, g, x, y, *ctx.params)

    cls_name = "".join(w.capitalize() for w in name.split("_"))
    return type(cls_name, (Function,), {"forward": staticmethod(forward),
                                        "backward": staticmethod(backward),
                                        "code": code, "saves": saves,
                                        "deriv": staticmethod(deriv),
                                        "__module__": __name__})


UNARY = {name: _make_unary(name, code, saves, d) for name, code, saves, d in UNARY_TABLE}
for _name, _op in (("add", "Add"), ("mul", "Mul"), ("rsub", "Sub"), ("div", "Div"), ("rdiv", "Div")):
    UNARY[_name + "_scalar"].op_name = _op


def _unary(fn, x, p0=0.0, p1=0.0):
    """fn's op (a UNARY class) on float tensor ``x``, with its graph node when x requires grad:
    what fn.apply(x, p0, p1) does, without apply's generic argument scan."""
    y = _unary_kernel(fn.code, x, p0, p1)
    if _grad_enabled() and x.requires_grad:
        saves = fn.saves
        ctx = _record(fn, y, (x,), _ONE,
                      (x if "x" in saves else None, y if "y" in saves else None) if saves else None)
        ctx.params = (p0, p1)
    return y


def _float_input(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x if x.dtype.is_floating_point else x.to(dtypes.get_default_dtype())


def neg(x):
    if x.dtype is dtypes.bool_:
        raise TypeError("negation of a bool tensor is not supported; use ~ or logical ops")
    if x.dtype is dtypes.int64:
        return _unary_kernel(lib.TL_NEG, x)
    return _unary(UNARY["neg"], x)


def abs(x):  # noqa: A001
    if x.dtype is dtypes.int64:
        return _unary_kernel(lib.TL_ABS, x)
    return _unary(UNARY["abs"], _float_input(x, "abs"))


def _simple(name):
    fn = UNARY[name]

    def op(x):
        if not (isinstance(x, Tensor) and x.dtype.is_floating_point):
            x = _float_input(x, name)
        return _unary(fn, x)
    op.__name__ = name
    op.__doc__ = f"Elementwise {name} (forward and VJP in csrc/elementwise.c)."
    return op


exp = _simple("exp")
log = _simple("log")
sqrt = _simple("sqrt")
erf = _simple("erf")
sin = _simple("sin")
cos = _simple("cos")
tanh = _simple("tanh")
sigmoid = _simple("sigmoid")
relu = _simple("relu")


def leaky_relu(x, negative_slope=0.01):
    return _unary(UNARY["leaky_relu"], _float_input(x, "leaky_relu"), float(negative_slope))


def gelu(x, approximate="none"):
    """Exact GELU, x * Phi(x) with the Gaussian CDF (no tanh approximation)."""
    if approximate != "none":
        raise ValueError(f"gelu: only approximate='none' (the exact erf form) is implemented, got {approximate!r}")
    return _unary(UNARY["gelu"], _float_input(x, "gelu"))


def clamp(x, min=None, max=None):  # noqa: A002
    """Limit values to [min, max]; either bound may be None. The gradient flows where
    min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for n, v in (("min", min), ("max", max)):
        if v is not None and not isinstance(v, numbers.Real):
            raise TypeError(f"clamp: {n} must be a number or None, got {type(v).__name__}")
    lo = -INF if min is None else float(min)
    hi = INF if max is None else float(max)
    if x.dtype is dtypes.int64:
        x = x.to(dtypes.get_default_dtype()) if not all(
            v is None or float(v).is_integer() for v in (min, max)) else x
    if x.dtype is dtypes.int64:  # integer clamp: compose from maximum/minimum
        r = x
        if min is not None:
            r = maximum(r, tensor(int(min)))
        if max is not None:
            r = minimum(r, tensor(int(max)))
        return r
    return _unary(UNARY["clamp"], _float_input(x, "clamp"), lo, hi)


clip = clamp


# ---------------------------------------------------------------------------------------------
# Binary ops
# ---------------------------------------------------------------------------------------------

def _operands(a, b, name):
    """Promote two operands (Tensors or Python numbers) to a common dtype, as tensors."""
    if type(b) is float and isinstance(a, Tensor) and a.dtype.is_floating_point:
        return a, _scalar(b, a.dtype), a.dtype                    # the common x * 0.5 case
    at, bt = isinstance(a, Tensor), isinstance(b, Tensor)
    if at and bt:
        dt = dtypes.promote_tensors(a, b)
    elif at:
        if not isinstance(b, (numbers.Number,)) or isinstance(b, complex):
            raise TypeError(f"{name}: unsupported operand type {type(b).__name__}; expected a Tensor or a number")
        dt = dtypes.promote_scalar(a.dtype, b)
        b = _scalar(b, dt)
    elif bt:
        if not isinstance(a, (numbers.Number,)) or isinstance(a, complex):
            raise TypeError(f"{name}: unsupported operand type {type(a).__name__}; expected a Tensor or a number")
        dt = dtypes.promote_scalar(b.dtype, a)
        a = _scalar(a, dt)
    else:
        raise TypeError(f"{name}: expected at least one Tensor")
    return a, b, dt


def _binary_kernel(code, a, b, out_dtype=None):
    shape = a._shape
    if b._shape != shape:
        shape = broadcast_shapes(shape, b._shape)
    out = _empty(shape, out_dtype or a.dtype)
    rc = _binary_forward(code, a.dtype.code, out._data, NULL,
                         a._ptr() if a._offset else a._data,
                         NULL if a._contig and a._shape == shape else _strides(a, shape),
                         b._ptr() if b._offset else b._data,
                         NULL if b._contig and b._shape == shape else _strides(b, shape),
                         len(shape), _SHAPES[shape][2])
    if rc:
        check(rc, "binary op")
    return out


_binary_forward, _binary_flat, _unary_flat = lib.tl_binary_forward, lib.tl_binary_flat, lib.tl_unary_flat
_ADD = lib.TL_ADD


def add_into(acc, g):
    """acc += g in place (gradient accumulation; ``acc`` is contiguous and owns its memory)."""
    if g.dtype is not acc.dtype:
        g = g.to(acc.dtype)
    shape = acc._shape
    if g._contig and g._shape == shape:
        p = acc._data if not acc._offset else acc._ptr()
        rc = _binary_flat(_ADD, acc.dtype.code, p, p, g._data if not g._offset else g._ptr(),
                          (_SHAPES.get(shape) or _shape_info(shape))[1])
    else:
        rc = _binary_forward(_ADD, acc.dtype.code, acc._ptr(), NULL, acc._ptr(), NULL,
                             g._ptr(), _strides(g, shape), len(shape), i64(shape))
    if rc:
        check(rc, "accumulate")
    acc._bump_version()


class _Binary(Function):
    """out = a (op) b elementwise with broadcasting. ``saves`` says what backward reads from
    ctx.saved_tensors: "" nothing, "ab" both inputs, "ab?" each input only when the other one
    needs its gradient (mul), "aby" the inputs and the output. _arith is the usual way in (it
    records the node itself); apply works too."""

    code = None
    saves = ""

    @classmethod
    def forward(cls, ctx, a, b):
        out = _binary_kernel(cls.code, a, b)
        if cls.saves:
            ctx.save_for_backward(*_saved(cls.saves, a, b, out))
        return out


def _saved(saves, a, b, out):
    if saves == "ab?":
        return (a if b.requires_grad else None, b if a.requires_grad else None)
    return (a, b) if saves == "ab" else (a, b, out)


class Add(_Binary):
    code = lib.TL_ADD

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        return (sum_to(g, a._shape) if ctx.needs_input_grad[0] else None,
                sum_to(g, b._shape) if ctx.needs_input_grad[1] else None)


class Sub(_Binary):
    code = lib.TL_SUB

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        return (sum_to(g, a._shape) if ctx.needs_input_grad[0] else None,
                sum_to(-g, b._shape) if ctx.needs_input_grad[1] else None)


class Mul(_Binary):
    code, saves = lib.TL_MUL, "ab?"

    @staticmethod
    def backward(ctx, g):
        a, b = ctx._saved
        need_a, need_b = ctx.needs_input_grad
        x, y = ctx.inputs
        if _grad_enabled():  # create_graph: differentiable ops
            return (sum_to(g * b, x._shape) if need_a else None,
                    sum_to(g * a, y._shape) if need_b else None)
        # both products in one C pass (tl_mul_backward); an operand not needed is never read
        shape, dt = g._shape, g.dtype
        ga = _empty(shape, dt) if need_a else None
        gb = _empty(shape, dt) if need_b else None
        if a is None:
            a = g
        if b is None:
            b = g
        rc = _tl_mul_backward(dt.code, ga._data if need_a else NULL,
                              gb._data if need_b else NULL,
                              g._data if not g._offset else g._ptr(),
                              NULL if g._contig else i64(g._strides),   # g has the output's shape
                              a._data if not a._offset else a._ptr(),
                              NULL if a._contig and a._shape == shape else _strides(a, shape),
                              b._data if not b._offset else b._ptr(),
                              NULL if b._contig and b._shape == shape else _strides(b, shape),
                              len(shape), _SHAPES[shape][2])
        if rc:
            check(rc, "mul backward")
        if x._shape == shape and y._shape == shape:  # no broadcasting to undo
            return ga, gb
        return (sum_to(ga, x._shape) if need_a else None, sum_to(gb, y._shape) if need_b else None)


class Div(_Binary):
    code, saves = lib.TL_DIV, "ab"

    @staticmethod
    def backward(ctx, g):
        a, b = ctx._saved
        ga = sum_to(g / b, a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(-(g * a) / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(_Binary):
    code, saves = lib.TL_POW, "aby"

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx._saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # d/da a**b = b * a**(b-1); zero where b == 0 (as PyTorch)
            ga = sum_to(where(b == 0, 0.0, g * b * a ** (b - 1.0)), a.shape)
        if ctx.needs_input_grad[1]:
            # d/db a**b = a**b * log(a); defined as 0 at a == 0 for b >= 0 (as PyTorch)
            gb = sum_to(where((a == 0) & (b >= 0), 0.0, g * y * log(a)), b.shape)
        return ga, gb


class _Extremum(_Binary):
    """maximum / minimum: the gradient goes to the winning input; ties split it evenly between
    a and b (as PyTorch)."""

    saves = "ab"

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx._saved
        half = where(a == b, g * 0.5, g)
        a_loses = a < b if cls.code == lib.TL_MAXIMUM else a > b
        b_loses = b < a if cls.code == lib.TL_MAXIMUM else b > a
        return (sum_to(where(a_loses, 0.0, half), a.shape) if ctx.needs_input_grad[0] else None,
                sum_to(where(b_loses, 0.0, half), b.shape) if ctx.needs_input_grad[1] else None)


class Maximum(_Extremum):
    code = lib.TL_MAXIMUM


class Minimum(_Extremum):
    code = lib.TL_MINIMUM


_BOOL_ARITH = {lib.TL_ADD: lib.TL_MAXIMUM, lib.TL_MUL: lib.TL_MINIMUM}  # or / and, as PyTorch


def _arith(fn, name, float_only=False):
    """The function computing a (op) b for Function ``fn`` (a _Binary): promotion, the kernel, and
    the graph node when an input requires grad. The common case -- two contiguous float tensors
    of one dtype and shape -- is written out flat: it is most of a small network's ops. (A
    closure per op, so ``a * b`` is one Python call, not a wrapper calling this.)"""
    code, saves = fn.code, fn.saves   # (closure variables: cheaper than the class attributes)

    def op(a, b):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype is b.dtype
                and a.dtype.is_floating_point):
            tb = type(b)
            if tb is float or tb is int:
                if isinstance(a, Tensor) and a.dtype.is_floating_point and fn in _WITH_SCALAR:
                    return _unary(*_WITH_SCALAR[fn](a, b))     # float tensor (op) Python number
            elif type(a) in (float, int) and isinstance(b, Tensor) and b.dtype.is_floating_point \
                    and fn in _SCALAR_WITH:
                return _unary(*_SCALAR_WITH[fn](a, b))         # Python number (op) float tensor
            a, b, dt = _operands(a, b, name)
            if dt is dtypes.bool_ and code in _BOOL_ARITH:
                a, b = a.to(dt), b.to(dt)
                return _binary_kernel(_BOOL_ARITH[code], a, b)
            if dt is dtypes.bool_ and code == lib.TL_SUB:
                raise TypeError("subtraction of two bool tensors is not supported; use logical_xor-style "
                                "ops or convert with .long()")
            if dt is dtypes.bool_ or (float_only and not dt.is_floating_point):
                dt = dtypes.int64 if not float_only else dtypes.get_default_dtype()
            a, b = a.to(dt), b.to(dt)
            if not dt.is_floating_point:
                broadcast_shapes(a.shape, b.shape)
                return _binary_kernel(code, a, b)  # integers carry no gradient
        shape = a._shape
        if b._shape == shape and a._contig and b._contig:
            out = _empty(shape, a.dtype)
            rc = _binary_flat(code, a.dtype.code, out._data,
                              a._data if not a._offset else a._ptr(),
                              b._data if not b._offset else b._ptr(), _SHAPES[shape][1])
            if rc:
                check(rc, name)
        else:
            out = _binary_kernel(code, a, b)   # broadcasting or strided views
        ra, rb = a.requires_grad, b.requires_grad
        if (ra or rb) and _grad_enabled():
            _record(fn, out, (a, b), (ra, rb),
                    None if not saves else (a if rb else None, b if ra else None) if saves == "ab?"
                    else _saved(saves, a, b, out))
        return out

    op.__name__ = op.__qualname__ = name
    return op

# Python-number operands go to the scalar unary ops (the number keeps the tensor's dtype, as
# PyTorch's promotion says): fn -> (op, x, p0)
_WITH_SCALAR = {
    Add: lambda x, v: (UNARY["add_scalar"], x, float(v)),
    Sub: lambda x, v: (UNARY["add_scalar"], x, -float(v)),
    Mul: lambda x, v: (UNARY["mul_scalar"], x, float(v)),
    Div: lambda x, v: (UNARY["div_scalar"], x, float(v)),
}
_SCALAR_WITH = {
    Add: lambda v, x: (UNARY["add_scalar"], x, float(v)),
    Sub: lambda v, x: (UNARY["rsub_scalar"], x, float(v)),
    Mul: lambda v, x: (UNARY["mul_scalar"], x, float(v)),
    Div: lambda v, x: (UNARY["rdiv_scalar"], x, float(v)),
}


_add, _sub = _arith(Add, "add"), _arith(Sub, "sub")   # Tensor.__add__ / __sub__ (no alpha)


def add(a, b, alpha=1):
    if alpha != 1:
        b = b * alpha
    return _add(a, b)


def sub(a, b, alpha=1):
    if alpha != 1:
        b = b * alpha
    return _sub(a, b)


mul = _arith(Mul, "mul")
div = _arith(Div, "div", float_only=True)
div.__doc__ = "True division: integer inputs give the default float dtype."
maximum = _arith(Maximum, "maximum")
minimum = _arith(Minimum, "minimum")
_pow = _arith(Pow, "pow", float_only=True)


def pow(a, b):  # noqa: A001
    """a ** b. A Python-number exponent uses the scalar kernel (its VJP is in C too). An int64
    tensor to a non-negative int power stays int64 (computed in float64: exact below 2**53)."""
    if isinstance(a, Tensor) and isinstance(b, numbers.Real) and not isinstance(b, bool):
        if a.dtype is dtypes.int64 and isinstance(b, numbers.Integral) and b >= 0:
            return _unary(UNARY["pow_scalar"], a.to(dtypes.float64), float(b)).to(dtypes.int64)
        return _unary(UNARY["pow_scalar"], _float_input(a, "pow"), float(b))
    return _pow(a, b)


def _compare(code, name):
    def op(a, b):
        a, b, dt = _operands(a, b, name)
        a, b = a.to(dt), b.to(dt)
        return _binary_kernel(code, a, b, dtypes.bool_)
    op.__name__ = name
    return op


eq = _compare(lib.TL_EQ, "eq")
ne = _compare(lib.TL_NE, "ne")
lt = _compare(lib.TL_LT, "lt")
le = _compare(lib.TL_LE, "le")
gt = _compare(lib.TL_GT, "gt")
ge = _compare(lib.TL_GE, "ge")


def logical_and(a, b):
    a, b = a.to(dtypes.bool_), b.to(dtypes.bool_)
    return _binary_kernel(lib.TL_MINIMUM, a, b)


def logical_or(a, b):
    a, b = a.to(dtypes.bool_), b.to(dtypes.bool_)
    return _binary_kernel(lib.TL_MAXIMUM, a, b)


def logical_not(a):
    return eq(a.to(dtypes.bool_), False)


# ---------------------------------------------------------------------------------------------
# where
# ---------------------------------------------------------------------------------------------

class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        shape = broadcast_shapes(cond.shape, a.shape, b.shape)
        ctx.cond = cond
        out = _empty(shape, a.dtype)
        check(lib.tl_where_forward(a.dtype.code, out._ptr(), cond._ptr(), _strides(cond, shape),
                                   a._ptr(), _strides(a, shape), b._ptr(), _strides(b, shape),
                                   len(shape), i64(shape)), "where")
        return out

    @staticmethod
    def backward(ctx, g):
        c = ctx.cond
        ga = sum_to(where(c, g, 0.0), ctx.inputs[1].shape) if ctx.needs_input_grad[1] else None
        gb = sum_to(where(c, 0.0, g), ctx.inputs[2].shape) if ctx.needs_input_grad[2] else None
        return None, ga, gb


def where(cond, a, b):
    """Elementwise ``a if cond else b`` with broadcasting; ``cond`` is a bool tensor."""
    if not isinstance(cond, Tensor):
        raise TypeError(f"where: cond must be a bool Tensor, got {type(cond).__name__}")
    if cond.dtype is not dtypes.bool_:
        cond = cond.to(dtypes.bool_)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        dt = dtypes.promote_scalar(dtypes.int64, a) if isinstance(a, int) and isinstance(b, int) else dtypes.get_default_dtype()
        a, b = _scalar(a, dt), _scalar(b, dt)
    else:
        a, b, dt = _operands(a, b, "where")
        a, b = a.to(dt), b.to(dt)
    broadcast_shapes(cond.shape, a.shape, b.shape)
    return Where.apply(cond, a, b)
