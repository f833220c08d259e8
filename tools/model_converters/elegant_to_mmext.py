"""Convert the checkpoints of the official ELEGANT code (Prinsphield/ELEGANT,
PyTorch) to mmext's ``ELEGANT`` model.

    python tools/model_converters/elegant_to_mmext.py \\
        train_log/model/Enc_iter_034000.pth elegant_iter34000.pth \\
        [--config configs/elegant/elegant_1xb16-200kiters_celeba-256x256.py]

The official code publishes no trained weights; its training writes four
plain state dicts per saved step into ``train_log/model/``:
``Enc_iter_NNNNNN.pth`` and ``Dec_iter_NNNNNN.pth`` (the generator) and
``D1_iter_NNNNNN.pth``, ``D2_iter_NNNNNN.pth`` (the discriminators at full and
half resolution). SRC is any one of them; the others of the same step are
read from beside it. Enc and Dec are required. D1 and D2 are converted when
both are there; without them the result holds the generator only, enough
for ``tools/test.py`` with ``--cfg-options model.discriminator=None``.

Official names and layouts (nets.py): ``Encoder.main[k]`` and
``Decoder.main[k]`` are ``Sequential(conv, Normalization, activation)`` like
mmext's ``generator.encoder[k]`` / ``generator.decoder[k]``; a
``Discriminator`` is ``conv`` (the same Sequential as mmext's) and
``linear = Sequential(Linear, Sigmoid)``. Every tensor keeps its layout; only
the names change. The architecture is fixed at the paper's widths, so the
mmext config must use them (``elegant_1xb16-200kiters_celeba-256x256.py``)
with the image size and the attribute list of the official run.
"""
import os.path as osp
import re
from collections import OrderedDict

from mmext.errors import UserError
from mmext.model_converters import converter_main, load_release, rename_keys

# The official networks, by the file prefix their training writes.
GENERATOR_NETS = ('Enc', 'Dec')
DISCRIMINATOR_NETS = ('D1', 'D2')
_RELEASE_FILE = re.compile(r'(Enc|Dec|D1|D2)_iter_(\d+)\.pth')

_LAYER = r'(\d+)\.(0\.weight|0\.bias|1\.alpha|1\.beta)'
_DISC_CONV = r'conv\.(\d+)\.(weight|bias|alpha|beta)'
RULES = [
    (rf'Enc\.main\.{_LAYER}', r'generator.encoder.\1.\2', None),
    (rf'Dec\.main\.{_LAYER}', r'generator.decoder.\1.\2', None),
    # D1 judges the full-size image, D2 the half-size one: mmext's scales.
    (rf'D1\.{_DISC_CONV}', r'discriminator.scales.0.conv.\1.\2', None),
    (rf'D2\.{_DISC_CONV}', r'discriminator.scales.1.conv.\1.\2', None),
    (r'D1\.linear\.0\.(weight|bias)', r'discriminator.scales.0.linear.\1',
     None),
    (r'D2\.linear\.0\.(weight|bias)', r'discriminator.scales.1.linear.\1',
     None),
]

# mmext's discriminator keys (4 blocks of conv, Normalization, LeakyReLU,
# then the linear layer, per scale): absent from a generator-only release.
DISCRIMINATOR_KEYS = [
    f'discriminator.scales.{scale}.{name}' for scale in range(2)
    for block in range(4)
    for name in (f'conv.{3 * block}.weight', f'conv.{3 * block}.bias',
                 f'conv.{3 * block + 1}.alpha', f'conv.{3 * block + 1}.beta')
] + [
    f'discriminator.scales.{scale}.linear.{name}' for scale in range(2)
    for name in ('weight', 'bias')
]


def load_elegant_release(path):
    """The state dicts of one saved step, merged with each key prefixed by
    its network (``Enc.``, ``Dec.``, ``D1.``, ``D2.``).

    Args:
        path (str): Any of the step's files, ``<net>_iter_NNNNNN.pth``.
    """
    match = _RELEASE_FILE.fullmatch(osp.basename(path))
    if match is None:
        raise UserError(
            f'{path} is not a file of the official ELEGANT training '
            '(Enc_iter_NNNNNN.pth, Dec_..., D1_... or D2_...)')
    folder, step = osp.dirname(path), match.group(2)
    files = {
        net: osp.join(folder, f'{net}_iter_{step}.pth')
        for net in GENERATOR_NETS + DISCRIMINATOR_NETS
    }
    present = {net for net, file in files.items() if osp.isfile(file)}
    needed = GENERATOR_NETS
    if present & set(DISCRIMINATOR_NETS):
        needed += DISCRIMINATOR_NETS
    missing = [files[net] for net in needed if net not in present]
    if missing:
        raise UserError(
            f'the official ELEGANT step {step} lacks {", ".join(missing)} '
            '(Enc and Dec are needed; D1 and D2 both or neither)')
    merged = OrderedDict()
    for net, file in files.items():
        if net in present:
            merged.update((f'{net}.{key}', value)
                          for key, value in load_release(file).items())
    return merged


def convert(state_dict):
    """Official (merged, network-prefixed) names -> mmext ``ELEGANT``."""
    return rename_keys(state_dict, RULES)


if __name__ == '__main__':
    converter_main(
        convert,
        'Convert an official ELEGANT step (Enc/Dec/D1/D2_iter_N.pth) to '
        "mmext's ELEGANT",
        optional_keys=DISCRIMINATOR_KEYS,
        load=load_elegant_release)
