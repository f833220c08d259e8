# pwcnet_8xb1-slong_flyingchairs-384x448 with LCV, the learnable cost volume,
# in place of PWC-Net's local cost volume (one LCV per pyramid level);
# everything else is inherited unchanged.
_base_ = ['../pwcnet/pwcnet_8xb1-slong_flyingchairs-384x448.py']

model = dict(decoder=dict(cost_volume=dict(type='LearnableCostVolume')))
