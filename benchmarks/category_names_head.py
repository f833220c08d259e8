"""Benchmark of category-name initialisation on this machine's CPU.

    python benchmarks/category_names_head.py [--classes 8] [--steps 2]

1. Building the head for ImageNet: 1000 classes x 80 templates (OpenAI's
   ImageNet prompts, mmpretrain's short ImageNet names) through a CLIP
   ViT-B/16-size text tower (random weights: the cost does not depend on
   them). The tokenizer runs over all 80,000 prompts; the text tower over
   ``--classes`` of the classes, extrapolated linearly to 1000 (every class
   costs the same 80 prompts; ``--classes 1000`` measures it all). For
   comparison, mmpretrain's own path (``CLIP.extract_text_feat``, all 77
   positions) on the prompts of ``--full-context-classes``.
2. One training step of the ViT-B/16 configs at 224 px: fine-tuning
   (``name-init_clip-vit-base-p16_16shot_in1k.py``) vs the linear probe
   (``linear-probe_clip-vit-base-p16_16shot_in1k.py``), models built from
   the configs without loading weights.

Prints a Markdown table; ``--out`` also writes the numbers as JSON.
"""
import argparse
import json
import os
import os.path as osp
import platform
import time

import torch

import mmext  # noqa: F401  (compatibility layer)
import mmext.classification.heads  # noqa: F401  (registers the components)
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmext.classification.text import CLIPTextEncoder, resolve_templates
from mmpretrain.models.multimodal.clip.clip import CLIP, PROTOTYPE_MAP
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs', 'category_names')


def timed(fn, *args):
    """``fn(*args)`` and its (wall, CPU) seconds. On a shared machine the CPU
    time of this process is the steadier measure; with one thread it is
    about what the wall time would be on an idle core."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


@torch.no_grad()
def bench_head(num_classes, full_context_classes):
    names = list(PROTOTYPE_MAP['imagenet'])
    templates = resolve_templates('openai_imagenet')
    torch.manual_seed(0)
    encoder = CLIPTextEncoder().eval()  # ViT-B/16's text tower
    prompts = [t(n) for n in names for t in templates]
    tokens, t_tok = timed(encoder.tokenizer, prompts)
    subset = names[:num_classes]
    _, t_ours = timed(encoder.class_prototypes, subset, templates)
    # mmpretrain's text path: the full 77-token context for every prompt.
    sub_tokens = tokens[:full_context_classes * len(templates)]
    _, t_full = timed(
        lambda: [
            CLIP.extract_text_feat(encoder, sub_tokens[i:i + 256])
            for i in range(0, len(sub_tokens), 256)
        ])
    ours = [t * len(names) / num_classes for t in t_ours]
    full = [t * len(names) / full_context_classes for t in t_full]
    return dict(
        prompts=len(prompts),
        measured_classes=num_classes,
        full_context_classes=full_context_classes,
        mean_prompt_tokens=float((tokens.argmax(-1) + 1).float().mean()),
        # (wall, CPU) seconds, for all 1000 classes
        tokenize_s=t_tok,
        text_tower_s=ours,
        full_context_s=full,
        head_s=[a + b for a, b in zip(t_tok, ours)])


def build_from_config(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    model_cfg = cfg.model
    # No CLIP weights here: random towers, the head at random (its text tower
    # is timed above), so nothing is read from disk.
    model_cfg.backbone.init_cfg = None
    model_cfg.neck.init_cfg = None
    model_cfg.head.update(init='random', text_encoder=None, init_scale=100.0)
    model_cfg.data_preprocessor = dict(
        cfg.data_preprocessor, type='ClsDataPreprocessor')
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def bench_step(name, batch_size, steps):
    model, optim_wrapper = build_from_config(name)
    model.train()
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8)
            for _ in range(batch_size)
        ],
        data_samples=[
            DataSample().set_gt_label(i % 1000) for i in range(batch_size)
        ])
    model.train_step(data, optim_wrapper)  # warm-up
    _, seconds = timed(
        lambda: [model.train_step(data, optim_wrapper) for _ in range(steps)])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(step_s=[t / steps for t in seconds],
                trainable_params=trainable)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--classes', type=int, default=8,
                        help='classes the text tower is timed on')
    parser.add_argument('--full-context-classes', type=int, default=2,
                        help="classes mmpretrain's full-context path is "
                        'timed on')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--out', help='write the numbers to this JSON file')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmpretrain')
    # mmengine warns about every frozen parameter of the linear probe.
    MMLogger.get_instance('category_names_benchmark', log_level='ERROR')
    head = bench_head(args.classes, args.full_context_classes)
    finetune = bench_step('name-init_clip-vit-base-p16_16shot_in1k.py',
                          args.batch_size, args.steps)
    probe = bench_step('linear-probe_clip-vit-base-p16_16shot_in1k.py',
                       args.batch_size, args.steps)
    machine = (f'{platform.processor() or platform.machine()}, '
               f'{os.cpu_count()} cores, torch {torch.__version__}, '
               f'{torch.get_num_threads()} threads, load average '
               f'{os.getloadavg()[0]:.1f}')
    print(f'CPU: {machine}\n')

    def cell(seconds):
        return f'{seconds[0]:.0f} ({seconds[1]:.0f})'

    print('| build the head: 1000 classes x 80 templates | wall s (CPU s) |')
    print('|---|---|')
    print(f"| tokenize {head['prompts']:,} prompts (offline BPE) | "
          f"{cell(head['tokenize_s'])} |")
    print(f"| text tower, to each prompt's end (mean "
          f"{head['mean_prompt_tokens']:.1f} tokens) | "
          f"{cell(head['text_tower_s'])} |")
    print(f"| text tower, mmpretrain's full 77-token context | "
          f"{cell(head['full_context_s'])} |")
    print(f"| **head in all** | **{cell(head['head_s'])}** |")
    print(f"\n(text tower timed on {head['measured_classes']} classes, the "
          f"full-context path on {head['full_context_classes']}, both scaled "
          'to 1000)\n')
    print(f'| ViT-B/16, 224 px, batch {args.batch_size} | wall s (CPU s) / '
          'step | parameters with gradients |')
    print('|---|---|---|')
    for label, r in (('fine-tuning (name-init config)', finetune),
                     ('linear probe', probe)):
        print(f"| {label} | {r['step_s'][0]:.1f} ({r['step_s'][1]:.1f}) | "
              f"{r['trainable_params'] / 1e6:.1f} M |")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(machine=machine, args=vars(args), head=head,
                           finetune=finetune, linear_probe=probe), f, indent=1)


if __name__ == '__main__':
    main()
