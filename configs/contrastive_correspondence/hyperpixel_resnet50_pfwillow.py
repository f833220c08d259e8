# Keypoint transfer on PF-WILLOW (PCK per keypoint bounding box).
_base_ = ['./mocov2-cycle-lw5e-5_resnet50_8xb32-20e_pfpascal.py']

load_from = None
model = dict(matcher=dict(layer_ids=(2, 11, 12, 13, 14)))
test_dataloader = dict(dataset=dict(
    _delete_=True, type='PFWillowPairs', data_root='data/PF-WILLOW',
    pipeline={{_base_.pair_test_pipeline}}))
test_evaluator = dict(threshold='keypoints')
