"""Semantic-correspondence benchmarks (PF-PASCAL, PF-WILLOW, SPair-71k) and
same-class image pairs from any labelled dataset.

Every sample is a pair: ``src_img_path`` / ``trg_img_path`` (or arrays
``src_img`` / ``trg_img``), ``src_kps`` / ``trg_kps`` (K, 2) float32 (x, y)
in original pixels (only keypoints visible in both images), ``src_bbox`` /
``trg_bbox`` (x1, y1, x2, y2), ``category`` and ``flip``.
"""
import csv
import json
import os.path as osp

import logging

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS
from torch.utils.data import Dataset

from mmext.errors import BadValueError

__all__ = [
    'PFPascalPairs', 'PFWillowPairs', 'SPairPairs', 'SameClassPairs',
    'ShippedPhotoCrops', 'ZipViews'
]

PASCAL_CLASSES = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

PASCAL_COLUMNS = ('source_image', 'target_image', 'class')


def _require_file(path, what):
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def _visible_in_both(src_kps, trg_kps):
    valid = np.isfinite(src_kps).all(axis=1) & np.isfinite(trg_kps).all(axis=1)
    return (src_kps[valid].astype(np.float32),
            trg_kps[valid].astype(np.float32))


def _keypoint_box(kps):
    if len(kps) == 0:  # a pair the loader will skip
        return np.full(4, np.nan, np.float32)
    return np.concatenate([kps.min(axis=0), kps.max(axis=0)]).astype(np.float32)


class _PairBenchmark(BaseDataset):
    """Shared by the pair readers: every listed image must exist, and pairs
    with no keypoint visible in both images (nothing to score) are dropped,
    their number logged."""

    def load_data_list(self):
        data_list = self.read_pairs()
        for info in data_list:
            for key in ('src_img_path', 'trg_img_path'):
                _require_file(info[key], f'{type(self).__name__} image '
                              f'(listed in {self.ann_file})')
        kept = [info for info in data_list if len(info['src_kps'])]
        if len(kept) < len(data_list):
            print_log(f'{type(self).__name__}: skipped '
                      f'{len(data_list) - len(kept)} of {len(data_list)} '
                      f'pairs of {self.ann_file} with no keypoint visible in '
                      'both images', logger='current', level=logging.WARNING)
        return kept


@DATASETS.register_module()
class PFPascalPairs(_PairBenchmark):
    """PF-PASCAL: ``{trn,val,test}_pairs.csv`` and ``Annotations/<class>/<image>.mat``.

    Each csv row is ``source_image, target_image, class`` (1-20) plus ``flip``
    in the training split; images are looked up by file name in
    ``JPEGImages/``. The .mat files hold ``kps`` (K x 2, NaN where a keypoint is
    invisible) and ``bbox``. Pairs with ``flip`` set are mirrored (images by
    the loading transform, keypoints and boxes here).

    Args:
        data_root (str): The PF-PASCAL folder.
        split (str): ``'trn'``, ``'val'`` or ``'test'``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """
    METAINFO = dict(classes=PASCAL_CLASSES)

    def __init__(self, data_root, split='test', **kwargs):
        self.split = split
        super().__init__(data_root=data_root,
                         ann_file=f'{split}_pairs.csv', **kwargs)

    def _annotation(self, image_name, category):
        from scipy.io import loadmat
        stem = osp.splitext(osp.basename(image_name))[0]
        path = _require_file(
            osp.join(self.data_root, 'Annotations', category, stem + '.mat'),
            'PF-PASCAL annotation')
        mat = loadmat(path)
        for key in ('kps', 'bbox'):
            if key not in mat:
                raise BadValueError(f'{path} has no {key!r} entry')
        return (np.asarray(mat['kps'], np.float64).reshape(-1, 2),
                np.asarray(mat['bbox'], np.float32).reshape(4))

    def _image_size(self, path):
        from PIL import Image
        with Image.open(path) as image:
            return image.size

    def read_pairs(self):
        with open(_require_file(self.ann_file, 'PF-PASCAL pair list')) as f:
            reader = csv.DictReader(f)
            missing = [c for c in PASCAL_COLUMNS
                       if c not in (reader.fieldnames or ())]
            if missing:
                raise BadValueError(
                    f'{self.ann_file} lacks column(s) {missing} (its header: '
                    f'{reader.fieldnames})')
            rows = list(reader)
        data_list = []
        for row in rows:
            category = PASCAL_CLASSES[int(row['class']) - 1]
            pair = dict(category=category, flip=bool(int(row.get('flip') or 0)))
            kps = {}
            for side, column in (('src', 'source_image'),
                                 ('trg', 'target_image')):
                path = osp.join(self.data_root, 'JPEGImages',
                                osp.basename(row[column]))
                kps[side], pair[f'{side}_bbox'] = self._annotation(
                    row[column], category)
                pair[f'{side}_img_path'] = path
            pair['src_kps'], pair['trg_kps'] = _visible_in_both(
                kps['src'], kps['trg'])
            if pair['flip']:
                for side in ('src', 'trg'):
                    width, _ = self._image_size(pair[f'{side}_img_path'])
                    pair[f'{side}_kps'][:, 0] = width - pair[f'{side}_kps'][:, 0]
                    x1, y1, x2, y2 = pair[f'{side}_bbox']
                    pair[f'{side}_bbox'] = np.array(
                        [width - x2, y1, width - x1, y2], np.float32)
            data_list.append(pair)
        return data_list


@DATASETS.register_module()
class PFWillowPairs(_PairBenchmark):
    """PF-WILLOW: ``test_pairs.csv`` with ``imageA, imageB`` and, per image, 10 x
    then 10 y keypoint coordinates; the category is the image's folder.

    Image paths in the csv start with the archive's top folder
    (``PF-dataset/car(G)/...``), which is dropped to resolve them under
    ``data_root``. Boxes are the keypoints' bounding boxes (the PCK threshold
    of this benchmark).

    Args:
        data_root (str): The PF-WILLOW folder.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, data_root, ann_file='test_pairs.csv', **kwargs):
        super().__init__(data_root=data_root, ann_file=ann_file, **kwargs)

    def read_pairs(self):
        with open(_require_file(self.ann_file, 'PF-WILLOW pair list')) as f:
            rows = list(csv.reader(f))[1:]
        data_list = []
        for line, row in enumerate(rows, start=2):
            if len(row) != 42:
                raise BadValueError(f'{self.ann_file} line {line}: expected 2 image '
                                 f'names and 40 coordinates, got {len(row)} fields')
            values = np.asarray(row[2:], np.float64)
            src = values[:20].reshape(2, 10).T
            trg = values[20:].reshape(2, 10).T
            paths = [osp.join(self.data_root, *name.split('/')[1:])
                     for name in row[:2]]
            src_kps, trg_kps = _visible_in_both(src, trg)
            data_list.append(dict(
                src_img_path=paths[0], trg_img_path=paths[1],
                src_kps=src_kps, trg_kps=trg_kps,
                src_bbox=_keypoint_box(src_kps), trg_bbox=_keypoint_box(trg_kps),
                category=row[0].split('/')[1], flip=False))
        return data_list


@DATASETS.register_module()
class SPairPairs(_PairBenchmark):
    """SPair-71k: ``Layout/large/<split>.txt`` pair ids, one
    ``PairAnnotation/<split>/<id>.json`` each (``src_imname``, ``trg_imname``,
    ``category``, ``src_kps``, ``trg_kps``, ``src_bndbox``, ``trg_bndbox``),
    images in ``JPEGImages/<category>/``.

    Args:
        data_root (str): The SPair-71k folder.
        split (str): ``'trn'``, ``'val'`` or ``'test'``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, data_root, split='test', **kwargs):
        self.split = split
        super().__init__(data_root=data_root,
                         ann_file=osp.join('Layout', 'large', f'{split}.txt'),
                         **kwargs)

    def read_pairs(self):
        with open(_require_file(self.ann_file, 'SPair-71k pair list')) as f:
            pair_ids = [line.strip() for line in f if line.strip()]
        data_list = []
        for pair_id in pair_ids:
            path = _require_file(
                osp.join(self.data_root, 'PairAnnotation', self.split,
                         pair_id + '.json'), 'SPair-71k annotation')
            with open(path) as f:
                ann = json.load(f)
            missing = {'src_imname', 'trg_imname', 'category', 'src_kps',
                       'trg_kps', 'src_bndbox', 'trg_bndbox'} - set(ann)
            if missing:
                raise BadValueError(f'{path} lacks {sorted(missing)}')
            images = osp.join(self.data_root, 'JPEGImages', ann['category'])
            src_kps, trg_kps = _visible_in_both(
                np.asarray(ann['src_kps'], np.float64).reshape(-1, 2),
                np.asarray(ann['trg_kps'], np.float64).reshape(-1, 2))
            data_list.append(dict(
                src_img_path=osp.join(images, ann['src_imname']),
                trg_img_path=osp.join(images, ann['trg_imname']),
                src_kps=src_kps, trg_kps=trg_kps,
                src_bbox=np.asarray(ann['src_bndbox'], np.float32),
                trg_bbox=np.asarray(ann['trg_bndbox'], np.float32),
                category=ann['category'], flip=False))
        return data_list


@DATASETS.register_module()
class SameClassPairs(BaseDataset):
    """Pairs of images of the same class from any labelled dataset, the
    training data of the cycle loss.

    Item ``i`` pairs image ``i`` with another image of its class, drawn
    with a generator seeded by ``(seed, i)`` so pairs are reproducible.

    Args:
        dataset (dict | Dataset): A labelled dataset (``gt_label`` per item),
            built without a pipeline: its raw items are paired.
        seed (int): Seed of the partner draw. Defaults to 0.
        pipeline (list): Transforms of the pair (starting with
            ``LoadImagePair``).
    """

    def __init__(self, dataset, seed=0, pipeline=()):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) \
            else dataset
        self.seed = seed
        super().__init__(pipeline=list(pipeline), serialize_data=False)

    def full_init(self):
        labels = np.array([int(np.asarray(self.dataset.get_data_info(i)
                                          ['gt_label']).reshape(-1)[0])
                           for i in range(len(self.dataset))])
        self._members = {c: np.flatnonzero(labels == c) for c in set(labels)}
        lonely = [c for c, m in self._members.items() if len(m) < 2]
        if lonely:
            raise BadValueError(f'SameClassPairs needs two images per class; '
                             f'classes {sorted(lonely)} have one')
        self._labels = labels
        self._fully_initialized = True

    def __len__(self):
        return len(self.dataset)

    def get_data_info(self, idx):
        members = self._members[self._labels[idx]]
        rng = np.random.default_rng((self.seed, idx))
        partner = rng.choice(members[members != idx])
        pair = dict(category=int(self._labels[idx]), flip=False)
        for side, index in (('src', idx), ('trg', partner)):
            info = self.dataset.get_data_info(int(index))
            if 'img' in info:
                pair[f'{side}_img'] = info['img']
            else:
                pair[f'{side}_img_path'] = info['img_path']
        return pair


@DATASETS.register_module()
class ZipViews(Dataset):
    """Items of several datasets side by side, their view lists concatenated.

    The reference trains MoCo on ImageNet and the cycle loss on benchmark
    pairs at once: zipping a MoCo dataset (views ``[query, key]``) with a pair
    dataset (views ``[image 1, image 2]``) gives the model's four inputs.
    Item ``i`` takes item ``i mod len`` of each; the length is the longest.

    Args:
        datasets (list[dict | Dataset]): Datasets whose items are packed
            ``dict(inputs=[...], data_samples=...)``; the data sample of the
            first is kept.
    """

    def __init__(self, datasets):
        self.datasets = [DATASETS.build(d) if isinstance(d, dict) else d
                         for d in datasets]
        self.metainfo = getattr(self.datasets[0], 'metainfo', {})

    def __len__(self):
        return max(len(d) for d in self.datasets)

    def __getitem__(self, idx):
        items = [d[idx % len(d)] for d in self.datasets]
        views = [view for item in items for view in item['inputs']]
        return dict(inputs=views, data_samples=items[0]['data_samples'])


@DATASETS.register_module()
class ShippedPhotoCrops(BaseDataset):
    """Random crops of the photos that ship in installed packages
    (:func:`mmext.photos.shipped_photos`), labelled by photo: real images for
    small contrastive / cycle runs with no download.

    Each photo gives ``crops_per_photo`` square crops (side a uniform
    ``scale_range`` fraction of the photo's shorter side, seeded), resized to
    ``size`` and stored BGR like ``LoadImageFromFile`` output.

    Args:
        crops_per_photo (int): Crops of each photo. Defaults to 16.
        size (int): Side of the stored crops in pixels. Defaults to 160.
        scale_range (tuple[float, float]): Crop side over the shorter side.
        seed (int): Seed of the crop positions. Defaults to 0.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, crops_per_photo=16, size=160, scale_range=(0.4, 1.0),
                 seed=0, **kwargs):
        self.crops_per_photo = crops_per_photo
        self.size = size
        self.scale_range = scale_range
        self.seed = seed
        super().__init__(**kwargs)

    def load_data_list(self):
        import mmcv

        from mmext.photos import shipped_photos
        rng = np.random.default_rng(self.seed)
        data_list = []
        for label, (name, photo) in enumerate(sorted(shipped_photos().items())):
            height, width = photo.shape[:2]
            for _ in range(self.crops_per_photo):
                side = int(min(height, width) * rng.uniform(*self.scale_range))
                y = rng.integers(0, height - side + 1)
                x = rng.integers(0, width - side + 1)
                crop = photo[y:y + side, x:x + side, ::-1]
                data_list.append(dict(
                    img=mmcv.imresize(np.ascontiguousarray(crop),
                                      (self.size, self.size)),
                    gt_label=label, photo=name))
        return data_list
