# Name-initialised CLIP ViT-B/16 on ImageNet-1k: k images per class for
# training (FewShotDataset), the full validation split for evaluation; CLIP's
# 224 px bicubic preprocessing. The few-shot configs set k and the schedule.
_base_ = [
    './clip-vit-base-p16_name-init.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_pil_resize.py'
]

# CLIP's own normalisation (mmpretrain's CLIP configs).
data_preprocessor = dict(
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=224,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _delete_=True,
        type='FewShotDataset',
        shots=16,
        seed=0,
        dataset=dict(
            type='ImageNet',
            data_root='data/imagenet',
            split='train',
            pipeline=train_pipeline)))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# The ImageNet dataset's classes are WordNet synonym lists ("tench, Tinca
# tinca"); CLIP's curated short names ('imagenet' in mmpretrain) read better.
model = dict(head=dict(num_classes=1000, class_names='imagenet'))
