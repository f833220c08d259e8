# Dense baseline of the embedded run: the paper's CIFAR ResNet-20 on sklearn's
# bundled handwritten digits (real data, no download) at 32 px, CPU-sized.
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='CifarResNet', depth=20),
    head=dict(in_channels=64))
data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3)

# Digits are not mirror-symmetric: shifts only.
train_pipeline = [
    dict(type='Resize', scale=32),
    dict(type='RandomCrop', crop_size=32, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='Resize', scale=32), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(
        _delete_=True,
        type='SklearnDigits',
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(
        _delete_=True,
        type='SklearnDigits',
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=1e-4))
param_scheduler = dict(
    _delete_=True, type='CosineAnnealingLR', by_epoch=True, T_max=15)
train_cfg = dict(max_epochs=15, val_interval=5)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(interval=15), checkpoint=dict(interval=15))
randomness = dict(seed=0)
