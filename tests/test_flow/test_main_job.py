"""The flow tools end to end: the demo, tools/train.py and tools/test.py on the
CPU quick-start config, and the quick start itself (a few iterations only)."""
import os.path as osp
import re
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmext.flow.datasets import make_flying_shapes_pair, read_flow
from mmext.registry import MODELS

from ..conftest import REPO, load_tool, run_tool

CONFIG = osp.join(REPO, 'configs', 'raft',
                  'raft-small_1xb8-600it_flyingshapes-64x96.py')
TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
QUICK_START = osp.join(REPO, 'tools', 'flow_quickstart.py')
DEMO = osp.join(REPO, 'demo', 'image_demo.py')
# One thread: several threads on a busy 2-core machine are many times slower.
ENV = dict(OMP_NUM_THREADS='1')
# Two iterations on small batches and a 2-pair validation split.
SHORT_RUN = [
    '--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'param_scheduler.total_steps=102', 'default_hooks.checkpoint.interval=2',
    'train_dataloader.batch_size=2', 'val_dataloader.dataset.num_samples=2'
]


def _assert_ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _run_in_process(monkeypatch, tool, *args):
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in args])
    load_tool(tool).main()


def _one_error_line(capsys):
    lines = [
        line for line in capsys.readouterr().err.splitlines()
        if line.startswith('error:')
    ]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """RAFT-S weights of the quick-start config in mmflow's file layout."""
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmext')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = tmp_path_factory.mktemp('ckpt') / 'raft_small.pth'
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, str(path))
    return path


def test_demo_writes_flow_and_picture(checkpoint, tmp_path, monkeypatch):
    # A size RAFT cannot take directly (not a multiple of 8).
    img1, img2, _, _ = make_flying_shapes_pair(0, img_size=(60, 90))
    for name, img in (('a.png', img1), ('b.png', img2)):
        cv2.imwrite(str(tmp_path / name), img)
    out, vis = tmp_path / 'out' / 'flow.flo', tmp_path / 'flow.png'
    _run_in_process(monkeypatch, DEMO, tmp_path / 'a.png',
                    tmp_path / 'b.png', CONFIG, checkpoint, '--out', out,
                    '--vis', vis)
    flow = read_flow(str(out))
    assert flow.shape == (60, 90, 2) and torch.isfinite(
        torch.from_numpy(flow)).all()
    assert cv2.imread(str(vis)).shape == (60, 90, 3)


def test_train_then_test_reports_epe_and_fl(tmp_path):
    _assert_ok(
        run_tool(sys.executable, TRAIN, CONFIG, '--work-dir', tmp_path,
                 *SHORT_RUN, env=ENV))
    checkpoint = tmp_path / 'iter_2.pth'
    assert checkpoint.is_file()
    result = run_tool(sys.executable, TEST, CONFIG, checkpoint, '--work-dir',
                      tmp_path, env=ENV)
    _assert_ok(result)
    # The config's test set is the real stereo pair.
    assert re.search(r'Iter\(test\).*EPE: [\d.]+\s+Fl: [\d.]+',
                     result.stdout + result.stderr)


def test_missing_dataset_root_gives_one_line_error(tmp_path, monkeypatch,
                                                   capsys):
    missing = tmp_path / 'FlyingChairs_release'
    config = osp.join(REPO, 'configs', 'raft',
                      'raft_8xb2-100k_flyingchairs-368x496.py')
    with pytest.raises(SystemExit) as exit_info:
        _run_in_process(monkeypatch, TRAIN, config, '--work-dir', tmp_path,
                        '--cfg-options',
                        f'train_dataloader.dataset.data_root={missing}')
    assert exit_info.value.code == 1
    assert str(missing) in _one_error_line(capsys)


#: Iterations of the quick start's short run: enough for the loss to fall
#: clearly (seed 0, FlyingPhotos: 50.6 -> 39.1), few enough to stay a test.
QUICK_ITERS = 20


@pytest.fixture(scope='module')
def quick_start(tmp_path_factory):
    """The main job, shortened: (its stdout, its work dir)."""
    work_dir = tmp_path_factory.mktemp('quick_start')
    result = run_tool(sys.executable, QUICK_START, '--iters', QUICK_ITERS,
                      '--threads', 1, '--work-dir', work_dir, env=ENV)
    _assert_ok(result)
    return result.stdout, work_dir


def test_quick_start_loss_falls(quick_start):
    stdout, _ = quick_start
    first, last = (float(x) for x in re.search(
        r'training loss: ([\d.]+) \(mean of the first 5 iterations\) -> '
        r'([\d.]+) \(mean of the last 5\)', stdout).groups())
    assert last < 0.9 * first


def test_quick_start_prints_the_comparison_table(quick_start):
    stdout, _ = quick_start
    rows = {
        cells[0]: [float(c) for c in cells[1:]]
        for cells in (
            [c.strip() for c in line.strip('|').split('|')]
            for line in stdout.splitlines()
            if line.startswith('| FlyingPhotos') or line.startswith(
                '| Middlebury'))
    }
    assert len(rows) == 2
    # Zero flow on the real pair at 1/4 scale: |u| averages 8.88 px.
    (stereo, ) = [v for k, v in rows.items() if k.startswith('Middlebury')]
    assert stereo[0] == pytest.approx(8.88, abs=0.01)
    # A model that predicted zero flow would score exactly as zero flow.
    for zero_epe, model_epe, _, _ in rows.values():
        assert abs(model_epe - zero_epe) > 0.05


def test_quick_start_model_predicts_flow(quick_start, tmp_path, monkeypatch):
    # The training checkpoint itself (optimizer and one-cycle scheduler state
    # included) loads with the safe loader, through the demo.
    _, work_dir = quick_start
    checkpoint = work_dir / f'iter_{QUICK_ITERS}.pth'
    img1, img2, gt, _ = make_flying_shapes_pair(0, split='val')
    for name, img in (('a.png', img1), ('b.png', img2)):
        cv2.imwrite(str(tmp_path / name), img)
    out = tmp_path / 'flow.flo'
    _run_in_process(monkeypatch, DEMO, tmp_path / 'a.png', tmp_path / 'b.png',
                    CONFIG, checkpoint, '--out', out)
    flow = read_flow(str(out))
    assert flow.shape == gt.shape
    assert np.abs(flow).mean() > 0.5


def test_quick_start_compares_with_opencv_at_three_scales(quick_start):
    stdout, _ = quick_start
    lines = stdout[stdout.index('Real motion'):].splitlines()
    header = [c.strip() for c in lines[1].strip('|').split('|')]
    assert header[1:] == [
        f'{name} EPE (px)' for name in ('zero flow', 'OpenCV Farneback',
                                        'OpenCV DIS medium', 'RAFT-S')
    ]
    rows = [[c.strip() for c in line.strip('|').split('|')]
            for line in lines[3:6]]
    assert [row[0].split(' ')[0] for row in rows] == ['full', '1/2', '1/4']
    # The peers' figures on the shipped pair (issue 16's table, full size).
    assert [float(c) for c in rows[0][1:4]] == [34.34, 25.52, 2.64]
    # The model's 1/4-scale EPE is the one the test loop measured.
    (stereo, ) = [
        line for line in stdout.splitlines()
        if line.startswith('| Middlebury stereo pair, 1/4')
    ]
    assert float(stereo.split('|')[3]) == pytest.approx(
        float(rows[2][4]), abs=0.01)
