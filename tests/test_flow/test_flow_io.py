"""Flow file formats: round trips, exact layouts and error cases."""
import struct

import cv2
import numpy as np
import pytest

from mmext.flow.datasets.flow_io import (UNKNOWN_FLOW, load_flow_gt, read_flow,
                                         read_flow_kitti, read_pfm,
                                         sanitize_flow, write_flow,
                                         write_flow_kitti, write_pfm)


def _random_flow(shape=(5, 7), seed=0):
    return np.random.default_rng(seed).normal(0, 10, shape + (2, )).astype(
        np.float32)


def test_flo_round_trip_and_layout(tmp_path):
    flow = _random_flow()
    flow[1, 2] = np.nan
    path = str(tmp_path / 'a.flo')
    write_flow(path, flow)
    raw = open(path, 'rb').read()
    # b'PIEH' is the float 202021.25; then width, height, row-major (u, v).
    assert raw[:4] == b'PIEH'
    assert struct.unpack('<f', raw[:4])[0] == 202021.25
    assert struct.unpack('<ii', raw[4:12]) == (7, 5)
    assert struct.unpack('<ff', raw[12:20]) == tuple(flow[0, 0])
    back = read_flow(path)
    assert back.dtype == np.float32 and back.shape == (5, 7, 2)
    np.testing.assert_array_equal(back, flow)  # NaN as stored


def test_flo_errors(tmp_path):
    path = tmp_path / 'bad.flo'
    path.write_bytes(b'XXXX' + struct.pack('<ii', 2, 2) + b'\0' * 32)
    with pytest.raises(ValueError, match='bad.flo.*magic'):
        read_flow(str(path))
    path.write_bytes(b'PIEH' + struct.pack('<ii', 4, 3) + b'\0' * 40)
    with pytest.raises(ValueError, match='bad.flo.*truncated'):
        read_flow(str(path))
    path.write_bytes(b'PIEH' + struct.pack('<ii', 0, 3))
    with pytest.raises(ValueError, match='invalid .flo size'):
        read_flow(str(path))
    with pytest.raises(FileNotFoundError):
        read_flow(str(tmp_path / 'missing.flo'))
    with pytest.raises(ValueError, match=r'\(H, W, 2\)'):
        write_flow(str(tmp_path / 'x.flo'), np.zeros((3, 3, 3), np.float32))


@pytest.mark.parametrize('shape', [(4, 6, 3), (4, 6)])
def test_pfm_round_trip_bottom_up(tmp_path, shape):
    array = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    path = str(tmp_path / 'a.pfm')
    write_pfm(path, array)
    raw = open(path, 'rb').read()
    header = (b'PF' if len(shape) == 3 else b'Pf') + b'\n6 4\n-1.0\n'
    assert raw.startswith(header)
    # The first stored row is the image's bottom row.
    first = np.frombuffer(raw[len(header):], '<f4', array[-1].size)
    np.testing.assert_array_equal(first, array[-1].ravel())
    np.testing.assert_array_equal(read_pfm(path), array)


def test_pfm_big_endian_and_errors(tmp_path):
    array = np.array([[1.5, -2.0], [3.0, 4.25]], np.float32)
    path = tmp_path / 'be.pfm'
    path.write_bytes(b'Pf\n2 2\n1.0\n' + np.flipud(array).astype('>f4').tobytes())
    np.testing.assert_array_equal(read_pfm(str(path)), array)
    path.write_bytes(b'P6\n2 2\n1.0\n' + b'\0' * 16)
    with pytest.raises(ValueError, match='be.pfm.*magic'):
        read_pfm(str(path))
    path.write_bytes(b'PF\n2 2\n-1.0\n' + b'\0' * 20)
    with pytest.raises(ValueError, match='be.pfm.*truncated'):
        read_pfm(str(path))
    path.write_bytes(b'PF\ntwo 2\n-1.0\n')
    with pytest.raises(ValueError, match='malformed'):
        read_pfm(str(path))


def test_kitti_round_trip_and_encoding(tmp_path):
    # Multiples of 1/64 px are stored exactly.
    flow = np.round(_random_flow() * 64) / 64
    valid = np.ones(flow.shape[:2], np.float32)
    valid[0, :3] = 0
    path = str(tmp_path / 'k.png')
    write_flow_kitti(path, flow, valid)
    png = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (5, 7, 3)
    # OpenCV's BGR: B = valid, G = v, R = u, as value * 64 + 2^15.
    assert png[2, 3, 2] == flow[2, 3, 0] * 64 + 2**15
    assert png[2, 3, 1] == flow[2, 3, 1] * 64 + 2**15
    back, back_valid = read_flow_kitti(path)
    np.testing.assert_array_equal(back_valid, valid)
    np.testing.assert_array_equal(back[valid > 0], flow[valid > 0])
    np.testing.assert_array_equal(back[valid == 0], 0)


def test_kitti_errors(tmp_path):
    eight_bit = str(tmp_path / 'eight.png')
    cv2.imwrite(eight_bit, np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(ValueError, match='eight.png.*16-bit.*uint8'):
        read_flow_kitti(eight_bit)
    grey = str(tmp_path / 'grey.png')
    cv2.imwrite(grey, np.zeros((3, 4), np.uint16))
    with pytest.raises(ValueError, match='grey.png.*3 channels'):
        read_flow_kitti(grey)
    garbage = tmp_path / 'garbage.png'
    garbage.write_bytes(b'not a png')
    with pytest.raises(ValueError, match='garbage.png.*decoded'):
        read_flow_kitti(str(garbage))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        read_flow_kitti(str(tmp_path / 'missing.png'))


def test_sanitize_flow_marks_undefined_invalid():
    flow = np.ones((2, 3, 2), np.float32)
    flow[0, 0, 0] = np.nan
    flow[0, 1, 1] = np.inf
    flow[0, 2, 0] = UNKNOWN_FLOW
    mask = np.array([[1, 1, 1], [1, 0, 1]])
    clean, valid = sanitize_flow(flow, mask)
    np.testing.assert_array_equal(valid, [[0, 0, 0], [1, 0, 1]])
    assert valid.dtype == np.float32 and clean.dtype == np.float32
    assert np.isfinite(clean).all()
    np.testing.assert_array_equal(clean[valid == 0], 0)
    np.testing.assert_array_equal(clean[valid == 1], 1)


def test_load_flow_gt_dispatch(tmp_path):
    flow = _random_flow()
    flow[0, 0] = np.nan
    write_flow(str(tmp_path / 'a.flo'), flow)
    loaded, valid = load_flow_gt(str(tmp_path / 'a.flo'))
    assert valid[0, 0] == 0 and valid.sum() == valid.size - 1
    np.testing.assert_array_equal(loaded[0, 0], 0)
    np.testing.assert_array_equal(loaded[valid > 0], flow[valid > 0])

    write_pfm(str(tmp_path / 'a.pfm'), np.dstack([flow, np.zeros((5, 7))]))
    loaded_pfm, valid_pfm = load_flow_gt(str(tmp_path / 'a.pfm'))
    np.testing.assert_array_equal(loaded_pfm, loaded)
    np.testing.assert_array_equal(valid_pfm, valid)

    write_flow_kitti(str(tmp_path / 'a.png'), flow)
    _, valid_png = load_flow_gt(str(tmp_path / 'a.png'))
    np.testing.assert_array_equal(valid_png, valid)

    with pytest.raises(ValueError, match="unknown flow file format '.npy'"):
        load_flow_gt(str(tmp_path / 'a.npy'))
