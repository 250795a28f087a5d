# Copyright (c) mmacs contributors. All rights reserved.
"""The benchmark scripts run end to end in their --quick modes and print
their results as one JSON object on the last line. (Their figures are read
from their own runs, not asserted here: timings are not unit-testable.)"""
import hashlib
import json
import os

import pytest
import torch

from mmacs.testing import (CIFAR_JPEG, REPO, SHARED, WEIGHTS, load_tool,
                           need_shared)


def last_json(capsys) -> dict:
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def test_overhead_benchmark_splits_phases(tmp_path, capsys):
    tool = load_tool('benchmarks/overhead')
    out = tmp_path / 'overhead_quick.json'
    result = tool.main(['--quick', '--tasks', 'retinanet', '--work-dir',
                        str(tmp_path), '--out', str(out)])
    assert last_json(capsys) == json.loads(json.dumps(result))
    task = result['tasks']['retinanet']
    assert result['acs_over_random'] == task['acs_over_random'] > 0
    runs = task['runs']
    # 4 epochs, R = 2: two selections; random policies never score.
    assert runs['random_dynamic_first']['score_seconds'] < 0.01
    assert runs['random_dynamic_last']['score_seconds'] < 0.01
    assert len(runs['acs']['score_seconds_per_round']) == 2
    assert all(s > 0 for s in runs['acs']['score_seconds_per_round'])
    # beta = 1 in the first round: the teacher runs only in the second.
    teacher = runs['acs']['teacher_seconds_per_round']
    assert teacher[0] == 0 and teacher[1] > 0
    for run in runs.values():
        assert run['loop_seconds'] == pytest.approx(
            run['train_seconds'] + run['score_seconds'] +
            run['select_seconds'])
    ablation = task['scoring_pass_ablation_ms_per_sample']
    assert len(ablation) == 7 and all(s > 0 for s in ablation.values())
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert result['device'] == expected and result['device_name']
    # --out keeps the result; its page (report.py) holds the same ratios.
    (title, page), = tool.pages([str(out)]).values()
    assert 'overhead_quick.json' in title
    assert f"**{task['acs_over_random']:.2f}**" in page
    assert f"**{task['acs_pool_over_random']:.2f}**" in page
    assert all(name in page for name in ablation)


def test_overhead_benchmark_checks_the_device():
    tool = load_tool('benchmarks/overhead')
    with pytest.raises(ValueError, match="got 'gpu'"):
        tool.select_device('gpu')
    if not torch.cuda.is_available():
        assert tool.select_device('auto') == 'cpu'
        with pytest.raises(RuntimeError, match='no CUDA device'):
            tool.select_device('cuda')


def test_quality_protocol_reports_spread_and_resumes(tmp_path, capsys):
    need_shared(CIFAR_JPEG)
    need_shared(WEIGHTS / 'resnet20-12fca82f.th')
    tool = load_tool('benchmarks/quality')
    out = tmp_path / 'quality.json'
    common = ['--quick', '--settings', 'w2a32', '--teacher', 'shared',
              '--work-dir', str(tmp_path), '--out', str(out)]
    args = common + ['--policies', 'acs', 'random_static', '--seeds', '0',
                     '1']
    result = tool.main(args)
    assert last_json(capsys) == json.loads(json.dumps(result))
    summary = result['summary']['w2a32']
    assert set(summary) == {'acs', 'random_static'}
    for policy, stats in summary.items():
        runs = [r for r in result['runs'] if r['policy'] == policy]
        accs = [r['top1'] for r in runs]
        assert len(accs) == 2 and all(0 <= a <= 100 for a in accs)
        assert stats['min'] <= stats['mean'] <= stats['max']
        assert stats['mean'] == pytest.approx(sum(accs) / 2)
        assert all(r['train_seconds'] > 0 for r in runs)
    # ACS scores every round (2 epochs, R = 1); random never does.
    assert all(r['score_seconds'] > 0 for r in result['runs']
               if r['policy'] == 'acs')
    assert all(r['score_seconds'] < 0.01 for r in result['runs']
               if r['policy'] != 'acs')
    assert len(json.loads(out.read_text())['runs']) == 4
    # Each run names the teacher checkpoint it started from.
    digest = hashlib.sha256(
        (WEIGHTS / 'resnet20-12fca82f.th').read_bytes()).hexdigest()[:12]
    assert {r['teacher_digest'] for r in result['runs']} == {digest}
    # A second call with the same recipe trains nothing: all from the file.
    again = tool.main(args)
    assert again['runs'] == result['runs']
    assert capsys.readouterr().out.count(f'from {out}') == 4
    # Another recipe (distillation on) is a new row; the stored runs stay.
    # `full` trains round(f x epochs), at least 1, epochs on all the data.
    extra = tool.main(common + ['--policies', 'full', '--seeds', '0',
                                '--distill', '1.0'])
    assert extra['runs'][0]['epochs_run'] == 1
    stored = json.loads(out.read_text())
    assert len(stored['runs']) == 5
    assert stored['runs'][-1]['recipe']['distill'] == 1.0
    assert extra['runs'][0]['noisy_fraction'] == []
    # Label noise on the training images: each run reports the noisy share
    # of every coreset next to the share in the whole set.
    noisy = tool.main(common + ['--policies', 'random_static', '--seeds',
                                '0', '--label-noise', '0.2'])['runs'][0]
    assert 0.15 < noisy['noisy_fraction_all'] < 0.25
    assert len(noisy['noisy_fraction']) == 2
    assert all(0 <= f <= 1 for f in noisy['noisy_fraction'])
    # --report trains nothing and names each recipe that differs.
    capsys.readouterr()
    report = tool.main(['--report', '--quick', '--teacher', 'shared',
                        '--out', str(out)])['summary']['w2a32']
    assert set(report) == {'acs', 'random_static', 'full distill=1.0',
                           'random_static label_noise=0.2'}
    assert report['acs']['seeds'] == [0, 1]
    assert report['random_static label_noise=0.2'][
        'noisy_fraction_mean'] == pytest.approx(
            sum(noisy['noisy_fraction']) / 2)
    assert 'random_static label_noise=0.2' in capsys.readouterr().out


class Interrupted(Exception):
    pass


def dying_clock(clock, dies=lambda work_dir: True):
    """``protocol.epoch_clock`` whose hook raises Interrupted after
    recording the first epoch of a run whose work dir ``dies``."""
    def make(work_dir, start):
        hook = clock(work_dir, start)
        record = hook.after_train_epoch

        def after_train_epoch(runner):
            record(runner)
            if dies(work_dir):
                raise Interrupted

        hook.after_train_epoch = after_train_epoch
        return hook

    return make


def test_quality_protocol_resumes_an_interrupted_run(tmp_path, monkeypatch):
    """A run killed after its first epoch's checkpoint finishes from it on
    the next call, with the top-1 of a run never interrupted."""
    need_shared(CIFAR_JPEG)
    need_shared(WEIGHTS / 'resnet20-12fca82f.th')
    tool = load_tool('benchmarks/quality')
    args = ['--quick', '--settings', 'w2a32', '--policies', 'acs',
            '--seeds', '0', '--checkpoint-every', '1', '--teacher', 'shared']
    whole = tool.main(args + ['--work-dir', str(tmp_path / 'whole')])
    assert whole['runs'][0]['resumed_from_epoch'] == 0

    clock = tool.protocol.epoch_clock
    work_dir = tmp_path / 'cut'
    monkeypatch.setattr(tool.protocol, 'epoch_clock', dying_clock(clock))
    with pytest.raises(Interrupted):
        tool.main(args + ['--work-dir', str(work_dir)])
    assert not (work_dir / 'quality.json').exists()  # no run finished
    monkeypatch.setattr(tool.protocol, 'epoch_clock', clock)
    run = tool.main(args + ['--work-dir', str(work_dir)])['runs'][0]
    assert run['resumed_from_epoch'] == 1
    assert run['top1'] == whole['runs'][0]['top1']
    # Both selections (epochs 0 and 1) are counted once.
    assert len(run['jaccard_prev']) == len(whole['runs'][0]['jaccard_prev'])
    # The wall time adds the first process's epoch to the second's.
    (run_dir, ) = [d for d in work_dir.iterdir() if d.name.startswith('w2a32')]
    elapsed = json.loads((run_dir / 'clock.json').read_text())
    assert set(elapsed) == {'1', '2'}
    assert run['wall_seconds'] > elapsed['1'] > 0


def test_quality_protocol_rejects_a_foreign_results_file(tmp_path):
    tool = load_tool('benchmarks/quality')
    bad = tmp_path / 'bad.json'
    bad.write_text('[1, 2]')
    with pytest.raises(ValueError, match='bad.json'):
        tool.protocol.load_results(str(bad))
    with pytest.raises(SystemExit):
        tool.parse_args(['--selection', '{not json'])
    with pytest.raises(SystemExit):
        tool.parse_args(['--label-noise', '1.0'])
    # The pool must hold the coreset, checked only where a pool is scored:
    # 30 epochs of full-data QAT is `full` at f = 1.
    with pytest.raises(SystemExit):
        tool.parse_args(['--policies', 'acs_pool', '--fraction', '0.5'])
    assert tool.parse_args(['--policies', 'full', '--fraction',
                            '1']).fraction == 1.0


def quality_tool(tmp_path):
    """The protocol's module and the options of a --quick run on the
    shared CIFAR images (skips without them)."""
    need_shared(CIFAR_JPEG)
    need_shared(WEIGHTS / 'resnet20-12fca82f.th')
    tool = load_tool('benchmarks/quality')
    return tool, ['--quick', '--shared', str(SHARED), '--work-dir',
                  str(tmp_path), '--teacher', 'shared']


def test_quality_protocol_pins_the_selection_rule(tmp_path):
    # No --selection is the paper's top-k whatever the config's default,
    # so stored runs keep their meaning when a config default changes.
    tool, common = quality_tool(tmp_path)
    args = tool.parse_args(common)
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, args, str(tmp_path))
    assert cfg.coreset.selection == 'topk'
    args = tool.parse_args(common +
                           ['--selection', '{"type": "stratified"}'])
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, args, str(tmp_path))
    assert cfg.coreset.selection == dict(type='stratified')


def test_quality_protocol_pins_the_step_init_and_the_teacher_filter(
        tmp_path):
    tool, common = quality_tool(tmp_path)
    cfg, _ = tool.build_cfg('w2a2', 'acs', 0, tool.parse_args(common),
                            str(tmp_path))
    assert cfg.model.weight_quant == dict(bits=2, init='lsq')
    assert cfg.model.act_quant == dict(bits=2, signed='auto', init='lsq')
    # The config's default (a filter) does not reach the protocol's runs.
    assert cfg.coreset.teacher_filter is None
    args = tool.parse_args(common +
                           ['--step-init', 'mse', '--teacher-filter', '0.05'])
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, args, str(tmp_path))
    assert cfg.model.weight_quant == dict(bits=2, init='mse')
    assert cfg.coreset.teacher_filter == dict(min_prob=0.05)
    # The random baselines score nothing: no filter.
    cfg, _ = tool.build_cfg('w2a32', 'random_dynamic', 0, args,
                            str(tmp_path))
    assert cfg.coreset.teacher_filter is None
    with pytest.raises(SystemExit):
        tool.parse_args(['--teacher-filter', '1'])


def test_quality_protocol_selects_per_class_or_globally(tmp_path):
    tool, common = quality_tool(tmp_path)
    per_class = tool.parse_args(common)
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, per_class, str(tmp_path))
    assert cfg.coreset.class_balance is True
    glob = tool.parse_args(common + ['--global-selection'])
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, glob, str(tmp_path))
    assert cfg.coreset.class_balance is False
    # A key added later names a run's directory only when it is not at the
    # value runs had before it: a run started then finds its checkpoint.
    recipe = tool.recipe_of(per_class)
    before = {k: v for k, v in recipe.items()
              if k not in ('class_balance', 'teacher', 'eval_split',
                           'score_reuse', 'reuse_start', 'first_scores')}
    digest = hashlib.sha1(
        json.dumps(before, sort_keys=True).encode()).hexdigest()[:10]
    assert tool.run_dir_name('w2a2', 'acs', 1, recipe) == \
        f'w2a2_acs_seed1_{digest}'
    assert tool.run_dir_name('w2a2', 'acs', 1, tool.recipe_of(glob)) != \
        tool.run_dir_name('w2a2', 'acs', 1, recipe)


def test_quality_protocol_passes_score_reuse(tmp_path):
    tool, common = quality_tool(tmp_path)
    args = tool.parse_args(common + ['--score-reuse', '0.25'])
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, args, str(tmp_path))
    assert cfg.coreset.score_reuse is True
    assert cfg.coreset.score_pool == 0.25
    assert cfg.coreset.reuse_start == 'all'
    block = tool.parse_args(common + ['--score-reuse', '0.25',
                                      '--reuse-start', 'block'])
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, block, str(tmp_path))
    assert cfg.coreset.reuse_start == 'block'
    # el2n scores once: it starts from the whole set.
    cfg, _ = tool.build_cfg('w2a32', 'el2n', 0, block, str(tmp_path))
    assert cfg.coreset.reuse_start == 'all'
    assert tool.run_dir_name('w2a2', 'acs', 1, tool.recipe_of(block)) != \
        tool.run_dir_name('w2a2', 'acs', 1, tool.recipe_of(args))
    assert cfg.coreset.first_scores == 'student'
    proxy = tool.parse_args(common + ['--first-scores', 'teacher'])
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, proxy, str(tmp_path))
    assert cfg.coreset.first_scores == 'teacher'
    assert tool.recipe_of(proxy)['first_scores'] == 'teacher'
    with pytest.raises(SystemExit):
        tool.parse_args(common + ['--reuse-start', 'block'])
    off = tool.parse_args(common)
    cfg, _ = tool.build_cfg('w2a32', 'acs', 0, off, str(tmp_path))
    assert not cfg.coreset.get('score_reuse', False)
    assert tool.run_dir_name('w2a2', 'acs', 1, tool.recipe_of(args)) != \
        tool.run_dir_name('w2a2', 'acs', 1, tool.recipe_of(off))
    with pytest.raises(SystemExit):
        tool.parse_args(['--score-reuse', '2'])


def test_quality_protocol_merges_parallel_results(tmp_path):
    tool = load_tool('benchmarks/quality')
    recipe = tool.recipe_of(tool.parse_args(['--quick']))

    def run(seed, top1, **changes):
        return dict(setting='w2a32', policy='acs', seed=seed, top1=top1,
                    recipe=dict(recipe, **changes))

    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    tool.protocol.save_results(str(a), dict(runs=[run(0, 50.0)]))
    tool.protocol.save_results(str(b), dict(runs=[
        run(0, 99.0), run(1, 60.0), run(0, 70.0, distill=1.0)]))
    results = tool.protocol.load_results(str(a))
    assert tool.merge_results(results, [str(b)]) == 2
    # The run already held (seed 0, same recipe) is kept, not replaced.
    assert [r['top1'] for r in results['runs']] == [50.0, 60.0, 70.0]
    assert tool.merge_results(results, [str(b)]) == 0
    # A random run rerun with independent draws replaces the one stored
    # with shared draws (or with none recorded), never the other way.
    shared = dict(run(0, 80.0), policy='random_dynamic')
    rerun = dict(shared, top1=81.0, random_draws='independent')
    tool.protocol.save_results(str(a), dict(runs=[shared]))
    tool.protocol.save_results(str(b), dict(runs=[rerun]))
    results = tool.protocol.load_results(str(a))
    assert tool.merge_results(results, [str(b)]) == 1
    assert results['runs'] == [rerun]
    tool.protocol.save_results(str(a), dict(runs=[dict(shared, top1=82.0)]))
    assert tool.merge_results(results, [str(a)]) == 0
    assert results['runs'] == [rerun]


def stored_run(policy, seed, top1, recipe, wall=1.0, draws=None) -> dict:
    """A W2A2 run as ``quality.py`` stores it (the fields its reports
    read)."""
    return dict(setting='w2a2', policy=policy, seed=seed, top1=top1,
                recipe=recipe, wall_seconds=wall, score_seconds=0.0,
                random_draws=draws)


def quality_recipes() -> tuple:
    """The quality tool, its default recipe, that recipe at R = 5, and the
    score options of the CIFAR configs' default selection."""
    tool = load_tool('benchmarks/quality')
    recipe = tool.recipe_of(tool.parse_args([]))
    return tool, recipe, dict(recipe, interval=5), dict(
        selection=dict(type='stratified'), teacher_filter=0.05)


def test_quality_report_compares_with_a_baseline_seed_by_seed(
        tmp_path, capsys):
    tool = load_tool('benchmarks/quality')
    recipe = tool.recipe_of(tool.parse_args([]))
    stratified = dict(recipe, selection=dict(type='stratified'))

    def run(policy, seed, top1, recipe=recipe):
        return stored_run(policy, seed, top1, recipe)

    out = tmp_path / 'q.json'
    tool.protocol.save_results(str(out), dict(runs=[
        run('random_dynamic', 0, 80.0), run('random_dynamic', 1, 81.0),
        run('random_dynamic', 2, 80.5), run('acs', 0, 79.0),
        run('acs', 1, 80.0), run('acs', 2, 79.5),
        run('acs', 0, 81.0, stratified), run('acs', 1, 81.5, stratified),
        run('acs', 2, 81.5, stratified)]))
    report = ['--report', '--out', str(out), '--work-dir', str(tmp_path)]
    summary = tool.main(report + ['--baseline', 'random_dynamic'])['summary']
    by = summary['w2a2']
    assert 'vs_baseline' not in by['random_dynamic']
    assert by['acs']['vs_baseline']['diff_mean'] == pytest.approx(-1.0)
    assert not by['acs']['vs_baseline']['beats']
    vs = by['acs selection=type:stratified']['vs_baseline']
    assert vs['above'] == 3 and vs['beats']
    printed = capsys.readouterr().out
    assert 'against random_dynamic' in printed and '3/3' in printed
    with pytest.raises(ValueError, match="'random' is not a variant"):
        tool.main(report + ['--baseline', 'random'])


def test_quality_report_pairs_each_variant_with_its_same_recipe_random(
        tmp_path, capsys):
    tool, recipe, r5, default = quality_recipes()
    run = stored_run
    out = tmp_path / 'q.json'
    tool.protocol.save_results(str(out), dict(runs=[
        run('random_dynamic', s, 80.0 + s, recipe) for s in range(3)
    ] + [run('random_dynamic', s, 83.0 + s, r5) for s in range(3)] + [
        run('acs', s, 82.0 + s, dict(recipe, **default)) for s in range(3)
    ] + [run('acs', s, 82.5 + s, dict(r5, **default)) for s in range(3)] +
        # A recipe no random run has: not compared.
        [run('acs', s, 90.0, dict(recipe, lr=0.1)) for s in range(2)]))
    report = ['--report', '--out', str(out), '--work-dir', str(tmp_path)]
    by = tool.main(report + ['--pair', 'random_dynamic'])['summary']['w2a2']
    r10 = by['acs selection=type:stratified teacher_filter=0.05'][
        'vs_baseline']
    assert r10['baseline'] == 'random_dynamic'
    assert r10['diff_mean'] == pytest.approx(2.0) and r10['beats']
    # R = 5 is paired with random at R = 5 (a loss), not with R = 10.
    r5_vs = by['acs interval=5 selection=type:stratified '
               'teacher_filter=0.05']['vs_baseline']
    assert r5_vs['baseline'] == 'random_dynamic interval=5'
    assert r5_vs['diff_mean'] == pytest.approx(-0.5)
    assert r5_vs['above'] == 0 and not r5_vs['beats']
    assert 'vs_baseline' not in by['acs lr=0.1']
    assert 'vs_baseline' not in by['random_dynamic interval=5']
    assert 'random_dynamic interval=5' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tool.parse_args(['--report', '--pair', 'random_dynamic',
                         '--baseline', 'acs'])


def test_quality_verdict_pairs_the_default_with_random_per_recipe(
        tmp_path, capsys):
    tool, recipe, r5, default = quality_recipes()
    run = stored_run
    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    tool.protocol.save_results(str(a), dict(runs=[
        run('random_dynamic', s, 80.0 + s, r5, 2.0, 'shared')
        for s in range(3)
    ] + [run('acs', s, 81.0 + s / 10, dict(r5, **default), 3.0)
         for s in range(3)] +
        # Another rule, and the default on a recipe random never ran.
        [run('acs', s, 70.0, r5) for s in range(3)] +
        [run('acs', s, 90.0, dict(recipe, lr=0.1, **default))
         for s in range(2)]))
    # A rerun of random with independent draws in another file wins.
    tool.protocol.save_results(str(b), dict(runs=[
        run('random_dynamic', s, 80.5 + s / 10, r5, 2.0, 'independent')
        for s in range(3)]))
    options = ['--selection', '{"type": "stratified"}', '--teacher-filter',
               '0.05']
    rows = tool.main(['--verdict', str(a), str(b)] + options)['verdict']
    assert len(rows) == 1
    row = rows[0]
    assert (row['fraction'], row['interval'], row['other']) == (0.1, 5, '')
    assert row['draws'] == ['independent']
    assert row['vs']['diff_mean'] == pytest.approx(0.5)
    assert row['vs']['above'] == 3 and row['vs']['beats']
    assert row['wall_ratio'] == pytest.approx(1.5)
    table = capsys.readouterr().out
    assert '| w2a2 | 0.1 | 5 | - | 81.10 ± 0.10 (3) |' in table
    assert '| +0.50 (+0.50, +0.50) | 3/3 | **yes** | 1.50 |' in table
    # The paper's rule (no options) is the other acs row, a loss.
    rows = tool.main(['--verdict', str(a)])['verdict']
    assert [r['vs']['diff_mean'] for r in rows] == [pytest.approx(-11.0)]
    assert rows[0]['draws'] == ['shared']
    with pytest.raises(SystemExit):
        tool.parse_args(['--verdict', str(a), '--report'])
    with pytest.raises(SystemExit):
        tool.parse_args(['--verdict', str(a), '--pair', 'acs'])


def test_datapath_benchmark_compares_both_paths(tmp_path, capsys):
    need_shared(CIFAR_JPEG)
    need_shared(WEIGHTS / 'resnet20-12fca82f.th')
    tool = load_tool('benchmarks/datapath')
    result = tool.main(['--quick', '--work-dir', str(tmp_path)])
    assert last_json(capsys) == json.loads(json.dumps(result))
    assert set(result['paths']) == {'per_sample', 'in_memory'}
    for r in result['paths'].values():
        assert r['data_ms'] > 0 and r['step_ms'] > 0
        assert r['score_images_per_s'] > 0
        assert r['score_over_bare'] > 0


def test_fakequant_benchmark_reports_ratios(capsys):
    tool = load_tool('benchmarks/fakequant')
    result = tool.main(['--quick'])
    assert last_json(capsys) == json.loads(json.dumps(result))
    for key in ('resnet20_qat_over_fp', 'retinanet_r18_qat_over_fp',
                'lsq_over_torch_op'):
        assert result[key] > 0
    on_cuda = torch.cuda.is_available()
    assert result['device'] == ('cuda' if on_cuda else 'cpu')
    assert result['device_name']
    syncs = result['resnet20_syncs_per_step']
    assert set(syncs) == {'fp', 'qat_auto'}
    if not on_cuda:  # counted on CUDA only
        assert set(syncs.values()) == {None}


def test_fakequant_benchmark_times_each_impl_on_the_chosen_device(capsys):
    tool = load_tool('benchmarks/fakequant')
    result = tool.main(['--quick', '--device', 'cpu', '--tasks', 'quantizer',
                        '--impls', 'fused', 'reference'])
    assert result['device'] == 'cpu' and result['impls'] == [
        'fused', 'reference']
    assert set(result['quantizer_fwd_bwd_s']) == {
        'lsq_fused', 'lsq_reference', 'torch'}
    assert result['lsq_fwd_bwd_s'] == result['quantizer_fwd_bwd_s'][
        'lsq_fused']
    assert 'resnet20_qat_over_fp' not in result
    with pytest.raises(ValueError, match="got 'gpu'"):
        tool.main(['--device', 'gpu'])
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='no CUDA device'):
            tool.main(['--device', 'cuda', '--tasks', 'quantizer'])


def test_detection_study_records_noise_and_resumes(tmp_path, capsys):
    tool = load_tool('benchmarks/detection')
    common = ['--quick', '--policies', 'acs', 'full', '--noise', '0.2',
              '--final-share', '0.5', '--work-dir', str(tmp_path)]
    result = tool.main(common)
    assert last_json(capsys) == json.loads(json.dumps(result))
    acs, full = result['runs']
    assert (acs['policy'], full['policy']) == ('acs', 'full')
    # 40 images, 20% noisy; one coreset per epoch, each with its noisy
    # share.
    assert acs['noisy_fraction_all'] == pytest.approx(0.2)
    assert len(acs['noisy_fraction']) == 2
    assert all(0 <= f <= 1 for f in acs['noisy_fraction'])
    assert acs['score_seconds'] > full['score_seconds'] * 1000
    assert full['recipe']['fraction'] is None
    assert set(result['fp']) == {'2ep_40_20'}
    # A second call with the same results file trains nothing.
    again = tool.main(common)
    out = capsys.readouterr().out
    assert 'FP model from' in out and out.count('] from ') == 2
    assert again['runs'] == result['runs']
    # The sealed final split: its metrics stored, shown by --final only.
    report = ['--report', '--out', str(tmp_path / 'detection.json')]
    for run in result['runs']:
        assert set(run['final']) == {k for k in run if k.startswith('bbox')}
    shown = tool.main(report)['summary']
    sealed = tool.main(report + ['--final'])['summary']
    name = tool.label(full)
    assert shown[name]['seeds'] == sealed[name]['seeds'] == [0]
    assert sealed[name]['mean'] == pytest.approx(full['final']['bbox_mAP'])
    assert shown[name]['mean'] == pytest.approx(full['bbox_mAP'])


def test_detection_study_resumes_an_interrupted_run(tmp_path, monkeypatch):
    """A QAT run killed after its first epoch's checkpoint finishes from it
    on the next call, with the mAP of a run never interrupted."""
    tool = load_tool('benchmarks/detection')
    args = ['--quick', '--policies', 'acs', '--work-dir']
    whole = tool.main(args + [str(tmp_path / 'whole')])['runs'][0]
    assert whole['resumed_from_epoch'] == 0
    clock = tool.protocol.epoch_clock
    cut = str(tmp_path / 'cut')
    # The FP model finishes; the QAT run dies after its first epoch.
    monkeypatch.setattr(tool.protocol, 'epoch_clock',
                        dying_clock(clock, lambda d: '/acs_' in d))
    with pytest.raises(Interrupted):
        tool.main(args + [cut])
    monkeypatch.setattr(tool.protocol, 'epoch_clock', clock)
    run = tool.main(args + [cut])['runs'][0]
    assert run['resumed_from_epoch'] == 1
    for key in tool.METRICS:
        assert run[key] == pytest.approx(whole[key], abs=1e-6)
    assert len(run['jaccard_prev']) == len(whole['jaccard_prev'])


def test_detection_study_gives_random_the_time_of_acs(tmp_path):
    """random_timed: random_dynamic on the fraction times the wall ratio
    of the acs variant it is matched with (stored runs of the same
    recipe, or --time-ratio)."""
    tool = load_tool('benchmarks/detection')
    args = tool.parse_args(['--acs-options', '{"score_pool": 0.3}'])
    args.data_dir = str(tmp_path / 'data')
    with pytest.raises(ValueError, match='wall-time ratio'):
        tool.build_qat_cfg('random_timed', 0.1, 0, args, 'fp.pth',
                           str(tmp_path / 'run'))
    runs = [dict(policy=p, seed=s, recipe=tool.recipe_of(args, p, 0.1),
                 wall_seconds=w)
            for p, s, w in (('acs', 0, 13.0), ('acs', 1, 11.0),
                            ('random_dynamic', 0, 10.0),
                            ('random_dynamic', 1, 6.0))]
    other = tool.parse_args([])  # another acs variant: not counted
    runs.append(dict(policy='acs', seed=0, wall_seconds=99.0,
                     recipe=tool.recipe_of(other, 'acs', 0.1)))
    results = dict(runs=runs)
    assert tool.time_ratio(results, 0.1, args) == pytest.approx(1.5)
    with pytest.raises(ValueError, match='--time-ratio'):
        tool.time_ratio(results, 0.3, args)
    args.time_ratio = 1.5
    cfg, _ = tool.build_qat_cfg('random_timed', 0.1, 0, args, 'fp.pth',
                                str(tmp_path / 'run'))
    assert cfg.coreset.policy == 'random_dynamic'
    assert cfg.coreset.fraction == pytest.approx(0.15)
    run = dict(policy='random_timed', seed=0,
               recipe=tool.recipe_of(args, 'random_timed', 0.1))
    assert tool.variant_name(run) == ('random_timed (the time of acs topk '
                                      '(the paper) (score_pool 0.3))')


def test_detection_study_ptq_row_trains_nothing(tmp_path):
    """The PTQ row: the FP model calibrated and evaluated, no epoch, no
    scoring, no fraction."""
    tool = load_tool('benchmarks/detection')
    result = tool.main(['--quick', '--policies', 'ptq', '--work-dir',
                        str(tmp_path)])
    (run, ) = result['runs']
    assert run['epochs_run'] == 0 and run['recipe']['fraction'] is None
    assert run['score_seconds'] == 0 and run['wall_seconds'] > 0
    assert set(tool.METRICS) <= set(run)
    (log, ) = (tmp_path / next(d for d in os.listdir(tmp_path)
                               if d.startswith('ptq_all'))).glob('*/*.log')
    text = log.read_text()
    assert text.index('loaded float checkpoint') < text.index(
        'QAT calibration: initialised')


def test_detection_study_keeps_cocometrics_whole_output():
    """AP by object size and per class stay with a run (the rare class and
    small objects are what a detection coreset is judged on); a model that
    detects nothing gets 0 for the main metrics."""
    tool = load_tool('benchmarks/detection')
    metrics = {'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_50': 0.4,
               'coco/bbox_mAP_75': 0.1, 'coco/bbox_mAP_s': 0.15,
               'coco/OtherVehicle_precision': 0.01, 'data_time': 0.3}
    assert tool.coco_metrics(metrics, 'run') == {
        'bbox_mAP': 0.2, 'bbox_mAP_50': 0.4, 'bbox_mAP_75': 0.1,
        'bbox_mAP_s': 0.15, 'OtherVehicle_precision': 0.01}
    assert tool.coco_metrics({'data_time': 0.3}, 'run') == dict.fromkeys(
        tool.METRICS, 0.0)


def test_detection_study_keeps_runs_of_other_teachers_apart(tmp_path):
    """--fp-checkpoint is part of the recipe: a run from one FP model is
    never reused for another."""
    tool = load_tool('benchmarks/detection')
    ckpts = [tmp_path / 'a.pth', tmp_path / 'b.pth']
    recipes = [
        tool.recipe_of(tool.parse_args(['--fp-checkpoint', str(c)]), 'acs',
                       0.1) for c in ckpts
    ]
    assert [r['fp_checkpoint'] for r in recipes] == [str(c) for c in ckpts]
    results = dict(runs=[dict(policy='acs', seed=0, recipe=recipes[0])])
    assert tool.find_run(results, 'acs', 0, recipes[0]) is not None
    assert tool.find_run(results, 'acs', 0, recipes[1]) is None
    # Runs stored before the key existed came from the study's own FP run.
    old = {k: v for k, v in tool.recipe_of(tool.parse_args([]), 'acs',
                                           0.1).items()
           if k != 'fp_checkpoint'}
    results = dict(runs=[dict(policy='acs', seed=0, recipe=old)])
    assert tool.find_run(results, 'acs', 0, tool.recipe_of(
        tool.parse_args([]), 'acs', 0.1)) is not None


def test_detection_study_keeps_runs_of_retrained_fp_models_apart():
    """The same --fp-checkpoint path holding another model (retrained):
    its runs are other runs, paired, timed and summarized apart."""
    tool = load_tool('benchmarks/detection')
    args = tool.parse_args(['--fp-checkpoint', 'fp.pth'])
    runs = []
    for digest, acs, walls in (('aaa', 0.30, (2.0, 1.0)),
                               ('bbb', 0.20, (3.0, 1.0))):
        for seed in (0, 1):
            for policy, mAP, wall in (('acs', acs + 0.01 * seed, walls[0]),
                                      ('random_dynamic', 0.25, walls[1]),
                                      ('full', 0.35, 4.0)):
                runs.append(dict(
                    policy=policy, seed=seed,
                    recipe=tool.recipe_of(args, policy, 0.1),
                    teacher_digest=digest, bbox_mAP=mAP, bbox_mAP_50=mAP,
                    bbox_mAP_75=mAP, wall_seconds=wall, score_seconds=0.0,
                    noisy_fraction=[], noisy_fraction_all=None))
    results = dict(runs=runs)
    recipe = tool.recipe_of(args, 'acs', 0.1)
    assert tool.find_run(results, 'acs', 1, recipe, 'bbb')['bbox_mAP'] == \
        pytest.approx(0.21)
    assert tool.find_run(results, 'acs', 1, recipe, 'ccc') is None
    assert tool.time_ratio(results, 0.1, args, 'aaa') == pytest.approx(2.0)
    assert tool.time_ratio(results, 0.1, args, 'bbb') == pytest.approx(3.0)
    rows = {r['variant']: r for r in tool.verdict_rows(runs)
            if r['variant'].startswith('acs')}
    assert rows['acs topk (the paper) [teacher aaa]']['vs'][
        'diff_mean'] == pytest.approx(0.055)
    assert rows['acs topk (the paper) [teacher bbb]']['vs'][
        'diff_mean'] == pytest.approx(-0.045)
    assert rows['acs topk (the paper) [teacher bbb]']['kept'] == \
        pytest.approx(0.205 / 0.35)
    summary = tool.summarize(runs)
    assert summary['acs f=0.1 [teacher aaa]']['mean'] == \
        pytest.approx(0.305)
    assert summary['acs f=0.1 [teacher bbb]']['seeds'] == [0, 1]


def test_detection_study_evaluates_a_given_fp_checkpoint_once(tmp_path,
                                                              capsys):
    """--fp-checkpoint: the FP model is evaluated once on the validation
    and the sealed final split, and stored under its path."""
    tool = load_tool('benchmarks/detection')
    first = tool.main(['--quick', '--policies', 'ptq', '--work-dir',
                       str(tmp_path / 'a')])
    (ckpt, ) = (tmp_path / 'a').glob('fp_*/epoch_*.pth')
    args = ['--quick', '--policies', 'ptq', '--work-dir',
            str(tmp_path / 'b'), '--fp-checkpoint', str(ckpt),
            '--final-share', '0.5']
    fp = tool.main(args)['fp'][str(ckpt)]
    assert set(tool.METRICS) <= set(fp) and set(tool.METRICS) <= set(
        fp['final'])
    # On the two halves of the validation images, as the QAT runs.
    (log, ) = (tmp_path / 'b').glob('fp_eval_*/*/*.log')
    text = log.read_text()
    for part in ('val', 'final'):
        assert f"val_split/{part}_0.5.json'" in text
    assert first['fp'] and str(ckpt) not in first['fp']
    capsys.readouterr()
    again = tool.main(args)
    assert again['fp'][str(ckpt)] == fp
    assert f'FP model {ckpt}: bbox_mAP' in capsys.readouterr().out
    assert len(list((tmp_path / 'b').glob('fp_eval_*/*/*.log'))) == 1
    # Runs and the FP record name the checkpoint by its digest ...
    digest = tool.common.file_digest(str(ckpt))
    assert fp['digest'] == again['runs'][0]['teacher_digest'] == digest
    # ... so another model saved at the same path is evaluated again.
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    weight = next(k for k in state['state_dict'] if k.endswith('weight'))
    state['state_dict'][weight] = state['state_dict'][weight] + 1
    torch.save(state, ckpt)
    retrained = tool.main(args)['fp'][str(ckpt)]
    assert 'evaluating it again' in capsys.readouterr().out
    assert retrained['digest'] == tool.common.file_digest(str(ckpt))
    assert retrained['digest'] != digest
    assert len(list((tmp_path / 'b').glob('fp_eval_*/*/*.log'))) == 2


def test_detection_study_splits_the_validation_set_once(tmp_path):
    """The sealed final split: a seeded share of the validation images,
    disjoint from the rest, their boxes with them; the runs score on the
    rest and test on it."""
    tool = load_tool('benchmarks/detection')
    coco = dict(images=[dict(id=i, file_name=f'{i}.jpg') for i in range(10)],
                annotations=[dict(id=10 + i, image_id=i % 10)
                             for i in range(25)],
                categories=[dict(id=1, name='a')])
    ann = tmp_path / 'val.json'
    ann.write_text(json.dumps(coco))
    val, final = tool.split_validation(str(ann), 0.3, str(tmp_path / 'split'))
    parts = [json.loads(open(p).read()) for p in (val, final)]
    ids = [{x['id'] for x in part['images']} for part in parts]
    assert (len(ids[0]), len(ids[1])) == (7, 3) and not ids[0] & ids[1]
    for part, own in zip(parts, ids):
        assert {a['image_id'] for a in part['annotations']} <= own
    assert sum(len(p['annotations']) for p in parts) == 25
    again = tool.split_validation(str(ann), 0.3, str(tmp_path / 'other'))
    assert [json.loads(open(p).read()) for p in again] == parts
    args = tool.parse_args(['--data-root', str(tmp_path / 'hit_uav')])
    assert args.final_share == 0.5
    assert tool.parse_args([]).final_share == 0.0
    with pytest.raises(SystemExit):
        tool.parse_args(['--final-share', '1'])


def test_detection_study_configs(tmp_path):
    tool = load_tool('benchmarks/detection')
    args = tool.parse_args(['--noise', '0.2', '--selection',
                            '{"type": "stratified"}', '--teacher-drop',
                            '0.1'])
    args.data_dir = str(tmp_path / 'data')
    cfg, epochs = tool.build_qat_cfg('acs', 0.1, 3, args, 'fp.pth',
                                     str(tmp_path / 'run'))
    assert epochs == 6 and cfg.model.float_checkpoint == 'fp.pth'
    assert cfg.coreset.selection == dict(type='stratified')
    assert cfg.coreset.teacher_filter == dict(drop=0.1)
    assert (cfg.coreset.fraction, cfg.coreset.seed) == (0.1, 3)
    assert cfg.train_dataloader.dataset.type == 'NoisyDetDataset'
    assert cfg.train_dataloader.dataset.noise_rate == 0.2
    cfg, epochs = tool.build_qat_cfg('full_steps', 0.3, 0, args, 'fp.pth',
                                     str(tmp_path / 'run'))
    # The same number of steps as a coreset of 30% for 6 epochs.
    assert epochs == 2 and cfg.coreset.fraction == 1.0
    assert cfg.coreset.policy == 'full'
    # No --selection is the paper's top-k, whatever the config says.
    args = tool.parse_args([])
    args.data_dir = str(tmp_path / 'data')
    cfg, _ = tool.build_qat_cfg('acs', 0.3, 0, args, 'fp.pth',
                                str(tmp_path / 'run'))
    assert cfg.coreset.selection == 'topk'
    assert cfg.coreset.teacher_filter is None
    assert cfg.model.get('layer_align') is None
    assert tool.recipe_of(args, 'random_dynamic', 0.3)['selection'] is None
    # --layer-align aligns the FPN outputs, for every policy.
    args = tool.parse_args(['--layer-align', '0.5'])
    args.data_dir = str(tmp_path / 'data')
    for policy in ('acs', 'random_dynamic', 'full'):
        cfg, _ = tool.build_qat_cfg(policy, 0.3, 0, args, 'fp.pth',
                                    str(tmp_path / 'run'))
        assert cfg.model.layer_align == dict(layers=['neck'],
                                             loss_weight=0.5)
        assert tool.recipe_of(args, policy, 0.3)['layer_align'] == 0.5
    for bad in (['--fractions', '0'], ['--noise', '1'], ['--epochs', '0'],
                ['--selection', '{no'], ['--teacher-drop', '1'],
                ['--layer-align', '-1']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad)


def test_detection_study_reports_the_share_of_full_data_map(tmp_path):
    tool = load_tool('benchmarks/detection')
    load_results = tool.protocol.load_results
    save_results = tool.protocol.save_results
    args = tool.parse_args([])

    def run(policy, seed, mAP, fraction=0.3):
        return dict(policy=policy, seed=seed,
                    recipe=tool.recipe_of(args, policy, fraction),
                    bbox_mAP=mAP, bbox_mAP_50=mAP, bbox_mAP_75=mAP,
                    wall_seconds=1.0, score_seconds=0.0,
                    noisy_fraction=[], noisy_fraction_all=None)

    runs = [run('full', 0, 0.4), run('full', 1, 0.2),
            run('acs', 0, 0.24), run('acs', 1, 0.36),
            run('random_dynamic', 0, 0.15, fraction=0.1)]
    summary = tool.summarize(runs)
    assert summary['full']['kept'] == pytest.approx(1.0)
    assert summary['acs f=0.3']['bbox_mAP']['mean'] == pytest.approx(0.3)
    assert summary['acs f=0.3']['kept'] == pytest.approx(1.0)
    assert summary['random_dynamic f=0.1']['kept'] == pytest.approx(0.5)
    assert summary['acs f=0.3']['seeds'] == [0, 1]
    # With the layer alignment, the reference is full data with it too;
    # runs stored before the option existed read as without it.
    aligned = tool.parse_args(['--layer-align', '1'])
    old = run('acs', 2, 0.3)
    del old['recipe']['layer_align']
    la = [dict(run(policy, 0, mAP),
               recipe=tool.recipe_of(aligned, policy, 0.3))
          for policy, mAP in (('full', 0.5), ('acs', 0.25))]
    summary = tool.summarize(runs + la + [old])
    assert summary['acs f=0.3 layer_align=1.0']['kept'] == pytest.approx(0.5)
    assert summary['full layer_align=1.0']['kept'] == pytest.approx(1.0)
    assert summary['acs f=0.3']['seeds'] == [0, 1, 2]
    assert summary['acs f=0.3']['kept'] == pytest.approx(1.0)  # 0.82 with it
    assert tool.find_run(dict(runs=[old]), 'acs', 2,
                         tool.recipe_of(args, 'acs', 0.3)) is old
    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    save_results(str(a), dict(runs=runs[:2], fp={'k': {}}))
    save_results(str(b), dict(runs=runs[1:]))
    results = load_results(str(a))
    assert tool.merge_results(results, [str(b)]) == 3
    assert len(results['runs']) == 5 and results['fp'] == {'k': {}}
    # A rerun of random with independent draws replaces the shared one.
    rerun = dict(runs[4], bbox_mAP=0.2, random_draws='independent')
    save_results(str(b), dict(runs=[rerun, runs[0]]))
    assert tool.merge_results(results, [str(b)]) == 1
    assert results['runs'][4] is not runs[4]
    assert results['runs'][4]['bbox_mAP'] == 0.2
    results['runs'][4] = runs[4]
    # The report compares every variant with a baseline on common seeds.
    save_results(str(a), dict(results, fp={}))
    summary = tool.main(['--report', '--out', str(a), '--work-dir',
                         str(tmp_path), '--baseline', 'acs f=0.3'])['summary']
    vs = summary['random_dynamic f=0.1']['vs_baseline']
    assert vs['seeds'] == [0] and vs['diff_mean'] == pytest.approx(-0.09)
    assert summary['full']['vs_baseline']['above'] == 1


def test_detection_verdict_pairs_every_variant_with_random_per_condition(
        tmp_path, capsys):
    tool = load_tool('benchmarks/detection')
    random_draws = tool.protocol.random_draws
    save_results = tool.protocol.save_results

    def run(policy, seed, mAP, *options, fraction=0.3, wall=1.0, noisy=(),
            **more):
        args = tool.parse_args(list(options))
        return dict(policy=policy, seed=seed,
                    recipe=tool.recipe_of(args, policy, fraction),
                    bbox_mAP=mAP, bbox_mAP_50=mAP, bbox_mAP_75=mAP,
                    wall_seconds=wall, score_seconds=0.0,
                    noisy_fraction=list(noisy), noisy_fraction_all=None,
                    random_draws=random_draws(policy), **more)

    def sealed(mAP):
        return dict(final=dict(bbox_mAP=mAP, bbox_mAP_50=mAP,
                               bbox_mAP_75=mAP))

    strat = ['--selection', '{"type": "stratified"}']
    noisy = ['--noise', '0.2']
    runs = [run('full', s, 0.30) for s in range(3)]
    runs += [run('random_dynamic', s, 0.27 + 0.01 * s, wall=1.0,
                 **sealed(0.25)) for s in range(3)]
    # AP of small objects and per class: shown where every seed has it.
    runs += [run('acs', s, 0.30 + 0.01 * s, *strat, wall=2.0,
                 bbox_mAP_s=0.1, Rare_precision=0.05 + 0.01 * s,
                 **sealed(0.24)) for s in range(3)]
    runs += [run('acs', s, 0.20, fraction=0.1) for s in range(2)]
    runs += [run('random_dynamic', s, 0.25, *noisy, noisy=(0.2, 0.1))
             for s in range(2)]
    runs += [run('acs', s, 0.26 - 0.02 * s, *noisy, '--teacher-drop', '0.2',
                 noisy=(0.0, 0.05)) for s in range(2)]
    a = tmp_path / 'a.json'
    save_results(str(a), dict(runs=runs))
    rows = tool.main(['--verdict', str(a)])['verdict']
    table = capsys.readouterr().out
    by = {(r['noise'], r['fraction'], r['variant']): r for r in rows}
    assert len(by) == len(rows) == 6
    # The same condition but acs's keys: stratified beats random by 0.03,
    # more than either spread, at twice the wall time; kept = 0.28 / 0.30.
    row = by[(0.0, 0.3, 'acs stratified')]
    assert row['vs']['diff_mean'] == pytest.approx(0.03)
    assert row['vs']['beats'] and row['vs']['above'] == 3
    assert row['wall_ratio'] == pytest.approx(2.0)
    assert row['kept'] == pytest.approx(0.31 / 0.30)
    assert row['detail'] == pytest.approx(dict(bbox_mAP_s=0.1,
                                               Rare_precision=0.06))
    assert '| kept | AP_s | AP Rare | diff vs random_dynamic' in table
    assert '| clean | 0.3 | acs stratified | 0.310 ± 0.010 (3) | 0.300 / ' \
        '0.310 / 0.320 | 1.03 | 0.100 | 0.060 | +0.030 (+0.030, +0.030) | ' \
        '3/3 | **yes** | 2.00 | - | - |' in table
    assert '| clean | 0.3 | random_dynamic | 0.280 ± 0.010 (3) | 0.270 / ' \
        '0.280 / 0.290 | 0.93 | - | - |' in table
    # --final: the sealed split's metrics, of the runs that hold them.
    final = tool.main(['--verdict', str(a), '--final'])['verdict']
    capsys.readouterr()
    (row, ) = [r for r in final if r['variant'] == 'acs stratified']
    assert len(final) == 2 and row['vs']['diff_mean'] == pytest.approx(-0.01)
    # No random run at f = 0.1: nothing to pair with; full has no fraction.
    assert by[(0.0, 0.1, 'acs topk (the paper)')]['vs'] is None
    assert by[(0.0, None, 'full')]['kept'] == pytest.approx(1.0)
    # Noisy boxes pair with noisy random only; no full there, no kept.
    row = by[(0.2, 0.3, 'acs topk (the paper) + teacher drop 0.2')]
    assert row['vs']['diff_mean'] == pytest.approx(0.0)
    assert row['vs']['above'] == 1 and not row['vs']['beats']
    assert row['kept'] is None and row['noisy'] == (0.0, 0.05)
    assert by[(0.2, 0.3, 'random_dynamic')]['noisy'] == (0.1, 0.2)
    assert by[(0.2, 0.3, 'random_dynamic')]['draws'] == ['independent']
    assert row['draws'] == []
    # Each condition starts with the pair.
    assert [r['variant'] for r in rows][:3] == [
        'full', 'random_dynamic', 'acs stratified']
    with pytest.raises(SystemExit):
        tool.parse_args(['--verdict', str(a), '--report'])
    for pair in ('full', 'acs'):  # no fraction / the variants themselves
        with pytest.raises(SystemExit):
            tool.parse_args(['--verdict', str(a), '--pair', pair])


def fake_shared(tmp_path):
    """A shared folder with the paths the protocol checks (config tests
    build no dataset)."""
    shared = tmp_path / 'shared'
    (shared / 'data' / 'cifar10-jpeg' / 'train').mkdir(parents=True)
    (shared / 'weights').mkdir()
    (shared / 'weights' / 'resnet20-12fca82f.th').write_bytes(b'')
    return shared


def stand_in_teacher(cache) -> str:
    """A ResNet-20 ``ImageClassifier`` checkpoint (untrained) where the
    protocol looks for the clean teacher below ``cache``, saved as the
    teacher's training saves it: the classifier's own keys."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmacs  # noqa: F401
    quality = load_tool('benchmarks/quality')
    init_default_scope('mmdet')
    cfg = Config.fromfile(REPO / quality.CLEAN_CONFIG)
    model = MODELS.build(cfg.model)
    path = cache / quality.CLEAN_TEACHER
    path.parent.mkdir(parents=True)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(stand_in=True)),
               path)
    return str(path)


def test_quality_protocol_clean_teacher_and_splits(tmp_path, monkeypatch):
    tool = load_tool('benchmarks/quality')
    monkeypatch.setenv('MMACS_CACHE', str(tmp_path / 'cache'))
    common = ['--shared', str(fake_shared(tmp_path)), '--work-dir',
              str(tmp_path)]
    args = tool.parse_args(common)
    assert (args.teacher, args.eval_split, args.num_samples) == (
        'clean', 'val', 40000)
    assert tool.parse_args(common + ['--teacher', 'shared']).num_samples \
        == 45000
    # No cached teacher: the error names the path and how to make it.
    with pytest.raises(FileNotFoundError) as e:
        tool.build_cfg('w2a2', 'acs', 0, args, str(tmp_path))
    assert str(tmp_path / 'cache' / tool.CLEAN_TEACHER) in str(e.value)
    assert f'tools/train.py {tool.CLEAN_CONFIG}' in str(e.value)
    teacher = stand_in_teacher(tmp_path / 'cache')
    cfg, _ = tool.build_cfg('w2a2', 'acs', 0, args, str(tmp_path))
    assert cfg.model.float_checkpoint == teacher
    assert cfg.model.float_checkpoint_revise_keys == []
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert (train.split, train.val_size, train.final_size) == (
        'train', 5000, 5000)
    assert 'indices' not in train  # all of the 40k
    assert (val.split, val.final_size) == ('val', 5000)
    # The sealed final split: measured by the test loop of every run.
    assert tool.sealed_final(args)
    assert cfg.test_dataloader.dataset.split == 'final'
    final = tool.parse_args(common + ['--eval-split', 'final'])
    cfg, _ = tool.build_cfg('w2a2', 'acs', 0, final, str(tmp_path))
    assert cfg.val_dataloader.dataset.split == 'final'
    assert cfg.test_dataloader.dataset.split == 'final'
    # The shared protocol: the 45k split, no final split carved out.
    shared = tool.parse_args(common + ['--teacher', 'shared'])
    cfg, _ = tool.build_cfg('w2a2', 'acs', 0, shared, str(tmp_path))
    assert cfg.model.float_checkpoint.endswith('resnet20-12fca82f.th')
    assert cfg.train_dataloader.dataset.final_size == 0
    assert not tool.sealed_final(shared)
    assert cfg.test_dataloader.dataset.split == 'val'
    with pytest.raises(SystemExit):  # the shared teacher saw no final split
        tool.parse_args(['--teacher', 'shared', '--eval-split', 'final'])
    # random_timed: random_dynamic on the fraction times the wall ratio.
    timed = tool.parse_args(common + ['--time-ratio', '1.5'])
    cfg, _ = tool.build_cfg('w2a2', 'random_timed', 0, timed, str(tmp_path))
    assert cfg.coreset.policy == 'random_dynamic'
    assert cfg.coreset.fraction == pytest.approx(0.15)
    with pytest.raises(ValueError, match='wall-time ratio'):
        tool.build_cfg('w2a2', 'random_timed', 0, args, str(tmp_path))


def test_study_reports_warn_of_runs_from_two_teachers():
    protocol = load_tool('benchmarks/protocol')

    def run(setting, digest):
        held = dict(setting=setting, policy='acs', seed=0)
        if digest is not None:
            held['teacher_digest'] = digest
        return held

    def note(runs):
        return protocol.teacher_note(runs, lambda r: r['setting'])

    # One teacher, or runs stored before the digest was recorded: no note.
    one = [run('w2a2', 'aaa'), run('w4a4', 'aaa'), run('w2a2', None)]
    assert note(one) is None
    assert protocol.teacher_sentence(one) == (
        ' Teacher checkpoint (SHA-256) `aaa`: 2 runs.')
    two = [run('w2a2', 'aaa'), run('w2a2', 'aaa'), run('w4a4', 'bbb'),
           run('w2a2', None)]
    assert note(two).startswith('note: these runs come from 2 teacher')
    assert 'aaa: 2 runs (w2a2)' in note(two)
    assert 'bbb: 1 runs (w4a4)' in note(two)
    assert protocol.teacher_sentence([run('w2a2', None)]) == ''


def test_quality_protocol_keeps_old_runs_apart_and_loadable(tmp_path):
    tool = load_tool('benchmarks/quality')
    shared = tool.recipe_of(tool.parse_args(['--teacher', 'shared']))
    old = {k: v for k, v in shared.items() if k not in ('teacher',
                                                        'eval_split')}
    results = dict(runs=[dict(setting='w2a2', policy='acs', seed=0,
                              recipe=old, top1=80.0, wall_seconds=10.0)])
    # A run stored before the keys existed is the shared protocol on val.
    assert tool.STORE.find(results, dict(setting='w2a2', policy='acs',
                                         seed=0, recipe=shared)) is not None
    for other in (dict(shared, teacher='clean', num_samples=40000),
                  dict(shared, teacher='clean', num_samples=40000,
                       eval_split='final')):
        assert tool.STORE.find(results, dict(setting='w2a2', policy='acs',
                                             seed=0, recipe=other)) is None
    # The wall ratio random_timed gives back: acs over random_dynamic of
    # the same setting and recipe, whatever acs's score options.
    args = tool.parse_args(['--teacher', 'shared'])
    results['runs'].append(dict(setting='w2a2', policy='random_dynamic',
                                seed=0, recipe=dict(shared,
                                                    selection='x'),
                                wall_seconds=8.0))
    assert tool.time_ratio(results, 'w2a2', args) == pytest.approx(1.25)
    with pytest.raises(ValueError, match='--time-ratio'):
        tool.time_ratio(results, 'w2a32', args)
    # Every stored results file still loads and summarizes.
    for path in sorted((REPO / 'results').glob('quality_*.json')):
        runs = tool.protocol.load_results(str(path))['runs']
        teacher = 'clean' if path.name.startswith('quality_clean') \
            else 'shared'
        assert tool.summarize(runs) and all(
            tool.STORE.recipe(r)['teacher'] == teacher for r in runs)


def test_quality_protocol_quick_clean_run(tmp_path, monkeypatch, capsys):
    """The clean protocol end to end on a stand-in teacher: evaluated on
    val with the final split sealed beside it, random_timed given back
    acs's extra wall time."""
    need_shared(CIFAR_JPEG)
    tool = load_tool('benchmarks/quality')
    monkeypatch.setenv('MMACS_CACHE', str(tmp_path / 'cache'))
    stand_in_teacher(tmp_path / 'cache')
    out = tmp_path / 'clean.json'
    result = tool.main([
        '--quick', '--settings', 'w2a2', '--seeds', '0', '--policies', 'acs',
        'random_dynamic', 'random_timed', '--work-dir', str(tmp_path),
        '--out', str(out)
    ])
    acs, rd, timed = result['runs']
    for run in result['runs']:
        assert run['eval_split'] == 'val'
        assert run['recipe']['teacher'] == 'clean'
        assert 0 <= run['top1'] <= 100 and 0 <= run['final_top1'] <= 100
    # Only --report --final shows the sealed numbers.
    report = ['--report', '--quick', '--out', str(out)]
    val = tool.main(report)['summary']['w2a2']
    final = tool.main(report + ['--final'])['summary']['w2a2']
    assert val['acs']['by_seed'][0] == pytest.approx(acs['top1'])
    assert final['acs']['by_seed'][0] == pytest.approx(acs['final_top1'])
    assert timed['time_ratio'] == pytest.approx(acs['wall_seconds'] /
                                                rd['wall_seconds'])
    assert timed['fraction_run'] == pytest.approx(
        min(1.0, 0.1 * timed['time_ratio']))
    assert len(json.loads(out.read_text())['runs']) == 3
    # A retrained teacher under the same name: the stored runs are not
    # reused (nor their checkpoints resumed); its runs are stored beside.
    teacher = torch.load(tmp_path / 'cache' / tool.CLEAN_TEACHER)
    teacher['meta'] = dict(stand_in=True, retrained=True)
    torch.save(teacher, tmp_path / 'cache' / tool.CLEAN_TEACHER)
    capsys.readouterr()
    again = tool.main(['--quick', '--settings', 'w2a2', '--seeds', '0',
                       '--policies', 'random_dynamic', '--work-dir',
                       str(tmp_path), '--out', str(out)])['runs'][0]
    assert f'from {out}' not in capsys.readouterr().out
    assert again['resumed_from_epoch'] == 0
    assert again['teacher_digest'] != rd['teacher_digest']
    assert len(json.loads(out.read_text())['runs']) == 4


def test_quality_reports_keep_runs_of_other_teachers_apart(tmp_path):
    """Runs of two teacher checkpoints with one recipe (a retrained clean
    teacher): each is found, paired with random, timed and tabled only
    with the runs of its own teacher."""
    tool = load_tool('benchmarks/quality')
    options = ['--selection', '{"type": "stratified"}', '--teacher-filter',
               '0.05']
    recipe = tool.recipe_of(tool.parse_args(options))
    runs = []
    for digest, acs, rd, wall in (('aaa', 81.0, 80.0, 12.0),
                                  ('bbb', 70.0, 72.0, 20.0)):
        for seed in (0, 1):
            for policy, top1, seconds in (('acs', acs + seed, wall),
                                          ('random_dynamic', rd, 10.0)):
                runs.append(dict(setting='w2a2', policy=policy, seed=seed,
                                 recipe=recipe, teacher_digest=digest,
                                 top1=top1, wall_seconds=seconds,
                                 score_seconds=0.0))
    runs.append(dict(runs[0], teacher_digest=None, top1=50.0))
    results = dict(runs=runs)
    probe = dict(setting='w2a2', policy='acs', seed=0, recipe=recipe)
    assert tool.STORE.find(results, dict(probe, teacher_digest='bbb'))[
        'top1'] == 70.0
    assert tool.STORE.find(results, dict(probe, teacher_digest='ccc')) \
        is None
    args = tool.parse_args(options)
    assert tool.time_ratio(results, 'w2a2', args, 'aaa') == \
        pytest.approx(1.2)
    assert tool.time_ratio(results, 'w2a2', args, 'bbb') == \
        pytest.approx(2.0)
    assert tool.run_dir_name('w2a2', 'acs', 0, recipe, 'aaa') != \
        tool.run_dir_name('w2a2', 'acs', 0, recipe, 'bbb')
    rows = tool.verdict_rows(runs, tool.parse_args(['--verdict', 'x'] +
                                                   options))
    assert {r['checkpoint']: r['vs']['diff_mean'] for r in rows} == {
        'aaa': pytest.approx(1.5), 'bbb': pytest.approx(-1.5)}
    table = tool.verdict_table(rows, 'random_dynamic')
    assert table.count('teacher checkpoint (SHA-256)') == 2
    out = tmp_path / 'two_teachers.json'
    out.write_text(json.dumps(results))
    page = tool.results_page(str(out))
    for digest, diff in (('aaa', '+1.50'), ('bbb', '-1.50')):
        section = page.split(f'`{digest}`')[1].split('## ')[0]
        assert diff in section
    assert 'Teacher checkpoint not recorded' in page
    headings = [line for line in page.splitlines() if line.startswith('## ')]
    assert sorted(headings) == ['## w2a2, teacher aaa',
                                '## w2a2, teacher bbb',
                                '## w2a2, teacher not recorded']
    summary = tool.main(['--report', '--pair', 'random_dynamic', '--out',
                         str(out)] + options)['summary']['w2a2']
    assert summary['acs [teacher aaa]']['mean'] == pytest.approx(81.5)
    assert summary['acs [teacher bbb]']['mean'] == pytest.approx(70.5)
    assert summary['acs [teacher unrecorded]']['mean'] == 50.0
    # A bare --baseline name compares each run with its own teacher's.
    summary = tool.main(['--report', '--baseline', 'random_dynamic', '--out',
                         str(out)] + options)['summary']['w2a2']
    for digest, diff in (('aaa', 1.5), ('bbb', -1.5)):
        vs = summary[f'acs [teacher {digest}]']['vs_baseline']
        assert vs['baseline'] == f'random_dynamic [teacher {digest}]'
        assert vs['diff_mean'] == pytest.approx(diff)
    assert 'vs_baseline' not in summary['acs [teacher unrecorded]']


def test_detection_study_takes_its_model_and_data_from_configs(tmp_path):
    """The study is config-driven: another FP config and data folder (here
    the HIT-UAV RetinaNet) replace the demo, as recipe keys of their own;
    runs stored before the keys existed read as the demo's."""
    tool = load_tool('benchmarks/detection')
    fp = 'configs/hit_uav/retinanet_r18-slim_fpn_crop256-24e_hit-uav.py'
    args = tool.parse_args(['--fp-config', fp, '--data-root',
                            str(tmp_path / 'hit_uav')])
    args.data_dir = args.data_root
    cfg = tool.load_cfg(args.fp_config, args, str(tmp_path / 'fp'), seed=0)
    root = str(tmp_path / 'hit_uav') + '/'
    assert cfg.train_dataloader.dataset.data_root == root
    assert cfg.val_evaluator.ann_file == \
        root + 'annotations/instances_val.json'
    recipe = tool.recipe_of(args, 'acs', 0.3)
    assert recipe['fp_config'] == fp and recipe['data_root'] == args.data_root
    assert tool.fp_key(args).startswith('retinanet_r18-slim_fpn')
    run = dict(policy='acs', seed=0, recipe=recipe)
    assert f'fp_config={fp}' in tool.label(run)
    demo = tool.recipe_of(tool.parse_args([]), 'acs', 0.3)
    old = {k: v for k, v in demo.items()
           if k not in ('fp_config', 'qat_config', 'data_root')}
    stored = dict(runs=[dict(run, recipe=old)])
    assert tool.find_run(stored, 'acs', 0, demo) is not None
    assert tool.find_run(stored, 'acs', 0, recipe) is None
    args.fp_checkpoint = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tool.fp_model(args, dict(runs=[]))


def test_detection_study_runs_the_detection_aware_options(tmp_path):
    """Class quotas and k-center go through --selection, per-object scores
    through --scorer (a recipe key of acs alone); runs stored before it
    read as the config's scorer."""
    tool = load_tool('benchmarks/detection')
    args = tool.parse_args([
        '--scorer', '{"type": "object_loss", "pool": "max"}', '--selection',
        '{"type": "kcenter", "score_weight": 1.0}'])
    args.data_dir = str(tmp_path / 'data')
    cfg, _ = tool.build_qat_cfg('acs', 0.3, 0, args, 'fp.pth',
                                str(tmp_path / 'run'))
    assert cfg.coreset.scorer == dict(type='object_loss', pool='max')
    assert cfg.coreset.selection == dict(type='kcenter', score_weight=1.0)
    cfg, _ = tool.build_qat_cfg('random_dynamic', 0.3, 0, args, 'fp.pth',
                                str(tmp_path / 'run'))
    assert cfg.coreset.get('scorer') is None
    recipe = tool.recipe_of(args, 'acs', 0.3)
    assert recipe['scorer'] == dict(type='object_loss', pool='max')
    assert tool.recipe_of(args, 'random_dynamic', 0.3)['scorer'] is None
    run = dict(policy='acs', seed=0, recipe=recipe)
    assert tool.variant_name(run) == \
        'acs kcenter (score_weight 1.0) on object_loss (pool max)'
    assert 'scorer=object_loss (pool max)' in tool.label(run)
    quotas = tool.parse_args(['--selection', '{"type": "class_aware", '
                              '"power": 0.5, "floor": 10}'])
    assert tool.variant_name(dict(
        policy='acs', seed=0, recipe=tool.recipe_of(quotas, 'acs', 0.3))) \
        == 'acs class_aware (power 0.5, floor 10)'
    # A run stored before --scorer is the config's scorer's run.
    plain = tool.recipe_of(tool.parse_args([]), 'acs', 0.3)
    old = dict(policy='acs', seed=0,
               recipe={k: v for k, v in plain.items() if k != 'scorer'})
    assert tool.find_run(dict(runs=[old]), 'acs', 0, plain) is old
    assert tool.variant_name(old) == 'acs topk (the paper)'
    with pytest.raises(SystemExit):
        tool.parse_args(['--scorer', '{no'])


def test_detection_study_passes_more_acs_options(tmp_path):
    """--acs-options reach acs's coreset config alone (e.g. a scoring
    pool, the cheaper scoring the equal-cost rows need) and name its row;
    runs stored before the key read as none."""
    tool = load_tool('benchmarks/detection')
    args = tool.parse_args(['--acs-options', '{"score_pool": 0.3}'])
    args.data_dir = str(tmp_path / 'data')
    cfg, _ = tool.build_qat_cfg('acs', 0.1, 0, args, 'fp.pth',
                                str(tmp_path / 'run'))
    assert cfg.coreset.score_pool == 0.3
    cfg, _ = tool.build_qat_cfg('random_dynamic', 0.1, 0, args, 'fp.pth',
                                str(tmp_path / 'run'))
    assert cfg.coreset.score_pool == 1.0  # the config's
    recipe = tool.recipe_of(args, 'acs', 0.1)
    assert recipe['acs_options'] == dict(score_pool=0.3)
    assert tool.recipe_of(args, 'full_steps', 0.1)['acs_options'] is None
    run = dict(policy='acs', seed=0, recipe=recipe)
    assert tool.variant_name(run) == 'acs topk (the paper) (score_pool 0.3)'
    plain = tool.recipe_of(tool.parse_args([]), 'acs', 0.1)
    old = dict(policy='acs', seed=0, recipe={
        k: v for k, v in plain.items() if k != 'acs_options'})
    assert tool.find_run(dict(runs=[old]), 'acs', 0, plain) is old
    for bad in ('[0.3]', '{no'):
        with pytest.raises(SystemExit):
            tool.parse_args(['--acs-options', bad])
    # A smaller scoring input from JSON: its lists become the tuples mmcv's
    # Resize takes, and the row names the scale.
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=[64, 48], keep_ratio=True),
                dict(type='PackDetInputs', meta_keys=['img_id', 'img_shape'])]
    args = tool.parse_args(['--acs-options',
                            json.dumps(dict(score_pipeline=pipeline))])
    args.data_dir = str(tmp_path / 'data')
    cfg, _ = tool.build_qat_cfg('acs', 0.1, 0, args, 'fp.pth',
                                str(tmp_path / 'run'))
    resize = cfg.coreset.score_pipeline[2]
    assert resize['scale'] == (64, 48)
    assert cfg.coreset.score_pipeline[3]['meta_keys'] == ('img_id',
                                                          'img_shape')
    from mmdet.registry import TRANSFORMS
    assert TRANSFORMS.build(resize).scale == (64, 48)
    choice = tool.json_to_cfg(dict(score_pipeline=[
        dict(type='RandomChoiceResize', scales=[[64, 48], [32, 24]])]))
    assert choice['score_pipeline'][0]['scales'] == [(64, 48), (32, 24)]
    run = dict(policy='acs', seed=0,
               recipe=tool.recipe_of(args, 'acs', 0.1))
    assert tool.variant_name(run) == (
        'acs topk (the paper) (score_pipeline [LoadImageFromFile, '
        'LoadAnnotations, Resize 64x48, PackDetInputs])')
