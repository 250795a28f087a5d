# Copyright (c) mmacs contributors. All rights reserved.
"""Score reuse: the rotating pool of the selector, the merge of fresh
scores into the stored ones, and the recorder of the training step's
scores against the scoring pass."""
import math
from types import SimpleNamespace

import pytest
import torch

from mmacs.coreset import ScoreRecorder, ScoreStore, build_scorer, merge_scores
from mmacs.tasks import DetectionTask
from tests.test_coreset.test_selector import scored, selector


class Sample:
    """A classification data sample: its index and label."""

    def __init__(self, idx, label):
        self.metainfo = dict(sample_idx=idx)
        self.gt_label = torch.tensor([label])


@pytest.mark.parametrize('pool', [0.3, 0.25, 0.5, 1.0])
def test_rotating_pool_scores_every_sample_once_per_cycle(pool):
    sel = selector(n=31, score_reuse=True, score_pool=pool)
    k = math.ceil(1 / pool)
    for start in (1, 4):  # any k consecutive rounds
        blocks = [sel.plan(r, 10, r, scored_coreset=True).pool
                  for r in range(start, start + k)]
        everything = torch.cat(blocks)
        assert torch.equal(everything.sort().values, torch.arange(31))
    # Near-equal blocks, and the cycle repeats.
    assert max(b.numel() for b in blocks) - min(
        b.numel() for b in blocks) <= 1
    assert torch.equal(sel.plan(1, 10, 1, True).pool,
                       sel.plan(1 + k, 10, 1 + k, True).pool)


def test_reuse_plan_scores_all_first_then_skips_fresh_samples():
    sel = selector(n=30, score_reuse=True, score_pool=0.5)
    first = sel.plan(0, 10, 0, scored_coreset=False)
    assert first.reuse and torch.equal(first.pool, torch.arange(30))
    block = sel.plan(1, 10, 1, scored_coreset=True).pool
    fresh = block[:3]
    plan = sel.plan(1, 10, 1, scored_coreset=True, fresh=fresh)
    assert torch.equal(plan.pool, block[3:])
    # The selection is among all samples, not only the refreshed ones.
    values = torch.arange(30, dtype=torch.float)
    outside = torch.tensor([i for i in range(30) if i not in block])
    values[outside] += 100
    chosen = sel.select(plan, scored(values)).indices
    assert set(chosen.tolist()) <= set(outside.tolist())
    # Without reuse, score_pool is a random pool the selection stays in.
    plain = selector(n=30, score_pool=0.5)
    plan = plain.plan(1, 10, 1, scored_coreset=True)
    assert set(plain.select(plan, scored(values, plan.pool)).indices
               .tolist()) <= set(plan.pool.tolist())


def test_block_start_scores_one_block_and_selects_among_the_scored():
    sel = selector(n=30, score_reuse=True, score_pool=0.25,
                   reuse_start='block', class_balance=False)
    first = sel.plan(0, 10, 0, scored_coreset=False)
    block = sel.rotating_block(0)
    assert torch.equal(first.pool, block) and block.numel() < 30
    # Unscored samples are never candidates, however the rest score.
    values = torch.full((30, ), float('nan'))
    values[block] = torch.arange(block.numel(), dtype=torch.float)
    chosen = sel.select(first, scored(values)).indices
    assert chosen.numel() == 6
    assert set(chosen.tolist()) <= set(block.tolist())
    # Later rounds refresh their own block, less what the training step
    # scored, even before every sample holds a score.
    fresh = sel.rotating_block(1)[:2]
    later = sel.plan(5, 10, 1, scored_coreset=False, fresh=fresh)
    assert torch.equal(later.pool, sel.rotating_block(1)[2:])
    # Once two blocks are scored both are candidates.
    values[sel.rotating_block(1)] = 100.0
    chosen = sel.select(later, scored(values)).indices
    assert set(chosen.tolist()) <= set(sel.rotating_block(1).tolist())


@pytest.mark.parametrize('reuse', [False, True])
def test_teacher_first_scores_stand_in_for_the_first_round_only(reuse):
    sel = selector(n=30, score_reuse=reuse, score_pool=0.5,
                   first_scores='teacher')
    assert sel.plan(0, 10, 0, scored_coreset=False).teacher_scores
    assert not sel.plan(5, 10, 1, scored_coreset=True).teacher_scores
    assert not selector(n=30).plan(0, 10, 0).teacher_scores
    # A policy that scores nothing has no scores to stand in for.
    assert not selector(policy='random_dynamic', first_scores='teacher'
                        ).plan(0, 10, 0).teacher_scores
    with pytest.raises(ValueError, match="'model'"):
        selector(first_scores='model')


@pytest.mark.parametrize('cfg, match', [
    (dict(reuse_start='half'), "'half'"),
    (dict(policy='el2n', reuse_start='block'), 'el2n'),
    (dict(score_reuse=False, reuse_start='block'), 'needs score_reuse'),
])
def test_bad_reuse_start_is_named(cfg, match):
    cfg = dict(dict(score_reuse=True, score_pool=0.5), **cfg)
    with pytest.raises(ValueError, match=match):
        selector(**cfg)


def test_block_start_needs_a_block_as_large_as_the_coreset():
    with pytest.raises(ValueError, match=r'score_pool=0\.1 \(3 samples'):
        selector(n=30, num_select=6, score_reuse=True, score_pool=0.1,
                 reuse_start='block')
    # Blocks of 10 samples into 4: the first holds 3, as many as the
    # coreset.
    assert selector(n=10, num_select=3, score_reuse=True, score_pool=0.3,
                    reuse_start='block').rotating_block(0).numel() == 3
    # The exact start scores all samples first: any pool will do.
    assert selector(n=30, num_select=6, score_reuse=True,
                    score_pool=0.1).num_blocks == 10


def test_reuse_needs_a_task_that_records_training_outputs():
    with pytest.raises(ValueError, match='score_reuse.*detection'):
        selector(task=DetectionTask(), score_reuse=True,
                 class_balance=False)
    with pytest.raises(TypeError, match='score_reuse'):
        selector(score_reuse=1)
    # A policy without scores has nothing to reuse.
    assert not selector(policy='random_dynamic',
                        score_reuse=True).score_reuse


def test_merge_keeps_old_scores_and_marks_the_round_of_new_ones():
    n = 6
    first, rounds = merge_scores(
        None, None,
        [(torch.arange(n), dict(evs=torch.arange(n).float(), ds=None))], 0,
        n)
    assert torch.equal(rounds, torch.zeros(n, dtype=torch.long))
    assert 'ds' not in first
    # A recorder's [M] values, then a pass's [N] values read at its pool
    # (NaN elsewhere); the later update wins.
    pass_evs = torch.full((n, ), float('nan'))
    pass_evs[[1, 4]] = torch.tensor([-1., -4.])
    merged, rounds = merge_scores(
        first, rounds,
        [(torch.tensor([1, 3]), dict(evs=torch.tensor([10., 30.]))),
         (torch.tensor([1, 4]), dict(evs=pass_evs, combined=pass_evs))],
        2, n)
    assert merged['evs'].tolist() == [0., -1., 2., 30., -4., 5.]
    assert rounds.tolist() == [0, 2, 0, 2, 2, 0]
    assert 'combined' not in merged
    assert first['evs'].tolist() == list(range(n))  # not modified
    with pytest.raises(ValueError, match=r'EVS.*\b3\b'):
        merge_scores(first, rounds,
                     [(torch.tensor([3]), dict(evs=torch.tensor([
                         float('nan')])))], 3, n)


def test_recorder_keeps_each_samples_last_record():
    rec = ScoreRecorder(build_scorer(None, 'classification'), False)

    logits = torch.tensor([[2., 0.], [0., 2.], [0., 0.]])
    rec(None, dict(logits=logits), None,
        [Sample(4, 0), Sample(1, 0), Sample(0, 1)])
    rec(None, dict(logits=logits[:1]), None, [Sample(1, 0)])
    idx, values = rec.gather()
    assert sorted(idx.tolist()) == [0, 1, 4]
    evs = dict(zip(idx.tolist(), values['evs'].tolist()))
    assert evs[1] == pytest.approx(evs[4])  # the second record of 1
    assert evs[0] == pytest.approx(math.sqrt(0.5))
    assert 'ds' not in values
    rec.clear()
    assert rec.gather()[0].numel() == 0


def values(*evs):
    """Scores as the classification scorer gives them with the teacher."""
    n = len(evs)
    return dict(evs=torch.tensor(evs), ds=torch.zeros(n),
                label_prob=torch.ones(n))


def test_store_dates_its_scores_and_loads_checkpoints_without_rounds():
    n = 4
    store = ScoreStore(reuse=True)
    model = SimpleNamespace(score_recorder=None)
    store.setup(model,
                SimpleNamespace(scorer=build_scorer(None, 'classification')),
                n)
    assert not store.complete() and store.fresh(0) is None
    store.record(torch.tensor([0, 2]), values(1., 3.), 1)
    assert not store.complete()  # samples 1 and 3 have no score yet
    store.record(torch.tensor([1, 3]), values(2., 4.), 2)
    assert store.complete()
    assert store.fresh(2).tolist() == [1, 3]
    # The training step's records, collected as the next round's.
    store.collect(3)  # not listening: nothing changes
    assert store.rounds.tolist() == [1, 2, 1, 2]
    store.listen()
    logits = dict(logits=torch.tensor([[0., 0.]]))
    model.score_recorder(None, logits, lambda: logits, [Sample(2, 1)])
    store.collect(3)
    assert model.score_recorder is None
    assert store.rounds.tolist() == [1, 2, 3, 2]
    assert store.scores['evs'][2] == pytest.approx(math.sqrt(0.5))
    assert store.scores['ds'][2] == pytest.approx(0.)  # same outputs
    state = store.state_dict()
    assert set(state) == {'scores', 'score_rounds'}
    # A checkpoint saved before score_reuse has no rounds: the scores load
    # and are not complete for reuse (the next round scores all samples).
    old = ScoreStore(reuse=True)
    old.load_state_dict(dict(scores=state['scores']))
    assert old.rounds is None and not old.complete()
    assert torch.equal(old.scores['evs'], store.scores['evs'])
    plain = ScoreStore(reuse=False)
    plain.load_state_dict(dict(scores=state['scores']))
    assert plain.complete()
