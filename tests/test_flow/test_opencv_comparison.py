"""The classical baselines beside the model in the user-facing tools:
``demo/image_demo.py --compare-opencv`` and the quick start's table."""
import os.path as osp
import re
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmext.flow.datasets import MiddleburyStereoFlow, read_flow
from mmext.flow.evaluation.opencv_peers import dis_flow, warp_residual
from mmext.registry import MODELS

from ..conftest import REPO, load_tool

CONFIG = osp.join(REPO, 'configs', 'raft',
                  'raft-small_1xb4-600it_flyingphotos-128x160.py')
DEMO = osp.join(REPO, 'demo', 'image_demo.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """Randomly initialised RAFT-S weights of the quick-start config."""
    init_default_scope('mmext')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    path = tmp_path_factory.mktemp('ckpt') / 'raft_small.pth'
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, str(path))
    return path


def test_demo_compare_opencv(checkpoint, tmp_path, monkeypatch, capsys):
    img1, img2, _, _ = MiddleburyStereoFlow(downscale=4).make_pair({})
    for name, img in (('left.png', img1), ('right.png', img2)):
        cv2.imwrite(str(tmp_path / name), img)
    out, vis = tmp_path / 'flow.flo', tmp_path / 'pics' / 'flow.png'
    monkeypatch.setattr(sys, 'argv', [
        DEMO, str(tmp_path / 'left.png'), str(tmp_path / 'right.png'), CONFIG,
        str(checkpoint), '--out', str(out), '--vis', str(vis),
        '--compare-opencv'
    ])
    load_tool(DEMO).main()
    printed = capsys.readouterr().out
    flow, dis = read_flow(str(out)), dis_flow(img1, img2)
    match = re.search(r'mean end-point difference ([\d.]+) px.*model '
                      r'([\d.]+), DIS ([\d.]+)', printed)
    assert match, printed
    difference, model_fit, dis_fit = map(float, match.groups())
    assert difference == pytest.approx(
        np.linalg.norm(flow - dis, axis=-1).mean(), abs=0.01)
    assert model_fit == pytest.approx(
        warp_residual(img1, img2, flow), abs=0.01)
    # DIS follows the real motion: it warps the right image onto the left
    # much better than zero flow.
    assert dis_fit < 0.7 * warp_residual(img1, img2, 0 * dis)
    picture = cv2.imread(str(tmp_path / 'pics' / 'flow_opencv-dis.png'))
    assert picture.shape == img1.shape
    assert cv2.imread(str(vis)).shape == img1.shape
