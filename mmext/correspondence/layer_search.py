"""Beam search over hyperpixel layer sets, as in hyperpixel flow and the
contrastive-correspondence paper.

The paper scores a set without keypoint labels, by the cycle loss of
validation images under that set's features (lower is better); scoring by
validation PCK is the supervised alternative.
"""
import torch

from .features import hyperpixel_features, layer_stride

__all__ = ['beam_search', 'cycle_score']


def beam_search(score, layers, beam_size=4, max_layers=8):
    """Grow layer sets one layer at a time, keeping the ``beam_size`` best.

    Args:
        score (callable): Sorted tuple of layer ids -> float, higher better.
        layers (Sequence[int]): Candidate layer ids.
        beam_size (int): Sets kept at each size (the reference's 4).
        max_layers (int): Largest set tried (the reference's depth 8).

    Returns:
        tuple[tuple[int], float, list]: The best set, its score, and every
        ``(layer set, score)`` evaluated, in order (each set once).
    """
    evaluated = {}
    frontier = [()]
    for _ in range(max_layers):
        grown = sorted({tuple(sorted(ids + (layer, )))
                        for ids in frontier for layer in layers
                        if layer not in ids})
        for ids in grown:
            if ids not in evaluated:
                evaluated[ids] = float(score(ids))
        frontier = sorted(grown, key=evaluated.get, reverse=True)[:beam_size]
        if not frontier:
            break
    best = max(evaluated, key=evaluated.get)
    return best, evaluated[best], list(evaluated.items())


def cycle_score(model, image_pairs, seed=0):
    """The label-free score: minus the mean cycle loss of ``model`` over
    ``image_pairs`` when its features are hyperpixels of the given layers.
    Crops are drawn from ``seed`` so every layer set sees the same ones.

    Args:
        model (ContrastiveCorrespondence): The trained model.
        image_pairs (list[tuple[Tensor, Tensor]]): Normalised image batches.
        seed (int): Seed of the crops.

    Returns:
        callable: layer ids -> score.
    """
    def score(layer_ids):
        torch.manual_seed(seed)
        with torch.no_grad():
            losses = [
                model.cycle_loss(
                    image1, image2,
                    features=lambda x: hyperpixel_features(
                        model.backbone, x, layer_ids),
                    stride=layer_stride(model.backbone, layer_ids[0]))
                for image1, image2 in image_pairs
            ]
        return -float(torch.stack(losses).mean())

    return score
