"""Turns a batch of image pairs from the data loader into a model input tensor."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from mmext.registry import MODELS


@MODELS.register_module()
class FlowDataPreprocessor(BaseDataPreprocessor):
    """Normalises and stacks image pairs, as mmflow 1.x's preprocessor does.

    Each input is a tensor (6, H, W): image 1 then image 2, three channels each, in
    the channel order the loader produced (BGR for cv2). Both images are optionally
    flipped to RGB, then normalised ``(x - mean) / std``; the batch becomes one float
    tensor (B, 6, H, W) on the model's device.

    Args:
        mean (Sequence[float], optional): Per-channel mean, in the channel order
            after the optional BGR->RGB flip. None skips normalisation.
        std (Sequence[float], optional): Per-channel standard deviation; given
            together with ``mean``.
        bgr_to_rgb (bool): Whether to reverse the channels of each image.
            Defaults to False.
        non_blocking (bool): Whether to copy to the device without blocking.
            Defaults to False.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 bgr_to_rgb: bool = False,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('mean and std must be given together')
        self.normalize = mean is not None
        if self.normalize:
            if len(mean) != 3 or len(std) != 3:
                raise ValueError('mean and std need one value per channel (3)')
            self.register_buffer(
                'mean',
                torch.tensor(mean, dtype=torch.float32).view(3, 1, 1),
                persistent=False)
            self.register_buffer(
                'std',
                torch.tensor(std, dtype=torch.float32).view(3, 1, 1),
                persistent=False)
        self.bgr_to_rgb = bgr_to_rgb

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise ``data['inputs']`` and move the batch to the device.

        Args:
            data (dict): ``inputs``: a list of (6, H, W) tensors of one size, or a
                stacked (B, 6, H, W) tensor; ``data_samples`` (optional): a list of
                :class:`FlowDataSample`.
            training (bool): Unused; the same preprocessing serves train and test.

        Returns:
            dict: ``inputs`` (B, 6, H, W) float32 and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, torch.Tensor):
            inputs = torch.stack(list(inputs))
        B, C, H, W = inputs.shape
        if C != 6:
            raise ValueError(f'expected 6 channels (two images), got {C}')
        images = inputs.float().reshape(B, 2, 3, H, W)
        if self.bgr_to_rgb:
            images = images.flip(2)
        if self.normalize:
            images = (images - self.mean) / self.std
        return dict(
            inputs=images.reshape(B, 6, H, W),
            data_samples=data.get('data_samples'))
