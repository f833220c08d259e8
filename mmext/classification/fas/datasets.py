"""Face anti-spoofing frames as an mmpretrain dataset: one reader for frame
lists and for the common folder layout, with domain names and seeded
few-shot selection.

Frame list (one frame per line, paths relative to ``data_root``)::

    casia/train/real/1_1_frame0.png live casia 1_1
    casia/train/fake/1_3_frame0.png spoof casia 1_3

``<image> <label> <domain> [<video>]``; the label is ``live``/``real``/``1``
or ``spoof``/``fake``/``0``; without a video, frames named
``<video>_frame<k>`` (or ``<video>_<k>``, k of one or two digits) are
grouped by ``<video>``.

Folder layout (what the public code and ``tools/fas`` converters use)::

    <data_root>/<domain>/<split>/{real,fake}/<video>_frame0.png
    <data_root>/<domain>/<split>/{real,fake}/<video>/<frame>.png
    <data_root>/<domain>/{real,fake}/...         (no split, e.g. CelebA-Spoof)
"""
import os
import os.path as osp
import re
from typing import List, Optional, Sequence

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from mmext.errors import UserError

__all__ = [
    'FASDataError', 'FASFrameDataset', 'parse_fas_label', 'video_of_frame',
    'select_shots', 'IMAGE_EXTENSIONS'
]

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')
_LABELS = {'live': 1, 'real': 1, '1': 1, 'spoof': 0, 'fake': 0, '0': 0}
_FRAME_SUFFIX = re.compile(r'(_frame\d+|_\d{1,2})$')


class FASDataError(UserError, ValueError):
    """Missing or malformed FAS data (unknown domain, a video without frames,
    a list line without a label), reported by :func:`mmext.engine.cli_main`
    as one line."""


def parse_fas_label(text: str, where: str) -> int:
    """``live``/``real``/``1`` -> 1, ``spoof``/``fake``/``0`` -> 0."""
    try:
        return _LABELS[text.lower()]
    except KeyError:
        raise FASDataError(
            f'{where}: label must be live/real/1 or spoof/fake/0, '
            f'got {text!r}') from None


def video_of_frame(path: str) -> str:
    """The video a frame file belongs to: its stem without ``_frame<k>`` or
    ``_<k>``, with its folder (so equal names in two folders differ)."""
    stem = osp.splitext(path)[0]
    return _FRAME_SUFFIX.sub('', stem)


def select_shots(data_list: List[dict],
                 num_shots: int,
                 seed: Optional[int] = None) -> List[dict]:
    """Keep ``num_shots`` live and ``num_shots`` spoof frames: the first ones
    as listed (``seed=None``, the papers' protocol) or a seeded random draw.
    The kept frames stay in list order."""
    keep = []
    rng = None if seed is None else np.random.default_rng(seed)
    for label in (1, 0):
        indices = [
            i for i, d in enumerate(data_list) if d['gt_label'] == label
        ]
        if len(indices) < num_shots:
            name = 'live' if label else 'spoof'
            raise FASDataError(
                f'{num_shots}-shot selection needs {num_shots} {name} '
                f'frames; the data has {len(indices)}')
        if rng is None:
            keep += indices[:num_shots]
        else:
            keep += rng.choice(indices, num_shots, replace=False).tolist()
    return [data_list[i] for i in sorted(keep)]


@DATASETS.register_module()
class FASFrameDataset(BaseDataset):
    """Live/spoof face frames with domain and video names.

    Each sample carries ``gt_label`` (1 live, 0 spoof), ``domain`` and
    ``video``; add ``'domain', 'video'`` to ``PackInputs``' ``meta_keys``
    so that :class:`FASMetric` can average per video.

    Args:
        data_root (str): Root of the images (and of the list).
        ann_file (str): Frame list (see the module docstring), relative to
            ``data_root``; ``''`` scans the folder layout instead.
        domains (list[str], optional): Domains to keep (required when
            scanning folders); a name the data lacks is an error.
        split (str, optional): ``train``/``test`` sub-folder when scanning.
        num_shots (int, optional): Keep only this many live and spoof frames
            (see :func:`select_shots`).
        shot_seed (int, optional): ``None``: the first frames as listed.
        **kwargs: Those of mmpretrain's ``BaseDataset`` (``pipeline``,
            ``test_mode``, ...).
    """
    METAINFO = dict(classes=('spoof', 'live'))

    def __init__(self,
                 data_root: str,
                 ann_file: str = '',
                 domains: Optional[Sequence[str]] = None,
                 split: Optional[str] = None,
                 num_shots: Optional[int] = None,
                 shot_seed: Optional[int] = None,
                 **kwargs):
        self.domains = None if domains is None else list(domains)
        self.split = split
        self.num_shots = num_shots
        self.shot_seed = shot_seed
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.ann_file:
            data_list = self._read_frame_list(self.ann_file)
        else:
            data_list = self._scan_folders()
        if self.domains is not None:
            present = {d['domain'] for d in data_list}
            missing = [d for d in self.domains if d not in present]
            if missing:
                source = self.ann_file or self.data_root
                raise FASDataError(
                    f'{source}: no frames of domain(s) {missing}; it has '
                    f'{sorted(present)}')
            data_list = [d for d in data_list if d['domain'] in self.domains]
        if not data_list:
            raise FASDataError(f'{self.ann_file or self.data_root}: no frames')
        if self.num_shots is not None:
            data_list = select_shots(data_list, self.num_shots, self.shot_seed)
        return data_list

    def _read_frame_list(self, path: str) -> List[dict]:
        if not osp.isfile(path):
            raise FASDataError(f'frame list not found: {path}')
        data_list = []
        with open(path) as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                where = f'{path}:{number}'
                if len(fields) < 3:
                    raise FASDataError(
                        f'{where}: expected "<image> <label> <domain> '
                        f'[<video>]", got {line.strip()!r}')
                image, label, domain = fields[:3]
                video = fields[3] if len(fields) > 3 else video_of_frame(image)
                data_list.append(
                    dict(img_path=osp.join(self.data_root, image),
                         gt_label=parse_fas_label(label, where),
                         domain=domain,
                         video=video))
        return data_list

    def _scan_folders(self) -> List[dict]:
        if self.domains is None:
            raise FASDataError(
                f'{self.data_root}: scanning folders needs domains=[...]')
        data_list = []
        for domain in self.domains:
            base = osp.join(self.data_root, domain)
            if self.split and osp.isdir(osp.join(base, self.split)):
                base = osp.join(base, self.split)
            for folder, label in (('real', 1), ('fake', 0)):
                data_list += self._scan_class_folder(osp.join(base, folder),
                                                     label, domain)
        return data_list

    def _scan_class_folder(self, folder: str, label: int,
                           domain: str) -> List[dict]:
        if not osp.isdir(folder):
            return []
        data_list = []
        for name in sorted(os.listdir(folder)):
            path = osp.join(folder, name)
            if osp.isdir(path):  # one folder per video
                frames = [
                    f for f in sorted(os.listdir(path))
                    if f.lower().endswith(IMAGE_EXTENSIONS)
                ]
                if not frames:
                    raise FASDataError(f'video without frames: {path}')
                data_list += [
                    dict(img_path=osp.join(path, f),
                         gt_label=label,
                         domain=domain,
                         video=osp.relpath(path, self.data_root))
                    for f in frames
                ]
            elif name.lower().endswith(IMAGE_EXTENSIONS):
                data_list.append(
                    dict(img_path=path,
                         gt_label=label,
                         domain=domain,
                         video=video_of_frame(osp.relpath(
                             path, self.data_root))))
        return data_list
