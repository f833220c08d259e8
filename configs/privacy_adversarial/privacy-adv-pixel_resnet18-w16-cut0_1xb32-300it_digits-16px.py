# Embedded experiment: scikit-learn's digits (16 x 16). Task: the digit;
# private: the image. Encoder: mmpretrain's ResNet-18 at width 16 cut after
# stage 0 (a 16 x 4 x 4 representation); task classifier f: global average
# pooling + linear; adversary: a 2-stage upsampling decoder, 3 steps per
# encoder step.
# Private data (the encoder's): 1,000 of the 1,437 training digits; public
# data (the attacker's): the other 437; test: the 360 test digits.
_base_ = ['./_base_/privacy-adv_adam-300it_cpu.py']

img_size = 16
representation_channels = 16
decoder = dict(
    type='ConvDecoder',
    in_channels=representation_channels,
    channels=(16, 8))

model = dict(
    type='AdversarialPrivacyClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=16, base_channels=16),
    cut_stage=0,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=representation_channels,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )),
    adversary=decoder,
    privacy_weight=1.0,
    adversary_loss=dict(type='PixelReconstructionLoss', criterion='L2'),
    adversary_steps=3,
    data_preprocessor=dict(
        num_classes=10, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=False))

pipeline = [dict(type='Resize', scale=img_size), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='SklearnDigits',
        split='train',
        indices=list(range(1000)),
        pipeline=pipeline))
public_dataloader = dict(
    train_dataloader,
    dataset=dict(train_dataloader['dataset'], indices=list(range(1000, 1437))))
val_dataloader = dict(
    batch_size=120,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SklearnDigits', split='test', pipeline=pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

test_cfg = dict(attacker=decoder, public_dataloader=public_dataloader)
