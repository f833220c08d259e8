# The embedded experiment (tools/semi/digits_experiment.py): the paper's SVHN
# recipe (digits: mix-up gamma 0.1, weight decay 5e-5, no flips) shrunk to
# scikit-learn's handwritten digits (real data, no download): 10 labels per
# class, the other 1,337 training digits unlabeled, ConvLarge with 16 base
# channels at 16 px and no dropout (at this width the paper's Dropout2d(0.5)
# cost the supervised baseline 15 points), 16 + 16 images per step, 400
# iterations with lr warm-up and consistency ramp-up over the first 100.
_base_ = ['./metassl_convlarge_1xb128-400k_svhn-1000labels.py']

model = dict(backbone=dict(base_channels=16, dropout=0.0),
             head=dict(in_channels=16),
             rampup_iters=100)
data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3)

# Digits are not mirror-symmetric: shifts only.
train_pipeline = [
    dict(type='Resize', scale=16),
    dict(type='RandomCrop', crop_size=16, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='Resize', scale=16), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,  # 16 labeled + 16 unlabeled
    num_workers=0,
    persistent_workers=False,
    sampler=dict(labeled_batch_size=16),
    dataset=dict(dataset=dict(_delete_=True,
                              type='SklearnDigits',
                              split='train',
                              pipeline=train_pipeline),
                 num_labeled_per_class=10))
val_dataloader = dict(batch_size=120,
                      num_workers=0,
                      persistent_workers=False,
                      dataset=dict(_delete_=True,
                                   type='SklearnDigits',
                                   split='test',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=400),
]
train_cfg = dict(max_iters=400, val_interval=400)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=400))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=32)
