# mmflow raft_8x2_100k_flyingchairs_368x496: RAFT trained from scratch on
# FlyingChairs, 8 GPUs x 2 pairs, 100k iterations.
_base_ = [
    '../_base_/models/raft.py',
    '../_base_/datasets/flyingchairs_raft_368x496.py',
    '../_base_/schedules/raft_100k.py', '../_base_/default_runtime.py'
]
