# FlowNet2's S_fine schedule as mmflow fine-tunes PWC-Net on FlyingThings3D
# subset: Adam 1e-5, halved at 200k, 300k, 400k and 500k, 600k iterations
# (checkpoints every 50k: set in the configs using it).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='Adam', lr=0.00001, weight_decay=0.0004, betas=(0.9, 0.999)))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=False,
    gamma=0.5,
    milestones=[200000, 300000, 400000, 500000])
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=600000, val_interval=50000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
