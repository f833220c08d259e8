"""CPU distributed training and testing through tools/dist_train.sh and
tools/dist_test.sh: RAFT-S (SyncBN in its context encoder) on two gloo
processes, started without an activated virtual environment."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from mmext.checkpoint import load_local_checkpoint

from ..conftest import REPO

RAFT_SMALL = osp.join(REPO, 'configs', 'raft',
                      'raft-small_1xb8-600it_flyingshapes-64x96.py')
# Two iterations of batch 2 per rank on a handful of pairs; validation on
# two pairs.
SHRINK = [
    'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
    'train_dataloader.dataset.num_samples=8',
    'val_dataloader.dataset.num_samples=2', 'val_dataloader.batch_size=1',
    'default_hooks.checkpoint.interval=2',
    'default_hooks.visualization.num_pairs=0'
]

# Imported by every rank: each saves its whole final state (parameters and
# BatchNorm running statistics) as rank<r>_state.pth in the work dir.
DUMP_MODULE = '''
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpRankStateHook(Hook):

    def after_run(self, runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        torch.save(model.state_dict(),
                   osp.join(runner.work_dir, f'rank{get_rank()}_state.pth'))
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run_script(script, *args, cwd):
    """Run a tools/ shell script with neither the venv on PATH nor torchrun:
    only the interpreter named by PYTHON."""
    env = dict(
        PATH='/usr/bin:/bin',
        HOME=os.environ.get('HOME', '/tmp'),
        PYTHON=sys.executable,
        PYTHONPATH=str(cwd),
        PORT=str(_free_port()),
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', script), *map(str, args)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


@pytest.fixture(scope='module')
def raft_run(tmp_path_factory):
    """RAFT-S trained by tools/dist_train.sh on two CPU processes."""
    work_dir = tmp_path_factory.mktemp('dist_raft')
    (work_dir / 'dump_rank_state.py').write_text(DUMP_MODULE)
    config = work_dir / 'raft_small_dumps.py'
    config.write_text(
        f"_base_ = ['{RAFT_SMALL}']\n"
        "custom_imports = dict(imports=['mmext', 'dump_rank_state'],"
        " allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DumpRankStateHook')]\n")
    log = _run_script('dist_train.sh', config, 2, '--work-dir', work_dir,
                      '--cfg-options', *SHRINK, cwd=work_dir)
    return work_dir, log


def test_raft_small_with_sync_bn_trains_on_two_cpu_processes(raft_run):
    work_dir, log = raft_run
    assert 'Distributed training: True' in log
    assert '21 SyncBatchNorm layers reverted to BatchNorm' in log
    rank0 = torch.load(str(work_dir / 'rank0_state.pth'))
    rank1 = torch.load(str(work_dir / 'rank1_state.pth'))
    checkpoint = load_local_checkpoint(str(work_dir / 'iter_2.pth'))
    saved = checkpoint['state_dict']
    assert checkpoint['meta']['iter'] == 2
    statistics = [
        k for k in rank0 if k.endswith(('running_mean', 'running_var'))
    ]
    assert statistics
    for key in rank0:
        if key in statistics:
            continue
        # DDP averages the gradients: the weights agree on both ranks.
        assert torch.equal(rank0[key], rank1[key]), key
        assert torch.equal(saved[key], rank0[key]), key
    # Each rank estimates BN statistics from its own batches; the checkpoint
    # holds rank 0's (README, Tools).
    assert any(not torch.equal(rank0[k], rank1[k]) for k in statistics)
    for key in statistics:
        assert torch.equal(saved[key], rank0[key]), key


def test_dist_test_evaluates_on_two_cpu_processes(raft_run, tmp_path):
    work_dir, _ = raft_run
    log = _run_script('dist_test.sh', RAFT_SMALL, work_dir / 'iter_2.pth', 2,
                      '--work-dir', tmp_path, cwd=REPO)
    assert 'Distributed training: True' in log
    assert 'EPE:' in log and 'Fl:' in log
