# raft_8xb2-100k_flyingthings3d-400x720 with LCV, the learnable cost volume, in
# place of RAFT's all-pairs cost volume (every pyramid level); everything else
# is inherited unchanged.
_base_ = ['../raft/raft_8xb2-100k_flyingthings3d-400x720.py']

model = dict(decoder=dict(cost_volume=dict(type='LearnableCostVolume')))
