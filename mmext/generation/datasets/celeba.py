"""CelebA in its real on-disk layout, for attribute transfer and for the
attribute classifier that scores it.

The layout is the one the CelebA release unpacks to::

    data_root/
        img_align_celeba/000001.jpg ...    (or the 5-point aligned copy that
                                            tools/generation/align_celeba.py
                                            writes, e.g. align_5p_256/)
        list_attr_celeba.txt               count, 40 names, "name -1  1 ..."
        list_eval_partition.txt            "name 0|1|2" (train/val/test)
        list_landmarks_align_celeba.txt    count, 10 names, "name x y ..."

Two datasets read it:

* :class:`CelebAAttributePairs` (mmagic ``DATASETS``): what ELEGANT and DNA-GAN
  train on. For every selected attribute it hands out one image that has the
  attribute and one that lacks it.
* :class:`CelebAAttributes` (mmpretrain ``DATASETS``): one image with its
  multi-hot attribute label, for the classifier that measures whether an edit
  worked.
"""
import difflib
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmagic.registry import DATASETS as MMAGIC_DATASETS
from mmagic.structures import DataSample
from mmengine.dataset import BaseDataset
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS as MMPRETRAIN_DATASETS

__all__ = [
    'CELEBA_ATTRIBUTES', 'SPLITS', 'CelebAAnnotations', 'read_attribute_file',
    'read_partition_file', 'read_landmark_file', 'read_celeba',
    'select_attributes', 'CelebAAttributePairs', 'CelebAAttributes'
]

#: The 40 attribute names of list_attr_celeba.txt, in file order.
CELEBA_ATTRIBUTES = ('5_o_Clock_Shadow', 'Arched_Eyebrows', 'Attractive',
                     'Bags_Under_Eyes', 'Bald', 'Bangs', 'Big_Lips',
                     'Big_Nose', 'Black_Hair', 'Blond_Hair', 'Blurry',
                     'Brown_Hair', 'Bushy_Eyebrows', 'Chubby', 'Double_Chin',
                     'Eyeglasses', 'Goatee', 'Gray_Hair', 'Heavy_Makeup',
                     'High_Cheekbones', 'Male', 'Mouth_Slightly_Open',
                     'Mustache', 'Narrow_Eyes', 'No_Beard', 'Oval_Face',
                     'Pale_Skin', 'Pointy_Nose', 'Receding_Hairline',
                     'Rosy_Cheeks', 'Sideburns', 'Smiling', 'Straight_Hair',
                     'Wavy_Hair', 'Wearing_Earrings', 'Wearing_Hat',
                     'Wearing_Lipstick', 'Wearing_Necklace', 'Wearing_Necktie',
                     'Young')

#: list_eval_partition.txt's codes.
SPLITS = {'train': 0, 'val': 1, 'test': 2}

LANDMARK_NAMES = ('lefteye_x', 'lefteye_y', 'righteye_x', 'righteye_y',
                  'nose_x', 'nose_y', 'leftmouth_x', 'leftmouth_y',
                  'rightmouth_x', 'rightmouth_y')


class CelebAAnnotations:
    """The parsed annotation files of one CelebA root.

    Args:
        filenames (list[str]): Image file names, in list_attr_celeba.txt order.
        attribute_names (list[str]): The attribute columns.
        labels (np.ndarray): ``(N, A)`` int8 in {-1, 1}, as in the file.
        partition (np.ndarray, optional): ``(N,)`` split code per image
            (0 train, 1 val, 2 test).
        attr_file (str): Where the labels came from (for error messages).
    """

    def __init__(self,
                 filenames,
                 attribute_names,
                 labels,
                 partition=None,
                 attr_file=''):
        self.filenames = filenames
        self.attribute_names = attribute_names
        self.labels = labels
        self.partition = partition
        self.attr_file = attr_file

    def split_indices(self, split: str) -> np.ndarray:
        """Indices of the images in ``split`` ('train', 'val', 'test' or
        'all')."""
        if split == 'all':
            return np.arange(len(self.filenames))
        if split not in SPLITS:
            raise ValueError(
                f"split must be one of {sorted(SPLITS)} or 'all', "
                f'got {split!r}')
        if self.partition is None:
            raise FileNotFoundError(
                f'split {split!r} needs list_eval_partition.txt next to '
                f'{self.attr_file}')
        return np.flatnonzero(self.partition == SPLITS[split])


def _read_lines(path: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'CelebA annotation file not found: {path} (the embedded '
            'procedural set is written by python '
            'tools/generation/make_procedural_faces.py ROOT)')
    with open(path) as f:
        return [line.rstrip('\r\n') for line in f if line.strip()]


def _read_counted_table(path: str, expected_columns: Optional[int] = None):
    """Read the "count / column names / rows" layout of CelebA's list files."""
    lines = _read_lines(path)
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise ValueError(
            f'{path} does not start with an image count and a line of column '
            'names, as CelebA list files do')
    count = int(lines[0])
    columns = lines[1].split()  # the release pads this line with a space
    rows = [line.split() for line in lines[2:]]
    if len(rows) != count:
        raise ValueError(f'{path} announces {count} images but lists '
                         f'{len(rows)}: the file is truncated or edited')
    width = len(columns) if expected_columns is None else expected_columns
    for row in rows:
        if len(row) != width + 1:
            raise ValueError(f'{path}: row {row[0]!r} has {len(row) - 1} '
                             f'values for {width} columns')
    return columns, [row[0] for row in rows], [row[1:] for row in rows]


def read_attribute_file(path: str) -> Tuple[List[str], List[str], np.ndarray]:
    """Parse list_attr_celeba.txt.

    Args:
        path (str): The file.

    Returns:
        tuple: attribute names, image file names, ``(N, A)`` int8 labels in
        {-1, 1}.
    """
    names, filenames, values = _read_counted_table(path)
    labels = np.asarray(
        values, dtype=np.int8).reshape(len(filenames), len(names))
    if not np.isin(labels, (-1, 1)).all():
        raise ValueError(f'{path}: attribute values must be -1 or 1')
    return names, filenames, labels


def read_partition_file(path: str) -> Dict[str, int]:
    """Parse list_eval_partition.txt (``name split`` per line, no header).

    Args:
        path (str): The file.
    """
    partition = {}
    for line in _read_lines(path):
        name, code = line.split()
        partition[name] = int(code)
    return partition


def read_landmark_file(path: str) -> Tuple[List[str], np.ndarray]:
    """Parse list_landmarks_align_celeba.txt (or list_landmarks_celeba.txt).

    Args:
        path (str): The file.

    Returns:
        tuple: image file names and ``(N, 5, 2)`` float32 points: left eye,
        right eye, nose, left and right mouth corner (image left/right).
    """
    _, filenames, values = _read_counted_table(
        path, expected_columns=len(LANDMARK_NAMES))
    points = np.asarray(values, dtype=np.float32).reshape(-1, 5, 2)
    return filenames, points


def read_celeba(
    data_root: str,
    attr_file: str = 'list_attr_celeba.txt',
    partition_file: Optional[str] = 'list_eval_partition.txt'
) -> CelebAAnnotations:
    """Read the attribute labels and, if present, the partition of a root.

    Args:
        data_root (str): The CelebA folder.
        attr_file (str): Attribute file, relative to ``data_root``.
        partition_file (str, optional): Partition file, relative to
            ``data_root``; None or a missing file leaves the split unknown
            (only ``split='all'`` then works).
    """
    attr_path = osp.join(data_root, attr_file)
    names, filenames, labels = read_attribute_file(attr_path)
    partition = None
    if partition_file and osp.isfile(osp.join(data_root, partition_file)):
        codes = read_partition_file(osp.join(data_root, partition_file))
        missing = [name for name in filenames if name not in codes]
        if missing:
            raise ValueError(
                f'{partition_file} has no split for {len(missing)} images of '
                f'{attr_file} (first: {missing[0]})')
        partition = np.array([codes[name] for name in filenames], np.int8)
    return CelebAAnnotations(filenames, names, labels, partition, attr_path)


def select_attributes(available: Sequence[str],
                      requested: Sequence[str],
                      source: str = 'list_attr_celeba.txt') -> List[int]:
    """Column indices of ``requested`` attribute names.

    Args:
        available (Sequence[str]): The names the file has.
        requested (Sequence[str]): The names asked for.
        source (str): Named in the error message.

    Raises:
        ValueError: A requested name is not available; the message lists the
            valid names and the closest match.
    """
    if isinstance(requested, str):
        requested = [requested]
    available = list(available)
    missing = [name for name in requested if name not in available]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, available, n=1)
            if close:
                hints.append(f'{name!r} -> did you mean {close[0]!r}?')
        hint = f' ({"; ".join(hints)})' if hints else ''
        raise ValueError(
            f'unknown attribute name(s) {missing} in {source}{hint}. Valid '
            f'names: {", ".join(available)}')
    if len(set(requested)) != len(requested):
        raise ValueError(f'attribute names repeat: {list(requested)}')
    return [available.index(name) for name in requested]


def _split_items(dataset) -> List[tuple]:
    """``(image path, {0, 1} labels of the selected attributes)`` of every
    image in the split of a CelebA dataset (its ``data_root``,
    ``attr_file``, ``partition_file``, ``attributes``, ``data_prefix`` and
    ``split``)."""
    annotations = read_celeba(dataset.data_root, dataset.attr_file,
                              dataset.partition_file)
    columns = select_attributes(annotations.attribute_names,
                                dataset.attributes, annotations.attr_file)
    img_dir = dataset.data_prefix['img']
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'CelebA image folder not found: {img_dir}')
    labels = annotations.labels[:, columns] > 0
    return [(osp.join(img_dir, annotations.filenames[k]), labels[k])
            for k in annotations.split_indices(dataset.split)]


@MMAGIC_DATASETS.register_module()
class CelebAAttributePairs(BaseDataset):
    """CelebA as attribute-exchange pairs: for each selected attribute, one
    image that has it and one that lacks it.

    Item ``idx`` anchors image ``idx`` of the split: for attribute ``i`` it is
    the exemplar on its own side (``A_i`` if it has the attribute, else
    ``B_i``) and the other side is drawn from the images with the opposite
    label, so one pass visits every image once per attribute. Training draws
    the partners from numpy's global generator (seeded by the Runner); test
    mode draws them from ``seed`` and ``idx``, so evaluation pairs are the
    same every time.

    ``pipeline`` runs on each image separately (it starts with
    ``LoadImageFromFile`` reading ``img_path`` into ``img``); the dataset then
    stacks the images and packs one item as::

        inputs = dict(img_a=uint8 (n, 3, H, W), img_b=uint8 (n, 3, H, W),
                      label_a=float (n, n), label_b=float (n, n))

    where ``img_a[i]`` has attribute ``i`` and ``img_b[i]`` lacks it,
    ``label_a[i]`` holds the {0, 1} labels of ``img_a[i]`` for all selected
    attributes, and a ``DataSample`` carrying the file paths and attribute
    names as metainfo.

    Args:
        data_root (str): The CelebA folder.
        attributes (Sequence[str]): Attribute names, e.g.
            ``['Bangs', 'Mustache', 'Smiling']``; an unknown name raises a
            ValueError listing the valid ones.
        split (str): 'train', 'val', 'test' (from list_eval_partition.txt) or
            'all'. Defaults to 'train'.
        data_prefix (dict): ``img`` is the image folder under ``data_root``.
            Defaults to ``dict(img='img_align_celeba')``.
        attr_file (str): Defaults to 'list_attr_celeba.txt'.
        partition_file (str): Defaults to 'list_eval_partition.txt'.
        pipeline (list): Per-image transforms. Defaults to ``[]``.
        test_mode (bool): Deterministic partners. Defaults to False.
        seed (int): Seed of the test-mode partners. Defaults to 0.
        indices (int | Sequence[int], optional): Keep only these anchors.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 data_root: str,
                 attributes: Sequence[str],
                 split: str = 'train',
                 data_prefix: Optional[dict] = None,
                 attr_file: str = 'list_attr_celeba.txt',
                 partition_file: str = 'list_eval_partition.txt',
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 seed: int = 0,
                 **kwargs):
        if isinstance(attributes, str):
            attributes = [attributes]
        self.attributes = tuple(attributes)
        self.split = split
        self.attr_file = attr_file
        self.partition_file = partition_file
        self.seed = seed
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix or dict(img='img_align_celeba'),
            metainfo=dict(attributes=self.attributes),
            pipeline=list(pipeline),
            test_mode=test_mode,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        return [
            dict(img_path=path, attr_label=labels.astype(np.float32))
            for path, labels in _split_items(self)
        ]

    def full_init(self):
        if self._fully_initialized:
            return
        super().full_init()
        labels = np.stack(
            [self.get_data_info(k)['attr_label'] for k in range(len(self))])
        # Per attribute: who has it, who lacks it. Both sides must exist.
        self.positives = [np.flatnonzero(col > 0) for col in labels.T]
        self.negatives = [np.flatnonzero(col == 0) for col in labels.T]
        for name, pos, neg in zip(self.attributes, self.positives,
                                  self.negatives):
            if len(pos) == 0 or len(neg) == 0:
                raise ValueError(
                    f'attribute {name!r} needs images with and without it in '
                    f'split {self.split!r}; found {len(pos)} with and '
                    f'{len(neg)} without')
        self._labels = labels

    def load_image(self, k: int) -> torch.Tensor:
        """Image ``k`` of the split through the per-image pipeline, as a
        ``(C, H, W)`` tensor (BGR uint8 with the usual loader)."""
        info = self.get_data_info(k)
        img = self.pipeline(dict(img_path=info['img_path']))['img']
        if img.ndim == 2:
            img = img[..., None]
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))

    def prepare_data(self, idx: int) -> dict:
        if self.test_mode:
            rng = np.random.default_rng([self.seed, idx])
            draw = rng.choice
        else:
            draw = np.random.choice
        a_ids, b_ids = [], []
        for i in range(len(self.attributes)):
            if self._labels[idx, i] > 0:
                a_ids.append(idx)
                b_ids.append(int(draw(self.negatives[i])))
            else:
                a_ids.append(int(draw(self.positives[i])))
                b_ids.append(idx)
        sample = DataSample(
            metainfo=dict(
                attributes=self.attributes,
                img_a_path=[self.get_data_info(k)['img_path'] for k in a_ids],
                img_b_path=[self.get_data_info(k)['img_path'] for k in b_ids],
                # cv2 loads BGR; the data preprocessor reads these to convert.
                img_a_channel_order='BGR',
                img_b_channel_order='BGR'))
        inputs = dict(
            img_a=torch.stack([self.load_image(k) for k in a_ids]),
            img_b=torch.stack([self.load_image(k) for k in b_ids]),
            label_a=torch.from_numpy(self._labels[a_ids]),
            label_b=torch.from_numpy(self._labels[b_ids]))
        return dict(inputs=inputs, data_samples=sample)


@MMPRETRAIN_DATASETS.register_module()
class CelebAAttributes(MultiLabelDataset):
    """CelebA images with multi-hot attribute labels, for mmpretrain's
    multi-label classifiers (the attribute classifier that scores edits).

    Items are ``dict(img_path, gt_label=[indices of present attributes])``,
    as :class:`mmpretrain.datasets.MultiLabelDataset` has them; the pipeline
    starts with ``LoadImageFromFile``.

    Args:
        data_root (str): The CelebA folder.
        attributes (Sequence[str], optional): Attribute names to predict;
            None takes every column of the attribute file.
        split (str): 'train', 'val', 'test' or 'all'. Defaults to 'train'.
        data_prefix (dict): ``img`` is the image folder under ``data_root``.
            Defaults to ``dict(img='img_align_celeba')``.
        attr_file (str): Defaults to 'list_attr_celeba.txt'.
        partition_file (str): Defaults to 'list_eval_partition.txt'.
        **kwargs: Passed to :class:`mmpretrain.datasets.MultiLabelDataset`
            (``pipeline``, ``test_mode``, ``indices``, ...).
    """

    def __init__(self,
                 data_root: str,
                 attributes: Optional[Sequence[str]] = None,
                 split: str = 'train',
                 data_prefix: Optional[dict] = None,
                 attr_file: str = 'list_attr_celeba.txt',
                 partition_file: str = 'list_eval_partition.txt',
                 **kwargs):
        self.split = split
        self.attr_file = attr_file
        self.partition_file = partition_file
        if attributes is None:
            # The classes must be known before the annotations load.
            attributes = read_attribute_file(osp.join(data_root, attr_file))[0]
        self.attributes = tuple(
            [attributes] if isinstance(attributes, str) else attributes)
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix=data_prefix or dict(img='img_align_celeba'),
            classes=self.attributes,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        return [
            dict(img_path=path, gt_label=np.flatnonzero(labels).tolist())
            for path, labels in _split_items(self)
        ]
