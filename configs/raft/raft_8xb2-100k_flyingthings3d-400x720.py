# mmflow raft_8x2_100k_flyingthings3d_400x720: the FlyingChairs model
# fine-tuned on FlyingThings3D with frozen BatchNorm statistics and a lower
# learning rate; 32 refinement iterations at test time.
_base_ = [
    '../_base_/models/raft.py',
    '../_base_/datasets/flyingthings3d_raft_400x720.py',
    '../_base_/schedules/raft_100k.py', '../_base_/default_runtime.py'
]

model = dict(freeze_bn=True, test_cfg=dict(iters=32))
optim_wrapper = dict(optimizer=dict(lr=0.000125, weight_decay=0.00001))
param_scheduler = dict(eta_max=0.000125)

# mmflow's FlyingChairs checkpoint (loads unchanged; a local path works too).
load_from = 'https://download.openmmlab.com/mmflow/raft/raft_8x2_100k_flyingchairs.pth'  # noqa
