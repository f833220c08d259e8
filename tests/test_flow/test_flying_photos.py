"""FlyingPhotos (photo-textured procedural flow) and the OpenCV peers of the
flow evaluation."""
import socket

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from scipy import stats

import mmext.flow.datasets.flying_photos as flying_photos
from mmext.flow.datasets import (FlyingChairs, make_flying_photos_pair,
                                 make_flying_shapes_pair,
                                 write_flying_chairs_layout)
from mmext.flow.evaluation.opencv_peers import (OPENCV_PEERS,
                                                compare_on_middlebury,
                                                format_comparison, score_flow)
from mmext.photos import shipped_photos
from mmext.registry import DATASETS
from .test_synthetic import _warp_error


@pytest.fixture(autouse=True)
def mmext_scope():
    with DefaultScope.overwrite_default_scope('mmext'):
        yield


@pytest.mark.parametrize('exponent', [2., 3.])
def test_translation_length_is_heavy_tailed_up_to_the_bound(exponent):
    rng = np.random.default_rng(0)
    shifts = np.array([
        flying_photos._heavy_tailed_motion(rng, np.zeros(2), 64., exponent,
                                           0., 0.)[:2, 2] for _ in range(400)
    ])
    lengths = np.hypot(*shifts.T)

    def law(e):
        """P(length <= x) = (x / 64) ** (1 / e), the law of 64 * U ** e."""
        return lambda x: np.clip(x / 64, 0, 1)**(1 / e)

    assert stats.kstest(lengths, law(exponent)).pvalue > 0.01
    # ... and not that of the other exponent.
    assert stats.kstest(lengths, law(5 - exponent)).pvalue < 1e-3
    # Directions are uniform: no preferred axis or sign.
    assert abs(np.mean(np.sign(shifts[:, 0]))) < 0.15
    assert abs(np.mean(np.sign(shifts[:, 1]))) < 0.15


def test_flow_histogram_covers_0_to_64_px():
    magnitudes = []
    for index in range(150):
        _, _, flow, valid = make_flying_photos_pair(
            index, img_size=(64, 80), photometric=False)
        magnitudes.append(np.hypot(*flow[valid > 0].T))
    magnitudes = np.concatenate(magnitudes)
    counts, _ = np.histogram(magnitudes, bins=[0, 4, 16, 32, 48, 64])
    share = counts / len(magnitudes)
    # Many small motions, some large ones, every range represented.
    assert share[0] > 0.15 and share[:2].sum() > 0.5
    assert (share[2:] > 0.02).all(), share
    assert magnitudes.max() > 60
    # Rotation and zoom add a little to the 64 px translations, no more.
    assert magnitudes.max() < 80


def test_flow_is_exact_up_to_interpolation():
    for index in range(3):
        img1, img2, flow, valid = make_flying_photos_pair(
            index, photometric=False)
        ok = valid > 0
        assert 0.4 < ok.mean() < 1
        error = _warp_error(img1, img2, flow)[ok]
        # Photos carry more fine detail than FlyingShapes' noise, so
        # bilinear resampling costs a little more; layer edges add the rest.
        assert np.median(error) < 2.0
        assert np.percentile(error, 75) < 5.0
        # A flow off by one pixel leaves a clearly larger residual.
        off = _warp_error(img1, img2, flow + np.float32([1, 0]))[ok]
        assert np.median(off) > 2 * np.median(error)


def test_photometric_change_leaves_the_ground_truth():
    plain = make_flying_photos_pair(5, photometric=False)
    relit = make_flying_photos_pair(5)
    np.testing.assert_array_equal(plain[2], relit[2])
    np.testing.assert_array_equal(plain[3], relit[3])
    change = np.abs(relit[1].astype(float) - plain[1]).mean()
    assert change > 2
    assert np.abs(relit[0].astype(float) - plain[0]).mean() < change


def test_textures_come_from_the_installed_packages_only(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError('network access during generation')

    monkeypatch.setattr(socket.socket, 'connect', refuse)
    shipped_photos.cache_clear()
    photos = shipped_photos()
    assert 'stereo_motorcycle' not in ' '.join(photos)
    img1, _, _, _ = make_flying_photos_pair(0)
    assert img1.shape == (128, 160, 3)
    # Every texture is cut from what shipped_photos returns: black photos
    # give black frames.
    monkeypatch.setattr(flying_photos, 'shipped_photos', lambda: {
        name: np.zeros_like(photo) for name, photo in photos.items()})
    img1, img2, _, _ = make_flying_photos_pair(0, photometric=False)
    assert img1.max() == 0 and img2.max() == 0


def test_dataset_and_flying_chairs_layout(tmp_path):
    dataset = DATASETS.build(
        dict(type='FlyingPhotos', num_samples=3, split='val',
             img_size=(48, 64), shape_cfg=dict(max_displacement=16.),
             pipeline=[dict(type='PackFlowInputs')]))
    info = dataset.get_data_info(1)
    assert info['img1_path'] == 'FlyingPhotos/val/00001_img1'
    expected = make_flying_photos_pair(
        1, split='val', img_size=(48, 64), max_displacement=16.)
    np.testing.assert_array_equal(info['img2'], expected[1])
    assert not np.array_equal(
        expected[0], make_flying_shapes_pair(1, split='val',
                                             img_size=(48, 64))[0])
    write_flying_chairs_layout(
        str(tmp_path), 2, 1, make_pair=make_flying_photos_pair,
        img_size=(48, 64))
    chairs = FlyingChairs(data_root=str(tmp_path), test_mode=True)
    assert len(chairs) == 1
    img1 = cv2.imread(chairs.get_data_info(0)['img1_path'])
    np.testing.assert_array_equal(
        img1, make_flying_photos_pair(0, split='val', img_size=(48, 64))[0])


def test_score_flow_matches_an_independent_count():
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 5, (20, 30, 2)).astype(np.float32)
    flow = gt + rng.normal(0, 3, gt.shape).astype(np.float32)
    valid = (rng.random((20, 30)) > 0.3).astype(np.float32)
    epe = np.hypot(*(flow - gt).transpose(2, 0, 1))[valid > 0]
    gt_norm = np.hypot(*gt.transpose(2, 0, 1))[valid > 0]
    scores = score_flow(flow, gt, valid)
    assert scores['EPE'] == pytest.approx(epe.mean(), rel=1e-6)
    assert scores['Fl'] == pytest.approx(
        100 * np.mean((epe > 3) & (epe > 0.05 * gt_norm)), rel=1e-6)


def test_peers_on_middlebury_quarter_scale():
    table = compare_on_middlebury(OPENCV_PEERS, downscales=(4, ))
    row = table[4]
    assert row['size'] == (125, 185)
    # The published behaviour of the three peers on this pair (issue 16).
    assert row['zero flow']['EPE'] == pytest.approx(8.88, abs=0.01)
    assert 4 < row['OpenCV Farneback']['EPE'] < 7
    assert row['OpenCV DIS medium']['EPE'] < 1.5
    text = format_comparison(table, with_seconds=True)
    header = text.splitlines()[0]
    for name in OPENCV_PEERS:
        assert f'{name} EPE (px)' in header and f'{name} (s)' in header
    assert text.splitlines()[2].startswith('| 1/4 (125x185), 10.3 px | 8.88')
