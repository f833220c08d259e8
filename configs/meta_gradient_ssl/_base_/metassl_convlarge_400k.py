# Meta-gradient SSL with ConvLarge and the paper's SVHN/CIFAR schedule:
# 400k iterations of 128 labeled + 128 unlabeled images, SGD lr 0.1 momentum
# 0.9, linear warm-up of the lr and ramp-up of the consistency weight over
# 4000 iterations, lr x0.1 at 300k and 350k. Dataset configs add the data.
_base_ = [
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py'
]

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(type='MetaGradientSSL',
             backbone=dict(type='ConvLarge', base_channels=128),
             neck=dict(type='GlobalAveragePooling'),
             # nn.Linear's default initialisation, as the reference's.
             head=dict(type='LinearClsHead',
                       num_classes=10,
                       in_channels=128,
                       loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
                       init_cfg=None),
             meta_gradient='first_order',
             mixup=True,
             mixup_gamma=1.0,
             consistency_weight=1.0,
             rampup_iters=4000)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR',
         start_factor=1 / 4000,
         by_epoch=False,
         begin=0,
         end=4000),
    dict(type='MultiStepLR',
         by_epoch=False,
         milestones=[300000, 350000],
         gamma=0.1),
]
train_cfg = dict(_delete_=True,
                 type='IterBasedTrainLoop',
                 max_iters=400000,
                 val_interval=4000)
# The dataloader's batch: 128 labeled + 128 unlabeled images.
auto_scale_lr = dict(base_batch_size=256)
# MMDistributedDataParallel.train_step would skip the algorithm.
model_wrapper_cfg = dict(type='mmpretrain.MetaGradientSSLDDP',
                         broadcast_buffers=False)

default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(by_epoch=False,
                                     interval=4000,
                                     max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='SaveLabeledSplitHook')]
