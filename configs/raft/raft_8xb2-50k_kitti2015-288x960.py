# mmflow raft_8x2_50k_kitti2015_288x960: the mixed model fine-tuned on KITTI
# 2015 for 50k iterations (RAFT's KITTI submission).
_base_ = [
    '../_base_/models/raft.py',
    '../_base_/datasets/kitti2015_raft_288x960.py',
    '../_base_/schedules/raft_100k.py', '../_base_/default_runtime.py'
]

model = dict(
    decoder=dict(flow_loss=dict(type='SequenceLoss', gamma=0.85)),
    freeze_bn=True,
    test_cfg=dict(iters=32))
optim_wrapper = dict(optimizer=dict(lr=0.000125, weight_decay=0.00001))
param_scheduler = dict(eta_max=0.000125, total_steps=50100)
train_cfg = dict(max_iters=50000, val_interval=5000)
default_hooks = dict(checkpoint=dict(interval=5000))

load_from = 'https://download.openmmlab.com/mmflow/raft/raft_8x2_100k_mixed_368x768.pth'  # noqa
