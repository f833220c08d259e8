# The PF-WILLOW model of the paper: as the PF-PASCAL recipe, with the cycle
# loss on PF-WILLOW's own pairs and a ten times smaller weight (5e-5).
# PF-WILLOW ships one pair list, test_pairs.csv: the reference trains its cycle
# on it (only the images; the cycle uses no keypoint), so this does too.
_base_ = ['./mocov2-cycle_resnet50_8xb32-20e_pfpascal.py']

model = dict(cycle_weight=5e-5,
             matcher=dict(layer_ids=(2, 11, 12, 13, 14)))

pfwillow = dict(type='PFWillowPairs', data_root='data/PF-WILLOW')
train_dataloader = dict(dataset=dict(datasets=[
    {{_base_.moco_imagenet}},
    dict(pfwillow, pipeline={{_base_.pair_train_pipeline}}),
]))
test_dataloader = dict(dataset=dict(
    _delete_=True, pipeline={{_base_.pair_test_pipeline}}, **pfwillow))
test_evaluator = dict(threshold='keypoints')
# No validation split exists, and picking the best epoch by PCK on the test
# pairs would tune on the test set: train the 20 epochs, keep the last.
val_dataloader = None
val_evaluator = None
val_cfg = None
default_hooks = dict(checkpoint=dict(save_best=None))
