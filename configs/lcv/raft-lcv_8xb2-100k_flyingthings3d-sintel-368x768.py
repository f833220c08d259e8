# raft_8xb2-100k_flyingthings3d-sintel-368x768 with LCV, the learnable cost
# volume, in place of RAFT's all-pairs cost volume (every pyramid level),
# continuing from the previous LCV stage (raft-
# lcv_8xb2-100k_flyingthings3d-400x720) as the vanilla recipe continues from
# its previous vanilla stage; everything else is inherited unchanged.
_base_ = ['../raft/raft_8xb2-100k_flyingthings3d-sintel-368x768.py']

model = dict(decoder=dict(cost_volume=dict(type='LearnableCostVolume')))

# The previous stage's last checkpoint, where tools/train.py writes it.
load_from = 'work_dirs/raft-lcv_8xb2-100k_flyingthings3d-400x720/iter_100000.pth'  # noqa
