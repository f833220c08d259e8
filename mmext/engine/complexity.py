"""Parameter and FLOP counts of the model of any mmext config.

mmengine's complexity analysis (``mmengine.analysis``) counts a traced
forward; what mmext adds is which module of a config's model to trace and
with what inputs, since mmext's configs hold classifiers, flow estimators
(two images), GANs (a generator that exchanges attributes between two images)
and mmrazor algorithms (an architecture inside an algorithm). mmengine counts
one multiply-add as one FLOP, as the OpenMMLab model zoos report.
"""
import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from torch import nn

from .cli import build_model

#: Where a config names its input size: ``..._flyingchairs-368x496.py``,
#: ``..._digits-32px.py`` or ``..._procedural-fas-48px-5shot.py``.
_NAME_SIZE = re.compile(r'[-_](\d+)x(\d+)(?=[-_.]|$)|[-_](\d+)px(?=[-_.]|$)')
_CROP_KEYS = ('crop_size', 'scale', 'size')


@dataclass
class Complexity:
    """What :func:`model_complexity` measured.

    Args:
        part (str): The module analysed (``model``, ``model.generator``,
            ``model.architecture``).
        input_shape (tuple): The (C, H, W) of one image of the input.
        params (int): Parameters of the whole model.
        part_params (int): Parameters of the analysed part.
        flops (int): FLOPs (multiply-adds) of one forward of the part on one
            input.
        flops_by_module (dict): FLOPs of each child of the part that runs,
            by name.
    """
    part: str
    input_shape: Tuple[int, int, int]
    params: int
    part_params: int
    flops: int
    flops_by_module: Dict[str, int]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def input_size(cfg, config_path: str = '') -> Tuple[int, int]:
    """(H, W) the config trains on: from its name (``-368x496``, ``-32px``),
    else the last crop or resize of its test or train pipeline, else 224."""
    name = config_path.rsplit('/', 1)[-1]
    sizes = list(_NAME_SIZE.finditer(name))
    if sizes:
        h, w, side = sizes[-1].groups()
        return (int(side), int(side)) if side else (int(h), int(w))
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        while 'dataset' in dataset:  # wrappers: RepeatDataset, FewShot, ...
            dataset = dataset['dataset']
        for transform in reversed(dataset.get('pipeline') or []):
            for key in _CROP_KEYS:
                value = transform.get(key)
                if isinstance(value, int):
                    return value, value
                if isinstance(value, (tuple, list)) and len(value) == 2:
                    # mmcv's scales are (w, h).
                    return (int(value[1]), int(value[0])) if key == 'scale' \
                        else (int(value[0]), int(value[1]))
    return 224, 224


class _ImageTower(nn.Module):
    """A CLIP model's image encoder as a module FlopAnalyzer can trace."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, images):
        return self.clip.extract_image_feat(images)


def _analysed_part(model: nn.Module):
    """The module whose forward is traced, its name, and its inputs for an
    (N, C, H, W) image batch."""
    # mmrazor algorithms (FlowNAS, StructuredSparsification, distillation)
    # deploy their architecture; the student for distillation.
    architecture = getattr(model, 'architecture', None)
    if isinstance(architecture, nn.Module):
        part, name, make_inputs = _analysed_part(architecture)
        return part, 'model.architecture' + name[len('model'):], make_inputs
    generator = getattr(model, 'generator', None)
    if isinstance(generator, nn.Module):
        # ELEGANT / DNA-GAN: one exchange of attribute 0 between two images.
        generator = getattr(generator, 'module', generator)
        return generator, 'model.generator', lambda img: (img, img.flip(0),
                                                          [0])
    if hasattr(model, 'extract_image_feat'):
        # CLIP's forward classifies against text prototypes it encodes first;
        # its cost per image is the image tower's.
        return _ImageTower(model), 'model.extract_image_feat', lambda img: (
            img, )
    if hasattr(model, 'estimate'):
        # Flow estimators take the two frames stacked on channels.
        return model, 'model', lambda img: (torch.cat([img, img.flip(-1)],
                                                      dim=1), )
    return model, 'model', lambda img: (img, )


def model_complexity(cfg,
                     config_path: str = '',
                     shape: Optional[Tuple[int, int]] = None,
                     model: Optional[nn.Module] = None) -> Complexity:
    """Parameters and FLOPs of a config's model on one input.

    Args:
        cfg (Config): A loaded config.
        config_path (str): Its file, whose name may give the input size.
        shape (tuple, optional): (H, W) overriding :func:`input_size`.
        model (nn.Module, optional): The config's model, if already built.
    """
    height, width = shape or input_size(cfg, config_path)
    model = build_model(cfg) if model is None else model
    model.eval()
    part, name, make_inputs = _analysed_part(model)
    preprocessor = cfg.model.get('data_preprocessor') or {}
    mean = preprocessor.get('mean')
    channels = preprocessor.get(
        'num_channels', len(mean) if isinstance(mean, (list, tuple)) else 3)
    # Two images so that generators exchange between different ones; FLOPs
    # are reported per image.
    images = torch.rand(2, channels, height, width)
    analyzer = FlopAnalyzer(part, make_inputs(images))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        by_module = analyzer.by_module()
    children = {
        name: by_module[name] // 2
        for name, _ in part.named_children() if by_module.get(name)
    }
    return Complexity(
        part=name,
        input_shape=(channels, height, width),
        params=count_parameters(model),
        part_params=parameter_count(part)[''],
        flops=int(by_module[''] // 2),
        flops_by_module=children)
