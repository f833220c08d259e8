# mmflow raft_8x2_100k_flyingthings3d_sintel_368x768: the FlyingThings3D
# model fine-tuned on Sintel (x100) plus FlyingThings3D; the sequence loss
# weighs later iterations less steeply (gamma 0.85).
_base_ = [
    '../_base_/models/raft.py',
    '../_base_/datasets/sintel_cleanx100_sintel_finalx100_flyingthings3d_raft_368x768.py',  # noqa
    '../_base_/schedules/raft_100k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    decoder=dict(flow_loss=dict(type='SequenceLoss', gamma=0.85)),
    freeze_bn=True,
    test_cfg=dict(iters=32))
optim_wrapper = dict(optimizer=dict(lr=0.000125, weight_decay=0.00001))
param_scheduler = dict(eta_max=0.000125)

load_from = 'https://download.openmmlab.com/mmflow/raft/raft_8x2_100k_flyingthings3d_400x720.pth'  # noqa
