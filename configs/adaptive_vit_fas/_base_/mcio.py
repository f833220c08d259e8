# Protocol 1 (MCIO): frame lists written by tools/fas/convert_fas.py under
# data/MCIO/<domain>/{train,test}.txt: two frames per video (6 and 6 + T//2);
# CelebA-Spoof is an extra source.
_base_ = ['./vit-base-p16_fas-224px.py']

data_root = 'data/MCIO'
fwt_cfg = dict(gamma_init=0.3, beta_init=0.5)
# Stage 2: ensemble adapters (K=2, 64 wide) and FWT, the only parameters that
# train (the head learnt in stage 1 stays frozen).
adaptive_backbone = dict(
    type='AdaptiveVisionTransformer',
    adapter_cfg=dict(num_adapters=2, hidden_dims=64),
    fwt_cfg=fwt_cfg)
stage2_trainable = ['backbone.layers.*adapter*', 'backbone.layers.*.fwt.*']

casia_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='casia/train.txt',
    pipeline={{_base_.train_pipeline}})
msu_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='msu/train.txt',
    pipeline={{_base_.train_pipeline}})
replay_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='replay/train.txt',
    pipeline={{_base_.train_pipeline}})
oulu_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='oulu/train.txt',
    pipeline={{_base_.train_pipeline}})
celeb_train = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='celeb/train.txt',
    pipeline={{_base_.train_pipeline}})
# The first 5 live and 5 spoof frames as listed: the papers' 5 shots.
casia_shots = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='casia/train.txt',
    num_shots=5,
    pipeline={{_base_.train_pipeline}})
casia_test = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='casia/test.txt',
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
msu_shots = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='msu/train.txt',
    num_shots=5,
    pipeline={{_base_.train_pipeline}})
msu_test = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='msu/test.txt',
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
replay_shots = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='replay/train.txt',
    num_shots=5,
    pipeline={{_base_.train_pipeline}})
replay_test = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='replay/test.txt',
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
oulu_shots = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='oulu/train.txt',
    num_shots=5,
    pipeline={{_base_.train_pipeline}})
oulu_test = dict(
    type='FASFrameDataset',
    data_root=data_root,
    ann_file='oulu/test.txt',
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
