# Embedded experiment: the procedural faces (CelebA layout, written by
# tools/privacy/embedded_experiment.py). Task: the 4 attributes (Bangs,
# Eyeglasses, Mustache, Smiling); private: the face image. Encoder:
# mmpretrain's ResNet-18 at width 16 cut after stage 0 (16 x 8 x 8);
# task classifier f: global average pooling + multi-label linear head;
# adversary: a 1-stage upsampling decoder (8 -> 16 px, then bilinear to
# 32 px), 2 steps per encoder step.
# Private data: the 'train' partition; public (the attacker's): 'val';
# test: 'test'.
_base_ = ['./_base_/privacy-adv_adam-300it_cpu.py']

data_root = 'data/procedural_faces_64px'
attributes = ['Bangs', 'Eyeglasses', 'Mustache', 'Smiling']
private_split, public_split, test_split = 'train', 'val', 'test'
img_size = 32
representation_channels = 16
decoder = dict(
    type='ConvDecoder',
    in_channels=representation_channels,
    channels=(16, ),
    blocks_per_stage=2)

model = dict(
    type='AdversarialPrivacyClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=16, base_channels=16),
    cut_stage=0,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=len(attributes),
        in_channels=representation_channels),
    adversary=decoder,
    privacy_weight=1.0,
    adversary_loss=dict(type='PixelReconstructionLoss', criterion='L2'),
    adversary_steps=2,
    data_preprocessor=dict(
        num_classes=len(attributes),
        mean=[127.5] * 3,
        std=[127.5] * 3,
        to_rgb=True,
        to_onehot=True))

# The images are 64 x 78 in CelebA's framing: the face square, then 32 px.
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CenterCrop', crop_size=64),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackInputs'),
]
dataset = dict(
    type='CelebAAttributes',
    data_root=data_root,
    attributes=attributes,
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, split=private_split))
public_dataloader = dict(
    train_dataloader, dataset=dict(dataset, split=public_split))
val_dataloader = dict(
    batch_size=100,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split=test_split))
test_dataloader = val_dataloader
val_evaluator = dict(type='MeanAttributeAccuracy')
test_evaluator = val_evaluator

test_cfg = dict(attacker=decoder, public_dataloader=public_dataloader)
