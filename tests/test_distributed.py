"""tl.distributed, DistributedDataParallel and DistributedSampler.

The MPI tests launch ``mpiexec -n 2 python tests/distributed/<script>.py`` (each script checks
itself and prints a line on success); they are skipped when mpi4py or mpiexec is missing
(``pip install "tinygrad_lab[distributed]"`` brings both). The DistributedSampler tests need no
MPI and compare with torch's when torch is installed."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import tinygrad_lab as tl
import tinygrad_lab.distributed as dist
from tinygrad_lab.utils.data import DistributedSampler

HERE = pathlib.Path(__file__).parent / "distributed"
ROOT = pathlib.Path(tl.__file__).parent.parent


def _mpiexec():
    """mpiexec next to this Python (a venv's, from the mpich wheel) or on PATH."""
    local = pathlib.Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


mpi = pytest.mark.skipif(not dist.is_available() or _mpiexec() is None,
                         reason='needs MPI: pip install "tinygrad_lab[distributed]"')


def run_mpi(script, n=2, timeout=240, args=()):
    """``mpiexec -n n python script *args`` (``script``: a path, or a name in tests/distributed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               TL_NUM_THREADS="1")
    return subprocess.run([_mpiexec(), "-n", str(n), sys.executable, str(HERE / script), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def _ok(proc, line):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert line in proc.stdout, proc.stdout + proc.stderr


@mpi
def test_collectives_every_op_and_dtype_against_numpy():
    _ok(run_mpi("collectives.py"), "collectives OK")


@mpi
def test_collectives_on_three_ranks():
    _ok(run_mpi("collectives.py", n=3), "collectives OK")


@mpi
def test_ddp_on_shards_equals_one_process_on_the_whole_batch():
    _ok(run_mpi("ddp_equivalence.py"), "ddp OK")


@mpi
def test_a_failing_rank_ends_the_job_naming_the_rank():
    proc = run_mpi("failing_rank.py", timeout=60)   # (a hang raises TimeoutExpired)
    assert proc.returncode != 0
    assert "unreachable" not in proc.stdout
    assert "rank 1 failed: ValueError: simulated failure at step 2" in proc.stderr, proc.stderr


@mpi
def test_the_example_trains_and_checkpoints(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TL_NUM_THREADS="1")
    proc = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(ROOT / "examples" / "ddp_train.py"),
                           "--quick", "--checkpoint", str(tmp_path / "ddp.tl")],
                          capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    _ok(proc, "final accuracy")
    assert "rank 0:" in proc.stdout and "rank 1:" in proc.stdout
    assert (tmp_path / "ddp.tl").exists()


# ---- without MPI ----------------------------------------------------------------------------

def test_the_module_imports_and_explains_without_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="mpi"):
        dist.init_process_group("nccl")
    with pytest.raises(RuntimeError, match="init_process_group"):
        tl.nn.parallel.DistributedDataParallel(tl.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        DistributedSampler(range(10))


def test_init_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setattr(dist, "_load_mpi", lambda: None)
    assert not dist.is_available()
    with pytest.raises(RuntimeError, match=r'pip install "tinygrad_lab\[distributed\]"'):
        dist.init_process_group()


def test_importing_without_mpi4py_works():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import tinygrad_lab as tl\n"
            "assert tl.distributed.MPI is None and not tl.distributed.is_available()\n"
            "print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.strip() == "ok", proc.stderr


def test_importing_tinygrad_lab_imports_no_optional_extra():
    """mpi4py and ml_dtypes load on first use: importing them costs 0.1-1 s."""
    code = ("import sys, tinygrad_lab as tl\n"
            "print(sorted(m for m in ('mpi4py', 'ml_dtypes', 'matplotlib') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.strip() == "[]", proc.stderr


def test_importing_does_not_start_mpi():
    if not dist.is_available():
        pytest.skip("mpi4py is not installed")
    assert not dist.MPI.Is_initialized()


SAMPLER_CASES = [(n, r, drop) for n in (0, 1, 5, 10, 11, 17) for r in (1, 2, 3, 4, 7)
                 for drop in (False, True)]


def _shares(n, replicas, drop_last, shuffle=False, seed=0, epoch=0):
    out = []
    for rank in range(replicas):
        s = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle,
                               seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        out.append(list(s))
        assert len(s) == len(out[-1])
    return out


@pytest.mark.parametrize("n,replicas,drop_last", SAMPLER_CASES)
def test_distributed_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    if n == 0 and not drop_last:   # (torch divides by zero padding an empty dataset)
        assert _shares(n, replicas, drop_last) == [[]] * replicas
        return
    want = [list(torch.utils.data.DistributedSampler(range(n), num_replicas=replicas, rank=r,
                                                     shuffle=False, drop_last=drop_last))
            for r in range(replicas)]
    assert _shares(n, replicas, drop_last) == want


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (11, 4, True), (7, 2, False),
                                                  (3, 7, False)])
def test_distributed_sampler_shares(n, replicas, drop_last):
    """Shuffled: equal-length disjoint shares covering the dataset (padding repeats indices
    only when needed), the same permutation on every rank for a seed and epoch, another for the
    next epoch."""
    shares = _shares(n, replicas, drop_last, shuffle=True, seed=5, epoch=1)
    assert len({len(s) for s in shares}) == 1
    flat = [i for s in shares for i in s]
    total = len(shares[0]) * replicas
    assert len(flat) == total
    if drop_last:
        assert len(set(flat)) == total and total <= n
    else:
        assert set(flat) == set(range(n))
    assert shares == _shares(n, replicas, drop_last, shuffle=True, seed=5, epoch=1)
    assert shares != _shares(n, replicas, drop_last, shuffle=True, seed=5, epoch=2)
    assert shares != _shares(n, replicas, drop_last, shuffle=True, seed=6, epoch=1)


def test_distributed_sampler_bad_rank():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=3, rank=-1)


def test_distributed_sampler_in_a_dataloader():
    ds = tl.utils.data.TensorDataset(tl.arange(10))
    s = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    got = [b[0].tolist() for b in tl.utils.data.DataLoader(ds, batch_size=2, sampler=s)]
    assert got == [[1, 3], [5, 7], [9]]
