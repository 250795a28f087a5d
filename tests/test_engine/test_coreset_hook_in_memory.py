# Copyright (c) mmacs contributors. All rights reserved.
"""The scoring pass on the in-memory path (whole batches from the image
array, no per-sample pipeline) and the scoring view switch."""
import json
from itertools import islice

import pytest
import torch
from mmengine.config import Config

import mmacs.classification  # noqa: F401  (the classification components)
from mmacs.coreset.scoring import ArrayBatchLoader
from mmacs.engine import CoresetSelectionHook, QATRunner
from mmacs.testing import make_images

PIPELINE = [dict(type='LoadClsImage'), dict(type='PackClsInputs')]


def image_cfg(work_dir, root, in_memory=True, score_view='clean',
              max_epochs=2):
    augments = [dict(type='BatchRandomCropPad', padding=2),
                dict(type='BatchRandomFlip', prob=0.5)]
    dataset = dict(type='ImageFolderDataset', data_root=str(root),
                   pipeline=PIPELINE, in_memory=in_memory)
    return Config(
        dict(
            default_scope='mmdet',
            runner_type='QATRunner',
            model=dict(
                type='QATModel',
                model=dict(
                    type='ImageClassifier',
                    backbone=dict(type='CifarResNet', depth=20,
                                  num_classes=3),
                    data_preprocessor=dict(
                        type='ClsDataPreprocessor', mean=[128] * 3,
                        std=[64] * 3, batch_augments=augments)),
                weight_quant=dict(bits=4),
                act_quant=dict(bits=4, signed='auto')),
            work_dir=str(work_dir),
            train_dataloader=dict(
                batch_size=8, num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=True),
                dataset=dataset),
            test_dataloader=dict(
                batch_size=8, num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(dataset, in_memory=False)),
            test_cfg=dict(),
            test_evaluator=dict(type='Accuracy'),
            train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01,
                                              momentum=0.9)),
            qat=dict(calibration_batches=2),
            coreset=dict(fraction=0.25, interval=1, policy='acs',
                         score_view=score_view),
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=10),
                logger=dict(type='LoggerHook', interval=1)),
            randomness=dict(seed=0),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            log_level='WARNING'))


def prepared(cfg):
    """A runner whose student is calibrated and whose selection hook is
    set up, without training."""
    runner = QATRunner.from_cfg(cfg)
    runner.model.calibrate(islice(iter(runner.train_dataloader), 2))
    hook = [h for h in runner.hooks
            if isinstance(h, CoresetSelectionHook)][0]
    hook.before_train(runner)
    return runner, hook


@pytest.fixture
def images(tmp_path):
    return make_images(tmp_path / 'imgs', per_class=(12, 10, 10), size=8)


def test_in_memory_training_run_selects_each_epoch(tmp_path, images):
    runner = QATRunner.from_cfg(image_cfg(tmp_path / 'w', images))
    runner.train()
    with open(tmp_path / 'w' / 'coreset_log.jsonl') as f:
        log = [json.loads(line) for line in f]
    assert [r['epoch'] for r in log] == [0, 1]
    assert all(r['num_selected'] == 8 and r['num_scored'] == 32
               for r in log)
    # The scoring pass runs before the iteration timer starts its epoch,
    # so it is not logged as the first iteration's data time.
    names = [type(h).__name__ for h in runner.hooks]
    assert names.index('QATCalibrationHook') < names.index(
        'CoresetSelectionHook') < names.index('IterTimerHook')


def test_a_fresh_run_keeps_an_earlier_runs_log_apart(tmp_path, images):
    work = tmp_path / 'w'
    QATRunner.from_cfg(image_cfg(work, images, max_epochs=1)).train()
    first = (work / 'coreset_log.jsonl').read_text()
    QATRunner.from_cfg(image_cfg(work, images, max_epochs=2)).train()
    with open(work / 'coreset_log.jsonl') as f:
        assert [json.loads(line)['epoch'] for line in f] == [0, 1]
    (old, ) = work.glob('coreset_log-*.jsonl')
    assert old.read_text() == first


def test_in_memory_scores_equal_per_sample_scores(tmp_path, images,
                                                  monkeypatch):
    runner, hook = prepared(image_cfg(tmp_path / 'w', images))
    assert isinstance(hook.scoring.loader, ArrayBatchLoader)
    dataset = runner.train_dataloader.dataset
    # No sample goes through the per-sample pipeline.
    monkeypatch.setattr(type(dataset), 'prepare_data',
                        lambda self, idx: pytest.fail('per-sample load'))
    scores, _ = hook.scoring.score()
    evs, ds = scores['evs'], scores['ds']
    monkeypatch.undo()
    # The per-sample path (the test pipeline) over the same model.
    lazy_cfg = image_cfg(tmp_path / 'w2', images, in_memory=False)
    lazy_runner = QATRunner.from_cfg(lazy_cfg)
    lazy_runner.model.load_state_dict(runner.model.state_dict())
    lazy_hook = [h for h in lazy_runner.hooks
                 if isinstance(h, CoresetSelectionHook)][0]
    lazy_hook.before_train(lazy_runner)
    assert not isinstance(lazy_hook.scoring.loader, ArrayBatchLoader)
    scores2, _ = lazy_hook.scoring.score()
    evs2, ds2 = scores2['evs'], scores2['ds']
    assert evs.shape == (32, ) and torch.isfinite(evs).all()
    assert torch.allclose(evs, evs2, rtol=0, atol=1e-6)
    assert torch.allclose(ds, ds2, rtol=0, atol=1e-6)
    # A pool: the array loader scores exactly the pool.
    pool = torch.tensor([1, 5, 30])
    scores3, _ = hook.scoring.score(pool, with_teacher=False)
    evs3 = scores3['evs']
    assert scores3['ds'] is None and 'label_prob' not in scores3
    assert torch.isnan(evs3).sum() == 29
    assert torch.allclose(evs3[pool], evs[pool], rtol=0, atol=1e-6)


def test_score_view_train_augments_and_skips_the_cache(tmp_path, images):
    runner, hook = prepared(
        image_cfg(tmp_path / 'w', images, score_view='train'))
    assert hook.scoring.cache is None  # augmented inputs: no exact cache
    torch.manual_seed(0)
    scores_a, info = hook.scoring.score()
    evs_a = scores_a['evs']
    evs_b = hook.scoring.score()[0]['evs']
    assert info['teacher_cache_hits'] == 0
    assert not torch.allclose(evs_a, evs_b)  # new draws every pass
    clean_runner, clean_hook = prepared(image_cfg(tmp_path / 'c', images))
    clean_runner.model.load_state_dict(runner.model.state_dict())
    assert clean_hook.scoring.cache is not None
    evs_c = clean_hook.scoring.score()[0]['evs']
    evs_d = clean_hook.scoring.score()[0]['evs']
    assert torch.equal(evs_c, evs_d)  # the clean view is deterministic
    assert not torch.allclose(evs_a, evs_c)
    with pytest.raises(ValueError, match="'noisy'"):
        CoresetSelectionHook(score_view='noisy')


def test_teacher_filter_keeps_contradicted_labels_out(tmp_path, images):
    cfg = image_cfg(tmp_path / 'w', images)
    cfg.train_dataloader.dataset.label_noise = dict(
        mode='symmetric', rate=0.25, seed=0)
    # A threshold that the (random) teacher's probabilities straddle.
    runner, hook = prepared(cfg)
    scores, _ = hook.scoring.score_round(None, 1.0, need_teacher=True)
    assert scores['ds'] is not None  # the teacher ran at beta = 1
    min_prob = float(scores['label_prob'].median())
    cfg.coreset.teacher_filter = dict(min_prob=min_prob)
    runner = QATRunner.from_cfg(cfg)
    runner.train()
    hook = [h for h in runner.hooks
            if isinstance(h, CoresetSelectionHook)][0]
    with open(tmp_path / 'w' / 'coreset_log.jsonl') as f:
        log = [json.loads(line) for line in f]
    assert [r['epoch'] for r in log] == [0, 1]
    for r in log:
        info = r['teacher_filter']
        assert info['min_prob'] == min_prob and info['scored'] == 32
        assert 8 <= info['candidates'] < 32
        assert 'dropped_noisy_fraction' in info
    # The last coreset holds only samples the teacher supports.
    prob = hook.store.scores['label_prob']
    assert log[-1]['teacher_filter']['passed'] >= 8
    assert (prob[hook.indices] >= min_prob).all()


def test_teacher_filter_applies_to_score_based_policies_only():
    # A random policy selects among all samples (the filter is a config
    # default of the CIFAR bases, so switching the policy must work).
    hook = CoresetSelectionHook(policy='random_dynamic',
                                teacher_filter=dict(min_prob=0.2))
    assert hook.selector.teacher_filter is None
    hook = CoresetSelectionHook(policy='el2n',
                                teacher_filter=dict(min_prob=0.2))
    assert hook.selector.teacher_filter == dict(min_prob=0.2)
    with pytest.raises(ValueError, match='min_prob'):
        CoresetSelectionHook(teacher_filter=dict(min_prob=2))
