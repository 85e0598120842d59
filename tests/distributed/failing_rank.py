"""Run under mpiexec -n N: the last rank raises in the middle of training while the others wait
in an allreduce; the excepthook must abort the whole job (non-zero exit, naming the rank)."""
import tinygrad_lab as tl
import tinygrad_lab.distributed as dist
import tinygrad_lab.nn.functional as F
from tinygrad_lab import nn
from tinygrad_lab.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
ddp = DDP(nn.Linear(3, 2))
for step in range(5):
    if step == 2 and rank == world - 1:
        raise ValueError(f"simulated failure at step {step}")
    F.mse_loss(ddp(tl.randn(4, 3)), tl.zeros(4, 2)).backward()
print("unreachable: every rank finished", flush=True)
