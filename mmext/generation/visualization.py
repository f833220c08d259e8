"""A grid of attribute edits written during training, for ELEGANT and
DNA-GAN."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmagic.registry import HOOKS
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torchvision.utils import make_grid

__all__ = ['AttributeTransferVisualizationHook', 'edit_grid']


def edit_grid(samples: Sequence, keys: Sequence[str],
              padding: int = 2) -> np.ndarray:
    """One row per attribute and sample, one column per key.

    Args:
        samples (Sequence[DataSample]): The model's outputs, each holding
            ``(n, 3, H, W)`` BGR images in [0, 255] under ``keys``, one per
            attribute (``AttributeExchangeGAN.forward``).
        keys (Sequence[str]): The columns, e.g. ``('img_a', 'edited_a',
            'img_b', 'edited_b')``.
        padding (int): White pixels between and around the tiles.

    Returns:
        np.ndarray: ``(rows * (H + padding) + padding, len(keys) * (W +
        padding) + padding, 3)`` RGB uint8, rows ordered attribute-major.
    """
    num_attributes = samples[0].get(keys[0]).shape[0]
    tiles = [
        sample.get(key)[i] for i in range(num_attributes)
        for sample in samples for key in keys
    ]
    grid = make_grid(
        torch.stack(tiles).float().clamp(0, 255).round(),
        nrow=len(keys),
        padding=padding,
        pad_value=255)
    return grid[[2, 1, 0]].permute(1, 2, 0).byte().cpu().numpy()


@HOOKS.register_module()
class AttributeTransferVisualizationHook(Hook):
    """Write a grid of edits of fixed pairs every ``interval`` training
    iterations and after the last, through the runner's visualizer (mmagic's
    ``Visualizer``: ``vis_data/vis_image/<name>_<iteration>.png`` and any
    other backend configured).

    mmagic's own ``VisualizationHook`` draws one ``(3, H, W)`` image per key
    and sample; these models give ``(n, 3, H, W)``, one per attribute's pair,
    so the grid is laid out here and only the writing is mmagic's.

    Args:
        interval (int): Training iterations between grids. Defaults to 500.
        num_samples (int): Pairs per attribute, the first items of the
            training set, drawn once. Defaults to 4.
        keys (Sequence[str]): The columns. Defaults to A, A edited (losing
            the attribute), B, B edited (gaining it).
        name (str): The image's name. Defaults to ``'attribute_transfer'``.
    """
    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 num_samples: int = 4,
                 keys: Sequence[str] = ('img_a', 'edited_a', 'img_b',
                                        'edited_b'),
                 name: str = 'attribute_transfer'):
        self.interval = interval
        self.num_samples = num_samples
        self.keys = tuple(keys)
        self.name = name
        self._batch: Optional[dict] = None

    def before_train(self, runner) -> None:
        # Fixed pairs, so that the grids of successive iterations compare.
        dataset = runner.train_dataloader.dataset
        count = min(self.num_samples, len(dataset))
        self._batch = pseudo_collate([dataset[k] for k in range(count)])

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if (self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            self.draw(runner, runner.iter + 1)

    @torch.no_grad()
    def draw(self, runner, step: int) -> None:
        """Edit the fixed pairs with the current model and write the grid."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        training = model.training
        model.eval()
        samples = model.val_step(self._batch)
        model.train(training)
        runner.visualizer.add_image(
            self.name, edit_grid(samples, self.keys), step=step)
