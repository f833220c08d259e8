"""The embedded datasets: FlyingShapes (procedural) and the Middlebury stereo
pair shipped with scikit-image."""
import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmext.flow.datasets import (FlyingChairs, MiddleburyStereoFlow,
                                 make_flying_shapes_pair,
                                 write_flying_chairs_layout)
from mmext.registry import DATASETS


@pytest.fixture(autouse=True)
def mmext_scope():
    """Pipelines name mmext's transforms, as configs with default_scope='mmext'
    do."""
    with DefaultScope.overwrite_default_scope('mmext'):
        yield


def _warp_error(img1, img2, flow):
    """|img1 - img2 sampled at p + flow| per pixel (bilinear, grey levels)."""
    height, width = flow.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    warped = cv2.remap(
        img2.astype(np.float32), x + flow[..., 0], y + flow[..., 1],
        cv2.INTER_LINEAR)
    return np.abs(warped - img1.astype(np.float32)).mean(-1)


def test_flow_is_exact_up_to_interpolation():
    for index in range(4):
        img1, img2, flow, valid = make_flying_shapes_pair(index)
        ok = valid > 0
        assert 0.6 < ok.mean() < 1
        error = _warp_error(img1, img2, flow)[ok]
        # Textures are resampled at exact positions: the residual is bilinear
        # interpolation and rounding, and layer edges for a few pixels.
        assert np.median(error) < 1.0
        assert np.percentile(error, 90) < 2.0
        # The flow matters: no motion leaves a much larger residual.
        assert np.median(_warp_error(img1, img2, 0 * flow)[ok]) > 5


def test_valid_mask_rule():
    img1, _, flow, valid = make_flying_shapes_pair(1, max_translation=20.)
    height, width = valid.shape
    y, x = np.mgrid[0:height, 0:width]
    x1, y1 = x + flow[..., 0], y + flow[..., 1]
    ok = valid > 0
    # Valid pixels land inside img2; invalid ones carry zero flow.
    assert ((x1[ok] >= 0) & (x1[ok] <= width - 1) & (y1[ok] >= 0) &
            (y1[ok] <= height - 1)).all()
    assert (flow[~ok] == 0).all()
    assert not ok.all()
    assert img1.dtype == np.uint8 and img1.shape == (96, 128, 3)
    assert flow.dtype == np.float32 and valid.dtype == np.float32


def test_deterministic_by_seed_split_and_index():
    first = make_flying_shapes_pair(3, seed=7)
    again = make_flying_shapes_pair(3, seed=7)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    for other in (make_flying_shapes_pair(4, seed=7),
                  make_flying_shapes_pair(3, seed=8),
                  make_flying_shapes_pair(3, split='val', seed=7)):
        assert not np.array_equal(first[0], other[0])
    with pytest.raises(ValueError, match='split'):
        make_flying_shapes_pair(0, split='test')


def test_flying_shapes_dataset():
    dataset = DATASETS.build(
        dict(
            type='FlyingShapes',
            num_samples=4,
            split='val',
            img_size=(48, 64),
            shape_cfg=dict(num_shapes=(1, 2)),
            pipeline=[
                dict(type='RandomCrop', crop_size=(32, 48)),
                dict(type='PackFlowInputs')
            ]))
    assert len(dataset) == 4
    info = dataset.get_data_info(2)
    # The keys the two loaders would have produced.
    assert info['img1'].shape == (48, 64, 3) and info['img1'].dtype == np.uint8
    assert info['gt_flow_fw'].shape == (48, 64, 2)
    assert info['gt_valid_fw'].shape == (48, 64)
    assert info['img_shape'] == info['ori_shape'] == (48, 64)
    assert info['sparse'] is False
    assert info['img1_path'] == 'FlyingShapes/val/00002_img1'
    expected = make_flying_shapes_pair(
        2, split='val', img_size=(48, 64), num_shapes=(1, 2))
    np.testing.assert_array_equal(info['img2'], expected[1])
    packed = dataset[2]
    assert packed['inputs'].shape == (6, 32, 48)
    assert packed['data_samples'].img1_path == 'FlyingShapes/val/00002_img1'


def test_flying_chairs_layout_round_trip(tmp_path):
    write_flying_chairs_layout(
        str(tmp_path), num_train=3, num_val=2, seed=5, img_size=(40, 56))
    assert (tmp_path / 'FlyingChairs_train_val.txt').read_text() == \
        '1\n1\n1\n2\n2\n'
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    train = FlyingChairs(data_root=str(tmp_path), pipeline=pipeline)
    val = FlyingChairs(
        data_root=str(tmp_path), pipeline=pipeline, test_mode=True)
    assert (len(train), len(val)) == (3, 2)
    for dataset, split, index in ((train, 'train', 2), (val, 'val', 1)):
        loaded = dataset[index]
        img1, img2, flow, valid = make_flying_shapes_pair(
            index, split=split, seed=5, img_size=(40, 56))
        assert valid.min() == 0  # the unknown-flow marker round-trips
        np.testing.assert_array_equal(loaded['img1'], img1)
        np.testing.assert_array_equal(loaded['img2'], img2)
        np.testing.assert_array_equal(loaded['gt_flow_fw'], flow)
        np.testing.assert_array_equal(loaded['gt_valid_fw'], valid)


def test_middlebury_stereo_pair():
    from skimage.data import stereo_motorcycle
    left, _, disparity = stereo_motorcycle()
    dataset = MiddleburyStereoFlow(pipeline=[dict(type='PackFlowInputs')])
    assert len(dataset) == 1
    info = dataset.get_data_info(0)
    assert info['img1'].shape == (500, 741, 3)
    np.testing.assert_array_equal(info['img1'], left[..., ::-1])  # BGR
    flow, valid = info['gt_flow_fw'], info['gt_valid_fw']
    assert 0.06 < 1 - valid.mean() < 0.09  # nan/inf disparity is invalid
    assert np.isfinite(flow).all() and (flow[..., 1] == 0).all()
    ok = valid > 0
    np.testing.assert_array_equal(flow[ok, 0], -disparity[ok])
    # Left-to-right flow: the right image sampled at x - d matches the left.
    error = _warp_error(info['img1'], info['img2'], flow)[ok]
    wrong_sign = _warp_error(info['img1'], info['img2'], -flow)[ok]
    assert np.median(error) < 5 < np.median(wrong_sign)
    packed = dataset[0]
    assert packed['inputs'].shape == (6, 500, 741)

    half = MiddleburyStereoFlow(downscale=2).get_data_info(0)
    assert half['img1'].shape == (250, 370, 3)
    # A 2x2 block is valid iff all its pixels are; its flow is the mean / 2.
    block_valid = ok[:500, :740].reshape(250, 2, 370, 2).all(axis=(1, 3))
    np.testing.assert_array_equal(half['gt_valid_fw'] > 0, block_valid)
    i, j = np.argwhere(block_valid)[100]
    assert half['gt_flow_fw'][i, j, 0] == pytest.approx(
        flow[2 * i:2 * i + 2, 2 * j:2 * j + 2, 0].mean() / 2)
