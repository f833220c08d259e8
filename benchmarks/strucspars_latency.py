"""CPU latency and peak memory of StrucSpars deploy models vs dense ResNet-50.

    python benchmarks/strucspars_latency.py [--ratios 0.35 0.65 0.85]
        [--batch-sizes 1 32] [--threads 1] [--repeats 10 2] [--malloc heap]
        [--no-diagnostics]

Weights are random: only the group structure matters for speed. The group
counts come from the export tool's bisection run on the random weights with
random channel permutations: random weights have no block structure, so every
layer removes about half of its mass per level and the bisection mixes the two
group counts around the ratio (35%: 1 and 2 groups, 65%: 2 and 4, 85%: 4 and
8), the layers that switch first being those whose random mass happens to sit
closest to the block diagonal. Trained models spread groups less evenly; the
FLOPs column says how far a grouping is from the paper's.

Each deploy model is timed twice: as exported (``to_deploy``: every grouped
conv gathers its input and scatters its output) and folded
(``fold_permutations``: the permutations folded through the graph, batch
norms fused into the convs). ``dense, BN fused`` is the dense model through
the same pass (which only fuses its batch norms), to tell the two savings
apart.

All models are timed in one process, interleaved round by round, so that they
see the same machine load; latencies are medians over rounds and each ratio
is the median of the per-round ratios to the dense model. Peak memory is the
rise of the process's peak resident set during the first (warm-up) forward
pass, after glibc has returned its free memory (``malloc_trim``) and the peak
has been reset (``/proc/self/clear_refs``): activations, temporary buffers and
oneDNN's reordered weights, not the model's own weights.

Diagnostics (on by default), to see where grouped convolution loses against
its FLOPs: the middle ratio's deploy model without its channel gathers (same
grouped convs, channels left in place, batch norms not fused), channels-last
memory format (first batch size only), time per operator at the largest
batch size, and single operations (gather, in-place permuted add, 1x1 conv
with and without a gather) on a layer1 activation at that batch size.

``--malloc heap`` tells glibc never to serve allocations with fresh ``mmap``
and to keep freed memory: by default every tensor above 32 MB (most
activations at batch 32) is a fresh mapping whose pages fault in on first
touch, and each deploy conv adds two such tensors (its channel gathers).
"""
import argparse
import copy
import ctypes
import functools
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.razor.strucspars import (PermutedGroupConv2d,
                                    StructuredSparsification,
                                    fold_permutations, to_deploy)

RESNET50 = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss')))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--ratios', type=float, nargs='+', default=[0.35, 0.65, 0.85])
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch threads (default 1: on a shared 2-core host a second '
        'OpenMP thread mostly waits)')
    parser.add_argument(
        '--repeats',
        type=int,
        nargs='+',
        default=[10, 2],
        help='timed rounds per batch size, after one warm-up pass '
        '(default: 10 at batch 1, 2 at batch 32)')
    parser.add_argument(
        '--malloc',
        choices=['default', 'heap'],
        default='default',
        help="glibc's allocation policy: its default, or 'heap' (no mmap, "
        'freed memory kept for reuse)')
    parser.add_argument('--no-diagnostics', action='store_true')
    return parser.parse_args()


def build_models(ratios, seed=0):
    """Dense ResNet-50 and its deploy models at ``ratios``, each also with
    its permutations folded (and batch norms fused); the dense model with
    its batch norms fused, to tell the two savings apart."""
    torch.manual_seed(seed)
    init_default_scope('mmpretrain')
    algorithm = StructuredSparsification(copy.deepcopy(RESNET50)).eval()
    for name, conv in algorithm.convs():
        shuffle = algorithm.shuffle(name)
        shuffle.out_perm.copy_(torch.randperm(conv.out_channels))
        shuffle.in_perm.copy_(torch.randperm(conv.in_channels))
    example = torch.randn(1, 3, 224, 224)
    models = {
        'dense': algorithm.architecture,
        'dense, BN fused': fold_permutations(algorithm.architecture, example)
    }
    groupings = {}
    for ratio in ratios:
        _, groups, reached = algorithm.groups_for_ratio(ratio)
        algorithm.set_groups(groups)
        label = f'deploy {ratio:.0%}'
        models[label] = to_deploy(algorithm).eval()
        models[f'{label}, folded'] = fold_permutations(models[label], example)
        groupings[label] = (reached, groups)
    return models, groupings


def without_gathers(model):
    """The same grouped convs with the channel gathers left out."""
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if isinstance(module, PermutedGroupConv2d):
            conv = nn.Conv2d(module.in_channels, module.out_channels,
                             module.kernel_size, module.stride,
                             module.padding, module.dilation, module.groups,
                             module.bias is not None)
            conv.weight, conv.bias = module.weight, module.bias
            model.set_submodule(name, conv)
    return model


def _memory_kb(field):
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


_LIBC = ctypes.CDLL('libc.so.6')
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)


def peak_forward_mb(model, inputs):
    """One forward pass; the rise of the peak resident set during it, in MB."""
    _LIBC.malloc_trim(0)  # give cached free memory back first
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')  # reset VmHWM to the current resident set
    before = _memory_kb('VmRSS')
    with torch.inference_mode():
        model(inputs)
    return (_memory_kb('VmHWM') - before) / 1024


def _inputs_for(label, inputs):
    if 'channels-last' in label:
        return inputs.to(memory_format=torch.channels_last)
    return inputs


def measure(models, inputs, rounds):
    """Peak memory of a warm-up pass, then latency over interleaved rounds.

    Returns:
        dict: Per model: (median seconds, median ratio to 'dense', peak MB).
    """
    memory = {
        label: peak_forward_mb(model, _inputs_for(label, inputs))
        for label, model in models.items()
    }
    times = {label: [] for label in models}
    with torch.inference_mode():
        for _ in range(rounds):
            for label, model in models.items():
                x = _inputs_for(label, inputs)
                start = time.perf_counter()
                model(x)
                times[label].append(time.perf_counter() - start)
    return {
        label: (statistics.median(t),
                statistics.median(a / d for a, d in zip(t, times['dense'])),
                memory[label])
        for label, t in times.items()
    }


def profile_ops(model, inputs, top=6):
    """The operators that take the most time in one forward pass."""
    with torch.inference_mode(), torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(inputs)
    events = sorted(
        prof.key_averages(), key=lambda e: e.self_cpu_time_total,
        reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [(e.key, e.count, e.self_cpu_time_total / 1e3,
             e.self_cpu_time_total / total) for e in events[:top]]


def layer1_operations(batch, rounds=5):
    """Median milliseconds of single operations on a ResNet-50 layer1
    activation (256 x 56 x 56): a channel gather into a fresh tensor, an
    in-place permuted or plain addition, and a 1x1 conv to 64 channels,
    dense or grouped, with and without the gather in front."""
    x, y = torch.randn(2, batch, 256, 56, 56)
    perm = torch.randperm(256)
    weights = {g: torch.randn(64, 256 // g, 1, 1) for g in (1, 2, 4)}
    operations = {
        'index_select (gather)': lambda: y.index_select(1, perm),
        'index_add_ (in-place permuted add)': lambda: x.index_add_(
            1, perm, y),
        'add_ (in-place add)': lambda: x.add_(y),
    }
    for g, weight in weights.items():
        name = 'dense' if g == 1 else f'{g} groups'
        operations[f'1x1 conv to 64, {name}'] = functools.partial(
            F.conv2d, x, weight, groups=g)
        if g > 1:
            operations[f'gather + 1x1 conv to 64, {name}'] = (
                lambda w=weight, g=g: F.conv2d(
                    x.index_select(1, perm), w, groups=g))
    timings = {}
    with torch.inference_mode():
        for name, operation in operations.items():
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                operation()
                times.append(time.perf_counter() - start)
            timings[name] = statistics.median(times) * 1e3
    return timings


def main():
    args = parse_args()
    if len(args.repeats) == 1:
        args.repeats *= len(args.batch_sizes)
    if len(args.repeats) != len(args.batch_sizes):
        raise ValueError('--repeats needs one value, or one per batch size')
    if args.malloc == 'heap':
        _LIBC.mallopt(_M_MMAP_MAX, 0)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, 1 << 40)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    models, groupings = build_models(args.ratios)
    size = (3, 224, 224)
    print(f'torch {torch.__version__}, {args.threads} thread(s), malloc '
          f'{args.malloc}, input 224x224, rounds {args.repeats}\n')

    def complexity(model):
        analyzer = FlopAnalyzer(model, torch.randn(1, *size))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(
            False)
        return analyzer.total(), parameter_count(model)['']

    dense_flops, dense_params = complexity(models['dense'])
    print('| model | conv weights pruned | groups (count of convs) | '
          'GFLOPs | params (M) |')
    print('|---|---|---|---|---|')
    convs = len(next(iter(groupings.values()))[1])
    print(f'| dense | 0% | 1: {convs} | {dense_flops / 1e9:.2f} | '
          f'{dense_params / 1e6:.1f} |')
    for label, (reached, groups) in groupings.items():
        flops, params = complexity(models[label])
        counts = {}
        for count in groups.values():
            counts[count] = counts.get(count, 0) + 1
        spread = ', '.join(f'{g}: {n}' for g, n in sorted(counts.items()))
        print(f'| {label} | {reached:.1%} | {spread} | {flops / 1e9:.2f} | '
              f'{params / 1e6:.1f} |')

    middle = f'deploy {args.ratios[len(args.ratios) // 2]:.0%}'
    print('\n| model | batch | latency (ms) | vs dense | peak memory (MB) '
          '| vs dense |')
    print('|---|---|---|---|---|---|')
    for index, (batch, rounds) in enumerate(
            zip(args.batch_sizes, args.repeats)):
        timed = dict(models)
        if not args.no_diagnostics:
            timed[f'{middle}, no gathers'] = without_gathers(models[middle])
            if index == 0:
                timed['dense, channels-last'] = copy.deepcopy(
                    models['dense']).to(memory_format=torch.channels_last)
                timed[f'{middle}, channels-last'] = copy.deepcopy(
                    models[middle]).to(memory_format=torch.channels_last)
        results = measure(timed, torch.randn(batch, *size), rounds)
        dense_memory = results['dense'][2]
        for label, (latency, ratio, memory) in results.items():
            print(f'| {label} | {batch} | {latency * 1e3:.1f} | {ratio:.2f} '
                  f'| {memory:.0f} | {memory / dense_memory:.2f} |')

    if not args.no_diagnostics:
        batch = max(args.batch_sizes)
        inputs = torch.randn(batch, *size)
        for label in ('dense', middle, f'{middle}, folded'):
            print(f'\nTime per operator, {label}, batch {batch}:\n')
            print('| operator | calls | ms | share |')
            print('|---|---|---|---|')
            for key, count, ms, share in profile_ops(models[label], inputs):
                print(f'| {key} | {count} | {ms:.1f} | {share:.0%} |')
        print(f'\nSingle operations on a layer1 activation, batch {batch}:\n')
        print('| operation | ms |')
        print('|---|---|')
        for name, ms in layer1_operations(batch).items():
            print(f'| {name} | {ms:.1f} |')
    print(f'\n(benchmark took {time.perf_counter() - start:.0f} s)')


if __name__ == '__main__':
    main()
