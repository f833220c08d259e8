"""FlowNAS: the searchable encoder, supernet training with feature alignment
distillation (one process and two gloo processes), the constrained search and
the export to a standalone RAFT.

Everything runs on 32x32 pairs with a small three-level RAFT (RAFT-S's
update block, two refinement iterations) as supernet decoder and teacher,
except the distributed run, which trains the CPU supernet config for two
iterations.
"""
import contextlib
import copy
import json
import os.path as osp
import random
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmext  # noqa: F401
from mmext.checkpoint import load_local_checkpoint, load_model_weights
from mmext.engine import build_model
from mmext.razor.flownas import (CHOICE_ALIASES, FLOWNAS_SEARCH_SPACE,
                                 FlowNAS, FlowNASEncoder, FlowNASSearchLoop,
                                 FlowResourceEstimator, export_subnet,
                                 write_static_raft)
from mmext.registry import DATASETS
from mmext.registry import MODELS as MMEXT_MODELS
from mmrazor.models.task_modules.estimators.counters.flops_params_counter \
    import get_model_flops_params
from mmrazor.registry import MODELS as RAZOR_MODELS
from mmrazor.structures import Candidates
from tests.conftest import REPO, load_tool, run_tool

CONFIGS = osp.join(REPO, 'configs', 'flownas')

#: The published architectures, as the spec states them.
PUBLISHED = {
    'flownas-raft-s_8xb2-100k_flyingchairs-368x496.py':
    dict(
        widths=[64, 72, 96, 104, 120, 136],
        depths=[2, 2, 2, 1, 2, 1],
        kernel_sizes=[3, 3, 5, 3, 5, 5],
        expand_ratios=[1, 2, 5, 5, 6, 6]),
    'flownas-raft-k_8xb2-100k_flyingchairs-368x496.py':
    dict(
        widths=[64, 72, 88, 104, 120, 136],
        depths=[2, 1, 1, 2, 2, 1],
        kernel_sizes=[3, 5, 3, 5, 5, 5],
        expand_ratios=[1, 4, 6, 5, 6, 6]),
}

TINY_RAFT = dict(
    type='mmext.RAFT',
    num_levels=3,
    radius=3,
    cxt_channels=64,
    h_channels=96,
    encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=128,
        net_type='Small',
        norm_cfg=dict(type='IN')),
    cxt_encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=160,
        net_type='Small',
        norm_cfg=dict(type='BN')),
    decoder=dict(
        type='RAFTDecoder',
        net_type='Small',
        num_levels=3,
        radius=3,
        iters=2,
        gru_type='Conv',
        feat_channels=128,
        flow_loss=dict(type='SequenceLoss'),
        act_cfg=dict(type='ReLU')),
    test_cfg=dict(iters=2))

SHAPES = dict(
    type='FlyingShapes',
    num_samples=2,
    img_size=(32, 32),
    pipeline=[dict(type='PackFlowInputs')])


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Two threads on two shared cores are slower than one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def flownas_cfg(teacher=TINY_RAFT):
    shared = Config.fromfile(osp.join(CONFIGS, '_base_', 'flownas.py'))
    return dict(
        type='FlowNAS',
        architecture=copy.deepcopy(TINY_RAFT),
        encoder=shared.flownas_encoder.to_dict(),
        teacher=teacher,
        distiller=shared.flownas_distiller.to_dict())


def build_flownas(seed=0, **kwargs):
    torch.manual_seed(seed)
    algorithm = RAZOR_MODELS.build(dict(flownas_cfg(), **kwargs))
    algorithm.init_weights()
    return algorithm


@pytest.fixture(scope='module')
def flownas():
    return build_flownas()


@pytest.fixture(scope='module')
def batch():
    with DefaultScope.overwrite_default_scope('mmext'):
        dataset = DATASETS.build(dict(SHAPES, split='train'))
    return pseudo_collate([dataset[0], dataset[1]])


def largest(space=FLOWNAS_SEARCH_SPACE):
    return {key: [c[-1] for c in choices] for key, choices in space.items()}


def smallest(space=FLOWNAS_SEARCH_SPACE):
    return {key: [c[0] for c in choices] for key, choices in space.items()}


def encoder_params(arch, affine_norm, stem=64, out_channels=256):
    """Parameters of a FlowNAS encoder, from the spec's description alone:
    7x7 stem (no bias, norm), MBConv blocks (1x1 expansion unless the ratio
    is 1, depthwise kxk, 1x1 projection, each with a norm; a 1x1 shortcut
    where the widths differ), a 1x1 projection to 256 without bias."""

    def norm(channels):
        return 2 * channels if affine_norm else 0

    total = 3 * stem * 7 * 7 + norm(stem)
    channels = stem
    for width, depth, kernel, expand in zip(arch['widths'], arch['depths'],
                                            arch['kernel_sizes'],
                                            arch['expand_ratios']):
        for block in range(depth):
            in_channels = channels if block == 0 else width
            mid = in_channels * expand
            if expand != 1:
                total += in_channels * mid + norm(mid)
            total += mid * kernel * kernel + norm(mid)
            total += mid * width + norm(width)
            if in_channels != width:
                total += in_channels * width
        channels = width
    return total + channels * out_channels


def count(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------
# The supernet
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('kind', ['max', 'min', 'random0'])
def test_subnets_run_forward_and_backward(flownas, batch, kind):
    random.seed(1)
    flownas._set_subnet(kind)
    arch = flownas.current_arch
    if kind == 'max':
        assert arch == largest()
    if kind == 'min':
        assert arch == smallest()
    # The context encoder follows the feature encoder's architecture.
    assert flownas.architecture.context.current_arch == arch
    data = flownas.data_preprocessor(batch, True)
    flownas.train()
    flownas.zero_grad()
    losses = flownas(data['inputs'], data['data_samples'], mode='loss')
    losses['loss_flow'].backward()
    encoder = flownas.architecture.encoder
    assert encoder.stem.conv.weight.grad.abs().sum() > 0
    # Blocks beyond the chosen depth take no part.
    for i, depth in enumerate(arch['depths']):
        layer = getattr(encoder, f'layer{i + 1}')
        blocks = list(layer.pure_modules())
        assert blocks[depth - 1].linear_conv.conv.weight.grad is not None
        for block in blocks[depth:]:
            assert block.linear_conv.conv.weight.grad is None
    flownas.zero_grad(set_to_none=True)


@pytest.mark.parametrize('arch', [largest(), smallest()], ids=['max', 'min'])
def test_parameter_counts_match_the_spec_arithmetic(flownas, arch):
    cfg = flownas.subnet_cfg(arch)
    feature = MMEXT_MODELS.build(cfg['encoder'])
    context = MMEXT_MODELS.build(cfg['cxt_encoder'])
    assert count(feature) == encoder_params(arch, False, out_channels=128)
    assert count(context) == encoder_params(arch, True, out_channels=160)
    # The resource estimator counts the whole standalone RAFT once.
    flownas.set_arch(arch)
    resources = FlowResourceEstimator(input_shape=(1, 6, 32, 32)).estimate(
        flownas)
    decoder = count(flownas.architecture.decoder)
    expected = decoder + count(feature) + count(context)
    assert resources['params'] == pytest.approx(expected / 1e6, abs=1e-4)
    assert resources['flops'] > 0


def test_alignment_loss_is_zero_when_features_coincide(flownas, batch):
    """A teacher that is exactly the exported subnet aligns perfectly."""
    random.seed(2)
    flownas._set_subnet('random0')
    cfg, state_dict = export_subnet(flownas)
    teacher = MMEXT_MODELS.build(cfg)
    teacher.load_state_dict(state_dict)
    aligned = RAZOR_MODELS.build(dict(flownas_cfg(), teacher=teacher))
    aligned.architecture.load_state_dict(flownas.architecture.state_dict())
    aligned.set_arch(flownas.current_arch)
    aligned.eval()
    inputs = aligned.data_preprocessor(batch)['inputs']
    assert aligned.alignment_distance(inputs).item() == pytest.approx(
        0., abs=1e-10)
    # Any other subnet is away from that teacher.
    aligned._set_subnet('max' if flownas.current_arch != largest() else 'min')
    assert aligned.alignment_distance(inputs).item() > 1e-4


def test_alignment_loss_decreases_in_a_short_run(batch):
    algorithm = build_flownas(seed=3, num_random_samples=0)
    optim_wrapper = OptimWrapper(
        torch.optim.AdamW(
            [p for p in algorithm.parameters() if p.requires_grad], lr=2e-3))
    inputs = algorithm.data_preprocessor(batch)['inputs']

    def distance():
        algorithm.eval()
        algorithm.mutator.set_max_choices()
        return algorithm.alignment_distance(inputs).item()

    before = distance()
    for _ in range(3):
        algorithm.train()
        log_vars = algorithm.train_step(batch, optim_wrapper)
    assert algorithm.sample_kinds == ['max', 'min']
    for kind in algorithm.sample_kinds:
        for loss in ('loss_flow', 'loss_fad_img1', 'loss_fad_img2',
                     'loss_fad_cxt'):
            assert torch.isfinite(log_vars[f'{kind}_subnet.{loss}'])
    assert distance() < 0.7 * before


def test_train_step_keeps_the_optim_wrappers_accumulation(batch):
    """With accumulative_counts=2 the optimizer steps every second batch,
    and the step equals one unaccumulated step on that batch (every subnet
    one update_params, weighted 1 / (subnets x counts))."""

    def sgd(algorithm, counts):
        params = [p for p in algorithm.parameters() if p.requires_grad]
        return OptimWrapper(
            torch.optim.SGD(params, lr=0.05), accumulative_counts=counts)

    def weights(algorithm):
        return {k: v.detach().clone()
                for k, v in algorithm.architecture.named_parameters()}

    accumulated = build_flownas(seed=6, num_random_samples=0)
    single = build_flownas(seed=6, num_random_samples=0)
    initial = weights(accumulated)
    accumulating, stepping = sgd(accumulated, 2), sgd(single, 1)
    accumulated.train()
    single.train()
    accumulated.train_step(batch, accumulating)
    for key, value in weights(accumulated).items():
        assert torch.equal(value, initial[key]), key
    accumulated.train_step(batch, accumulating)
    single.train_step(batch, stepping)
    assert accumulating._inner_count == 4 and stepping._inner_count == 2
    after, expected = weights(accumulated), weights(single)
    assert any(not torch.equal(after[k], initial[k]) for k in after)
    for key in after:
        torch.testing.assert_close(
            after[key], expected[key], rtol=1e-5, atol=1e-7, msg=key)


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------


def test_export_equals_the_fixed_supernet(flownas, batch, tmp_path):
    random.seed(4)
    flownas.eval()
    inputs = flownas.data_preprocessor(batch)['inputs']
    flownas._set_subnet('random0')
    cfg, state_dict = export_subnet(flownas)
    config, checkpoint = write_static_raft(
        cfg,
        state_dict,
        str(tmp_path / 'subnet'),
        base_config=osp.join(CONFIGS, '_base_', 'flownas.py'),
        meta=dict(arch=flownas.current_arch))
    exported = Config.fromfile(config)
    assert exported.model.encoder.type == 'FlowNASEncoder'
    static = MMEXT_MODELS.build(exported.model)
    load_model_weights(static, checkpoint)  # exact fit, or it raises
    static.eval()
    with torch.no_grad():
        expected = flownas(inputs, mode='tensor')
        got = static(inputs, mode='tensor')
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert torch.load(checkpoint)['meta']['arch'] == flownas.current_arch


def test_static_copies_hold_the_exported_weights(flownas, batch):
    """Both encoders (InstanceNorm and BatchNorm), a subnet that slices
    channels, kernels and depths: the copies hold what mmrazor's export
    slices, compute what the supernet computes, and keep its mode."""
    flownas.set_arch(smallest())
    _, exported = export_subnet(flownas)
    imgs = flownas.data_preprocessor(batch)['inputs'][:, :3]
    for name in ('encoder', 'context'):
        supernet = getattr(flownas.architecture, name)
        supernet.eval()
        copy_ = supernet.static_copy()
        assert type(copy_).__name__ == 'FlowNASEncoder'
        assert not copy_.training
        state = copy_.state_dict()
        assert state.keys() == {
            k[len(name) + 1:] for k in exported if k.startswith(name + '.')
        }
        for key, tensor in state.items():
            # mmrazor's export restarts the BatchNorms' batch counters.
            if not key.endswith('num_batches_tracked'):
                assert torch.equal(tensor, exported[f'{name}.{key}']), key
        with torch.no_grad():
            torch.testing.assert_close(copy_(imgs), supernet(imgs))


def test_export_tool_writes_the_subnet_of_a_search_or_fix_subnet_file(
        tmp_path, capsys):
    """tools/flownas/export.py on the toy supernet: a search's
    ``best_subnet.json`` and an mmrazor fix-subnet file of the same
    architecture give the same standalone weights, which load exactly into
    the written config; an incomplete fix-subnet file is refused."""
    config = osp.join(CONFIGS, 'flownas-raft-small_supernet_1xb2-200it_'
                      'flyingshapes-64x96.py')
    cfg = Config.fromfile(config)
    cfg.model.teacher_ckpt = None
    torch.manual_seed(0)
    supernet = build_model(cfg)
    checkpoint = tmp_path / 'supernet.pth'
    torch.save({'state_dict': supernet.state_dict()}, checkpoint)
    arch = smallest()
    search_result = tmp_path / 'best_subnet.json'
    search_result.write_text(json.dumps({'arch': arch}))
    fix_subnet = tmp_path / 'fix_subnet.json'
    fix_subnet.write_text(json.dumps({
        f'stage{i + 1}.{alias}': {'chosen': arch[key][i]}
        for key, alias in CHOICE_ALIASES.items()
        for i in range(len(arch[key]))
    }))
    tool = load_tool(osp.join(REPO, 'tools', 'flownas', 'export.py'))
    base = osp.join(REPO, 'configs', 'raft',
                    'raft-small_1xb8-600it_flyingshapes-64x96.py')
    weights = []
    for subnet in (search_result, fix_subnet):
        out = tmp_path / subnet.stem
        tool.main([config, str(checkpoint), str(subnet), '--base-config',
                   base, '--out', str(out), '--check-shape', '64', '64'])
        model_cfg = Config.fromfile(f'{out}.py').model
        for name in ('encoder', 'cxt_encoder'):
            assert {key: model_cfg[name][key] for key in arch} == arch
        exported = MMEXT_MODELS.build(model_cfg)
        load_model_weights(exported, f'{out}.pth')  # exact fit, or it raises
        weights.append(exported.state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    fix_subnet.write_text(json.dumps({'stage1.width': {'chosen': 56}}))
    with pytest.raises(SystemExit):
        tool.main([config, str(checkpoint), str(fix_subnet),
                   '--base-config', base, '--out', str(tmp_path / 'bad')])
    error = capsys.readouterr().err
    assert f'{fix_subnet} names no complete FlowNAS architecture' in error
    assert 'Traceback' not in error
    assert not (tmp_path / 'bad.pth').exists()


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_published_architectures_build_as_specified(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    model = MMEXT_MODELS.build(cfg.model)
    arch = PUBLISHED[name]
    for encoder in (model.encoder, model.context):
        assert isinstance(encoder, FlowNASEncoder)
        in_channels = 64
        for i, (width, depth, kernel, expand) in enumerate(
                zip(*(arch[key] for key in arch))):
            blocks = list(getattr(encoder, f'layer{i + 1}'))
            assert len(blocks) == depth
            for block in blocks:
                depthwise = block.depthwise_conv.conv
                assert depthwise.kernel_size == (kernel, kernel)
                assert depthwise.in_channels == in_channels * expand
                assert (block.expand_conv is None) == (expand == 1)
                assert block.linear_conv.conv.out_channels == width
                in_channels = width
        assert encoder.projection.out_channels == 256
        # 7x7 stride-2 stem to 64; strides 1, 1, 2, 1, 2, 1: output at 1/8.
        assert encoder.stem.conv.kernel_size == (7, 7)
        assert encoder.stem.conv.out_channels == 64
        assert encoder(torch.zeros(1, 3, 64, 64)).shape == (1, 256, 8, 8)
    assert count(model.encoder) == encoder_params(arch, affine_norm=False)


@pytest.mark.parametrize('name', [
    'flownas-raft_search_sintel-clean.py', 'flownas-raft_search_kitti2015.py'
])
def test_search_configs_follow_the_paper(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    loop = cfg.train_cfg
    assert loop.type == 'mmrazor.FlowNASSearchLoop'
    assert (loop.num_candidates, loop.max_epochs, loop.num_mutation,
            loop.num_crossover, loop.refine_iters) == (50, 20, 25, 25, 12)
    assert (loop.mutate_prob, loop.crossover_prob) == (0.1, 0.5)
    # The fitness adds the alignment distance, as the released search.
    assert loop.alignment_weight == 1.0
    assert cfg.model.type == 'mmrazor.FlowNAS'
    assert osp.isfile(osp.join(REPO, loop.export_base_config))
    # The bound admits both published architectures and excludes RAFT.
    low, high = loop.constraints_range.params
    assert low == 0.
    counts = [
        count(MMEXT_MODELS.build(Config.fromfile(osp.join(CONFIGS, n)).model))
        for n in sorted(PUBLISHED)
    ]
    assert counts == [5_101_584, 5_071_696]  # K, S: the spec's exact counts
    raft = Config.fromfile(
        osp.join(REPO, 'configs', 'raft',
                 'raft_8xb2-100k_flyingchairs-368x496.py')).model
    assert max(counts) / 1e6 <= high < count(MMEXT_MODELS.build(raft)) / 1e6


def test_subnet_parameters_are_counted_exactly_without_building(flownas):
    rng = random.Random(7)
    archs = [largest(), smallest()] + [{
        k: [rng.choice(c) for c in v]
        for k, v in FLOWNAS_SEARCH_SPACE.items()
    } for _ in range(3)]
    for arch in archs:
        built = MMEXT_MODELS.build(flownas.subnet_cfg(arch))
        assert flownas.subnet_num_params(arch) == count(built), arch


@pytest.mark.parametrize('norm', ['IN', 'BN', 'SyncBN'])
def test_encoder_flops_are_computed_exactly_without_building(norm):
    """For the norms whose counts differ (IN one FLOP per element, affine BN
    two, SyncBN none: mmrazor has no counter for it): one encoder at an odd
    size (ceil at every stride), and the pair RAFT pads to 32x40."""
    estimator = FlowResourceEstimator(input_shape=(2, 6, 29, 37))
    rng = random.Random(norm)
    for _ in range(2):
        arch = {
            k: [rng.choice(c) for c in v]
            for k, v in FLOWNAS_SEARCH_SPACE.items()
        }
        encoder, context = (
            dict(type='FlowNASEncoder', in_channels=3, out_channels=out,
                 norm_cfg=dict(type=norm), **arch) for out in (64, 96))
        def counted(cfg, size):
            return get_model_flops_params(
                MMEXT_MODELS.build(cfg).eval(), (2, 3, *size),
                units=None, as_strings=False)[0]

        assert FlowNASEncoder.num_flops(
            (29, 37), estimator._flops_per_element,
            **encoder) == counted(encoder, (29, 37))
        assert estimator.count_encoder_flops(encoder, context, 8) == \
            2 * counted(encoder, (32, 40)) + counted(context, (32, 40))


# ---------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------


class Interrupted(Exception):
    """Stands for a search killed mid-generation."""


def search_runner(work_dir, params_limit, supernet, **loop_kwargs):
    val = dict(
        batch_size=2,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(SHAPES, split='val'))
    cfg = Config(
        dict(
            default_scope='mmext',
            model=dict(flownas_cfg(), type='mmrazor.FlowNAS'),
            work_dir=str(work_dir),
            load_from=str(supernet),
            train_dataloader=dict(val, dataset=dict(SHAPES, split='train')),
            optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-4)),
            train_cfg=dict(
                type='mmrazor.FlowNASSearchLoop',
                dataloader=val,
                evaluator=dict(type='EndPointError'),
                max_epochs=2,
                num_candidates=3,
                top_k=2,
                num_mutation=1,
                num_crossover=1,
                constraints_range=dict(params=(0., params_limit)),
                estimator_cfg=dict(
                    type='mmrazor.FlowResourceEstimator',
                    input_shape=(1, 6, 32, 32)),
                calibrate_sample_num=2,
                **loop_kwargs),
            default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
            log_level='WARNING'))
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def interrupted_search(tmp_path_factory, flownas):
    """A search killed after its second evaluation, then resumed."""
    work_dir = tmp_path_factory.mktemp('search')
    # The median size of random subnets: about half break the constraint.
    rng = random.Random(0)
    archs = [{k: [rng.choice(c) for c in v]
              for k, v in FLOWNAS_SEARCH_SPACE.items()} for _ in range(101)]
    sizes = sorted(
        encoder_params(a, False, out_channels=128) +
        encoder_params(a, True, out_channels=160) for a in archs)
    params_limit = (count(flownas.architecture.decoder) + sizes[50]) / 1e6
    base = tmp_path_factory.mktemp('base') / 'test_base.py'
    base.write_text(
        f"default_scope = 'mmext'\n"
        f'test_dataloader = dict(batch_size=1, dataset={dict(SHAPES)!r})\n')

    evaluated = FlowNASSearchLoop._val_candidate

    def dies_at_the_third(loop, *args, **kwargs):
        if loop.num_evaluated == 2:
            raise Interrupted
        return evaluated(loop, *args, **kwargs)

    # A trained supernet stands in: both runs load the same weights.
    supernet = work_dir / 'supernet.pth'
    torch.save(dict(state_dict=flownas.state_dict()), supernet)
    random.seed(5)
    first = search_runner(work_dir, params_limit, supernet)
    FlowNASSearchLoop._val_candidate = dies_at_the_third
    try:
        with pytest.raises(Interrupted):
            first.train()
    finally:
        FlowNASSearchLoop._val_candidate = evaluated
    with open(work_dir / 'candidates.jsonl') as f:
        before = [json.loads(line) for line in f]

    second = search_runner(
        work_dir,
        params_limit,
        supernet,
        resume_from=str(work_dir / 'search_state.json'),
        export_base_config=str(base))
    second.train()
    with open(work_dir / 'candidates.jsonl') as f:
        after = [json.loads(line) for line in f]
    return dict(
        work_dir=work_dir,
        params_limit=params_limit,
        before=before,
        after=after,
        loop=second.train_loop,
        measured=[
            *first.train_loop._resources.values(),
            *second.train_loop._resources.values()
        ],
        model=second.model)


def test_search_resumes_without_re_evaluating(interrupted_search):
    before, after = interrupted_search['before'], interrupted_search['after']
    loop = interrupted_search['loop']
    assert len(before) == 2
    assert after[:2] == before
    # The resumed run evaluated only what was not finished ...
    assert len(after) == 2 + loop.num_evaluated
    keys = [json.dumps(r['arch'], sort_keys=True) for r in after]
    # ... and no architecture twice.
    assert len(set(keys)) == len(keys)
    assert {r['generation'] for r in after} == {0, 1}
    for record in after:
        assert set(record) >= {
            'arch', 'EPE', 'fitness', 'params', 'flops', 'latency'
        }


def test_search_never_returns_a_candidate_over_the_constraint(
        interrupted_search):
    limit = interrupted_search['params_limit']
    # The limit cut the space: some sampled subnets were too large.
    assert any(r['params'] > limit for r in interrupted_search['measured'])
    assert all(r['params'] <= limit for r in interrupted_search['after'])
    with open(interrupted_search['work_dir'] / 'best_subnet.json') as f:
        best = json.load(f)
    assert best['params'] <= limit
    assert best['fitness'] == min(r['fitness']
                                  for r in interrupted_search['after'])
    assert best['fix_subnet']['stage1.width']['chosen'] == \
        best['arch']['widths'][0]


def test_search_exports_the_best_subnet(interrupted_search, batch):
    work_dir, model = interrupted_search['work_dir'], \
        interrupted_search['model']
    with open(work_dir / 'best_subnet.json') as f:
        arch = json.load(f)['arch']
    exported = Config.fromfile(str(work_dir / 'best_subnet.py'))
    static = MMEXT_MODELS.build(exported.model)
    load_model_weights(static, str(work_dir / 'best_subnet.pth'))
    static.eval()
    # The search evaluates with 12 refinement iterations.
    static.test_cfg = model.architecture.test_cfg
    model.set_arch(arch)
    model.eval()
    inputs = model.data_preprocessor(batch)['inputs']
    with torch.no_grad():
        torch.testing.assert_close(
            static(inputs), model(inputs), rtol=0, atol=1e-5)
    assert isinstance(model, FlowNAS)


def test_search_fitness_adds_the_alignment_distance(interrupted_search):
    """The default fitness is the error plus the alignment distance, and the
    recorded distance is the one of the validation pairs."""
    for record in interrupted_search['after']:
        assert record['alignment_distance'] > 0
        assert record['fitness'] == pytest.approx(
            record['EPE'] + record['alignment_distance'], rel=1e-12)
    with open(interrupted_search['work_dir'] / 'best_subnet.json') as f:
        best = json.load(f)
    model = interrupted_search['model']
    model.set_arch(best['arch'])
    model.eval()
    with DefaultScope.overwrite_default_scope('mmext'):
        val = DATASETS.build(dict(SHAPES, split='val'))
    inputs = model.data_preprocessor(pseudo_collate([val[0],
                                                     val[1]]))['inputs']
    assert model.alignment_distance(inputs).item() == pytest.approx(
        best['alignment_distance'], rel=1e-5)


def test_bn_calibration_averages_the_subnets_batch_statistics(tmp_path):
    loop = search_runner(tmp_path, 100., tmp_path / 'unused.pth').train_loop
    loop.model.set_arch(smallest())
    context = loop.model.architecture.context
    block = context.layer1[0].linear_conv
    loop.model.eval()
    before = block.bn.running_mean.clone(), block.bn.running_var.clone()
    outputs, feature_calls = [], []
    block.conv.register_forward_hook(
        lambda module, args, out: outputs.append(out))
    loop.model.architecture.encoder.register_forward_hook(
        lambda *args: feature_calls.append(1))
    with DefaultScope.overwrite_default_scope('mmext'):
        dataset = DATASETS.build(dict(SHAPES, split='train'))
    batches = [pseudo_collate([dataset[i]]) for i in range(2)]
    loop.calibrate_bn_statistics(batches, 2)

    # The feature encoder (InstanceNorm) has no statistics to estimate.
    assert feature_calls == [] and len(outputs) == 2
    width = smallest()['widths'][0]
    assert outputs[0].shape[1] == width < len(before[0])
    # Momentum None: the plain average of the two batches' statistics.
    mean = torch.stack([out.mean((0, 2, 3)) for out in outputs]).mean(0)
    var = torch.stack([out.var((0, 2, 3)) for out in outputs]).mean(0)
    torch.testing.assert_close(block.bn.running_mean[:width], mean)
    torch.testing.assert_close(block.bn.running_var[:width], var)
    # The channels the subnet leaves out, and the settings, are kept.
    assert torch.equal(block.bn.running_mean[width:], before[0][width:])
    assert torch.equal(block.bn.running_var[width:], before[1][width:])
    assert block.bn.momentum == 0.1 and not block.bn.training


def test_candidates_scored_with_static_encoders_as_with_the_supernet(
        interrupted_search, monkeypatch):
    loop = interrupted_search['loop']
    encoder = loop.model.architecture.encoder
    static = loop._val_candidate()
    assert 'forward' not in vars(encoder)  # the supernet's own again
    monkeypatch.setattr(FlowNASSearchLoop, '_static_encoders',
                        lambda self: contextlib.nullcontext())
    dynamic = loop._val_candidate()
    assert static == pytest.approx(dynamic, rel=1e-6)
    assert static['alignment_distance'] > 0


def test_static_encoders_are_undone_when_copying_fails(interrupted_search,
                                                     monkeypatch):
    """An encoder forward set before (activation checkpointing sets one)
    is kept, and no copy stays in place."""
    raft = interrupted_search['loop'].model.architecture
    own_forward = raft.encoder.forward
    monkeypatch.setattr(raft.encoder, 'forward', own_forward)

    def fail():
        raise MemoryError('no room for the copy')

    monkeypatch.setattr(raft.context, 'static_copy', fail)
    with pytest.raises(MemoryError):
        with interrupted_search['loop']._static_encoders():
            pass
    assert vars(raft.encoder)['forward'] == own_forward
    assert 'forward' not in vars(raft.context)


def test_teacher_cache_gives_the_recomputed_fitness(interrupted_search):
    """Candidates after the first read the teacher's features from the cache;
    their metrics equal those with the teacher recomputed, and a cached
    entry whose inputs differ (a shuffled loader) is not used."""
    loop = interrupted_search['loop']
    assert list(loop._teacher_cache) == [0]  # one batch of two pairs
    cache, used, limit = (dict(loop._teacher_cache), loop._teacher_cache_used,
                          loop.teacher_cache_bytes)
    cached = loop._val_candidate()
    inputs, buffers = cache[0]
    loop._teacher_cache[0] = (inputs + 1, [[torch.zeros_like(t)
                                            for t in buffer]
                                           for buffer in buffers])
    assert loop._val_candidate() == cached
    loop._teacher_cache.clear()
    loop.teacher_cache_bytes = 0
    try:
        recomputed = loop._val_candidate()
        assert not loop._teacher_cache
    finally:
        loop._teacher_cache.update(cache)
        loop.teacher_cache_bytes = limit
        loop._teacher_cache_used = used
    assert cached == recomputed and cached['alignment_distance'] > 0


def test_constraints_measure_flops_only_within_the_parameter_bound(
        tmp_path, flownas):
    small = flownas.subnet_num_params(smallest())
    large = flownas.subnet_num_params(largest())
    loop = search_runner(tmp_path, (small + large) / 2e6,
                         tmp_path / 'unused.pth').train_loop
    counted = []
    count_flops = loop.estimator.count_flops
    loop.estimator.count_flops = lambda model, *args: counted.append(
        type(model).__name__) or count_flops(model, *args)
    count_encoder_flops = loop.estimator.count_encoder_flops
    loop.estimator.count_encoder_flops = lambda *args: counted.append(
        'encoders') or count_encoder_flops(*args)
    is_pass, resources = loop._check_constraints(
        loop.model.arch_to_choices(largest()))
    # Counted, not built: no FLOPs or latency for a subnet over the bound.
    assert not is_pass and counted == []
    assert resources == dict(params=round(large / 1e6, 4))
    small_choices = loop.model.arch_to_choices(smallest())
    is_pass, resources = loop._check_constraints(small_choices)
    # The encoders' FLOPs; the first measured subnet also counts the rest.
    assert is_pass and counted == ['encoders', 'RAFT']
    assert resources['params'] == round(small / 1e6, 4)
    assert resources['flops'] > 0
    # Each architecture is measured once, the rest of RAFT once per search.
    loop._check_constraints(small_choices)
    loop._check_constraints(loop.model.arch_to_choices(largest()))
    assert counted == ['encoders', 'RAFT']


def test_subnet_flops_equal_the_standalone_rafts_count(tmp_path, flownas):
    loop = search_runner(tmp_path, 100., tmp_path / 'unused.pth').train_loop
    # Not a multiple of 8: RAFT pads it to 32x40 before its encoders.
    loop.estimator.input_shape = (1, 6, 30, 36)
    rng = random.Random(3)
    archs = [largest(), smallest()] + [{
        k: [rng.choice(c) for c in v]
        for k, v in FLOWNAS_SEARCH_SPACE.items()
    } for _ in range(3)]
    flops = []
    for arch in archs:
        full = loop.estimator.estimate(loop._standalone(arch))['flops']
        assert loop._subnet_flops(arch) == full, arch
        flops.append(full)
    assert flops[0] > max(flops[2:]) and min(flops[2:]) > flops[1]
    # A latency bound runs each candidate's standalone RAFT instead.
    loop.estimator.flow_latency_cfg = dict(num_warmup=0, num_iters=1)
    _, resources = loop._check_constraints(
        loop.model.arch_to_choices(archs[2]))
    assert resources['flops'] == flops[2] and resources['latency'] > 0


def test_breeding_fills_slots_only_with_unevaluated_architectures(tmp_path):
    loop = search_runner(tmp_path, 100., tmp_path / 'unused.pth',
                         mutate_prob=0.05).train_loop
    loop.num_mutation = loop.num_crossover = 3
    random.seed(8)
    parents = [loop.model.mutator.sample_choices() for _ in range(2)]
    loop.top_k_candidates = Candidates(parents)
    for choices in parents:
        loop.records[loop._key(choices)] = dict(fitness=1.)
    mutants = loop.gen_mutation_candidates()
    crossed = loop.gen_crossover_candidates(taken=mutants)
    keys = [loop._key(c) for c in mutants.subnets + crossed.subnets]
    assert len(keys) == 6
    # Neither a parent (evaluated) nor any architecture twice.
    assert len(set(keys)) == 6
    assert not set(keys) & set(loop.records)


# ---------------------------------------------------------------------------
# Distributed supernet training
# ---------------------------------------------------------------------------

RANK_LOSSES_HOOK = """
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankLossesHook(Hook):
    # Each rank's losses and parameter sum after every iteration.

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        record = {k: float(v) for k, v in outputs.items()}
        record['param_sum'] = float(
            sum(p.double().sum() for p in runner.model.parameters()))
        path = osp.join(runner.work_dir, f'rank{get_rank()}_losses.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\\n')
"""


def test_distributed_supernet_training_runs_the_sandwich_step(tmp_path):
    """Two gloo processes train the CPU supernet config (its wrapper comes
    from _base_/flownas.py) for 2 iterations: each rank logs the flow and
    alignment losses of every subnet, and the ranks end with equal weights
    though each saw other pairs."""
    (tmp_path / 'rank_losses.py').write_text(RANK_LOSSES_HOOK)
    config = tmp_path / 'ddp.py'
    supernet = osp.join(
        CONFIGS,
        'flownas-raft-small_supernet_1xb2-200it_flyingshapes-64x96.py')
    # The context encoders keep the config's SyncBN: dynamic BN in the
    # supernet, reverted to BN in the teacher by the CPU tools.
    config.write_text(
        f"_base_ = ['{supernet}']\n"
        "custom_imports = dict(imports=['mmext', 'mmext.razor.flownas', "
        "'dump_rank_params', 'rank_losses'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DumpRankParamsHook'), "
        "dict(type='RankLossesHook')]\n"
        "model = dict(teacher_ckpt=None, "
        "architecture=dict(decoder=dict(iters=2)))\n"
        "train_dataloader = dict(batch_size=1)\n"
        "train_cfg = dict(max_iters=2, val_interval=100)\n"
        "val_cfg = None\nval_dataloader = None\nval_evaluator = None\n"
        "default_hooks = dict(logger=dict(interval=1), "
        "checkpoint=dict(interval=2))\n")
    fixtures = osp.join(REPO, 'tests', 'fixtures')
    result = run_tool(
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--master_port=29533', osp.join(REPO, 'tools', 'train.py'), config,
        '--launcher', 'pytorch', '--work-dir', tmp_path,
        env=dict(
            PYTHONPATH=f'{REPO}:{fixtures}:{tmp_path}', OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    losses = {}
    for rank in (0, 1):
        with open(tmp_path / f'rank{rank}_losses.jsonl') as f:
            losses[rank] = [json.loads(line) for line in f]
        assert len(losses[rank]) == 2
        for step in losses[rank]:
            for kind in ('max', 'min', 'random0'):
                for loss in ('loss_flow', 'loss_fad_img1', 'loss_fad_img2',
                             'loss_fad_cxt'):
                    assert step[f'{kind}_subnet.{loss}'] > 0
    # Each rank trained on its own pairs ...
    assert losses[0][0]['max_subnet.loss_flow'] != \
        losses[1][0]['max_subnet.loss_flow']
    # ... every step changed the weights, and the reduced gradients kept
    # them equal.
    sums = [[step['param_sum'] for step in losses[rank]] for rank in (0, 1)]
    assert sums[0] == sums[1]
    assert len(set(sums[0])) == 2
    rank0 = torch.load(str(tmp_path / 'rank0_params.pth'))
    rank1 = torch.load(str(tmp_path / 'rank1_params.pth'))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # The checkpoint of RAFT's one-cycle schedule loads with weights_only.
    checkpoint = load_local_checkpoint(str(tmp_path / 'iter_2.pth'))
    assert checkpoint['param_schedulers']
    for key in rank0:
        assert torch.equal(checkpoint['state_dict'][key], rank0[key]), key
