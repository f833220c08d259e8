"""A classification head initialised from the text embeddings of the class names.

"Exploiting Category Names for Few-Shot Classification with Vision-Language
Models" (arXiv 2211.16594): on a vision-language model's image tower, start
the linear classifier from the text tower's embeddings of the category names
(prompt templates averaged, L2-normalised per class) instead of at random,
then fine-tune on the k-shot data.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import HOOKS, MODELS
from torch import nn

from ..text import resolve_class_names, resolve_templates

__all__ = ['NameInitClsHead', 'DatasetClassNamesHook']

INIT_MODES = ('names', 'random')


@MODELS.register_module()
class NameInitClsHead(ClsHead):
    """Linear or cosine classifier whose weights start as the class-name text
    prototypes of a CLIP text tower.

    The image embedding (e.g. a CLIP image tower followed by
    :class:`~mmpretrain.models.CLIPProjection`) is L2-normalised, as CLIP
    compares embeddings by cosine. With ``init='names'`` the weights are set
    in :meth:`init_weights` (which the runner calls before training) to the
    prototypes of :meth:`CLIPTextEncoder.class_prototypes
    <mmext.classification.text.CLIPTextEncoder.class_prototypes>`, so that
    before any training the logits are exactly CLIP's zero-shot logits. The
    text tower is built only for that and then dropped: it is neither trained
    nor saved with the model.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Size of the image embedding.
        text_encoder (dict, optional): Config of the text tower, normally
            ``dict(type='CLIPTextEncoder', pretrained=<converted CLIP>, ...)``
            matching the image tower's CLIP. Required for ``init='names'``.
        class_names (str | Sequence[str], optional): The names: a list, a
            UTF-8 names file (one per line, any language or script), or a key
            of mmpretrain's CLIP name sets (``'imagenet'``, ``'cifar100'``).
            ``None`` leaves them to :class:`DatasetClassNamesHook`, which
            takes the training dataset's classes.
        templates (str | Sequence[str]): Prompt templates: a key of
            mmpretrain's sets (``'vanilla'``, ``'openai_imagenet'``,
            ``'openai_imagenet_sub'``, ``'openai_cifar100'``), a file with one
            template per line, or a list; ``{}`` marks the name. Defaults to
            ``'vanilla'`` (``'a photo of a {}'``).
        init (str): ``'names'`` (the method) or ``'random'`` (the baseline:
            same head, weights from ``init_cfg``). Defaults to ``'names'``.
        cosine (bool): Cosine classifier: the weights are L2-normalised in
            every forward and multiplied by a scale. Otherwise a plain linear
            layer with bias on the normalised embedding whose initial weights
            are ``scale * prototypes``. Defaults to True.
        learnable_scale (bool): Learn the cosine scale (as a log). Defaults to
            True; ignored without ``cosine``.
        init_scale (float, optional): Initial scale (inverse temperature).
            ``None`` takes CLIP's own, ``exp(logit_scale)`` of the text tower
            (100 for OpenAI's CLIP), so that the initial logits are CLIP's
            (a random cosine baseline builds the text tower only to read
            it). A linear head uses the scale only for ``init='names'``.
        batch_size (int): Prompts per text-tower forward when initialising.
            Defaults to 256.
        init_cfg (dict): Initialisation of the weights before the names
            overwrite them (the only one for ``init='random'``). Defaults to
            ``dict(type='Normal', layer='Linear', std=0.01)``, as
            :class:`~mmpretrain.models.LinearClsHead`.
        **kwargs: Passed to :class:`~mmpretrain.models.ClsHead` (``loss``,
            ``topk``, ``cal_acc``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 text_encoder: Optional[dict] = None,
                 class_names: Optional[Union[str, Sequence[str]]] = None,
                 templates: Union[str, Sequence[str]] = 'vanilla',
                 init: str = 'names',
                 cosine: bool = True,
                 learnable_scale: bool = True,
                 init_scale: Optional[float] = None,
                 batch_size: int = 256,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be positive')
        if init not in INIT_MODES:
            raise ValueError(f'init must be one of {INIT_MODES}, got {init!r}')
        if init == 'names' and text_encoder is None:
            raise ValueError("init='names' needs a text_encoder config")
        if init_scale is None and text_encoder is None and cosine:
            raise ValueError('a cosine head without a text_encoder needs '
                             'init_scale')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.text_encoder_cfg = text_encoder
        # Resolved now so that a wrong file or key fails at build time.
        self.class_names = (None if class_names is None else
                            self._checked(resolve_class_names(class_names)))
        self._template_fns = resolve_templates(templates)
        self.init = init
        self.cosine = cosine
        self.init_scale = init_scale
        self.batch_size = batch_size
        self.fc = nn.Linear(in_channels, num_classes, bias=not cosine)
        if cosine:
            # Placeholder until init_weights knows CLIP's temperature.
            log_scale = torch.tensor(math.log(init_scale or 1.0))
            if learnable_scale:
                self.log_scale = nn.Parameter(log_scale)
            else:
                self.register_buffer('log_scale', log_scale)

    def _checked(self, names):
        if len(names) != self.num_classes:
            raise ValueError(
                f'{len(names)} class names for num_classes={self.num_classes}'
                f' (first: {names[:3]})')
        return names

    def set_class_names(self, names: Sequence[str]) -> None:
        """Set the class names (before :meth:`init_weights`)."""
        self.class_names = self._checked(list(names))

    def build_text_encoder(self) -> nn.Module:
        """Build the text tower of ``text_encoder`` (on the head's device)."""
        cfg = dict(self.text_encoder_cfg)
        # Also when built under another default scope (e.g. mmrazor's).
        cfg.setdefault('_scope_', 'mmpretrain')
        encoder = MODELS.build(cfg)
        return encoder.to(self.fc.weight.device).eval()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Random init from ``init_cfg``; then, for ``init='names'``, the
        class-name prototypes and CLIP's scale."""
        super().init_weights()
        if self.init == 'random' and not self.cosine:
            return  # a plain linear layer: init_cfg is all there is
        if self.init == 'names' and self.class_names is None:
            raise RuntimeError(
                'NameInitClsHead has no class names to initialise from: set '
                'class_names (a list, a names file or a name-set key), or add '
                "custom_hooks=[dict(type='DatasetClassNamesHook')] to take "
                'them from the training dataset')
        encoder = None
        if self.init == 'names' or self.init_scale is None:
            encoder = self.build_text_encoder()
        scale = (self.init_scale if self.init_scale is not None else
                 encoder.logit_scale.exp().item())
        if self.cosine:
            self.log_scale.fill_(math.log(scale))
        if self.init == 'random':
            return
        prototypes = encoder.class_prototypes(self.class_names,
                                              self._template_fns,
                                              self.batch_size)
        if prototypes.shape[1] != self.in_channels:
            raise ValueError(
                f'text embeddings have {prototypes.shape[1]} channels, the '
                f'head expects in_channels={self.in_channels}')
        # Cosine: the scale is applied in forward; linear: in the weights.
        self.fc.weight.copy_(prototypes if self.cosine else scale * prototypes)
        if self.fc.bias is not None:
            self.fc.bias.zero_()
        print_log(
            f'NameInitClsHead: {self.num_classes} classes initialised from '
            f'their names x {len(self._template_fns)} template(s), scale '
            f'{scale:.4g}', logger='current')

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The L2-normalised embedding of the last stage."""
        return F.normalize(feats[-1], dim=-1)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Class logits ``(N, num_classes)``."""
        x = self.pre_logits(feats)
        if self.cosine:
            return self.log_scale.exp() * F.linear(
                x, F.normalize(self.fc.weight, dim=-1))
        return self.fc(x)


@HOOKS.register_module()
class DatasetClassNamesHook(Hook):
    """Give every :class:`NameInitClsHead` without ``class_names`` the
    classes of the training dataset (``dataset.metainfo['classes']``).

    Runs before the runner initialises the weights, so the head is built from
    the dataset's own names (e.g. StanfordCars' model names, a folder
    dataset's directory names). Only acts when training: evaluation loads
    trained weights and needs no names.

    Args:
        overwrite (bool): Also replace names a head already has. Defaults to
            False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, overwrite: bool = False):
        self.overwrite = overwrite

    def before_run(self, runner) -> None:
        # Runner.train() builds the train loop before this hook and test()
        # does not; reading runner.train_loop would build it as a side effect.
        if not isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        heads = [
            m for m in model.modules() if isinstance(m, NameInitClsHead) and
            (self.overwrite or m.class_names is None)
        ]
        if not heads:
            return
        classes = runner.train_dataloader.dataset.metainfo.get('classes')
        if not classes:
            raise RuntimeError(
                'DatasetClassNamesHook: the training dataset has no '
                "metainfo['classes']; give the head class_names instead")
        for head in heads:
            head.set_class_names(classes)
        runner.logger.info(
            f'DatasetClassNamesHook: {len(heads)} head(s) take the '
            f'{len(classes)} class names of the training dataset')
