# Supervised-only baseline: the same ConvLarge, schedule and 4000 labeled
# images (FewShotDataset picks what SemiSplitDataset labels for one seed).
_base_ = ['./metassl_convlarge_1xb128-400k_cifar10-4000labels.py']

model = dict(_delete_=True,
             type='ImageClassifier',
             backbone=_base_.model.backbone,
             neck=_base_.model.neck,
             head=_base_.model.head)
train_dataloader = dict(
    batch_size=128,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    collate_fn=dict(_delete_=True, type='pseudo_collate'),
    dataset=dict(_delete_=True,
                 type='FewShotDataset',
                 dataset=_base_.train_dataloader.dataset.dataset,
                 shots=_base_.train_dataloader.dataset.num_labeled_per_class,
                 seed=_base_.train_dataloader.dataset.seed))
auto_scale_lr = dict(base_batch_size=128)
model_wrapper_cfg = None  # mmengine's default DDP
