# CelebA, 40 attributes (mean attribute accuracy), through mmext's CelebA
# reader (CelebAAttributes). Encoder: ResNet-18 cut after stage 2 (the
# released representation is 256 x 8 x 8 at 128 px); task classifier f:
# global average pooling + multi-label linear head; adversary: a 4-stage
# upsampling decoder back to 128 px. The encoder minimises its task loss minus
# privacy_weight x the adversary's pixel error.
# Data: data/celeba in the release layout (img_align_celeba/,
# list_attr_celeba.txt, list_eval_partition.txt). Private data (the
# encoder's): the 'train' partition; public data (the post-hoc attacker's):
# 'val'; test: 'test'.
# Train: python tools/train.py THIS_CONFIG; privacy of a checkpoint:
# python tools/privacy/evaluate_attacker.py THIS_CONFIG CHECKPOINT; the
# utility-privacy curve: python tools/privacy/sweep_lambda.py THIS_CONFIG.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

data_root = 'data/celeba'
private_split, public_split, test_split = 'train', 'val', 'test'
img_size = 128
cut_stage = 2
representation_channels = 256
privacy_weight = 1.0
decoder = dict(
    type='ConvDecoder',
    in_channels=representation_channels,
    channels=(256, 128, 64, 32),
    # ImageNet normalisation spans about [-2.1, 2.6]: no tanh.
    out_act='identity')

model = dict(
    type='AdversarialPrivacyClassifier',
    backbone=dict(type='ResNet', depth=18),
    cut_stage=cut_stage,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=40,
        in_channels=representation_channels),
    adversary=decoder,
    privacy_weight=privacy_weight,
    adversary_loss=dict(type='PixelReconstructionLoss', criterion='L2'),
    data_preprocessor=dict(
        num_classes=40,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
        to_onehot=True))

# 178 x 218 aligned images: the face square, then img_size.
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
dataset = dict(type='CelebAAttributes', data_root=data_root)
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, split=private_split, pipeline=train_pipeline))
public_dataloader = dict(
    batch_size=64,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, split=public_split, pipeline=test_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split=test_split, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MeanAttributeAccuracy')
test_evaluator = val_evaluator

optim_wrapper = dict(
    constructor='AdversarialOptimWrapperConstructor',
    encoder=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
    adversary=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)))
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
val_cfg = dict()
# The perceptual metric (and privacy loss of the perceptual config) compares
# features of a fixed mmpretrain ResNet-18; its weights come from a local
# file, e.g. mmpretrain's ImageNet ResNet-18 (resnet18_8xb32_in1k), which
# expects exactly this ImageNet normalisation.
perceptual = dict(
    type='PerceptualDistance',
    backbone=dict(type='ResNet', depth=18),
    checkpoint='checkpoints/resnet18_8xb32_in1k.pth',
    layers=(0, 1, 2))
test_cfg = dict(
    type='AttackerTestLoop',
    attacker=decoder,
    public_dataloader=public_dataloader,
    iters=5000,
    lr=1e-3,
    perceptual=perceptual)
default_hooks = dict(
    logger=dict(interval=100), checkpoint=dict(interval=5, max_keep_ckpts=2))
randomness = dict(seed=0)
