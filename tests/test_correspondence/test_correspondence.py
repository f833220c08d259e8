"""Semantic correspondence: cycle loss, geometry, matcher, PCK, benchmark readers."""
import csv
import json
import os
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.models import MoCo
from mmpretrain.registry import MODELS
from scipy.io import savemat
from scipy.ndimage import map_coordinates

from mmext.correspondence import (ContrastiveCorrespondence, HyperpixelMatcher,
                                  LoadImagePair, PCKMetric, PFPascalPairs,
                                  PFWillowPairs, SPairPairs, cycle_coordinates,
                                  hyperpixel_features, pck_threshold,
                                  resnet_block_features)
from mmext.correspondence.features import layer_stride
from mmext.correspondence.geometry import (apply_affine, cell_centres,
                                           rotated_crop, soft_argmax)
from mmext.correspondence.layer_search import beam_search, cycle_score

from ..conftest import REPO, run_tool


def tiny_model(**kwargs):
    torch.manual_seed(0)
    cfg = dict(
        type='ContrastiveCorrespondence',
        backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=32,
                  out_channels=16, with_avg_pool=True),
        head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                  temperature=0.2),
        queue_len=32, feat_dim=16, cycle_layer=6, crop_size=64,
        matcher=dict(type='HyperpixelMatcher', layer_ids=(2, 4, 6)))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def unit_features(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=generator), dim=1)


# --------------------------------------------------------------- geometry

def test_cell_centres_are_pixel_centres_of_the_grid():
    centres = cell_centres(2, 3, 4)
    expected = [[2, 2], [6, 2], [10, 2], [2, 6], [6, 6], [10, 6]]
    np.testing.assert_allclose(centres.numpy(), expected)


def test_layer_strides_are_the_resnet_nominal_strides():
    from mmpretrain.models import ResNet
    resnet50 = ResNet(depth=50)
    assert [layer_stride(resnet50, i) for i in range(17)] == (
        [4] * 4 + [8] * 4 + [16] * 6 + [32] * 3)
    assert [layer_stride(tiny_model().backbone, i) for i in (0, 2, 4, 6, 8)] \
        == [4, 4, 8, 16, 32]


def test_cells_sit_a_nominal_stride_apart_where_it_does_not_divide_the_image():
    # 100 px at stride 16 gives ceil-rounded 7 cells, not 100 / 16: the cells
    # are 16 px apart (100 / 7 = 14.3 would put cell 6 at 92.9, not 104).
    model = tiny_model()
    with torch.no_grad():
        src = hyperpixel_features(model.backbone, torch.randn(1, 3, 100, 100),
                                  [6])[0]
    assert src.shape[-2:] == (7, 7)
    trg = torch.roll(src, shifts=1, dims=2)  # one cell to the right
    kps = torch.tensor([[20.0, 30.0], [85.0, 60.0]])
    stride = HyperpixelMatcher(layer_ids=(6, )).stride(model.backbone)
    pred = HyperpixelMatcher().transfer(src, trg, kps, stride)
    torch.testing.assert_close(pred, kps + torch.tensor([16.0, 0.0]))
    landed = cycle_coordinates(src[None, :, 1:3, 4:6], src[None], src[None],
                               stride, 7e-4)
    torch.testing.assert_close(
        landed[0], torch.tensor([[72.0, 24], [88, 24], [72, 40], [88, 40]]))


def test_soft_argmax_is_the_softmax_weighted_mean():
    similarity = torch.randn(5, 7)
    coords = torch.randn(7, 2)
    expected = torch.stack([
        sum(torch.exp(s[j] / 0.3) * coords[j] for j in range(7)) /
        torch.exp(s / 0.3).sum() for s in similarity
    ])
    torch.testing.assert_close(soft_argmax(similarity, coords, 0.3), expected)


@pytest.mark.parametrize('angle,flip', [(7.0, False), (-9.0, True), (90.0, False)])
def test_rotated_crop_samples_the_image_where_its_matrix_says(angle, flip):
    image = torch.rand(1, 1, 40, 50, generator=torch.Generator().manual_seed(1))
    crops, matrix = rotated_crop(image, torch.tensor([[24.0, 21.0]]), 16,
                                 torch.tensor([angle]), torch.tensor([flip]))
    pixels = cell_centres(16, 16, 1)[None]
    source = apply_affine(matrix, pixels)[0].numpy()
    # Independent bilinear sampling: pixel centre (x, y) is index (y-.5, x-.5).
    expected = map_coordinates(image[0, 0].numpy(),
                               [source[:, 1] - 0.5, source[:, 0] - 0.5],
                               order=1)
    np.testing.assert_allclose(crops[0, 0].flatten().numpy(), expected,
                               atol=1e-5)
    if flip:  # mirrored: the crop's first column comes from its right side
        no_flip, _ = rotated_crop(image, torch.tensor([[24.0, 21.0]]), 16,
                                  torch.tensor([angle]), torch.tensor([False]))
        torch.testing.assert_close(crops, no_flip.flip(-1))


# ----------------------------------------------------------- cycle loss

def test_cycle_walk_lands_where_the_crop_came_from_for_a_sharp_temperature():
    feats1 = unit_features(2, 32, 6, 8)
    # The crop is image 1's cells (1..3, 2..5); image 2 is image 1 itself.
    crop = feats1[:, :, 1:4, 2:6]
    landed = cycle_coordinates(crop, feats1, feats1, 8, 7e-4)
    all_cells = cell_centres(6, 8, 8).view(6, 8, 2)
    expected = all_cells[1:4, 2:6].reshape(-1, 2).expand(2, -1, -1)
    torch.testing.assert_close(landed, expected)


def test_cycle_walk_through_a_shifted_image_two_still_returns():
    feats1 = unit_features(1, 32, 6, 8, seed=3)
    feats2 = torch.roll(feats1, shifts=(2, -3), dims=(2, 3))
    landed = cycle_coordinates(feats1, feats2, feats1, 8, 7e-4)
    torch.testing.assert_close(landed[0], cell_centres(6, 8, 8))


def test_cycle_coordinates_equal_the_two_step_walk_computed_directly():
    crop, feats2, feats1 = (unit_features(1, 8, 3, 3, seed=s) for s in (4, 5, 6))
    temperature = 0.5
    a = torch.softmax(crop.flatten(2)[0].t() @ feats2.flatten(2)[0] / temperature, 1)
    b = torch.softmax(feats2.flatten(2)[0].t() @ feats1.flatten(2)[0] / temperature, 1)
    expected = a @ b @ cell_centres(3, 3, 10)
    torch.testing.assert_close(
        cycle_coordinates(crop, feats2, feats1, 10, temperature)[0],
        expected)


def _cell_colours(images, stride=8):
    """Features that are exactly rotation / mirror equivariant on a grid-aligned
    crop: the unit-norm mean of each cell's pixels over 32 channels."""
    return F.normalize(F.avg_pool2d(images, stride), dim=1)


@pytest.mark.parametrize('angle,flip,centre', [
    (90.0, True, (40.0, 24.0)), (180.0, False, (56.0, 32.0)),
    (0.0, True, (24.0, 40.0))])
def test_cycle_walk_of_a_rotated_mirrored_crop_returns_to_its_source(
        angle, flip, centre):
    model = tiny_model(crop_size=32)
    image1 = torch.randn(1, 32, 64, 96, generator=torch.Generator().manual_seed(2))
    image2 = torch.roll(image1, shifts=(16, -24), dims=(2, 3))  # whole cells
    crops = (torch.tensor([centre]), torch.tensor([angle]),
             torch.tensor([flip]))
    landed, source = model.cycle_walk(image1, image2, _cell_colours, 8, crops)

    # Where crop cell centre (u, v) came from, by hand: centre + R(angle) @
    # diag(-1 if flip else 1, 1) @ ((u, v) - 16).
    u, v = cell_centres(4, 4, 8).unbind(-1)
    u = -u if flip else u
    u, v = u + (16 if flip else -16), v - 16
    cos, sin = round(np.cos(np.radians(angle))), round(np.sin(np.radians(angle)))
    expected = torch.stack([centre[0] + cos * u - sin * v,
                            centre[1] + sin * u + cos * v], dim=-1)
    torch.testing.assert_close(source[0], expected)
    torch.testing.assert_close(landed[0], expected, atol=1e-3, rtol=0)
    assert model.cycle_loss(image1, image2, _cell_colours, 8, crops) < 1e-6
    # Not a degenerate point: the crop's cells are far from where an
    # unrotated, unmirrored crop at the same centre would put them.
    unwarped = cell_centres(4, 4, 8) + torch.tensor(centre) - 16
    assert F.mse_loss(expected, unwarped) > 100


def test_cycle_loss_grows_with_misalignment():
    feats1 = unit_features(1, 32, 6, 8)
    gt = cell_centres(6, 8, 8)[None]
    landed = cycle_coordinates(feats1, feats1, feats1, 8, 7e-4)
    losses = [F.mse_loss(landed, gt + shift).item() for shift in (0, 4, 8)]
    np.testing.assert_allclose(losses, [0, 16, 64], atol=1e-4)


def test_cycle_crops_stay_inside_the_image_and_training_backpropagates():
    model = tiny_model()
    model.train()
    views = [torch.randn(2, 3, 96, 96) for _ in range(4)]
    losses = model.loss(views, None)
    assert set(losses) == {'loss_moco', 'loss_cycle'}
    assert torch.isfinite(losses['loss_cycle']) and losses['loss_cycle'] > 0
    losses['loss_cycle'].backward()
    assert model.backbone.layer3[0].conv1.weight.grad.abs().sum() > 0
    assert model.backbone.layer4[0].conv1.weight.grad is None, (
        'the cycle uses layer3 only')

    angles = torch.tensor([10.0, -10.0])
    centres = model._crop_centres(views[2], angles)
    margin = 32 * (np.cos(np.radians(10)) + np.sin(np.radians(10)))
    assert (centres >= margin - 1e-4).all() and (centres <= 96 - margin + 1e-4).all()


def test_the_moco_part_is_mmpretrains_moco():
    assert issubclass(ContrastiveCorrespondence, MoCo)
    for name in ('_dequeue_and_enqueue', 'extract_feat'):
        assert getattr(ContrastiveCorrespondence, name) is getattr(MoCo, name)
    model = tiny_model(moco_weight=2.0)
    reference = tiny_model()
    reference.load_state_dict(model.state_dict())
    views = [torch.randn(2, 3, 64, 64) for _ in range(4)]
    torch.manual_seed(5)
    ours = model.loss(views, None)['loss_moco']
    torch.manual_seed(5)
    theirs = MoCo.loss(reference, views[:2], None)['loss']
    torch.testing.assert_close(ours, 2.0 * theirs)
    torch.testing.assert_close(model.queue, reference.queue)


# ---------------------------------------------------------- hyperpixels

def test_block_features_are_the_resnet_stage_outputs():
    model = tiny_model()
    model.eval()
    image = torch.randn(1, 3, 64, 64)
    model.backbone.out_indices = (0, 1, 2)
    with torch.no_grad():
        stages = model.backbone(image)
        blocks = resnet_block_features(model.backbone, image, [2, 4, 6])
    for stage, block in zip(stages, blocks):
        torch.testing.assert_close(stage, block)


def test_hyperpixels_concatenate_upsampled_layers_with_unit_norm():
    model = tiny_model()
    with torch.no_grad():
        feats = hyperpixel_features(model.backbone, torch.randn(2, 3, 64, 96),
                                    [2, 0, 6])
    assert feats.shape == (2, 64 + 64 + 256, 16, 24)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(2, 16, 24))


def test_unknown_layer_index_is_one_clear_error():
    model = tiny_model()
    with pytest.raises(ValueError, match=r'\[9\].*blocks 1\.\.8'):
        hyperpixel_features(model.backbone, torch.randn(1, 3, 32, 32), [2, 9])


# -------------------------------------------------------------- matcher

@pytest.mark.parametrize('method', ['nn', 'mutual', 'soft-argmax'])
def test_matcher_recovers_a_known_translation(method):
    matcher = HyperpixelMatcher(method=method, temperature=1e-3)
    src = unit_features(64, 12, 16, seed=7)
    trg = torch.roll(src, shifts=(2, 3), dims=(1, 2))  # 2 cells down, 3 right
    kps = torch.tensor([[10.0, 13.0], [30.5, 20.0], [45.0, 33.0]])
    pred = matcher.transfer(src, trg, kps, 4)
    torch.testing.assert_close(pred, kps + torch.tensor([12.0, 8.0]),
                               atol=1e-3, rtol=0)


def test_matcher_maps_into_a_larger_target_keeping_pixel_offsets():
    matcher = HyperpixelMatcher()
    src = unit_features(16, 4, 4, seed=8)
    trg = torch.zeros(16, 6, 8)  # a larger target: src's cells at rows 1-4,
    trg[:, 1:5, 3:7] = src       # columns 3-6, nothing elsewhere
    kps = torch.tensor([[6.0, 6.0], [3.0, 13.0]])  # offsets (0, 0), (1, -1)
    pred = matcher.transfer(src, trg, kps, 4)
    torch.testing.assert_close(pred, kps + torch.tensor([12.0, 4.0]))


def test_unknown_matching_method_is_rejected():
    with pytest.raises(ValueError, match="'hough'"):
        HyperpixelMatcher(method='hough')


# ------------------------------------------------------------------ PCK

def test_pck_thresholds_per_dataset():
    kps = np.array([[10, 20], [40, 30], [25, 80]], np.float32)
    assert pck_threshold('image', (300, 500), None, kps) == 500
    assert pck_threshold('bbox', (300, 500), [5, 10, 105, 60], kps) == 100
    assert pck_threshold('keypoints', (300, 500), None, kps) == 60


def _sample(pred, gt, category, scale=(1.0, 1.0)):
    return dict(pred_kps=torch.tensor(pred, dtype=torch.float32),
                trg_kps=np.array(gt, np.float32), category=category,
                trg_scale_factor=np.array(scale, np.float32),
                trg_ori_shape=(100, 200), trg_bbox=np.array([0, 0, 50, 40]))


def test_pck_metric_per_pair_and_per_class_with_hand_computed_values():
    metric = PCKMetric(alphas=(0.05, 0.1), threshold='image')  # 10 / 20 px
    metric.process(None, [
        # errors 5, 15, nan: 1/3 at 0.05, 2/3 at 0.1
        _sample([[5, 0], [0, 15], [float('nan'), 0]], [[0, 0]] * 3, 'cat'),
        # predicted at half size: 2 * (3, 4) = (6, 8) -> error 0
        _sample([[3, 4]], [[6, 8]], 'cat', scale=(0.5, 0.5)),
        _sample([[0, 12]], [[0, 0]], 'dog'),  # error 12
    ])
    result = metric.compute_metrics(metric.results)
    assert result['0.05'] == pytest.approx(100 * (1 / 3 + 1 + 0) / 3)
    assert result['0.1'] == pytest.approx(100 * (2 / 3 + 1 + 1) / 3)
    assert result['0.05_per_class'] == pytest.approx(100 * ((1 / 3 + 1) / 2 + 0) / 2)
    assert result['0.1_per_class'] == pytest.approx(100 * ((2 / 3 + 1) / 2 + 1) / 2)


def test_pck_leaves_out_pairs_without_keypoints_and_says_so(monkeypatch):
    from mmext.correspondence import metrics
    logged = []
    monkeypatch.setattr(metrics, 'print_log', lambda msg, **_: logged.append(msg))
    metric = PCKMetric(alphas=(0.1, ), threshold='keypoints')  # 4 px here
    empty = dict(_sample([[0, 0]], [[0, 0]], 'cat'),
                 pred_kps=torch.zeros(0, 2), trg_kps=np.zeros((0, 2)))
    metric.process(None, [empty, _sample([[0, 3], [50, 0]],  # errors 3, 10
                                         [[0, 0], [40, 0]], 'dog')])
    result = metric.compute_metrics(metric.results)
    assert result['0.1'] == 50.0 and result['0.1_per_class'] == 50.0
    assert logged == ['PCK: 1 of 2 pairs have no keypoint and are left out']
    only_empty = PCKMetric(threshold='keypoints')
    only_empty.process(None, [empty])
    with pytest.raises(ValueError, match='no pair has a keypoint'):
        only_empty.compute_metrics(only_empty.results)


# -------------------------------------------------------------- readers

def _image(path, width, height):
    cv2.imwrite(str(path), np.full((height, width, 3), 128, np.uint8))


def write_pf_pascal(root):
    (root / 'JPEGImages').mkdir(parents=True)
    (root / 'Annotations' / 'cat').mkdir(parents=True)
    _image(root / 'JPEGImages' / '2008_000001.jpg', 100, 80)
    _image(root / 'JPEGImages' / '2008_000002.jpg', 120, 90)
    nan = float('nan')
    savemat(root / 'Annotations' / 'cat' / '2008_000001.mat',
            dict(kps=np.array([[10, 20], [30, 40], [nan, nan]]),
                 bbox=np.array([[5, 6, 70, 60]])))
    savemat(root / 'Annotations' / 'cat' / '2008_000002.mat',
            dict(kps=np.array([[11, 21], [nan, nan], [50, 60]]),
                 bbox=np.array([[1, 2, 90, 80]])))
    for split, flip in (('trn', True), ('test', False)):
        with open(root / f'{split}_pairs.csv', 'w', newline='') as f:
            writer = csv.writer(f)
            header = ['source_image', 'target_image', 'class']
            row = ['PF-dataset-PASCAL/JPEGImages/2008_000001.jpg',
                   'PF-dataset-PASCAL/JPEGImages/2008_000002.jpg', 8]
            writer.writerow(header + ['flip'] if split == 'trn' else header)
            writer.writerow(row + [int(flip)] if split == 'trn' else row)


def test_pf_pascal_reader_keeps_keypoints_visible_in_both_and_applies_flips(tmp_path):
    write_pf_pascal(tmp_path)
    test = PFPascalPairs(str(tmp_path), split='test').get_data_info(0)
    assert test['category'] == 'cat' and not test['flip']
    np.testing.assert_array_equal(test['src_kps'], [[10, 20]])
    np.testing.assert_array_equal(test['trg_kps'], [[11, 21]])
    np.testing.assert_array_equal(test['trg_bbox'], [1, 2, 90, 80])
    assert test['src_img_path'] == osp.join(str(tmp_path), 'JPEGImages',
                                            '2008_000001.jpg')

    trn = PFPascalPairs(str(tmp_path), split='trn').get_data_info(0)
    assert trn['flip']
    np.testing.assert_array_equal(trn['src_kps'], [[100 - 10, 20]])
    np.testing.assert_array_equal(trn['trg_kps'], [[120 - 11, 21]])
    np.testing.assert_array_equal(trn['src_bbox'], [100 - 70, 6, 100 - 5, 60])


def _centroid(mask):
    """Mean pixel centre (x, y) of a boolean image, continuous coordinates."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5])


def test_flipped_pairs_mirror_pixels_and_keypoints_alike(tmp_path):
    write_pf_pascal(tmp_path)
    # A 4x4 white block centred on each annotated keypoint, stored losslessly.
    for name, (width, height), (x, y) in (('2008_000001', (100, 80), (10, 20)),
                                          ('2008_000002', (120, 90), (11, 21))):
        image = np.zeros((height, width, 3), np.uint8)
        image[y - 2:y + 2, x - 2:x + 2] = 255
        cv2.imencode('.png', image)[1].tofile(
            str(tmp_path / 'JPEGImages' / f'{name}.jpg'))
    for split, flipped in (('test', False), ('trn', True)):
        pair = PFPascalPairs(str(tmp_path), split=split,
                             pipeline=[LoadImagePair()])[0]
        for side, width in (('src', 100), ('trg', 120)):
            image = pair[f'{side}_img']
            assert image.shape[1] == width
            np.testing.assert_allclose(_centroid(image[..., 0] > 127),
                                       pair[f'{side}_kps'][0])
        assert pair['src_kps'][0, 0] == (90 if flipped else 10)


def test_pf_pascal_csv_without_a_needed_column_is_one_error_line(tmp_path, capsys):
    from mmext.engine import cli_main
    write_pf_pascal(tmp_path)
    csv_path = tmp_path / 'test_pairs.csv'
    csv_path.write_text(csv_path.read_text().replace('target_image', 'target'))
    with pytest.raises(SystemExit) as exit_info:
        cli_main(lambda: PFPascalPairs(str(tmp_path), split='test'))()
    assert exit_info.value.code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 1, err
    assert str(csv_path) in err[0] and "['target_image']" in err[0], err


def write_pf_willow(root):
    (root / 'car(G)').mkdir(parents=True)
    _image(root / 'car(G)' / 'car(G)_1.png', 60, 50)
    _image(root / 'car(G)' / 'car(G)_2.png', 60, 50)
    src = np.arange(20, dtype=float)      # x 0..9, y 10..19
    trg = np.arange(20, dtype=float) + 1
    with open(root / 'test_pairs.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['imageA', 'imageB'] + [f'v{i}' for i in range(40)])
        writer.writerow(['PF-dataset/car(G)/car(G)_1.png',
                         'PF-dataset/car(G)/car(G)_2.png'] + list(src) + list(trg))


def test_pf_willow_reader_splits_x_then_y_and_boxes_the_keypoints(tmp_path):
    write_pf_willow(tmp_path)
    pair = PFWillowPairs(str(tmp_path)).get_data_info(0)
    assert pair['category'] == 'car(G)'
    np.testing.assert_array_equal(pair['src_kps'][:2], [[0, 10], [1, 11]])
    np.testing.assert_array_equal(pair['trg_kps'][-1], [10, 20])
    np.testing.assert_array_equal(pair['trg_bbox'], [1, 11, 10, 20])
    assert osp.isfile(pair['trg_img_path'])


def test_pairs_without_a_keypoint_visible_in_both_are_skipped_and_counted(
        tmp_path, monkeypatch):
    from mmext.correspondence import datasets
    logged = []
    monkeypatch.setattr(datasets, 'print_log',
                        lambda msg, **_: logged.append(msg))
    write_pf_willow(tmp_path)
    rows = list(csv.reader(open(tmp_path / 'test_pairs.csv')))
    hidden = rows[1][:2] + ['nan'] * 20 + rows[1][22:]
    with open(tmp_path / 'test_pairs.csv', 'w', newline='') as f:
        csv.writer(f).writerows(rows + [hidden])
    dataset = PFWillowPairs(str(tmp_path))
    assert len(dataset) == 1 and len(dataset.get_data_info(0)['src_kps']) == 10
    assert len(logged) == 1 and 'skipped 1 of 2 pairs' in logged[0]


def write_spair(root):
    pair_id = '000001-2008_000008-2008_000035:aeroplane'
    (root / 'Layout' / 'large').mkdir(parents=True)
    (root / 'PairAnnotation' / 'test').mkdir(parents=True)
    (root / 'JPEGImages' / 'aeroplane').mkdir(parents=True)
    (root / 'Layout' / 'large' / 'test.txt').write_text(pair_id + '\n')
    _image(root / 'JPEGImages' / 'aeroplane' / '2008_000008.jpg', 70, 60)
    _image(root / 'JPEGImages' / 'aeroplane' / '2008_000035.jpg', 80, 50)
    (root / 'PairAnnotation' / 'test' / f'{pair_id}.json').write_text(json.dumps(dict(
        src_imname='2008_000008.jpg', trg_imname='2008_000035.jpg',
        category='aeroplane', src_kps=[[1, 2], [3, 4]], trg_kps=[[5, 6], [7, 8]],
        src_bndbox=[0, 0, 60, 50], trg_bndbox=[2, 3, 70, 45],
        viewpoint_variation=1)))


def test_spair_reader_follows_the_layout(tmp_path):
    write_spair(tmp_path)
    pair = SPairPairs(str(tmp_path), split='test').get_data_info(0)
    assert pair['category'] == 'aeroplane'
    np.testing.assert_array_equal(pair['trg_kps'], [[5, 6], [7, 8]])
    np.testing.assert_array_equal(pair['trg_bbox'], [2, 3, 70, 45])
    assert pair['trg_img_path'].endswith(osp.join('aeroplane', '2008_000035.jpg'))


def test_pair_list_naming_a_missing_image_is_one_clear_error(tmp_path):
    write_pf_willow(tmp_path)
    (tmp_path / 'car(G)' / 'car(G)_2.png').unlink()
    with pytest.raises(FileNotFoundError, match=r"car\(G\)_2\.png"):
        PFWillowPairs(str(tmp_path))


# ------------------------------------------------------ tools/test.py

CONFIGS = osp.join(REPO, 'configs', 'contrastive_correspondence')
TEST_TOOL = osp.join(REPO, 'tools', 'test.py')
TINY = {
    'model.backbone.depth': 18, 'model.backbone.stem_channels': 16,
    'model.backbone.base_channels': 16, 'model.neck.in_channels': 128,
    'model.neck.hid_channels': 32, 'model.neck.out_channels': 16,
    'model.feat_dim': 16, 'model.queue_len': 32, 'model.cycle_layer': 6,
    'model.matcher.layer_ids': [2, 4, 6], 'test_dataloader.num_workers': 0,
    'test_dataloader.batch_size': 2
}

SHIFT = 24  # px; 48 px, three stride-16 cells, after the resize to 240
KPS = np.array([[40.5, 20.5], [55.3, 45.0], [70.0, 70.2]])


def _shifted_pairs(root, benchmark):
    """Two pairs per fixture, in one batch: image B is image A's noise moved
    SHIFT px right, and the pairs are (A, B) and (B, A), their keypoints
    moved by +SHIFT and -SHIFT. Images are stored losslessly."""
    noise = np.random.default_rng(0).integers(0, 255, (90, 120, 3), np.uint8)
    shifted = np.roll(noise, SHIFT, axis=1)
    images = sorted(p for p in root.rglob('*') if p.suffix in ('.jpg', '.png'))
    for path, image in zip(images, (noise, shifted)):
        cv2.imencode('.png', image)[1].tofile(str(path))
    kps = [KPS, KPS + [SHIFT, 0]]
    if benchmark == 'pfpascal':
        for path, points in zip(sorted((root / 'Annotations' / 'cat').glob('*')), kps):
            savemat(path, dict(kps=points, bbox=np.array([[0, 0, 120, 90]])))
        rows = list(csv.reader(open(root / 'test_pairs.csv')))
        rows.append([rows[1][1], rows[1][0], rows[1][2]])
    elif benchmark == 'pfwillow':
        rows = list(csv.reader(open(root / 'test_pairs.csv')))
        hidden = [float('nan')] * 7  # PF-WILLOW has 10 keypoints an image
        values = [list(points[:, 0]) + hidden + list(points[:, 1]) + hidden
                  for points in kps]
        rows[1:] = [rows[1][:2] + values[0] + values[1],
                    rows[1][1::-1] + values[1] + values[0]]
    else:
        layout = root / 'Layout' / 'large' / 'test.txt'
        path = next((root / 'PairAnnotation' / 'test').glob('*.json'))
        ann = json.loads(path.read_text())
        ann.update(src_kps=kps[0].tolist(), trg_kps=kps[1].tolist())
        path.write_text(json.dumps(ann))
        ann.update(src_imname=ann['trg_imname'], trg_imname=ann['src_imname'],
                   src_kps=kps[1].tolist(), trg_kps=kps[0].tolist())
        path.with_name('000002-reversed.json').write_text(json.dumps(ann))
        layout.write_text(layout.read_text() + '000002-reversed\n')
        return
    with open(root / 'test_pairs.csv', 'w', newline='') as f:
        csv.writer(f).writerows(rows)


@pytest.mark.parametrize('benchmark,writer', [
    ('pfpascal', write_pf_pascal), ('pfwillow', write_pf_willow),
    ('spair', write_spair)])
def test_tools_test_evaluates_a_checkpoint_on_each_benchmark(
        benchmark, writer, tmp_path, monkeypatch, capsys):
    from mmengine.registry import DefaultScope

    root = tmp_path / 'data'
    writer(root)
    _shifted_pairs(root, benchmark)
    config = osp.join(CONFIGS, f'hyperpixel_resnet50_{benchmark}.py')
    cfg_options = [f"{key}={str(value).replace(' ', '')}"
                   for key, value in TINY.items()]
    cfg_options.append(f'test_dataloader.dataset.data_root={root}')

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(TINY)
    checkpoint = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}),
               checkpoint)

    DefaultScope._instance_dict.clear()
    monkeypatch.setattr(sys, 'argv', [
        'test.py', config, str(checkpoint), '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', *cfg_options])
    runpy.run_path(TEST_TOOL, run_name='__main__')
    out = capsys.readouterr().out
    assert 'Epoch(test) [1/1]' in out, 'both pairs in one batch'
    for alpha in ('0.05', '0.1', '0.15'):
        assert f'pck/{alpha}: 100.0000' in out, out[-2000:]


def test_unknown_layer_index_in_tools_test_is_one_error_line(
        tmp_path, monkeypatch, capsys):
    from mmengine.registry import DefaultScope

    write_pf_pascal(tmp_path / 'data')
    config = osp.join(CONFIGS, 'hyperpixel_resnet50_pfpascal.py')
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(TINY)
    checkpoint = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), checkpoint)
    DefaultScope._instance_dict.clear()
    options = [f"{key}={str(value).replace(' ', '')}" for key, value in TINY.items()]
    monkeypatch.setattr(sys, 'argv', [
        'test.py', config, str(checkpoint), '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', *options, 'model.matcher.layer_ids=[2,40]',
        f'test_dataloader.dataset.data_root={tmp_path / "data"}'])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(TEST_TOOL, run_name='__main__')
    assert exit_info.value.code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 1 and err[0].startswith('error: layer ids [40]'), err


# -------------------------------------------------------- layer search

def test_beam_search_finds_the_best_set_and_scores_each_set_once():
    calls = []

    def score(ids):  # the best set is {2, 5, 7}
        calls.append(ids)
        return -len(set(ids) ^ {2, 5, 7})

    best, value, tried = beam_search(score, range(9), beam_size=3, max_layers=4)
    assert best == (2, 5, 7) and value == 0
    assert len(calls) == len(set(calls)) == len(tried)
    assert all(len(ids) <= 4 for ids in calls)


def test_cycle_score_ranks_layer_sets_by_their_own_cycle_loss():
    model = tiny_model(crop_size=32, crop_location='random')
    model.eval()
    generator = torch.Generator().manual_seed(4)
    image = torch.randn(2, 3, 64, 64, generator=generator)
    pairs = [(image, torch.roll(image, shifts=(8, 16), dims=(2, 3)))]
    score = cycle_score(model, pairs, seed=3)
    scores = {ids: score(ids) for ids in ((2, 6), (6, ))}

    torch.manual_seed(3)  # the crops cycle_score draws for every set
    crops = model.draw_crops(image)
    for ids, stride in (((2, 6), 4), ((6, ), 16)):
        with torch.no_grad():
            loss = model.cycle_loss(
                *pairs[0], lambda x: hyperpixel_features(model.backbone, x, ids),
                stride, crops)
        assert scores[ids] == pytest.approx(-loss.item(), rel=1e-5)
    assert scores[(2, 6)] != pytest.approx(scores[(6, )], rel=1e-2)
    best, _, _ = beam_search(score, (2, 6), beam_size=1, max_layers=1)
    assert best == max(((2, ), (6, )), key=score)


def test_training_runs_on_two_gloo_processes_with_identical_ranks(tmp_path):
    """The configs are 8-GPU recipes: MoCo's shuffle-BN and queue gather
    across ranks, so two CPU processes must train and stay in step."""
    config = tmp_path / 'two_ranks.py'
    config.write_text(
        f"_base_ = ['{CONFIGS}/"
        "mocov2-cycle_resnet18_1xb8-300it_shipped-photos-96px.py']\n"
        "custom_imports = dict(imports=['mmext', 'dump_rank_params'])\n"
        "custom_hooks = [dict(type='DumpRankParamsHook')]\n"
        "model = dict(queue_len=32, backbone=dict(base_channels=16,"
        " stem_channels=16), neck=dict(in_channels=128, hid_channels=32))\n"
        "train_cfg = dict(max_iters=2)\n"
        "train_dataloader = dict(batch_size=2)\n"
        "default_hooks = dict(checkpoint=dict(interval=2),"
        " logger=dict(interval=1))\n")
    result = run_tool(
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={29700 + os.getpid() % 200}',
        osp.join(REPO, 'tools', 'train.py'), config, '--launcher', 'pytorch',
        '--work-dir', tmp_path,
        env=dict(PYTHONPATH=f'{REPO}:{osp.join(REPO, "tests", "fixtures")}',
                 OMP_NUM_THREADS='1'))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'loss_cycle' in log and 'Distributed training: True' in log
    ranks = [torch.load(str(tmp_path / f'rank{r}_params.pth')) for r in (0, 1)]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key


# ------------------------------------------------------ configs and photos

def test_pfwillow_model_trains_its_cycle_on_pf_willow_pairs(tmp_path):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(osp.join(
        CONFIGS, 'mocov2-cycle-lw5e-5_resnet50_8xb32-20e_pfwillow.py'))
    assert cfg.model.cycle_weight == 5e-5
    assert cfg.val_cfg is None and cfg.default_hooks.checkpoint.save_best is None
    write_pf_willow(tmp_path)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pairs = DATASETS.build(dict(cfg.train_dataloader.dataset.datasets[1],
                                    data_root=str(tmp_path)))
        assert type(pairs) is PFWillowPairs and len(pairs) == 1
        assert [view.shape for view in pairs[0]['inputs']] == [(3, 224, 224)] * 2
    test = Config.fromfile(osp.join(CONFIGS, 'hyperpixel_resnet50_pfwillow.py'))
    assert test.test_dataloader.dataset.type == 'PFWillowPairs'
    assert test.model.matcher.layer_ids == (2, 11, 12, 13, 14)


def test_shipped_photos_cannot_be_corrupted_through_the_cache():
    from mmext.photos import shipped_photos
    photos = shipped_photos()
    before = photos['chelsea'].copy()
    with pytest.raises(ValueError, match='read-only'):
        photos['chelsea'][0, 0] = 0
    with pytest.raises(TypeError):
        photos['chelsea'] = np.zeros_like(before)
    edited = photos['chelsea'].copy()  # the way to change one
    edited[:] = 0
    again = shipped_photos()
    assert again['chelsea'] is photos['chelsea']
    np.testing.assert_array_equal(again['chelsea'], before)
    assert again['camera'].shape[-1] == 3  # grey photos over three channels
