"""Class names and prompt templates: from lists, files or mmpretrain's sets."""
import os.path as osp
from typing import List, Sequence, Union

from mmpretrain.models.multimodal.clip.clip import PROMPT_MAP, PROTOTYPE_MAP

__all__ = [
    'read_lines', 'resolve_class_names', 'resolve_templates', 'EXTRA_PROMPTS'
]

#: The placeholder a template has where the class name goes.
PLACEHOLDER = '{}'


def read_lines(path: str, what: str = 'line') -> List[str]:
    """Read a UTF-8 text file with one entry per line.

    Surrounding whitespace is stripped and a byte-order mark is accepted;
    blank lines at the end are ignored. A blank line before the last entry is
    an error rather than being skipped, because it would shift every later
    entry to the wrong class index.

    Args:
        path (str): The file.
        what (str): What an entry is, for error messages.

    Returns:
        list[str]: The entries, in file order.
    """
    # utf-8-sig: editors on Windows save UTF-8 with a byte-order mark.
    with open(osp.expanduser(path), encoding='utf-8-sig') as f:
        lines = [line.strip() for line in f.read().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    blank = [i + 1 for i, line in enumerate(lines) if not line]
    if blank:
        raise ValueError(
            f'{path}: blank {what} at line(s) {blank}; every line must hold '
            f'one {what}')
    if not lines:
        raise ValueError(f'{path}: no {what}s in the file')
    return lines


def resolve_class_names(
        class_names: Union[str, Sequence[str]]) -> List[str]:
    """Class names from a list, a names file or an mmpretrain name set.

    Args:
        class_names (str | Sequence[str]): The names; or the path of a UTF-8
            file with one name per line (any language and script); or a key
            of mmpretrain's CLIP name sets (``'imagenet'`` for the short
            ImageNet names CLIP uses, ``'cifar100'``).

    Returns:
        list[str]: The names.
    """
    if isinstance(class_names, str):
        if class_names in PROTOTYPE_MAP:
            return list(PROTOTYPE_MAP[class_names])
        if not osp.isfile(osp.expanduser(class_names)):
            raise FileNotFoundError(
                f'class_names={class_names!r} is neither a names file nor one '
                f'of mmpretrain\'s name sets {sorted(PROTOTYPE_MAP)}')
        return read_lines(class_names, 'class name')
    names = [str(n) for n in class_names]
    if not names or any(not n.strip() for n in names):
        raise ValueError('class_names must be non-empty strings')
    return names


def resolve_templates(templates: Union[str, Sequence[str]]):
    """Prompt templates as callables ``name -> prompt``.

    Args:
        templates (str | Sequence[str]): A key of mmpretrain's CLIP prompt
            sets (``'vanilla'``, ``'openai_imagenet'`` (80 templates),
            ``'openai_imagenet_sub'``, ``'openai_cifar100'``, and
            :data:`EXTRA_PROMPTS` added by mmext); or the path of a UTF-8
            file with one template per line; or a list of templates.
            A template marks the name with ``{}``, e.g. ``'a photo of a {}.'``.

    Returns:
        list[callable]: One function per template, as mmpretrain's sets are.
    """
    if isinstance(templates, str):
        if templates in PROMPT_MAP:
            return list(PROMPT_MAP[templates])
        if not osp.isfile(osp.expanduser(templates)):
            raise FileNotFoundError(
                f'templates={templates!r} is neither a template file nor one '
                f'of mmpretrain\'s prompt sets {sorted(PROMPT_MAP)}')
        templates = read_lines(templates, 'template')
    templates = list(templates)
    missing = [t for t in templates if PLACEHOLDER not in t]
    if not templates or missing:
        raise ValueError(
            f'every template needs a {PLACEHOLDER} where the class name goes; '
            f'got {missing or templates}')
    # str.replace rather than str.format: templates may hold other braces.
    return [lambda name, t=t: t.replace(PLACEHOLDER, name) for t in templates]



#: Prompt sets added to mmpretrain's under new keys. mmpretrain's
#: ``CLIPZeroShot`` takes its prompts only by key, so a zero-shot config can
#: use exactly the templates of the name-initialised head it is compared with
#: only if both name the same set.
EXTRA_PROMPTS = {
    # CLIP's Stanford Cars templates (OpenAI CLIP, data/prompts.md).
    'openai_stanford_cars': [
        'a photo of a {}.', 'a photo of the {}.', 'a photo of my {}.',
        'i love my {}!', 'a photo of my dirty {}.', 'a photo of my clean {}.',
        'a photo of my new {}.', 'a photo of my old {}.'
    ],
}
for _key, _templates in EXTRA_PROMPTS.items():
    PROMPT_MAP.setdefault(_key, resolve_templates(_templates))
