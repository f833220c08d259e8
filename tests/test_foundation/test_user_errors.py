"""Bad input a user can give the tools, one table: each case runs the real
tool (its ``main``, in-process) and must end with exit status 1 and exactly
one stderr line, ``error: ...``, naming the file, key or value, without a
traceback. One case also runs as a real process, where warnings would show."""
import logging
import os
import os.path as osp
import pickle
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmext.engine import UserError, cli_main
from mmext.registry import MODELS

from ..conftest import DIGITS_CONFIG, REPO, load_tool, run_tool

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
DEMO = osp.join(REPO, 'demo', 'image_demo.py')
RAFT_SMALL = osp.join(REPO, 'configs', 'raft',
                      'raft-small_1xb8-600it_flyingshapes-64x96.py')
# RAFT-S pads to a multiple of 8 and pools its 1/8-scale correlation 3 times
# (4 levels): the padded side must reach 8 * 2**3 = 64, so 57 is the least.
RAFT_SMALL_MIN_SIDE = 8 * 2**3 - 8 + 1
NOBODY = 65534
# Run as nobody when the tests run as root, who may read any file.
UNPRIVILEGED = {'config the OS cannot open'}


@pytest.fixture
def public_tmp():
    """A folder that every user may enter (pytest's are root's alone)."""
    folder = tempfile.mkdtemp(prefix='mmext-test-')
    os.chmod(folder, 0o755)
    yield Path(folder)
    shutil.rmtree(folder)


@pytest.fixture(scope='module')
def raft_small_checkpoint(tmp_path_factory):
    init_default_scope('mmext')
    model = MODELS.build(Config.fromfile(RAFT_SMALL).model)
    path = tmp_path_factory.mktemp('raft') / 'raft_small.pth'
    torch.save({'state_dict': model.state_dict()}, str(path))
    return path


def _image(path, size=(64, 96)):
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.random.default_rng(0).integers(0, 255, size + (3, ), np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


def _flow_test_config(tmp, dataset, num_workers=0):
    """RAFT-S evaluated on ``dataset`` (a dict) read from files."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackFlowInputs')]
    dataset = dict(dataset, _delete_=True, test_mode=True, pipeline=pipeline)
    path = tmp / 'flow_test.py'
    path.write_text(f"_base_ = ['{RAFT_SMALL}']\n"
                    f'test_dataloader = dict(num_workers={num_workers}, '
                    f'dataset={dataset!r})\n')
    return path


def _flow_test(tmp, ckpt, dataset, num_workers=0):
    return [TEST, _flow_test_config(tmp, dataset, num_workers), ckpt,
            '--work-dir', tmp / 'work']


def _kitti_without_pairs(tmp, ckpt):
    for folder in ('image_2', 'flow_occ'):
        os.makedirs(tmp / 'kitti' / 'training' / folder)
    return _flow_test(tmp, ckpt, dict(type='KITTI2015',
                                      data_root=str(tmp / 'kitti')))


def _chairs_with_4_byte_flo(tmp, ckpt):
    root = tmp / 'chairs'
    for suffix in ('img1', 'img2'):
        _image(root / 'data' / f'00001_{suffix}.ppm')
    (root / 'data' / '00001_flow.flo').write_bytes(b'PIEH')
    (root / 'FlyingChairs_train_val.txt').write_text('2\n')
    return _flow_test(tmp, ckpt, dict(type='FlyingChairs', data_root=str(root)))


def _things_with_nan_pfm_scale(tmp, ckpt):
    root = tmp / 'things'
    for frame in (6, 7):
        _image(root / 'frames_cleanpass' / 'TEST' / 'A' / '0000' / 'left' /
               f'{frame:04d}.png')
    flow = (root / 'optical_flow' / 'TEST' / 'A' / '0000' / 'into_future' /
            'left' / 'OpticalFlowIntoFuture_0006_L.pfm')
    os.makedirs(flow.parent)
    flow.write_bytes(b'PF\n96 64\nnan\n' + bytes(4 * 3 * 96 * 64))
    # Read in a DataLoader worker, which sends the error back as text.
    return _flow_test(
        tmp, ckpt, dict(type='FlyingThings3D', data_root=str(root),
                        direction='forward'), num_workers=1)


def _demo(tmp, ckpt, size1=(64, 96), size2=(64, 96)):
    return [DEMO, _image(tmp / 'a.png', size1), _image(tmp / 'b.png', size2),
            RAFT_SMALL, ckpt, '--out', tmp / 'flow.flo']


def _saved(tmp, name, obj):
    torch.save(obj, str(tmp / name))
    return tmp / name


def _digits_test(checkpoint, tmp):
    return [TEST, DIGITS_CONFIG, checkpoint, '--work-dir', tmp]


def _truncated(checkpoint, tmp):
    data = checkpoint.read_bytes()
    (tmp / 'cut.pth').write_bytes(data[:len(data) // 2])
    return tmp / 'cut.pth'


def _plain_pickle(tmp):
    with open(tmp / 'weights.pkl', 'wb') as f:
        pickle.dump({'weight': np.zeros(3)}, f)
    return tmp / 'weights.pkl'


def _legacy_tar(tmp):
    """The layout of PyTorch < 0.4's tar checkpoints."""
    with tarfile.open(tmp / 'old.pth', 'w') as archive:
        for member in ('sys_info', 'pickle', 'tensors', 'storages'):
            (tmp / member).write_bytes(pickle.dumps(0, protocol=2))
            archive.add(tmp / member, arcname=member)
    return tmp / 'old.pth'


def _zip_of_weights(tmp):
    with zipfile.ZipFile(tmp / 'weights.zip', 'w') as archive:
        archive.writestr('weights/model.npy', b'\x93NUMPY')
    return tmp / 'weights.zip'


def _unreadable(tmp):
    path = _file(tmp / 'locked.py', 'a = 1\n')
    os.chmod(path, 0)
    return path


def _child_of_broken_base(tmp):
    base = _file(tmp / 'base.py', 'a = [1,\n')
    return _file(tmp / 'child.py', f"_base_ = ['{base}']\n")


def _file(path, text='x'):
    path.write_text(text)
    return path


def _folder(path):
    os.makedirs(path)
    return path


# name: (tool and arguments from (tmp_path, RAFT-S checkpoint), words the
# error line must contain ('{tmp}' is the test's folder)).
CASES = {
    'config that does not exist': (
        lambda tmp, ckpt: [TRAIN, tmp / 'nope.py'],
        ['Config file not found: {tmp}/nope.py']),
    'unknown type name': (
        lambda tmp, ckpt: [TRAIN, DIGITS_CONFIG, '--work-dir', tmp,
                           '--cfg-options', 'model.backbone.type=ResNot'],
        ['ResNot is not in the']),
    'checkpoint that does not exist': (
        lambda tmp, ckpt: _demo(tmp, tmp / 'none.pth'),
        ['Checkpoint not found: {tmp}/none.pth']),
    'truncated checkpoint': (
        lambda tmp, ckpt: _demo(tmp, _truncated(ckpt, tmp)),
        ['{tmp}/cut.pth is truncated or corrupt']),
    'checkpoint that does not fit': (
        lambda tmp, ckpt: _demo(
            tmp, _saved(tmp, 'f.pth', {'state_dict': {'x': torch.zeros(1)}})),
        ['{tmp}/f.pth does not fit RAFT', 'unexpected keys [x]']),
    'config the OS cannot open': (
        lambda tmp, ckpt: [TRAIN, _unreadable(tmp)],
        ['{tmp}/locked.py: Permission denied']),
    'config is a folder': (
        lambda tmp, ckpt: [TRAIN, _folder(tmp / 'configs')],
        ['{tmp}/configs is a folder']),
    'checkpoint is a folder': (
        lambda tmp, ckpt: _demo(tmp, _folder(tmp / 'ckpts')),
        ['{tmp}/ckpts is a folder']),
    'image the OS cannot open': (
        lambda tmp, ckpt: [DEMO, tmp / 'none.png', _image(tmp / 'b.png'),
                           RAFT_SMALL, ckpt, '--out', tmp / 'f.flo'],
        ['{tmp}/none.png: No such file or directory']),
    'output the OS cannot write': (
        lambda tmp, ckpt: _demo(tmp, ckpt)[:-1] +
        [_folder(tmp / 'out.flo')],
        ['{tmp}/out.flo: Is a directory']),
    'config with a syntax error': (
        lambda tmp, ckpt: [TRAIN, _file(tmp / 'bad.py', 'a = 1\nb = (\n')],
        ['config {tmp}/bad.py, line 2', 'never closed']),
    'base config with a syntax error': (
        lambda tmp, ckpt: [TRAIN, _child_of_broken_base(tmp)],
        ['{tmp}/base.py', 'line 1']),
    'test.py arguments swapped': (
        lambda tmp, ckpt: [TEST, ckpt, RAFT_SMALL],
        ['CONFIG {ckpt}', 'CONFIG CHECKPOINT']),
    '--out with a wrong suffix': (
        lambda tmp, ckpt: _digits_test(ckpt, tmp) + ['--out', tmp / 'p.json'],
        ['--out must be a .pkl file', '{tmp}/p.json']),
    '--cfg-options without =': (
        lambda tmp, ckpt: [TRAIN, DIGITS_CONFIG, '--cfg-options',
                           'train_cfg.max_iters'],
        ["--cfg-options takes key=value pairs, got 'train_cfg.max_iters'"]),
    '--work-dir is a file': (
        lambda tmp, ckpt: [TRAIN, DIGITS_CONFIG, '--work-dir',
                           _file(tmp / 'work')],
        ['--work-dir {tmp}/work is a file']),
    'dataset root without pairs': (
        _kitti_without_pairs,
        ['KITTI2015: no test image pairs under {tmp}/kitti']),
    'images of different sizes': (
        lambda tmp, ckpt: _demo(tmp, ckpt, (64, 96), (64, 80)),
        ['differ in size', '{tmp}/a.png is 64x96', '{tmp}/b.png is 64x80']),
    'images too small for the model': (
        lambda tmp, ckpt: _demo(tmp, ckpt, (40, 96), (40, 96)),
        ['40x96 pixels, too small for RAFT',
         f'at least {RAFT_SMALL_MIN_SIDE} pixels']),
    'checkpoint holding a tensor': (
        lambda tmp, ckpt: _digits_test(
            _saved(tmp, 't.pth', torch.zeros(3)), tmp),
        ['{tmp}/t.pth holds a tensor of shape (3,)']),
    'checkpoint holding a list': (
        lambda tmp, ckpt: _demo(tmp, _saved(tmp, 'l.pth', [1, 2])),
        ['{tmp}/l.pth holds a list of 2 items']),
    'checkpoint holding an int': (
        lambda tmp, ckpt: _demo(tmp, _saved(tmp, 'i.pth', 7)),
        ['{tmp}/i.pth holds a int (7)']),
    '.flo of 4 bytes': (
        _chairs_with_4_byte_flo,
        ['{tmp}/chairs/data/00001_flow.flo', 'header is truncated']),
    '.pfm with scale nan': (
        _things_with_nan_pfm_scale,
        ["OpticalFlowIntoFuture_0006_L.pfm: invalid .pfm scale 'nan'"]),
    'legacy tar checkpoint': (
        lambda tmp, ckpt: _demo(tmp, _legacy_tar(tmp)),
        ['{tmp}/old.pth is in the .tar format of PyTorch < 0.4']),
    'zip that is no checkpoint': (
        lambda tmp, ckpt: _demo(tmp, _zip_of_weights(tmp)),
        ['{tmp}/weights.zip is a zip archive but not a torch checkpoint',
         'weights/model.npy']),
    'plain pickle checkpoint': (
        lambda tmp, ckpt: _digits_test(_plain_pickle(tmp), tmp),
        ['{tmp}/weights.pkl is a plain Python pickle']),
}


def _run(tool, args, monkeypatch, unprivileged):
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in args])
    main = load_tool(tool).main
    drop = unprivileged and os.geteuid() == 0
    if drop:
        os.seteuid(NOBODY)
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        if drop:
            os.seteuid(0)
    return exit_info.value.code


def _assert_one_error_line(code, err, words, **names):
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith('error: ') and 'Traceback' not in err, err
    for word in words:
        word = word.format(**names)
        assert word in lines[0], (word, lines[0])
    assert 'weights_only' not in lines[0]


@pytest.mark.parametrize('case', list(CASES))
def test_bad_input_gives_one_error_line(case, tmp_path, raft_small_checkpoint,
                                        monkeypatch, capsys, request):
    make_args, words = CASES[case]
    monkeypatch.delenv('MMEXT_DEBUG', raising=False)
    # mmengine's loggers keep the stdout of the test that created them, closed
    # by now; their records belong on stdout, so the complaint is noise here.
    monkeypatch.setattr(logging, 'raiseExceptions', False)
    unprivileged = case in UNPRIVILEGED
    if unprivileged:
        tmp_path = request.getfixturevalue('public_tmp')
    tool, *args = make_args(tmp_path, raft_small_checkpoint)
    code = _run(tool, args, monkeypatch, unprivileged)
    _assert_one_error_line(code, capsys.readouterr().err, words, tmp=tmp_path,
                           ckpt=raft_small_checkpoint)


def test_a_real_process_prints_nothing_but_the_error_line(
        tmp_path, raft_small_checkpoint):
    """Outside pytest, warnings reach stderr too: none may (the case also
    builds a Runner and reads the file in a DataLoader worker)."""
    make_args, words = CASES['.pfm with scale nan']
    result = run_tool(sys.executable,
                      *make_args(tmp_path, raft_small_checkpoint),
                      env=dict(OMP_NUM_THREADS='1'))
    _assert_one_error_line(result.returncode, result.stderr, words,
                           tmp=tmp_path)


def _raising(error):

    @cli_main
    def main():
        raise error

    return main


@pytest.mark.parametrize('error, line', [
    (UserError('bad value 3'), 'error: bad value 3'),
    (PermissionError(13, 'Permission denied', '/a/b.py'),
     'error: /a/b.py: Permission denied'),
    (KeyError('ResNot is not in the model registry'),
     'error: ResNot is not in the model registry'),
])
def test_cli_main_prints_user_errors(error, line, monkeypatch, capsys):
    monkeypatch.delenv('MMEXT_DEBUG', raising=False)
    with pytest.raises(SystemExit) as exit_info:
        _raising(error)()
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == line + '\n'


@pytest.mark.parametrize('error', [
    ValueError('a bug'), KeyError('a bug'), ConnectionError('reset'),
    OSError('no file named')
])
def test_cli_main_lets_other_errors_through(error, monkeypatch):
    monkeypatch.delenv('MMEXT_DEBUG', raising=False)
    with pytest.raises(type(error)):
        _raising(error)()


def test_mmext_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv('MMEXT_DEBUG', '1')
    with pytest.raises(UserError):
        _raising(UserError('bad value 3'))()
