"""The Middlebury colour coding of flow and the hook that draws predictions
during training."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.flow.visualization import (FlowVisualizationHook, flow_to_color,
                                      make_color_wheel, max_flow_magnitude)

from ..conftest import REPO

QUICK_START = osp.join(REPO, 'configs', 'raft',
                       'raft-small_1xb8-600it_flyingshapes-64x96.py')


def _color(u, v, max_flow=1.):
    return tuple(flow_to_color(np.array([[[u, v]]]), max_flow)[0, 0])


def test_wheel_runs_through_the_primaries():
    wheel = make_color_wheel()
    assert wheel.shape == (55, 3)
    # Red, yellow, green, cyan, blue, magenta start the six segments.
    starts = np.cumsum([0, 15, 6, 4, 11, 13])
    expected = [(255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255),
                (0, 0, 255), (255, 0, 255)]
    for start, color in zip(starts, expected):
        assert tuple(wheel[start]) == color


def test_known_directions_have_the_middlebury_colours():
    assert _color(1, 0) == (255, 0, 0)  # right: red
    assert _color(0, 1) == (255, 229, 0)  # down: yellow
    assert _color(-1, 0) == (0, 209, 255)  # left: cyan-blue
    assert _color(0, -1) == (88, 0, 255)  # up: violet
    assert _color(0, 0) == (255, 255, 255)  # no motion: white


def test_magnitude_sets_saturation():
    half = _color(0.5, 0, max_flow=1.)
    assert half == (255, 127, 127)  # half way from white to red
    assert _color(2, 0, max_flow=1.) == (191, 0, 0)  # beyond max: darker
    # Without max_flow, the largest magnitude is fully saturated.
    image = flow_to_color(np.array([[[4., 0.], [2., 0.]]]))
    assert tuple(image[0, 0]) == (255, 0, 0)
    assert tuple(image[0, 1]) == (255, 127, 127)


def test_layouts_invalid_pixels_and_errors():
    flow = np.random.default_rng(0).normal(size=(5, 7, 2)).astype(np.float32)
    expected = flow_to_color(flow)
    assert expected.shape == (5, 7, 3) and expected.dtype == np.uint8
    np.testing.assert_array_equal(
        flow_to_color(torch.from_numpy(flow).permute(2, 0, 1)), expected)
    flow[0, 0] = np.nan
    valid = np.ones((5, 7))
    valid[1, 1] = 0
    image = flow_to_color(flow, valid=valid)
    assert (image[0, 0] == 0).all() and (image[1, 1] == 0).all()
    flow[1, 1] = (30., 40.)  # invalid: ignored by the default scale
    assert max_flow_magnitude(flow, valid) < 5
    assert max_flow_magnitude(flow) == pytest.approx(50.)
    assert (image[2:] == expected[2:]).all()
    with pytest.raises(ValueError, match='shape'):
        flow_to_color(np.zeros((4, 4, 3)))


def _two_iteration_config(work_dir):
    cfg = Config.fromfile(QUICK_START)
    small = dict(num_samples=4, img_size=(64, 96))
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.update(small)
    cfg.val_dataloader.batch_size = 2
    cfg.val_dataloader.dataset.update(small)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.param_scheduler.total_steps = 102
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.visualization.num_pairs = 3
    cfg.work_dir = str(work_dir)
    return cfg


def test_hook_writes_pictures_of_the_first_validation_pairs(tmp_path):
    runner = Runner.from_cfg(_two_iteration_config(tmp_path))
    assert any(isinstance(hook, FlowVisualizationHook)
               for hook in runner.hooks)
    runner.train()
    vis = osp.join(runner.log_dir, 'vis', 'iter_2')
    # Three pairs from two validation batches of two.
    assert sorted(osp.basename(p) for p in _pngs(vis)) == [
        f'pair_{k}_{kind}.png' for k in range(3) for kind in ('panel', 'pred')
    ]
    panel = cv2.imread(osp.join(vis, 'pair_0_panel.png'))
    assert panel.shape == (64, 3 * 96, 3)
    assert cv2.imread(osp.join(vis, 'pair_2_pred.png')).shape == (64, 96, 3)
    # The panel starts with image 1 of the pair as it was loaded.
    image1 = runner.val_dataloader.dataset[0]['inputs'][:3]
    np.testing.assert_array_equal(panel[:, :96],
                                  image1.permute(1, 2, 0).numpy())

    runner.test()
    assert len(_pngs(osp.join(runner.log_dir, 'vis', 'test'))) == 6


def _pngs(folder):
    return glob.glob(osp.join(folder, '*.png'))
