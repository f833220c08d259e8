# KITTI 2015 fine-tuning with RAFT's sparse-flow augmentation (mmflow
# kitti2015_raft_288x960): no flips, both images jittered alike. Evaluated on
# the KITTI 2015 training set (the only part with ground truth) as published
# figures are (RAFT's evaluate.py): EPE is the mean of per-image means, Fl-all
# pools the valid pixels of all images (average='pixel', KITTI's definition).
crop_size = (288, 960)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', sparse=True),
    dict(
        type='ColorJitter',
        asymmetric_prob=0.,
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.5 / 3.14),
    dict(type='Erase', prob=0.5, bounds=[50, 100], max_num=3),
    dict(
        type='SpacialTransform',
        spacial_prob=0.8,
        stretch_prob=0.8,
        crop_size=crop_size,
        min_scale=-0.2,
        max_scale=0.4,
        max_stretch=0.2),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackFlowInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', sparse=True),
    dict(type='PackFlowInputs')
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='KITTI2015',
        data_root='data/kitti2015',
        test_mode=False,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='KITTI2015',
        data_root='data/kitti2015',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='EndPointError', average='image'),
    dict(type='FlowOutliers', average='pixel')
]
test_evaluator = val_evaluator
