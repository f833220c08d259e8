"""FlyingPhotos: FlyingChairs-like procedural pairs textured with real photos.

FlyingShapes (:mod:`.synthetic`) trains a flow model to follow flat noise
textures over a few pixels; real images have photographic texture and motions
of tens of pixels. FlyingPhotos keeps FlyingShapes' planar-layer renderer and
its exact ground truth (:func:`~.synthetic.render_layers`) and changes what is
rendered, after FlyingChairs (Dosovitskiy et al., 2015):

- Textures: random cuts of the photographs shipped inside scikit-image and
  scikit-learn (:func:`mmext.photos.shipped_photos`; never the held-out
  Middlebury pair), scaled by ``2 ** U(-1, 0.5)``, flipped, and recoloured
  (channel order, per-channel gain, gamma).
- Motion: every layer (the background too) moves independently by a
  translation of heavy-tailed length ``max_displacement * U(0, 1) ** 3``
  by default (median 1/8 of the bound, 21% of the draws above half of it, as
  FlyingChairs' many small and some large displacements) in a uniform
  direction, plus a small rotation and zoom about its centre. Objects
  overlap and move differently, so they occlude one another.
- Photometry: the second frame gets a global lighting change (per-channel
  gain and offset, gamma) and both frames sensor noise; the flow and the
  valid mask are those of the geometry, unaffected.

Pairs are deterministic in ``(seed, split, index)``. The FlyingChairs
on-disk layout is written by
``write_flying_chairs_layout(..., make_pair=make_flying_photos_pair)``.
"""
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from mmext.photos import shipped_photos
from mmext.registry import DATASETS
from .synthetic import (_SPLITS, FlyingShapes, PlanarLayer, _affine,
                        _rotation, draw_shape, render_layers)

__all__ = ['make_flying_photos_pair', 'FlyingPhotos']

def _photo_texture(rng: np.random.Generator, photos: Dict[str, np.ndarray],
                   height: int, width: int) -> np.ndarray:
    """A float32 BGR ``(height, width, 3)`` cut of a random photo, scaled,
    flipped and recoloured."""
    photo = photos[sorted(photos)[rng.integers(len(photos))]]
    # Scale the cut by 2 ** U(-1, 0.5), within what the photo holds.
    scale = 2**rng.uniform(-1, 0.5)
    scale = max(scale, height / photo.shape[0], width / photo.shape[1])
    cut_h = min(photo.shape[0], int(np.ceil(height / scale)))
    cut_w = min(photo.shape[1], int(np.ceil(width / scale)))
    top = rng.integers(photo.shape[0] - cut_h + 1)
    left = rng.integers(photo.shape[1] - cut_w + 1)
    cut = photo[top:top + cut_h, left:left + cut_w]
    texture = cv2.resize(
        cut, (width, height), interpolation=cv2.INTER_AREA
        if scale < 1 else cv2.INTER_LINEAR).astype(np.float32)
    if rng.random() < 0.5:
        texture = texture[:, ::-1]
    texture = texture[..., rng.permutation(3)]
    gain = rng.uniform(0.7, 1.3, 3).astype(np.float32)
    gamma = 2**rng.uniform(-0.4, 0.4)
    texture = 255 * (np.clip(texture * gain, 0, 255) / 255)**gamma
    return np.ascontiguousarray(texture, dtype=np.float32)


def _heavy_tailed_motion(rng: np.random.Generator, center: np.ndarray,
                         max_displacement: float, tail_exponent: float,
                         max_rotation: float, max_zoom: float) -> np.ndarray:
    """Affine motion about ``center``: rotation and zoom ``2 ** U(-max_zoom,
    max_zoom)``, then a translation of length ``max_displacement *
    U(0, 1) ** tail_exponent``."""
    length = max_displacement * rng.random()**tail_exponent
    direction = rng.uniform(0, 2 * np.pi)
    shift = length * np.array([np.cos(direction), np.sin(direction)])
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    zoom = 2**rng.uniform(-max_zoom, max_zoom)
    return (_affine(np.eye(2), center + shift) @ _affine(
        zoom * _rotation(angle), (0, 0)) @ _affine(np.eye(2), -center))


def _draw_layers(rng: np.random.Generator, height: int, width: int,
                 num_objects: Sequence[int], max_displacement: float,
                 tail_exponent: float, max_rotation: float,
                 max_zoom: float) -> List[PlanarLayer]:
    """The photo background, then the objects from back to front."""
    photos = shipped_photos()
    # The background canvas covers the image over its largest shift, so its
    # photo does not mirror at the border.
    margin = int(np.ceil(max_displacement))
    place = _affine(np.eye(2), (-margin, -margin))
    motion = _heavy_tailed_motion(rng,
                                  np.array([width - 1, height - 1]) / 2,
                                  max_displacement, tail_exponent,
                                  max_rotation / 3, max_zoom / 2)
    layers = [
        PlanarLayer(
            _photo_texture(rng, photos, height + 2 * margin,
                           width + 2 * margin), None, (place, motion @ place))
    ]
    for _ in range(rng.integers(num_objects[0], num_objects[1] + 1)):
        shape, size, place, position = draw_shape(
            rng, height, width, radius_range=(0.08, 0.3), min_aspect=0.4)
        motion = _heavy_tailed_motion(rng, position, max_displacement,
                                      tail_exponent, max_rotation, max_zoom)
        layers.append(
            PlanarLayer(
                _photo_texture(rng, photos, size, size), shape,
                (place, motion @ place)))
    return layers


def _change_lighting(rng: np.random.Generator, img1: np.ndarray,
                     img2: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Relight ``img2`` (per-channel gain and offset, gamma) and add sensor
    noise to both frames."""
    frame2 = img2.astype(np.float32) * rng.uniform(0.85, 1.15, 3) + \
        rng.uniform(-12, 12, 3)
    frame2 = 255 * (np.clip(frame2, 0, 255) / 255)**(2**rng.uniform(-0.2, 0.2))
    sigma = rng.uniform(0, 3)
    frames = []
    for frame in (img1.astype(np.float32), frame2):
        frame = frame + rng.normal(0, sigma, frame.shape)
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return frames[0], frames[1]


def make_flying_photos_pair(
        index: int,
        split: str = 'train',
        seed: int = 0,
        img_size: Sequence[int] = (128, 160),
        num_objects: Sequence[int] = (2, 7),
        max_displacement: float = 64.,
        tail_exponent: float = 3.,
        max_rotation: float = 10.,
        max_zoom: float = 0.1,
        photometric: bool = True
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make FlyingPhotos pair ``index`` of ``split`` (see the module notes).

    Args:
        index (int): Pair number; with ``split`` and ``seed`` it fixes the pair.
        split (str): 'train' or 'val'. Defaults to 'train'.
        seed (int): Base seed. Defaults to 0.
        img_size (tuple[int, int]): ``(height, width)``. Defaults to (128, 160).
        num_objects (tuple[int, int]): Inclusive range of the number of
            foreground objects. Defaults to (2, 7).
        max_displacement (float): Bound of every layer's translation length
            in pixels. Defaults to 64.
        tail_exponent (float): The length is ``max_displacement * U(0, 1) **
            tail_exponent``: 3 puts half the draws below 1/8 of the bound and
            one in five above half of it, 1 is uniform. Defaults to 3.
        max_rotation (float): Bound of an object's rotation in degrees (a
            third for the background). Defaults to 10.
        max_zoom (float): Bound of an object's log2 zoom (half for the
            background). Defaults to 0.1.
        photometric (bool): Relight the second frame and add noise. The
            ground truth does not depend on it. Defaults to True.

    Returns:
        tuple: ``img1``, ``img2`` (uint8 (H, W, 3) BGR), ``flow`` (float32
        (H, W, 2), 0 where invalid) and ``valid`` (float32 (H, W)).
    """
    if split not in _SPLITS:
        raise ValueError(f'split must be one of {_SPLITS}, got {split!r}')
    # A seed sequence of its own, so FlyingPhotos and FlyingShapes pairs of
    # the same (seed, split, index) are unrelated.
    rng = np.random.default_rng([seed, _SPLITS.index(split), index, 1])
    height, width = img_size
    layers = _draw_layers(rng, height, width, num_objects, max_displacement,
                          tail_exponent, max_rotation, max_zoom)
    img1, img2, flow, valid = render_layers(layers, height, width)
    if photometric:
        img1, img2 = _change_lighting(rng, img1, img2)
    return img1, img2, flow, valid


@DATASETS.register_module()
class FlyingPhotos(FlyingShapes):
    """FlyingPhotos pairs made on the fly (see :mod:`.flying_photos`).

    Items are what ``LoadImageFromFile`` and ``LoadAnnotations`` produce, as
    for :class:`~.synthetic.FlyingShapes`; placeholder paths read
    ``'FlyingPhotos/train/00003_img1'``.

    Args:
        num_samples (int): Number of pairs. Defaults to 1000.
        split (str): 'train' or 'val'. Defaults to 'train'.
        seed (int): Base seed. Defaults to 0.
        img_size (tuple[int, int]): ``(height, width)``. Defaults to (128, 160).
        pipeline (list): Transforms. Defaults to ().
        shape_cfg (dict, optional): Other :func:`make_flying_photos_pair`
            arguments (``num_objects``, ``max_displacement``,
            ``tail_exponent``, ``max_rotation``, ``max_zoom``,
            ``photometric``). Defaults to None.
        **kwargs: Other :class:`~.base.InMemoryFlowDataset` arguments.
    """

    generate = staticmethod(make_flying_photos_pair)

    def __init__(self,
                 num_samples: int = 1000,
                 split: str = 'train',
                 seed: int = 0,
                 img_size: Sequence[int] = (128, 160),
                 **kwargs) -> None:
        super().__init__(
            num_samples=num_samples,
            split=split,
            seed=seed,
            img_size=img_size,
            **kwargs)
