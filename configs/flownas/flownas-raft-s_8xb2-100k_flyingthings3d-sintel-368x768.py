# FlowNAS-RAFT-S (found by the search on Sintel clean): RAFT whose feature
# and context encoders have this FlowNAS architecture,
# trained on RAFT's Sintel fine-tuning recipe.
_base_ = ['../raft/raft_8xb2-100k_flyingthings3d-sintel-368x768.py']

custom_imports = dict(
    imports=['mmext', 'mmext.razor.flownas'], allow_failed_imports=False)

flownas_raft_s = dict(
    widths=[64, 72, 96, 104, 120, 136],
    depths=[2, 2, 2, 1, 2, 1],
    kernel_sizes=[3, 3, 5, 3, 5, 5],
    expand_ratios=[1, 2, 5, 5, 6, 6])
encoder_init = dict(
    type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu')
model = dict(
    encoder=dict(
        _delete_=True,
        type='FlowNASEncoder',
        in_channels=3,
        out_channels=256,
        norm_cfg=dict(type='IN'),
        init_cfg=encoder_init,
        **flownas_raft_s),
    cxt_encoder=dict(
        _delete_=True,
        type='FlowNASEncoder',
        in_channels=3,
        out_channels=256,
        norm_cfg=dict(type='SyncBN'),
        init_cfg=encoder_init,
        **flownas_raft_s))

load_from = 'work_dirs/flownas-raft-s_8xb2-100k_flyingthings3d-400x720/iter_100000.pth'  # noqa
