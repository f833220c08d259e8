# DNA-GAN as in the paper (Xiao et al., ICLR 2018 workshop): CelebA 5-point
# aligned crops at 64 x 64, batch 64 per attribute stream, attribute pieces
# of 128 of the code's 512 channels, WGAN with critic weights clipped to
# +-0.01, RMSProp (decay 0.8) lr 5e-5 for both nets, the critic updated 100
# times every 500th iteration and once otherwise, 200k iterations.
# Align first: python tools/generation/align_celeba.py data/celeba
# The test evaluator needs the classifier of
# configs/elegant/resnet18_1xb64-20e_celeba-attr-128px.py trained, and FID a
# local inception-2015-12-05.pt at inception_path (nothing is downloaded).
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
default_scope = 'mmagic'

attributes = ['Bangs', 'Eyeglasses', 'Smiling']
img_size = 64
data_root = 'data/celeba'
data_prefix = dict(img='align_5p_256')
classifier_config = 'configs/elegant/resnet18_1xb64-20e_celeba-attr-128px.py'
classifier_checkpoint = \
    'work_dirs/resnet18_1xb64-20e_celeba-attr-128px/epoch_20.pth'
inception_path = 'data/inception/inception-2015-12-05.pt'

model = dict(
    type='DNAGAN',
    attributes=attributes,
    data_preprocessor=dict(
        type='DataPreprocessor',
        mean=127.5,
        std=127.5,
        output_channel_order='RGB',
        non_image_keys=['label_a', 'label_b'],
        data_keys=None),
    generator=dict(
        type='DNAGANGenerator', channels=(128, 256, 512), piece_ratio=0.25),
    discriminator=dict(
        type='DNAGANDiscriminator',
        img_size=img_size,
        channels=(128, 256, 512, 512)),
    clip_value=0.01,
    discriminator_steps=1,
    disc_boost_steps=100,
    disc_boost_interval=500)

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
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, split='train'))
val_dataloader = dict(
    batch_size=64,
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
        optimizer=dict(type='RMSprop', lr=5e-5, alpha=0.8, eps=1e-10)),
    discriminator=dict(
        optimizer=dict(type='RMSprop', lr=5e-5, alpha=0.8, eps=1e-10)))

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
