"""Keypoint transfer by nearest neighbours over hyperpixel features."""
import torch
from mmpretrain.registry import MODELS
from torch import nn

from mmext.errors import BadValueError
from .features import hyperpixel_features, layer_stride
from .geometry import cell_centres, soft_argmax

__all__ = ['HyperpixelMatcher']


@MODELS.register_module()
class HyperpixelMatcher(nn.Module):
    """Transfer source keypoints to the target image by cosine similarity of
    hyperpixel features.

    Each keypoint takes the feature of the source cell it falls in, finds its
    match among the target cells, and moves by that match's displacement
    (keeping its offset inside the cell). Cells are the first layer's nominal
    stride apart in both images (:func:`.features.layer_stride`).

    The offset is kept in pixels, not rescaled. That is exact when the target
    shows the object at the source's scale (a translation, or pairs resized by
    the same ratio); when the scales differ by a ratio ``r`` (objects of
    different sizes, or pairs of different sizes resized to one square, as
    the evaluation pipeline does) the offset should have been scaled by ``r``
    too, an error of at most ``|r - 1| * stride / 2`` pixels per axis (2 px at
    stride 4 for ``r = 2``): small against PCK thresholds of 0.05 x 240 px,
    larger than the stride-4 grid only for extreme scale changes.

    Args:
        layer_ids (Sequence[int]): ResNet layers that form the hyperpixel (0 is
            the stem, k the k-th residual block). The paper's sets for ResNet-50:
            PF-PASCAL (2, 12, 13, 15), PF-WILLOW (2, 11, 12, 13, 14), SPair-71k
            (3, 5, 8, 14).
        method (str): ``'nn'`` (cosine nearest neighbour), ``'soft-argmax'``
            (similarity-weighted mean position at ``temperature``) or
            ``'mutual'`` (displacement of the nearest source cell whose match
            is mutual; plain ``'nn'`` where none is). Defaults to ``'nn'``.
        temperature (float): Softmax temperature of ``'soft-argmax'``.
            Defaults to 0.02.
    """

    METHODS = ('nn', 'soft-argmax', 'mutual')

    def __init__(self, layer_ids=(2, 12, 13, 15), method='nn',
                 temperature=0.02):
        super().__init__()
        if method not in self.METHODS:
            raise BadValueError(f'HyperpixelMatcher method must be one of '
                             f'{self.METHODS}, got {method!r}')
        self.layer_ids = tuple(int(i) for i in layer_ids)
        self.method = method
        self.temperature = temperature

    def features(self, backbone, images):
        return hyperpixel_features(backbone, images, self.layer_ids)

    def stride(self, backbone):
        """Pixels between hyperpixel cells: the first layer's stride."""
        return layer_stride(backbone, self.layer_ids[0])

    def transfer(self, src_feats, trg_feats, src_kps, stride):
        """Move keypoints from one source image to one target image.

        Args:
            src_feats (Tensor): (C, h_s, w_s) unit-norm source hyperpixels.
            trg_feats (Tensor): (C, h_t, w_t) unit-norm target hyperpixels.
            src_kps (Tensor): (K, 2) source keypoints (x, y) in pixels.
            stride (float): Pixels per feature cell in both images.

        Returns:
            Tensor: (K, 2) predicted target keypoints in pixels.
        """
        _, src_h, src_w = src_feats.shape
        _, trg_h, trg_w = trg_feats.shape
        src_cells = cell_centres(src_h, src_w, stride, src_feats.device)
        trg_cells = cell_centres(trg_h, trg_w, stride, trg_feats.device)
        src_flat, trg_flat = src_feats.flatten(1), trg_feats.flatten(1)

        col = torch.div(src_kps[:, 0], stride, rounding_mode='floor')
        row = torch.div(src_kps[:, 1], stride, rounding_mode='floor')
        kp_cells = (row.long().clamp(0, src_h - 1) * src_w +
                    col.long().clamp(0, src_w - 1))
        offsets = src_kps - src_cells[kp_cells]

        if self.method == 'mutual':
            return self._mutual_transfer(src_flat.t() @ trg_flat, src_kps,
                                         kp_cells, src_cells, trg_cells)
        # Only the keypoints' rows of the similarity matrix are needed.
        similarity = src_flat[:, kp_cells].t() @ trg_flat
        if self.method == 'soft-argmax':
            return soft_argmax(similarity, trg_cells,
                               self.temperature) + offsets
        return trg_cells[similarity.argmax(dim=1)] + offsets

    @staticmethod
    def _mutual_transfer(similarity, src_kps, kp_cells, src_cells, trg_cells):
        best_trg = similarity.argmax(dim=1)
        best_src = similarity.argmax(dim=0)
        mutual = best_src[best_trg] == torch.arange(
            len(best_trg), device=best_trg.device)
        if not mutual.any():
            return trg_cells[best_trg[kp_cells]] + src_kps - src_cells[kp_cells]
        anchors = mutual.nonzero().flatten()
        nearest = anchors[torch.cdist(src_kps, src_cells[anchors]).argmin(dim=1)]
        return src_kps + trg_cells[best_trg[nearest]] - src_cells[nearest]
