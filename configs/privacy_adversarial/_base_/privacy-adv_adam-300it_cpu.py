# What the embedded CPU-sized configs share: the two optim wrappers (Adam for
# the encoder + head and for the adversary), 300 iterations, and the
# post-hoc attacker evaluation as the test loop (children give its `attacker`
# decoder and `public_dataloader`).
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

optim_wrapper = dict(
    constructor='AdversarialOptimWrapperConstructor',
    encoder=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3)),
    adversary=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3)))
train_cfg = dict(by_epoch=False, max_iters=300, val_interval=300)
val_cfg = dict()
# tools/test.py reports the task metric and the reconstruction quality of a
# fresh attacker trained on the public data against the frozen encoder.
test_cfg = dict(type='AttackerTestLoop', iters=300, lr=2e-3)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=1))
randomness = dict(seed=0)
