# The quick start (tools/flow_quickstart.py): the FlyingShapes recipe of
# raft-small_1xb8-600it_flyingshapes-64x96.py on FlyingPhotos, pairs made in
# memory from the photographs shipped with scikit-image and scikit-learn (no
# download; see mmext/flow/datasets/flying_photos.py), in about 10 minutes on
# 2 CPU cores. Every layer moves up to 64 px, its length 64 * U ** 2 (median
# 16 px; the real pair's full-size motions need more large ones than U ** 3
# gives), so pairs are rendered at the training size itself, not cropped: a
# crop of a larger pair would cut off the large motions' partners. 12
# refinement iterations in training and test, as RAFT: the large motions need
# them, and training with 6 tests worse at 12 (docs/flow_results.md).
_base_ = ['./raft-small_1xb8-600it_flyingshapes-64x96.py']

img_size = (128, 160)
shape_cfg = dict(_delete_=True, max_displacement=64., tail_exponent=2.)
train_pipeline = [
    step for step in _base_.train_pipeline if step['type'] != 'RandomCrop'
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        type='FlyingPhotos',
        num_samples=20000,
        img_size=img_size,
        shape_cfg=shape_cfg,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type='FlyingPhotos', img_size=img_size, shape_cfg=shape_cfg))

max_iters = 600
model = dict(decoder=dict(iters=12), test_cfg=dict(iters=12))
param_scheduler = dict(total_steps=max_iters + 100)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
