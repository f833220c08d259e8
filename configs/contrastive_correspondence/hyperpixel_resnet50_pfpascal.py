# Keypoint transfer on the PF-PASCAL test split (PCK per image size), for a
# checkpoint of mocov2-cycle_resnet50_8xb32-20e_pfpascal.py or any mmpretrain
# MoCo v2 ResNet-50: tools/test.py THIS_CONFIG CHECKPOINT.
_base_ = ['./mocov2-cycle_resnet50_8xb32-20e_pfpascal.py']

load_from = None
model = dict(matcher=dict(layer_ids=(2, 12, 13, 15)))
