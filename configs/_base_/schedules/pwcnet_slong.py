# FlowNet2's S_long schedule as mmflow trains PWC-Net on FlyingChairs: Adam
# 1e-4, halved at 400k, 600k, 800k and 1M iterations, 1.2M iterations
# (checkpoints every 100k: set in the configs using it).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='Adam', lr=0.0001, weight_decay=0.0004, betas=(0.9, 0.999)))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=False,
    gamma=0.5,
    milestones=[400000, 600000, 800000, 1000000])
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=1200000, val_interval=100000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
