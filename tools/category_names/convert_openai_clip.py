"""Convert OpenAI CLIP weights to mmpretrain's CLIP key names.

    python tools/category_names/convert_openai_clip.py ViT-B-16.pt \\
        checkpoints/clip-vit-base-p16_openai.pth

The result loads into mmpretrain's ``CLIPZeroShot`` (the zero-shot configs)
and, by prefix, into the image tower and ``CLIPTextEncoder`` of the
name-initialised configs. The key mapping is that of mmpretrain's
``tools/model_converters/openai-clip_to_mmpretrain-clip.py`` (not shipped in
its wheel); besides, the archive's three size entries (``input_resolution``,
``context_length``, ``vocab_size``), which are not weights, are dropped.

The source is OpenAI's released file (a TorchScript archive, as downloaded by
``clip.load`` or open_clip) or a plain state dict with OpenAI's key names.
"""
import argparse
import os.path as osp
from collections import OrderedDict

import torch
from mmengine import mkdir_or_exist

from mmext.checkpoint import load_local_checkpoint

NOT_WEIGHTS = ('input_resolution', 'context_length', 'vocab_size')
# Renames inside visual.transformer.resblocks.<i>.
BLOCK_RENAMES = (('ln_1', 'ln1'), ('ln_2', 'ln2'),
                 ('mlp.c_fc', 'ffn.layers.0.0'), ('mlp.c_proj', 'ffn.layers.1'),
                 ('attn.in_proj_weight', 'attn.qkv.weight'),
                 ('attn.in_proj_bias', 'attn.qkv.bias'),
                 ('attn.out_proj', 'attn.proj'))


def convert_clip(state_dict):
    """OpenAI CLIP state dict -> mmpretrain CLIP state dict.

    Args:
        state_dict (dict): OpenAI's keys (``visual.conv1.weight``, ...).

    Returns:
        OrderedDict: mmpretrain's keys; text-tower keys are unchanged.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key in NOT_WEIGHTS:
            continue
        if key.startswith('visual.conv1'):
            key = key.replace('conv1', 'patch_embed.projection')
        elif key == 'visual.positional_embedding':
            key, value = 'visual.pos_embed', value.unsqueeze(0)
        elif key == 'visual.class_embedding':
            key, value = 'visual.cls_token', value[None, None]
        elif key.startswith('visual.ln_pre'):
            key = key.replace('ln_pre', 'pre_norm')
        elif key.startswith('visual.transformer.resblocks'):
            key = key.replace('transformer.resblocks', 'layers')
            for old, new in BLOCK_RENAMES:
                if old in key:
                    key = key.replace(old, new)
                    break
        elif key.startswith('visual.ln_post'):
            key = key.replace('ln_post', 'ln1')
        elif key == 'visual.proj':
            key = 'visual_proj.proj'
        out[key] = value
    return out


def load_openai(path):
    """The state dict of OpenAI's TorchScript archive or of a plain file."""
    try:
        return torch.jit.load(path, map_location='cpu').state_dict()
    except RuntimeError:  # not a TorchScript archive: a saved state dict
        checkpoint = load_local_checkpoint(path, map_location='cpu')
        return checkpoint.get('state_dict', checkpoint)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="OpenAI's CLIP file (e.g. ViT-B-16.pt)")
    parser.add_argument('dst', help='the converted checkpoint to write')
    args = parser.parse_args()
    # OpenAI ships float16; training and CPU inference want float32.
    weights = {
        k: v.float() if v.is_floating_point() else v
        for k, v in convert_clip(load_openai(args.src)).items()
    }
    mkdir_or_exist(osp.dirname(osp.abspath(args.dst)))
    torch.save(weights, args.dst)
    print(f'wrote {len(weights)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
