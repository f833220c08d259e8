"""Convert OpenAI CLIP weights to mmpretrain's CLIP key names.

    python tools/category_names/convert_openai_clip.py ViT-B-16.pt \\
        checkpoints/clip-vit-base-p16_openai.pth [--config CONFIG]

The result loads into mmpretrain's ``CLIPZeroShot`` (the zero-shot configs)
and, by prefix, into the image tower and ``CLIPTextEncoder`` of the
name-initialised configs. The key mapping is that of mmpretrain's
``tools/model_converters/openai-clip_to_mmpretrain-clip.py`` (not shipped in
its wheel); besides, the archive's three size entries (``input_resolution``,
``context_length``, ``vocab_size``), which are not weights, are dropped.

``--config`` (e.g. a zero-shot config) checks that the result loads exactly
into that config's model before it is written. The source is OpenAI's
released file (a TorchScript archive, as downloaded by
``clip.load`` or open_clip) or a plain state dict with OpenAI's key names.
"""
from collections import OrderedDict

import torch

from mmext.checkpoint import load_local_checkpoint
from mmext.model_converters import converter_main

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


if __name__ == '__main__':
    # OpenAI ships float16; the converter writes float32, as training and CPU
    # inference want.
    converter_main(convert_clip, __doc__.split('\n')[0], load=load_openai)
