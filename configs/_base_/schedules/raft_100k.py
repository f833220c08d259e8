# RAFT's FlyingChairs schedule (mmflow raft_8x2_100k): AdamW, one-cycle
# learning rate (5% linear warm-up, linear decay), gradient clipping at 1.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=0.0004,
        betas=(0.9, 0.999),
        eps=1e-08,
        weight_decay=0.0001,
        amsgrad=False),
    clip_grad=dict(max_norm=1.))
# total_steps exceeds max_iters by 100 as in RAFT, so the rate never hits 0.
param_scheduler = dict(
    type='OneCycleLR',
    eta_max=0.0004,
    total_steps=100100,
    pct_start=0.05,
    anneal_strategy='linear',
    by_epoch=False)
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
