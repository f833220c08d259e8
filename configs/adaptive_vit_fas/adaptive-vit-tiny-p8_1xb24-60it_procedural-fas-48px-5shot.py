# Stage 2 of the adaptive ViT: only ensemble adapters and FWT train (head
# and ViT frozen), from the stage-1 model, whose plain-ViT checkpoint lacks
# exactly those parameters; the adapters' cosine loss joins the total loss.
_base_ = ['./vit-tiny-p8_ft_1xb24-60it_procedural-fas-48px-5shot.py']

load_from = 'work_dirs/vit-tiny-p8_head_1xb24-20it_procedural-fas-48px-5shot/iter_20.pth'
model = dict(
    backbone=dict(
        type='AdaptiveVisionTransformer',
        adapter_cfg=dict(num_adapters=2, hidden_dims=16),
        fwt_cfg=dict(gamma_init=0.3, beta_init=0.5)),
    cosine_loss_weight=1.,
    trainable=['backbone.layers.*adapter*', 'backbone.layers.*.fwt.*'])
