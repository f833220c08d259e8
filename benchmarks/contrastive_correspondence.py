"""Cost of the cycle loss and speed of matching.

``python benchmarks/contrastive_correspondence.py [--repeats 5] [--batch 8]
[--size 224] [--threads 1]``

- Training step (forward, backward, SGD update) of the paper's ResNet-50
  model, ``ContrastiveCorrespondence`` (MoCo + cycle) vs mmpretrain's ``MoCo``
  alone, on random images (MoCo: query and key; with the cycle: plus images 1
  and 2) at ``--size``. The two alternate inside every repeat, the first step of
  each is a warm-up, and medians of the process CPU time (one thread: the work
  done, unaffected by other jobs on a shared machine) are compared.
- Matching throughput: pairs per second of hyperpixel keypoint transfer
  (ResNet-50, PF-PASCAL layers (2, 12, 13, 15), 240 x 240, 20 keypoints,
  nearest neighbour), model in eval mode.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import mmext  # noqa: E402,F401  (registers the models)
from mmpretrain.registry import MODELS  # noqa: E402

CONFIG = osp.join(REPO, 'configs', 'contrastive_correspondence',
                  'mocov2-cycle_resnet50_8xb32-20e_pfpascal.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args()


def build(model_cfg):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.train()


def step_time(model, optimizer, inputs):
    start = time.process_time()
    losses = model.loss(inputs, None)
    optimizer.zero_grad()
    sum(losses.values()).backward()
    optimizer.step()
    return time.process_time() - start


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmpretrain')
    model_cfg = dict(cfg.model, queue_len=args.batch * 64)
    moco_cfg = {k: v for k, v in model_cfg.items()
                if k in ('backbone', 'neck', 'head', 'queue_len', 'feat_dim',
                         'momentum')}
    models = dict(moco=build(dict(moco_cfg, type='MoCo')),
                  cycle=build(model_cfg))
    optimizers = {name: torch.optim.SGD(
        [p for p in m.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
        for name, m in models.items()}
    images = [torch.randn(args.batch, 3, args.size, args.size)
              for _ in range(4)]
    inputs = dict(moco=images[:2], cycle=images)

    times = {name: [] for name in models}
    for repeat in range(args.repeats + 1):
        order = list(models) if repeat % 2 == 0 else list(models)[::-1]
        for name in order:
            seconds = step_time(models[name], optimizers[name], inputs[name])
            if repeat:
                times[name].append(seconds)
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f'training step, ResNet-50, batch {args.batch}, {args.size} px, '
          f'{args.threads} thread(s), median of {args.repeats} (CPU s):')
    print(f"  MoCo {median['moco']:.2f} s, MoCo + cycle {median['cycle']:.2f} "
          f"s, ratio {median['cycle'] / median['moco']:.2f}")

    model = models['cycle'].eval()
    source, target = torch.randn(2, 1, 3, 240, 240)
    keypoints = torch.rand(20, 2) * 240
    with torch.no_grad():
        def match():
            feats = [model.matcher.features(model.backbone, x)[0]
                     for x in (source, target)]
            model.matcher.transfer(*feats, keypoints,
                                   model.matcher.stride(model.backbone))
        match()
        start, wall = time.process_time(), time.perf_counter()
        for _ in range(args.repeats):
            match()
        cpu = (time.process_time() - start) / args.repeats
        wall = (time.perf_counter() - wall) / args.repeats
    print(f'matching, ResNet-50 hyperpixels (2, 12, 13, 15), 240 x 240: '
          f'{1 / cpu:.2f} pairs/s of CPU time ({1 / wall:.2f} wall clock)')


if __name__ == '__main__':
    main()
