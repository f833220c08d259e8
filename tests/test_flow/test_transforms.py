"""Flow transforms: loaders, RAFT's augmentations and packing."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from mmext.flow import FlowDataSample
from mmext.flow.datasets import (ColorJitter, Erase, LoadAnnotations,
                                 LoadImageFromFile, PackFlowInputs, RandomCrop,
                                 RandomFlip, SpacialTransform)
from mmext.flow.datasets.flow_io import write_flow, write_flow_kitti

H, W = 24, 32


def _results(flow=None, valid=None, sparse=False, seed=0):
    """A loaded pair: random images, given or random flow, all valid."""
    rng = np.random.default_rng(seed)
    flow = rng.normal(0, 3, (H, W, 2)).astype(np.float32) if flow is None \
        else flow
    return dict(
        img1=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        img2=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        img_shape=(H, W),
        ori_shape=(H, W),
        gt_flow_fw=flow,
        gt_valid_fw=np.ones((H, W), np.float32) if valid is None else valid,
        sparse=sparse,
        img1_path='a.png',
        img2_path='b.png')


def _coords():
    """Flow whose vector is the pixel's own (x, y): reveals where it went."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.stack([x, y], axis=-1)


def test_loaders(tmp_path):
    rng = np.random.default_rng(0)
    img1 = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    img2 = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), img1)
    cv2.imwrite(str(tmp_path / 'b.png'), img2)
    flow = rng.normal(0, 3, (H, W, 2)).astype(np.float32)
    flow[3, 4] = np.inf
    write_flow(str(tmp_path / 'f.flo'), flow)
    results = dict(
        img1_path=str(tmp_path / 'a.png'),
        img2_path=str(tmp_path / 'b.png'),
        flow_fw_path=str(tmp_path / 'f.flo'),
        sparse=False)
    results = LoadAnnotations()(LoadImageFromFile()(results))
    np.testing.assert_array_equal(results['img1'], img1)  # BGR as stored
    np.testing.assert_array_equal(results['img2'], img2)
    assert results['img1'].dtype == np.uint8
    assert results['img_shape'] == results['ori_shape'] == (H, W)
    assert results['gt_flow_fw'].dtype == np.float32
    assert results['gt_valid_fw'][3, 4] == 0
    assert results['gt_valid_fw'].sum() == H * W - 1
    assert (results['gt_flow_fw'][3, 4] == 0).all()
    assert results['sparse'] is False
    float_imgs = LoadImageFromFile(to_float32=True)(dict(results))
    assert float_imgs['img1'].dtype == np.float32

    # sparse=True (mmflow's KITTI configs) overrides the dataset's entry.
    write_flow_kitti(str(tmp_path / 'k.png'), flow)
    results['flow_fw_path'] = str(tmp_path / 'k.png')
    assert LoadAnnotations(sparse=True)(results)['sparse'] is True
    # Ground truth of another size than the images is rejected.
    write_flow(str(tmp_path / 'small.flo'), flow[:-1])
    results['flow_fw_path'] = str(tmp_path / 'small.flo')
    with pytest.raises(ValueError, match='small.flo is 23x32.*a.png'):
        LoadAnnotations()(results)
    (tmp_path / 'bad.png').write_bytes(b'no image')
    with pytest.raises(ValueError, match='bad.png cannot be decoded'):
        LoadImageFromFile()(dict(img1_path=str(tmp_path / 'bad.png'),
                                 img2_path=str(tmp_path / 'b.png')))


@pytest.mark.parametrize('direction,axis,sign', [('horizontal', 1, [-1, 1]),
                                                 ('vertical', 0, [1, -1])])
def test_random_flip(direction, axis, sign):
    results = _results()
    original = {k: results[k].copy() for k in ('img1', 'img2', 'gt_flow_fw')}
    results['gt_valid_fw'][0, 0] = 0
    out = RandomFlip(prob=1., direction=direction)(results)
    for key in ('img1', 'img2'):
        np.testing.assert_array_equal(out[key],
                                      np.flip(original[key], axis=axis))
    np.testing.assert_array_equal(
        out['gt_flow_fw'],
        np.flip(original['gt_flow_fw'], axis=axis) * np.float32(sign))
    assert out['gt_valid_fw'][0, 0] == 1
    assert out['gt_valid_fw'][(-1, 0) if axis == 0 else (0, -1)] == 0
    untouched = RandomFlip(prob=0.)(_results())
    np.testing.assert_array_equal(untouched['img1'], original['img1'])


def test_random_crop_cuts_all_maps_alike():
    np.random.seed(0)
    results = _results(flow=_coords())
    img1 = results['img1'].copy()
    out = RandomCrop(crop_size=(10, 12))(results)
    assert out['img_shape'] == (10, 12)
    x0, y0 = out['gt_flow_fw'][0, 0].astype(int)
    np.testing.assert_array_equal(out['img1'], img1[y0:y0 + 10, x0:x0 + 12])
    assert out['gt_valid_fw'].shape == (10, 12)
    # A side shorter than the crop stays whole.
    out = RandomCrop(crop_size=(100, 12))(_results())
    assert out['img_shape'] == (H, 12)


def _coord_image():
    """A float image holding each pixel's (x, y): resizing and cropping it
    (bilinear is exact on linear maps) reveals the source position of every
    output pixel."""
    return np.dstack([_coords(), np.zeros((H, W), np.float32)])


def _drawn_geometry(out):
    """Scale factors and crop offset that a SpacialTransform applied, read
    from the coordinate image, and the exact source position of every output
    pixel: ``src = (dst + offset + 0.5) / f - 0.5`` (pixel 1 and 2 are used:
    pixel 0 may sit on the clamped image border)."""
    coord_x, coord_y = out['img1'][1, 1:3, 0], out['img1'][1:3, 1, 1]
    fx = 1 / (coord_x[1] - coord_x[0])
    fy = 1 / (coord_y[1] - coord_y[0])
    x0 = round((coord_x[0] + 0.5) * fx - 0.5 - 1)
    y0 = round((coord_y[0] + 0.5) * fy - 0.5 - 1)
    dst_y, dst_x = np.mgrid[0:out['img_shape'][0], 0:out['img_shape'][1]]
    src_x = (dst_x + x0 + 0.5) / fx - 0.5
    src_y = (dst_y + y0 + 0.5) / fy - 0.5
    return src_x, src_y, fx, fy, x0, y0


def test_spacial_transform_dense_is_exact_for_affine_flow():
    np.random.seed(1)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)

    def affine_flow(x, y):
        return np.stack([0.1 * x - 0.05 * y + 2, 0.02 * x + 0.1 * y - 1], -1)

    valid = np.ones((H, W), np.float32)
    valid[10, 10] = 0
    results = _results(flow=affine_flow(x, y), valid=valid)
    results['img1'] = _coord_image()
    out = SpacialTransform(
        spacial_prob=1., stretch_prob=1., crop_size=(16, 20), min_scale=0.2,
        max_scale=0.6)(results)
    assert out['img_shape'] == (16, 20) and out['img2'].shape == (16, 20, 3)
    src_x, src_y, fx, fy, _, _ = _drawn_geometry(out)
    got, got_valid = out['gt_flow_fw'], out['gt_valid_fw']
    # The flow is the source flow at the source position, scaled by (fx, fy).
    expected = affine_flow(src_x, src_y) * np.float32([fx, fy])
    ok = got_valid > 0
    # Off the source image the resize repeats its border: compare within.
    inside = ok & (src_x >= 0) & (src_x <= W - 1) & (src_y >= 0) & (src_y
                                                                    <= H - 1)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(got[inside], expected[inside], atol=1e-3)
    # Output pixels interpolating the invalid source pixel are invalid, 0.
    near = (np.abs(src_x - 10) < 1) & (np.abs(src_y - 10) < 1)
    assert near.any() and not got_valid[near].any()
    assert (got[~ok] == 0).all()
    # Without the transform nothing changes.
    assert SpacialTransform(0., 0., (16, 20))(_results())['img_shape'] == (H,
                                                                           W)


def test_spacial_transform_scatters_sparse_flow():
    np.random.seed(2)
    valid = np.zeros((H, W), np.float32)
    valid[::3, ::2] = 1
    # Each valid vector is its own source position.
    results = _results(flow=_coords() * valid[..., None], valid=valid,
                       sparse=True)
    results['img1'] = _coord_image()
    out = SpacialTransform(
        spacial_prob=1., stretch_prob=1., crop_size=(16, 20), min_scale=0.,
        max_scale=0.5)(results)
    _, _, fx, fy, x0, y0 = _drawn_geometry(out)
    got, got_valid = out['gt_flow_fw'], out['gt_valid_fw']
    assert 0 < got_valid.sum() <= valid.sum()
    assert (got[got_valid == 0] == 0).all()
    ys, xs = np.nonzero(got_valid)
    src_x = got[ys, xs, 0] / fx
    src_y = got[ys, xs, 1] / fy
    # Scaled valid source vectors, written at the rounded scaled pixel centre.
    np.testing.assert_allclose(src_x, np.round(src_x), atol=1e-3)
    np.testing.assert_allclose(src_y, np.round(src_y), atol=1e-3)
    assert valid[np.round(src_y).astype(int), np.round(src_x).astype(int)].all()
    np.testing.assert_array_equal(np.round((src_x + 0.5) * fx - 0.5) - x0, xs)
    np.testing.assert_array_equal(np.round((src_y + 0.5) * fy - 0.5) - y0, ys)


def test_color_jitter():
    np.random.seed(3)
    results = _results()
    results['img2'] = results['img1'].copy()
    jitter = ColorJitter(
        asymmetric_prob=0., brightness=0.4, contrast=0.4, saturation=0.4,
        hue=0.5 / 3.14)
    out = jitter(results)
    assert out['img1'].dtype == np.uint8 and out['img1'].shape == (H, W, 3)
    # Symmetric: one draw for both images.
    np.testing.assert_array_equal(out['img1'], out['img2'])
    assert not np.array_equal(out['img1'], _results()['img1'])
    results = _results()
    results['img2'] = results['img1'].copy()
    out = ColorJitter(asymmetric_prob=1., brightness=0.4, hue=0.1)(results)
    assert not np.array_equal(out['img1'], out['img2'])
    float_results = _results()
    float_results['img1'] = float_results['img1'].astype(np.float32)
    with pytest.raises(TypeError, match='uint8'):
        jitter(float_results)
    with pytest.raises(ValueError, match='hue'):
        ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match='brightness'):
        ColorJitter(brightness=-1)


def test_erase_paints_only_img2():
    np.random.seed(4)
    results = _results()
    img1, img2 = results['img1'].copy(), results['img2'].copy()
    mean = img2.reshape(-1, 3).mean(0).astype(np.uint8)
    out = Erase(prob=1., bounds=(4, 8))(results)
    np.testing.assert_array_equal(out['img1'], img1)
    changed = (out['img2'] != img2).any(-1)
    assert changed.any()
    assert (out['img2'][changed] == mean).all()
    assert Erase(prob=0.)(_results())['img2'] is not None


def test_pack_flow_inputs_output():
    results = _results()
    results['gt_valid_fw'][1, 2] = 0
    packed = PackFlowInputs()(results)
    assert set(packed) == {'inputs', 'data_samples'}
    inputs = packed['inputs']
    assert inputs.shape == (6, H, W) and inputs.dtype == torch.uint8
    np.testing.assert_array_equal(inputs[:3].permute(1, 2, 0).numpy(),
                                  results['img1'])
    np.testing.assert_array_equal(inputs[3:].permute(1, 2, 0).numpy(),
                                  results['img2'])
    sample = packed['data_samples']
    assert isinstance(sample, FlowDataSample)
    flow, valid = sample.gt_flow_fw.data, sample.gt_valid_fw.data
    assert flow.shape == (2, H, W) and flow.dtype == torch.float32
    assert valid.shape == (1, H, W) and valid.dtype == torch.float32
    np.testing.assert_array_equal(flow.permute(1, 2, 0).numpy(),
                                  results['gt_flow_fw'])
    assert valid[0, 1, 2] == 0
    assert set(sample.metainfo) == {
        'img1_path', 'img2_path', 'ori_shape', 'img_shape'
    }
    assert sample.img_shape == (H, W)


def test_raft_recipes_from_config():
    """mmflow's RAFT chairs and KITTI training pipelines, built by name."""
    np.random.seed(5)
    crop = (16, 24)
    jitter = dict(
        type='ColorJitter',
        asymmetric_prob=0.2,
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.5 / 3.14)
    spacial = dict(
        type='SpacialTransform',
        spacial_prob=0.8,
        stretch_prob=0.8,
        crop_size=crop,
        min_scale=-0.1,
        max_scale=1.,
        max_stretch=0.2)
    tail = [dict(type='RandomCrop', crop_size=crop), dict(type='PackFlowInputs')]
    with DefaultScope.overwrite_default_scope('mmext'):
        chairs = Compose([
            jitter,
            dict(type='Erase', prob=0.5, bounds=[4, 8], max_num=3), spacial,
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='RandomFlip', prob=0.1, direction='vertical')
        ] + tail)
        kitti = Compose([jitter, spacial] + tail)
    for _ in range(5):
        packed = chairs(_results())
        assert packed['inputs'].shape == (6, ) + crop
        assert packed['data_samples'].gt_flow_fw.shape == crop
        valid = np.zeros((H, W), np.float32)
        valid[::2, ::2] = 1
        packed = kitti(_results(valid=valid, sparse=True))
        assert packed['data_samples'].gt_valid_fw.data.shape == (1, ) + crop
