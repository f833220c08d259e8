# Keypoint transfer on the SPair-71k test split (PCK per annotated box; the
# mean over pairs is the headline, the mean of per-class means beside it).
_base_ = ['./mocov2-cycle_resnet50_8xb32-20e_spair.py']

load_from = None
