# FlowNAS supernet, FlyingChairs stage, on RAFT's chairs recipe (8 GPUs x 2
# pairs, 100k iterations). RAFT's feature and context encoders become the
# FlowNAS search space; every step trains the largest, the smallest and two
# random subnets (sandwich rule) on the flow loss plus the alignment of their
# encoder outputs with a trained RAFT's (Feature Alignment Distillation).
_base_ = [
    '../raft/raft_8xb2-100k_flyingchairs-368x496.py', './_base_/flownas.py'
]

custom_imports = dict(
    imports=['mmext', 'mmext.razor.flownas'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmrazor.FlowNAS',
    architecture={{_base_.model}},
    encoder={{_base_.flownas_encoder}},
    # The teacher: mmflow's FlyingChairs RAFT, downloaded from
    # https://download.openmmlab.com/mmflow/raft/raft_8x2_100k_flyingchairs.pth
    teacher={{_base_.model}},
    teacher_ckpt='checkpoints/raft_8x2_100k_flyingchairs.pth',
    distiller={{_base_.flownas_distiller}},
    num_random_samples=2,
    flow_loss_weight=1.0)

# Validate the largest, smallest and two random subnets, each with its
# BatchNorm statistics re-estimated on training pairs.
val_cfg = dict(
    _delete_=True,
    type='mmrazor.FlowNASSubnetValLoop',
    calibrate_sample_num=256,
    estimator_cfg=dict(
        type='mmrazor.FlowResourceEstimator', input_shape=(1, 6, 368, 496)))
