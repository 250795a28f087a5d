# Copyright (c) mmacs contributors. All rights reserved.
"""``score_reuse`` in a training run: the training step's scores equal the
scoring pass's on the same weights and inputs, a run scores the whole set
once and then only a rotating block, and the stored scores survive a
resume."""
import json

import pytest
import torch

from mmacs.coreset import ScoreRecorder
from mmacs.engine import QATRunner
from mmacs.testing import make_images
from tests.test_engine.test_coreset_hook_in_memory import image_cfg, prepared


@pytest.fixture
def images(tmp_path):
    return make_images(tmp_path / 'imgs', per_class=(12, 10, 10), size=8)


def reuse_cfg(work_dir, root, max_epochs=4, **coreset):
    cfg = image_cfg(work_dir, root, max_epochs=max_epochs)
    cfg.model.distill = dict(loss_weight=1.0)
    cfg.coreset.update(score_reuse=True, score_pool=0.5, **coreset)
    cfg.default_hooks.checkpoint.interval = 1
    return cfg


def read_log(work_dir):
    with open(work_dir / 'coreset_log.jsonl') as f:
        return [json.loads(line) for line in f]


def test_training_step_scores_equal_the_scoring_pass(tmp_path, images):
    runner, hook = prepared(reuse_cfg(tmp_path / 'w', images))
    model, scoring = runner.model, hook.scoring
    batch = next(iter(scoring.loader))
    # The scoring pass's view (clean) and mode (eval) ...
    model.eval()
    indices, expected, _ = scoring.score_batch(batch)
    # ... for the training step's loss on the same inputs.
    recorder = ScoreRecorder(scoring.scorer, with_teacher=True)
    model.score_recorder = recorder
    data = model.data_preprocessor(batch, False)
    losses = model(**data, mode='loss')
    model.score_recorder = None
    assert {'loss_cls', 'loss_kd'} <= set(losses)
    got_idx, got = recorder.gather()
    assert torch.equal(got_idx, indices)
    for key in ('evs', 'ds', 'label_prob'):
        assert torch.allclose(got[key], expected[key].float(), atol=1e-6)
    # Without the recorder the loss is unchanged.
    again = model(**data, mode='loss')
    for key in losses:
        assert torch.allclose(losses[key], again[key])


def test_a_run_scores_all_once_then_a_rotating_block(tmp_path, images):
    work = tmp_path / 'w'
    runner = QATRunner.from_cfg(reuse_cfg(work, images))
    runner.train()
    log = read_log(work)
    assert [r['epoch'] for r in log] == [0, 1, 2, 3]
    # 32 samples, coreset 8, score_pool 0.5: 16 per block.
    assert log[0]['scored'] == 32 and log[0]['reused'] == 0
    hook = [h for h in runner.hooks if hasattr(h, 'store')][0]
    blocks = [hook.selector.rotating_block(r) for r in (1, 2, 3)]
    for r, entry in zip((1, 2, 3), log[1:]):
        # The previous coreset comes from the training step; the pass
        # scores the rest of this round's block.
        assert entry['reused'] == 8
        assert 8 <= entry['scored'] <= 16
        assert entry['num_scored'] == 32  # all are candidates
    assert torch.equal(torch.cat(blocks[:2]).sort().values,
                       torch.arange(32))
    assert log[-1]['mean_score_age'] < 1.0
    assert hook.store.rounds.min() >= 1  # every score refreshed since 0


def test_a_block_start_run_scores_one_block_first(tmp_path, images):
    work = tmp_path / 'w'
    runner = QATRunner.from_cfg(
        reuse_cfg(work, images, max_epochs=3, reuse_start='block'))
    runner.train()
    log = read_log(work)
    hook = [h for h in runner.hooks if hasattr(h, 'store')][0]
    # Round 0 scores its block of 16 and selects 8 of them.
    assert log[0]['scored'] == 16 and log[0]['num_scored'] == 16
    assert log[0]['unscored'] == 16 and log[0]['mean_score_age'] == 0
    # Round 1 adds the other block (less the coreset the training step
    # scored): every sample holds a score from then on.
    assert log[1]['reused'] == 8 and log[1]['num_scored'] == 32
    assert log[1]['unscored'] == 0
    assert hook.store.complete()


@pytest.mark.parametrize('reuse', [True, False])
def test_teacher_first_scores_skip_the_students_first_pass(
        tmp_path, images, reuse):
    work = tmp_path / 'w'
    cfg = reuse_cfg(work, images, max_epochs=2, first_scores='teacher')
    cfg.coreset.score_reuse = reuse
    cfg.coreset.score_pool = 0.5 if reuse else 1.0
    runner = QATRunner.from_cfg(cfg)
    hook = [h for h in runner.hooks if hasattr(h, 'store')][0]
    students = []
    outputs = runner.model.adapter.outputs

    def spy(net, inputs):
        students.append(net is runner.model.student)
        return outputs(net, inputs)

    runner.model.adapter.outputs = spy
    runner.train()
    log = read_log(work)
    assert log[0]['teacher_as_student'] and log[0]['num_scored'] == 32
    assert 'teacher_as_student' not in log[1]
    assert hook.store.scores['evs'].isfinite().all()
    # The first scoring pass ran the teacher alone; the training steps and
    # the second pass ran the student.
    first = students[:4]  # 32 samples in batches of 8
    assert not any(first) and any(students[4:])


def test_resume_keeps_the_stored_scores(tmp_path, images):
    straight = tmp_path / 'straight'
    QATRunner.from_cfg(reuse_cfg(straight, images, max_epochs=3)).train()
    state = torch.load(straight / 'epoch_2.pth',
                       weights_only=False)['coreset']
    # The coreset trained on in epoch 1 was scored for round 2.
    assert int((state['score_rounds'] == 2).sum()) == 8
    assert torch.isfinite(state['scores']['evs']).all()
    cfg = reuse_cfg(straight, images, max_epochs=3)
    cfg.resume = True
    cfg.load_from = str(straight / 'epoch_2.pth')
    runner = QATRunner.from_cfg(cfg)
    runner.train()
    log = read_log(straight)
    assert [r['epoch'] for r in log] == [0, 1, 2]
    assert log[2]['reused'] == 8
