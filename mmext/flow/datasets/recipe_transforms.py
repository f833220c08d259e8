"""Transforms that mmflow's model-zoo recipes use beyond RAFT's augmentation.

``Validation`` (RAFT's recipes) and ``RandomGamma``, ``GaussianNoise`` and
``RandomAffine`` (PWC-Net's FlyingChairs / FlyingThings3D recipes), with
mmflow 0.5.2's names and arguments. mmflow's test-time ``InputPad`` and
``InputResize`` are not needed: the models pad their inputs to the size they
need and crop the flow back (:class:`~mmext.flow.models.FlowEstimator`).

Two differences follow from where mmext normalises images (in the model's data
preprocessor, not in the pipeline), see the classes: ``GaussianNoise`` works in
pixel values, and every transform keeps ``gt_valid_fw`` a 0/1 mask.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmext.registry import TRANSFORMS

__all__ = ['Validation', 'RandomGamma', 'GaussianNoise', 'RandomAffine']

_IMG_KEYS = ('img1', 'img2')
_FLOW_KEY = 'gt_flow_fw'
_VALID_KEY = 'gt_valid_fw'


def _check_range(value: Sequence[float], name: str) -> Tuple[float, float]:
    if len(value) != 2 or value[0] > value[1]:
        raise ValueError(f'{name} must be a (min, max) pair, got {value!r}')
    return float(value[0]), float(value[1])


@TRANSFORMS.register_module()
class Validation(BaseTransform):
    """Mark flow whose u or v reaches ``max_flow`` invalid (RAFT's recipes).

    mmflow's ``Validation`` creates the valid mask of dense datasets, which had
    none. mmext's loaders always set one (undefined flow already invalid), so
    here the bound is combined with it: a pixel stays valid only if it was
    valid and ``|u| < max_flow`` and ``|v| < max_flow``.

    Args:
        max_flow (float): Bound on each flow component, in pixels.
    """

    def __init__(self, max_flow: float) -> None:
        if not max_flow > 0:
            raise ValueError(f'max_flow must be positive, got {max_flow}')
        self.max_flow = float(max_flow)

    def transform(self, results: dict) -> dict:
        """Update ``gt_valid_fw`` (made if missing); zero invalid flow."""
        flow = results[_FLOW_KEY]
        inside = (np.abs(flow) < self.max_flow).all(axis=-1)
        valid = results.get(_VALID_KEY)
        if valid is not None:
            inside &= valid >= 0.5
        results[_FLOW_KEY] = np.where(inside[..., None], flow, 0).astype(
            np.float32)
        results[_VALID_KEY] = inside.astype(np.float32)
        results['max_flow'] = self.max_flow
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(max_flow={self.max_flow})'


@TRANSFORMS.register_module()
class RandomGamma(BaseTransform):
    """Gamma correction of both images with one gamma from ``gamma_range``.

    ``out = 255 * (in / 255) ** (1 / gamma)`` through a lookup table rounded
    down, as mmcv's ``adjust_gamma`` that mmflow calls. Images must be uint8
    (the recipes apply it right after loading).

    Args:
        gamma_range (tuple[float, float]): Range of gamma, sampled uniformly.
            Defaults to (0.7, 1.5).
    """

    def __init__(self, gamma_range: Sequence[float] = (0.7, 1.5)) -> None:
        self.gamma_range = _check_range(gamma_range, 'gamma_range')
        if self.gamma_range[0] <= 0:
            raise ValueError(f'gamma must be positive, got {gamma_range}')

    def transform(self, results: dict) -> dict:
        """Apply one random gamma to ``img1`` and ``img2``."""
        gamma = np.random.uniform(*self.gamma_range)
        table = ((np.arange(256) / 255.)**(1. / gamma) * 255).astype(np.uint8)
        for key in _IMG_KEYS:
            if results[key].dtype != np.uint8:
                raise TypeError('RandomGamma needs uint8 images, got '
                                f'{results[key].dtype}')
            results[key] = cv2.LUT(np.ascontiguousarray(results[key]), table)
        results['gamma'] = gamma
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(gamma_range={self.gamma_range})'


@TRANSFORMS.register_module()
class GaussianNoise(BaseTransform):
    """Add zero-mean Gaussian noise to both images, then clip.

    One sigma is drawn from ``sigma_range`` per pair; the noise is independent
    per pixel, channel and image. mmflow applies it after normalising images to
    [0, 1]; mmext normalises in the data preprocessor, so sigma and the clip
    range are in the images' current pixel values: mmflow's
    ``sigma_range=(0, 0.04), clamp_range=(0., 1.)`` on images later divided by
    255 is ``sigma_range=(0, 0.04 * 255), clamp_range=(0., 255.)`` here. The
    images become float32.

    Args:
        sigma_range (tuple[float, float]): Range of the noise's standard
            deviation. Defaults to (0, 0.04 * 255).
        clamp_range (tuple[float, float]): Clip range after adding the noise.
            Defaults to (0., 255.).
    """

    def __init__(self,
                 sigma_range: Sequence[float] = (0, 0.04 * 255),
                 clamp_range: Sequence[float] = (0., 255.)) -> None:
        self.sigma_range = _check_range(sigma_range, 'sigma_range')
        if self.sigma_range[0] < 0:
            raise ValueError(f'sigma must be non-negative, got {sigma_range}')
        self.clamp_range = _check_range(clamp_range, 'clamp_range')

    def transform(self, results: dict) -> dict:
        """Add noise to ``img1`` and ``img2``."""
        sigma = np.random.uniform(*self.sigma_range)
        for key in _IMG_KEYS:
            img = results[key].astype(np.float32)
            noise = np.random.randn(*img.shape).astype(np.float32) * sigma
            results[key] = np.clip(img + noise, *self.clamp_range)
        results['sigma'] = sigma
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma_range={self.sigma_range}, '
                f'clamp_range={self.clamp_range})')


def _warp(array: np.ndarray, theta: np.ndarray, height: int,
          width: int) -> np.ndarray:
    """``cv2.warpAffine`` by the 3x3 ``theta`` (source -> output pixels)."""
    return cv2.warpAffine(
        np.ascontiguousarray(array), theta[:2].astype(np.float64),
        (width, height))


@TRANSFORMS.register_module()
class RandomAffine(BaseTransform):
    """Random affine warps of the pair, with the flow they imply (PWC-Net's
    FlyingChairs / FlyingThings3D recipes, as mmflow 0.5.2's ``RandomAffine``).

    A global transform ``theta1`` warps both images, then a relative transform
    composed on top of it, ``theta2``, warps image 2 again. Each is
    ``translate @ rotate @ shear @ zoom`` with parameters drawn uniformly,
    in coordinates centred on the image with extent [-0.5, 0.5]; with
    ``preserve_valid`` a draw is repeated until the warped image covers the
    whole frame. A pixel ``x'`` of the new image 1 shows ``x = theta1^-1 x'``;
    that point moves to ``x + f(x)``, which appears at ``theta2 (x + f(x))`` in
    the new image 2, so the new flow is ``(theta2 theta1^-1 - I) x' + theta2
    f(x)``. The valid mask is warped like image 1 and, unlike mmflow, which
    keeps its interpolated values, stays valid only where every interpolated
    pixel was valid (as in :class:`~.transforms.SpacialTransform`).

    Args:
        global_transform (dict, optional): Ranges of the transform applied to
            both images: ``translates`` (max |tx|, |ty| as fractions of the
            size), ``zoom``, ``shear`` ((min, max) factors) and ``rotate``
            ((min, max) degrees); missing keys mean no change. Defaults to
            None.
        relative_transform (dict, optional): Ranges of the extra transform of
            image 2, same keys. Defaults to None.
        preserve_valid (bool): Redraw a transform until the warped image covers
            the frame (no empty borders). Defaults to True.
        check_bound (bool): mmflow's flag for occlusion maps, which mmext's
            pipelines do not carry; only False is accepted. Defaults to False.
    """

    _DEFAULTS = dict(
        translates=(0., 0.), zoom=(1., 1.), shear=(1., 1.), rotate=(0., 0.))
    # A transform that cannot cover the frame would be redrawn forever.
    _MAX_DRAWS = 1000

    def __init__(self,
                 global_transform: Optional[dict] = None,
                 relative_transform: Optional[dict] = None,
                 preserve_valid: bool = True,
                 check_bound: bool = False) -> None:
        if check_bound:
            raise NotImplementedError(
                'check_bound applies to occlusion maps, which mmext pipelines '
                'do not load')
        self.global_transform = self._parse(global_transform)
        self.relative_transform = self._parse(relative_transform)
        self.preserve_valid = preserve_valid
        self.check_bound = check_bound

    def _parse(self, transform: Optional[dict]) -> dict:
        transform = dict(transform or {})
        unknown = set(transform) - set(self._DEFAULTS)
        if unknown:
            raise KeyError(f'unknown RandomAffine keys {sorted(unknown)}; use '
                           f'{tuple(self._DEFAULTS)}')
        return {
            key: _check_range(transform.get(key, default), key)
            for key, default in self._DEFAULTS.items()
        }

    @staticmethod
    def _covers_frame(theta: np.ndarray) -> bool:
        """Whether the image warped by ``theta`` (centred coordinates) covers
        the whole frame: the frame's corners map back inside the image."""
        corners = np.array([[-.5, -.5, 1.], [-.5, .5, 1.], [.5, -.5, 1.],
                            [.5, .5, 1.]])
        back = (np.linalg.inv(theta) @ corners.T).T[:, :2]
        return bool(((back >= -.5) & (back <= .5)).all())

    def _draw(self, theta: np.ndarray, translates, zoom, shear,
              rotate) -> np.ndarray:
        """``T @ theta`` for a random ``T``, redrawn until it covers the frame
        when ``preserve_valid``."""
        for _ in range(self._MAX_DRAWS):
            zoom_ = np.random.uniform(*zoom)
            shear_ = np.random.uniform(*shear)
            tx = np.random.uniform(-translates[0], translates[0])
            ty = np.random.uniform(-translates[1], translates[1])
            phi = np.deg2rad(np.random.uniform(*rotate))
            cos, sin = np.cos(phi), np.sin(phi)
            transform = (
                np.array([[1., 0., tx], [0., 1., ty], [0., 0., 1.]])
                @ np.array([[cos, -sin, 0.], [sin, cos, 0.], [0., 0., 1.]])
                @ np.diag([shear_, 1. / shear_, 1.]) @ np.diag(
                    [zoom_, zoom_, 1.]))
            proposal = transform @ theta
            if not self.preserve_valid or self._covers_frame(proposal):
                return proposal
        raise RuntimeError(
            f'RandomAffine drew {self._MAX_DRAWS} transforms and none covers '
            'the frame; widen the zoom range or set preserve_valid=False')

    def transform(self, results: dict) -> dict:
        """Warp the images, the flow and its valid mask."""
        height, width = results['img1'].shape[:2]
        theta1_ndc = self._draw(np.eye(3), **self.global_transform)
        theta2_ndc = self._draw(theta1_ndc, **self.relative_transform)
        # Centred coordinates of pixel centres 0..W-1, 0..H-1 (mmflow's).
        to_ndc = np.array([[1. / (width - 1.), 0., -.5],
                           [0., 1. / (height - 1.), -.5], [0., 0., 1.]])
        from_ndc = np.linalg.inv(to_ndc)
        theta1 = from_ndc @ theta1_ndc @ to_ndc
        theta2 = from_ndc @ theta2_ndc @ to_ndc

        results['img1'] = _warp(results['img1'], theta1, height, width)
        results['img2'] = _warp(results['img2'], theta2, height, width)
        flow = results.get(_FLOW_KEY)
        if flow is not None:
            valid = results.get(_VALID_KEY)
            if valid is None:
                valid = np.ones((height, width), np.float32)
            coverage = _warp(valid.astype(np.float32), theta1, height, width)
            # Interpolating flow * valid and dividing by the interpolated
            # valid ignores invalid neighbours (mmflow's normalisation).
            moved = _warp(flow * valid[..., None], theta1, height, width)
            moved = moved / (coverage[..., None] + 1e-12)
            ys, xs = np.mgrid[0:height, 0:width]
            grid = np.stack([xs, ys, np.ones_like(xs)], axis=-1).astype(
                np.float64)
            homo_flow = np.concatenate(
                [moved, np.zeros((height, width, 1))], axis=-1)
            new_flow = (grid @ (theta2 @ np.linalg.inv(theta1) - np.eye(3)).T
                        + homo_flow @ theta2.T)[..., :2]
            new_valid = coverage >= 0.999
            new_flow[~new_valid] = 0
            results[_FLOW_KEY] = new_flow.astype(np.float32)
            results[_VALID_KEY] = new_valid.astype(np.float32)
        results['global_ndc_affine_mat'] = theta1_ndc
        results['relative_ndc_affine_mat'] = theta2_ndc
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'global_transform={self.global_transform}, '
                f'relative_transform={self.relative_transform}, '
                f'preserve_valid={self.preserve_valid})')
