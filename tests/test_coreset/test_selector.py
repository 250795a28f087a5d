# Copyright (c) mmacs contributors. All rights reserved.
"""The coreset selector: one checked config, a plan per round, a selection
from the scores."""
import dataclasses
from types import SimpleNamespace

import pytest
import torch

from mmacs.coreset import CoresetSelector, select_coreset
from mmacs.coreset.policies import class_quotas
from mmacs.tasks import ClassificationTask, DetectionTask


class _Labelled:
    """A dataset of ``n`` samples with one label each (``i % 3``)."""

    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self, n=30, noisy=None):
        self.n = n
        self.noisy_indices = noisy

    def __len__(self):
        return self.n

    def get_cat_ids(self, idx):
        return [idx % 3]


def selector(n=30, num_select=6, seed=3, task=None, dataset=None, **cfg):
    sel = CoresetSelector(**cfg)
    sel.setup(dataset or _Labelled(n),
              SimpleNamespace(num_select=num_select, seed=seed),
              task or ClassificationTask())
    return sel


def scored(values, pool=None):
    """Scores as the scoring pass gives them: NaN outside ``pool``."""
    combined = torch.as_tensor(values, dtype=torch.float)
    if pool is not None:
        outside = torch.ones_like(combined, dtype=torch.bool)
        outside[pool] = False
        combined[outside] = float('nan')
    return dict(combined=combined, evs=combined, ds=None)


@pytest.mark.parametrize('cfg, match', [
    (dict(policy='best'), "'best'"),
    (dict(schedule='exp'), "'exp'"),
    (dict(selection='best'), "'best'"),
    (dict(selection=dict(type='mixed', share=2)), 'share'),
    (dict(score_pool=0), 'score_pool'),
    (dict(score_pool=1.5), 'score_pool'),
    (dict(teacher_filter=dict(min_prob=2)), 'min_prob'),
])
def test_bad_config_is_named_once_at_build(cfg, match):
    with pytest.raises(ValueError, match=match):
        CoresetSelector(**cfg)


def test_policies_declare_what_they_need():
    assert CoresetSelector('acs').needs_scores
    assert not CoresetSelector('random_dynamic').needs_scores
    # The filter (a config default) does not apply to a policy that scores
    # nothing.
    assert CoresetSelector('random_static',
                           teacher_filter=dict(drop=0.1)).teacher_filter \
        is None
    assert CoresetSelector('el2n').schedule == 'evs_only'


def test_setup_reads_the_task_and_the_sampler():
    sel = selector()
    assert sel.num_select == 6 and sel.seed == 3
    assert sel.labels.tolist() == [i % 3 for i in range(30)]  # balanced
    det = selector(task=DetectionTask())
    assert det.labels is None  # detection: no class balance by default
    with pytest.raises(ValueError, match='classification only'):
        selector(task=DetectionTask(), teacher_filter=dict(min_prob=0.2))
    with pytest.raises(ValueError, match='score_pool=0.1'):
        selector(num_select=6, score_pool=0.1)
    # A policy that scores nothing has no pool to check.
    selector(num_select=6, score_pool=0.1, policy='random_dynamic')


def test_plan_says_when_to_score_and_what():
    acs = selector()
    first = acs.plan(0, 10, 0)
    assert first.score and first.select and first.beta == 1.0
    assert torch.equal(first.pool, torch.arange(30))
    assert acs.plan(5, 10, 5, scored_coreset=True).score
    el2n = selector(policy='el2n')
    kept = el2n.plan(5, 10, 5, scored_coreset=True)
    assert not kept.score and not kept.select and kept.beta == 1.0
    rand = selector(policy='random_dynamic').plan(4, 10, 2)
    assert not rand.score and rand.select and rand.pool is None


def test_pools_are_seeded_fresh_each_round_and_hold_the_coreset():
    sel = selector(n=100, num_select=10, score_pool=0.3)
    pools = [sel.plan(r, 10, r).pool for r in range(3)]
    assert all(p.numel() == 30 and torch.equal(p, p.sort().values)
               for p in pools)
    assert not torch.equal(pools[0], pools[1])
    assert torch.equal(pools[1], sel.plan(1, 10, 1).pool)  # reproducible
    other = selector(n=100, num_select=10, score_pool=0.3, seed=4)
    assert not torch.equal(other.plan(0, 10, 0).pool, pools[0])
    values = torch.rand(100, generator=torch.Generator().manual_seed(0))
    plan = sel.plan(0, 10, 0)
    out = sel.select(plan, scored(values, plan.pool))
    assert set(out.indices.tolist()) <= set(plan.pool.tolist())
    assert out.stats['num_scored'] == 30


def test_select_in_a_pool_takes_the_pools_top_scores():
    # The scores outside the pool are NaN by design and never read.
    sel = selector(n=30, num_select=2, class_balance=False)
    pool = torch.tensor([2, 5, 9, 17, 21, 28])
    values = torch.zeros(30)
    values[pool] = torch.tensor([0.1, 0.9, 0.4, 0.3, 0.8, 0.2])
    plan = sel.plan(0, 10, 0)
    plan = dataclasses.replace(plan, pool=pool)
    assert sel.select(plan, scored(values, pool)).indices.tolist() == [5, 21]


def test_selection_equals_the_functional_policies():
    # One seed derivation: a run's draws are those of select_coreset.
    values = torch.rand(30, generator=torch.Generator().manual_seed(1))
    for policy, selection in (('acs', 'topk'), ('acs', 'sampled'),
                              ('random_static', None),
                              ('random_dynamic', None)):
        sel = selector(policy=policy, selection=selection)
        plan = sel.plan(4, 10, 2)
        got = sel.select(plan, scored(values) if plan.score else None)
        labels = torch.arange(30) % 3
        ref = select_coreset(policy, 30, 6, values, labels, seed=3,
                             round_idx=2, selection=selection)
        assert torch.equal(got.indices, ref), policy
        assert got.beta == plan.beta


def test_class_balance_and_the_record():
    sel = selector(n=30, num_select=7)
    plan = sel.plan(0, 10, 0)
    values = torch.arange(30, dtype=torch.float)
    out = sel.select(plan, scored(values))
    counts = torch.bincount(out.indices % 3, minlength=3).tolist()
    quotas = class_quotas(torch.arange(30) % 3, 7)
    assert counts == [quotas[0], quotas[1], quotas[2]]
    stats = out.stats
    assert stats['num_selected'] == 7 and stats['selection'] == dict(
        type='topk')
    assert stats['epoch'] == 0 and stats['policy'] == 'acs'
    assert 'score' in stats and 'teacher_filter' not in stats
    # A static policy's later round keeps the coreset and logs no scores.
    el2n = selector(n=30, num_select=7, policy='el2n')
    first = el2n.select(el2n.plan(0, 10, 0), scored(values))
    later = el2n.select(el2n.plan(2, 10, 1, scored_coreset=True), None,
                        first.indices)
    assert torch.equal(later.indices, first.indices)
    assert later.stats['jaccard_prev'] == 1.0 and 'score' not in later.stats


def test_teacher_filter_keeps_what_the_teacher_supports():
    sel = selector(n=30, num_select=4, dataset=_Labelled(30, noisy=[0, 1]),
                   teacher_filter=dict(min_prob=0.5), class_balance=False)
    values = torch.arange(30, dtype=torch.float)  # top-k: 26..29
    prob = torch.ones(30)
    prob[[27, 29]] = 0.1  # the teacher contradicts two of them
    plan = sel.plan(0, 10, 0)
    assert plan.with_teacher
    out = sel.select(plan, dict(scored(values), label_prob=prob))
    assert out.indices.tolist() == [24, 25, 26, 28]
    assert out.filtered['passed'] == 28 and out.filtered['scored'] == 30
    assert out.stats['teacher_filter'] == out.filtered
    # Detection: the teacher fits an image as its loss is low.
    det = selector(n=30, num_select=4, task=DetectionTask(),
                   teacher_filter=dict(drop=0.1))
    loss = torch.zeros(30)
    loss[[26, 29]] = 5.0
    out = det.select(det.plan(0, 10, 0),
                     dict(scored(values), teacher_loss=loss))
    # ceil(0.1 * 30) = 3 dropped: 26, 29 and, of the tie at 0, the higher
    # index 28.
    assert out.indices.tolist() == [23, 24, 25, 27]
