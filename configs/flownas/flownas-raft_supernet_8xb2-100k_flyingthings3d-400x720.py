# FlowNAS supernet, FlyingThings3D stage, on RAFT's things recipe: the
# FlyingChairs supernet fine-tuned with frozen BatchNorm statistics, guided by
# mmflow's FlyingThings3D RAFT. The searches start from this supernet.
_base_ = [
    '../raft/raft_8xb2-100k_flyingthings3d-400x720.py', './_base_/flownas.py'
]

custom_imports = dict(
    imports=['mmext', 'mmext.razor.flownas'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmrazor.FlowNAS',
    architecture={{_base_.model}},
    encoder={{_base_.flownas_encoder}},
    # https://download.openmmlab.com/mmflow/raft/raft_8x2_100k_flyingthings3d_400x720.pth
    teacher={{_base_.model}},
    teacher_ckpt='checkpoints/raft_8x2_100k_flyingthings3d_400x720.pth',
    distiller={{_base_.flownas_distiller}},
    num_random_samples=2,
    flow_loss_weight=1.0)

val_cfg = dict(
    _delete_=True,
    type='mmrazor.FlowNASSubnetValLoop',
    calibrate_sample_num=256,
    estimator_cfg=dict(
        type='mmrazor.FlowResourceEstimator', input_shape=(1, 6, 440, 1024)))

load_from = 'work_dirs/flownas-raft_supernet_8xb2-100k_flyingchairs-368x496/iter_100000.pth'  # noqa
