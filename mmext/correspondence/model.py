"""Multi-level contrastive learning for semantic correspondence.

Xiao et al., "Learning Contrastive Representation for Semantic Correspondence",
IJCV 2022. Image level: mmpretrain's MoCo, unchanged. Intermediate level: a
crop of image 1 (rotated, mirrored) walks to image 2 and back to image 1
through feature affinities; the coordinates it lands on are regressed to where
the crop really came from (cross-instance cycle consistency).
"""
import torch
import torch.nn.functional as F
from mmpretrain.models import MoCo
from mmpretrain.registry import MODELS

from mmext.errors import BadValueError
from .features import layer_stride, resnet_block_features
from .geometry import apply_affine, cell_centres, rotated_crop

__all__ = ['ContrastiveCorrespondence', 'cycle_coordinates']


def cycle_coordinates(crop_feats, feats2, feats1, stride, temperature):
    """Walk crop -> image 2 -> image 1 and return where each crop cell lands.

    Args:
        crop_feats, feats2, feats1 (Tensor): (N, C, h, w) unit-norm features of
            the crop, image 2 and image 1.
        stride (float): Pixels per feature cell (the layer's nominal stride).
        temperature (float): Divides the cosine affinities before softmax.

    Returns:
        Tensor: (N, h_crop * w_crop, 2) coordinates (x, y) in image-1 pixels.
    """
    crop_to_2 = torch.einsum('ncp,ncq->npq', crop_feats.flatten(2),
                             feats2.flatten(2)) / temperature
    from_2_to_1 = torch.einsum('ncp,ncq->npq', feats2.flatten(2),
                               feats1.flatten(2)) / temperature
    walk = crop_to_2.softmax(dim=-1) @ from_2_to_1.softmax(dim=-1)
    h1, w1 = feats1.shape[-2:]
    return walk @ cell_centres(h1, w1, stride, feats1.device)


@MODELS.register_module()
class ContrastiveCorrespondence(MoCo):
    """MoCo plus the cross-instance cycle loss; matches keypoints in predict.

    Inputs in training are four views per sample: the MoCo query and key
    (augmentations of image 1), then image 1 and image 2 (another image of
    the same class) at one fixed size. In ``predict`` they are the source
    and target images, and the data samples carry ``src_kps``.

    The configs build MoCo v2 (mmpretrain's ``MoCoV2Neck``, an MLP
    projection, and MoCo v2's augmentations); the reference runs MoCo v1 (a
    linear projection, v1's augmentations) with the same queue, momentum and
    temperature 0.07. The projection only feeds InfoNCE: the cycle and the
    matcher read backbone features.

    Args:
        backbone, neck, head, queue_len, feat_dim, momentum: As
            :class:`mmpretrain.models.MoCo`.
        cycle_layer (int): Block whose features the cycle uses (ResNet-50:
            13, the end of layer3, stride 16). Defaults to 13.
        cycle_weight (float): Weight of the cycle MSE (in pixels^2); the paper
            uses 5e-4 on PF-PASCAL / SPair and 5e-5 on PF-WILLOW.
        moco_weight (float): Weight of the InfoNCE loss. Defaults to 1.
        cycle_temperature (float): Affinity temperature. Defaults to 7e-4.
        crop_size (int): Side of the crop from image 1. Defaults to 128.
        max_rotation (float): Crops are rotated uniformly within +- this many
            degrees. Defaults to 10.
        flip_prob (float): Probability of mirroring a crop. Defaults to 0.5.
        crop_location (str): ``'attention'`` centres the crop where the last
            stage's features are most similar to their global mean (the
            reference's choice), ``'random'`` anywhere it fits.
        matcher (dict): A :class:`HyperpixelMatcher` config for ``predict``.
        **kwargs: ``pretrained``, ``data_preprocessor``, ``init_cfg``.
    """

    def __init__(self,
                 backbone,
                 neck,
                 head,
                 queue_len=65536,
                 feat_dim=128,
                 momentum=0.001,
                 cycle_layer=13,
                 cycle_weight=5e-4,
                 moco_weight=1.0,
                 cycle_temperature=7e-4,
                 crop_size=128,
                 max_rotation=10.0,
                 flip_prob=0.5,
                 crop_location='attention',
                 matcher=dict(type='HyperpixelMatcher'),
                 **kwargs):
        super().__init__(backbone, neck, head, queue_len=queue_len,
                         feat_dim=feat_dim, momentum=momentum, **kwargs)
        if crop_location not in ('attention', 'random'):
            raise BadValueError("crop_location must be 'attention' or 'random', "
                             f'got {crop_location!r}')
        self.cycle_layer = cycle_layer
        self.cycle_weight = cycle_weight
        self.moco_weight = moco_weight
        self.cycle_temperature = cycle_temperature
        self.crop_size = crop_size
        self.max_rotation = max_rotation
        self.flip_prob = flip_prob
        self.crop_location = crop_location
        self.matcher = MODELS.build(matcher)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs, data_samples, **kwargs):
        query, key, image1, image2 = inputs
        moco = super().loss([query, key], data_samples)['loss']
        return dict(
            loss_moco=self.moco_weight * moco,
            loss_cycle=self.cycle_weight * self.cycle_loss(image1, image2))

    def cycle_loss(self, image1, image2, features=None, stride=None,
                   crops=None):
        """MSE between where the walk lands and where the crop came from.

        Image 1 and image 2 go through the network as one batch of 2N: one
        forward pass of larger convolutions instead of two. In training mode
        their batch-norm statistics are therefore shared: both are
        normalised by the mean and variance of the 2N images, where
        the reference runs crop, image 1 and image 2 separately (each with
        its own statistics). For pairs from one distribution (two images of
        one class) the pooled and separate statistics estimate the same
        thing; the difference shows only when images 1 and 2 differ
        systematically (e.g. in brightness), where separate statistics would
        normalise that difference away and the pooled ones keep it. The crop
        is a batch of its own, as in the reference. In eval mode (the layer
        search) nothing differs.

        Args:
            image1, image2 (Tensor): (N, C, H, W) normalised images.
            features (callable, optional): Images to unit-norm feature maps;
                defaults to block ``cycle_layer`` (the layer-selection tool
                passes hyperpixels).
            stride (float, optional): Pixels per cell of ``features``;
                defaults to the stride of ``cycle_layer``.
            crops (tuple[Tensor, Tensor, Tensor], optional): Crop centres
                (N, 2), angles (N,) in degrees and flips (N,); drawn at
                random (see :meth:`draw_crops`) when not given.
        """
        landed, source = self.cycle_walk(image1, image2, features, stride,
                                         crops)
        return F.mse_loss(landed, source)

    def cycle_walk(self, image1, image2, features=None, stride=None,
                   crops=None):
        """Where each cell of the crop lands after the walk, and where it
        came from, both (N, cells, 2) in image-1 pixels. Arguments as
        :meth:`cycle_loss`."""
        features = features or self._cycle_features
        if stride is None:
            stride = layer_stride(self.backbone, self.cycle_layer)
        centres, angles, flips = crops or self.draw_crops(image1)
        crop_pixels, crop_to_image1 = rotated_crop(image1, centres,
                                                   self.crop_size, angles,
                                                   flips)
        crop_feats = features(crop_pixels)
        feats1, feats2 = features(torch.cat([image1, image2])).chunk(2)
        landed = cycle_coordinates(crop_feats, feats2, feats1, stride,
                                   self.cycle_temperature)
        h, w = crop_feats.shape[-2:]
        crop_cells = cell_centres(h, w, stride, image1.device).expand(
            image1.shape[0], -1, -1)
        return landed, apply_affine(crop_to_image1, crop_cells)

    def draw_crops(self, image1):
        """Random crop parameters: centres (N, 2), angles (N,), flips (N,)."""
        n = image1.shape[0]
        angles = (torch.rand(n, device=image1.device) * 2 - 1) * self.max_rotation
        flips = torch.rand(n, device=image1.device) < self.flip_prob
        return self._crop_centres(image1, angles), angles, flips

    def _cycle_features(self, images):
        feats = resnet_block_features(self.backbone, images,
                                      [self.cycle_layer])[0]
        return F.normalize(feats, dim=1)

    def _last_output_block(self):
        """Layer number of the backbone's last output (its last stage)."""
        stages = self.backbone.res_layers[:self.backbone.out_indices[-1] + 1]
        return sum(len(getattr(self.backbone, name)) for name in stages)

    @torch.no_grad()
    def _crop_centres(self, images, angles):
        """Crop centres that keep the rotated crop inside the image."""
        n, _, height, width = images.shape
        theta = angles.abs() * torch.pi / 180
        margin = self.crop_size / 2 * (torch.cos(theta) + torch.sin(theta))
        low = torch.stack([margin, margin], dim=-1)
        high = torch.stack([width - margin, height - margin], dim=-1)
        if self.crop_location == 'random':
            centres = low + torch.rand(n, 2, device=images.device) * (high - low)
        else:
            last = self.backbone(images)[-1]
            similarity = torch.einsum(
                'nc,nchw->nhw', F.normalize(last.mean(dim=(2, 3)), dim=1),
                F.normalize(last, dim=1))
            h, w = last.shape[-2:]
            peaks = similarity.flatten(1).argmax(dim=1)
            stride = layer_stride(self.backbone, self._last_output_block())
            centres = cell_centres(h, w, stride, images.device)[peaks]
        # An image smaller than the rotated crop centres it.
        return torch.maximum(torch.minimum(centres, high), low).where(
            high >= low, (low + high) / 2)

    @torch.no_grad()
    def predict(self, inputs, data_samples):
        """Transfer each sample's ``src_kps`` to its target image.

        Sets ``pred_kps`` (K, 2) on every data sample, in the target image's
        input (resized) pixels.
        """
        sources, targets = inputs
        src_feats = self.matcher.features(self.backbone, sources)
        trg_feats = self.matcher.features(self.backbone, targets)
        stride = self.matcher.stride(self.backbone)
        for i, sample in enumerate(data_samples):
            src_kps = torch.as_tensor(
                sample.src_kps, dtype=torch.float32, device=sources.device)
            sample.pred_kps = self.matcher.transfer(
                src_feats[i], trg_feats[i], src_kps, stride)
        return data_samples
