"""ELEGANT's 5-point face alignment: a similarity transform (rotation, uniform
scale, shift) that puts the eyes, nose tip and mouth corners as close as
possible to a fixed template, so that the two eye pupils end up horizontal,
70 px apart in a 256 x 256 crop.

The template is the average face ELEGANT aligns to, written as proportions of
the eye distance: eyes level and centred, 1/2.42 of the way down the crop;
nose tip 0.597 eye distances below them; mouth corners 1.07 below and 0.833
apart.
"""
from typing import Tuple

import cv2
import numpy as np

__all__ = [
    'EYE_DISTANCE', 'five_point_template', 'similarity_transform', 'align_face'
]

#: Eye distance, in pixels, of the 256 x 256 crop.
EYE_DISTANCE = 70.0


def five_point_template(size: int = 256) -> np.ndarray:
    """The target positions of left eye, right eye, nose tip, left and right
    mouth corner in a ``size`` x ``size`` crop, ``(5, 2)`` float64.

    Args:
        size (int): Crop side. The layout scales with it (70 px eye distance
            at 256).
    """
    d = EYE_DISTANCE
    eye_y = 256 / 2.42
    template = np.array([
        [128 - d / 2, eye_y],
        [128 + d / 2, eye_y],
        [128, eye_y + 0.597 * d],
        [128 - 0.4163 * d, eye_y + 1.0726 * d],
        [128 + 0.4163 * d, eye_y + 1.0726 * d],
    ])
    return template * (size / 256.0)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity transform mapping ``src`` onto ``dst``
    (Umeyama, 1991), as a 2 x 3 matrix for :func:`cv2.warpAffine`.

    Args:
        src (np.ndarray): ``(K, 2)`` points.
        dst (np.ndarray): ``(K, 2)`` corresponding points.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    # A reflection would fit better for a mirrored point set; faces are not
    # mirrored by alignment, so keep a proper rotation.
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / (src_c**2).sum(1).mean()
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def align_face(img: np.ndarray,
               landmarks: np.ndarray,
               size: int = 256) -> Tuple[np.ndarray, np.ndarray]:
    """Warp a face so that its five landmarks fit :func:`five_point_template`.

    Args:
        img (np.ndarray): ``(H, W, C)`` image.
        landmarks (np.ndarray): ``(5, 2)`` (or 10 values) left eye, right
            eye, nose tip, left and right mouth corner, as CelebA's landmark
            files list them.
        size (int): Output side. Defaults to 256 (ELEGANT).

    Returns:
        tuple: the ``(size, size, C)`` crop (outside the source: black) and
        the 2 x 3 matrix used.
    """
    matrix = similarity_transform(
        np.asarray(landmarks, np.float64).reshape(5, 2),
        five_point_template(size))
    aligned = cv2.warpAffine(
        img,
        matrix, (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT)
    return aligned, matrix
