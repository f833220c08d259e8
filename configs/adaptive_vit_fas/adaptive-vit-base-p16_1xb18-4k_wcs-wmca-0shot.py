# Stage 2, target WMCA: only ensemble adapters and FWT train,
# from the stage-1 model; cosine loss weight 0.01 for this target.
_base_ = ['./vit-base-p16_head_1xb18-100it_wcs-wmca-0shot.py']

load_from = 'work_dirs/vit-base-p16_head_1xb18-100it_wcs-wmca-0shot/iter_100.pth'
model = dict(
    backbone={{_base_.adaptive_backbone}},
    cosine_loss_weight=0.01,
    trainable={{_base_.stage2_trainable}})
train_cfg = dict(max_iters=4000)
