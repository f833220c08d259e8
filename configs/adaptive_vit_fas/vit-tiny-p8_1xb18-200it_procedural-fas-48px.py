# The 0-shot ViT of the embedded experiment, and the base of its other
# configs: a DeiT-tiny-like ViT shrunk to 48 px (patch 8, 64 wide, 4 layers)
# trained from scratch (no ImageNet weights can be downloaded here) with the
# FAS head on three procedural domains in domain-balanced batches; tested on
# the held-out fourth (video-level metrics). tools/fas/procedural_experiment.py
# writes the data and sets data_root, the domains and the seed.
_base_ = ['mmpretrain::deit/deit-tiny_4xb256_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

data_root = 'data/procedural_fas'
source_domains = ['warm-hd', 'cool-soft', 'noisy-lowres']
target_domain = 'jpeg-warm'

model = dict(
    type='FASClassifier',
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=64, num_layers=4, num_heads=4,
            feedforward_channels=128),
        img_size=48,
        patch_size=8),
    head=dict(
        _delete_=True,
        type='NormLinearClsHead',
        num_classes=2,
        in_channels=64,
        hidden_channels=64,
        # Cosine logits in [-1, 1] learn too slowly for 200 iterations (the
        # public code's normalisation gives logits of a few units).
        scale=8.,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )),
    train_cfg=dict(_delete_=True))

data_preprocessor = dict(num_classes=2)
meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'domain',
             'video')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=18,  # 3 live + 3 spoof from each domain
    num_workers=0,
    sampler=dict(type='DomainBalancedSampler', num_live=3, num_spoof=3),
    dataset=dict(
        type='FASFrameDataset',
        data_root=data_root,
        domains=source_domains,
        split='train',
        pipeline=train_pipeline))
test_dataloader = dict(
    _delete_=True,
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='FASFrameDataset',
        data_root=data_root,
        domains=[target_domain],
        split='test',
        pipeline=test_pipeline,
        test_mode=True))
test_evaluator = dict(_delete_=True, type='FASMetric', threshold='test-eer')
val_dataloader = None
val_evaluator = None
val_cfg = None

optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-6))
param_scheduler = []
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=200)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10**6,
                    save_last=True))
randomness = dict(seed=0)
