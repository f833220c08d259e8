"""The official RAFT code's weight names (princeton-vl/RAFT), mapped to
mmext's RAFT, for the converters of releases built on that code
(``tools/model_converters/lcv-raft_to_mmext.py``, ``flownas_to_mmext.py``).

Facts taken from the official definitions (``core/raft.py``,
``core/extractor.py``, ``core/update.py``; FlowNAS's ``core/update.py`` is the
same update block):

- ``fnet`` / ``cnet`` are the feature (InstanceNorm without affine weights, so
  no norm keys) and context (BatchNorm) encoders; ``update_block`` holds the
  motion encoder (``convc1``, ``convc2``, ``convf1``, ``convf2``, ``conv``),
  the separable GRU (``convz1`` .. ``convq2``: 1x5 then 5x1), the flow head
  (``conv1``, ``conv2``) and the upsampling mask (``mask.0``, ``mask.2``);
- the official networks read RGB images scaled to [-1, 1], mmext's RAFT
  configs read BGR (mmcv) with the same scaling, so the 3 input channels of
  each encoder's first convolution are reversed.
"""
import re
from typing import List

import torch

from mmext.model_converters import RenameRule

__all__ = ['rgb_to_bgr_input', 'UPDATE_BLOCK_RULES', 'basic_encoder_rules',
           'BASIC_ENCODER_DROP']


def rgb_to_bgr_input(weight: torch.Tensor) -> torch.Tensor:
    """A first convolution that read RGB, made to read BGR."""
    return weight.flip(1).contiguous()


#: Module names in ``update_block`` (RAFT's BasicUpdateBlock) -> in mmext's
#: ``RAFTDecoder``. GRU: ``convz1`` is the 1x5 (horizontal) step, ``convz2``
#: the 5x1 one.
_UPDATE_BLOCK_NAMES = (
    ('encoder.convc1', 'encoder.corr_net.0.conv'),
    ('encoder.convc2', 'encoder.corr_net.1.conv'),
    ('encoder.convf1', 'encoder.flow_net.0.conv'),
    ('encoder.convf2', 'encoder.flow_net.1.conv'),
    ('encoder.conv', 'encoder.out_net.0.conv'),
    *((f'gru.conv{gate}{step}', f'gru.conv_{gate}.{step - 1}.conv')
      for gate in 'zrq' for step in (1, 2)),
    ('flow_head.conv1', 'flow_pred.layers.0.conv'),
    ('flow_head.conv2', 'flow_pred.predict_layer'),
    ('mask.0', 'mask_pred.layers.0.conv'),
    ('mask.2', 'mask_pred.predict_layer'),
)
UPDATE_BLOCK_RULES = [(rf'update_block\.{re.escape(official)}\.(weight|bias)',
                       rf'decoder.{mmext}.\1', None)
                      for official, mmext in _UPDATE_BLOCK_NAMES]


def basic_encoder_rules(official: str, mmext: str) -> List[RenameRule]:
    """Rules for RAFT's BasicEncoder ``official`` (``fnet`` / ``cnet``) ->
    mmext's ``RAFTEncoder`` (net_type 'Basic') ``mmext``.

    Official names: ``conv1`` (7x7 stem), ``norm1``, ``layer{1,2,3}.{0,1}``
    residual blocks (``conv1``, ``conv2``, ``norm1``, ``norm2``, and in the
    strided first blocks ``downsample.0`` (1x1 conv) and ``downsample.1``
    (its norm, also saved as ``norm3``, see :data:`BASIC_ENCODER_DROP`)),
    ``conv2`` (1x1 output projection).
    """
    o = official
    return [
        (rf'{o}\.conv1\.weight', f'{mmext}.conv1.weight', rgb_to_bgr_input),
        (rf'{o}\.conv([12])\.(weight|bias)', rf'{mmext}.conv\1.\2', None),
        (rf'{o}\.norm1\.(\w+)', rf'{mmext}.bn1.\1', None),
        (rf'{o}\.layer([123])\.([01])\.conv([12])\.(weight|bias)',
         rf'{mmext}.res_layer\1.\2.conv\3.\4', None),
        (rf'{o}\.layer([123])\.([01])\.norm([12])\.(\w+)',
         rf'{mmext}.res_layer\1.\2.bn\3.\4', None),
        (rf'{o}\.layer([23])\.0\.downsample\.([01])\.(\w+)',
         rf'{mmext}.res_layer\1.0.downsample.\2.\3', None),
    ]


#: ``norm3`` of a strided residual block is the module ``downsample.1`` under
#: a second name; ``state_dict`` saves its tensors under both.
BASIC_ENCODER_DROP = [r'[fc]net\.layer[23]\.0\.norm3\.\w+']
