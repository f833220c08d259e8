"""Converters from the public FAS datasets' own layouts to the common frame
layout of :mod:`.datasets`, as the papers' protocol 1 uses them: frames 6 and
6 + floor(T/2) of every video (0-based), faces cropped to 224 x 224.

Written: ``<out>/<domain>/<split>/{real,fake}/<video>_frame{0,1}.png`` and
the frame lists ``<out>/<domain>/<split>.txt``.

Faces: the papers align with MTCNN, which is not installable here. Where a
dataset ships face positions they are used (OULU-NPU: eye positions per
frame, a similarity alignment putting the eyes at fixed points; Replay-Attack:
face boxes per frame; CelebA-Spoof: a box per image); CASIA-MFSD and MSU-MFSD
ship none, so their frames are centre-cropped squares (run a detector first
for paper-faithful crops).
"""
import glob
import os
import os.path as osp
import re
from typing import Callable, Iterator, List, NamedTuple, Optional

import cv2
import numpy as np

from .datasets import FASDataError

__all__ = [
    'Video', 'sample_frame_indices', 'read_frames', 'crop_box', 'align_eyes',
    'convert', 'oulu_videos', 'casia_videos', 'replay_videos', 'msu_videos',
    'celeba_spoof_images', 'DATASETS'
]

CROP = 224


class Video(NamedTuple):
    """One video (or image) of a dataset and how to crop its faces.

    ``crop(frame, index)`` returns the face crop of frame ``index``.
    """
    path: str
    split: str
    live: bool
    name: str
    crop: Callable[[np.ndarray, int], np.ndarray]


def sample_frame_indices(num_frames: int, path: str) -> List[int]:
    """Frames 6 and 6 + floor(T/2), the protocol-1 sampling."""
    if num_frames <= 6:
        raise FASDataError(
            f'video without frames to sample: {path} has {num_frames} '
            'frame(s); protocol 1 needs frame 6 and 6 + T/2')
    return [
        6, 6 + num_frames // 2 if 6 +
        num_frames // 2 < num_frames else num_frames - 1
    ]


def read_frames(path: str) -> List[np.ndarray]:
    """Every frame of a video file (BGR), or an error naming it."""
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        raise FASDataError(f'video without frames (unreadable?): {path}')
    return frames


def crop_box(frame: np.ndarray,
             box,
             scale: float = 1.2,
             size: int = CROP) -> np.ndarray:
    """A square of ``scale`` x the box's larger side around its centre,
    resized to ``size`` (``box = (x, y, w, h)``; outside pixels are 0)."""
    x, y, w, h = (float(v) for v in box)
    side = scale * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    k = size / side
    matrix = np.float32([[k, 0, size / 2 - k * cx], [0, k, size / 2 - k * cy]])
    return cv2.warpAffine(frame, matrix, (size, size))


def centre_square(frame: np.ndarray, index: int = 0) -> np.ndarray:
    h, w = frame.shape[:2]
    side = min(h, w)
    return crop_box(frame, ((w - side) / 2, (h - side) / 2, side, side), 1.)


def align_eyes(frame: np.ndarray, left, right, size: int = CROP) -> np.ndarray:
    """Similarity-align so the eyes land at (0.35, 0.4) and (0.65, 0.4) of
    the crop (image left first)."""
    # Imported here: it lives with the face-generation family.
    from mmext.generation.alignment import similarity_transform
    dst = np.float32([[0.35 * size, 0.4 * size], [0.65 * size, 0.4 * size]])
    matrix = similarity_transform(np.float32([left, right]), dst)
    return cv2.warpAffine(frame, matrix, (size, size))


def _rows(path: str) -> dict:
    """``{frame: numbers}`` from a per-frame annotation file."""
    if not osp.isfile(path):
        raise FASDataError(f'face annotation not found: {path}')
    rows = {}
    with open(path) as f:
        for line in f:
            values = line.replace(',', ' ').split()
            if values:
                rows[int(float(values[0]))] = [float(v) for v in values[1:]]
    return rows


def _nearest(rows: dict, index: int, path: str):
    if not rows:
        raise FASDataError(f'no face positions in {path}')
    return rows[min(rows, key=lambda k: abs(k - index))]


def _videos(root: str, pattern: str) -> List[str]:
    found = sorted(glob.glob(osp.join(root, pattern)))
    if not found:
        raise FASDataError(f'no videos matching {pattern} under {root}')
    return found


def oulu_videos(root: str) -> Iterator[Video]:
    """OULU-NPU: ``{Train,Dev,Test}_files/<phone>_<session>_<user>_<file>
    .avi`` with ``.txt`` eye positions (``frame, xl, yl, xr, yr``); file 1
    is live, 2-3 print, 4-5 replay."""
    splits = dict(Train_files='train', Dev_files='dev', Test_files='test')
    for path in _videos(root, '*_files/*.avi'):
        folder = osp.basename(osp.dirname(path))
        if folder not in splits:
            continue
        name = osp.splitext(osp.basename(path))[0]
        eyes_file = osp.splitext(path)[0] + '.txt'

        def crop(frame, index, eyes_file=eyes_file):
            xl, yl, xr, yr = _nearest(_rows(eyes_file), index, eyes_file)[:4]
            return align_eyes(frame, (xl, yl), (xr, yr))

        yield Video(path, splits[folder],
                    name.split('_')[-1] == '1', name, crop)


def casia_videos(root: str) -> Iterator[Video]:
    """CASIA-MFSD: ``{train,test}_release/<subject>/<video>.avi``; videos 1,
    2 and HR_1 are live."""
    for path in _videos(root, '*_release/*/*.avi'):
        split = osp.basename(osp.dirname(osp.dirname(path))).split('_')[0]
        subject = osp.basename(osp.dirname(path))
        video = osp.splitext(osp.basename(path))[0]
        yield Video(path, split, video in ('1', '2', 'HR_1'),
                    f'{subject}_{video}', centre_square)


def replay_videos(root: str) -> Iterator[Video]:
    """Idiap Replay-Attack: ``{train,devel,test}/real/*.mov`` and
    ``{train,devel,test}/attack/{fixed,hand}/*.mov`` with face boxes in
    ``face-locations/<same path>.face`` (``frame x y w h``)."""
    splits = dict(train='train', devel='dev', test='test')
    paths = [(name, path) for split, name in splits.items() for path in sorted(
        glob.glob(osp.join(root, split, 'real', '*.mov')) +
        glob.glob(osp.join(root, split, 'attack', '*', '*.mov')))]
    if not paths:
        raise FASDataError(f'no videos matching train/real/*.mov under {root}')
    for split, path in paths:
        relative = osp.relpath(path, root)
        face_file = osp.join(root, 'face-locations',
                             osp.splitext(relative)[0] + '.face')
        live = relative.split(os.sep)[1] == 'real'
        stem = osp.splitext(osp.basename(path))[0]
        # Attack names repeat under fixed/ and hand/.
        video = stem if live else f'{relative.split(os.sep)[2]}_{stem}'

        def crop(frame, index, face_file=face_file):
            box = _nearest(_rows(face_file), index, face_file)[:4]
            return crop_box(frame, box)

        yield Video(path, split, live, video, crop)


def msu_videos(root: str) -> Iterator[Video]:
    """MSU-MFSD: ``scene01/{real,attack}/<name>.{mp4,mov}`` and the client
    lists ``train_sub_list.txt`` / ``test_sub_list.txt``."""
    clients = {}
    for split in ('train', 'test'):
        path = osp.join(root, f'{split}_sub_list.txt')
        if not osp.isfile(path):
            raise FASDataError(f'MSU-MFSD client list not found: {path}')
        with open(path) as f:
            clients.update({int(c): split for c in f.read().split()})
    paths = sorted(
        glob.glob(osp.join(root, 'scene01', '*', '*.mp4')) +
        glob.glob(osp.join(root, 'scene01', '*', '*.mov')))
    if not paths:
        raise FASDataError(f'no videos matching scene01/*/*.mp4 under {root}')
    for path in paths:
        name = osp.splitext(osp.basename(path))[0]
        match = re.search(r'client(\d+)', name)
        if not match or int(match.group(1)) not in clients:
            raise FASDataError(f'{path}: client not in the MSU-MFSD lists')
        yield Video(path, clients[int(match.group(1))],
                    name.startswith('real'), name, centre_square)


def celeba_spoof_images(root: str) -> Iterator[Video]:
    """CelebA-Spoof: ``Data/{train,test}/<subject>/{live,spoof}/<id>.jpg``
    with ``<id>_BB.txt`` boxes (``x y w h score`` in a 224-scaled frame).
    Each image is its own one-frame "video"."""
    paths = sorted(
        glob.glob(osp.join(root, 'Data', '*', '*', '*', '*.jpg')) +
        glob.glob(osp.join(root, 'Data', '*', '*', '*', '*.png')))
    if not paths:
        raise FASDataError(f'no images matching Data/*/*/*/*.jpg under {root}')
    for path in paths:
        kind = osp.basename(osp.dirname(path))
        split = osp.basename(osp.dirname(osp.dirname(osp.dirname(path))))
        subject = osp.basename(osp.dirname(osp.dirname(path)))
        stem = osp.splitext(osp.basename(path))[0]
        box_file = osp.join(osp.dirname(path), f'{stem}_BB.txt')

        def crop(frame, index, box_file=box_file):
            if not osp.isfile(box_file):
                raise FASDataError(f'face box not found: {box_file}')
            with open(box_file) as f:
                x, y, w, h = (float(v) for v in f.read().split()[:4])
            sy, sx = frame.shape[0] / 224, frame.shape[1] / 224
            return crop_box(frame, (x * sx, y * sy, w * sx, h * sy))

        yield Video(path, split, kind == 'live', f'{subject}_{kind}_{stem}',
                    crop)


#: Domain name and video enumerator of each supported dataset.
DATASETS = dict(oulu=('oulu', oulu_videos),
                casia=('casia', casia_videos),
                replay=('replay', replay_videos),
                msu=('msu', msu_videos),
                celeba_spoof=('celeb', celeba_spoof_images))


def convert(dataset: str,
            root: str,
            out: str,
            domain: Optional[str] = None) -> dict:
    """Convert one dataset; returns ``{split: number of frames}``.

    Args:
        dataset (str): A key of :data:`DATASETS`.
        root (str): The dataset as distributed.
        out (str): The common layout's root (e.g. ``data/MCIO``).
        domain (str, optional): Domain name (default: the papers' one).
    """
    if dataset not in DATASETS:
        raise FASDataError(f'unknown FAS dataset {dataset!r}; choose from '
                           f'{sorted(DATASETS)}')
    if not osp.isdir(root):
        raise FASDataError(f'dataset folder not found: {root}')
    default_domain, videos = DATASETS[dataset]
    domain = domain or default_domain
    lists = {}
    for video in videos(root):
        if video.path.lower().endswith(('.jpg', '.png')):
            image = cv2.imread(video.path)
            if image is None:
                raise FASDataError(f'unreadable image: {video.path}')
            samples = [(0, image)]
        else:
            frames = read_frames(video.path)
            samples = [(i, frames[i])
                       for i in sample_frame_indices(len(frames), video.path)]
        folder = 'real' if video.live else 'fake'
        for k, (index, frame) in enumerate(samples):
            relative = osp.join(domain, video.split, folder,
                                f'{video.name}_frame{k}.png')
            os.makedirs(osp.dirname(osp.join(out, relative)), exist_ok=True)
            cv2.imwrite(osp.join(out, relative), video.crop(frame, index))
            lists.setdefault(video.split, []).append(
                f"{relative} {'live' if video.live else 'spoof'} {domain} "
                f'{domain}/{video.split}/{video.name}\n')
    for split, lines in lists.items():
        with open(osp.join(out, domain, f'{split}.txt'), 'w') as f:
            f.writelines(lines)
    return {split: len(lines) for split, lines in lists.items()}
