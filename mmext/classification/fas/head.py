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
    """Linear-ReLU-Dropout bottleneck, a normalised feature, and a linear
    layer with normalised weights. mmpretrain's heads have no normalised
    variant.

    Two normalisations:

    - ``'cosine'`` (the paper's words): feature and per-class weights
      L2-normalised, logits ``scale`` x cosines (+ bias), so within
      ``[-scale, scale]``.
    - ``'public-code'`` (what produced the paper's numbers, hhsinping/
      few_shot_fas fas.py:59-61, 75-77): the feature divided by
      ``sqrt(2 |f|)``, the weight normalised over classes for each input
      feature. Each class row then has norm about ``sqrt(hidden / classes)``
      (16 for 512 -> 2) and the feature ``sqrt(|f| / 2)``, so trained
      logits can grow well beyond the cosine's ``[-1, 1]``. The public
      code renormalises the stored weight in place on every forward; here
      the normalisation is differentiable.

    Args:
        num_classes (int): 2 for spoof (0) / live (1).
        in_channels (int): Backbone feature width.
        hidden_channels (int): Bottleneck width (512 in the paper).
        dropout (float): Dropout after the ReLU (0.5).
        normalisation (str): ``'cosine'`` or ``'public-code'`` (see above).
        scale (float): Multiplier of the logits.
        **kwargs: Those of mmpretrain's ``ClsHead`` (``loss``, ``topk``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 hidden_channels: int = 512,
                 dropout: float = 0.5,
                 normalisation: str = 'cosine',
                 scale: float = 1.,
                 **kwargs):
        super().__init__(**kwargs)
        if normalisation not in ('cosine', 'public-code'):
            raise ValueError(
                "NormLinearClsHead normalisation must be 'cosine' or "
                f"'public-code', got {normalisation!r}")
        self.normalisation = normalisation
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
        feature = self.bottleneck(feats[-1])
        if self.normalisation == 'cosine':
            return F.normalize(feature, dim=1)
        norm = feature.norm(dim=1, keepdim=True).clamp(min=1e-12)
        return feature / (2 * norm).sqrt()

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        class_dim = 1 if self.normalisation == 'cosine' else 0
        weight = self.scale * F.normalize(self.fc.weight, dim=class_dim)
        return F.linear(self.pre_logits(feats), weight, self.fc.bias)
