# ELEGANT on the embedded procedural faces (no download) at 64 x 64, sized
# for a CPU: the paper's architecture, losses and optimiser with a quarter of
# its channel widths, batch 8 per attribute stream, 2k iterations (each one
# a D step and a G step per attribute). Write the data first:
#   python tools/generation/make_procedural_faces.py data/procedural_faces
# The test evaluator's attribute accuracy needs the classifier of
# resnet18_1xb32-10e_procedural-faces-attr-64px.py trained (README.md).
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
default_scope = 'mmagic'

attributes = ['Bangs', 'Eyeglasses', 'Mustache', 'Smiling']
img_size = 64
data_root = 'data/procedural_faces'
classifier_config = \
    'configs/elegant/resnet18_1xb32-10e_procedural-faces-attr-64px.py'
classifier_checkpoint = \
    'work_dirs/resnet18_1xb32-10e_procedural-faces-attr-64px/epoch_10.pth'

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
    generator=dict(type='ELEGANTGenerator', channels=(16, 32, 64, 128, 128)),
    discriminator=dict(
        type='ELEGANTDiscriminator',
        img_size=img_size,
        num_scales=2,
        channels=(16, 32, 64, 128)),
    loss_config=dict(recon_weight=5.0, scale_weights=(1.0, 0.5)))

# Per image (the dataset pairs and stacks them): the 178 x 178 face square of
# the 178 x 218 CelebA-layout image, resized.
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

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(
        optimizer=dict(
            type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=1e-5)),
    discriminator=dict(
        optimizer=dict(
            type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=1e-5)))
# Stepped every iteration, for both optimisers.
param_scheduler = dict(
    type='StepLR', by_epoch=False, step_size=3000, gamma=0.97)

train_cfg = dict(by_epoch=False, max_iters=2000, val_begin=1, val_interval=500)
# A grid of edits of fixed training pairs (rows: attribute x pair; columns:
# A, A edited, B, B edited) in <work_dir>/<timestamp>/vis_data/vis_image/.
custom_hooks = [dict(type='AttributeTransferVisualizationHook', interval=500)]
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=500, max_keep_ckpts=2))
randomness = dict(seed=0)
