# The quick start (tools/flow_quickstart.py): RAFT-S trained from scratch on
# the embedded FlyingShapes data in a few CPU minutes, validated on
# FlyingShapes' validation split and tested on the real Middlebury stereo
# pair. RAFT's schedule (AdamW, one-cycle, clipping), shortened; 6 refinement
# iterations in training and test keep a step cheap.
_base_ = [
    '../_base_/models/raft_small.py',
    '../_base_/datasets/flying_shapes_96x128.py',
    '../_base_/datasets/middlebury_stereo.py',
    '../_base_/schedules/raft_100k.py', '../_base_/default_runtime.py'
]

max_iters = 600
model = dict(decoder=dict(iters=6), test_cfg=dict(iters=6))
param_scheduler = dict(total_steps=max_iters + 100)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
