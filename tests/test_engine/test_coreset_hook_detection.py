# Copyright (c) mmacs contributors. All rights reserved.
"""Detection-aware selection in the real QATRunner, on synthetic shapes."""
import json

import torch

from mmacs.engine import CoresetSelectionHook
from mmacs.testing import load_tool

demo = load_tool('demo')


def tiny_run(data_root, work_dir, epochs, **coreset):
    args = demo.parse_args(['--data-root', data_root])
    cfg = demo.load_cfg(demo.QAT_CONFIGS['acs_noisy'], args, str(work_dir))
    cfg.model.float_checkpoint = None
    cfg.qat.calibration_batches = 1
    cfg.coreset.update(fraction=0.5, **coreset)
    cfg.train_dataloader.batch_size = 4
    demo.set_epochs(cfg, epochs)
    runner = demo.build_runner(cfg)
    runner.train()
    with open(work_dir / 'coreset_log.jsonl') as f:
        log = [json.loads(line) for line in f]
    hook = [h for h in runner.hooks
            if isinstance(h, CoresetSelectionHook)][0]
    return log, hook


def test_kcenter_on_object_scores(shapes_root, tmp_path):
    log, hook = tiny_run(shapes_root, tmp_path, 2,
                         scorer=dict(type='object_loss', pool='max'),
                         selection=dict(type='kcenter', score_weight=1.0))
    assert [r['num_selected'] for r in log] == [8, 8]
    assert log[0]['selection'] == dict(type='kcenter', score_weight=1.0)
    # The embedding is the teacher's: it runs at beta = 1 too, and its
    # outputs (the embedding with them) come from the cache after.
    assert log[0]['teacher_seconds'] > 0 and log[0]['ds'] is not None
    assert log[1]['teacher_cache_hits'] == 16
    emb = hook.store.scores['embedding']
    assert emb.shape[0] == 16 and torch.isfinite(emb).all()
    assert emb.shape[1] == sum(
        hook.scoring.model.teacher.neck.out_channels
        for _ in range(hook.scoring.model.teacher.neck.num_outs))


def test_class_aware_covers_every_class(shapes_root, tmp_path):
    log, hook = tiny_run(shapes_root, tmp_path, 1,
                         selection=dict(type='class_aware', power=0.0,
                                        floor=2))
    record = log[0]
    assert record['num_selected'] == 8
    holds = hook.selector.image_classes
    chosen = hook.indices
    # Every class (on its noisy boxes) is in at least min(2, its images).
    for c in range(holds.shape[1]):
        assert int(holds[chosen, c].sum()) >= min(2, int(holds[:, c].sum()))
