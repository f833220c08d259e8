# Keypoint transfer on PF-WILLOW (PCK per keypoint bounding box), for a
# checkpoint of mocov2-cycle-lw5e-5_resnet50_8xb32-20e_pfwillow.py:
# tools/test.py THIS_CONFIG CHECKPOINT.
_base_ = ['./mocov2-cycle-lw5e-5_resnet50_8xb32-20e_pfwillow.py']

load_from = None
