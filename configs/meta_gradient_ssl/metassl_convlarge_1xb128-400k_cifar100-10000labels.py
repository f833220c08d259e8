# Meta-gradient SSL on CIFAR-100 with 10000 labels (100 per class), ConvLarge
# (paper: 30.74% error).
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    './_base_/metassl_convlarge_400k.py'
]

model = dict(head=dict(num_classes=100))
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
                 num_labeled_per_class=100,
                 seed=0))
val_dataloader = dict(batch_size=100)
test_dataloader = val_dataloader
