# mmagic's shipped StyleGAN2 (config-f, FFHQ) recipe shrunk to 32 px: image
# size, latent size, mapping depth, batch, iterations and data only. The
# optimizers (Adam with betas=(0, 0.99**r)), R1 and path-length
# regularisation, EMA and hooks are the shipped ones. `data_root` (a folder
# of 32x32 images) is set by the test; no validation (FID needs weights).
_base_ = ['mmagic::styleganv2/stylegan2_c2_8xb4-800kiters_ffhq-256x256.py']

model = dict(
    generator=dict(out_size=32, style_channels=16, num_mlps=2),
    discriminator=dict(in_size=32))

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root='data/tiny_png'))
train_cfg = dict(max_iters=2)

val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
