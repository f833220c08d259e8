"""Group count per layer from the structured sparsity of its shuffled weights,
and the bisection on the threshold ``p`` that meets a requested prune ratio.

Block levels are removed from the outside in: removing level ``k`` keeps only
the ``2**k``-block diagonal of ``S[P][:, Q]``. A layer keeps the deepest level
whose removed share of ``sum(S)`` is at most ``p`` (the paper's rule: the first
level whose retained share drops below ``1 - p`` is one too deep), so its
group count is ``2**k``. A grouped conv holds ``1/groups`` of the dense
weights, so the prune ratio is the removed share of all sparsified conv
weights; it never decreases as ``p`` grows, which makes bisection on ``p``
valid.
"""
import numpy as np

from .permutation import split_levels

__all__ = [
    'removed_fractions', 'groups_at', 'prune_ratio', 'bisect_threshold'
]


def removed_fractions(shuffled_norm, levels=None):
    """The share of the weight mass outside the ``2**k``-block diagonal.

    Args:
        shuffled_norm (np.ndarray): ``S[P][:, Q]``.
        levels (int, optional): Deepest level considered; defaults to the
            deepest the shape allows.

    Returns:
        np.ndarray: ``removed[k]`` for ``k = 0..levels`` (``removed[0] = 0``),
        non-decreasing. An all-zero matrix removes nothing at any level.
    """
    split = split_levels(*shuffled_norm.shape, levels)
    mass = np.bincount(split.ravel(), weights=shuffled_norm.ravel(),
                       minlength=split.max() + 1)
    total = mass.sum()
    if total <= 0:
        return np.zeros(len(mass))
    # mass[0] stays inside every level; mass[d] leaves at level d.
    return np.concatenate([[0.0], np.cumsum(mass[1:]) / total])


def groups_at(removed, threshold):
    """``2**k`` for the deepest ``k`` with ``removed[k] <= threshold``."""
    return 2**int(np.flatnonzero(removed <= threshold).max())


def prune_ratio(groups, numels):
    """Share of the sparsified conv weights a grouping removes.

    Args:
        groups (dict[str, int]): Group count per layer.
        numels (dict[str, int]): Dense weight count per layer.
    """
    total = sum(numels.values())
    kept = sum(numels[name] / groups[name] for name in numels)
    return 1.0 - kept / total


def bisect_threshold(removed, numels, target, iters=60):
    """Bisection on ``p`` for the grouping whose prune ratio is closest to
    ``target``.

    The ratio is a step function of ``p`` (each layer steps where ``p``
    crosses one of its ``removed`` values), so the result lies within one
    layer's step of the target.

    Args:
        removed (dict[str, np.ndarray]): :func:`removed_fractions` per layer.
        numels (dict[str, int]): Dense weight count per layer.
        target (float): Requested prune ratio in ``[0, 1)``.
        iters (int): Bisection steps. Defaults to 60 (float resolution).

    Returns:
        tuple[float, dict[str, int], float]: ``p``, the groups per layer and
        the prune ratio they reach.

    Raises:
        ValueError: ``target`` exceeds what the deepest grouping allows.
    """

    def grouping(threshold):
        groups = {name: groups_at(r, threshold) for name, r in removed.items()}
        return groups, prune_ratio(groups, numels)

    low, high = 0.0, 1.0
    low_groups, low_ratio = grouping(low)
    if low_ratio >= target:
        return low, low_groups, low_ratio
    high_groups, high_ratio = grouping(high)
    if high_ratio < target:
        raise ValueError(
            f'Prune ratio {target} is out of reach: grouping every layer as '
            f'deeply as its channel counts allow removes {high_ratio:.4f}.')
    # Invariant: ratio(low) < target <= ratio(high).
    for _ in range(iters):
        middle = (low + high) / 2
        groups, ratio = grouping(middle)
        if ratio >= target:
            high, high_groups, high_ratio = middle, groups, ratio
        else:
            low, low_groups, low_ratio = middle, groups, ratio
    if target - low_ratio < high_ratio - target:
        return low, low_groups, low_ratio
    return high, high_groups, high_ratio
