"""``tl.linalg``: linear-algebra functions under torch.linalg's names: factorisations and solves
(ops/decomp.py <-> csrc/linalg.c), products (ops/products.py, ops/linalg.py), norms
(ops/reduce.py)."""
from .ops.decomp import (LinAlgError, cholesky, det, eigh, eigvalsh, inv, lu_factor, lu_solve,
                         qr, slogdet, solve, solve_triangular)
from .ops.linalg import matmul
from .ops.products import linalg_cross as cross, linalg_diagonal as diagonal
from .ops.products import matrix_power, multi_dot, vecdot
from .ops.reduce import linalg_norm as norm, matrix_norm, vector_norm

__all__ = ["LinAlgError", "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
           "lu_factor", "lu_solve", "matmul", "matrix_norm", "matrix_power", "multi_dot", "norm",
           "qr", "slogdet", "solve", "solve_triangular", "vecdot", "vector_norm"]
