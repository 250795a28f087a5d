# Copyright (c) mmacs contributors. All rights reserved.
import json
from unittest import mock

import pytest
import torch

from mmacs.coreset.policies import class_quotas
from mmacs.coreset.scoring import ScoringPass
from mmacs.engine import CoresetSelectionHook, QATRunner
from mmacs.testing.toy import toy_cfg


def run(cfg):
    runner = QATRunner.from_cfg(cfg)
    runner.train()
    return runner


def read_log(work_dir):
    with open(work_dir / 'coreset_log.jsonl') as f:
        return [json.loads(line) for line in f]


def hook_of(runner):
    return [h for h in runner.hooks if isinstance(h, CoresetSelectionHook)][0]


def test_runner_run_selects_logs_and_changes_coreset(tmp_path):
    runner = run(toy_cfg(tmp_path, max_epochs=4, noise_rate=0.2))
    log = read_log(tmp_path)
    assert [r['epoch'] for r in log] == [0, 1, 2, 3]
    assert all(r['num_selected'] == 24 for r in log)  # round(0.25 * 96)
    assert any(r['jaccard_prev'] < 1.0 for r in log[1:])
    assert log[0]['beta'] == 1.0 and log[3]['beta'] < log[1]['beta']
    for key in ('score', 'evs', 'ds', 'class_counts', 'score_seconds'):
        assert key in log[0]
    # beta = 1 at epoch 0: DS has no weight, the teacher is not run.
    assert log[0]['ds'] is None and log[0]['teacher_seconds'] == 0
    assert log[1]['ds'] is not None and log[1]['teacher_seconds'] > 0
    assert all(r['num_scored'] == 96 for r in log)
    assert log[0]['noisy_fraction_all'] == pytest.approx(19 / 96)
    assert sum(log[0]['class_counts'].values()) == 24
    # Each epoch trained on exactly the coreset: 24 samples = 3 batches.
    assert len(runner.train_dataloader) == 3
    # Class balance (the classification default): per-class quotas in
    # proportion to the (noisy) label counts, summing to 24.
    labels = torch.tensor([i for i, (_, n) in enumerate(
        sorted(log[0]['class_counts_all'].items())) for _ in range(n)])
    quotas = class_quotas(labels, 24)
    assert [log[0]['class_counts'][c] for c in ('a', 'b', 'c')] == [
        quotas[0], quotas[1], quotas[2]]


def test_resume_restores_indices_and_scores(tmp_path):
    first = run(toy_cfg(tmp_path, max_epochs=3, interval=2))
    hook = hook_of(first)
    saved = torch.load(tmp_path / 'epoch_3.pth')['coreset']
    assert torch.equal(saved['indices'], hook.indices)
    # Resume from the end of epoch 2 (0-based epochs 0, 1 done); epoch 2
    # is a selection epoch: the same model state gives the same scores and
    # the same coreset as in the uninterrupted run.
    cfg = toy_cfg(tmp_path, max_epochs=3, interval=2)
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'epoch_2.pth')
    before = [r for r in read_log(tmp_path) if r['epoch'] == 2]
    resumed = run(cfg)
    hook2 = hook_of(resumed)
    assert torch.equal(hook2.indices, hook.indices)
    assert torch.allclose(hook2.store.scores['combined'],
                          hook.store.scores['combined'])
    # The resumed run replaced the line of the selection it made again.
    after = [r for r in read_log(tmp_path) if r['epoch'] == 2]
    assert len(before) == len(after) == 1
    sel = before + after
    assert len(sel) == 2
    for key in ('mean', 'std', 'min', 'median', 'max'):
        assert sel[0]['score'][key] == pytest.approx(sel[1]['score'][key])
    assert sel[0]['score']['hist_counts'] == sel[1]['score']['hist_counts']


def test_resume_between_selections_keeps_coreset(tmp_path):
    run(toy_cfg(tmp_path, max_epochs=2, interval=4))
    ckpt = torch.load(tmp_path / 'epoch_1.pth')['coreset']
    cfg = toy_cfg(tmp_path, max_epochs=3, interval=4)
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'epoch_1.pth')
    with mock.patch.object(ScoringPass, 'score',
                           side_effect=AssertionError('rescored')):
        resumed = run(cfg)
    hook = hook_of(resumed)
    assert torch.equal(hook.indices, ckpt['indices'])
    assert torch.equal(hook.store.scores['combined'],
                       ckpt['scores']['combined'])
    assert torch.equal(hook.sampler.indices, ckpt['indices'])


def test_random_policy_does_not_score(tmp_path):
    with mock.patch.object(ScoringPass, 'score',
                           side_effect=AssertionError('scored')):
        run(toy_cfg(tmp_path, max_epochs=2, policy='random_dynamic'))
    log = read_log(tmp_path)
    assert len(log) == 2 and 'score' not in log[0]
    assert log[1]['jaccard_prev'] < 1.0


@pytest.mark.parametrize('kwargs, match', [
    (dict(interval=0), 'interval'),
    (dict(policy='best'), "'best'"),
    (dict(schedule='exp'), "'exp'"),
    (dict(score_batch_size=0), 'score_batch_size'),
    (dict(score_pool=0), 'score_pool'),
    (dict(score_pool=1.5), 'score_pool'),
])
def test_bad_hook_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CoresetSelectionHook(**kwargs)


def test_hook_without_coreset_sampler_is_an_error(tmp_path):
    cfg = toy_cfg(tmp_path)
    cfg.pop('coreset')
    cfg.custom_hooks = [dict(type='CoresetSelectionHook',
                             score_pipeline=[dict(type='PackToyInputs')])]
    with pytest.raises(TypeError, match='CoresetSampler'):
        run(cfg)


def test_class_balance_needs_single_labels(tmp_path):
    cfg = toy_cfg(tmp_path)
    with mock.patch('mmacs.testing.toy.ToyPointsDataset.get_cat_ids',
                    return_value=[0, 1]):
        with pytest.raises(ValueError, match='single label'):
            run(cfg)


def test_nan_scores_name_samples(tmp_path):
    cfg = toy_cfg(tmp_path)

    def nan_scorer(self, model, s_out, t_out, data_samples):
        evs = torch.zeros(len(data_samples))
        evs[0] = float('nan')
        return dict(evs=evs, ds=torch.zeros(len(data_samples)))

    with mock.patch('mmacs.coreset.scorers.SoftmaxScorer.__call__',
                    nan_scorer):
        with pytest.raises(ValueError, match='non-finite EVS'):
            run(cfg)


def test_score_pool_scores_a_fresh_pool_and_selects_within_it(tmp_path):
    scored = []
    original = ScoringPass.score

    def spy(self, pool=None, *args):
        scores, info = original(self, pool, *args)
        scored.append((pool.clone(), scores['evs'].clone()))
        return scores, info

    with mock.patch.object(ScoringPass, 'score', spy):
        runner = run(toy_cfg(tmp_path, max_epochs=2, fraction=0.25))
        hook = hook_of(runner)
    log = read_log(tmp_path)
    assert [r['num_scored'] for r in log] == [96, 96]
    scored.clear()
    cfg = toy_cfg(tmp_path / 'pool', max_epochs=3, fraction=0.25)
    cfg.coreset.score_pool = 0.5
    with mock.patch.object(ScoringPass, 'score', spy):
        runner = run(cfg)
        hook = hook_of(runner)
    log = read_log(tmp_path / 'pool')
    assert [r['num_scored'] for r in log] == [48, 48, 48]
    pools = [p for p, _ in scored]
    assert all(p.numel() == 48 for p in pools)
    assert not torch.equal(pools[0], pools[1])  # a fresh pool each round
    last_pool, evs = scored[-1]
    # Only the pool is scored; the coreset lies in it.
    outside = torch.ones(96, dtype=torch.bool)
    outside[last_pool] = False
    assert torch.isnan(evs[outside]).all()
    assert torch.isfinite(evs[last_pool]).all()
    assert set(hook.indices.tolist()) <= set(last_pool.tolist())
    assert hook.indices.numel() == 24


def test_score_pool_smaller_than_the_coreset_is_an_error(tmp_path):
    cfg = toy_cfg(tmp_path, fraction=0.5)
    cfg.coreset.score_pool = 0.25
    with pytest.raises(ValueError, match='score_pool=0.25'):
        run(cfg)


def test_selection_rule_reaches_the_policy_and_the_log(tmp_path):
    cfg = toy_cfg(tmp_path, max_epochs=2)
    cfg.coreset.selection = dict(type='mixed', share=0.5)
    runner = run(cfg)
    log = read_log(tmp_path)
    assert all(r['selection'] == dict(type='mixed', share=0.5) for r in log)
    hook = hook_of(runner)
    scores = hook.store.scores['combined']
    chosen = set(hook.indices.tolist())
    # Per class, half of the quota is the class's top scores, the rest is
    # drawn at random: the coreset is not the per-class top-k.
    labels = torch.tensor([c[0] for c in hook.selector.cat_ids])
    topk = set()
    for cls, quota in class_quotas(labels, 24).items():
        members = (labels == cls).nonzero().flatten()
        order = members[torch.sort(-scores[members], stable=True).indices]
        topk |= set(order[:quota].tolist())
        assert set(order[:round(quota * 0.5)].tolist()) <= chosen
    assert chosen != topk
    with pytest.raises(ValueError, match="'best'"):
        CoresetSelectionHook(selection='best')
