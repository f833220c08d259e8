"""Structured sparsification with learnable channel shuffle
(mmext.razor.strucspars): permutation steps, group selection, regulariser,
lambda schedule, deploy conversion and its folding, export and a short Runner
run."""
import glob
import importlib.util
import itertools
import json
import os.path as osp
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.fx as fx
import torch.nn as nn
from mmengine.config import Config
from mmengine.fileio import load
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import BaseModel
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint

import mmext  # noqa: F401
from mmext.checkpoint import load_local_checkpoint, load_model_weights
from mmext.razor.strucspars import (PermutedGroupConv2d, SparsityLambdaHook,
                                    StructuredSparsification,
                                    fold_permutations, to_deploy)
from mmext.razor.strucspars import grouping, permutation

from ..conftest import REPO

CONFIGS = osp.join(REPO, 'configs', 'strucspars')
DIGITS_SPARSIFY = osp.join(
    CONFIGS, 'strucspars-p50_cifar-resnet20_1xb32-15e_digits-32px-sparsify.py')


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    # Tiny models: a second OpenMP thread only adds contention on shared CI
    # hosts.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _random_perm(rng, n):
    return rng.permutation(n)


# Permutations.


def _recursive_cost(rows, cols, power, levels):
    """The paper's recursive definition of R, written independently."""
    cost = np.zeros((rows, cols))

    def fill(r0, r1, c0, c1, value, depth):
        h, w = r1 - r0, c1 - c0
        if depth == 0 or h % 2 or w % 2:
            return
        rm, cm = r0 + h // 2, c0 + w // 2
        cost[rm:r1, c0:cm] = value
        cost[r0:rm, cm:c1] = value
        fill(r0, rm, c0, cm, value * power, depth - 1)
        fill(rm, r1, cm, c1, value * power, depth - 1)

    fill(0, rows, 0, cols, 1.0, levels)
    return cost


@pytest.mark.parametrize('shape,power,levels', [((8, 16), 0.5, None),
                                                ((12, 8), 0.3, None),
                                                ((16, 16), 0.5, 2),
                                                ((6, 3), 0.5, None)])
def test_cost_matrix_follows_the_recursive_definition(shape, power, levels):
    depth = 100 if levels is None else levels
    expected = _recursive_cost(*shape, power, depth)
    np.testing.assert_allclose(
        permutation.cost_matrix(*shape, power, levels), expected)


def test_assignment_steps_never_increase_the_objective():
    shapes = [(8, 8), (16, 8), (12, 24), (32, 16), (6, 10)]
    for seed in range(40):
        rng = np.random.default_rng(seed)
        rows, cols = shapes[seed % len(shapes)]
        norm = rng.exponential(size=(rows, cols))
        cost = permutation.cost_matrix(rows, cols)
        out_perm, in_perm = _random_perm(rng, rows), _random_perm(rng, cols)
        value = permutation.objective(norm, out_perm, in_perm, cost)
        for _ in range(3):
            out_perm = permutation.assign_rows(norm, in_perm, cost)
            after_rows = permutation.objective(norm, out_perm, in_perm, cost)
            in_perm = permutation.assign_cols(norm, out_perm, cost)
            after_cols = permutation.objective(norm, out_perm, in_perm, cost)
            assert after_rows <= value * (1 + 1e-12)
            assert after_cols <= after_rows * (1 + 1e-12)
            value = after_cols
        start_p, start_q = _random_perm(rng, rows), _random_perm(rng, cols)
        start = permutation.objective(norm, start_p, start_q, cost)
        p, q, final = permutation.update_permutations(norm, start_p, start_q,
                                                      cost, iters=10)
        assert final <= start
        assert final == pytest.approx(permutation.objective(norm, p, q, cost))
        for perm, n in ((p, rows), (q, cols)):
            np.testing.assert_array_equal(np.sort(perm), np.arange(n))


def test_each_step_is_the_exact_optimum():
    """Brute force over all permutations of a 6 x 5 matrix."""
    rng = np.random.default_rng(0)
    norm = rng.exponential(size=(6, 5))
    cost = rng.random((6, 5))  # any cost: the steps are plain assignments
    in_perm = _random_perm(rng, 5)
    best_rows = min(
        permutation.objective(norm, np.array(p), in_perm, cost)
        for p in itertools.permutations(range(6)))
    out_perm = permutation.assign_rows(norm, in_perm, cost)
    assert permutation.objective(norm, out_perm, in_perm,
                                 cost) == pytest.approx(best_rows)
    best_cols = min(
        permutation.objective(norm, out_perm, np.array(q), cost)
        for q in itertools.permutations(range(5)))
    in_perm = permutation.assign_cols(norm, out_perm, cost)
    assert permutation.objective(norm, out_perm, in_perm,
                                 cost) == pytest.approx(best_cols)


def test_block_structure_hidden_by_a_shuffle_is_recovered():
    rng = np.random.default_rng(1)
    block = permutation.block_diagonal_mask(16, 16, 4)
    norm = np.where(block, rng.random((16, 16)) + 1, 0.0)
    shuffled = norm[_random_perm(rng, 16)][:, _random_perm(rng, 16)]
    cost = permutation.cost_matrix(16, 16)
    # Alternating steps are a local search: the best of a few starts.
    out_perm, in_perm, _ = min(
        (permutation.update_permutations(shuffled, _random_perm(rng, 16),
                                         _random_perm(rng, 16), cost, 50)
         for _ in range(5)),
        key=lambda result: result[2])
    removed = grouping.removed_fractions(shuffled[out_perm][:, in_perm])
    assert removed[2] == pytest.approx(0.0, abs=1e-12)  # 4 clean blocks


# Group counts.


def test_group_count_follows_the_papers_level_rule():
    # Mass outside the 2-, 4- and 8-block diagonals: 2%, 10%, 40%.
    norm = np.zeros((8, 8))
    split = permutation.split_levels(8, 8)
    for level, share in ((0, 0.6), (1, 0.02), (2, 0.08), (3, 0.3)):
        norm[split == level] = share / np.sum(split == level)
    removed = grouping.removed_fractions(norm)
    np.testing.assert_allclose(removed, [0, 0.02, 0.10, 0.40])

    def paper_rule(threshold):
        # The first level whose retained share drops below 1 - p is one too
        # deep; without such a level every level can go.
        below = np.flatnonzero(1 - removed < 1 - threshold)
        return 2**(below[0] - 1) if len(below) else 2**(len(removed) - 1)

    for threshold, groups in ((0.01, 1), (0.05, 2), (0.1, 4), (0.2, 4),
                              (0.5, 8)):
        assert grouping.groups_at(removed, threshold) == groups
        assert paper_rule(threshold) == groups
    assert grouping.groups_at(grouping.removed_fractions(np.zeros((4, 4))),
                              0.0) == 4


def test_chosen_groups_meet_the_target_within_one_layer():
    rng = np.random.default_rng(0)
    shapes = [(64, 64), (128, 64), (32, 16), (256, 128), (48, 96), (16, 8)]
    removed, numels = {}, {}
    for index, (rows, cols) in enumerate(shapes * 3):
        scale = permutation.cost_matrix(rows, cols) * rng.random() * 4
        norm = rng.exponential(size=(rows, cols)) * np.exp(-scale)
        removed[f'conv{index}'] = grouping.removed_fractions(norm)
        numels[f'conv{index}'] = rows * cols * 9
    # The largest step one layer can make: from 1 to 2 groups.
    step = max(numels.values()) / 2 / sum(numels.values())
    for target in (0.1, 0.35, 0.5, 0.65, 0.85):
        threshold, groups, ratio = grouping.bisect_threshold(
            removed, numels, target)
        assert abs(ratio - target) <= step
        assert ratio == pytest.approx(grouping.prune_ratio(groups, numels))
        assert groups == {
            name: grouping.groups_at(r, threshold)
            for name, r in removed.items()
        }
    with pytest.raises(ValueError, match='out of reach'):
        grouping.bisect_threshold(removed, numels, 0.999)


# The algorithm on a tiny model.


class TinyNet(BaseModel):
    """One 4 -> 8 conv: the smallest architecture the algorithm accepts."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1, bias=False)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.conv(inputs)


def _tiny_algorithm(seed=0):
    torch.manual_seed(seed)
    algorithm = StructuredSparsification(TinyNet())
    shuffle = algorithm.shuffle('conv')
    shuffle.out_perm.copy_(torch.randperm(8))
    shuffle.in_perm.copy_(torch.randperm(4))
    return algorithm


def test_excluded_convs_stay_dense():
    with pytest.raises(ValueError, match='no convolution'):
        StructuredSparsification(TinyNet(), exclude=[r'^conv$'])
    init_default_scope('mmpretrain')
    algorithm = StructuredSparsification(
        _classifier(dict(type='CifarResNet', depth=20), 64),
        exclude=[r'downsample'])
    assert len(algorithm.conv_names) == 18
    assert not any('downsample' in name for name in algorithm.conv_names)


def test_regulariser_gradient_matches_an_independent_computation():
    algorithm = _tiny_algorithm()
    algorithm.set_groups({'conv': 2})
    weight = algorithm.architecture.conv.weight
    out_inv = torch.argsort(algorithm.shuffle('conv').out_perm)
    in_inv = torch.argsort(algorithm.shuffle('conv').in_perm)

    def penalty(o, i):
        # Shuffled position of weight (o, i); 2 groups penalise outside the
        # 4-block diagonal: 1 across the halves, 0.5 across the quarters.
        r, c = int(out_inv[o]), int(in_inv[i])
        if r // 4 != c // 2:
            return 1.0
        return 0.5 if r // 2 != c else 0.0

    expected = torch.zeros_like(weight)
    for o in range(8):
        for i in range(4):
            expected[o, i] = 0.3 * torch.sign(weight[o, i]) * penalty(o, i)
    base = torch.randn_like(weight)
    weight.grad = base.clone()
    algorithm.reg_lambda = 0.3
    algorithm.apply_regulariser()
    torch.testing.assert_close(weight.grad - base, expected)
    # The same term is the gradient of lambda * <|W|, R_g[P_inv][:, Q_inv]>.
    weight.grad = None
    penalty = algorithm._penalty('conv', algorithm.architecture.conv)
    (0.3 * (weight.abs() * penalty).sum()).backward()
    torch.testing.assert_close(weight.grad, expected)
    algorithm.reg_lambda = 0.0
    algorithm.apply_regulariser()
    torch.testing.assert_close(weight.grad, expected)


def test_lambda_hook_follows_the_rule_on_scripted_sparsities():
    algorithm = _tiny_algorithm()
    # Sparsity when training starts, then after each of 8 epochs.
    script = iter([0.0, 0.05, 0.1, 0.3, 0.32, 0.55, 0.6, 0.8, 0.45])
    algorithm.regroup = lambda threshold=None: next(script)
    optimizer = torch.optim.SGD(algorithm.parameters(), lr=0.0)
    runner = SimpleNamespace(
        model=algorithm,
        epoch=0,
        max_epochs=8,
        optim_wrapper=SimpleNamespace(optimizer=optimizer),
        message_hub=MessageHub.get_instance('test_strucspars_lambda'),
        logger=MMLogger.get_instance('test_strucspars_lambda'))
    hook = SparsityLambdaHook(target_ratio=0.5, delta=1.0, warmup_epochs=2)
    hook.before_train(runner)
    applied, scheduled = [], []
    for epoch in range(8):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        applied.append(algorithm.reg_lambda)
        hook.after_train_epoch(runner)
        scheduled.append(hook.reg_lambda)
    # Epoch 2: gain 0.2 beats the even share 0.2 / 6, lambda stays; epoch 3:
    # gain 0.02 < 0.18 / 5, up; epochs 4, 5: at or above the target, down;
    # epoch 6: down again but clipped at 0; epoch 7: below and losing, up.
    assert scheduled == [1, 1, 1, 2, 1, 0, 0, 1]
    assert applied == [0, 0, 1, 1, 2, 1, 0, 0]

    # The regulariser runs as a step pre-hook on the runner's optimizer.
    algorithm.set_groups({'conv': 1})
    weight = algorithm.architecture.conv.weight
    weight.grad = torch.zeros_like(weight)
    algorithm.reg_lambda = 0.5
    optimizer.step()
    penalty = algorithm._penalty('conv', algorithm.architecture.conv)
    torch.testing.assert_close(weight.grad, 0.5 * torch.sign(weight) * penalty)
    hook.after_train(runner)
    assert not optimizer._optimizer_step_pre_hooks

    checkpoint = {'meta': {}}
    hook.before_save_checkpoint(runner, checkpoint)
    restored = SparsityLambdaHook(target_ratio=0.5)
    restored.after_load_checkpoint(runner, checkpoint)
    assert (restored.reg_lambda, restored.last_sparsity) == (1, 0.45)


# Deploy conversion on three architectures.


def _classifier(backbone, channels):
    return dict(
        type='ImageClassifier',
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=10,
            in_channels=channels,
            loss=dict(type='CrossEntropyLoss')))


def _randomise_norms(model, generator):
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.weight.data = torch.rand(n, generator=generator) + 0.5
            module.bias.data = torch.randn(n, generator=generator) * 0.1
            module.running_mean = torch.randn(n, generator=generator) * 0.1
            module.running_var = torch.rand(n, generator=generator) + 0.5


def _shuffled_algorithm(backbone, channels, generator, groups_of):
    """A sparsification of a random classifier with random permutations and
    ``groups_of(levels)`` groups per conv, in eval mode."""
    algorithm = StructuredSparsification(_classifier(backbone, channels))
    _randomise_norms(algorithm, generator)
    groups = {}
    for conv_name, conv in algorithm.convs():
        shuffle = algorithm.shuffle(conv_name)
        shuffle.out_perm.copy_(torch.randperm(conv.out_channels,
                                              generator=generator))
        shuffle.in_perm.copy_(torch.randperm(conv.in_channels,
                                             generator=generator))
        groups[conv_name] = groups_of(
            permutation.block_levels(conv.out_channels, conv.in_channels))
    algorithm.set_groups(groups)
    return algorithm.eval(), groups


@pytest.mark.parametrize('name,backbone,channels', [
    ('resnet18', dict(type='ResNet', depth=18), 512),
    ('resnet50', dict(type='ResNet', depth=50), 2048),
    ('cifar-resnet20', dict(type='CifarResNet', depth=20), 64),
    ('densenet121', dict(type='DenseNet', arch='121'), 1024),
    ('mobilenet-v2', dict(type='MobileNetV2', widen_factor=0.5), 1280),
])
def test_deploy_output_equals_masked_output(name, backbone, channels):
    init_default_scope('mmpretrain')
    generator = torch.Generator().manual_seed(0)
    algorithm, groups = _shuffled_algorithm(
        backbone, channels, generator, lambda levels: 2**int(
            torch.randint(levels + 1, (1, ), generator=generator)))
    deploy = to_deploy(algorithm).eval()
    inputs = torch.randn(2, 3, 32, 32, generator=generator)
    folded = fold_permutations(deploy, inputs)
    algorithm.mask_weights()
    with torch.no_grad():
        expected = algorithm.architecture(inputs)
        actual = deploy(inputs)
        actual_folded = folded(inputs)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(actual_folded, expected, rtol=1e-4, atol=1e-5)

    grouped = [
        m for m in deploy.modules() if isinstance(m, PermutedGroupConv2d)
    ]
    assert len(grouped) == sum(count > 1 for count in groups.values()) > 0
    assert all(m.groups == groups[n] for n, m in deploy.named_modules()
               if isinstance(m, PermutedGroupConv2d))
    # Every batch norm behind a conv is fused; DenseNet-121's behind a
    # concatenation (58 layers, 3 transitions, the last) stay.
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert norms == (58 + 3 + 1 if name == 'densenet121' else 0)
    if name == 'mobilenet-v2':  # depthwise convs are left as they are
        depthwise = {
            n
            for n, m in algorithm.architecture.named_modules()
            if isinstance(m, nn.Conv2d) and m.groups > 1
        }
        assert depthwise and not depthwise & set(algorithm.conv_names)


def _index_ops(graph_module):
    return sum(
        node.op == 'call_method'
        and node.target in ('index_select', 'index_add_')
        for node in graph_module.graph.nodes)


def test_folding_leaves_one_index_per_junction():
    """ResNet-50 with every conv grouped: tracing through the unfolded
    convs finds two copies per conv; folded, each bottleneck keeps one index
    at each conv input and one scatter into its residual add (plus the
    downsample's input and the natural order before the neck's flatten)."""
    init_default_scope('mmpretrain')
    generator = torch.Generator().manual_seed(1)
    algorithm, groups = _shuffled_algorithm(
        dict(type='ResNet', depth=50), 2048, generator, lambda levels: 2)
    deploy = to_deploy(algorithm).eval()
    inputs = torch.randn(1, 3, 32, 32, generator=generator)
    folded = fold_permutations(deploy, inputs)

    unfolded = fx.GraphModule(deploy, fx.Tracer().trace(
        deploy, concrete_args=dict(data_samples=None, mode='tensor')))
    assert _index_ops(unfolded) == 2 * len(groups) == 104
    blocks, downsamples = 16, 4
    assert _index_ops(folded) == 4 * blocks + downsamples + 1
    assert sum(node.target == 'index_add_'
               for node in folded.graph.nodes) == blocks
    algorithm.mask_weights()
    with torch.no_grad():
        torch.testing.assert_close(
            folded(inputs), algorithm.architecture(inputs), rtol=1e-4,
            atol=1e-5)


def _permuted_conv(channels_in, channels_out, groups, generator):
    conv = PermutedGroupConv2d(channels_in, channels_out, 3, padding=1,
                               groups=groups)
    nn.init.normal_(conv.weight, generator=generator)
    conv.in_perm.copy_(torch.randperm(channels_in, generator=generator))
    conv.out_perm_inv.copy_(torch.randperm(channels_out,
                                           generator=generator))
    return conv


def test_dense_neighbours_absorb_the_permutations():
    generator = torch.Generator().manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
        _permuted_conv(8, 16, 4, generator), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 4, 1))
    _randomise_norms(model, generator)
    model.eval()
    inputs = torch.randn(2, 3, 8, 8, generator=generator)
    folded = fold_permutations(model, inputs)
    with torch.no_grad():
        torch.testing.assert_close(folded(inputs), model(inputs), rtol=1e-4,
                                   atol=1e-5)
    assert _index_ops(folded) == 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())


class _Branches(nn.Module):
    """Two grouped convs on one input, added; the ``reused`` operands are
    read again after the addition.

    Args:
        generator (torch.Generator): For the weights and permutations.
        reused (tuple[str]): Names among 'left' and 'right'.
    """

    def __init__(self, generator, reused):
        super().__init__()
        self.reused = reused
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.left = _permuted_conv(8, 8, 2, generator)
        self.right = _permuted_conv(8, 8, 4, generator)
        self.act = nn.ReLU(inplace=True)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        x = self.stem(x)
        operands = dict(left=self.left(x), right=self.act(self.right(x)))
        total = self.head(operands['left'] + operands['right'])
        return (total, ) + tuple(operands[name] * 2 for name in self.reused)


@pytest.mark.parametrize('reused', [(), ('right', ), ('left', 'right')])
def test_addition_overwrites_only_an_operand_read_by_nobody_later(reused):
    """The addition scatters one operand into the other in place while one
    of them is not read again, else it copies one into the other's order;
    each reused operand is copied into the natural order for its reader."""
    generator = torch.Generator().manual_seed(3)
    model = _Branches(generator, reused).eval()
    inputs = torch.randn(2, 3, 6, 6, generator=generator)
    folded = fold_permutations(model, inputs)
    with torch.no_grad():
        expected = model(inputs)
        actual = folded(inputs)
    assert len(actual) == len(expected) == 1 + len(reused)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)
    in_place = sum(n.target == 'index_add_' for n in folded.graph.nodes)
    assert in_place == (len(reused) < 2)
    # Two gathers (the stem feeds both branches, so it keeps its order),
    # one for the addition, one per reused operand.
    assert _index_ops(folded) == 3 + len(reused)


def test_cifar_resnets_have_the_papers_sizes():
    init_default_scope('mmpretrain')
    for depth, params in ((20, 0.27e6), (56, 0.85e6)):
        backbone = MODELS.build(dict(type='CifarResNet', depth=depth))
        count = sum(p.numel() for p in backbone.parameters())
        assert count == pytest.approx(params, rel=0.02)
        assert backbone(torch.randn(1, 3, 32, 32))[-1].shape == (1, 64, 8, 8)


# Configs, export and a short run.


def _load_export_tool():
    path = osp.join(REPO, 'tools', 'strucspars', 'export.py')
    spec = importlib.util.spec_from_file_location('strucspars_export', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digits_sparsify_cfg(work_dir):
    cfg = Config.fromfile(DIGITS_SPARSIFY)
    cfg.model.architecture.pop('init_cfg')  # no dense checkpoint in tests
    cfg.work_dir = str(work_dir)
    return cfg


def test_exported_checkpoint_reloads_into_the_deploy_config(
        tmp_path, monkeypatch, capsys):
    export = _load_export_tool()
    cfg = _digits_sparsify_cfg(tmp_path)
    algorithm = export.build_algorithm(cfg)
    _randomise_norms(algorithm, torch.Generator().manual_seed(0))
    algorithm.update_permutations(3)
    sparsify_checkpoint = str(tmp_path / 'sparsify.pth')
    save_checkpoint({'state_dict': algorithm.state_dict()},
                    sparsify_checkpoint)

    out_dir = tmp_path / 'deploy'
    monkeypatch.setattr(sys, 'argv', [
        'export.py', DIGITS_SPARSIFY, sparsify_checkpoint, '--prune-ratio',
        '0.5', '--out-dir',
        str(out_dir), '--input-size', '32', '32', '--cfg-options',
        'model.architecture.init_cfg=None'
    ])
    export.main()
    printed = capsys.readouterr().out
    assert 'deploy vs masked dense model' in printed and 'FLOPs' in printed

    groups = json.load(open(out_dir / 'groups.json'))
    threshold, expected_groups, ratio = algorithm.groups_for_ratio(0.5)
    assert groups == expected_groups
    assert abs(ratio - 0.5) < 0.1
    deploy_cfg = Config.fromfile(str(out_dir / 'deploy_config.py'))
    assert deploy_cfg.load_from == str(out_dir / 'deploy.pth')
    assert [hook.type for hook in deploy_cfg.custom_hooks
            ] == ['mmrazor.FoldPermutationsHook']
    # What tools/test.py does: build the Runner, load with an exact fit, test
    # (the hook folds the backbone before the first batch).
    deploy_cfg.test_dataloader.dataset.indices = 16
    deploy_cfg.test_evaluator = dict(type='DumpResults', out_file_path=str(
        tmp_path / 'folded.pkl'))
    deploy_cfg.work_dir = str(tmp_path / 'test')
    runner = Runner.from_cfg(deploy_cfg)
    load_model_weights(runner.model, str(out_dir / 'deploy.pth'))
    runner.test()
    assert isinstance(runner.model.backbone, torch.fx.GraphModule)
    unfolded_cfg = deploy_cfg.copy()
    unfolded_cfg.custom_hooks = []
    unfolded_cfg.test_evaluator.out_file_path = str(tmp_path / 'plain.pkl')
    unfolded_cfg.work_dir = str(tmp_path / 'test_unfolded')
    unfolded = Runner.from_cfg(unfolded_cfg)
    load_model_weights(unfolded.model, str(out_dir / 'deploy.pth'))
    unfolded.test()
    folded_scores = [r['pred_score'] for r in load(tmp_path / 'folded.pkl')]
    plain_scores = [r['pred_score'] for r in load(tmp_path / 'plain.pkl')]
    assert len(folded_scores) == 16
    torch.testing.assert_close(
        torch.stack(folded_scores), torch.stack(plain_scores),
        rtol=1e-4, atol=1e-5)

    algorithm.set_groups(groups)
    algorithm.eval()
    algorithm.mask_weights()
    inputs = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            runner.model.eval()(inputs), algorithm.architecture(inputs),
            rtol=1e-4, atol=1e-5)


def test_sparsify_config_runs_with_the_runner(tmp_path):
    cfg = _digits_sparsify_cfg(tmp_path)
    cfg.train_dataloader.dataset.indices = 64  # 2 iterations per epoch
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=2)
    cfg.val_dataloader.dataset.indices = 16
    cfg.custom_hooks[1].warmup_epochs = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2)
    runner = Runner.from_cfg(cfg)
    runner.train()

    algorithm = runner.model
    assert isinstance(algorithm, StructuredSparsification)
    assert algorithm.reg_lambda == cfg.custom_hooks[1].delta  # epoch 2
    assert not runner.optim_wrapper.optimizer._optimizer_step_pre_hooks
    checkpoint = load_local_checkpoint(str(tmp_path / 'epoch_2.pth'))
    assert set(checkpoint['meta']['strucspars']) == {
        'reg_lambda', 'last_sparsity'
    }
    state = checkpoint['state_dict']
    for name, conv in algorithm.convs():
        key = 'shuffles.' + name.replace('.', '-')
        for perm, n in (('out_perm', conv.out_channels),
                        ('in_perm', conv.in_channels)):
            assert sorted(state[f'{key}.{perm}'].tolist()) == list(range(n))


CONFIG_FILES = sorted(glob.glob(osp.join(CONFIGS, '*.py')))


def test_configs_are_there():
    names = {osp.basename(path) for path in CONFIG_FILES}
    for model, ratios in (('resnet50', (35, 65, 85)), ('resnet101', (40, 65)),
                          ('densenet201', (38, ))):
        for ratio in ratios:
            assert (f'strucspars-p{ratio}_{model}_8xb64-60e_in1k-'
                    'sparsify.py') in names
            assert (f'strucspars-p{ratio}_{model}_8xb64-120e-coslr_in1k-'
                    'finetune.py') in names
    for depth in (20, 56):
        assert (f'strucspars-p50_cifar-resnet{depth}_1xb64-100e_cifar10-'
                'sparsify.py') in names


@pytest.mark.parametrize(
    'path', CONFIG_FILES, ids=[osp.basename(p) for p in CONFIG_FILES])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmext']
    model_cfg = cfg.model
    if model_cfg.type == 'StrucSparsDeploySubModel':
        # The exported groups do not exist before a sparsification run.
        assert model_cfg.groups.endswith('/deploy/groups.json')
        assert cfg.load_from.endswith('/deploy/deploy.pth')
        model_cfg.groups = {}
    init_default_scope(cfg.default_scope)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg)
    if model_cfg.type == 'StructuredSparsification':
        assert isinstance(model, StructuredSparsification)
        assert model.conv_names
        hook_types = [hook.type for hook in cfg.custom_hooks]
        assert hook_types == [
            'mmrazor.PermutationUpdateHook', 'mmrazor.SparsityLambdaHook'
        ]
    else:
        assert isinstance(model, BaseModel)
