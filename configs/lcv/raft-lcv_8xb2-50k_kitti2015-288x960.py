# raft_8xb2-50k_kitti2015-288x960 with LCV, the learnable cost volume, in place
# of RAFT's all-pairs cost volume (every pyramid level); everything else is
# inherited unchanged.
_base_ = ['../raft/raft_8xb2-50k_kitti2015-288x960.py']

model = dict(decoder=dict(cost_volume=dict(type='LearnableCostVolume')))
