# FlowNAS on the CPU, step 1 of the end-to-end run (README): the supernet of
# RAFT-S with FlowNAS encoders, trained for 200 iterations on the embedded
# FlyingShapes data by the sandwich rule (largest, smallest, one random
# subnet) with Feature Alignment Distillation to the quick-start RAFT-S
# (train it first: configs/raft/raft-small_1xb8-600it_flyingshapes-64x96.py).
_base_ = [
    '../raft/raft-small_1xb8-600it_flyingshapes-64x96.py',
    './_base_/flownas.py'
]

custom_imports = dict(
    imports=['mmext', 'mmext.razor.flownas'], allow_failed_imports=False)

max_iters = 200
model = dict(
    _delete_=True,
    type='mmrazor.FlowNAS',
    architecture={{_base_.model}},
    encoder={{_base_.flownas_encoder}},
    teacher={{_base_.model}},
    teacher_ckpt='work_dirs/raft-small_1xb8-600it_flyingshapes-64x96/'
    'iter_600.pth',
    distiller={{_base_.flownas_distiller}},
    num_random_samples=1,
    flow_loss_weight=1.0)

train_dataloader = dict(batch_size=2)
param_scheduler = dict(total_steps=max_iters + 100)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# The largest, smallest and one random subnet, each with its BatchNorm
# statistics re-estimated on 16 training pairs.
val_cfg = dict(
    _delete_=True,
    type='mmrazor.FlowNASSubnetValLoop',
    calibrate_sample_num=16,
    estimator_cfg=dict(
        type='mmrazor.FlowResourceEstimator', input_shape=(1, 6, 96, 128)))
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
