"""Training never loses its checkpoints and never ignores the weights it is
given: a run killed while it saves keeps a loadable checkpoint, ``load_from``
weights that do not fit the model and ``--resume`` from a weights-only file
stop with one error line."""
import importlib.util
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from mmext.checkpoint import load_local_checkpoint

from ..conftest import DIGITS_CONFIG, REPO

TRAIN = osp.join(REPO, 'tools', 'train.py')
RAFT_LCV_CONFIG = osp.join(REPO, 'configs', 'lcv',
                           'raft-small-lcv_1xb8-600it_flyingshapes-64x96.py')

# Imported by the training subprocess: the rename that completes the atomic
# write of the checkpoint named by STALL_WRITE_OF waits until the process is
# killed, so the test kills it mid-save at the moment where mmengine's own
# CheckpointHook has already deleted the previous checkpoint.
STALL_MODULE = '''
import os
import time

_replace = os.replace


def _stalling_replace(src, dst, *args, **kwargs):
    if os.environ.get('STALL_WRITE_OF') and str(dst).endswith(
            os.environ['STALL_WRITE_OF']):
        open(os.environ['STALL_MARKER'], 'w').close()
        time.sleep(600)
    return _replace(src, dst, *args, **kwargs)


os.replace = _stalling_replace
'''


def _env(tmp_path, **extra):
    return dict(os.environ, PYTHONPATH=f'{REPO}:{tmp_path}',
                OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', **extra)


def _train_until_killed_in_save(config, work_dir, tmp_path, *options):
    marker = tmp_path / 'stalled'
    log = tmp_path / 'killed_run.log'
    with open(log, 'w') as log_file:
        process = subprocess.Popen(
            [sys.executable, TRAIN, str(config), '--work-dir', str(work_dir),
             '--no-validate', '--cfg-options', *options],
            cwd=REPO,
            env=_env(tmp_path, STALL_WRITE_OF='iter_4.pth',
                     STALL_MARKER=str(marker)),
            stdout=log_file,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not marker.exists():
            if process.poll() is not None:
                pytest.fail('training ended before the stalled save: '
                            + log.read_text()[-3000:])
            assert time.monotonic() < deadline, 'the save never started'
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_kill_during_save_keeps_a_checkpoint_and_resume_continues(
        tmp_path, monkeypatch, capsys):
    (tmp_path / 'stall_checkpoint_write.py').write_text(STALL_MODULE)
    config = tmp_path / 'stalls.py'
    config.write_text(
        f"_base_ = ['{DIGITS_CONFIG}']\n"
        "custom_imports = dict(imports=['mmext', 'stall_checkpoint_write'],"
        " allow_failed_imports=False)\n")
    keep_one = 'default_hooks.checkpoint.max_keep_ckpts=1'
    work_dir = tmp_path / 'work'

    _train_until_killed_in_save(config, work_dir, tmp_path, keep_one)

    # Killed inside the write of iter_4: its temporary file is all there is
    # of it, and the previous checkpoint is still whole and pointed at.
    assert [p.name.startswith('.iter_4.pth.') for p in work_dir.glob('.*.tmp')
            ] == [True]
    assert not (work_dir / 'iter_4.pth').exists()
    last = (work_dir / 'last_checkpoint').read_text().strip()
    assert last == str(work_dir / 'iter_2.pth')
    assert load_local_checkpoint(last)['meta']['iter'] == 2

    code, output = _run_train(monkeypatch, capsys, DIGITS_CONFIG, '--work-dir',
                              work_dir, '--no-validate', '--resume',
                              '--cfg-options', keep_one)
    assert code == 0, output[-3000:]
    assert 'resumed epoch: 0, iter: 2' in output
    assert 'left by a write that was interrupted' in output
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_4.pth']
    assert not list(work_dir.glob('.*.tmp'))
    last = (work_dir / 'last_checkpoint').read_text().strip()
    assert last == str(work_dir / 'iter_4.pth')
    assert load_local_checkpoint(last)['meta']['iter'] == 4


def test_previous_best_checkpoint_goes_only_after_the_new_one_is_written(
        tmp_path):
    from mmengine.logging import MessageHub, MMLogger

    from mmext.engine import CrashSafeCheckpointHook

    def save_checkpoint(out_dir, filename, *args, **kwargs):
        if filename == killed_during:
            raise KeyboardInterrupt  # stands in for a kill in the write
        (tmp_path / filename).write_bytes(b'weights')

    runner = SimpleNamespace(
        work_dir=str(tmp_path), epoch=0, iter=0,
        message_hub=MessageHub.get_instance('best_checkpoint_order'),
        logger=MMLogger.get_instance('best_checkpoint_order'),
        save_checkpoint=save_checkpoint)
    hook = CrashSafeCheckpointHook(by_epoch=False, save_best='acc',
                                   rule='greater')
    hook.before_train(runner)
    killed_during = 'best_acc_iter_3.pth'
    for runner.iter, acc in ((1, 0.5), (2, 0.6)):
        hook.after_val_epoch(runner, {'acc': acc})
    assert [p.name for p in tmp_path.iterdir()] == ['best_acc_iter_2.pth']

    runner.iter = 3
    with pytest.raises(KeyboardInterrupt):
        hook.after_val_epoch(runner, {'acc': 0.7})
    assert [p.name for p in tmp_path.iterdir()] == ['best_acc_iter_2.pth']


def _run_train(monkeypatch, capsys, *args):
    """Run tools/train.py's main in this process; return the exit code and
    what it printed."""
    spec = importlib.util.spec_from_file_location('train_tool', TRAIN)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', [TRAIN] + [str(a) for a in args])
    code = 0
    try:
        tool.main()
    except SystemExit as exit_info:
        code = exit_info.code
    output = capsys.readouterr()
    return code, output.out + output.err


def _error_lines(output):
    return [line for line in output.splitlines() if line.startswith('error:')]


def test_load_from_that_does_not_fit_stops_with_one_line(
        tmp_path, monkeypatch, capsys):
    wrong = tmp_path / 'other_model.pth'
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}},
               str(wrong))
    code, output = _run_train(
        monkeypatch, capsys, DIGITS_CONFIG, '--work-dir', tmp_path,
        '--no-validate', '--cfg-options', f'load_from={wrong}')
    errors = _error_lines(output)
    assert code == 1
    assert len(errors) == 1, errors
    assert str(wrong) in errors[0] and 'backbone.conv1.weight' in errors[0]
    assert not list(tmp_path.glob('iter_*.pth')), 'no training happened'


def test_resume_from_weights_only_stops_with_one_line(
        tmp_path, monkeypatch, capsys):
    weights = tmp_path / 'weights.pth'
    torch.save({'backbone.conv1.weight': torch.zeros(64, 3, 7, 7)},
               str(weights))
    code, output = _run_train(
        monkeypatch, capsys, DIGITS_CONFIG, '--work-dir', tmp_path,
        '--no-validate', '--resume', weights)
    assert code == 1
    assert _error_lines(output) == [
        f'error: Cannot resume from {weights}: it holds model weights only, '
        'not a training checkpoint (no "meta"); start from these weights '
        f'with --cfg-options load_from={weights}'
    ]


def test_lcv_loads_vanilla_weights_but_nothing_else_missing(tmp_path):
    """RAFT-LCV from a vanilla RAFT checkpoint: only the declared LCV keys may
    be missing; they keep their identity start, every other weight comes
    from the file. One more missing key is refused."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmext.checkpoint import CheckpointError
    from mmext.engine import CheckpointFitHook, optional_checkpoint_keys
    from mmext.registry import MODELS

    cfg = Config.fromfile(RAFT_LCV_CONFIG)
    with DefaultScope.overwrite_default_scope('mmext'):
        model = MODELS.build(cfg.model)
    torch.manual_seed(1)
    vanilla = {k: torch.randn_like(v) if v.is_floating_point() else v
               for k, v in model.state_dict().items()
               if not k.startswith('decoder.cost_volume.')}
    assert optional_checkpoint_keys(model) == [
        'decoder.cost_volume.raw_A', 'decoder.cost_volume.raw_D'
    ]
    runner = SimpleNamespace(model=model)
    hook = CheckpointFitHook('vanilla.pth')
    hook.after_load_checkpoint(runner, {'state_dict': vanilla})
    loaded = model.state_dict()
    for key, value in vanilla.items():
        assert torch.equal(loaded[key], value), key
    channels = model.decoder.cost_volume.raw_D.numel()
    assert torch.equal(model.decoder.cost_volume.raw_A, torch.eye(channels))

    key = next(k for k in vanilla if k.endswith('running_mean'))
    del vanilla[key]
    with pytest.raises(CheckpointError, match=f'vanilla.pth.*{key}'):
        hook.after_load_checkpoint(runner, {'state_dict': vanilla})
