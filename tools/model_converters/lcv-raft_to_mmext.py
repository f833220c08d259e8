"""Convert a RAFT+LCV checkpoint of the official LCV code to mmext's RAFT-LCV.

The official LCV code (Prinsphield/LCV, ``corr.py``) is RAFT's
(princeton-vl/RAFT) with the learnable cost volume ``LearnableCorrBlock``:
``raw_P`` (C x C), ``raw_D`` (C) and the buffer ``eye`` (the C x C identity),
``W = P^T D P`` with ``P`` the Cayley transform of ``triu(raw_P)``. mmext's
``LearnableCostVolume`` has the same parameterisation under the names
``raw_A`` and ``raw_D``, so both tensors are copied as they are; ``eye`` is a
constant. The repository does not publish the RAFT module that holds the
block, so its attribute name is unknown: ``<any prefix>.raw_P`` is accepted.
The rest is RAFT's Basic model (see :mod:`mmext.flow.official_raft`); a
vanilla RAFT release (no LCV keys) converts to mmext's vanilla RAFT.

Example::

    python tools/model_converters/lcv-raft_to_mmext.py raft-lcv.pth \\
        raft-lcv_mmext.pth \\
        --config configs/lcv/raft-lcv_8xb2-100k_mixed-368x768.py
"""
from mmext.flow.official_raft import (BASIC_ENCODER_DROP, UPDATE_BLOCK_RULES,
                                      basic_encoder_rules)
from mmext.model_converters import converter_main, rename_keys

LCV_RULES = [
    (r'(?:[\w.]+\.)?raw_P', 'decoder.cost_volume.raw_A', None),
    (r'(?:[\w.]+\.)?raw_D', 'decoder.cost_volume.raw_D', None),
]
RULES = (basic_encoder_rules('fnet', 'encoder') +
         basic_encoder_rules('cnet', 'context') + UPDATE_BLOCK_RULES +
         LCV_RULES)
DROP = BASIC_ENCODER_DROP + [r'(?:[\w.]+\.)?eye']


def convert(state_dict: dict) -> dict:
    """The official RAFT(+LCV) state dict with mmext's names and layouts."""
    return rename_keys(state_dict, RULES, DROP)


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0])
