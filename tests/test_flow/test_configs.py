"""The flow configs (mmflow's model-zoo recipes and the CPU quick start) and
the transforms only those recipes use."""
import copy
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmext.flow.datasets import (GaussianNoise, RandomAffine, RandomGamma,
                                 Validation, make_flying_shapes_pair,
                                 write_flying_chairs_layout)
from mmext.registry import DATASETS, MODELS

from ..conftest import REPO

CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'raft', '*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'pwcnet', '*.py')))
DATA = osp.join(REPO, 'tests', 'data')
RAFT_CHAIRS = osp.join(REPO, 'configs', 'raft',
                       'raft_8xb2-100k_flyingchairs-368x496.py')
PWCNET_CHAIRS = osp.join(REPO, 'configs', 'pwcnet',
                         'pwcnet_8xb1-slong_flyingchairs-384x448.py')


def _load(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    return cfg


def _leaf_datasets(dataset_cfg):
    """The on-disk / in-memory dataset dicts inside wrapper datasets."""
    if dataset_cfg['type'] == 'ConcatDataset':
        return [leaf for sub in dataset_cfg['datasets']
                for leaf in _leaf_datasets(sub)]
    if dataset_cfg['type'] == 'RepeatDataset':
        return _leaf_datasets(dataset_cfg['dataset'])
    return [dataset_cfg]


def _lazy(dataset_cfg):
    """A copy that builds without reading files (mmengine's lazy_init)."""
    dataset_cfg = copy.deepcopy(dataset_cfg)
    dataset_cfg['lazy_init'] = True
    for key in ('datasets', 'dataset'):
        value = dataset_cfg.get(key)
        if isinstance(value, list):
            dataset_cfg[key] = [_lazy(sub) for sub in value]
        elif isinstance(value, dict):
            dataset_cfg[key] = _lazy(value)
    return dataset_cfg


def test_every_zoo_recipe_has_a_config():
    names = {osp.basename(path) for path in CONFIGS}
    assert {
        'raft_8xb2-100k_flyingchairs-368x496.py',
        'raft_8xb2-100k_flyingthings3d-400x720.py',
        'raft_8xb2-100k_flyingthings3d-sintel-368x768.py',
        'raft_8xb2-100k_mixed-368x768.py',
        'raft_8xb2-50k_kitti2015-288x960.py',
        'pwcnet_8xb1-slong_flyingchairs-384x448.py',
        'pwcnet_8xb1-sfine_flyingthings3d-subset-384x768.py',
        'raft-small_1xb8-600it_flyingshapes-64x96.py',
    } <= names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_its_model_and_datasets(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmext'
    assert cfg.custom_imports['imports'] == ['mmext']
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == cfg.model['type']
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader is None:
            continue
        # Checks every dataset's arguments and builds its pipeline.
        DATASETS.build(_lazy(loader['dataset']))
        leaves = _leaf_datasets(loader['dataset'])
        assert all(leaf['type'] in DATASETS for leaf in leaves)
        # Evaluation sets are the datasets' test parts (where they have one).
        if split != 'train':
            assert all(leaf.get('test_mode', True) for leaf in leaves)


def _mmflow_keys(name):
    keys = {}
    with open(osp.join(DATA, name)) as f:
        for line in f:
            key, shape = line.strip().split(' ', 1)
            keys[key] = tuple(eval(shape))
    return keys


@pytest.mark.parametrize('path', [
    p for p in CONFIGS if osp.basename(p).startswith('raft_8xb2')
], ids=osp.basename)
def test_raft_zoo_configs_have_mmflow_weight_names(path):
    model = MODELS.build(_load(path).model)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == _mmflow_keys('mmflow_raft_state_dict_keys.txt')


@pytest.mark.parametrize('path', [
    p for p in CONFIGS if osp.basename(p).startswith('pwcnet_')
], ids=osp.basename)
def test_pwcnet_zoo_configs_have_mmflow_weight_names(path):
    model = MODELS.build(_load(path).model)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == _mmflow_keys('mmflow_pwcnet_state_dict_keys.txt')


def test_recipe_settings_follow_mmflow():
    chairs = _load(RAFT_CHAIRS)
    assert chairs.model.decoder.iters == 12 and not chairs.model.freeze_bn
    assert chairs.optim_wrapper.optimizer.lr == 4e-4
    assert chairs.optim_wrapper.clip_grad.max_norm == 1.
    assert chairs.param_scheduler.type == 'OneCycleLR'
    for name in ('flyingthings3d-400x720', 'mixed-368x768',
                 'flyingthings3d-sintel-368x768', 'kitti2015-288x960'):
        (path, ) = [p for p in CONFIGS if name in p]
        cfg = _load(path)
        assert cfg.model.freeze_bn and cfg.model.test_cfg.iters == 32
        assert cfg.optim_wrapper.optimizer.lr == 1.25e-4
    fine_tuned = [p for p in CONFIGS if 'mixed' in p or 'kitti' in p]
    for path in fine_tuned:
        assert _load(path).model.decoder.flow_loss.gamma == 0.85


@pytest.fixture(scope='module')
def chairs_root(tmp_path_factory):
    """FlyingChairs' layout holding 2 training and 1 validation pairs."""
    root = tmp_path_factory.mktemp('FlyingChairs_release')
    write_flying_chairs_layout(str(root), 2, 1, img_size=(64, 96))
    return str(root)


@pytest.mark.parametrize('path', [RAFT_CHAIRS, PWCNET_CHAIRS],
                         ids=osp.basename)
def test_chairs_recipes_run_their_pipelines_on_the_real_layout(
        path, chairs_root):
    np.random.seed(0)
    cfg = _load(path)
    for split, pairs in (('train', 2), ('val', 1)):
        dataset_cfg = dict(cfg[f'{split}_dataloader'].dataset,
                           data_root=chairs_root)
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == pairs
        packed = dataset[0]
        # Crops larger than these 64x96 pairs keep the pair's own size.
        assert packed['inputs'].shape == (6, 64, 96)
        sample = packed['data_samples']
        assert sample.gt_flow_fw.data.shape == (2, 64, 96)
        valid = sample.gt_valid_fw.data
        assert set(valid.unique().tolist()) <= {0., 1.} and valid.mean() > .3


# --------------------------------------------------------------------------
# Transforms of the recipes
# --------------------------------------------------------------------------


def _pair_results(seed=0, size=(64, 96)):
    img1, img2, flow, valid = make_flying_shapes_pair(
        seed, img_size=size, max_translation=4.)
    return dict(
        img1=img1, img2=img2, gt_flow_fw=flow, gt_valid_fw=valid,
        img_shape=size)


def test_validation_bounds_each_component_and_keeps_the_mask():
    flow = np.zeros((2, 3, 2), np.float32)
    flow[0, 0] = (999., 0.)
    flow[0, 1] = (0., -1000.)
    flow[0, 2] = (700., 700.)  # magnitude above 1000, components below
    valid = np.ones((2, 3), np.float32)
    valid[1, 2] = 0
    results = Validation(max_flow=1000.)(
        dict(gt_flow_fw=flow, gt_valid_fw=valid))
    np.testing.assert_array_equal(results['gt_valid_fw'],
                                  [[1, 0, 1], [1, 1, 0]])
    assert (results['gt_flow_fw'][0, 1] == 0).all()
    assert results['max_flow'] == 1000.


def test_random_gamma_matches_mmcv_lookup_and_needs_uint8():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1)
    transform = RandomGamma(gamma_range=(2., 2.))
    results = transform(dict(img1=img.copy(), img2=img.copy()))
    expected = ((np.arange(256) / 255.)**0.5 * 255).astype(np.uint8)
    np.testing.assert_array_equal(results['img1'][..., 0].ravel(), expected)
    with pytest.raises(TypeError, match='uint8'):
        transform(dict(img1=img.astype(np.float32), img2=img))


def test_gaussian_noise_is_in_pixel_units_and_clipped():
    np.random.seed(0)
    img = np.full((64, 64, 3), 128, np.uint8)
    results = GaussianNoise(sigma_range=(10., 10.))(
        dict(img1=img, img2=img.copy()))
    assert results['img1'].dtype == np.float32
    assert abs(results['img1'].std() - 10.) < 0.5
    assert not np.array_equal(results['img1'], results['img2'])
    white = np.full((8, 8, 3), 255, np.uint8)
    clipped = GaussianNoise((20., 20.))(dict(img1=white, img2=white))
    assert clipped['img1'].max() <= 255.


def test_random_affine_relative_translation_becomes_flow():
    results = _pair_results()
    results['gt_flow_fw'][:] = 0
    results['gt_valid_fw'][:] = 1
    # Only image 2 moves: by 0.01 of the centred extent (W-1, H-1) pixels.
    transform = RandomAffine(
        relative_transform=dict(translates=(0.01, 0.01)),
        preserve_valid=False)
    np.random.seed(0)
    out = transform(copy.deepcopy(results))
    tx, ty = out['relative_ndc_affine_mat'][:2, 2]
    inner = out['gt_valid_fw'] > 0
    np.testing.assert_allclose(out['gt_flow_fw'][inner, 0], tx * 95, atol=1e-4)
    np.testing.assert_allclose(out['gt_flow_fw'][inner, 1], ty * 63, atol=1e-4)


def test_random_affine_flow_still_maps_image1_onto_image2():
    """Warping the new image 2 back by the new flow gives the new image 1
    (up to interpolation, which blurs flow across motion boundaries)."""
    results = _pair_results(seed=3)
    transform = RandomAffine(
        global_transform=dict(
            translates=(0.05, 0.05), zoom=(1.0, 1.5), shear=(0.86, 1.16),
            rotate=(-10., 10.)),
        relative_transform=dict(
            translates=(0.00375, 0.00375), zoom=(0.985, 1.015),
            rotate=(-1.0, 1.0)))
    ys, xs = np.mgrid[0:64, 0:96].astype(np.float32)
    for seed in range(3):
        np.random.seed(seed)
        out = transform(copy.deepcopy(results))
        flow, valid = out['gt_flow_fw'], out['gt_valid_fw'] > 0
        warped = cv2.remap(out['img2'], xs + flow[..., 0], ys + flow[..., 1],
                           cv2.INTER_LINEAR)
        error = np.abs(warped.astype(float) - out['img1'])[valid]
        unaligned = np.abs(out['img2'].astype(float) - out['img1'])[valid]
        assert valid.mean() > 0.5
        assert np.median(error) <= 1.5, seed
        assert error.mean() < unaligned.mean() / 2, seed


def test_random_affine_rejects_unknown_keys_and_occlusion_maps():
    with pytest.raises(KeyError, match='scale'):
        RandomAffine(global_transform=dict(scale=(1, 2)))
    with pytest.raises(NotImplementedError):
        RandomAffine(check_bound=True)


def test_quick_start_config_trains_raft_small():
    cfg = _load(osp.join(REPO, 'configs', 'raft',
                         'raft-small_1xb8-600it_flyingshapes-64x96.py'))
    model = MODELS.build(cfg.model)
    assert model.decoder.net_type == 'Small'
    assert sum(p.numel() for p in model.parameters()) < 1.1e6
    assert cfg.train_dataloader.dataset.type == 'FlyingShapes'
    assert cfg.test_dataloader.dataset.type == 'MiddleburyStereoFlow'
    assert cfg.param_scheduler.total_steps == cfg.train_cfg.max_iters + 100
    with torch.no_grad():
        flow = model(torch.zeros(1, 6, 60, 90), mode='tensor')
    assert flow.shape == (1, 2, 60, 90)
