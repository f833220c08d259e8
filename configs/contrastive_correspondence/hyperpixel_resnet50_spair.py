# Keypoint transfer on the SPair-71k test split (PCK per annotated box; the
# per-class mean is the benchmark's headline number).
_base_ = ['./mocov2-cycle_resnet50_8xb32-20e_spair.py']

load_from = None
