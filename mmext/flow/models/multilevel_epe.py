"""Multi-level end-point-error loss, as mmflow 0.5.2's ``MultiLevelEPE``.

PWC-Net-style estimators predict one flow map per pyramid level, each in units of
``gt / flow_div``; the loss compares every level with a resized ground truth and sums
the per-level errors with fixed weights (0.32 at the coarsest level down to 0.005).
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmext.registry import MODELS

__all__ = ['MultiLevelEPE', 'endpoint_error']


def endpoint_error(pred: Tensor,
                   target: Tensor,
                   p: int = 2,
                   q: Optional[float] = None,
                   eps: Optional[float] = None) -> Tensor:
    """Per-pixel end-point error ``|pred - target|_p``, optionally robustified.

    With both ``q`` and ``eps`` given the error becomes ``(|pred - target|_p + eps)^q``,
    the robust loss PWC-Net fine-tunes with (p=1, q=0.4, eps=0.01), which penalises
    outliers less than the plain L2 error used for pre-training.

    Args:
        pred (Tensor): Predicted flow, shape (B, 2, H, W).
        target (Tensor): Target flow, same shape as ``pred``.
        p (int): Norm degree, 1 or 2. Defaults to 2.
        q (float, optional): Robust exponent. Defaults to None.
        eps (float, optional): Robust offset. Defaults to None.

    Returns:
        Tensor: Error map of shape (B, H, W).
    """
    if pred.shape != target.shape:
        raise ValueError(f'pred shape {tuple(pred.shape)} does not match target '
                         f'shape {tuple(target.shape)}')
    epe = torch.norm(pred - target, p, dim=1)
    if q is not None and eps is not None:
        epe = (epe + eps)**q
    return epe


@MODELS.register_module()
class MultiLevelEPE(nn.Module):
    """Weighted sum over pyramid levels of the end-point error.

    The ground truth is divided by ``flow_div`` (the predictions live in that unit)
    and then, per level, either average-pooled down to the level's size with the
    valid mask max-pooled (``resize_flow='downsample'``, as IRR does for dense
    ground truth), or kept at full size while the prediction is bilinearly upsampled
    (``'upsample'``, for sparse ground truth such as KITTI that no interpolation can
    shrink faithfully).

    Pixels whose ground truth is not finite are always excluded; beyond that a pixel
    counts when ``valid >= 0.5`` and ``|gt| < max_flow``. As in mmflow, when no valid
    mask is given every (finite) pixel counts and ``max_flow`` is not applied.

    A level may hold a list of predictions (iterative decoders); each is scored
    against the same target and the level's loss is their mean. (mmflow 0.5.2
    accumulates the error map across such a list, counting early predictions more
    than once; for single-tensor levels, PWC-Net's case, the two agree exactly.)

    Args:
        p (int): Norm degree of the error, 1 or 2. Defaults to 2.
        q (float, optional): Robust exponent, used together with ``eps``.
            Defaults to None.
        eps (float, optional): Robust offset, used together with ``q``.
            Defaults to None.
        weights (dict): Loss weight per level; its keys select the predicted levels
            that are scored. Defaults to level6=0.32, level5=0.08, level4=0.02,
            level3=0.01, level2=0.005.
        flow_div (float): Divisor that brings the ground truth into the predictions'
            unit. Defaults to 20.
        max_flow (float): Pixels whose ground-truth magnitude reaches this are
            ignored (only where a valid mask is given). Defaults to inf.
        resize_flow (str): ``'downsample'`` (resize the ground truth) or
            ``'upsample'`` (resize the predictions). Defaults to ``'downsample'``.
        scale_as_level (bool): Whether predictions are in their own level's pixel
            units, in which case the target's u and v are scaled by the level's
            width and height ratios. Defaults to False.
        reduction (str): ``'sum'``: summed error map divided by the batch size;
            ``'mean'``: averaged over counted pixels. Defaults to ``'sum'``.
    """

    def __init__(self,
                 p: int = 2,
                 q: Optional[float] = None,
                 eps: Optional[float] = None,
                 weights: Dict[str, float] = dict(
                     level6=0.32,
                     level5=0.08,
                     level4=0.02,
                     level3=0.01,
                     level2=0.005),
                 flow_div: float = 20.,
                 max_flow: float = float('inf'),
                 resize_flow: str = 'downsample',
                 scale_as_level: bool = False,
                 reduction: str = 'sum') -> None:
        super().__init__()
        if p not in (1, 2):
            raise ValueError(f'p must be 1 or 2, got {p}')
        if q is not None and q <= 0:
            raise ValueError(f'q must be positive, got {q}')
        if eps is not None and eps <= 0:
            raise ValueError(f'eps must be positive, got {eps}')
        if flow_div <= 0:
            raise ValueError(f'flow_div must be positive, got {flow_div}')
        if not isinstance(weights, dict):
            raise TypeError(f'weights must be a dict, got {type(weights)}')
        if max_flow <= 0:
            raise ValueError(f'max_flow must be positive, got {max_flow}')
        if resize_flow not in ('downsample', 'upsample'):
            raise ValueError("resize_flow must be 'downsample' or 'upsample', "
                             f'got {resize_flow!r}')
        if not isinstance(scale_as_level, bool):
            raise TypeError('scale_as_level must be a bool')
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.p = p
        self.q = q
        self.eps = eps
        self.weights = dict(weights)
        self.flow_div = flow_div
        self.max_flow = max_flow
        self.resize_flow = resize_flow
        self.scale_as_level = scale_as_level
        self.reduction = reduction

    def forward(self,
                preds_dict: Dict[str, Union[Tensor, List[Tensor]]],
                target: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            preds_dict (dict): Per level, a flow tensor (B, 2, H_l, W_l) or a list
                of them.
            target (Tensor): Ground-truth flow in pixels, shape (B, 2, H, W).
            valid (Tensor, optional): Valid mask, shape (B, H, W) or (B, 1, H, W).

        Returns:
            Tensor: The scalar loss.
        """
        if target.dim() != 4 or target.shape[1] != 2:
            raise ValueError('target must have shape (B, 2, H, W), got '
                             f'{tuple(target.shape)}')
        finite = torch.isfinite(target).all(dim=1)
        # Zeroed so that pooling and norms stay finite; these pixels are masked out.
        target = torch.where(finite[:, None], target, torch.zeros_like(target))
        if valid is None:
            valid = finite.to(target)
        else:
            if valid.dim() == 4:
                valid = valid[:, 0]
            mag = target.pow(2).sum(dim=1).sqrt()
            valid = ((valid >= 0.5) & (mag < self.max_flow) & finite).to(target)

        target_div = target / self.flow_div
        h_org, w_org = target.shape[2:]
        loss = target.new_zeros(())
        for level, weight in self.weights.items():
            preds = preds_dict[level]
            preds = list(preds) if isinstance(preds, (tuple, list)) else [preds]
            h, w = preds[0].shape[2:]
            if self.resize_flow == 'downsample':
                # Averaging keeps the mean motion of each coarse cell; a cell counts
                # when any of its pixels is valid (following IRR's loss).
                cur_target = F.adaptive_avg_pool2d(target_div, [h, w])
                cur_valid = F.adaptive_max_pool2d(valid[:, None], [h, w])[:, 0]
            else:
                cur_target = target_div
                cur_valid = valid
            if self.scale_as_level:
                scale = cur_target.new_tensor([w / w_org, h / h_org])
                cur_target = cur_target * scale.view(1, 2, 1, 1)

            level_loss = 0.
            for pred in preds:
                if self.resize_flow == 'upsample':
                    pred = F.interpolate(
                        pred,
                        size=cur_target.shape[2:],
                        mode='bilinear',
                        align_corners=False)
                loss_map = endpoint_error(
                    pred, cur_target, p=self.p, q=self.q,
                    eps=self.eps) * cur_valid
                if self.reduction == 'mean':
                    level_loss = level_loss + loss_map.sum() / (
                        cur_valid.sum() + 1e-8)
                else:
                    level_loss = level_loss + loss_map.sum() / pred.shape[0]
            loss = loss + weight * level_loss / len(preds)
        return loss

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(resize_flow={self.resize_flow}, '
                f'scale_as_level={self.scale_as_level}, '
                f'flow_div={self.flow_div}, weights={self.weights}, p={self.p}, '
                f'q={self.q}, eps={self.eps}, reduction={self.reduction!r})')
