"""Swap face attributes between two images with a trained ELEGANT or DNA-GAN.

    python demo/attribute_transfer.py CONFIG CHECKPOINT \
        --source a.jpg --reference b.jpg --attributes Bangs [Smiling ...] \
        [--reference-lacks] [--out-dir outputs/transfer] [--steps 5] \
        [--device cpu]

The reference has the attributes (the source gains them) unless
``--reference-lacks`` says it lacks them (the source loses them). ELEGANT's
exchange is the same either way; DNA-GAN gives the image that gains an
attribute the other's piece and zeroes the piece of the one that loses it.

Writes to ``--out-dir``:

* ``source_edited.png``: the source with the reference's attributes;
* ``reference_edited.png``: the reference with the source's attributes;
* ``grid.png``: source | reference | source edited | reference edited;
* ``interpolation.png``: the source as the first attribute's strength goes
  from 0 (its reconstruction) to 1 in ``--steps`` steps (the other
  attributes stay the source's).

Images go through the config's test pipeline, as the model's data did (for
CelebA-trained models the inputs should be faces aligned like the training
set: ``tools/generation/align_celeba.py``'s 5-point alignment).
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmagic.registry import MODELS
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.checkpoint import load_model_weights
from mmext.engine import cli_main, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Swap face attributes between a source and a reference '
        'image with ELEGANT or DNA-GAN')
    parser.add_argument('config', help='the model config')
    parser.add_argument('checkpoint', help='trained weights')
    parser.add_argument('--source', required=True, help='source image')
    parser.add_argument('--reference', required=True, help='reference image')
    parser.add_argument(
        '--attributes',
        nargs='+',
        required=True,
        help='attribute names to swap (several are swapped at once); the '
        'first one is interpolated')
    parser.add_argument(
        '--reference-lacks',
        action='store_true',
        help='the reference lacks the attributes: the source loses them '
        '(by default it has them and the source gains them)')
    parser.add_argument('--out-dir', default='outputs/attribute_transfer')
    parser.add_argument(
        '--steps',
        type=int,
        default=5,
        help='images of the interpolation, strength 0 to 1')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def write(path, images):
    """Write (B, 3, H, W) BGR 0-255 images side by side."""
    row = torch.cat(list(images.round().byte().cpu()), dim=2)
    if not cv2.imwrite(path, np.ascontiguousarray(row.permute(1, 2, 0))):
        raise OSError(f'could not write {path}')
    print(f'wrote {path}')


@cli_main
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmagic')):
        model = MODELS.build(cfg.model)
        load = Compose(cfg.test_dataloader.dataset.pipeline)
    load_model_weights(model, args.checkpoint)
    model.to(args.device).eval()
    try:
        ids = model.attribute_ids(args.attributes)
    except ValueError as error:  # lists the model's attributes
        raise SystemExit(f'error: {error}') from None

    images = {}
    for key, path in (('source', args.source), ('reference', args.reference)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'image not found: {path}')
        img = load(dict(img_path=path))['img']
        images[key] = [torch.from_numpy(img.transpose(2, 0, 1).copy())]
    # The model's own preprocessing (channel order, [-1, 1]) and its inverse.
    data = model.data_preprocessor(dict(inputs=images), False)
    source = data['inputs']['source']
    reference = data['inputs']['reference']

    def to_bgr255(batch):
        return model.data_preprocessor.destruct(batch, data['data_samples'],
                                                'source')

    has = not args.reference_lacks
    source_edited, reference_edited = model.transfer(
        source, reference, ids, reference_has=has)
    strengths = np.linspace(0, 1, max(args.steps, 2))
    interpolation = torch.cat([
        model.transfer(source, reference, ids[:1], float(s), has)[0]
        for s in strengths
    ])

    os.makedirs(args.out_dir, exist_ok=True)
    write(
        osp.join(args.out_dir, 'source_edited.png'), to_bgr255(source_edited))
    write(
        osp.join(args.out_dir, 'reference_edited.png'),
        to_bgr255(reference_edited))
    write(
        osp.join(args.out_dir, 'grid.png'),
        to_bgr255(
            torch.cat([source, reference, source_edited, reference_edited])))
    write(
        osp.join(args.out_dir, 'interpolation.png'), to_bgr255(interpolation))


if __name__ == '__main__':
    main()
