"""FlowNAS costs: supernet training step, search throughput, searched encoders.

``python benchmarks/flownas.py [--repeats 3] [--out results.json]``

Ratios come from one run on one machine (a shared CPU is noisy; the compared
measurements alternate inside every repeat and the medians are compared).

1. Training step: one FlowNAS supernet step (teacher encoders once; largest,
   smallest and two random subnets forward and backward; one optimizer step)
   against one step of the fixed RAFT, both built from the FlyingChairs
   recipes (mmflow's RAFT, 12 iterations), on a batch of 2 FlyingShapes pairs
   of ``--train-size``.
2. Search: a FlowNASSearchLoop of one generation over a randomly initialised
   supernet of that RAFT (population ``--population``, at most
   ``--params-limit`` M parameters, 12 refinement iterations, fitness EPE +
   ``--alignment-weight`` x alignment distance) on ``--val-pairs``
   FlyingShapes pairs of ``--val-size``: candidates evaluated per minute of
   search wall time, constraint checks (parameters counted) and FLOPs
   counts, side by side with the previous loop (``reference``: each
   candidate within the bound built as a standalone RAFT and counted in
   full, the alignment distance from a second pass of the encoders, the
   BatchNorm calibration running the feature encoder too), the same
   candidates (same seed), alternating, ``--search-repeats`` each. The
   target's figures calibrate nothing; the shipped search configs
   re-estimate BatchNorm statistics on 16 (toy) to 256 training pairs per
   candidate (``--calibrate-samples``).
3. Encoders: latency (no-grad forward of one image of ``--encoder-size``) and
   parameters of the feature encoders of FlowNAS-RAFT-S and -K against RAFT's.
4. Parameters: the share of ``--subnets`` random subnets of the paper's
   search space (drawn by the supernet's mutator, seed 0) whose standalone
   RAFT (the FlyingChairs recipe, exact count) is within each of
   ``--params-bounds`` M.

5. FLOPs check: the encoder FLOPs count of a candidate within the bound
   (FlowNAS-RAFT-S's encoders) at ``--flops-size`` (the Sintel search's
   440x1024): the encoders built and counted on the CPU, on the meta device,
   and computed from their configs (the current loop), median of
   ``--repeats``.

``--sections`` runs a subset, e.g. ``--sections params``.
"""
import argparse
import json
import os.path as osp
import random
import statistics
import sys
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import mmext  # noqa: E402,F401
from mmext.razor.flownas import FlowNASSearchLoop  # noqa: E402
from mmrazor.models.task_modules.estimators.counters.flops_params_counter \
    import get_model_flops_params  # noqa: E402
from mmext.registry import DATASETS, MODELS  # noqa: E402

CONFIGS = osp.join(REPO, 'configs')
SUPERNET = osp.join(CONFIGS, 'flownas',
                    'flownas-raft_supernet_8xb2-100k_flyingchairs-368x496.py')
PUBLISHED = {
    name: osp.join(CONFIGS, 'flownas',
                   f'flownas-raft-{name}_8xb2-100k_flyingchairs-368x496.py')
    for name in ('s', 'k')
}
SECTIONS = ('train_step', 'search', 'encoders', 'params', 'flops')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--train-size', type=int, nargs=2, default=(64, 96))
    parser.add_argument('--val-size', type=int, nargs=2, default=(96, 128))
    parser.add_argument('--val-pairs', type=int, default=4)
    parser.add_argument('--population', type=int, default=6)
    parser.add_argument('--search-repeats', type=int, default=1)
    parser.add_argument(
        '--calibrate-samples',
        type=int,
        default=0,
        help='training pairs of the BatchNorm calibration of each candidate')
    parser.add_argument('--params-limit', type=float, default=5.5)
    parser.add_argument(
        '--alignment-weight',
        type=float,
        default=1.,
        help='weight of the alignment distance in the search fitness')
    parser.add_argument(
        '--encoder-size', type=int, nargs=2, default=(368, 496))
    parser.add_argument('--subnets', type=int, default=1000)
    parser.add_argument(
        '--flops-size', type=int, nargs=2, default=(440, 1024))
    parser.add_argument(
        '--params-bounds', type=float, nargs='+', default=(5.0, 5.2))
    parser.add_argument(
        '--sections',
        nargs='+',
        choices=SECTIONS,
        default=SECTIONS,
        help='what to measure (default: everything)')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args()


def shapes(split, size, num):
    return dict(
        type='FlyingShapes',
        num_samples=num,
        split=split,
        img_size=tuple(size),
        pipeline=[dict(type='PackFlowInputs')])


def supernet_cfg():
    cfg = Config.fromfile(SUPERNET)
    cfg.model.teacher_ckpt = None
    return cfg


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def train_steps(args):
    """Median seconds of a supernet step and of a fixed RAFT step."""
    cfg = supernet_cfg()
    flownas = MODELS.build(cfg.model)
    flownas.init_weights()
    raft = MODELS.build(cfg.model.architecture)
    raft.init_weights()
    with DefaultScope.overwrite_default_scope('mmext'):
        dataset = DATASETS.build(shapes('train', args.train_size, 2))
    batch = pseudo_collate([dataset[0], dataset[1]])

    def wrapper(model):
        params = [p for p in model.parameters() if p.requires_grad]
        return OptimWrapper(torch.optim.AdamW(params, lr=1e-4))

    steps = {
        'supernet': (flownas, wrapper(flownas)),
        'raft': (raft, wrapper(raft))
    }
    times = {name: [] for name in steps}
    for repeat in range(args.repeats + 1):
        order = list(steps) if repeat % 2 else list(steps)[::-1]
        for name in order:
            model, optim_wrapper = steps[name]
            model.train()
            seconds = timed(lambda: model.train_step(batch, optim_wrapper))
            if repeat:  # the first round warms up
                times[name].append(seconds)
    return {name: statistics.median(t) for name, t in times.items()}


def reference_subnet_flops(loop, arch):
    """The previous loop's FLOPs: the standalone RAFT built and counted."""
    return loop.estimator.estimate(loop._standalone(arch))['flops']


@torch.no_grad()
def reference_calibration(loop):
    """The previous loop's BatchNorm calibration: the current one, plus the
    feature encoder (InstanceNorm) on both images, which it also ran."""
    loop.calibrate_bn_statistics(loop.runner.train_dataloader,
                                 loop.calibrate_sample_num)
    encoder, seen = loop.model.architecture.encoder, 0
    for data_batch in loop.runner.train_dataloader:
        inputs = loop.model.data_preprocessor(data_batch)['inputs']
        for image in torch.split(inputs, encoder.in_channels, dim=1):
            encoder(image)
        seen += len(inputs)
        if seen >= loop.calibrate_sample_num:
            break


@torch.no_grad()
def reference_val_candidate(loop, use_predictor=False):
    """The previous loop's evaluation: the alignment distance from a second
    pass of the subnet's encoders after the flow estimate."""
    if loop.calibrate_sample_num > 0:
        reference_calibration(loop)
    loop.runner.model.eval()
    distance, count = 0., 0
    for data_batch in loop.dataloader:
        outputs = loop.runner.model.val_step(data_batch)
        loop.evaluator.process(data_samples=outputs, data_batch=data_batch)
        if loop.alignment_weight:
            inputs = loop.model.data_preprocessor(data_batch)['inputs']
            distance += float(
                loop.model.alignment_distance(inputs)) * len(inputs)
            count += len(inputs)
    metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
    if count:
        metrics['alignment_distance'] = distance / count
    return metrics


def search_rates(args):
    """The current and the reference loop's rates, medians of alternating
    runs, with the counts and seconds of a middle run by rate."""
    runs = {'reference': [], 'current': []}
    for repeat in range(args.search_repeats):
        order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]
        for name in order:
            runs[name].append(search_rate(args, name == 'reference'))
    return {
        name: dict(
            sorted(results,
                   key=lambda r: r['evaluated_per_minute'])[len(results) // 2],
            evaluated_per_minute=statistics.median(
                r['evaluated_per_minute'] for r in results))
        for name, results in runs.items()
    }


def search_rate(args, reference=False):
    """Evaluations and constraint checks per minute of a one-generation
    search."""
    cfg = supernet_cfg()
    val = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=shapes('val', args.val_size, args.val_pairs))
    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner.from_cfg(
            Config(
                dict(
                    default_scope='mmext',
                    model=cfg.model,
                    work_dir=work_dir,
                    # The same candidates in every run.
                    randomness=dict(seed=0),
                    train_dataloader=dict(
                        val,
                        dataset=shapes('train', args.val_size,
                                       max(args.calibrate_samples, 2))),
                    optim_wrapper=dict(
                        optimizer=dict(type='AdamW', lr=1e-4)),
                    train_cfg=dict(
                        type='mmrazor.FlowNASSearchLoop',
                        dataloader=val,
                        evaluator=dict(type='EndPointError'),
                        max_epochs=1,
                        num_candidates=args.population,
                        top_k=2,
                        num_mutation=0,
                        num_crossover=0,
                        constraints_range=dict(params=(0.,
                                                       args.params_limit)),
                        alignment_weight=args.alignment_weight,
                        calibrate_sample_num=args.calibrate_samples,
                        estimator_cfg=dict(
                            type='mmrazor.FlowResourceEstimator',
                            input_shape=(1, 6, *args.val_size))),
                    log_level='WARNING')))
        checks, measured = [], []
        patched = dict(
            _check_constraints=FlowNASSearchLoop._check_constraints,
            _subnet_flops=FlowNASSearchLoop._subnet_flops,
            _val_candidate=FlowNASSearchLoop._val_candidate)
        subnet_flops = reference_subnet_flops if reference \
            else patched['_subnet_flops']

        def counted_check(loop, *a, **k):
            checks.append(1)
            return patched['_check_constraints'](loop, *a, **k)

        def counted_flops(loop, *a, **k):
            measured.append(1)
            return subnet_flops(loop, *a, **k)

        val_candidate = reference_val_candidate if reference \
            else patched['_val_candidate']
        evaluating = []

        def timed_val_candidate(loop, *a, **k):
            start = time.perf_counter()
            metrics = val_candidate(loop, *a, **k)
            evaluating.append(time.perf_counter() - start)
            return metrics

        FlowNASSearchLoop._check_constraints = counted_check
        FlowNASSearchLoop._subnet_flops = counted_flops
        FlowNASSearchLoop._val_candidate = timed_val_candidate
        try:
            seconds = timed(runner.train)
        finally:
            for name, method in patched.items():
                setattr(FlowNASSearchLoop, name, method)
        evaluated = runner.train_loop.num_evaluated
    return dict(
        seconds=seconds,
        evaluating_seconds=sum(evaluating),
        evaluated=evaluated,
        checks=len(checks),
        measured=len(measured),
        evaluated_per_minute=60 * evaluated / seconds,
        checks_per_minute=60 * len(checks) / seconds)


@torch.no_grad()
def encoders(args):
    """Latency (ms) and parameters (M) of the three feature encoders."""
    models = {
        'RAFT':
        MODELS.build(Config.fromfile(SUPERNET).model.architecture.encoder)
    }
    for name, path in PUBLISHED.items():
        models[f'FlowNAS-RAFT-{name.upper()}'] = MODELS.build(
            Config.fromfile(path).model.encoder)
    image = torch.rand(1, 3, *args.encoder_size) * 2 - 1
    times = {name: [] for name in models}
    for repeat in range(args.repeats + 1):
        for name, model in models.items():
            model.eval()
            seconds = timed(lambda: model(image))
            if repeat:
                times[name].append(seconds)
    return {
        name: dict(
            latency_ms=1000 * statistics.median(times[name]),
            params_m=sum(p.numel() for p in model.parameters()) / 1e6)
        for name, model in models.items()
    }


def params_share(args):
    """The share of random subnets within each parameter bound."""
    flownas = MODELS.build(supernet_cfg().model)
    random.seed(0)
    counts = [
        flownas.subnet_num_params(
            flownas.choices_to_arch(flownas.mutator.sample_choices())) / 1e6
        for _ in range(args.subnets)
    ]
    return {
        str(bound): sum(c <= bound for c in counts) / len(counts)
        for bound in args.params_bounds
    }


def flops_check(args):
    """Seconds of one encoder FLOPs count and the counts (which must agree):
    the encoders built and counted on the CPU (the loop two versions ago),
    on the meta device (the previous one), and computed from their configs
    (the current one)."""
    from mmext.razor.flownas.loops import FlowResourceEstimator
    estimator = FlowResourceEstimator(input_shape=(1, 6, *args.flops_size))
    cfg = Config.fromfile(PUBLISHED['s']).model
    padded = [size + -size % 8 for size in args.flops_size]

    def counted(device):
        with torch.device(device):
            encoders = [
                MODELS.build(cfg.encoder),
                MODELS.build(cfg.cxt_encoder)
            ]
        return sum(
            repeat * get_model_flops_params(
                encoder.eval(), (1, 3, *padded),
                units=None,
                as_strings=False,
                input_constructor=lambda shape: dict(
                    x=torch.zeros(shape, device=device)))[0]
            for encoder, repeat in zip(encoders, (2, 1)))

    ways = dict(
        cpu=lambda: counted('cpu'),
        meta=lambda: counted('meta'),
        analytic=lambda: estimator.count_encoder_flops(
            cfg.encoder, cfg.cxt_encoder, 8))
    results = {}
    for repeat in range(args.repeats):
        for name, count in ways.items():
            start = time.perf_counter()
            flops = count()
            results.setdefault(name, []).append(
                (time.perf_counter() - start, flops))
    return {
        name: dict(
            seconds=statistics.median(r[0] for r in runs),
            flops=runs[0][1]) for name, runs in results.items()
    }


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    init_default_scope('mmext')
    measure = dict(
        train_step=train_steps,
        search=search_rates,
        encoders=encoders,
        params=params_share,
        flops=flops_check)
    results = {name: measure[name](args) for name in args.sections}
    if 'train_step' in results:
        step = results['train_step']
        print(f'Training step ({args.train_size[0]}x{args.train_size[1]}, '
              f'batch 2): supernet {step["supernet"]:.2f} s, RAFT '
              f'{step["raft"]:.2f} s, ratio '
              f'{step["supernet"] / step["raft"]:.2f}')
    if 'search' in results:
        for name, search in results['search'].items():
            print(f'Search, {name} loop ({args.val_pairs} pairs of '
                  f'{args.val_size[0]}x{args.val_size[1]}, <= '
                  f'{args.params_limit} M, calibration on '
                  f'{args.calibrate_samples} pairs): {search["evaluated"]} '
                  'candidates '
                  f'evaluated, {search["checks"]} constraint checks, '
                  f'{search["measured"]} FLOPs counts in '
                  f'{search["seconds"]:.1f} s (evaluating candidates '
                  f'{search["evaluating_seconds"]:.1f} s) = '
                  f'{search["evaluated_per_minute"]:.1f} candidates/min')
        rates = {name: search['evaluated_per_minute']
                 for name, search in results['search'].items()}
        print(f'Search rate, current / reference loop: '
              f'{rates["current"] / rates["reference"]:.2f}')
    if 'encoders' in results:
        print(f'Feature encoders at {args.encoder_size[0]}x'
              f'{args.encoder_size[1]}:')
        raft = results['encoders']['RAFT']
        print('| encoder | latency (ms) | vs RAFT | params (M) | vs RAFT |')
        print('|---|---|---|---|---|')
        for name, r in results['encoders'].items():
            print(f'| {name} | {r["latency_ms"]:.0f} | '
                  f'{r["latency_ms"] / raft["latency_ms"]:.2f} | '
                  f'{r["params_m"]:.3f} | '
                  f'{r["params_m"] / raft["params_m"]:.2f} |')
    if 'params' in results:
        shares = ', '.join(f'<= {bound} M: {100 * share:.1f} %'
                           for bound, share in results['params'].items())
        print(f'Random subnets ({args.subnets}, seed 0) within the bound: '
              f'{shares}')
    if 'flops' in results:
        flops = results['flops']
        print(f'Encoder FLOPs count at {args.flops_size[0]}x'
              f'{args.flops_size[1]}: ' + ', '.join(
                  f'{name} {r["seconds"]:.4f} s ({r["flops"] / 1e9:.3f} G)'
                  for name, r in flops.items()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
