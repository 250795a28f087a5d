# QAT runtime for every mmacs QAT config: LSQ steps are initialised from
# training data before the first step (QATCalibrationHook) and trained
# without weight decay. Keys of its own only, so it sits beside mmdet bases
# (the config that uses it imports mmacs through `custom_imports`).
runner_type = 'QATRunner'
qat = dict(calibration_batches=8, step_decay_mult=0.0)
