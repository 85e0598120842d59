"""tl.utils: data loading (tl.utils.data: Dataset, TensorDataset, DataLoader...), as
torch.utils."""
from . import data

__all__ = ["data"]
