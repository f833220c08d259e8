# raft_8xb2-100k_flyingthings3d-sintel-368x768 with LCV, the learnable cost
# volume, in place of RAFT's all-pairs cost volume (every pyramid level);
# everything else is inherited unchanged.
_base_ = ['../raft/raft_8xb2-100k_flyingthings3d-sintel-368x768.py']

model = dict(decoder=dict(cost_volume=dict(type='LearnableCostVolume')))
