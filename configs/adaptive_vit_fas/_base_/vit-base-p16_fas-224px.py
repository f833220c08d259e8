# The paper's model on mmpretrain's ViT-B/16 config: an ImageNet ViT-B/16
# (a local checkpoint in mmpretrain's key layout; nothing is downloaded),
# the normalised FAS head, Adam 1e-4 / wd 1e-6, iteration-based training,
# video-level metrics on the target domain's test split.
_base_ = ['mmpretrain::vision_transformer/vit-base-p16_64xb64_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

pretrained = 'checkpoints/vit-base-p16_in21k-pre_in1k.pth'
model = dict(
    type='FASClassifier',
    backbone=dict(
        drop_rate=0.,
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint=pretrained,
            prefix='backbone')),
    head=dict(
        _delete_=True,
        type='NormLinearClsHead',
        num_classes=2,
        in_channels=768,
        hidden_channels=512,
        # The public code's normalisation: logits not bounded by 1.
        normalisation='public-code',
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )),
    train_cfg=dict(_delete_=True),
    # Stage 1: the head on the frozen ViT.
    trainable=['head.*'])
data_preprocessor = dict(num_classes=2)

meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'domain',
             'video')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # Saturation x U(0.8, 1.2) on half the frames, as the public code.
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', saturation=0.2)],
        prob=0.5),
    dict(type='PackInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=30,  # 3 live + 3 spoof from each domain
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DomainBalancedSampler', num_live=3, num_spoof=3),
    dataset=dict(type='ConcatDataset', datasets=[]))
test_dataloader = dict(
    _delete_=True,
    batch_size=64,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict())
# 'test-eer' is what the papers report (threshold chosen on the test set);
# for an honest threshold, evaluate a validation split with
# FASMetric(save_threshold='thr.json') and test with threshold='thr.json'.
test_evaluator = dict(_delete_=True, type='FASMetric', threshold='test-eer')
val_dataloader = None
val_evaluator = None
val_cfg = None

optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-6))
param_scheduler = []
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=100)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000,
                    save_last=True))
