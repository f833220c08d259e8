"""Evaluation of attribute transfer, as mmagic metrics (for ``MultiValLoop`` /
``MultiTestLoop`` and mmagic's ``Evaluator``).

They read what :meth:`AttributeExchangeGAN.forward
<mmext.generation.base.AttributeExchangeGAN.forward>` returns per sample:
BGR images in [0, 255] of shape ``(n, 3, H, W)`` (one row per attribute) and
their labels.

* :class:`ReconstructionError`: how well each image comes back from its own
  code (A1 vs A, B1 vs B).
* :class:`EditedAttributeAccuracy`: whether the edits carry the attribute
  they should, judged by a separately trained multi-label classifier
  (an mmpretrain config and checkpoint).
* :class:`AttributeTransferFID`: FID of the edited images against the real
  ones, through mmagic's FID with Tero Karras' Inception weights, which must
  be given as a local file.
"""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmagic.evaluation.metrics import TransFID
from mmagic.registry import METRICS
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmext.checkpoint import load_model_weights
from .datasets.celeba import select_attributes

__all__ = [
    'ReconstructionError', 'EditedAttributeAccuracy', 'AttributeTransferFID',
    'INCEPTION_URL'
]

#: Where mmagic downloads the Inception weights from when it can.
INCEPTION_URL = ('https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/'
                 'pretrained/metrics/inception-2015-12-05.pt')


class _DatasetMetric(BaseMetric):
    """A per-sample metric that mmagic's multi-loops can drive: they group
    metrics by ``SAMPLER_MODE`` and ``sample_model``, call ``prepare`` before
    the loop and ``evaluate()`` without a size."""

    SAMPLER_MODE = 'normal'
    sample_model = 'orig'

    def prepare(self, module, dataloader) -> None:
        self.size = len(dataloader.dataset)

    def get_metric_sampler(self, model, dataloader, metrics):
        return dataloader

    def evaluate(self) -> dict:
        return super().evaluate(self.size)


@METRICS.register_module()
class ReconstructionError(_DatasetMetric):
    """Mean absolute and squared error between each image and its
    reconstruction from its own code, on a [0, 1] pixel scale.

    Args:
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to
            'recon'.
    """

    default_prefix = 'recon'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            diffs = torch.cat([
                sample['recon_a'] - sample['img_a'],
                sample['recon_b'] - sample['img_b']
            ]) / 255.0
            self.results.append(
                dict(
                    mae=diffs.abs().mean().item(),
                    mse=diffs.square().mean().item()))

    def compute_metrics(self, results: List[dict]) -> dict:
        return {
            key: float(np.mean([r[key] for r in results]))
            for key in ('mae', 'mse')
        }


@METRICS.register_module()
class EditedAttributeAccuracy(_DatasetMetric):
    """Attribute accuracy of edited images, judged by a multi-label
    attribute classifier trained separately (e.g.
    ``configs/elegant/resnet18_1xb64-20e_celeba-attr-128px.py``).

    For attribute ``i`` an edit is correct when the classifier finds ``i``
    absent from ``edited_a[i]`` (A after removal) and present in
    ``edited_b[i]`` (B after addition). Reported, per attribute and averaged:
    ``<name>`` (both edits), ``removed/<name>``, ``added/<name>``; also
    ``kept`` (the other attributes of the edited images still match their
    labels) and ``real`` (the classifier's accuracy on the unedited images,
    to show how far it can be trusted).

    Args:
        classifier_config (str): The classifier's mmpretrain config.
        classifier_checkpoint (str): Its trained weights; the checkpoint's
            ``meta.dataset_meta.classes`` (written by mmengine) or the
            config's training dataset ``attributes`` name its outputs.
        input_size (int, optional): Side the images are resized to before
            classification; None feeds them at the GAN's resolution.
        threshold (float): Probability above which an attribute counts as
            present. Defaults to 0.5.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'attr_acc'.
    """

    default_prefix = 'attr_acc'

    def __init__(self,
                 classifier_config: str,
                 classifier_checkpoint: Optional[str],
                 input_size: Optional[int] = None,
                 threshold: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device, prefix)
        if not classifier_checkpoint or not osp.isfile(classifier_checkpoint):
            raise FileNotFoundError(
                f'attribute classifier checkpoint not found: '
                f'{classifier_checkpoint}. Train it with python '
                f'tools/train.py {classifier_config} and set '
                'classifier_checkpoint of EditedAttributeAccuracy to the '
                'checkpoint it writes')
        cfg = Config.fromfile(classifier_config)
        model_cfg = cfg.model.copy()
        # As the Runner does: a top-level data_preprocessor (mean, std,
        # channel order) belongs to the model.
        if cfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmpretrain')):
            self.classifier = MMPRETRAIN_MODELS.build(model_cfg)
        checkpoint = load_model_weights(self.classifier, classifier_checkpoint)
        self.classifier.eval()
        classes = checkpoint.get('meta', {}).get('dataset_meta',
                                                 {}).get('classes')
        if classes is None:
            classes = cfg.train_dataloader.dataset.get('attributes')
        if classes is None:
            raise ValueError(
                f'cannot tell which attributes {classifier_checkpoint} '
                'predicts: neither its meta.dataset_meta.classes nor the '
                'config\'s train_dataloader.dataset.attributes is set')
        self.classes = tuple(classes)
        self.input_size = input_size
        self.threshold = threshold

    def prepare(self, module, dataloader) -> None:
        super().prepare(module, dataloader)
        if is_model_wrapper(module):
            module = module.module
        self.classifier.to(module.data_preprocessor.device)

    @torch.no_grad()
    def _present(self, images: torch.Tensor,
                 columns: List[int]) -> torch.Tensor:
        """Classifier decisions ``(N, len(columns))`` for BGR 0-255
        images, as its data preprocessor expects loaded images."""
        device = self.classifier.data_preprocessor.device
        images = images.to(device)
        if self.input_size and images.shape[-1] != self.input_size:
            images = F.interpolate(
                images, (self.input_size, self.input_size),
                mode='bilinear',
                align_corners=False,
                antialias=True)
        inputs = self.classifier.data_preprocessor({'inputs': images},
                                                   False)['inputs']
        probs = self.classifier(inputs, mode='tensor').sigmoid()
        return (probs[:, columns] > self.threshold).cpu()

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        attributes = self.dataset_meta['attributes']
        columns = select_attributes(
            self.classes, attributes,
            f'the classes of the attribute classifier {self.classes}')
        n = len(attributes)
        keys = ('edited_a', 'edited_b', 'img_a', 'img_b')
        present = self._present(
            torch.cat([s[k] for s in data_samples for k in keys]), columns)
        present = present.view(len(data_samples), len(keys), n, n)
        eye = torch.eye(n, dtype=torch.bool)
        for sample, decided in zip(data_samples, present):
            targets = [
                sample[k].bool().cpu()
                for k in ('edited_label_a', 'edited_label_b', 'label_a',
                          'label_b')
            ]
            correct = [d == t for d, t in zip(decided, targets)]
            self.results.append(
                dict(
                    removed=correct[0][eye].numpy(),
                    added=correct[1][eye].numpy(),
                    kept=torch.cat([correct[0][~eye],
                                    correct[1][~eye]]).float().numpy(),
                    real=torch.cat(correct[2:]).float().mean().item()))

    def compute_metrics(self, results: List[dict]) -> dict:
        removed = np.mean([r['removed'] for r in results], axis=0)
        added = np.mean([r['added'] for r in results], axis=0)
        metrics = {}
        for name, rem, add in zip(self.dataset_meta['attributes'], removed,
                                  added):
            metrics[name] = float((rem + add) / 2)
            metrics[f'removed/{name}'] = float(rem)
            metrics[f'added/{name}'] = float(add)
        metrics['mean'] = float((removed.mean() + added.mean()) / 2)
        kept = np.concatenate([r['kept'] for r in results])
        if kept.size:  # a single attribute has no others to keep
            metrics['kept'] = float(kept.mean())
        metrics['real'] = float(np.mean([r['real'] for r in results]))
        return metrics


@METRICS.register_module()
class AttributeTransferFID(TransFID):
    """FID between the edited images and the real images of the dataset,
    computed by mmagic's :class:`~mmagic.evaluation.metrics.TransFID` with
    Tero Karras' TorchScript Inception (``inception-2015-12-05.pt``).

    mmagic downloads those weights on first use; no download is attempted
    here (many machines cannot reach the host): ``inception_path`` must name
    a local copy, and a clear error says so otherwise.

    The fake images are every sample's ``fake_img`` (its ``n`` removals and
    ``n`` additions); the real statistics come from each image of the
    dataset's split once, through the dataset's own per-image pipeline.

    Args:
        inception_path (str): Local ``inception-2015-12-05.pt``
            (from :data:`INCEPTION_URL`).
        fake_nums (int): Edited images to use; -1 for all. Defaults to -1.
        fake_key (str): Output field of the edited images. Defaults to
            'fake_img'.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'FID'.
    """

    default_prefix = 'FID'

    def __init__(self,
                 inception_path: Optional[str] = None,
                 fake_nums: int = -1,
                 fake_key: str = 'fake_img',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        if not inception_path or not osp.isfile(inception_path):
            given = (f'the given file {inception_path} does not exist'
                     if inception_path else 'none was given')
            raise FileNotFoundError(
                'FID needs the Inception network weights '
                f'(inception-2015-12-05.pt), and {given}. They cannot be '
                'downloaded from this machine: fetch them elsewhere from '
                f'{INCEPTION_URL} and set `inception_path` of '
                'AttributeTransferFID to the local file (e.g. --cfg-options '
                'test_evaluator.metrics.<index>.inception_path=PATH)')
        try:
            super().__init__(
                fake_nums=fake_nums,
                real_nums=-1,
                inception_style='StyleGAN',
                inception_path=inception_path,
                fake_key=fake_key,
                sample_model='orig',
                collect_device=collect_device,
                prefix=prefix)
        except RuntimeError as error:
            raise RuntimeError(
                f'{inception_path} is not a loadable TorchScript Inception '
                f'(expected inception-2015-12-05.pt from {INCEPTION_URL}): '
                f'{error}') from None

    def forward_inception(self, image: torch.Tensor) -> torch.Tensor:
        # Samples hold (n, 3, H, W) stacks: Inception takes single images.
        return super().forward_inception(image.flatten(0, -4))

    def prepare(self, module, dataloader) -> None:
        """Inception statistics of the real images (once per metric)."""
        if is_model_wrapper(module):
            module = module.module
        self.device = module.data_preprocessor.device
        self.inception.to(self.device)
        if self.real_mean is not None:
            return
        dataset = dataloader.dataset
        feats = []
        batch = dataloader.batch_size or 1
        for start in range(0, len(dataset), batch):
            images = torch.stack([
                dataset.load_image(k)
                for k in range(start, min(start + batch, len(dataset)))
            ]).float()
            feats.append(self.forward_inception(images).cpu())
        feats = torch.cat(feats).numpy()
        self.real_mean = feats.mean(0)
        self.real_cov = np.cov(feats, rowvar=False)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        remaining = (
            self.fake_nums_per_device -
            len(self.fake_results) if self.fake_nums > 0 else None)
        if remaining is not None and remaining <= 0:
            return
        fakes = torch.cat([s[self.fake_key] for s in data_samples])
        feats = self.forward_inception(fakes[:remaining]).cpu()
        self.fake_results += list(torch.split(feats, 1))
