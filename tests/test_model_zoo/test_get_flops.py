"""tools/analysis_tools/get_flops.py: mmengine's complexity analysis on the
right part of each family's model, with the right inputs."""
import os.path as osp

import pytest

from tests.conftest import REPO, load_tool
from mmext.engine.complexity import input_size

GET_FLOPS = osp.join(REPO, 'tools', 'analysis_tools', 'get_flops.py')

LENET = """
default_scope = 'mmpretrain'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='LeNet5', num_classes=10),
    data_preprocessor=dict(mean=[0.], std=[1.]))
"""


@pytest.fixture(scope='module')
def get_flops():
    return load_tool(GET_FLOPS)


def test_lenet_counts_equal_hand_computation(get_flops, tmp_path):
    config = tmp_path / 'lenet.py'
    config.write_text(LENET)
    result = get_flops.main([str(config), '--shape', '32'])
    # Multiply-adds of conv 1->6 5x5 (28x28 out), 6->16 5x5 (10x10), 16->120
    # 5x5 (1x1), fc 120->84->10; the one grey channel comes from the
    # preprocessor's mean.
    assert result.input_shape == (1, 32, 32)
    assert result.flops == (6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 +
                            120 * 16 * 25 + 120 * 84 + 84 * 10)
    assert result.params == (6 * 25 + 6 + 16 * 6 * 25 + 16 + 120 * 16 * 25 +
                             120 + 120 * 84 + 84 + 84 * 10 + 10)
    # Every multiply-add is in a child module that runs.
    assert 'backbone' in result.flops_by_module
    assert sum(result.flops_by_module.values()) == result.flops


# One config per family: (config, analysed part, FLOPs ratio range when both
# sides double). Convnets with global pooling scale by about 4 (borders and
# the pooled head make it a little more or less); RAFT's all-pairs
# correlation adds a small term that grows faster than the pixels.
FAMILIES = [
    ('raft/raft-small_1xb8-600it_flyingshapes-64x96.py', 'model', (64, 96),
     (4.001, 4.1)),
    ('pwcnet/pwcnet_8xb1-slong_flyingchairs-384x448.py', 'model', (64, 64),
     (3.9, 16)),
    ('strucspars/strucspars-p50_cifar-resnet20_1xb32-15e_digits-32px-'
     'sparsify.py', 'model.architecture', (16, 16), (3.9, 4.0)),
    ('elegant/elegant_1xb8-2kiters_procedural-faces-64x64.py',
     'model.generator', (32, 32), (3.9, 4.0)),
    ('dnagan/dnagan_1xb8-2kiters_procedural-faces-64x64.py',
     'model.generator', (32, 32), (3.9, 4.0)),
    ('adaptive_vit_fas/adaptive-vit-tiny-p8_1xb24-60it_procedural-fas-48px-'
     '5shot.py', 'model', (24, 24), (3.5, 16)),
    ('meta_gradient_ssl/metassl_convlarge-c16_1xb16-400it_digits-16px-'
     '10labels.py', 'model', (16, 16), (3.9, 4.2)),
    ('privacy_adversarial/privacy-adv-pixel_resnet18-w16-cut0_1xb32-300it_'
     'digits-16px.py', 'model', (16, 16), (3.5, 4.0)),
    ('contrastive_correspondence/mocov2-cycle_resnet18_1xb8-300it_shipped-'
     'photos-96px.py', 'model', (32, 32), (3.5, 4.0)),
]


@pytest.mark.parametrize('config,part,shape,ratio', FAMILIES,
                         ids=[f[0].split('/')[0] for f in FAMILIES])
def test_get_flops_per_family(get_flops, config, part, shape, ratio):
    from mmengine.config import Config

    from mmext.engine import build_model
    from mmext.engine.complexity import count_parameters
    path = osp.join(REPO, 'configs', config)
    small = get_flops.main([path, '--shape', *map(str, shape)])
    large = get_flops.main([path, '--shape', *(str(2 * s) for s in shape)])
    assert small.part == part
    assert small.input_shape[1:] == shape
    assert small.params == large.params == count_parameters(
        build_model(Config.fromfile(path)))
    assert 0 < small.part_params <= small.params
    assert ratio[0] <= large.flops / small.flops <= ratio[1]


def test_input_size_from_name_pipeline_or_default():
    from mmengine.config import Config
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        type='RepeatDataset', dataset=dict(pipeline=[
            dict(type='ResizeEdge', scale=256),
            dict(type='CenterCrop', crop_size=(200, 100))])))))
    assert input_size(cfg, 'x/raft_8xb2-100k_flyingchairs-368x496.py') == (
        368, 496)
    assert input_size(cfg, 'a_digits-32px-10labels.py') == (32, 32)
    assert input_size(cfg, 'a_b_in1k.py') == (200, 100)
    assert input_size(Config(dict()), 'a_b_in1k.py') == (224, 224)


def test_bad_shape_is_one_line(python):
    from tests.conftest import run_tool
    result = run_tool(python, GET_FLOPS,
                      osp.join(REPO, 'configs', FAMILIES[0][0]), '--shape',
                      '0', '8')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        'error: --shape takes H W or one positive side, got 0 8']
