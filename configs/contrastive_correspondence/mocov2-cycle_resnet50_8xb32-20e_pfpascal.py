# Multi-level contrastive learning (Xiao et al., IJCV 2022) on PF-PASCAL:
# MoCo v2 on ImageNet and the cross-instance cycle loss on PF-PASCAL training
# pairs, from a MoCo v2 ResNet-50 (no ImageNet labels anywhere). The reference
# runs MoCo v1 (linear projection, v1 augmentations); see the README.
_base_ = [
    'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
    './_base_/pair_benchmarks.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ContrastiveCorrespondence',
    head=dict(temperature=0.07),  # the reference's (MoCo v1) temperature
    cycle_layer=13,  # end of layer3, stride 16
    cycle_weight=5e-4,
    cycle_temperature=7e-4,
    crop_size=128,
    max_rotation=10.0,
    crop_location='attention',
    matcher=dict(type='HyperpixelMatcher', layer_ids=(2, 12, 13, 15)))

# A local mmpretrain MoCo v2 checkpoint (e.g. mocov2_resnet50_8xb32-coslr-200e_in1k).
load_from = 'checkpoints/mocov2_resnet50_8xb32-coslr-200e_in1k.pth'

pair_train_pipeline = [
    dict(type='LoadImagePair'),
    dict(type='PairViews', pipeline=[
        dict(type='Resize', scale=(224, 224), backend='pillow'),
        dict(type='RandomApply',
             transforms=[dict(type='ColorJitter', brightness=0.4,
                              contrast=0.4, saturation=0.4, hue=0.1)],
             prob=0.8),
    ]),
    dict(type='PackInputs'),
]
# MoCo sees ImageNet images (with MoCo v2's views) while the cycle loss sees
# the benchmark's pairs, as in the reference: ZipViews gives both to the model.
moco_imagenet = dict(type='ImageNet', data_root='data/imagenet/', split='train',
                     pipeline={{_base_.train_pipeline}})
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ZipViews',
        datasets=[
            moco_imagenet,
            dict(type='PFPascalPairs', data_root='data/PF-PASCAL',
                 split='trn', pipeline=pair_train_pipeline),
        ]))

optim_wrapper = dict(optimizer=dict(lr=0.003, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[5, 10, 15], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=1)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3, save_best='pck/0.1',
                                     rule='greater'))
