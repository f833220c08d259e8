"""Flow datasets on tiny fixtures written in the real on-disk layouts."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmext.flow.datasets import (HD1K, KITTI2012, KITTI2015, FlyingChairs,
                                 FlyingThings3D, FlyingThings3DSubset, Sintel)
from mmext.flow.datasets.flow_io import write_flow, write_flow_kitti, write_pfm
from mmext.registry import DATASETS

H, W = 6, 8
LOAD_AND_PACK = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackFlowInputs')
]


@pytest.fixture(autouse=True)
def mmext_scope():
    """Pipelines name mmext's transforms, as configs with default_scope='mmext'
    do."""
    with DefaultScope.overwrite_default_scope('mmext'):
        yield


def _image(path, value, size=(H, W)):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full(size + (3, ), value, np.uint8))


def _flow(value):
    return np.full((H, W, 2), value, np.float32)


def _names(dataset, key):
    return [osp.basename(dataset.get_data_info(i)[key])
            for i in range(len(dataset))]


@pytest.fixture
def chairs_root(tmp_path):
    for i in range(1, 5):
        _image(tmp_path / 'data' / f'{i:05d}_img1.ppm', i)
        _image(tmp_path / 'data' / f'{i:05d}_img2.ppm', 10 + i)
        write_flow(str(tmp_path / 'data' / f'{i:05d}_flow.flo'), _flow(i))
    (tmp_path / 'FlyingChairs_train_val.txt').write_text('1\n2\n1\n1\n')
    return str(tmp_path)


def test_flying_chairs_splits_and_loading(chairs_root):
    train = FlyingChairs(data_root=chairs_root, pipeline=LOAD_AND_PACK)
    val = FlyingChairs(data_root=chairs_root, test_mode=True)
    assert _names(train, 'flow_fw_path') == [
        '00001_flow.flo', '00003_flow.flo', '00004_flow.flo'
    ]
    assert _names(val, 'img1_path') == ['00002_img1.ppm']
    info = train.get_data_info(1)
    assert info['img2_path'].endswith('00003_img2.ppm')
    assert info['sparse'] is False
    packed = train[1]
    assert packed['inputs'].shape == (6, H, W)
    assert packed['inputs'][0, 0, 0] == 3 and packed['inputs'][3, 0, 0] == 13
    assert (packed['data_samples'].gt_flow_fw.data == 3).all()


def test_flying_chairs_split_file_lookup_and_errors(chairs_root, tmp_path):
    split = osp.join(chairs_root, 'FlyingChairs_train_val.txt')
    # mmflow configs give the split file as a path of its own.
    assert len(FlyingChairs(data_root=chairs_root, split_file=split)) == 3
    with pytest.raises(FileNotFoundError, match='nowhere.txt'):
        FlyingChairs(data_root=chairs_root, split_file='nowhere.txt')
    with pytest.raises(FileNotFoundError, match='no_such_root'):
        FlyingChairs(data_root=str(tmp_path / 'no_such_root'))
    with open(split, 'a') as f:
        f.write('1\n')
    with pytest.raises(ValueError, match='5 lines.*4 flow files'):
        FlyingChairs(data_root=chairs_root)
    os.remove(osp.join(chairs_root, 'data', '00002_img2.ppm'))
    with pytest.raises(FileNotFoundError, match='00002_img2.ppm'):
        FlyingChairs(data_root=chairs_root)


def test_dataset_built_from_config(chairs_root):
    dataset = DATASETS.build(
        dict(type='FlyingChairs', data_root=chairs_root, pipeline=LOAD_AND_PACK))
    assert len(dataset) == 3
    assert set(dataset[0]) == {'inputs', 'data_samples'}


def test_pair_of_different_sizes_names_both_paths(chairs_root):
    bad = osp.join(chairs_root, 'data', '00001_img2.ppm')
    _image(bad, 0, size=(H + 2, W))
    dataset = FlyingChairs(data_root=chairs_root, pipeline=LOAD_AND_PACK)
    with pytest.raises(ValueError, match='00001_img1.ppm is 6x8.*'
                       '00001_img2.ppm is 8x8'):
        dataset[0]


def _things_full(root):
    for part in ('TRAIN', 'TEST'):
        for seq in ('A/0000', 'B/0001'):
            for frame in (6, 7, 8):
                for cam, letter in (('left', 'L'), ('right', 'R')):
                    _image(
                        osp.join(root, 'frames_cleanpass', part, seq, cam,
                                 f'{frame:04d}.png'), frame)
                    for where, name in (('into_future', 'Future'),
                                        ('into_past', 'Past')):
                        write_pfm(
                            osp.join(
                                root, 'optical_flow', part, seq, where, cam,
                                f'OpticalFlowInto{name}_{frame:04d}_'
                                f'{letter}.pfm'),
                            np.dstack([_flow(frame), np.zeros((H, W))]))


def test_flying_things3d_full_layout(tmp_path):
    root = str(tmp_path)
    _things_full(root)
    forward = FlyingThings3D(data_root=root, direction='forward')
    # Two sequences, frames 6-8: pairs (6, 7) and (7, 8) each.
    assert len(forward) == 4
    info = forward.get_data_info(0)
    assert info['img1_path'].endswith(osp.join('A', '0000', 'left',
                                               '0006.png'))
    assert info['img2_path'].endswith('0007.png')
    assert info['flow_fw_path'].endswith('OpticalFlowIntoFuture_0006_L.pfm')
    both = FlyingThings3D(data_root=root, scene=['left', 'right'])
    assert len(both) == 16
    backward = FlyingThings3D(data_root=root, direction='backward')
    info = backward.get_data_info(0)
    assert info['img1_path'].endswith('0007.png')
    assert info['img2_path'].endswith('0006.png')
    assert info['flow_fw_path'].endswith('OpticalFlowIntoPast_0007_L.pfm')
    with pytest.raises(FileNotFoundError, match='frames_finalpass'):
        FlyingThings3D(data_root=root, pass_style='final')
    with pytest.raises(ValueError, match='direction'):
        FlyingThings3D(data_root=root, direction='sideways')


def test_flying_things3d_subset_layout(tmp_path):
    root = str(tmp_path)
    for frame in (0, 1, 2, 5):
        _image(
            osp.join(root, 'train', 'image_clean', 'left', f'{frame:07d}.png'),
            frame)
        for where in ('into_future', 'into_past'):
            flow = _flow(frame)
            flow[0, 0] = np.nan  # some subset files hold NaN
            write_flow(
                osp.join(root, 'train', 'flow', 'left', where,
                         f'{frame:07d}.flo'), flow)
    dataset = FlyingThings3DSubset(
        data_root=root, scene='left', pipeline=LOAD_AND_PACK)
    # Forward 0->1, 1->2 (5 has no frame 6), backward 1->0, 2->1.
    assert _names(dataset, 'img1_path') == [
        '0000000.png', '0000001.png', '0000001.png', '0000002.png'
    ]
    assert _names(dataset, 'img2_path') == [
        '0000001.png', '0000002.png', '0000000.png', '0000001.png'
    ]
    valid = dataset[0]['data_samples'].gt_valid_fw.data
    assert valid[0, 0, 0] == 0 and valid.sum() == H * W - 1
    with pytest.raises(FileNotFoundError, match='right'):
        FlyingThings3DSubset(data_root=root)


def test_sintel_layout(tmp_path):
    root = str(tmp_path)
    for scene, frames in (('alley_1', 3), ('market_2', 2)):
        for frame in range(1, frames + 1):
            for pass_style in ('clean', 'final'):
                _image(
                    osp.join(root, 'training', pass_style, scene,
                             f'frame_{frame:04d}.png'), frame)
            if frame < frames:
                write_flow(
                    osp.join(root, 'training', 'flow', scene,
                             f'frame_{frame:04d}.flo'), _flow(frame))
    dataset = Sintel(data_root=root, pass_style='final')
    assert len(dataset) == 3
    info = dataset.get_data_info(1)
    assert info['img1_path'].endswith(
        osp.join('final', 'alley_1', 'frame_0002.png'))
    assert info['img2_path'].endswith('frame_0003.png')
    assert info['flow_fw_path'].endswith(
        osp.join('flow', 'alley_1', 'frame_0002.flo'))
    assert len(Sintel(data_root=root, scene='market_2')) == 1
    with pytest.raises(FileNotFoundError, match='ocean'):
        Sintel(data_root=root, scene='ocean')


@pytest.mark.parametrize('dataset_type,image_dir', [(KITTI2012, 'colored_0'),
                                                    (KITTI2015, 'image_2')])
def test_kitti_layouts(tmp_path, dataset_type, image_dir):
    root = str(tmp_path)
    for index in range(2):
        for frame in ('10', '11'):
            _image(
                osp.join(root, 'training', image_dir,
                         f'{index:06d}_{frame}.png'), index)
        valid = np.zeros((H, W), np.float32)
        valid[::2, ::3] = 1
        write_flow_kitti(
            osp.join(root, 'training', 'flow_occ', f'{index:06d}_10.png'),
            _flow(index + 0.5), valid)
    dataset = dataset_type(data_root=root, pipeline=LOAD_AND_PACK)
    assert len(dataset) == 2
    info = dataset.get_data_info(1)
    assert info['sparse'] is True
    assert info['img2_path'].endswith(
        osp.join(image_dir, '000001_11.png'))
    sample = dataset[1]['data_samples']
    np.testing.assert_array_equal(sample.gt_valid_fw.data[0].numpy(), valid)
    flow = sample.gt_flow_fw.data
    assert (flow[:, valid > 0] == 1.5).all() and (flow[:, valid == 0]
                                                  == 0).all()
    with pytest.raises(FileNotFoundError, match='elsewhere'):
        dataset_type(data_root=str(tmp_path / 'elsewhere'))
    shutil.rmtree(osp.join(root, 'training', 'flow_occ'))
    with pytest.raises(FileNotFoundError, match='flow_occ'):
        dataset_type(data_root=root)


def test_hd1k_layout(tmp_path):
    root = str(tmp_path)
    for seq, frames in ((0, 3), (1, 2)):
        for frame in range(frames):
            name = f'{seq:06d}_{frame:04d}.png'
            _image(osp.join(root, 'hd1k_input', 'image_2', name), frame)
            write_flow_kitti(
                osp.join(root, 'hd1k_flow_gt', 'flow_occ', name), _flow(seq))
    dataset = HD1K(data_root=root)
    # Frames pair within a sequence only: (0,1), (1,2) of 0 and (0,1) of 1.
    assert _names(dataset, 'img1_path') == [
        '000000_0000.png', '000000_0001.png', '000001_0000.png'
    ]
    assert _names(dataset, 'img2_path') == [
        '000000_0001.png', '000000_0002.png', '000001_0001.png'
    ]
    assert dataset.get_data_info(0)['sparse'] is True
