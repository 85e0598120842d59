"""``tl.linalg``: linear-algebra functions under torch.linalg's names (factorisations and solves:
ops/decomp.py <-> csrc/linalg.c; products: ops/products.py, ops/linalg.py)."""
from .ops.decomp import (LinAlgError, cholesky, det, inv, lu_factor, lu_solve, slogdet, solve,
                         solve_triangular)
from .ops.products import linalg_cross as cross
from .ops.reduce import vector_norm

__all__ = ["LinAlgError", "cholesky", "cross", "det", "inv", "lu_factor", "lu_solve", "slogdet",
           "solve", "solve_triangular", "vector_norm"]
