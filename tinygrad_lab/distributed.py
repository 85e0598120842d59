"""tl.distributed: collectives between processes over MPI (torch.distributed's ``mpi`` backend).

Launch N copies of a script with ``mpirun -n N python script.py`` (or ``mpiexec``); each calls
``init_process_group()`` and is then rank ``get_rank()`` of ``get_world_size()``. The
collectives hand each tensor's own memory to MPI (a NumPy view of its buffer: no copy), so they
take contiguous float32 / float64 / int64 tensors and raise otherwise.

MPI comes from the optional extra: ``pip install "tinygrad_lab[distributed]"`` (mpi4py and the
MPICH wheel). This module imports without it; ``init_process_group`` then says what to install.

MPI itself is initialised by ``init_process_group``, not when this module is imported
(``mpi4py.rc.initialize = False``): ``import tinygrad_lab`` must not start MPI in every
process. Code that uses mpi4py directly next to tinygrad_lab calls ``init_process_group()`` (or
``MPI.Init_thread()``) first.

Inside a tl.jit capture every collective is recorded as a ``kernels.host_call``: it runs now
and again at every replay, from Python, between the replayed kernels around it (the capture's
read guard does not apply to the MPI call itself). It is then blocking: ``async_op=True``
returns a Work already completed, since a replay runs everything in order anyway.

Failure behaviour: an exception that reaches the top of a rank would leave the other ranks
waiting forever inside a collective. ``init_process_group`` therefore installs a
``sys.excepthook`` that prints the traceback prefixed with the failing rank, then calls
``MPI_Abort``: the launcher (mpiexec) kills every rank and exits non-zero.
"""
import enum
import importlib
import sys
import time

from . import dtypes
from . import kernels as K
from .autograd import no_grad
from .tensor import Tensor

MPI = None   # mpi4py.MPI once _load_mpi imported it


def _load_mpi():
    """mpi4py.MPI, or None when the extra is not installed. Imported on first use rather than
    with tinygrad_lab: importing mpi4py.MPI costs 50-85 ms that most users never need."""
    global MPI
    if MPI is None:
        try:
            mpi4py = importlib.import_module("mpi4py")
            mpi4py.rc.initialize = False   # MPI_Init in init_process_group (module docstring)
            mpi4py.rc.finalize = True      # ... and MPI_Finalize at exit once it ran
            MPI = importlib.import_module("mpi4py.MPI")
        except ImportError:   # the optional extra is not installed
            return None
        _MPI_OPS.update({ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM,
                         ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN})
    return MPI

INSTALL_HINT = 'pip install "tinygrad_lab[distributed]"'


class ReduceOp(enum.Enum):
    """How all_reduce combines the ranks' tensors. AVG is SUM divided by the world size
    (floating-point tensors only)."""
    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class _Group:
    comm = None            # the communicator (a duplicate of COMM_WORLD) while initialised
    prev_excepthook = None


_group = _Group()


def is_available():
    """True when MPI (mpi4py) is installed."""
    return _load_mpi() is not None


def init_process_group(backend="mpi"):
    """Join the job started by mpirun/mpiexec: initialise MPI, and install the excepthook that
    aborts every rank when one raises (see the module docstring)."""
    if backend != "mpi":
        raise ValueError(f"backend {backend!r} is not supported: tinygrad_lab.distributed has the "
                         "'mpi' backend only")
    if _load_mpi() is None:
        raise RuntimeError("tinygrad_lab.distributed needs MPI (mpi4py and an MPI library): "
                           f"{INSTALL_HINT}")
    if _group.comm is not None:
        raise RuntimeError("trying to initialize the default process group twice")
    if not MPI.Is_initialized():
        MPI.Init_thread()
    _group.comm = MPI.COMM_WORLD.Dup()
    _group.prev_excepthook = sys.excepthook
    sys.excepthook = _abort_on_exception


def _abort_on_exception(exc_type, exc, tb):
    """sys.excepthook while the group is up: print the traceback naming the rank, then
    MPI_Abort, so the other ranks do not wait forever for this one."""
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    # The one-line summary goes first, in a single write: MPI_Abort makes the launcher kill
    # this process, and output still in flight through its forwarder can be dropped.
    sys.stderr.write(f"[tinygrad_lab.distributed] rank {rank} failed: {exc_type.__name__}: "
                     f"{exc}\n[tinygrad_lab.distributed] rank {rank} of {size} raised an "
                     "exception; aborting all ranks (MPI_Abort):\n")
    sys.stderr.flush()
    (_group.prev_excepthook or sys.__excepthook__)(exc_type, exc, tb)
    sys.stderr.flush()
    sys.stdout.flush()
    time.sleep(0.2)   # let the launcher relay the traceback before it tears the job down
    comm.Abort(1)


def is_initialized():
    return _group.comm is not None


def _comm():
    if _group.comm is None:
        raise RuntimeError("Default process group has not been initialized, please make sure to "
                           "call init_process_group.")
    return _group.comm


def get_rank():
    return _comm().Get_rank()


def get_world_size():
    return _comm().Get_size()


def barrier():
    """Wait until every rank reaches this call (inside a tl.jit capture: at every replay too)."""
    K.host_call(_comm().Barrier)


def destroy_process_group():
    """Leave the group (MPI itself is finalised at exit) and restore sys.excepthook."""
    comm = _comm()
    comm.Free()
    _group.comm = None
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _group.prev_excepthook
    _group.prev_excepthook = None


_SUPPORTED = (dtypes.float32, dtypes.float64, dtypes.int64)


def _check(t, what):
    """Raise unless MPI can work on ``t``'s memory in place (checks only: reads nothing)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{what} expects a tl.Tensor, got {type(t).__name__}")
    if t.dtype not in _SUPPORTED:
        raise TypeError(f"{what}: unsupported dtype {t.dtype!r}; MPI collectives take "
                        "float32, float64 or int64 tensors")
    if not t._contig:
        raise RuntimeError(f"{what}: Tensors must be contiguous (shape {t.shape}, strides "
                           f"{t.stride()}); call .contiguous() first")


def _written(t):
    """Count MPI's write into ``t`` as an in-place write (autograd's saved-tensor check). Python
    bookkeeping: inside a tl.jit capture it counts the captured write only, not the replays'
    (as for every in-place kernel a replay reruns)."""
    t._bump_version()


def _captured(run, tensor, divide=None):
    """A collective on ``tensor`` inside a tl.jit capture: ``run(buffer)``, a blocking MPI call
    on its memory, becomes a kernels.host_call (run now and at every replay, between the kernel
    calls around it; it gets the buffer there, where reading it is allowed), then the write is
    counted and AVG's division made (a kernel call: recorded, replayed after the host call).
    Returns the Work, already completed: a replay runs everything in order, so an ``async_op``
    collective inside a jitted step is a blocking one."""
    K.host_call(lambda: run(tensor._view_numpy()))
    work = Work(None, tensor, divide)
    work._finish()
    return work


# ReduceOp -> the MPI operation (AVG is a SUM, then a division); filled by _load_mpi
_MPI_OPS = {}


def _reduce_op(op, t):
    if not isinstance(op, ReduceOp):
        raise ValueError(f"op must be a tl.distributed.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and not t.dtype.is_floating_point:
        raise TypeError(f"ReduceOp.AVG needs a floating-point tensor, got {t.dtype!r}")
    return _MPI_OPS[op]


class Work:
    """A collective started with ``async_op=True``: ``wait()`` blocks until it is done (and, for
    AVG, divides by the world size), ``is_completed()`` polls."""

    def __init__(self, request, tensor=None, divide=None):
        self._request, self._tensor, self._divide = request, tensor, divide
        self._done = False

    def is_completed(self):
        if not self._done and self._request.Test():
            self._finish()
        return self._done

    def wait(self):
        if not self._done:
            self._request.Wait()
            self._finish()
        return True

    def _finish(self):
        self._done = True
        if self._tensor is not None:
            _written(self._tensor)
            if self._divide:
                with no_grad():
                    self._tensor.div_(self._divide)


def all_reduce(tensor, op=ReduceOp.SUM, async_op=False):
    """Combine ``tensor`` across all ranks with ``op``, in place on every rank. With
    ``async_op=True`` returns a Work (MPI_Iallreduce) to ``wait()`` on; else None. Inside a
    tl.jit capture it is recorded and rerun by every replay (an ``async_op`` one then blocks:
    see _captured)."""
    _check(tensor, "all_reduce")
    comm = _comm()
    mpi_op = _reduce_op(op, tensor)
    divide = comm.Get_size() if op is ReduceOp.AVG else None
    if K.capturing():
        # (the same MPI call as eager mode's, so a replay reduces in the same order)
        if async_op:
            return _captured(lambda b: comm.Iallreduce(MPI.IN_PLACE, b, op=mpi_op).Wait(),
                             tensor, divide)
        _captured(lambda b: comm.Allreduce(MPI.IN_PLACE, b, op=mpi_op), tensor, divide)
        return None
    buf = tensor._view_numpy()
    if async_op:
        return Work(comm.Iallreduce(MPI.IN_PLACE, buf, op=mpi_op), tensor, divide)
    comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    Work(None, tensor, divide)._finish()
    return None


def broadcast(tensor, src, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank (recorded inside a
    tl.jit capture, as all_reduce)."""
    _check(tensor, "broadcast")
    comm = _comm()
    src = _check_rank(src, comm, "src")
    if K.capturing():
        if async_op:
            return _captured(lambda b: comm.Ibcast(b, root=src).Wait(), tensor)
        _captured(lambda b: comm.Bcast(b, root=src), tensor)
        return None
    buf = tensor._view_numpy()
    if async_op:
        return Work(comm.Ibcast(buf, root=src), tensor)
    comm.Bcast(buf, root=src)
    _written(tensor)
    return None


def all_gather(tensor_list, tensor, async_op=False):
    """``tensor_list[r]`` = rank r's ``tensor`` on every rank. The list holds world-size
    contiguous tensors of ``tensor``'s shape and dtype; each receives straight from MPI (one
    broadcast per rank, so no gather buffer is copied out). Recorded inside a tl.jit capture,
    as all_reduce."""
    _check(tensor, "all_gather")
    comm = _comm()
    n = comm.Get_size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != n:
        raise ValueError(f"all_gather: tensor_list must be a list of {n} tensors (the world "
                         f"size), got {type(tensor_list).__name__} of length "
                         f"{len(tensor_list) if isinstance(tensor_list, (list, tuple)) else '?'}")
    for i, t in enumerate(tensor_list):
        _check(t, "all_gather")
        if t.shape != tensor.shape or t.dtype is not tensor.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] has shape {t.shape} and dtype "
                             f"{t.dtype!r}; expected {tensor.shape} and {tensor.dtype!r}")
    me = comm.Get_rank()
    tensors = list(tensor_list)

    def start():
        return [comm.Ibcast((tensor if r == me else tensors[r])._view_numpy(), root=r)
                for r in range(n)]
    if K.capturing():
        K.host_call(lambda: MPI.Request.Waitall(start()))
        requests = []
    else:
        requests = start()
    with no_grad():
        tensor_list[me].copy_(tensor)
    work = _Waitall(requests, tensor_list)
    if async_op:
        return work
    work.wait()
    return None


class _Waitall(Work):
    def __init__(self, requests, tensors):
        super().__init__(None)
        self._requests, self._tensors = requests, tensors

    def is_completed(self):
        if not self._done and MPI.Request.Testall(self._requests):
            self._finish()
        return self._done

    def wait(self):
        if not self._done:
            MPI.Request.Waitall(self._requests)
            self._finish()
        return True

    def _finish(self):
        self._done = True
        for t in self._tensors:
            _written(t)


def _check_rank(r, comm, what):
    n = comm.Get_size()
    if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < n:
        raise ValueError(f"{what} must be a rank in [0, {n - 1}], got {r!r}")
    return r


__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast",
           "destroy_process_group", "get_rank", "get_world_size", "init_process_group",
           "is_available", "is_initialized"]
