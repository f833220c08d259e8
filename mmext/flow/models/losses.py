"""Losses of iterative flow estimators."""
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from mmext.registry import MODELS


@MODELS.register_module()
class SequenceLoss(nn.Module):
    """RAFT's loss over the sequence of refined flows, as in mmflow 0.5.2.

    ``sum_i gamma^(N-i-1) * mean(valid * |pred_i - gt|_1)``, the mean taken over
    batch, both flow components and all pixels, so later iterations weigh more.
    Where a valid mask is given, pixels whose ground-truth magnitude is not below
    ``max_flow`` are invalid too; without a mask every pixel counts.

    Args:
        gamma (float): Base of the per-iteration weights. Defaults to 0.8.
        max_flow (float): Ground-truth magnitudes from this value on are ignored.
            Defaults to 400.
    """

    def __init__(self, gamma: float = 0.8, max_flow: float = 400.) -> None:
        super().__init__()
        self.gamma = gamma
        self.max_flow = max_flow

    def forward(self,
                flow_preds: Sequence[Tensor],
                flow_gt: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        """Weighted sum of the L1 errors of all predictions.

        Args:
            flow_preds (Sequence[Tensor]): Predictions in iteration order, each
                (B, 2, H, W).
            flow_gt (Tensor): Ground truth, (B, 2, H, W).
            valid (Tensor, optional): Validity, (B, H, W); values >= 0.5 are valid.

        Returns:
            Tensor: The scalar loss.
        """
        if valid is None:
            valid = torch.ones_like(flow_gt[:, 0])
        else:
            magnitude = flow_gt.pow(2).sum(dim=1).sqrt()
            valid = ((valid >= 0.5) & (magnitude < self.max_flow)).to(flow_gt)
        num_preds = len(flow_preds)
        loss = 0.
        for i, pred in enumerate(flow_preds):
            weight = self.gamma**(num_preds - i - 1)
            loss += weight * (valid[:, None] * (pred - flow_gt).abs()).mean()
        return loss
