"""What every official-checkpoint converter in ``tools/model_converters/``
shares: reading the release, renaming its keys by rules, refusing keys no
rule maps, checking the result against the mmext model of a config, writing.

A converter module only states its rules (official name pattern -> mmext
name, plus any tensor reshaping) and calls :func:`converter_main`.
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Iterable, Optional, Sequence, Tuple

import torch

from mmext.errors import UserError

__all__ = ['ConversionError', 'RenameRule', 'rename_keys', 'load_release',
           'check_fits_config', 'converter_main']


class ConversionError(UserError):
    """Keys of an official checkpoint that no rule maps (or that map twice)."""


# (official-name regex, mmext-name replacement, optional tensor transform)
RenameRule = Tuple[str, str, Optional[Callable[[torch.Tensor],
                                                 torch.Tensor]]]


def _preview(keys, limit=12):
    keys = list(keys)
    shown = ', '.join(keys[:limit])
    more = f' and {len(keys) - limit} more' if len(keys) > limit else ''
    return f'[{shown}{more}]'


def rename_keys(state_dict: dict,
                rules: Sequence[RenameRule],
                drop: Iterable[str] = ()) -> 'OrderedDict[str, torch.Tensor]':
    """Map official names to mmext names by the first rule that matches.

    Args:
        state_dict (dict): The official state dict.
        rules (Sequence[RenameRule]): ``(pattern, replacement, transform)``;
            ``pattern`` must match the whole key (``re.fullmatch``) and
            ``replacement`` may use its groups (``\\1``). ``transform`` (or
            None) reshapes the tensor for the mmext layout.
        drop (Iterable[str]): Patterns of keys that are not weights of the
            mmext model (optimizer leftovers, ``num_batches_tracked`` of a
            layer mmext lacks, ...), dropped on purpose.

    Raises:
        ConversionError: Some keys match no rule (listed), or two official
            keys map to the same mmext key.
    """
    drop = [re.compile(p) for p in drop]
    compiled = [(re.compile(p), r, t) for p, r, t in rules]
    out, unmapped = OrderedDict(), []
    for key, value in state_dict.items():
        if any(p.fullmatch(key) for p in drop):
            continue
        for pattern, replacement, transform in compiled:
            match = pattern.fullmatch(key)
            if match is None:
                continue
            new_key = match.expand(replacement)
            if new_key in out:
                raise ConversionError(
                    f'{key} maps to {new_key}, which another key already '
                    'maps to: the rules are ambiguous')
            out[new_key] = transform(value) if transform else value
            break
        else:
            unmapped.append(key)
    if unmapped:
        raise ConversionError(
            f'{len(unmapped)} keys of the official checkpoint map to no '
            f'mmext name: {_preview(unmapped)}')
    return out


def load_release(path: str, containers: Sequence[str] = (
        'state_dict', 'model', 'net', 'model_state_dict')) -> dict:
    """The state dict inside an official release file.

    Official releases wrap it in one of ``containers`` (or not at all) and
    often keep the ``module.`` prefix of DataParallel; both are undone.
    """
    from mmext.checkpoint import load_local_checkpoint

    checkpoint = load_local_checkpoint(path, map_location='cpu')
    for name in containers:
        if isinstance(checkpoint, dict) and isinstance(
                checkpoint.get(name), dict):
            checkpoint = checkpoint[name]
            break
    if not isinstance(checkpoint, dict) or not all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise UserError(f'{path} holds no state dict of tensors (looked at '
                        f'the top level and under {list(containers)})')
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in checkpoint.items())


def check_fits_config(state_dict: dict, config: str,
                      optional_keys: Iterable[str] = ()) -> None:
    """Build the model of ``config`` and load ``state_dict`` into it with the
    exact-fit check of ``tools/test.py`` (missing/unexpected keys listed)."""
    import mmext  # noqa: F401  (registers the mmext components)
    from mmext.checkpoint import load_state_dict_exactly
    from mmext.engine import build_model

    model = build_model(config)
    load_state_dict_exactly(
        model, state_dict, f'the converted checkpoint (for {config})',
        optional_keys=optional_keys)


def converter_main(convert: Callable[[dict], dict],
                   description: str,
                   optional_keys: Iterable[str] = (),
                   load: Callable[[str], dict] = load_release,
                   needs_config: bool = False) -> None:
    """The command line of a converter: ``SRC DST [--config CONFIG]``.

    Args:
        convert (Callable): Official state dict -> mmext state dict.
        description (str): The first line of ``--help``.
        optional_keys (Iterable[str]): mmext keys the official release does
            not have (they keep their initialisation), allowed by
            ``--config``'s check.
        load (Callable): ``SRC`` -> official state dict. Defaults to
            :func:`load_release`; a release split over several files reads
            them all from ``SRC``.
        needs_config (bool): The conversion depends on the mmext model (a
            subnet cut out of a supernet release): ``--config`` is then
            required and ``convert`` is called as
            ``convert(state_dict, config)``.
    """
    from mmengine.utils import mkdir_or_exist

    from mmext.engine import cli_main

    @cli_main
    def main():
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument('src', help='the official checkpoint file')
        parser.add_argument('dst', help='the converted checkpoint to write')
        parser.add_argument(
            '--config',
            required=needs_config,
            help='check that the result loads exactly into the model of '
            'this mmext config before writing it')
        args = parser.parse_args()
        state_dict = load(args.src)
        state_dict = convert(state_dict, args.config) if needs_config \
            else convert(state_dict)
        state_dict = OrderedDict(
            (k, v.float() if v.is_floating_point() else v)
            for k, v in state_dict.items())
        if args.config:
            check_fits_config(state_dict, args.config, optional_keys)
        mkdir_or_exist(osp.dirname(osp.abspath(args.dst)))
        torch.save({'state_dict': state_dict,
                    'meta': {'converted_from': osp.basename(args.src)}},
                   args.dst)
        print(f'wrote {len(state_dict)} tensors to {args.dst}')

    main()
