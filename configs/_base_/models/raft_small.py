# RAFT-S, the small RAFT of the paper (about 1M parameters): bottleneck
# encoders (features 128, context 96 + 64 channels), correlation radius 3, a
# 3x3-convolution GRU and bilinear (not convex) upsampling.
model = dict(
    type='RAFT',
    data_preprocessor=dict(
        type='FlowDataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=False),
    num_levels=4,
    radius=3,
    cxt_channels=64,
    h_channels=96,
    encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=128,
        net_type='Small',
        norm_cfg=dict(type='IN')),
    cxt_encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=160,
        net_type='Small',
        norm_cfg=dict(type='SyncBN')),
    decoder=dict(
        type='RAFTDecoder',
        net_type='Small',
        num_levels=4,
        radius=3,
        iters=12,
        corr_op_cfg=dict(type='CorrLookup', align_corners=True),
        gru_type='Conv',
        feat_channels=128,
        flow_loss=dict(type='SequenceLoss'),
        act_cfg=dict(type='ReLU')),
    freeze_bn=False,
    train_cfg=dict(),
    test_cfg=dict())
