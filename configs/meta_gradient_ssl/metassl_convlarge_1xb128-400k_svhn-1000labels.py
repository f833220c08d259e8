# Meta-gradient SSL on SVHN with 1000 labels (100 per class), ConvLarge,
# mix-up gamma 0.1, weight decay 5e-5, no flips (paper: 3.15% error).
# Data: the official train_32x32.mat / test_32x32.mat in data/svhn.
_base_ = [
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    './_base_/metassl_convlarge_400k.py'
]

model = dict(mixup_gamma=0.1)
# The reference code's SVHN statistics, on 0-255 pixels.
data_preprocessor = dict(mean=[111.61, 113.16, 120.57],
                         std=[50.50, 51.26, 50.24])
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=256,  # 128 labeled + 128 unlabeled
    num_workers=4,
    sampler=dict(_delete_=True,
                 type='LabeledUnlabeledSampler',
                 labeled_batch_size=128),
    collate_fn=dict(type='labeled_unlabeled_collate'),
    dataset=dict(_delete_=True,
                 type='SemiSplitDataset',
                 dataset=dict(type='SVHN',
                              data_root='data/svhn',
                              split='train',
                              pipeline=train_pipeline),
                 num_labeled_per_class=100,
                 seed=0))
val_dataloader = dict(batch_size=100,
                      dataset=dict(_delete_=True,
                                   type='SVHN',
                                   data_root='data/svhn',
                                   split='test',
                                   pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(weight_decay=5e-5))
