# What every classification config shares: mmacs's classification parts
# imported into mmdet's scope (they are opt-in: `import mmacs` registers
# detection only), top-1 / top-5 accuracy, epoch-based SGD (each config sets
# `max_epochs`, `train_cfg.max_epochs` / `val_interval` and its cosine
# `param_scheduler` from it), logs every 50 iterations, seed 0.
custom_imports = dict(
    imports=['mmacs.classification'], allow_failed_imports=False)
default_scope = 'mmdet'
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
train_cfg = dict(by_epoch=True)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
default_hooks = dict(logger=dict(type='LoggerHook', interval=50))
randomness = dict(seed=0)
