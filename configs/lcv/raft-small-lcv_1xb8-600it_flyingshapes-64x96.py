# raft-small_1xb8-600it_flyingshapes-64x96 (RAFT-S on the embedded FlyingShapes
# data, a few CPU minutes) with LCV, the learnable cost volume, in place of
# RAFT's all-pairs cost volume; same seed, schedule and data. The README's
# side-by-side experiment trains both configs.
_base_ = ['../raft/raft-small_1xb8-600it_flyingshapes-64x96.py']

model = dict(decoder=dict(cost_volume=dict(type='LearnableCostVolume')))
