"""Cost of the adaptive ViT against the plain ViT on this machine's CPU.

    OMP_NUM_THREADS=1 python benchmarks/adaptive_vit_fas.py \
        [--arch deit-tiny] [--batch 4] [--repeats 5]

1. Parameters: the adapters and FWT added to ViT-B/16 (the paper's,
   ``adapter_cfg`` K=2, 64 wide) and to DeiT-tiny / DeiT-small (same
   adapters), total and trainable in stage 2.
2. Step time at 224 px, batch ``--batch``, FAS head on top, of ``--arch``:
   inference (eval mode, no grad) and one training step (forward, backward,
   Adam), plain ViT with every parameter training vs adaptive ViT in stage 2
   (only adapters + FWT training, cosine loss included). Repeats alternate
   between the two models; the median of ``--repeats`` is reported, and the
   ratio adaptive / plain is taken side by side in the same run.

Prints a Markdown table; ``--out`` also writes the numbers as JSON.
"""
import argparse
import json
import statistics
import time

import torch

import mmext  # noqa: F401  (compatibility layer, registers mmext)
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

STAGE2 = ['backbone.layers.*adapter*', 'backbone.layers.*.fwt.*']


def build(arch, adaptive, embed_dims):
    backbone = dict(type='VisionTransformer',
                    arch=arch,
                    img_size=224,
                    patch_size=16,
                    drop_rate=0.)
    if adaptive:
        backbone.update(type='AdaptiveVisionTransformer',
                        adapter_cfg=dict(num_adapters=2, hidden_dims=64))
    return MODELS.build(
        dict(type='FASClassifier',
             backbone=backbone,
             head=dict(type='NormLinearClsHead',
                       num_classes=2,
                       in_channels=embed_dims,
                       hidden_channels=512,
                       loss=dict(type='CrossEntropyLoss')),
             cosine_loss_weight=1. if adaptive else 0.,
             trainable=STAGE2 if adaptive else None))


def count(model):
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='deit-tiny')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--out')
    args = parser.parse_args()
    init_default_scope('mmpretrain')
    widths = {'deit-tiny': 192, 'deit-small': 384, 'base': 768}

    rows = [
        '| arch | plain params | adaptive params | added | '
        'stage-2 trainable |', '|---|---|---|---|---|'
    ]
    params = {}
    for arch, width in widths.items():
        plain, _ = count(build(arch, False, width))
        total, trainable = count(build(arch, True, width))
        params[arch] = dict(plain=plain, adaptive=total, trainable=trainable)
        rows.append(f'| {arch} | {plain / 1e6:.2f} M | {total / 1e6:.2f} M '
                    f'| +{100 * (total - plain) / plain:.1f}% | '
                    f'{trainable / 1e6:.3f} M |')
    print('\n'.join(rows))

    torch.manual_seed(0)
    width = widths[args.arch]
    models = {
        name: build(args.arch, name == 'adaptive', width)
        for name in ('plain', 'adaptive')
    }
    optims = {
        name:
        torch.optim.Adam([p for p in m.parameters() if p.requires_grad],
                         lr=1e-4)
        for name, m in models.items()
    }
    inputs = torch.randn(args.batch, 3, 224, 224)
    samples = [DataSample().set_gt_label(i % 2) for i in range(args.batch)]

    def infer(model):
        model.eval()
        with torch.no_grad():
            model(inputs, mode='tensor')

    def train(name):
        model = models[name]
        model.train()
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        optims[name].zero_grad()
        loss.backward()
        optims[name].step()

    times = {(n, k): [] for n in models for k in ('infer', 'train')}
    for name in models:  # warm-up
        infer(models[name])
        train(name)
    for _ in range(args.repeats):
        for name, model in models.items():
            times[(name, 'infer')].append(timed(lambda: infer(model)))
            times[(name, 'train')].append(timed(lambda: train(name)))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f'\n{args.arch}, 224 px, batch {args.batch}, '
          f'{torch.get_num_threads()} thread(s), median of {args.repeats}:')
    print('| step | plain ViT (s) | adaptive ViT (s) | ratio |')
    print('|---|---|---|---|')
    for kind, label in (('infer', 'inference'),
                        ('train', 'training (plain: all, adaptive: '
                         'stage 2)')):
        p, a = median[('plain', kind)], median[('adaptive', kind)]
        print(f'| {label} | {p:.3f} | {a:.3f} | {a / p:.2f} |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(params=params,
                           arch=args.arch,
                           batch=args.batch,
                           seconds={
                               f'{n}/{k}': v
                               for (n, k), v in times.items()
                           }),
                      f,
                      indent=1)


if __name__ == '__main__':
    main()
