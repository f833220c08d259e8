"""Cost of adversarial privacy training and of the post-hoc attacker, on CPU:

    OMP_NUM_THREADS=1 python benchmarks/privacy_adversarial.py [--repeats 5]

1. Training step of ``AdversarialPrivacyClassifier`` (adversary steps +
   encoder step) vs the plain ``ImageClassifier`` with the same encoder, neck
   and head (one step), for the embedded digits and procedural-faces configs,
   batch 32 of random images: median seconds per step over interleaved
   repeats, and their ratio.
2. The post-hoc attacker evaluation of the digits config on the real data
   (train the fresh attacker ``test_cfg.iters`` steps on the 437 public
   digits, then score the 360 test digits): seconds.
"""
import argparse
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader

import mmext  # noqa: F401
from mmext.classification.privacy import (build_cut_backbone,
                                          score_reconstructions,
                                          train_attacker)

CONFIGS = {
    'digits 16 px': ('configs/privacy_adversarial/privacy-adv-pixel_'
                     'resnet18-w16-cut0_1xb32-300it_digits-16px.py', 16),
    'procedural faces 32 px':
    ('configs/privacy_adversarial/privacy-adv-pixel_resnet18-w16-cut0_'
     '1xb32-300it_procedural-faces-32px.py', 32),
}


def batch(size, num_classes, n=32):
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    samples = [DataSample().set_gt_label(i % num_classes) for i in range(n)]
    return dict(inputs=list(images), data_samples=samples)


def plain_classifier(model_cfg):
    return ImageClassifier(backbone=build_cut_backbone(model_cfg.backbone,
                                                       model_cfg.cut_stage),
                           neck=model_cfg.neck,
                           head=model_cfg.head,
                           data_preprocessor=model_cfg.data_preprocessor)


def step_times(cfg, size, repeats, steps=10):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    wrappers = build_optim_wrapper(model, cfg.optim_wrapper)
    plain = plain_classifier(cfg.model)
    plain_wrapper = OptimWrapper(torch.optim.Adam(plain.parameters(), 2e-3))
    data = batch(size, cfg.model.head.num_classes)
    runs = dict(adversarial=(model, wrappers), plain=(plain, plain_wrapper))
    times = {name: [] for name in runs}
    for name, (m, w) in runs.items():  # warm-up
        m.train()
        m.train_step(data, w)
    for _ in range(repeats):
        for name, (m, w) in runs.items():
            start = time.perf_counter()
            for _ in range(steps):
                m.train_step(data, w)
            times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def attacker_time(cfg):

    def loader(dataset_cfg, shuffle):
        return DataLoader(DATASETS.build(dataset_cfg),
                          batch_size=32,
                          shuffle=shuffle,
                          collate_fn=pseudo_collate)

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    public = loader(cfg.test_cfg.public_dataloader.dataset, True)
    test = loader(cfg.test_dataloader.dataset, False)
    start = time.perf_counter()
    attacker = train_attacker(model, cfg.test_cfg.attacker, public,
                              cfg.test_cfg.iters, cfg.test_cfg.lr)
    trained = time.perf_counter()
    score_reconstructions(model, attacker, test)
    return trained - start, time.perf_counter() - trained


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    init_default_scope('mmpretrain')
    print(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s)')
    print('| config | plain step (s) | adversarial step (s) | ratio |')
    print('|---|---|---|---|')
    for name, (path, size) in CONFIGS.items():
        t = step_times(Config.fromfile(path), size, args.repeats)
        print(f"| {name} | {t['plain']:.4f} | {t['adversarial']:.4f} | "
              f"{t['adversarial'] / t['plain']:.2f} |")
    cfg = Config.fromfile(CONFIGS['digits 16 px'][0])
    train_s, score_s = attacker_time(cfg)
    print(f'attacker evaluation, digits: training {cfg.test_cfg.iters} steps '
          f'{train_s:.1f} s, scoring 360 test digits {score_s:.2f} s')


if __name__ == '__main__':
    main()
