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

# Every domain's frame list read the same way; the domains differ by file.
train_set = dict(
    type='FASFrameDataset',
    data_root=data_root,
    pipeline={{_base_.train_pipeline}})
test_set = dict(
    type='FASFrameDataset',
    data_root=data_root,
    pipeline={{_base_.test_pipeline}},
    test_mode=True)
casia_train = dict(train_set, ann_file='casia/train.txt')
msu_train = dict(train_set, ann_file='msu/train.txt')
replay_train = dict(train_set, ann_file='replay/train.txt')
oulu_train = dict(train_set, ann_file='oulu/train.txt')
celeb_train = dict(train_set, ann_file='celeb/train.txt')
# The first 5 live and 5 spoof frames as listed: the papers' 5 shots.
casia_shots = dict(train_set, ann_file='casia/train.txt', num_shots=5)
casia_test = dict(test_set, ann_file='casia/test.txt')
msu_shots = dict(train_set, ann_file='msu/train.txt', num_shots=5)
msu_test = dict(test_set, ann_file='msu/test.txt')
replay_shots = dict(train_set, ann_file='replay/train.txt', num_shots=5)
replay_test = dict(test_set, ann_file='replay/test.txt')
oulu_shots = dict(train_set, ann_file='oulu/train.txt', num_shots=5)
oulu_test = dict(test_set, ann_file='oulu/test.txt')
