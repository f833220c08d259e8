"""weights_only-safe checkpoint loading and atomic checkpoint writes."""
import io
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

import mmext  # noqa: F401
from mmext.checkpoint import (CheckpointError, load_local_checkpoint,
                              load_model_weights)


class _RunsCodeWhenUnpickled:
    """Unpickling this calls os.system: a stand-in for a hostile checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _message_hub_state():
    hub = MessageHub.get_instance('test_checkpoint_hub')
    for value in (0.5, 0.25):
        hub.update_scalar('train/loss', value)
    hub.update_info('eta', np.float64(3.5))
    return hub.state_dict()


def test_mmengine_style_checkpoint_round_trips_with_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    checkpoint = dict(
        meta=dict(epoch=1, iter=2, seed=0),
        state_dict=model.state_dict(),
        optimizer=optimizer.state_dict(),
        message_hub=_message_hub_state())
    save_checkpoint(checkpoint, path)

    assert torch.serialization.get_unsafe_globals_in_checkpoint(path)
    loaded = _load_checkpoint(path)  # mmengine's entry point -> mmext's loader
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(0.375)
    assert loaded['message_hub']['runtime_info']['eta'] == 3.5
    momentum = loaded['optimizer']['state'][0]['momentum_buffer']
    assert torch.equal(momentum, optimizer.state_dict()['state'][0]['momentum_buffer'])


def test_history_buffer_pickles_without_functions():
    data = pickle.dumps(HistoryBuffer([1.0, 2.0], [1, 1]))
    assert b'getattr' not in data
    restored = pickle.loads(data)
    assert restored.mean() == 1.5 and restored.max() == 2.0


def test_one_cycle_scheduler_state_loads_with_weights_only(tmp_path):
    from mmengine.optim.scheduler import OneCycleLR

    optimizer = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=4e-4)
    scheduler = OneCycleLR(optimizer, eta_max=4e-4, total_steps=100)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint({'param_schedulers': [scheduler.state_dict()]}, path)
    state = load_local_checkpoint(path)['param_schedulers'][0]
    assert 'anneal_func' not in state

    resumed = OneCycleLR(optimizer, eta_max=4e-4, total_steps=100)
    resumed.load_state_dict(state)
    assert resumed.last_step == scheduler.last_step
    assert resumed.anneal_func is scheduler.anneal_func


def test_hostile_checkpoint_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'hostile.pth'
    torch.save({'state_dict': {}, 'payload': _RunsCodeWhenUnpickled(marker)},
               str(path))
    with pytest.raises(CheckpointError) as info:
        load_local_checkpoint(str(path))
    message = str(info.value)
    assert str(path) in message and 'posix.system' in message
    assert not marker.exists()


@pytest.mark.parametrize('damage', ['truncate', 'garbage'])
def test_corrupt_checkpoint_gives_one_clear_error(tmp_path, damage):
    path = tmp_path / 'ckpt.pth'
    torch.save({'w': torch.arange(1000.)}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if damage == 'truncate' else
                     b'not a checkpoint' * 10)
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        load_local_checkpoint(str(path))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        load_local_checkpoint(str(tmp_path / 'nothing.pth'))


@pytest.mark.parametrize('layout', ['mmext', 'mmpretrain', 'plain', 'ddp'])
def test_load_model_weights_accepts_the_usual_layouts(tmp_path, layout):
    source = torch.nn.Linear(3, 2)
    state = source.state_dict()
    checkpoint = {
        'mmext': dict(meta=dict(iter=3), state_dict=state,
                      message_hub=_message_hub_state()),
        'mmpretrain': dict(meta=dict(mmpretrain_version='1.2.0',
                                     dataset_meta=dict(classes=('a', 'b'))),
                           state_dict=state),
        'plain': state,
        'ddp': {'module.' + k: v for k, v in state.items()},
    }[layout]
    path = str(tmp_path / 'ckpt.pth')
    torch.save(checkpoint, path)
    target = torch.nn.Linear(3, 2)
    load_model_weights(target, path)
    assert torch.equal(target.weight, source.weight)


def test_load_model_weights_lists_missing_and_unexpected_keys(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'state_dict': {'weight': torch.zeros(2, 3), 'extra': torch.zeros(1)}},
               path)
    with pytest.raises(CheckpointError) as info:
        load_model_weights(torch.nn.Linear(3, 2), path)
    message = str(info.value)
    assert path in message
    assert 'missing keys [bias]' in message
    assert 'unexpected keys [extra]' in message


def test_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / 'latest.pth'
    backend = LocalBackend()
    backend.put(b'old checkpoint', str(path))

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'x' * (1 << 20), str(path))
    assert path.read_bytes() == b'old checkpoint'
    assert os.listdir(tmp_path) == ['latest.pth']


def test_atomic_write_keeps_normal_permissions(tmp_path):
    path = tmp_path / 'file.bin'
    LocalBackend().put(b'data', str(path))
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_bytes() == b'data'
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_torch_save_into_buffer_is_unaffected():
    buffer = io.BytesIO()
    torch.save({'a': torch.ones(2)}, buffer)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer)['a'], torch.ones(2))
