"""The FAS head: a bottleneck embedding, L2-normalised, then a linear layer
with L2-normalised class weights (a cosine classifier)."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS

__all__ = ['NormLinearClsHead']


@MODELS.register_module()
class NormLinearClsHead(ClsHead):
    """Linear-ReLU-Dropout bottleneck, L2-normalised feature, and a linear
    layer whose per-class weights are L2-normalised, so the logits are
    ``scale`` times cosines (plus a bias).

    mmpretrain's heads have no normalised variant. The public code differs
    in two details: it divides the feature by ``sqrt(2 * ||f||)`` rather
    than ``||f||`` and normalises the weight over classes (per input
    feature) in place; this head follows the paper's description instead.

    Args:
        num_classes (int): 2 for spoof (0) / live (1).
        in_channels (int): Backbone feature width.
        hidden_channels (int): Bottleneck width (512 in the paper).
        dropout (float): Dropout after the ReLU (0.5).
        scale (float): Multiplier of the cosine logits (1 = the paper).
        **kwargs: Those of mmpretrain's ``ClsHead`` (``loss``, ``topk``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 hidden_channels: int = 512,
                 dropout: float = 0.5,
                 scale: float = 1.,
                 **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.bottleneck = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.ReLU(),
            nn.Dropout(dropout))
        self.fc = nn.Linear(hidden_channels, num_classes)
        self.init_weights()

    def init_weights(self):
        """The reference's init, unless an ``init_cfg`` says otherwise; it
        runs after any initializer of the enclosing classifier (e.g. DeiT's
        TruncNormal on every Linear)."""
        if self.init_cfg:
            return super().init_weights()
        # The normalisation makes the weight scales moot; the 0.1 bias keeps
        # the ReLU alive at the start.
        nn.init.normal_(self.bottleneck[0].weight, std=0.005)
        nn.init.constant_(self.bottleneck[0].bias, 0.1)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return F.normalize(self.bottleneck(feats[-1]), dim=1)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        weight = self.scale * F.normalize(self.fc.weight, dim=1)
        return F.linear(self.pre_logits(feats), weight, self.fc.bias)
