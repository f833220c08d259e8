"""What ELEGANT and DNA-GAN share as mmagic models: named attributes, the
batch layout of :class:`~mmext.generation.datasets.CelebAAttributePairs`, and
the outputs of evaluation and inference.

A batch from the data preprocessor holds, for ``n`` attributes::

    img_a (B, n, 3, H, W)  img_a[:, i] has attribute i     in [-1, 1], RGB
    img_b (B, n, 3, H, W)  img_b[:, i] lacks attribute i
    label_a, label_b (B, n, n)  {0, 1} labels of those images

A generator of either method maps ``(img_a[:, i], img_b[:, i], [i])`` to
``dict(recon_a, recon_b, edited_a, edited_b)``, where ``edited_a`` is A after
losing attribute ``i`` and ``edited_b`` is B after gaining it; its
``transfer(img_a, img_b, attribute_ids, strength)`` returns the same two edits
at any strength, 0 giving the reconstructions and 1 the edits.

Both papers also share their weight initialisation and the way their
discriminators read the labels (:func:`init_normal`,
:func:`concat_label_maps`).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmagic.models.base_models import BaseGAN
from mmagic.structures import DataSample
from mmengine.model import is_model_wrapper
from torch import Tensor

from .datasets.celeba import select_attributes

__all__ = [
    'AttributeExchangeGAN', 'exchange_labels', 'init_normal',
    'concat_label_maps'
]

#: Pixels in [-1, 1] (mean = std = 127.5), RGB as the references read images,
#: labels passed through untouched, nothing taken from the data samples.
DEFAULT_DATA_PREPROCESSOR = dict(
    type='DataPreprocessor',
    mean=127.5,
    std=127.5,
    output_channel_order='RGB',
    non_image_keys=['label_a', 'label_b'],
    data_keys=None)


def init_normal(module: nn.Module):
    """Weights of every convolution, transposed convolution and linear layer
    from N(0, 0.02), biases zero: both papers' initialisation (normalisation
    layers keep their own start)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def concat_label_maps(img: Tensor, labels: Tensor) -> Tensor:
    """The discriminators' input: the image followed by one constant map per
    label.

    Args:
        img (Tensor): ``(B, C, H, W)`` images.
        labels (Tensor): ``(B, n)`` labels.

    Returns:
        Tensor: ``(B, C + n, H, W)``.
    """
    maps = labels[:, :, None, None].expand(-1, -1, *img.shape[2:])
    return torch.cat([img, maps.to(img.dtype)], dim=1)


def exchange_labels(y_a: Tensor, y_b: Tensor,
                    attribute_ids: Sequence[int]) -> tuple:
    """Labels of the exchanged images: ``y_c`` is ``y_a`` with the entries
    ``attribute_ids`` taken from ``y_b``, ``y_d`` symmetrically.

    Args:
        y_a (Tensor): ``(B, n)`` labels of A.
        y_b (Tensor): ``(B, n)`` labels of B.
        attribute_ids (Sequence[int]): The exchanged attributes.
    """
    y_c, y_d = y_a.clone(), y_b.clone()
    ids = list(attribute_ids)
    y_c[:, ids] = y_b[:, ids]
    y_d[:, ids] = y_a[:, ids]
    return y_c, y_d


class AttributeExchangeGAN(BaseGAN):
    """Base of the attribute-exchange GANs: attribute names, evaluation
    outputs and exemplar-based transfer.

    Args:
        attributes (Sequence[str]): The attribute names, in the order of the
            latent pieces; their number is passed to the generator and
            discriminator configs as ``num_attributes``.
        generator (dict | nn.Module): The generator.
        discriminator (dict | nn.Module, optional): The discriminator (not
            needed for inference).
        data_preprocessor (dict, optional): Defaults to
            :data:`DEFAULT_DATA_PREPROCESSOR`.
        discriminator_steps (int): Discriminator updates per generator
            update. Defaults to 1.
        loss_config (dict, optional): Loss weights of the method.
    """

    def __init__(self,
                 attributes: Sequence[str],
                 generator,
                 discriminator=None,
                 data_preprocessor: Optional[dict] = None,
                 discriminator_steps: int = 1,
                 loss_config: Optional[dict] = None):
        if isinstance(attributes, str):
            attributes = [attributes]
        self.attributes = tuple(attributes)
        num = len(self.attributes)
        if isinstance(generator, dict):
            generator = dict(generator, num_attributes=num)
        if isinstance(discriminator, dict):
            discriminator = dict(discriminator, num_attributes=num)
        super().__init__(
            generator,
            discriminator,
            data_preprocessor=data_preprocessor or DEFAULT_DATA_PREPROCESSOR,
            discriminator_steps=discriminator_steps,
            loss_config=loss_config)

    @property
    def num_attributes(self) -> int:
        return len(self.attributes)

    def attribute_ids(self, names: Union[str, Sequence[str]]) -> List[int]:
        """Indices of attribute names; an unknown name raises a ValueError
        listing the ones this model was trained on."""
        return select_attributes(self.attributes, names,
                                 f'the attributes of {type(self).__name__}')

    def _bare(self, module):
        return module.module if is_model_wrapper(module) else module

    @torch.no_grad()
    def transfer(self,
                 source: Tensor,
                 reference: Tensor,
                 attributes: Union[str, Sequence[str], Sequence[int]],
                 strength: float = 1.0,
                 reference_has: bool = True) -> tuple:
        """Transfer attributes between two batches of images by exemplar.

        Args:
            source (Tensor): ``(B, 3, H, W)`` in [-1, 1], RGB.
            reference (Tensor): ``(B, 3, H, W)``, same layout.
            attributes: Names (or indices) of the transferred attributes;
                several are transferred at once.
            strength (float): 0 gives the reconstructions of the images, 1
                the full transfer; values in between interpolate the latent
                pieces. Defaults to 1.
            reference_has (bool): Whether the reference has the attributes
                (the source gains them, the reference loses them) or lacks
                them (the source loses them). ELEGANT's exchange is the same
                either way; in DNA-GAN the image without the attributes has
                zero pieces (the annihilating operation). Defaults to True,
                the papers' exemplar-based editing.

        Returns:
            tuple: the source with the reference's attributes, and the
            reference with the source's.
        """
        if isinstance(attributes,
                      str) or not all(isinstance(a, int) for a in attributes):
            attributes = self.attribute_ids(attributes)
        generator = self._bare(self.generator)
        if reference_has:
            reference_out, source_out = generator.transfer(
                reference, source, list(attributes), strength)
        else:
            source_out, reference_out = generator.transfer(
                source, reference, list(attributes), strength)
        return source_out, reference_out

    def forward(self,
                inputs: Dict[str, Tensor],
                data_samples: Optional[DataSample] = None,
                mode: Optional[str] = None) -> List[DataSample]:
        """Edit every pair of a batch: per sample, for each attribute ``i``,
        remove ``i`` from ``img_a[i]`` and add it to ``img_b[i]``.

        Returns:
            list[DataSample]: per sample, ``(n, 3, H, W)`` BGR images in
            [0, 255] (as mmagic's metrics take them): ``img_a``, ``img_b``,
            ``recon_a``, ``recon_b``, ``edited_a``, ``edited_b``, and
            ``fake_img`` (``edited_a`` then ``edited_b``, for FID); the {0, 1}
            labels ``label_a``, ``label_b`` and the labels the edits should
            have, ``edited_label_a`` and ``edited_label_b``.
        """
        generator = self._bare(self.generator)
        images = {
            key: []
            for key in ('recon_a', 'recon_b', 'edited_a', 'edited_b')
        }
        edited_labels = {'edited_label_a': [], 'edited_label_b': []}
        for i in range(self.num_attributes):
            outputs = generator(inputs['img_a'][:, i], inputs['img_b'][:, i],
                                [i])
            for key in images:
                images[key].append(outputs[key])
            y_c, y_d = exchange_labels(inputs['label_a'][:, i],
                                       inputs['label_b'][:, i], [i])
            edited_labels['edited_label_a'].append(y_c)
            edited_labels['edited_label_b'].append(y_d)

        def to_bgr255(batch, key='img_a'):
            return self.data_preprocessor.destruct(batch, data_samples, key)

        result = DataSample(
            img_a=to_bgr255(inputs['img_a']),
            img_b=to_bgr255(inputs['img_b'], 'img_b'),
            label_a=inputs['label_a'],
            label_b=inputs['label_b'])
        for key, values in images.items():
            result.set_tensor_data({key: to_bgr255(torch.stack(values, 1))})
        for key, values in edited_labels.items():
            result.set_tensor_data({key: torch.stack(values, 1)})
        result.fake_img = torch.cat([result.edited_a, result.edited_b], 1)
        if data_samples is not None:
            result.set_metainfo(data_samples.metainfo)
        return result.split(allow_nonseq_value=True)
