# The attribute classifier that scores edits on real CelebA: ResNet-18 (from
# scratch), multi-label over all 40 attributes, trained on the 5-point aligned
# crops ELEGANT uses (tools/generation/align_celeba.py writes align_5p_256/)
# at 128 x 128. EditedAttributeAccuracy resizes edited images to 128 and
# picks the GAN's attributes by name.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/default_runtime.py'
]

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

num_attributes = 40
data_root = 'data/celeba'
data_prefix = dict(img='align_5p_256')
img_size = 128

model = dict(
    head=dict(
        _delete_=True,
        type='MultiLabelLinearClsHead',
        num_classes=num_attributes,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
data_preprocessor = dict(
    num_classes=num_attributes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackInputs'),
]
# attributes=None: every column of list_attr_celeba.txt, in file order.
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CelebAAttributes',
        data_root=data_root,
        data_prefix=data_prefix,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CelebAAttributes',
        data_root=data_root,
        data_prefix=data_prefix,
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
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=20)
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=2)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
randomness = dict(seed=0)
