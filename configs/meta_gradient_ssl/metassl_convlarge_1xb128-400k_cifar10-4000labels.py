# Meta-gradient SSL on CIFAR-10 with 4000 labels (400 per class), ConvLarge,
# mix-up gamma 1.0, weight decay 1e-4 (paper: 7.78% error).
_base_ = [
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    './_base_/metassl_convlarge_400k.py'
]

# The reference's CIFAR-10 statistics on 0-255 pixels (mmpretrain's std is
# 51.6-51.3, a fifth smaller).
data_preprocessor = dict(mean=[125.31, 122.95, 113.87],
                         std=[62.99, 62.09, 66.70])
train_dataloader = dict(
    batch_size=256,  # 128 labeled + 128 unlabeled
    num_workers=4,
    sampler=dict(_delete_=True,
                 type='LabeledUnlabeledSampler',
                 labeled_batch_size=128),
    collate_fn=dict(type='labeled_unlabeled_collate'),
    dataset=dict(_delete_=True,
                 type='SemiSplitDataset',
                 dataset=_base_.train_dataloader.dataset,
                 num_labeled_per_class=400,
                 seed=0))
val_dataloader = dict(batch_size=100)
test_dataloader = val_dataloader
