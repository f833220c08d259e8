# pwcnet_8xb1-sfine_flyingthings3d-subset-384x768 with LCV, the learnable cost
# volume, in place of PWC-Net's local cost volume (one LCV per pyramid level),
# continuing from the previous LCV stage
# (pwcnet-lcv_8xb1-slong_flyingchairs-384x448) as the vanilla recipe continues
# from its previous vanilla stage; everything else is inherited unchanged.
_base_ = ['../pwcnet/pwcnet_8xb1-sfine_flyingthings3d-subset-384x768.py']

model = dict(decoder=dict(cost_volume=dict(type='LearnableCostVolume')))

# The previous stage's last checkpoint, where tools/train.py writes it.
load_from = 'work_dirs/pwcnet-lcv_8xb1-slong_flyingchairs-384x448/iter_1200000.pth'  # noqa
