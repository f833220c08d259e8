"""Transforms of mmext's optical-flow data pipeline.

Names and arguments follow mmflow (so that mmflow pipelines read the same); the
augmentation is RAFT's (Teed & Deng, 2020). The keys a pipeline passes along:

==================  ==========================================  ===================
key                 value                                       set by
==================  ==========================================  ===================
img1_path           first image file                            dataset
img2_path           second image file                           dataset
flow_fw_path        forward-flow file                           dataset
sparse              whether the ground truth is sparse (KITTI)  dataset/annotations
img1, img2          uint8 BGR images (H, W, 3)                  LoadImageFromFile
ori_shape           (H, W) as loaded                            LoadImageFromFile
img_shape           (H, W) now                                  every geometric op
gt_flow_fw          float32 (H, W, 2) flow (u, v), 0 if invalid LoadAnnotations
gt_valid_fw         float32 (H, W) mask of 0/1                  LoadAnnotations
==================  ==========================================  ===================

Random draws use numpy's global generator, which mmengine seeds per worker.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmext.registry import TRANSFORMS
from ..structures import FlowDataSample
from .flow_io import load_flow_gt, sanitize_flow

__all__ = [
    'set_image_pair', 'set_flow_gt', 'LoadImageFromFile', 'LoadAnnotations',
    'RandomCrop', 'RandomFlip', 'ColorJitter', 'Erase', 'SpacialTransform',
    'PackFlowInputs'
]

_IMG_KEYS = ('img1', 'img2')
_FLOW_KEY = 'gt_flow_fw'
_VALID_KEY = 'gt_valid_fw'


def set_image_pair(results: dict, img1: np.ndarray, img2: np.ndarray) -> None:
    """Store a loaded image pair in ``results`` as ``LoadImageFromFile`` does.

    Sets ``img1``, ``img2``, ``img_shape`` and ``ori_shape`` (both ``(H, W)``).

    Args:
        results (dict): The pipeline's result dict; ``img1_path`` and
            ``img2_path`` name the images in error messages.
        img1 (np.ndarray): First image (H, W, C).
        img2 (np.ndarray): Second image, of the same height and width.

    Raises:
        ValueError: the images differ in height or width.
    """
    if img1.shape[:2] != img2.shape[:2]:
        raise ValueError(
            'the two images of a pair differ in size: '
            f"{results.get('img1_path')} is {img1.shape[0]}x{img1.shape[1]}, "
            f"{results.get('img2_path')} is {img2.shape[0]}x{img2.shape[1]}")
    results['img1'] = img1
    results['img2'] = img2
    results['img_shape'] = img1.shape[:2]
    results['ori_shape'] = img1.shape[:2]


def set_flow_gt(results: dict, flow: np.ndarray, valid: Optional[np.ndarray],
                sparse: bool) -> None:
    """Store ground truth in ``results`` as ``LoadAnnotations`` does.

    The flow goes through :func:`~.flow_io.sanitize_flow` (non-finite or unknown
    flow becomes invalid with zero flow) and sets ``gt_flow_fw``,
    ``gt_valid_fw`` and ``sparse``.

    Args:
        results (dict): The pipeline's result dict.
        flow (np.ndarray): Flow (H, W, 2).
        valid (np.ndarray, optional): Mask (H, W), nonzero where valid.
        sparse (bool): Whether the ground truth is sparse; this selects the
            sparse resampling in :class:`SpacialTransform`.

    Raises:
        ValueError: the flow's size differs from the images' already loaded.
    """
    flow, valid = sanitize_flow(flow, valid)
    img_shape = results.get('img_shape')
    if img_shape is not None and tuple(img_shape[:2]) != flow.shape[:2]:
        raise ValueError(
            f"ground truth {results.get('flow_fw_path')} is "
            f'{flow.shape[0]}x{flow.shape[1]} but the images '
            f"{results.get('img1_path')} are {img_shape[0]}x{img_shape[1]}")
    results[_FLOW_KEY] = flow
    results[_VALID_KEY] = valid
    results['sparse'] = sparse


def _map_keys(results: dict) -> list:
    """Keys of the per-pixel maps present (images, flow, valid mask)."""
    keys = _IMG_KEYS + (_FLOW_KEY, _VALID_KEY)
    return [k for k in keys if results.get(k) is not None]


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load the two images of a pair.

    Required keys: ``img1_path``, ``img2_path``. Added keys: ``img1``, ``img2``
    (BGR, uint8 unless ``to_float32``), ``img_shape``, ``ori_shape``.

    Args:
        to_float32 (bool): Convert the images to float32. Defaults to False.
        color_type (str): ``flag`` of :func:`mmcv.imread`. Defaults to 'color'.
        imdecode_backend (str): Decoding backend of :func:`mmcv.imread`.
            Defaults to 'cv2'.
        backend_args (dict, optional): File backend arguments of
            :func:`mmcv.imread` (e.g. for remote storage). Defaults to None.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def _read(self, path: str) -> np.ndarray:
        img = mmcv.imread(
            path,
            flag=self.color_type,
            backend=self.imdecode_backend,
            backend_args=self.backend_args)
        if img is None:
            raise ValueError(f'{path} cannot be decoded as an image')
        return img.astype(np.float32) if self.to_float32 else img

    def transform(self, results: dict) -> dict:
        """Load ``img1`` and ``img2``; raise ValueError if their sizes differ."""
        set_image_pair(results, self._read(results['img1_path']),
                       self._read(results['img2_path']))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}')")


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Load the forward-flow ground truth of a pair.

    The file format follows the suffix of ``flow_fw_path`` (``.flo``, ``.pfm``
    or KITTI ``.png``, see :func:`~.flow_io.load_flow_gt`). Added keys:
    ``gt_flow_fw`` (float32 (H, W, 2), 0 where invalid), ``gt_valid_fw``
    (float32 (H, W): the KITTI mask where the format has one, and 0 wherever the
    flow is non-finite or marked unknown) and ``sparse``.

    Args:
        sparse (bool, optional): Whether the ground truth is sparse, as
            mmflow's KITTI configs state (``sparse=True``). None takes the
            dataset's ``sparse`` entry. Defaults to None.
    """

    def __init__(self, sparse: Optional[bool] = None) -> None:
        self.sparse = sparse

    def transform(self, results: dict) -> dict:
        """Load ``gt_flow_fw`` and ``gt_valid_fw`` from ``flow_fw_path``."""
        flow, valid = load_flow_gt(results['flow_fw_path'])
        sparse = results.get('sparse', False) if self.sparse is None \
            else self.sparse
        set_flow_gt(results, flow, valid, sparse)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(sparse={self.sparse})'


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Crop images and ground truth at one random position.

    A side shorter than the crop is kept whole (as mmflow does).

    Args:
        crop_size (tuple[int, int]): ``(height, width)`` of the crop.
    """

    def __init__(self, crop_size: Sequence[int]) -> None:
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be (height, width) > 0, got '
                             f'{crop_size}')
        self.crop_size = tuple(crop_size)

    def transform(self, results: dict) -> dict:
        """Crop every image and ground-truth map; update ``img_shape``."""
        height, width = results['img1'].shape[:2]
        crop_h, crop_w = self.crop_size
        y0 = np.random.randint(0, max(height - crop_h, 0) + 1)
        x0 = np.random.randint(0, max(width - crop_w, 0) + 1)
        for key in _map_keys(results):
            results[key] = results[key][y0:y0 + crop_h, x0:x0 + crop_w]
        results['img_shape'] = results['img1'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip images and ground truth; the flow component along the flip axis
    changes sign (u for horizontal, v for vertical flips).

    Args:
        prob (float): Probability of flipping.
        direction (str): 'horizontal' or 'vertical'. Defaults to 'horizontal'.
    """

    def __init__(self, prob: float, direction: str = 'horizontal') -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError("direction must be 'horizontal' or 'vertical', "
                             f'got {direction!r}')
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        """Flip with probability ``prob``."""
        if np.random.rand() < self.prob:
            horizontal = self.direction == 'horizontal'
            for key in _map_keys(results):
                results[key] = np.flip(results[key], axis=1 if horizontal else 0)
            if results.get(_FLOW_KEY) is not None:
                sign = np.array([-1, 1] if horizontal else [1, -1], np.float32)
                results[_FLOW_KEY] = results[_FLOW_KEY] * sign
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f"direction='{self.direction}')")


def _shift_hue(img: np.ndarray, factor: float) -> np.ndarray:
    """Rotate the hue of a uint8 BGR image by ``factor`` turns (-0.5..0.5)."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    # HSV_FULL spans the hue circle with 256 steps.
    shift = int(round(factor * 256))
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 256).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL)


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Photometric jitter of both images, as torchvision's ColorJitter in RAFT.

    Brightness, contrast, saturation and hue are changed in a random order with
    factors drawn uniformly from their ranges. With probability
    ``asymmetric_prob`` each image gets its own draw; otherwise both get the same
    draw, applied (as RAFT does) to the two images stacked into one, so that the
    contrast's mean grey level is shared. Images must be uint8.

    Args:
        asymmetric_prob (float): Probability of jittering the images
            independently. Defaults to 0.
        brightness (float | tuple): Factor range ``[max(0, 1 - b), 1 + b]``
            or an explicit ``(min, max)``. Defaults to 0 (off).
        contrast (float | tuple): As ``brightness``. Defaults to 0.
        saturation (float | tuple): As ``brightness``. Defaults to 0.
        hue (float | tuple): Hue shift range ``[-h, h]`` in turns, within
            [-0.5, 0.5], or an explicit ``(min, max)``. Defaults to 0.
    """

    def __init__(self,
                 asymmetric_prob: float = 0.,
                 brightness: Union[float, Sequence[float]] = 0.,
                 contrast: Union[float, Sequence[float]] = 0.,
                 saturation: Union[float, Sequence[float]] = 0.,
                 hue: Union[float, Sequence[float]] = 0.) -> None:
        if not 0 <= asymmetric_prob <= 1:
            raise ValueError('asymmetric_prob must be in [0, 1], got '
                             f'{asymmetric_prob}')
        self.asymmetric_prob = asymmetric_prob
        self.brightness = self._range(brightness, 'brightness', 1.,
                                      (0., float('inf')))
        self.contrast = self._range(contrast, 'contrast', 1.,
                                    (0., float('inf')))
        self.saturation = self._range(saturation, 'saturation', 1.,
                                      (0., float('inf')))
        self.hue = self._range(hue, 'hue', 0., (-0.5, 0.5))

    @staticmethod
    def _range(value, name: str, center: float,
               bound: Tuple[float, float]) -> Optional[Tuple[float, float]]:
        """torchvision's parsing; None where the op is the identity."""
        if isinstance(value, (int, float)):
            if value < 0:
                raise ValueError(f'{name} must be non-negative, got {value}')
            # A factor cannot go below the bound (0 for brightness & co).
            value = (max(center - value, bound[0]), center + value)
        elif not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise TypeError(f'{name} must be a number or a (min, max) pair, '
                            f'got {value!r}')
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f'{name} range {value} must lie within {bound}')
        return None if value[0] == value[1] == center else tuple(value)

    def _jitter(self, img: np.ndarray) -> np.ndarray:
        img = np.ascontiguousarray(img)  # OpenCV rejects flipped views
        ops = (
            (self.brightness, mmcv.adjust_brightness),
            (self.contrast, mmcv.adjust_contrast),
            (self.saturation, mmcv.adjust_color),
            (self.hue, _shift_hue),
        )
        for index in np.random.permutation(len(ops)):
            factor_range, op = ops[index]
            if factor_range is not None:
                img = op(img, np.random.uniform(*factor_range))
        return img

    def transform(self, results: dict) -> dict:
        """Jitter ``img1`` and ``img2``."""
        img1, img2 = results['img1'], results['img2']
        if img1.dtype != np.uint8 or img2.dtype != np.uint8:
            raise TypeError('ColorJitter needs uint8 images, got '
                            f'{img1.dtype} and {img2.dtype}')
        if np.random.rand() < self.asymmetric_prob:
            results['img1'] = self._jitter(img1)
            results['img2'] = self._jitter(img2)
        else:
            stacked = self._jitter(np.concatenate([img1, img2], axis=0))
            results['img1'], results['img2'] = np.split(
                stacked, [img1.shape[0]], axis=0)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(asymmetric_prob='
                f'{self.asymmetric_prob}, brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, '
                f'hue={self.hue})')


@TRANSFORMS.register_module()
class Erase(BaseTransform):
    """RAFT's occlusion augmentation: paint rectangles of ``img2`` with its mean
    colour, so that some of ``img1`` has no match.

    Args:
        prob (float): Probability of erasing.
        bounds (tuple[int, int]): Rectangle sides are drawn from
            ``[bounds[0], bounds[1])`` pixels. Defaults to (50, 100).
        max_num (int): The number of rectangles is drawn from
            ``[1, max_num)``, as in mmflow (RAFT's 1 or 2 for the default 3).
    """

    def __init__(self,
                 prob: float,
                 bounds: Sequence[int] = (50, 100),
                 max_num: int = 3) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if max_num < 2:
            raise ValueError(f'max_num must be >= 2, got {max_num}')
        self.prob = prob
        self.bounds = tuple(bounds)
        self.max_num = max_num

    def transform(self, results: dict) -> dict:
        """Erase rectangles of ``img2`` with probability ``prob``."""
        if np.random.rand() < self.prob:
            img2 = results['img2'].copy()
            height, width = img2.shape[:2]
            mean_color = img2.reshape(-1, img2.shape[2]).mean(axis=0)
            for _ in range(np.random.randint(1, self.max_num)):
                x0 = np.random.randint(0, width)
                y0 = np.random.randint(0, height)
                dx = np.random.randint(*self.bounds)
                dy = np.random.randint(*self.bounds)
                img2[y0:y0 + dy, x0:x0 + dx] = mean_color
            results['img2'] = img2
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'bounds={self.bounds}, max_num={self.max_num})')


def _scatter_sparse_flow(flow: np.ndarray, valid: np.ndarray, fx: float,
                         fy: float, height: int,
                         width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Resize sparse flow by moving each valid vector to its scaled position.

    Interpolating sparse flow would blend in the zeros of invalid pixels, so
    (as RAFT does) each valid vector is scaled and written at the nearest pixel
    of the resized grid; other pixels become invalid. Positions map like
    cv2.resize's pixel centres, ``x' = (x + 0.5) * fx - 0.5`` (RAFT uses
    ``x * fx`` and also drops row and column 0).
    """
    ys, xs = np.nonzero(valid)
    new_x = np.round((xs + 0.5) * fx - 0.5).astype(np.int64)
    new_y = np.round((ys + 0.5) * fy - 0.5).astype(np.int64)
    inside = (new_x >= 0) & (new_x < width) & (new_y >= 0) & (new_y < height)
    new_flow = np.zeros((height, width, 2), np.float32)
    new_valid = np.zeros((height, width), np.float32)
    new_flow[new_y[inside], new_x[inside]] = \
        flow[ys[inside], xs[inside]] * np.array([fx, fy], np.float32)
    new_valid[new_y[inside], new_x[inside]] = 1
    return new_flow, new_valid


@TRANSFORMS.register_module()
class SpacialTransform(BaseTransform):
    """RAFT's spatial augmentation: random scaling with stretch, then a crop.

    With probability ``spacial_prob`` the pair is resized by
    ``2 ** U(min_scale, max_scale)``, each axis further stretched by
    ``2 ** U(-max_stretch, max_stretch)`` with probability ``stretch_prob``, never
    below the size that leaves ``crop_size + 8`` pixels, and then cropped to
    ``crop_size`` at a random position. The flow is scaled by the factors the
    resize really applied. Dense flow is resized bilinearly and a pixel stays
    valid only where every pixel it interpolates is valid (mask >= 0.999);
    sparse flow (``results['sparse']``) is scattered, see
    :func:`_scatter_sparse_flow`. Otherwise the data pass unchanged (a following
    :class:`RandomCrop` crops them).

    Args:
        spacial_prob (float): Probability of the transform.
        stretch_prob (float): Probability of stretching.
        crop_size (tuple[int, int]): ``(height, width)`` of the output.
        min_scale (float): Lower exponent of the scale. Defaults to -0.2.
        max_scale (float): Upper exponent of the scale. Defaults to 0.5.
        max_stretch (float): Exponent bound of the stretch. Defaults to 0.2.
    """

    def __init__(self,
                 spacial_prob: float,
                 stretch_prob: float,
                 crop_size: Sequence[int],
                 min_scale: float = -0.2,
                 max_scale: float = 0.5,
                 max_stretch: float = 0.2) -> None:
        if not (0 <= spacial_prob <= 1 and 0 <= stretch_prob <= 1):
            raise ValueError('spacial_prob and stretch_prob must be in [0, 1]')
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be (height, width) > 0, got '
                             f'{crop_size}')
        self.spacial_prob = spacial_prob
        self.stretch_prob = stretch_prob
        self.crop_size = tuple(crop_size)
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.max_stretch = max_stretch

    def _draw_size(self, height: int, width: int) -> Tuple[int, int]:
        floor = max((self.crop_size[0] + 8) / height,
                    (self.crop_size[1] + 8) / width)
        scale_x = scale_y = 2**np.random.uniform(self.min_scale, self.max_scale)
        if np.random.rand() < self.stretch_prob:
            scale_x *= 2**np.random.uniform(-self.max_stretch, self.max_stretch)
            scale_y *= 2**np.random.uniform(-self.max_stretch, self.max_stretch)
        scale_x, scale_y = max(scale_x, floor), max(scale_y, floor)
        return int(height * scale_y + 0.5), int(width * scale_x + 0.5)

    def transform(self, results: dict) -> dict:
        """Scale and crop with probability ``spacial_prob``."""
        if np.random.rand() >= self.spacial_prob:
            return results
        height, width = results['img1'].shape[:2]
        new_h, new_w = self._draw_size(height, width)
        fx, fy = new_w / width, new_h / height

        def resize(array: np.ndarray) -> np.ndarray:
            # OpenCV rejects the negative strides of flipped views.
            return cv2.resize(
                np.ascontiguousarray(array), (new_w, new_h),
                interpolation=cv2.INTER_LINEAR)

        for key in _IMG_KEYS:
            results[key] = resize(results[key])
        flow, valid = results.get(_FLOW_KEY), results.get(_VALID_KEY)
        if flow is not None:
            if results.get('sparse', False):
                flow, valid = _scatter_sparse_flow(flow, valid, fx, fy, new_h,
                                                   new_w)
            else:
                flow = resize(flow) * np.array([fx, fy], np.float32)
                valid = resize(valid) >= 0.999
                flow[~valid] = 0
                valid = valid.astype(np.float32)
            results[_FLOW_KEY], results[_VALID_KEY] = flow, valid
        crop_h, crop_w = self.crop_size
        y0 = np.random.randint(0, new_h - crop_h + 1)
        x0 = np.random.randint(0, new_w - crop_w + 1)
        for key in _map_keys(results):
            results[key] = results[key][y0:y0 + crop_h, x0:x0 + crop_w]
        results['img_shape'] = results['img1'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(spacial_prob={self.spacial_prob}, '
                f'stretch_prob={self.stretch_prob}, crop_size={self.crop_size}, '
                f'min_scale={self.min_scale}, max_scale={self.max_scale}, '
                f'max_stretch={self.max_stretch})')


@TRANSFORMS.register_module()
class PackFlowInputs(BaseTransform):
    """Pack a pair for the model: ``dict(inputs, data_samples)``.

    ``inputs`` is a tensor (2C, H, W), the channels of ``img1`` (BGR) followed
    by those of ``img2``, in the images' dtype (uint8 unless converted).
    ``data_samples`` is a :class:`~mmext.flow.FlowDataSample` with
    ``gt_flow_fw`` (float32 (2, H, W)) and ``gt_valid_fw`` (float32 (1, H, W))
    where present, and the ``meta_keys`` found in the results as metainfo.

    Args:
        meta_keys (tuple[str]): Keys copied into the metainfo. Defaults to
            ``('img1_path', 'img2_path', 'ori_shape', 'img_shape')``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img1_path', 'img2_path',
                                             'ori_shape', 'img_shape')
                 ) -> None:
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _to_chw(array: np.ndarray) -> torch.Tensor:
        if array.ndim == 2:
            array = array[..., None]
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))

    def transform(self, results: dict) -> dict:
        """Pack images, ground truth and metainfo."""
        inputs = torch.cat([self._to_chw(results[k]) for k in _IMG_KEYS])
        data_sample = FlowDataSample(
            metainfo={k: results[k]
                      for k in self.meta_keys if k in results})
        if results.get(_FLOW_KEY) is not None:
            data_sample.gt_flow_fw = self._to_chw(
                results[_FLOW_KEY].astype(np.float32))
        if results.get(_VALID_KEY) is not None:
            data_sample.gt_valid_fw = self._to_chw(
                results[_VALID_KEY].astype(np.float32))
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
