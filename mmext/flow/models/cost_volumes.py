"""Cost volumes: how similar the features of two images are, per pair of pixels.

The cost volume is one swappable component so that a learnable one (LCV) can replace
the plain dot product through a single config key. Every cost volume compares
``transform(feat1)`` with ``transform(feat2)`` by a dot product; a subclass changes
only :meth:`CostVolume.transform`.
"""
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmext.registry import MODELS


class CostVolume(nn.Module):
    """Dot-product matching cost between two feature maps of shape (B, C, H, W).

    Two layouts are offered: :meth:`all_pairs` (every pixel of image 1 against every
    pixel of image 2, as RAFT uses) and :meth:`local` (each pixel against a square
    neighbourhood, as PWC-Net uses).

    Args:
        channels (int): Number of feature channels C. The dot product needs no
            parameters and ignores it; learnable subclasses size their weights by it.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def transform(self, feat: Tensor) -> Tensor:
        """Map features into the space where the dot product is taken."""
        return feat

    def features(self, feat1: Tensor,
                 feat2: Tensor) -> Tuple[Tensor, Tensor]:
        """Both feature maps in the space where the dot product is taken.

        The volume is ``features(f1, f2)`` compared by a plain dot product; a
        lookup that computes only some of its entries (RAFT's memory-efficient
        lookup) calls this once and takes the dot products itself.
        """
        return self.transform(feat1), self.transform(feat2)

    def all_pairs(self, feat1: Tensor, feat2: Tensor) -> Tensor:
        """All-pairs correlation ``transform(f1)^T transform(f2) / sqrt(C)``.

        Args:
            feat1 (Tensor): Features of image 1, shape (B, C, H, W).
            feat2 (Tensor): Features of image 2, shape (B, C, H, W).

        Returns:
            Tensor: Shape (B, H, W, H, W); entry [b, i, j, k, l] compares pixel
            (i, j) of image 1 with pixel (k, l) of image 2.
        """
        feat1, feat2 = self.features(feat1, feat2)
        B, C, H, W = feat1.shape
        corr = torch.matmul(
            feat1.view(B, C, H * W).transpose(1, 2), feat2.view(B, C, H * W))
        return corr.view(B, H, W, H, W) / math.sqrt(C)

    def local(self, feat1: Tensor, feat2: Tensor,
              max_displacement: int) -> Tensor:
        """Correlation of each pixel with the (2d+1)^2 pixels around it in image 2.

        Matches mmcv's ``Correlation(kernel_size=1, max_displacement=d, stride=1,
        padding=0)`` as mmflow's PWC-Net calls it: the plain SUM over channels (no
        division by C or sqrt(C); mmflow's ``CorrBlock(scaled=True)`` divides that
        sum by C afterwards, i.e. takes the channel mean), with zeros where the
        displaced pixel falls outside image 2.

        Args:
            feat1 (Tensor): Features of image 1, shape (B, C, H, W).
            feat2 (Tensor): Features of image 2, shape (B, C, H, W).
            max_displacement (int): Radius d of the neighbourhood.

        Returns:
            Tensor: Shape (B, (2d+1)^2, H, W); channel ``(dy + d) * (2d+1) +
            (dx + d)`` holds ``sum_c f1[c, y, x] * f2[c, y + dy, x + dx]``.
        """
        feat1, feat2 = self.features(feat1, feat2)
        H, W = feat1.shape[-2:]
        d = max_displacement
        feat2 = F.pad(feat2, (d, d, d, d))
        costs = [(feat1 * feat2[:, :, dy:dy + H, dx:dx + W]).sum(dim=1)
                 for dy in range(2 * d + 1) for dx in range(2 * d + 1)]
        return torch.stack(costs, dim=1)


@MODELS.register_module()
class DotProductCostVolume(CostVolume):
    """The plain dot-product cost volume of RAFT and PWC-Net; holds no parameters.

    Args:
        channels (int): Number of feature channels (unused).
    """
