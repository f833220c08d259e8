"""Learnable channel shuffle: the permutations P (outputs) and Q (inputs) of
one convolution that gather its weight mass into a block diagonal.

A convolution with weight ``W`` (C_out x C_in x k x k) is summarised by its
weight-norm matrix ``S_ij = ||W_ij::||_1``. The permutations are chosen to
minimise ``<S[P][:, Q], R>``, where the cost matrix ``R`` charges 1 for the
two off-diagonal quadrants, ``power`` for the off-diagonal quadrants of each
diagonal quadrant, and so on: a weight pays less the deeper inside the block
diagonal it sits. With Q fixed the problem in P is a linear assignment (and
vice versa), so P and Q are updated alternately, each step solved exactly by
:func:`scipy.optimize.linear_sum_assignment`; an exact step can never raise
the objective.

Conventions: ``P[i]`` is the original row placed at row ``i`` of the shuffled
matrix, so the shuffled matrix is ``S[P][:, Q]``.
"""
import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    'block_levels', 'split_levels', 'block_diagonal_mask', 'cost_matrix',
    'objective', 'assign_rows', 'assign_cols', 'update_permutations'
]


def _halvings(n):
    """How many times ``n`` can be halved exactly."""
    count = 0
    while n > 0 and n % 2 == 0:
        n //= 2
        count += 1
    return count


def block_levels(rows, cols):
    """The deepest block level of a ``rows x cols`` matrix: ``2**levels``
    equal diagonal blocks need both sizes divisible by ``2**levels``."""
    return min(_halvings(rows), _halvings(cols))


def split_levels(rows, cols, levels=None):
    """For every entry, the level at which it leaves the block diagonal.

    Entry ``(i, j)`` gets the smallest ``d`` in ``1..levels`` such that ``i``
    and ``j`` fall in different blocks of the ``2**d``-block diagonal, or 0 if
    it stays inside the ``2**levels``-block diagonal.

    Args:
        rows (int): Number of rows (output channels).
        cols (int): Number of columns (input channels).
        levels (int, optional): Depth; capped at, and defaulting to,
            :func:`block_levels`.

    Returns:
        np.ndarray: int matrix of shape ``(rows, cols)``.
    """
    max_levels = block_levels(rows, cols)
    levels = max_levels if levels is None else min(levels, max_levels)
    split = np.zeros((rows, cols), dtype=np.int64)
    for level in range(levels, 0, -1):
        # Blocks nest, so writing the deepest level first and overwriting
        # with shallower ones leaves the first level at which i, j separate.
        row_block = np.arange(rows) // (rows >> level)
        col_block = np.arange(cols) // (cols >> level)
        split[row_block[:, None] != col_block[None, :]] = level
    return split


def block_diagonal_mask(rows, cols, groups):
    """Boolean mask of the ``groups``-block diagonal of a ``rows x cols``
    matrix (``groups`` a power of two that divides both sizes)."""
    row_block = np.arange(rows) // (rows // groups)
    col_block = np.arange(cols) // (cols // groups)
    return row_block[:, None] == col_block[None, :]


def cost_matrix(rows, cols, power=0.5, levels=None):
    """The hierarchical cost matrix ``R``.

    Args:
        rows (int): Number of rows (output channels).
        cols (int): Number of columns (input channels).
        power (float): Decay of the cost per level inwards. Defaults to 0.5.
        levels (int, optional): Recursion depth: entries inside the
            ``2**levels``-block diagonal cost 0. Defaults to the deepest
            level the sizes allow.

    Returns:
        np.ndarray: float64 matrix of shape ``(rows, cols)``.
    """
    split = split_levels(rows, cols, levels)
    return np.where(split > 0, power**(split - 1.0), 0.0)


def objective(weight_norm, out_perm, in_perm, cost):
    """``<S[P][:, Q], R>``."""
    return float(np.sum(weight_norm[out_perm][:, in_perm] * cost))


def assign_rows(weight_norm, in_perm, cost):
    """The optimal P for a fixed Q.

    Placing original row ``a`` at row ``i`` costs
    ``sum_j R[i, j] S[a, Q[j]]`` = ``(R @ S[:, Q].T)[i, a]``.
    """
    _, out_perm = linear_sum_assignment(cost @ weight_norm[:, in_perm].T)
    return out_perm


def assign_cols(weight_norm, out_perm, cost):
    """The optimal Q for a fixed P.

    Placing original column ``b`` at column ``j`` costs
    ``sum_i R[i, j] S[P[i], b]`` = ``(R.T @ S[P])[j, b]``.
    """
    _, in_perm = linear_sum_assignment(cost.T @ weight_norm[out_perm])
    return in_perm


def update_permutations(weight_norm, out_perm, in_perm, cost, iters):
    """Alternate exact P and Q steps from the given permutations.

    A step's result is kept only if it lowers the objective, so ties never
    reshuffle channels; the loop stops early once a P-then-Q round gains
    nothing.

    Args:
        weight_norm (np.ndarray): ``S``, shape ``(C_out, C_in)``.
        out_perm (np.ndarray): The current P.
        in_perm (np.ndarray): The current Q.
        cost (np.ndarray): ``R``, same shape as ``S``.
        iters (int): Maximum number of P-then-Q rounds.

    Returns:
        tuple[np.ndarray, np.ndarray, float]: P, Q and the objective.
    """
    weight_norm = np.asarray(weight_norm, dtype=np.float64)
    current = objective(weight_norm, out_perm, in_perm, cost)
    for _ in range(iters):
        start = current
        for step in ('rows', 'cols'):
            if step == 'rows':
                candidate = (assign_rows(weight_norm, in_perm, cost), in_perm)
            else:
                candidate = (out_perm,
                             assign_cols(weight_norm, out_perm, cost))
            value = objective(weight_norm, *candidate, cost)
            if value < current:
                (out_perm, in_perm), current = candidate, value
        if current >= start:
            break
    return np.asarray(out_perm), np.asarray(in_perm), current
