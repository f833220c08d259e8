"""tools/train.py and tools/test.py end to end: train, resume, evaluate, DDP.
The one-line errors for bad input are tabled in test_user_errors.py."""
import os.path as osp
import pickle
import shutil
import sys

import pytest
import torch

from mmext.checkpoint import load_local_checkpoint

from ..conftest import DIGITS_CONFIG, REPO, load_tool, run_tool

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
PYTHON = sys.executable


def _assert_ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 4-iteration run saving iter_2 and iter_4."""
    work_dir = tmp_path_factory.mktemp('train')
    _assert_ok(run_tool(PYTHON, TRAIN, DIGITS_CONFIG, '--work-dir', work_dir))
    return work_dir


def _load(path):
    return load_local_checkpoint(str(path))


def _weights(path):
    return _load(path)['state_dict']


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6,
                                   msg=key)


def test_train_writes_checkpoints_that_hold_the_full_training_state(trained):
    assert open(trained / 'last_checkpoint').read().strip().endswith('iter_4.pth')
    checkpoint = load_local_checkpoint(str(trained / 'iter_4.pth'))
    assert checkpoint['meta']['iter'] == 4
    losses = checkpoint['message_hub']['log_scalars']['train/loss']
    assert len(losses.data[0]) == 4
    assert checkpoint['optimizer']['state'], 'momentum buffers are saved'
    assert checkpoint['param_schedulers'], 'scheduler state is saved'


def test_resume_from_a_path_continues_to_the_same_weights(trained, tmp_path):
    work_dir = tmp_path / 'resumed'
    _assert_ok(run_tool(PYTHON, TRAIN, DIGITS_CONFIG, '--work-dir', work_dir,
                        '--resume', trained / 'iter_2.pth'))
    resumed = load_local_checkpoint(str(work_dir / 'iter_4.pth'))
    assert resumed['meta']['iter'] == 4
    reference_losses = _load(trained / 'iter_4.pth')['message_hub']['log_scalars']
    resumed_losses = resumed['message_hub']['log_scalars']
    # The resumed hub starts from the one saved at iteration 2.
    assert len(resumed_losses['train/loss'].data[0]) == 4
    torch.testing.assert_close(
        torch.as_tensor(resumed_losses['train/loss'].data[0][:2]),
        torch.as_tensor(reference_losses['train/loss'].data[0][:2]))
    _assert_same_weights(resumed['state_dict'], _weights(trained / 'iter_4.pth'))
    reference = load_local_checkpoint(str(trained / 'iter_4.pth'))
    assert resumed['param_schedulers'] == reference['param_schedulers']
    for key, state in reference['optimizer']['state'].items():
        torch.testing.assert_close(
            resumed['optimizer']['state'][key]['momentum_buffer'],
            state['momentum_buffer'], rtol=1e-5, atol=1e-6)


def test_resume_auto_picks_the_latest_checkpoint(trained, tmp_path):
    work_dir = tmp_path / 'auto'
    shutil.copytree(trained, work_dir)
    result = run_tool(PYTHON, TRAIN, DIGITS_CONFIG, '--work-dir', work_dir,
                      '--resume', '--cfg-options', 'train_cfg.max_iters=6')
    _assert_ok(result)
    assert 'resumed epoch: 0, iter: 4' in (result.stdout + result.stderr)
    assert load_local_checkpoint(str(work_dir / 'iter_6.pth'))['meta']['iter'] == 6


def test_test_tool_evaluates_and_dumps_predictions(trained, tmp_path):
    out = tmp_path / 'preds.pkl'
    result = run_tool(PYTHON, TEST, DIGITS_CONFIG, trained / 'iter_4.pth',
                      '--work-dir', tmp_path, '--out', out)
    _assert_ok(result)
    assert 'accuracy/top1' in result.stdout + result.stderr
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 64
    assert predictions[0]['pred_score'].shape == (10, )


def test_test_tool_loads_a_plain_state_dict(trained, tmp_path):
    plain = tmp_path / 'plain.pth'
    torch.save(_weights(trained / 'iter_4.pth'), str(plain))
    _assert_ok(run_tool(PYTHON, TEST, DIGITS_CONFIG, plain, '--work-dir',
                        tmp_path))


def test_distributed_training_on_cpu_keeps_ranks_identical(tmp_path):
    config = tmp_path / 'ddp.py'
    config.write_text(
        f"_base_ = ['{DIGITS_CONFIG}']\n"
        "custom_imports = dict(imports=['mmext', 'dump_rank_params'])\n"
        "custom_hooks = [dict(type='DumpRankParamsHook')]\n")
    torchrun = osp.join(osp.dirname(PYTHON), 'torchrun')
    result = run_tool(
        torchrun, '--nproc_per_node=2', '--master_port=29531', TRAIN, config,
        '--launcher', 'pytorch', '--work-dir', tmp_path,
        env=dict(PYTHONPATH=f'{REPO}:{osp.join(REPO, "tests", "fixtures")}'))
    _assert_ok(result)
    assert 'Distributed training: True' in result.stdout + result.stderr
    rank0 = torch.load(str(tmp_path / 'rank0_params.pth'))
    rank1 = torch.load(str(tmp_path / 'rank1_params.pth'))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU refusal')
def test_amp_without_cuda_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [TRAIN, DIGITS_CONFIG, '--amp'])
    with pytest.raises(SystemExit) as exit_info:
        load_tool(TRAIN).main()
    assert exit_info.value.code == 2
    assert '--amp needs a CUDA device' in capsys.readouterr().err


def test_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, str(wrong))
    result = run_tool(PYTHON, TEST, DIGITS_CONFIG, wrong, '--work-dir', tmp_path)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert str(wrong) in result.stderr and 'backbone.conv1.weight' in result.stderr
