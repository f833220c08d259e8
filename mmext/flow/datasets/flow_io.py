"""Readers and writers of the optical-flow ground-truth file formats.

There is exactly one reader per format, and every dataset, transform and tool of
mmext imports it from here:

- Middlebury ``.flo`` (FlyingChairs, FlyingThings3D subset, Sintel):
  :func:`read_flow` / :func:`write_flow`.
- ``.pfm`` (full FlyingThings3D): :func:`read_pfm` / :func:`write_pfm`.
- KITTI 16-bit PNG (KITTI 2012/2015, HD1K): :func:`read_flow_kitti` /
  :func:`write_flow_kitti`.

Flow arrays are float32 ``(H, W, 2)`` holding ``(u, v)`` in pixels, ``u`` along
the image width. Validity masks are float32 ``(H, W)`` of 0 and 1.

The readers return the file's numbers as stored. :func:`load_flow_gt` is what the
data pipeline uses: it picks the reader from the file suffix and passes the result
through :func:`sanitize_flow`, so that non-finite values and Middlebury's
"unknown flow" marker (any component above ``UNKNOWN_FLOW_THRESH`` in magnitude)
become invalid pixels whose flow is 0, never numbers that reach a loss or a metric.
A file that does not hold what its format says raises :class:`FlowFileError` (a
``ValueError`` that tools report as one line naming the file).
"""
import math
import os
import os.path as osp
from typing import Optional, Tuple

import cv2
import numpy as np

from mmext.errors import UserError

__all__ = [
    'UNKNOWN_FLOW', 'UNKNOWN_FLOW_THRESH', 'FlowFileError', 'read_flow',
    'write_flow', 'read_pfm', 'write_pfm', 'read_flow_kitti', 'write_flow_kitti',
    'sanitize_flow', 'load_flow_gt'
]

# Middlebury's flowIO: the 4 bytes b'PIEH' are the float 202021.25; a flow
# component larger than 1e9 in magnitude means "unknown" and 1e10 is written.
_FLO_MAGIC = b'PIEH'
UNKNOWN_FLOW_THRESH = 1e9
UNKNOWN_FLOW = 1e10

# KITTI devkit: a PNG channel value v encodes the flow (v - 2^15) / 64.
_KITTI_OFFSET = 2.0**15
_KITTI_SCALE = 64.0


class FlowFileError(UserError, ValueError):
    """A flow file that is not in the format its suffix names; the message
    names the file."""


def _read_bytes(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


def _make_parent_dir(path: str) -> None:
    parent = osp.dirname(osp.abspath(path))
    os.makedirs(parent, exist_ok=True)


def _check_flow_array(flow: np.ndarray, path: str) -> None:
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f'cannot write {path}: flow must have shape (H, W, 2), '
                         f'got {flow.shape}')


def read_flow(path: str) -> np.ndarray:
    """Read a Middlebury ``.flo`` file.

    Layout: the magic ``b'PIEH'``, int32 width, int32 height, then
    ``height * width`` float32 ``(u, v)`` pairs in row-major order, all
    little-endian.

    Args:
        path (str): The file to read.

    Returns:
        np.ndarray: float32 flow of shape (H, W, 2), values as stored.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: wrong magic, a non-positive size, or a data block that is
            shorter (truncated) or longer than the header announces.
    """
    data = _read_bytes(path)
    if data[:4] != _FLO_MAGIC:
        raise FlowFileError(f'{path} is not a .flo file: magic {data[:4]!r}, '
                            f'expected {_FLO_MAGIC!r}')
    if len(data) < 12:
        raise FlowFileError(f'{path}: .flo header is truncated: {len(data)} '
                            'bytes, the header needs 12')
    width, height = (int(v) for v in np.frombuffer(data, '<i4', 2, offset=4))
    if width <= 0 or height <= 0:
        raise FlowFileError(f'{path}: invalid .flo size {width}x{height}')
    expected = 8 * width * height
    found = len(data) - 12
    if found != expected:
        kind = 'truncated' if found < expected else 'longer than its header says'
        raise FlowFileError(f'{path}: .flo data is {kind}: {width}x{height} '
                            f'flow needs {expected} bytes, found {found}')
    flow = np.frombuffer(data, '<f4', offset=12).reshape(height, width, 2)
    return flow.astype(np.float32)


def write_flow(path: str, flow: np.ndarray) -> None:
    """Write a Middlebury ``.flo`` file (see :func:`read_flow`).

    Unknown flow is conventionally written as :data:`UNKNOWN_FLOW`.

    Args:
        path (str): The file to write; parent folders are created.
        flow (np.ndarray): Flow of shape (H, W, 2).
    """
    _check_flow_array(flow, path)
    height, width = flow.shape[:2]
    _make_parent_dir(path)
    with open(path, 'wb') as f:
        f.write(_FLO_MAGIC)
        f.write(np.array([width, height], dtype='<i4').tobytes())
        f.write(np.ascontiguousarray(flow, dtype='<f4').tobytes())


def _next_header_line(data: bytes, start: int, path: str) -> Tuple[str, int]:
    end = data.find(b'\n', start)
    if end < 0:
        raise FlowFileError(f'{path}: truncated .pfm header')
    return data[start:end].decode('ascii', errors='replace').strip(), end + 1


def read_pfm(path: str) -> np.ndarray:
    """Read a ``.pfm`` (portable float map) file.

    Layout: ``PF`` (3 channels) or ``Pf`` (1 channel), a line ``width height``, a
    line with the scale whose sign gives the byte order (negative: little-endian),
    then float32 rows stored bottom to top.

    Args:
        path (str): The file to read.

    Returns:
        np.ndarray: float32 array of shape (H, W, 3) or (H, W), top row first.
        FlyingThings3D flow files hold ``(u, v, 0)``: the flow is ``[..., :2]``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: wrong magic, a malformed header, or truncated data.
    """
    data = _read_bytes(path)
    magic, pos = data[:2], 2
    if magic not in (b'PF', b'Pf'):
        raise FlowFileError(f'{path} is not a .pfm file: magic {magic!r}, '
                            "expected b'PF' or b'Pf'")
    channels = 3 if magic == b'PF' else 1
    _, pos = _next_header_line(data, pos, path)
    dims, pos = _next_header_line(data, pos, path)
    scale_line, pos = _next_header_line(data, pos, path)
    try:
        width, height = (int(v) for v in dims.split())
        scale = float(scale_line)
    except ValueError:
        raise FlowFileError(f'{path}: malformed .pfm header {dims!r} / '
                            f'{scale_line!r}') from None
    if width <= 0 or height <= 0:
        raise FlowFileError(f'{path}: invalid .pfm size {width}x{height}')
    # The scale's sign gives the byte order: zero, inf and nan have none.
    if not math.isfinite(scale) or scale == 0:
        raise FlowFileError(f'{path}: invalid .pfm scale {scale_line!r}, '
                            'expected a finite nonzero number')
    expected = 4 * width * height * channels
    found = len(data) - pos
    if found < expected:
        raise FlowFileError(f'{path}: .pfm data is truncated: {width}x{height}'
                            f'x{channels} needs {expected} bytes, found {found}')
    dtype = '<f4' if scale < 0 else '>f4'
    array = np.frombuffer(data, dtype, width * height * channels, offset=pos)
    shape = (height, width, channels) if channels == 3 else (height, width)
    return np.flipud(array.reshape(shape)).astype(np.float32)


def write_pfm(path: str, array: np.ndarray) -> None:
    """Write a little-endian ``.pfm`` file (see :func:`read_pfm`).

    Args:
        path (str): The file to write; parent folders are created.
        array (np.ndarray): float data of shape (H, W) or (H, W, 3), top row
            first. A flow is written as ``(u, v, 0)`` like FlyingThings3D's.
    """
    if array.ndim == 2:
        magic = b'Pf'
    elif array.ndim == 3 and array.shape[2] == 3:
        magic = b'PF'
    else:
        raise ValueError(f'cannot write {path}: .pfm holds (H, W) or (H, W, 3) '
                         f'arrays, got {array.shape}')
    height, width = array.shape[:2]
    _make_parent_dir(path)
    with open(path, 'wb') as f:
        f.write(magic + b'\n' + f'{width} {height}\n'.encode() + b'-1.0\n')
        f.write(np.ascontiguousarray(np.flipud(array), dtype='<f4').tobytes())


def read_flow_kitti(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read a KITTI flow PNG (KITTI 2012/2015, HD1K).

    The 16-bit RGB PNG stores ``u`` in R and ``v`` in G as ``value * 64 + 2^15``
    and the validity in B. OpenCV reads channels as BGR.

    Args:
        path (str): The file to read.

    Returns:
        tuple[np.ndarray, np.ndarray]: float32 flow (H, W, 2) as stored and the
        float32 validity mask (H, W) of 0/1.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a decodable PNG, is not 16-bit, or does not
            have 3 channels.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'KITTI flow file not found: {path}')
    png = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if png is None:
        raise FlowFileError(f'{path} cannot be decoded as an image')
    if png.dtype != np.uint16:
        raise FlowFileError(f'{path}: a KITTI flow PNG must be 16-bit, '
                            f'got {png.dtype}')
    if png.ndim != 3 or png.shape[2] != 3:
        raise FlowFileError(f'{path}: a KITTI flow PNG must have 3 channels, '
                            f'got shape {png.shape}')
    flow = (png[..., 2:0:-1].astype(np.float32) - _KITTI_OFFSET) / _KITTI_SCALE
    valid = (png[..., 0] > 0).astype(np.float32)
    return flow, valid


def write_flow_kitti(path: str,
                     flow: np.ndarray,
                     valid: Optional[np.ndarray] = None) -> None:
    """Write a KITTI flow PNG (see :func:`read_flow_kitti`).

    As in the KITTI devkit, flow is rounded to 1/64 px and clipped to the
    representable range [-512, 512); invalid pixels store zero flow.

    Args:
        path (str): The file to write; parent folders are created.
        flow (np.ndarray): Flow of shape (H, W, 2).
        valid (np.ndarray, optional): Mask (H, W), nonzero where valid. Defaults
            to the pixels whose flow is finite.
    """
    _check_flow_array(flow, path)
    flow, valid = sanitize_flow(flow, valid)
    encoded = np.clip(np.round(flow * _KITTI_SCALE + _KITTI_OFFSET), 0, 65535)
    png = np.empty(flow.shape[:2] + (3, ), dtype=np.uint16)
    png[..., 2:0:-1] = encoded
    png[..., 0] = valid
    _make_parent_dir(path)
    if not cv2.imwrite(path, png):
        raise ValueError(f'cannot write {path} as a PNG')


def sanitize_flow(
        flow: np.ndarray,
        valid: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Turn undefined ground truth into invalid pixels with zero flow.

    A pixel is valid where ``valid`` (if given) is nonzero and both flow
    components are finite and below :data:`UNKNOWN_FLOW_THRESH` in magnitude.

    Args:
        flow (np.ndarray): Flow of shape (H, W, 2).
        valid (np.ndarray, optional): Mask of shape (H, W).

    Returns:
        tuple[np.ndarray, np.ndarray]: a float32 copy of the flow, 0 where
        invalid, and the float32 validity mask (H, W).
    """
    flow = np.array(flow, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        # NaN compares False, so it fails the bound as it should.
        ok = (np.abs(flow) < UNKNOWN_FLOW_THRESH).all(axis=-1)
    if valid is not None:
        ok &= np.asarray(valid) != 0
    flow[~ok] = 0
    return flow, ok.astype(np.float32)


def load_flow_gt(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Load a ground-truth flow file as the data pipeline needs it.

    The reader is chosen by suffix: ``.flo`` (:func:`read_flow`), ``.pfm``
    (:func:`read_pfm`, first two channels) or ``.png``
    (:func:`read_flow_kitti`); the result goes through :func:`sanitize_flow`.

    Args:
        path (str): The flow file.

    Returns:
        tuple[np.ndarray, np.ndarray]: float32 flow (H, W, 2), 0 where invalid,
        and the float32 validity mask (H, W).
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix == '.flo':
        return sanitize_flow(read_flow(path))
    if suffix == '.pfm':
        array = read_pfm(path)
        if array.ndim != 3:
            raise FlowFileError(f'{path}: a flow .pfm must have 3 channels, '
                                f'got shape {array.shape}')
        return sanitize_flow(array[..., :2])
    if suffix == '.png':
        return sanitize_flow(*read_flow_kitti(path))
    raise FlowFileError(f'{path}: unknown flow file format {suffix!r} '
                        "(expected '.flo', '.pfm' or '.png')")
