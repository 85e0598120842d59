"""Run under mpiexec -n N: every collective, op and dtype against NumPy on rank-dependent data.
Prints "collectives OK" on rank 0 when every check passed."""
import numpy as np

import tinygrad_lab as tl
import tinygrad_lab.distributed as dist

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized()


def data(r, dtype, shape=(3, 4)):
    """Rank r's values: different on every rank, with ties and negatives."""
    a = (np.arange(12).reshape(shape) * (r + 1) - 5 * r) % 7 - 3
    return a.astype(dtype.np) + (0.25 * r if dtype.is_floating_point else 0)


all_data = {dt: [data(r, dt) for r in range(world)] for dt in (tl.float32, tl.float64, tl.int64)}
want = {dist.ReduceOp.SUM: lambda xs: np.sum(xs, axis=0),
        dist.ReduceOp.AVG: lambda xs: np.sum(xs, axis=0) / world,
        dist.ReduceOp.MAX: lambda xs: np.max(xs, axis=0),
        dist.ReduceOp.MIN: lambda xs: np.min(xs, axis=0)}
for dt, xs in all_data.items():
    for op, fn in want.items():
        if op is dist.ReduceOp.AVG and dt is tl.int64:
            try:
                dist.all_reduce(tl.tensor(xs[rank]), op=op)
            except TypeError as e:
                assert "floating-point" in str(e)
            else:
                raise AssertionError("AVG on int64 did not raise")
            continue
        for async_op in (False, True):
            t = tl.tensor(xs[rank], dtype=dt)
            ptr = t.data_ptr()
            work = dist.all_reduce(t, op=op, async_op=async_op)
            if async_op:
                work.wait()
                assert work.is_completed()
            assert t.data_ptr() == ptr and t.dtype is dt
            np.testing.assert_allclose(t.numpy(), fn(np.stack(xs)).astype(dt.np), rtol=1e-6,
                                       err_msg=f"{op} {dt}")
    for src in range(world):
        t = tl.tensor(xs[rank], dtype=dt)
        dist.broadcast(t, src)
        np.testing.assert_array_equal(t.numpy(), xs[src])
    out = [tl.zeros(3, 4, dtype=dt) for _ in range(world)]
    dist.all_gather(out, tl.tensor(xs[rank], dtype=dt))
    for r in range(world):
        np.testing.assert_array_equal(out[r].numpy(), xs[r])

# a view into a bigger buffer is reduced in place, leaving the rest alone
base = tl.zeros(10, dtype=tl.float64)
view = base[2:5]
view.fill_(rank + 1.0)
dist.all_reduce(view)
assert base.tolist() == [0, 0] + [world * (world + 1) / 2] * 3 + [0] * 5, base.tolist()

# clear errors
for bad, exc, text in [(lambda: dist.all_reduce(tl.zeros(4, 4).T), RuntimeError, "contiguous"),
                       (lambda: dist.all_reduce(tl.zeros(3) > 1), TypeError, "dtype"),
                       (lambda: dist.all_reduce([1.0]), TypeError, "tl.Tensor"),
                       (lambda: dist.all_reduce(tl.zeros(3), op="sum"), ValueError, "ReduceOp"),
                       (lambda: dist.broadcast(tl.zeros(3), world), ValueError, "src"),
                       (lambda: dist.all_gather([tl.zeros(3)] * (world + 1), tl.zeros(3)),
                        ValueError, "tensor_list"),
                       (lambda: dist.all_gather([tl.zeros(2)] * world, tl.zeros(3)),
                        ValueError, "shape"),
                       (lambda: dist.init_process_group("gloo"), ValueError, "mpi"),
                       (lambda: dist.init_process_group(), RuntimeError, "twice")]:
    try:
        bad()
    except exc as e:
        assert text in str(e), (text, str(e))
    else:
        raise AssertionError(f"no {exc.__name__} for {text}")

dist.barrier()
dist.destroy_process_group()
assert not dist.is_initialized()
if rank == 0:
    print("collectives OK")
