"""Category-name initialisation vs random initialisation, with nothing to download.

    python tools/category_names/procedural_clip_demo.py [--seeds 3] [--shots 1 4]

1. Draws captioned images procedurally: a coloured shape on a noisy
   background, captioned "a photo of a red circle" (8 colours x 6 shapes).
2. Pretrains a tiny CLIP on them, built from mmpretrain's CLIP parts
   (``CLIPZeroShot``: ViT image tower, ``CLIPProjection``,
   ``CLIPTransformer`` text tower, with the offline CLIP BPE tokenizer) and
   saved as a converted-CLIP checkpoint. 16 colour-shape combinations are held
   out: never a caption, though each word is in other captions.
3. Few-shot classification of the 16 held-out combinations: the image tower
   (loaded from the checkpoint exactly as a real CLIP would be) with a
   ``NameInitClsHead``, initialised from the class names ("red circle") or at
   random, fine-tuned on k images per class (``FewShotDataset``), evaluated
   on fresh images. Prints the accuracies (mean and std over seeds) as a
   Markdown table and writes them to ``<work-dir>/results.json``.

A few CPU minutes in all. Everything is seeded; numbers vary slightly across
machines with the floating-point order of the BLAS.
"""
import argparse
import json
import os.path as osp
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine import mkdir_or_exist
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import MODELS

import mmext  # noqa: F401  (compatibility layer, registers mmext)
import mmext.classification.heads  # noqa: F401  (the head, text tower, tokenizer)
from mmext.classification.datasets import FewShotDataset

COLOURS = {
    'red': (220, 30, 30),
    'green': (40, 180, 40),
    'blue': (40, 70, 230),
    'yellow': (235, 220, 40),
    'purple': (140, 40, 190),
    'orange': (245, 140, 20),
    'pink': (250, 140, 200),
    'white': (245, 245, 245),
}
SHAPES = ('circle', 'square', 'triangle', 'cross', 'ring', 'diamond')
# Pretraining captions vary the wording; the few-shot head uses the first.
CAPTIONS = ('a photo of a {}.', 'a {}.', 'a picture of a {}.',
            'a drawing of a {}.', 'a small {}.', 'a large {}.')
IMG = 32
MEAN, STD = 127.5, 63.75
EMBED = 64


def held_out_pairs():
    """16 (colour, shape) combinations never captioned in pretraining: every
    colour twice and every shape two or three times, so each word stays in
    pretraining with other partners."""
    colours = list(COLOURS)
    return [(colours[i], SHAPES[(i + d) % len(SHAPES)]) for i in range(8)
            for d in (0, 3)]


def draw(colour, shape, rng):
    """One HxWx3 uint8 RGB image of ``shape`` in ``colour``."""
    img = rng.integers(0, 90, (IMG, IMG, 3)).astype(np.uint8)
    img = cv2.GaussianBlur(img, (5, 5), 0)
    rgb = np.clip(np.array(COLOURS[colour]) + rng.integers(-20, 21, 3), 0, 255)
    rgb = tuple(int(v) for v in rgb)
    r = int(rng.integers(7, 12))
    cx, cy = (int(v) for v in rng.integers(r + 1, IMG - r - 1, 2))
    if shape == 'circle':
        cv2.circle(img, (cx, cy), r, rgb, -1, cv2.LINE_AA)
    elif shape == 'ring':
        cv2.circle(img, (cx, cy), r, rgb, max(2, r // 3), cv2.LINE_AA)
    elif shape == 'square':
        cv2.rectangle(img, (cx - r + 2, cy - r + 2), (cx + r - 2, cy + r - 2),
                      rgb, -1)
    elif shape == 'cross':
        w = max(2, r // 3)
        cv2.rectangle(img, (cx - r, cy - w), (cx + r, cy + w), rgb, -1)
        cv2.rectangle(img, (cx - w, cy - r), (cx + w, cy + r), rgb, -1)
    else:
        pts = ([(cx, cy - r), (cx - r, cy + r - 2), (cx + r, cy + r - 2)]
               if shape == 'triangle' else
               [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)])
        cv2.fillPoly(img, [np.array(pts, np.int32)], rgb, cv2.LINE_AA)
    return img


def draw_many(pairs, per_class, rng):
    """``per_class`` images of every pair; returns (uint8 NxHxWx3, labels)."""
    images, labels = [], []
    for label, (colour, shape) in enumerate(pairs):
        for _ in range(per_class):
            images.append(draw(colour, shape, rng))
            labels.append(label)
    return np.stack(images), np.array(labels)


class DrawnShapes(BaseDataset):
    """Images drawn in memory as an mmpretrain dataset (pipeline: pack only).

    Args:
        images (np.ndarray): ``N x H x W x 3`` uint8.
        labels (np.ndarray): ``N`` class indices.
        classes (Sequence[str]): Class names.
    """

    def __init__(self, images, labels, classes):
        self._images, self._labels = images, labels
        super().__init__(
            ann_file='',
            metainfo=dict(classes=tuple(classes)),
            pipeline=[dict(type='PackInputs')])

    def load_data_list(self):
        return [
            dict(img=img, gt_label=int(label))
            for img, label in zip(self._images, self._labels)
        ]


def tiny_clip_cfg(context_length):
    return dict(
        type='CLIPZeroShot',
        vision_backbone=dict(
            type='VisionTransformer',
            arch=dict(
                embed_dims=EMBED,
                num_layers=4,
                num_heads=4,
                feedforward_channels=4 * EMBED),
            img_size=IMG,
            patch_size=8,
            drop_rate=0.,
            layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
            pre_norm=True),
        projection=dict(
            type='CLIPProjection', in_channels=EMBED, out_channels=EMBED),
        text_backbone=dict(
            type='CLIPTransformer', width=EMBED, layers=2, heads=4,
            attn_mask=True),
        tokenizer=dict(type='CLIPBPETokenizer'),
        vocab_size=49408,
        transformer_width=EMBED,
        proj_dim=EMBED,
        context_length=context_length,
        # Required by CLIPZeroShot; the demo classifies through the head.
        text_prototype=['unused'])


def to_inputs(images):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x - MEAN) / STD


def pretrain(args, seen, rng):
    """Contrastive pretraining of a tiny CLIP on captioned drawings of the
    seen combinations; returns the model."""
    torch.manual_seed(args.seed)
    clip = MODELS.build(tiny_clip_cfg(args.context_length))
    names = [f'{c} {s}' for c, s in seen]
    # Every caption of every class, tokenized once.
    tokens = clip.tokenize(
        [t.format(n) for n in names for t in CAPTIONS]).view(
            len(names), len(CAPTIONS), -1)
    # fused: one kernel over all parameters; the 49,408-token embedding
    # makes the unfused update the slowest part of a step on a CPU.
    opt = torch.optim.AdamW(clip.parameters(), lr=args.pretrain_lr,
                            weight_decay=0.05, fused=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, args.pretrain_lr, total_steps=args.pretrain_steps, pct_start=0.1)
    clip.train()
    for step in range(args.pretrain_steps):
        labels = rng.integers(0, len(seen), args.batch_size)
        images = np.stack([draw(*seen[i], rng) for i in labels])
        # Every image has its own caption, in a random wording.
        captions = tokens[labels, rng.integers(0, len(CAPTIONS), len(labels))]
        img = F.normalize(clip.extract_image_feat(to_inputs(images)), dim=-1)
        txt = F.normalize(clip.extract_text_feat(captions), dim=-1)
        logits = clip.logit_scale.exp() * img @ txt.t()
        # CLIP's symmetric loss, except that a batch holds several images of
        # a class: every caption of the class is a positive, not only the
        # image's own (which would push apart captions of the same class).
        same = torch.from_numpy(labels[:, None] == labels[None, :]).float()
        target = same / same.sum(1, keepdim=True)
        loss = (F.cross_entropy(logits, target) +
                F.cross_entropy(logits.t(), target)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():  # CLIP clamps its temperature at 100
            clip.logit_scale.clamp_(0, np.log(100))
        if step % 100 == 0 or step == args.pretrain_steps - 1:
            print(f'  pretrain step {step:4d}  loss {loss.item():.3f}  '
                  f'scale {clip.logit_scale.exp().item():.1f}', flush=True)
    return clip.eval()


def classifier_cfg(ckpt, names, init, context_length):
    """The few-shot model: CLIP's image tower from the checkpoint (as the
    ViT-B/16 configs load a real CLIP) and a NameInitClsHead."""
    vit = tiny_clip_cfg(context_length)['vision_backbone']
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor',
            mean=[MEAN] * 3,
            std=[STD] * 3,
            to_rgb=False,
            num_classes=len(names)),
        backbone=dict(
            vit,
            init_cfg=dict(type='Pretrained', checkpoint=ckpt, prefix='visual')),
        neck=dict(
            type='CLIPProjection',
            in_channels=EMBED,
            out_channels=EMBED,
            init_cfg=dict(
                type='Pretrained', checkpoint=ckpt, prefix='visual_proj')),
        head=dict(
            type='NameInitClsHead',
            num_classes=len(names),
            in_channels=EMBED,
            text_encoder=dict(
                type='CLIPTextEncoder',
                context_length=context_length,
                width=EMBED,
                layers=2,
                heads=4,
                proj_dim=EMBED,
                pretrained=ckpt),
            class_names=names,
            templates=[CAPTIONS[0]],
            init=init))


@torch.no_grad()
def accuracy(model, images, labels, batch=400):
    correct = 0
    for i in range(0, len(images), batch):
        logits = model(to_inputs(images[i:i + batch]), mode='tensor')
        correct += (logits.argmax(1).numpy() == labels[i:i + batch]).sum()
    return 100.0 * correct / len(images)


def fine_tune(args, ckpt, names, pool, test, shots, seed, init):
    """k-shot fine-tuning of the whole image tower and the head; returns the
    test accuracy before and after."""
    torch.manual_seed(seed)
    model = MODELS.build(classifier_cfg(ckpt, names, init, args.context_length))
    model.init_weights()
    train = FewShotDataset(DrawnShapes(*pool, names), shots=shots, seed=seed)
    samples = [train[i] for i in range(len(train))]
    before = accuracy(model, *test)
    optim = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type='AdamW', lr=args.lr, weight_decay=0.05),
            # The head learns faster than the pretrained tower; the cosine
            # scale is a temperature, not a weight to decay.
            paramwise_cfg=dict(custom_keys={
                'head': dict(lr_mult=10.0),
                'head.log_scale': dict(lr_mult=10.0, decay_mult=0.0)
            })))
    rng = np.random.default_rng(seed)
    model.train()
    data_samples = [s['data_samples'] for s in samples]
    for _ in range(args.steps):  # every step on all k-shot images
        inputs = [s['inputs'] for s in samples]
        # A horizontal flip keeps every colour and shape as drawn.
        if rng.random() < 0.5:
            inputs = [x.flip(-1) for x in inputs]
        model.train_step(dict(inputs=inputs, data_samples=data_samples), optim)
    model.eval()
    return before, accuracy(model, *test)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/category_names_demo')
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 4])
    parser.add_argument('--seed', type=int, default=0, help='pretraining')
    parser.add_argument('--pretrain-steps', type=int, default=400)
    parser.add_argument('--pretrain-lr', type=float, default=2e-3)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=40,
                        help='fine-tuning steps per run')
    parser.add_argument('--lr', type=float, default=1e-4,
                        help='fine-tuning lr of the image tower')
    parser.add_argument('--context-length', type=int, default=16)
    parser.add_argument(
        '--threads', type=int, default=1,
        help='torch threads; the models are too small to gain from more, '
        'and extra threads slow everything down on a shared CPU')
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    init_default_scope('mmpretrain')
    # The current logger: mmengine's per-parameter init and optimizer
    # reports would drown the results.
    MMLogger.get_instance('category_names_demo', log_level='WARNING')
    mkdir_or_exist(args.work_dir)
    start = time.time()
    rng = np.random.default_rng(args.seed)
    held = held_out_pairs()
    seen = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in held]
    print(f'pretraining a tiny CLIP on {len(seen)} captioned combinations '
          f'({len(held)} held out)', flush=True)
    clip = pretrain(args, seen, rng)
    ckpt = osp.join(args.work_dir, 'tiny_clip.pth')
    torch.save(clip.state_dict(), ckpt)

    names = [f'{c} {s}' for c, s in held]
    data_rng = np.random.default_rng(args.seed + 1)
    pool = draw_many(held, 16, data_rng)
    test = draw_many(held, 50, data_rng)
    results = {}
    for shots in args.shots:
        for init in ('names', 'random'):
            runs = [
                fine_tune(args, ckpt, names, pool, test, shots, seed, init)
                for seed in range(args.seeds)
            ]
            results[f'{shots}-shot {init}'] = [after for _, after in runs]
            if init == 'names':
                results['zero-shot'] = [runs[0][0]]
            print(f'  {shots}-shot, {init} init: ' +
                  ', '.join(f'{a:.1f}' for _, a in runs), flush=True)

    elapsed = time.time() - start
    lines = [
        f'| held-out classes ({len(held)}) | name init | random init |',
        '|---|---|---|',
        f'| 0-shot (zero-shot CLIP) | {results["zero-shot"][0]:.1f} | - |'
    ]
    for shots in args.shots:
        cells = [results[f'{shots}-shot {i}'] for i in ('names', 'random')]
        lines.append(f'| {shots}-shot | ' + ' | '.join(
            f'{np.mean(c):.1f} ± {np.std(c):.1f}' for c in cells) + ' |')
    table = '\n'.join(lines)
    print(f'\ntop-1 accuracy (%), mean ± std over {args.seeds} seeds, '
          f'{elapsed:.0f} s in all:\n{table}')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(
            dict(args=vars(args), accuracy=results, seconds=elapsed,
                 held_out=names), f, indent=1)


if __name__ == '__main__':
    main()
