"""FlyingShapes: procedural image pairs with exact optical flow, no download.

A pair is a stack of planar layers: a textured background and 2-6 textured
shapes (ellipses, rectangles, stars) drawn over it in order. Each layer's texture
lives in its own canvas; an affine map places the canvas in the image at time 0
and another at time 1 (the layer's motion, background included). Rendering a
frame looks up, for every pixel, the topmost layer whose shape contains the
pixel's canvas coordinates and samples that layer's texture there (bilinear).

Ground truth, exact by construction:

- Flow: a pixel ``p`` of img1 belongs to its topmost layer ``L``; the surface
  point there moves to ``p1 = A1_L A0_L^-1 p``, so the flow is ``p1 - p``,
  computed in closed form (float64, stored as float32).
- Valid mask: ``p`` is valid iff (1) ``p1`` lies in img2's pixel-centre domain
  ``[0, W-1] x [0, H-1]`` and (2) the topmost layer at ``p1`` in frame 1, tested
  analytically at that sub-pixel point, is ``L`` (the point is still visible).
  Pixels whose surface leaves the frame or becomes hidden behind another shape
  are invalid, with flow 0 (as every loader of mmext stores invalid flow).
  Disoccluded regions of img2 have no img1 pixel and so need no label.

Because the images are the textures resampled at exact positions, warping img2
by the flow reproduces img1 on valid pixels up to interpolation and rounding.

Pairs are deterministic in ``(seed, split, index)``; the split enters the seed,
so 'train' and 'val' never share a pair. :func:`write_flying_chairs_layout`
writes pairs in FlyingChairs' on-disk layout, so that the real FlyingChairs
reader can be exercised on them (``tools/dataset_converters/make_flying_shapes.py``
is its command line).
"""
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmext.registry import DATASETS
from .base import InMemoryFlowDataset
from .flow_io import UNKNOWN_FLOW, write_flow

__all__ = [
    'make_flying_shapes_pair', 'write_flying_chairs_layout', 'FlyingShapes'
]

_SPLITS = ('train', 'val')
_SHAPE_KINDS = ('ellipse', 'rectangle', 'star')
# Background canvas margin (px): covers the background's default motion, so
# its texture is sampled inside the canvas (beyond, it is mirrored: still exact).
_MARGIN = 24


def _affine(linear: np.ndarray, offset: Sequence[float]) -> np.ndarray:
    """3x3 homogeneous matrix of ``x -> linear @ x + offset``."""
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = offset
    return matrix


def _invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 homogeneous affine matrix (closed form: cheaper than
    a general inverse for the many small matrices made per pair)."""
    linear = matrix[:2, :2]
    inverse = np.array([[linear[1, 1], -linear[0, 1]],
                        [-linear[1, 0], linear[0, 0]]]) / np.linalg.det(linear)
    return _affine(inverse, -inverse @ matrix[:2, 2])


def _rotation(angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, -sin], [sin, cos]])


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float32 colour texture: a base colour plus smooth noise octaves.

    Features are a few pixels wide at the finest octave, so the images carry
    detail for matching while bilinear resampling stays accurate.
    """
    texture = np.broadcast_to(
        rng.uniform(50, 205, 3).astype(np.float32), (height, width, 3)).copy()
    for cell, amplitude in ((16, 40.), (8, 25.), (4, 10.)):
        noise = rng.normal(0, amplitude, (height // cell + 2, width // cell + 2,
                                          3)).astype(np.float32)
        texture += cv2.resize(
            noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(texture, 0, 255)


class PlanarLayer:
    """One planar layer: texture, shape (None for the background) and the
    canvas-to-image maps at times 0 and 1.

    Args:
        texture (np.ndarray): float32 (h, w, C) canvas.
        shape (tuple, optional): ``(kind, params)`` of the shape cut out of
            the canvas around its centre; None covers everything.
        maps (tuple[np.ndarray, np.ndarray]): 3x3 canvas-to-image affine
            matrices at times 0 and 1.
    """

    def __init__(self, texture: np.ndarray, shape: tuple,
                 maps: Tuple[np.ndarray, np.ndarray]) -> None:
        self.texture = texture
        self.shape = shape
        self.maps = maps
        self.inverse_maps = tuple(_invert_affine(m) for m in maps)
        self.center = (np.array(texture.shape[1::-1]) - 1) / 2

    def canvas_coords(self, time: int, x: np.ndarray,
                      y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Canvas coordinates of image points ``(x, y)`` at ``time``."""
        inv = self.inverse_maps[time]
        return (inv[0, 0] * x + inv[0, 1] * y + inv[0, 2],
                inv[1, 0] * x + inv[1, 1] * y + inv[1, 2])

    def contains(self, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        """Whether canvas points ``(cx, cy)`` are inside the layer's shape."""
        if self.shape is None:
            return np.ones(cx.shape, bool)
        u, v = cx - self.center[0], cy - self.center[1]
        kind, params = self.shape
        if kind == 'rectangle':
            return (np.abs(u) <= params[0]) & (np.abs(v) <= params[1])
        # Every shape fits in the square |u|, |v| <= params[0]: test only the
        # points inside it precisely (the star's test is the costly one).
        inside = (np.abs(u) <= params[0]) & (np.abs(v) <= params[0])
        u, v = u[inside], v[inside]
        if kind == 'ellipse':
            precise = (u / params[0])**2 + (v / params[1])**2 <= 1
        else:
            radius, lobes, phase = params
            precise = np.hypot(u, v) <= radius * (
                0.75 + 0.25 * np.cos(lobes * np.arctan2(v, u) + phase))
        inside[inside] = precise
        return inside


def _draw_motion(rng: np.random.Generator, center: np.ndarray,
                 max_translation: float, max_rotation: float,
                 max_zoom: float) -> np.ndarray:
    """A random affine motion about ``center``: rotation, anisotropic zoom
    ``2 ** U(-max_zoom, max_zoom)`` per axis, then translation."""
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    zoom = np.diag(2**rng.uniform(-max_zoom, max_zoom, 2))
    shift = rng.uniform(-max_translation, max_translation, 2)
    return (_affine(np.eye(2), center + shift) @ _affine(
        _rotation(angle) @ zoom, (0, 0)) @ _affine(np.eye(2), -center))


def _draw_layers(rng: np.random.Generator, height: int, width: int,
                 num_shapes: Sequence[int], max_translation: float,
                 max_rotation: float, max_zoom: float) -> List[PlanarLayer]:
    """Background first, then the shapes from back to front."""
    image_center = np.array([width - 1, height - 1]) / 2
    place = _affine(np.eye(2), (-_MARGIN, -_MARGIN))
    motion = _draw_motion(rng, image_center, max_translation / 2,
                          max_rotation / 3, max_zoom / 2)
    layers = [
        PlanarLayer(
            _texture(rng, height + 2 * _MARGIN, width + 2 * _MARGIN), None,
            (place, motion @ place))
    ]
    for _ in range(rng.integers(num_shapes[0], num_shapes[1] + 1)):
        shape, size, place, position = draw_shape(rng, height, width)
        motion = _draw_motion(rng, position, max_translation, max_rotation,
                              max_zoom)
        layers.append(
            PlanarLayer(
                _texture(rng, size, size), shape, (place, motion @ place)))
    return layers


def draw_shape(rng: np.random.Generator,
               height: int,
               width: int,
               radius_range: Sequence[float] = (0.1, 0.3),
               min_aspect: float = 0.5) -> tuple:
    """A random shape and where its canvas lies in the image at time 0.

    Args:
        rng (np.random.Generator): The pair's generator.
        height (int): Image height.
        width (int): Image width.
        radius_range (tuple[float, float]): Range of the radius as a
            fraction of the image's shorter side. Defaults to (0.1, 0.3).
        min_aspect (float): Smallest minor / major axis ratio of ellipses
            and rectangles. Defaults to 0.5.

    Returns:
        tuple: ``shape`` (``(kind, params)`` of :class:`PlanarLayer`), the
        side of its square canvas, the canvas-to-image map at time 0 and
        the shape's centre in the image.
    """
    radius = rng.uniform(*radius_range) * min(height, width)
    kind = _SHAPE_KINDS[rng.integers(len(_SHAPE_KINDS))]
    if kind == 'star':
        params = (radius, int(rng.integers(3, 7)), rng.uniform(0, 2 * np.pi))
    else:
        params = (radius, radius * rng.uniform(min_aspect, 1))
    size = 2 * int(np.ceil(radius)) + 3
    canvas_center = np.full(2, (size - 1) / 2)
    # Centres may lie slightly outside the image: shapes enter and leave.
    position = rng.uniform(-0.1, 1.1, 2) * (width, height)
    place = _affine(np.eye(2), position) @ _affine(
        _rotation(rng.uniform(0, 2 * np.pi)), (0, 0)) @ _affine(
            np.eye(2), -canvas_center)
    return (kind, params), size, place, position


def _topmost(layers: List[PlanarLayer], time: int, x: np.ndarray,
             y: np.ndarray) -> np.ndarray:
    """Index of the topmost layer covering image points ``(x, y)`` at
    ``time`` (the background covers everything)."""
    owner = np.zeros(x.shape, np.int64)
    for index, layer in enumerate(layers[1:], start=1):
        owner[layer.contains(*layer.canvas_coords(time, x, y))] = index
    return owner


def _render(layers: List[PlanarLayer], time: int, x: np.ndarray,
            y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The uint8 frame at ``time`` and its per-pixel layer index."""
    owner = _topmost(layers, time, x, y)
    image = np.zeros(x.shape + (3, ), np.float32)
    for index, layer in enumerate(layers):
        mask = owner == index
        if not mask.any():
            continue
        # Sample only the pixels the layer owns, as an (N, 1) map.
        cx, cy = layer.canvas_coords(time, x[mask], y[mask])
        image[mask] = cv2.remap(
            layer.texture,
            cx.astype(np.float32)[:, None],
            cy.astype(np.float32)[:, None],
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101)[:, 0]
    return np.clip(np.round(image), 0, 255).astype(np.uint8), owner


def make_flying_shapes_pair(
        index: int,
        split: str = 'train',
        seed: int = 0,
        img_size: Sequence[int] = (96, 128),
        num_shapes: Sequence[int] = (2, 6),
        max_translation: float = 8.,
        max_rotation: float = 10.,
        max_zoom: float = 0.1
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make FlyingShapes pair ``index`` of ``split`` (see the module notes).

    Args:
        index (int): Pair number; with ``split`` and ``seed`` it fixes the pair.
        split (str): 'train' or 'val'. Defaults to 'train'.
        seed (int): Base seed. Defaults to 0.
        img_size (tuple[int, int]): ``(height, width)``. Defaults to (96, 128).
        num_shapes (tuple[int, int]): Inclusive range of the number of shapes.
            Defaults to (2, 6).
        max_translation (float): Bound of a shape's shift per axis in pixels
            (half of it for the background). Defaults to 8.
        max_rotation (float): Bound of a shape's rotation in degrees (a third
            for the background). Defaults to 10.
        max_zoom (float): Bound of a shape's per-axis log2 zoom (half for the
            background). Defaults to 0.1.

    Returns:
        tuple: ``img1``, ``img2`` (uint8 (H, W, 3), BGR by convention), ``flow``
        (float32 (H, W, 2), 0 where invalid) and ``valid`` (float32 (H, W)).
    """
    if split not in _SPLITS:
        raise ValueError(f'split must be one of {_SPLITS}, got {split!r}')
    rng = np.random.default_rng([seed, _SPLITS.index(split), index])
    height, width = img_size
    layers = _draw_layers(rng, height, width, num_shapes, max_translation,
                          max_rotation, max_zoom)
    return render_layers(layers, height, width)


def render_layers(
    layers: List[PlanarLayer], height: int, width: int
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Render both frames of a layer stack with its exact flow and valid
    mask (see the module notes); the layers come back to front.

    Returns:
        tuple: ``img1``, ``img2`` (uint8 (H, W, C)), ``flow`` (float32
        (H, W, 2), 0 where invalid) and ``valid`` (float32 (H, W)).
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img1, owner = _render(layers, 0, x, y)
    img2, _ = _render(layers, 1, x, y)

    x1, y1 = np.empty_like(x), np.empty_like(y)
    for layer_index, layer in enumerate(layers):
        mask = owner == layer_index
        move = layer.maps[1] @ layer.inverse_maps[0]
        x1[mask] = move[0, 0] * x[mask] + move[0, 1] * y[mask] + move[0, 2]
        y1[mask] = move[1, 0] * x[mask] + move[1, 1] * y[mask] + move[1, 2]
    inside = (x1 >= 0) & (x1 <= width - 1) & (y1 >= 0) & (y1 <= height - 1)
    valid = inside & (_topmost(layers, 1, x1, y1) == owner)
    flow = np.stack([x1 - x, y1 - y], axis=-1).astype(np.float32)
    flow[~valid] = 0
    return img1, img2, flow, valid.astype(np.float32)


def write_flying_chairs_layout(out_dir: str,
                               num_train: int,
                               num_val: int,
                               seed: int = 0,
                               make_pair: Callable = make_flying_shapes_pair,
                               **kwargs) -> None:
    """Write procedural pairs (FlyingShapes by default) in FlyingChairs'
    on-disk layout.

    Writes ``out_dir/data/%05d_img1.ppm``, ``_img2.ppm`` and ``_flow.flo``
    (numbered from 1: the training pairs 0..num_train-1, then the validation
    pairs) and ``out_dir/FlyingChairs_train_val.txt`` (1 train, 2 val). Invalid
    flow is written as Middlebury's unknown flow (:data:`~.flow_io.UNKNOWN_FLOW`),
    which the readers turn back into the same valid mask.

    Args:
        out_dir (str): Output root (``data_root`` of :class:`FlyingChairs`).
        num_train (int): Number of training pairs.
        num_val (int): Number of validation pairs.
        seed (int): Base seed. Defaults to 0.
        make_pair (callable): The generator, called as
            ``make_pair(index, split=..., seed=..., **kwargs)``; e.g.
            :func:`~.flying_photos.make_flying_photos_pair`. Defaults to
            :func:`make_flying_shapes_pair`.
        **kwargs: Other arguments of ``make_pair``.
    """
    jobs = [('train', i) for i in range(num_train)]
    jobs += [('val', i) for i in range(num_val)]
    for number, (split, index) in enumerate(jobs, start=1):
        img1, img2, flow, valid = make_pair(
            index, split=split, seed=seed, **kwargs)
        flow[valid == 0] = UNKNOWN_FLOW
        stem = osp.join(out_dir, 'data', f'{number:05d}')
        write_flow(stem + '_flow.flo', flow)
        for suffix, img in (('_img1.ppm', img1), ('_img2.ppm', img2)):
            if not cv2.imwrite(stem + suffix, img):
                raise OSError(f'cannot write {stem + suffix}')
    with open(osp.join(out_dir, 'FlyingChairs_train_val.txt'), 'w') as f:
        f.writelines('1\n' if split == 'train' else '2\n' for split, _ in jobs)


@DATASETS.register_module()
class FlyingShapes(InMemoryFlowDataset):
    """FlyingShapes pairs made on the fly (see :mod:`.synthetic`).

    Items carry what ``LoadImageFromFile`` and ``LoadAnnotations`` produce, so a
    pipeline starts with the augmentations (or ``PackFlowInputs``).
    ``img1_path`` / ``img2_path`` / ``flow_fw_path`` are placeholders such as
    ``'FlyingShapes/train/00003_img1'``.

    Args:
        num_samples (int): Number of pairs. Defaults to 1000.
        split (str): 'train' or 'val'. Defaults to 'train'.
        seed (int): Base seed. Defaults to 0.
        img_size (tuple[int, int]): ``(height, width)``. Defaults to (96, 128).
        pipeline (list): Transforms. Defaults to ().
        shape_cfg (dict, optional): Other :func:`make_flying_shapes_pair`
            arguments (``num_shapes``, ``max_translation``, ``max_rotation``,
            ``max_zoom``). Defaults to None.
        **kwargs: Other :class:`~.base.InMemoryFlowDataset` arguments.
    """

    def __init__(self,
                 num_samples: int = 1000,
                 split: str = 'train',
                 seed: int = 0,
                 img_size: Sequence[int] = (96, 128),
                 pipeline: Sequence = (),
                 shape_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if split not in _SPLITS:
            raise ValueError(f'split must be one of {_SPLITS}, got {split!r}')
        self.num_samples = num_samples
        self.split = split
        self.seed = seed
        self.img_size = tuple(img_size)
        self.shape_cfg = dict(shape_cfg or {})
        super().__init__(pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        """One entry per pair: its generation index and placeholder paths."""
        data_list = []
        for index in range(self.num_samples):
            stem = f'{type(self).__name__}/{self.split}/{index:05d}'
            data_list.append(
                dict(
                    img1_path=stem + '_img1',
                    img2_path=stem + '_img2',
                    flow_fw_path=stem + '_flow',
                    pair_index=index))
        return data_list

    #: The pair generator; subclasses name theirs (FlyingPhotos).
    generate = staticmethod(make_flying_shapes_pair)

    def make_pair(self, data_info: dict) -> tuple:
        """Render the pair of ``data_info['pair_index']``."""
        return self.generate(
            data_info['pair_index'],
            split=self.split,
            seed=self.seed,
            img_size=self.img_size,
            **self.shape_cfg)
