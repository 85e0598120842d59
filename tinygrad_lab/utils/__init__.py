"""tl.utils: data loading (tl.utils.data: Dataset, TensorDataset, DataLoader...) and activation
checkpointing (tl.utils.checkpoint), as torch.utils."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
