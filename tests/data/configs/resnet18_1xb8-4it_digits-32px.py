# mmpretrain's own ResNet-18 recipe, shrunk to sklearn's digits at 32 px for tests.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(head=dict(num_classes=10, topk=(1, )))
data_preprocessor = dict(
    num_classes=10, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=False)

pipeline = [dict(type='Resize', scale=32), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True, type='SklearnDigits', split='train', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='SklearnDigits',
        split='test',
        indices=64,
        pipeline=pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = dict(
    _delete_=True, type='MultiStepLR', by_epoch=False, milestones=[2])
train_cfg = dict(_delete_=True, by_epoch=False, max_iters=4, val_interval=4)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=2),
    logger=dict(interval=1))
randomness = dict(seed=0)
