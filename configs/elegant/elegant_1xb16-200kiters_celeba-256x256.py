# ELEGANT as in the paper (Xiao et al., ECCV 2018): CelebA 5-point aligned to
# 256 x 256 (eye distance 70 px), batch 16 per attribute stream, Adam
# (0.5, 0.999) lr 2e-4 wd 1e-5 for both nets, StepLR(3000, 0.97) per
# iteration, 200k iterations of one D and one G step per attribute.
# Align first: python tools/generation/align_celeba.py data/celeba
# The test evaluator needs the classifier of
# resnet18_1xb64-20e_celeba-attr-128px.py trained, and FID needs a local
# inception-2015-12-05.pt at inception_path (nothing is downloaded).
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
default_scope = 'mmagic'

attributes = ['Bangs', 'Mustache', 'Smiling']
img_size = 256
data_root = 'data/celeba'
data_prefix = dict(img='align_5p_256')
classifier_config = 'configs/elegant/resnet18_1xb64-20e_celeba-attr-128px.py'
classifier_checkpoint = \
    'work_dirs/resnet18_1xb64-20e_celeba-attr-128px/epoch_20.pth'
inception_path = 'data/inception/inception-2015-12-05.pt'

model = dict(
    type='ELEGANT',
    attributes=attributes,
    data_preprocessor=dict(
        type='DataPreprocessor',
        mean=127.5,
        std=127.5,
        output_channel_order='RGB',
        non_image_keys=['label_a', 'label_b'],
        data_keys=None),
    generator=dict(type='ELEGANTGenerator', channels=(64, 128, 256, 512, 512)),
    discriminator=dict(
        type='ELEGANTDiscriminator',
        img_size=img_size,
        num_scales=2,
        channels=(64, 128, 256, 512)),
    loss_config=dict(recon_weight=5.0, scale_weights=(1.0, 0.5)))

pipeline = [
    dict(type='LoadImageFromFile', key='img'),
    dict(
        type='Resize',
        keys='img',
        scale=(img_size, img_size),
        interpolation='area'),
]
dataset = dict(
    type='CelebAAttributePairs',
    data_root=data_root,
    data_prefix=data_prefix,
    attributes=attributes,
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, split='train'))
val_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='val', test_mode=True, indices=2000))
test_dataloader = dict(
    val_dataloader, dataset=dict(dataset, split='test', test_mode=True))

val_evaluator = dict(
    type='Evaluator', metrics=[dict(type='ReconstructionError')])
test_evaluator = dict(
    type='Evaluator',
    metrics=[
        dict(type='ReconstructionError'),
        dict(
            type='EditedAttributeAccuracy',
            classifier_config=classifier_config,
            classifier_checkpoint=classifier_checkpoint,
            input_size=128),
        dict(type='AttributeTransferFID', inception_path=inception_path),
    ])

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(
        optimizer=dict(
            type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=1e-5)),
    discriminator=dict(
        optimizer=dict(
            type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=1e-5)))
param_scheduler = dict(
    type='StepLR', by_epoch=False, step_size=3000, gamma=0.97)

train_cfg = dict(
    by_epoch=False, max_iters=200000, val_begin=1, val_interval=10000)
# A grid of edits of fixed training pairs (rows: attribute x pair; columns:
# A, A edited, B, B edited) in <work_dir>/<timestamp>/vis_data/vis_image/.
custom_hooks = [
    dict(type='AttributeTransferVisualizationHook', interval=2000)
]
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=2000, max_keep_ckpts=5))
randomness = dict(seed=0)
