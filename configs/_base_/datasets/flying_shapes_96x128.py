# FlyingShapes: procedural textured shapes with exact flow, made in memory
# (no download; see mmext/flow/datasets/synthetic.py). Pairs are rendered at
# 96x128 and cropped, flipped and colour-jittered for training; the
# validation split is a fixed set of other pairs. Both stay in the main
# process (rendering a pair takes ~10 ms).
img_size = (96, 128)
crop_size = (64, 96)
# Motion of each shape per axis (pixels; the background moves half as far).
shape_cfg = dict(max_translation=16., max_rotation=10., max_zoom=0.1)

train_pipeline = [
    dict(
        type='ColorJitter',
        asymmetric_prob=0.2,
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.5 / 3.14),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.1, direction='vertical'),
    dict(type='PackFlowInputs')
]
test_pipeline = [dict(type='PackFlowInputs')]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='FlyingShapes',
        num_samples=8000,
        split='train',
        seed=0,
        img_size=img_size,
        shape_cfg=shape_cfg,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='FlyingShapes',
        num_samples=32,
        split='val',
        seed=0,
        img_size=img_size,
        shape_cfg=shape_cfg,
        pipeline=test_pipeline))
val_evaluator = [dict(type='EndPointError'), dict(type='FlowOutliers')]
