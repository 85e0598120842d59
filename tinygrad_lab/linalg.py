"""``tl.linalg``: linear-algebra functions under torch.linalg's names."""
from .ops.products import linalg_cross as cross
from .ops.reduce import vector_norm

__all__ = ["cross", "vector_norm"]
