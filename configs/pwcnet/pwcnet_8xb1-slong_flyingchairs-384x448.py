# mmflow pwcnet_8x1_slong_flyingchairs_384x448: PWC-Net trained from scratch
# on FlyingChairs with the S_long schedule, 8 GPUs x 1 pair.
_base_ = [
    '../_base_/models/pwcnet.py',
    '../_base_/datasets/flyingchairs_pwcnet_384x448.py',
    '../_base_/schedules/pwcnet_slong.py', '../_base_/default_runtime.py'
]

default_hooks = dict(checkpoint=dict(interval=100000))
