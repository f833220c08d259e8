"""Ensemble adapters and feature-wise transformation (FWT), the two layers an
adaptive ViT adds to every transformer block (Huang et al., ECCV 2022)."""
import itertools
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'Adapter', 'EnsembleAdapter', 'FeatureWiseTransform',
    'ensemble_cosine_loss'
]


class Adapter(nn.Module):
    """A bottleneck with its own skip: ``x + up(GELU(down(x)))``.

    Args:
        embed_dims (int): Token width.
        hidden_dims (int): Bottleneck width (64 for ViT-B/16).
        init_std (float): Std of the normal init of both projections (2e-4);
            biases start at zero, so the adapter starts near the identity.
    """

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int = 64,
                 init_std: float = 2e-4):
        super().__init__()
        self.init_std = init_std
        self.down = nn.Linear(embed_dims, hidden_dims)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden_dims, embed_dims)
        self.init_weights()

    def init_weights(self):
        # Also called by mmengine after any parent initializer (e.g. a
        # TruncNormal on every Linear), so adapters keep their near-zero init.
        for linear in (self.down, self.up):
            nn.init.normal_(linear.weight, std=self.init_std)
            nn.init.zeros_(linear.bias)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """What the adapter adds to its input."""
        return self.up(self.act(self.down(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual(x)


def ensemble_cosine_loss(outputs: List[torch.Tensor]) -> torch.Tensor:
    """Mean squared cosine similarity between every pair of adapter outputs.

    The cosine is taken per token over the feature dimension (as the
    reference code's ``F.cosine_similarity(d1.transpose(1, 2),
    d2.transpose(1, 2))`` does) and averaged over batch and tokens.

    Args:
        outputs (list[Tensor]): ``(B, N, C)`` outputs, one per adapter.
    """
    pairs = list(itertools.combinations(outputs, 2))
    if not pairs:
        return outputs[0].new_zeros(())
    return torch.stack([
        F.cosine_similarity(a, b, dim=-1).pow(2).mean() for a, b in pairs
    ]).mean()


class EnsembleAdapter(nn.Module):
    """K adapters on the same input, combined, with a diversity loss.

    The paper sums the adapters' outputs; with each adapter holding its own
    skip that sum is ``K x + ...``, which rescales the pretrained branch at
    init (the public code does exactly that). ``reduction='mean'`` (default)
    averages instead, ``x + mean_k residual_k(x)``, so a pretrained ViT is
    unchanged at init; ``'sum'`` reproduces the reference.

    The cosine loss is measured between the adapters' full outputs (skip
    included), as the public code computes it. Measured between what the
    adapters add instead, it is scale-free in residuals that start near
    zero, so its gradient is about 1 / |residual| (1e7 times the
    classification gradient here) and it alone would steer the adapters.
    It is stored in :attr:`cosine_loss` after each training-mode forward
    (``None`` in eval).

    Args:
        embed_dims (int): Token width.
        num_adapters (int): K (2 in the paper).
        hidden_dims (int): Bottleneck width of each adapter.
        init_std (float): Init std of each adapter's projections.
        reduction (str): ``'mean'`` or ``'sum'`` (see above).
    """

    def __init__(self,
                 embed_dims: int,
                 num_adapters: int = 2,
                 hidden_dims: int = 64,
                 init_std: float = 2e-4,
                 reduction: str = 'mean'):
        super().__init__()
        if reduction not in ('mean', 'sum'):
            raise ValueError(
                f"EnsembleAdapter reduction must be 'mean' or 'sum', "
                f'got {reduction!r}')
        self.reduction = reduction
        self.adapters = nn.ModuleList(
            Adapter(embed_dims, hidden_dims, init_std)
            for _ in range(num_adapters))
        self.cosine_loss = None

    def init_weights(self):
        # mmengine only recurses into children that define init_weights.
        for adapter in self.adapters:
            adapter.init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residuals = [adapter.residual(x) for adapter in self.adapters]
        self.cosine_loss = (ensemble_cosine_loss([x + r for r in residuals])
                            if self.training else None)
        # x + mean(residuals) rather than mean(outputs): exact at init.
        total = torch.stack(residuals).sum(0)
        if self.reduction == 'mean':
            return x + total / len(residuals)
        return len(residuals) * x + total


class FeatureWiseTransform(nn.Module):
    """Random per-feature affine transform of the tokens, in training only.

    ``x <- gamma * x + beta`` with ``gamma = 1 + eps * softplus(W_gamma)`` and
    ``beta = eps' * softplus(W_beta)``, ``eps, eps' ~ N(0, 1)`` drawn per
    feature, shared over batch and tokens. The identity in eval mode.

    Args:
        embed_dims (int): Token width.
        gamma_init (float): Initial value of ``W_gamma`` (0.3 in protocol 1,
            0.1 in protocol 2).
        beta_init (float): Initial value of ``W_beta`` (0.5 / 0.1).
        softplus_beta (float): Sharpness of the softplus; the reference uses
            100, which makes ``softplus(W)`` about ``W`` for ``W > 0.05``.
    """

    def __init__(self,
                 embed_dims: int,
                 gamma_init: float = 0.3,
                 beta_init: float = 0.5,
                 softplus_beta: float = 100.):
        super().__init__()
        self.softplus_beta = softplus_beta
        self.gamma = nn.Parameter(torch.full((embed_dims, ), gamma_init))
        self.beta = nn.Parameter(torch.full((embed_dims, ), beta_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        gamma_std = F.softplus(self.gamma, beta=self.softplus_beta)
        beta_std = F.softplus(self.beta, beta=self.softplus_beta)
        gamma = 1 + torch.randn_like(gamma_std) * gamma_std
        beta = torch.randn_like(beta_std) * beta_std
        return x * gamma + beta
