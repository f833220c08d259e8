# Supervised-only baseline of the ImageNet 10% config: ResNet-18 on the same
# 128 labeled images per class, same schedule (paper's labeled-only figure:
# 53.65 / 31.01 top-1 / top-5 error).
_base_ = ['./metassl_resnet18_8xb64-600e_in1k-10pct.py']

model = dict(_delete_=True,
             type='ImageClassifier',
             backbone=_base_.model.backbone,
             neck=_base_.model.neck,
             head=_base_.model.head)
train_dataloader = dict(
    batch_size=64,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    collate_fn=dict(_delete_=True, type='pseudo_collate'),
    dataset=dict(_delete_=True,
                 type='FewShotDataset',
                 dataset=_base_.train_dataloader.dataset.dataset,
                 shots=_base_.train_dataloader.dataset.num_labeled_per_class,
                 seed=_base_.train_dataloader.dataset.seed))
auto_scale_lr = dict(base_batch_size=512)
model_wrapper_cfg = None  # mmengine's default DDP
