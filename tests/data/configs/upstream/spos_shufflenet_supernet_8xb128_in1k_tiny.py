# mmrazor's shipped SPOS ShuffleNetV2 supernet recipe (written for mmcls 1.x:
# `mmcls::` bases, `_scope_='mmcls'`), with only the class count shrunk.
_base_ = ['mmrazor::nas/mmcls/spos/spos_shufflenet_supernet_8xb128_in1k.py']

model = dict(
    architecture=dict(
        head=dict(num_classes=10, loss=dict(num_classes=10), topk=(1, ))))
