# DNA-GAN on the embedded procedural faces (no download) at 64 x 64, sized
# for a CPU: the paper's architecture, WGAN losses, weight clipping, RMSProp
# and critic schedule with a quarter of its channel widths, batch 8 per
# attribute stream, 2k iterations. Three attributes: with 1/4 of the code per
# piece, three pieces leave a quarter for the attribute-irrelevant part.
# Write the data first:
#   python tools/generation/make_procedural_faces.py data/procedural_faces
# The test evaluator's attribute accuracy needs the classifier of
# configs/elegant/resnet18_1xb32-10e_procedural-faces-attr-64px.py trained.
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
default_scope = 'mmagic'

attributes = ['Bangs', 'Eyeglasses', 'Smiling']
img_size = 64
data_root = 'data/procedural_faces'
classifier_config = \
    'configs/elegant/resnet18_1xb32-10e_procedural-faces-attr-64px.py'
classifier_checkpoint = \
    'work_dirs/resnet18_1xb32-10e_procedural-faces-attr-64px/epoch_10.pth'

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
        type='DNAGANGenerator', channels=(32, 64, 128), piece_ratio=0.25),
    discriminator=dict(
        type='DNAGANDiscriminator',
        img_size=img_size,
        channels=(32, 64, 128, 128)),
    clip_value=0.01,
    discriminator_steps=1,
    disc_boost_steps=100,
    disc_boost_interval=500)

pipeline = [
    dict(type='LoadImageFromFile', key='img'),
    dict(type='CenterCrop', crop_size=178),
    dict(
        type='Resize',
        keys='img',
        scale=(img_size, img_size),
        interpolation='area'),
]
dataset = dict(
    type='CelebAAttributePairs',
    data_root=data_root,
    attributes=attributes,
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, split='train'))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='val', test_mode=True))
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
            input_size=img_size),
    ])

# RMSProp's decay 0.8 is torch's alpha; TensorFlow's epsilon 1e-10.
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(
        optimizer=dict(type='RMSprop', lr=5e-5, alpha=0.8, eps=1e-10)),
    discriminator=dict(
        optimizer=dict(type='RMSprop', lr=5e-5, alpha=0.8, eps=1e-10)))

train_cfg = dict(by_epoch=False, max_iters=2000, val_begin=1, val_interval=500)
# A grid of edits of fixed training pairs (rows: attribute x pair; columns:
# A, A edited, B, B edited) in <work_dir>/<timestamp>/vis_data/vis_image/.
custom_hooks = [dict(type='AttributeTransferVisualizationHook', interval=500)]
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=500, max_keep_ckpts=2))
randomness = dict(seed=0)
