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
wmca_train = dict(train_set, ann_file='wmca/train.txt')
cefa_train = dict(train_set, ann_file='cefa/train.txt')
surf_train = dict(train_set, ann_file='surf/train.txt')
celeb_train = dict(train_set, ann_file='celeb/train.txt')
# The first 5 live and 5 spoof frames as listed: the papers' 5 shots.
wmca_shots = dict(train_set, ann_file='wmca/train.txt', num_shots=5)
wmca_test = dict(test_set, ann_file='wmca/test.txt')
cefa_shots = dict(train_set, ann_file='cefa/train.txt', num_shots=5)
cefa_test = dict(test_set, ann_file='cefa/test.txt')
surf_shots = dict(train_set, ann_file='surf/train.txt', num_shots=5)
surf_test = dict(test_set, ann_file='surf/test.txt')
