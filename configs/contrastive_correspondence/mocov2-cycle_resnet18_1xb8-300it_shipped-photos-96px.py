# A CPU-sized run (ResNet-18, 96 px, batch 8, 300 iterations) on real photos
# that ship in installed packages: MoCo v2 and the cycle loss on crops of the
# scikit-image / scikit-learn photos (a pair is two crops of one photo).
# Used by tools/correspondence/stereo_experiment.py.
_base_ = ['./mocov2-cycle_resnet50_8xb32-20e_pfpascal.py']

model = dict(
    queue_len=512,
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=512),
    cycle_layer=6,  # ResNet-18: end of layer3, stride 16
    crop_size=48,
    matcher=dict(layer_ids=(2, 4, 6)))
load_from = None

view_pipeline = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.2, 1.0),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomFlip', prob=0.5),
]
photo_crops = dict(type='ShippedPhotoCrops', crops_per_photo=32, size=128)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(datasets=[
        dict(photo_crops, pipeline=[
            dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
            dict(type='PackInputs')
        ]),
        dict(type='SameClassPairs', dataset=photo_crops,
             pipeline=[
                 dict(type='LoadImagePair'),
                 dict(type='PairViews', pipeline=[
                     dict(type='Resize', scale=(96, 96), backend='pillow'),
                     dict(type='RandomApply',
                          transforms=[dict(type='ColorJitter', brightness=0.4,
                                           contrast=0.4, saturation=0.4,
                                           hue=0.1)],
                          prob=0.8),
                 ]),
                 dict(type='PackInputs'),
             ]),
    ]))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

optim_wrapper = dict(optimizer=dict(lr=0.03))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=300, by_epoch=False, begin=0, end=300)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=300)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=100, save_best=None,
                    max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
