# The attribute classifier that scores ELEGANT/DNA-GAN edits on the embedded
# procedural faces: ResNet-18 (from scratch), multi-label, 64 x 64, CPU-sized.
# Train it first (python tools/generation/make_procedural_faces.py
# data/procedural_faces; python tools/train.py THIS_CONFIG); the GAN configs'
# test_evaluator loads work_dirs/<this config's name>/epoch_10.pth.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/default_runtime.py'
]

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

attributes = ['Bangs', 'Eyeglasses', 'Mustache', 'Smiling']
data_root = 'data/procedural_faces'
img_size = 64

model = dict(
    head=dict(
        _delete_=True,
        type='MultiLabelLinearClsHead',
        num_classes=len(attributes),
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
data_preprocessor = dict(
    num_classes=len(attributes),
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True)

# 178 x 218 CelebA-layout images: the face square, then the GAN's size.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CenterCrop', crop_size=178),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CenterCrop', crop_size=178),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CelebAAttributes',
        data_root=data_root,
        attributes=attributes,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CelebAAttributes',
        data_root=data_root,
        attributes=attributes,
        split='val',
        pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = [
    dict(type='MultiLabelMetric', thr=0.5, average='macro'),
    dict(type='AveragePrecision'),
]
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=10)
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5))
randomness = dict(seed=0)
