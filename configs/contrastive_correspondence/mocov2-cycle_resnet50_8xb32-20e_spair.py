# Multi-level contrastive learning on SPair-71k: cycle pairs from SPair-71k's
# training split; matched with the paper's SPair layers, PCK per annotated box.
_base_ = ['./mocov2-cycle_resnet50_8xb32-20e_pfpascal.py']

model = dict(matcher=dict(layer_ids=(3, 5, 8, 14)))

train_dataloader = dict(dataset=dict(datasets=[
    {{_base_.moco_imagenet}},
    dict(type='SPairPairs', data_root='data/SPair-71k', split='trn',
         pipeline={{_base_.pair_train_pipeline}}),
]))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='SPairPairs', data_root='data/SPair-71k',
    split='val', pipeline={{_base_.pair_test_pipeline}}))
test_dataloader = dict(dataset=dict(
    _delete_=True, type='SPairPairs', data_root='data/SPair-71k',
    split='test', pipeline={{_base_.pair_test_pipeline}}))
val_evaluator = dict(threshold='bbox')
test_evaluator = dict(threshold='bbox')
