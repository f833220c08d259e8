# Protocol 2 (WCS): frame lists in the common format (see
# mmext/classification/fas/datasets.py) under
# data/WCS/<domain>/{train,test}.txt:
# ten frames per video; CelebA-Spoof is an extra source.
_base_ = ['./vit-base-p16_fas-224px.py']

data_root = 'data/WCS'
fwt_cfg = dict(gamma_init=0.1, beta_init=0.1)
# Stage 2: ensemble adapters (K=2, 64 wide) and FWT, the only parameters that
# train (the head learnt in stage 1 stays frozen).
adaptive_backbone = dict(
    type='AdaptiveVisionTransformer',
    adapter_cfg=dict(num_adapters=2, hidden_dims=64),
    fwt_cfg=fwt_cfg)
stage2_trainable = ['backbone.layers.*adapter*', 'backbone.layers.*.fwt.*']

wmca_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='wmca/train.txt',
    pipeline={{_base_.train_pipeline}})
cefa_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='cefa/train.txt',
    pipeline={{_base_.train_pipeline}})
surf_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='surf/train.txt',
    pipeline={{_base_.train_pipeline}})
celeb_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='celeb/train.txt',
    pipeline={{_base_.train_pipeline}})
# The first 5 live and 5 spoof frames as listed: the papers' 5 shots.
wmca_shots = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='wmca/train.txt',
    num_shots=5,
    pipeline={{_base_.train_pipeline}})
wmca_test = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='wmca/test.txt',
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
cefa_shots = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='cefa/train.txt',
    num_shots=5,
    pipeline={{_base_.train_pipeline}})
cefa_test = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='cefa/test.txt',
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
surf_shots = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='surf/train.txt',
    num_shots=5,
    pipeline={{_base_.train_pipeline}})
surf_test = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='surf/test.txt',
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
