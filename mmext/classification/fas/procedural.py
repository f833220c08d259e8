"""Embedded FAS data: procedural faces seen by several simulated cameras
("domains"), with print and replay spoofs made from them.

No face anti-spoofing data can be installed, so this builds a stand-in whose
domain shift and attack cues are known by construction:

- live faces: the project's procedural faces
  (:func:`mmext.generation.datasets.procedural_faces.render_face`), cropped
  square;
- print attacks: halftone dots, paper texture, gamut compression;
- replay attacks: moire, screen glare, a visible pixel grid;
- domains: cameras differing in blur, sensor noise, colour temperature,
  JPEG quality and resolution, applied to live faces and to the
  (physical) attacks alike.

Each video is one face (one attack instance for spoofs) in two frames with a
small jitter, written in the common folder layout with frame lists (see
:mod:`.datasets`), so experiments read it with :class:`FASFrameDataset`.
"""
import os
import os.path as osp
from typing import Dict, Sequence

import cv2
import numpy as np

__all__ = [
    'CAMERAS', 'print_attack', 'replay_attack', 'capture',
    'make_procedural_fas'
]

#: Camera of each procedural domain: Gaussian blur sigma (px at 96 px),
#: noise std (grey levels), colour temperature (+ warm / - cool), JPEG
#: quality, resolution factor.
CAMERAS: Dict[str, dict] = {
    'warm-hd': dict(blur=0.4, noise=2., temperature=0.12, jpeg=92, scale=1.),
    'cool-soft': dict(blur=1.4,
                      noise=4.,
                      temperature=-0.12,
                      jpeg=75,
                      scale=0.8),
    'noisy-lowres': dict(blur=0.6,
                         noise=9.,
                         temperature=0.,
                         jpeg=60,
                         scale=0.5),
    'jpeg-warm': dict(blur=0.9, noise=3., temperature=0.18, jpeg=40,
                      scale=0.7),
}

_RENDER = 96  # faces and attacks are made at this size, then captured


def _face(rng) -> np.ndarray:
    # Imported here: mmext.generation imports mmagic, which a classification
    # user need not have loaded until embedded data is actually made.
    from mmext.generation.datasets.procedural_faces import render_face
    from mmext.generation.datasets.procedural_faces import \
        PROCEDURAL_ATTRIBUTES
    attributes = {a: bool(rng.integers(2)) for a in PROCEDURAL_ATTRIBUTES}
    height = round(_RENDER * 218 / 178)
    img, _ = render_face(rng, attributes, size=(_RENDER, height))
    top = int(0.6 * (height - _RENDER))
    return img[top:top + _RENDER]


def print_attack(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A printed photo: compressed gamut, halftone dots, paper texture."""
    x = img.astype(np.float32) / 255
    x = 0.12 + 0.72 * x + np.float32([0.0, 0.02, 0.04])  # dull, yellowish
    h, w = x.shape[:2]
    period = rng.uniform(6., 9.)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi / 2)
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    screen = 0.5 + 0.25 * (np.cos(2 * np.pi * u / period) +
                           np.cos(2 * np.pi * v / period))
    halftone = (x > screen[..., None]).astype(np.float32)
    x = 0.55 * x + 0.45 * halftone
    fibres = cv2.GaussianBlur(
        rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
    x = x * (1 + 0.05 * fibres[..., None])
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def replay_attack(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A face shown on a screen: pixel grid, moire, glare, bluish cast."""
    x = img.astype(np.float32) / 255
    h, w = x.shape[:2]
    pitch = int(rng.integers(6, 9))
    grid = np.ones((h, w), np.float32)
    grid[::pitch, :] *= 0.7
    grid[:, ::pitch] *= 0.7
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    freq = rng.uniform(0.06, 0.12)
    moire = 0.08 * np.sin(2 * np.pi * freq *
                          (np.cos(angle) * xx + np.sin(angle) * yy))
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    glare = 0.5 * np.exp(-((yy - cy)**2 + (xx - cx)**2) /
                         (2 * rng.uniform(8, 20)**2))
    x = x * grid[..., None] + (moire + glare)[..., None]
    x = x * np.float32([1.08, 1.0, 0.94])  # BGR: bluish screen
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def capture(img: np.ndarray, camera: dict, rng: np.random.Generator,
            size: int) -> np.ndarray:
    """What one domain's camera records of ``img``, at ``size`` px."""
    x = img.astype(np.float32)
    # A little per-frame jitter: shift and exposure.
    shift = rng.uniform(-2, 2, 2)
    x = cv2.warpAffine(x,
                       np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]),
                       (x.shape[1], x.shape[0]),
                       borderMode=cv2.BORDER_REFLECT)
    x *= rng.uniform(0.92, 1.08)
    if camera['blur'] > 0:
        x = cv2.GaussianBlur(x, (0, 0), camera['blur'])
    low = max(8, int(round(x.shape[0] * camera['scale'])))
    x = cv2.resize(x, (low, low), interpolation=cv2.INTER_AREA)
    t = camera['temperature']
    x = x * np.float32([1 - t, 1, 1 + t])  # BGR
    x = x + rng.normal(0, camera['noise'], x.shape)
    x = cv2.resize(np.clip(x, 0, 255).astype(np.uint8), (size, size),
                   interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode('.jpg', x,
                               [cv2.IMWRITE_JPEG_QUALITY, camera['jpeg']])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def make_procedural_fas(root: str,
                        domains: Sequence[str] = tuple(CAMERAS),
                        videos_per_class: int = 16,
                        size: int = 48,
                        frames_per_video: int = 2,
                        seed: int = 0) -> None:
    """Write ``root/<domain>/{train,test}/{real,fake}/<video>_frame<k>.png``
    and the frame lists ``root/<domain>/{train,test}.txt``.

    Args:
        root (str): Output folder.
        domains (list[str]): Keys of :data:`CAMERAS`.
        videos_per_class (int): Live videos per domain and split; as many
            spoof videos, half print and half replay.
        size (int): Side of the written frames.
        frames_per_video (int): Frames per video (2, as in protocol 1).
        seed (int): Everything is a function of it.
    """
    for d, domain in enumerate(domains):
        if domain not in CAMERAS:
            raise KeyError(f'unknown procedural FAS domain {domain!r}; '
                           f'choose from {sorted(CAMERAS)}')
        for s, split in enumerate(('train', 'test')):
            rng = np.random.default_rng([seed, d, s])
            lines = []
            for v in range(2 * videos_per_class):
                live = v < videos_per_class
                face = _face(rng)
                if live:
                    source, folder, video = face, 'real', f'live{v:03d}'
                elif v % 2:
                    source, folder = print_attack(face, rng), 'fake'
                    video = f'print{v:03d}'
                else:
                    source, folder = replay_attack(face, rng), 'fake'
                    video = f'replay{v:03d}'
                os.makedirs(osp.join(root, domain, split, folder),
                            exist_ok=True)
                for k in range(frames_per_video):
                    path = osp.join(domain, split, folder,
                                    f'{video}_frame{k}.png')
                    cv2.imwrite(osp.join(root, path),
                                capture(source, CAMERAS[domain], rng, size))
                    lines.append(f"{path} {'live' if live else 'spoof'} "
                                 f'{domain} {domain}/{split}/{video}\n')
            with open(osp.join(root, domain, f'{split}.txt'), 'w') as f:
                f.writelines(lines)
