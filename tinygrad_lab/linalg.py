"""``tl.linalg``: linear-algebra functions under torch.linalg's names."""
from .ops.reduce import vector_norm

__all__ = ["vector_norm"]
