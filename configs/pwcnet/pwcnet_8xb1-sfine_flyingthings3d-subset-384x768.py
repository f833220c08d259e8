# mmflow pwcnet_8x1_sfine_flyingthings3d_subset_384x768: the FlyingChairs
# model fine-tuned on the FlyingThings3D subset with the S_fine schedule.
_base_ = [
    '../_base_/models/pwcnet.py',
    '../_base_/datasets/flyingthings3d_subset_pwcnet_384x768.py',
    '../_base_/schedules/pwcnet_sfine.py', '../_base_/default_runtime.py'
]

default_hooks = dict(checkpoint=dict(interval=50000))

# mmflow's FlyingChairs checkpoint (loads unchanged; a local path works too).
load_from = 'https://download.openmmlab.com/mmflow/pwcnet/pwcnet_8x1_slong_flyingchairs_384x448.pth'  # noqa
