# Copyright (c) mmacs contributors. All rights reserved.
"""The study's statistics and its result pages (``docs/results``), which
are regenerated from ``results/*.json`` and compared."""
import json

import pytest

from mmacs.testing import REPO, load_tool

report = load_tool('benchmarks/report')
paired_stats, seed_stats = report.paired_stats, report.seed_stats


def test_paired_stats_compares_seed_by_seed():
    base = {0: 80.0, 1: 81.0, 2: 80.5}
    vs = paired_stats({0: 81.0, 1: 81.5, 2: 81.5, 3: 99.0}, base)
    # Seed 3 has no baseline run: it does not count.
    assert vs['seeds'] == [0, 1, 2]
    assert vs['diff_mean'] == pytest.approx(2.5 / 3)
    assert (vs['diff_min'], vs['diff_max']) == (0.5, 1.0)
    assert vs['above'] == 3
    assert vs['spread'] == pytest.approx(seed_stats(base.values())['std'])
    assert vs['beats']  # 0.83 > max(0.29, 0.50)


def test_paired_stats_needs_more_than_the_spread():
    base = {0: 80.0, 1: 82.0, 2: 81.0}
    # Above on every seed, but by less than the baseline's spread (1.0).
    vs = paired_stats({0: 80.5, 1: 82.5, 2: 81.5}, base)
    assert vs['above'] == 3 and not vs['beats']
    # A larger mean gain made of one lucky seed: beyond the variant's own
    # spread it does not count either.
    vs = paired_stats({0: 79.0, 1: 81.0, 2: 86.0}, base)
    assert vs['diff_mean'] == pytest.approx(1.0) and not vs['beats']
    # One seed decides nothing.
    assert not paired_stats({0: 90.0}, base)['beats']


def test_paired_stats_without_common_seeds_names_them():
    with pytest.raises(ValueError, match=r'\[3\].*\[0, 1\]'):
        paired_stats({3: 1.0}, {0: 1.0, 1: 2.0})


def test_result_pages_are_the_output_of_the_results_files(tmp_path):
    """``docs/results`` is what ``report.py --write`` makes of
    ``results/*.json``, page for page (regenerate it after adding runs)."""
    pages = REPO / 'docs' / 'results'
    written = report.main(['--write', str(tmp_path)])
    assert {p.name for p in pages.glob('*.md')} == set(written)
    for name in written:
        assert (pages / name).read_text() == (tmp_path / name).read_text(), (
            f'docs/results/{name} is stale: python '
            'tools/benchmarks/report.py --write docs/results')
    assert {'README.md', 'cifar_verdict.md', 'quality_w2a2.md',
            'detection_demo.md'} <= set(written)
    report.main(['--check', str(pages)])
    (tmp_path / 'cifar_verdict.md').write_text('hand-edited\n')
    with pytest.raises(SystemExit):
        report.main(['--check', str(tmp_path)])


def test_cifar_pages_mark_the_teacher_that_saw_the_hold_out(tmp_path):
    quality = load_tool('benchmarks/quality')
    results = tmp_path / 'results'
    results.mkdir()
    recipe = quality.recipe_of(quality.parse_args([]))  # the clean protocol

    def run(policy, seed, top1, **changes):
        return dict(setting='w2a2', policy=policy, seed=seed, top1=top1,
                    recipe=dict(recipe, **changes), wall_seconds=20.0,
                    score_seconds=5.0, random_draws=None)

    clean = [dict(run(p, s, 80.0 + s + (p == 'acs')),
                  teacher_digest='0123456789ab')
             for p in ('acs', 'random_dynamic') for s in range(3)]
    old = dict(clean[0], recipe={k: v for k, v in recipe.items()
                                 if k not in ('teacher', 'eval_split')})
    del old['teacher_digest']  # stored before runs recorded it
    (results / 'quality_clean.json').write_text(json.dumps(dict(runs=clean)))
    (results / 'quality_old.json').write_text(json.dumps(dict(runs=[old])))
    pages = report.pages(str(results))
    assert not pages['quality_clean.md'].count('saw the hold-out**')
    assert pages['quality_old.md'].splitlines()[2].startswith(
        '**Measured against a teacher that saw the hold-out**')
    # The clean runs: acs one point above random on every seed.
    table = pages['quality_clean.md']
    assert 'clean FP teacher' in table
    # The runs name their teacher checkpoint; runs stored before, nothing.
    assert 'Teacher checkpoint (SHA-256) `0123456789ab`: 6 runs.' in table
    assert 'SHA-256' not in pages['quality_old.md']
    assert '| `acs` | 81.00 | 82.00 | 83.00 | 82.00 ± 1.00 | 81.00 | ' \
        '83.00 | 20 (15 + 5) | +1.00 (+1.00, +1.00) | 3/3 | no |' in table
    # A results file no study reads has no page: an error, not a gap.
    (results / 'other.json').write_text(json.dumps(dict(runs=[])))
    with pytest.raises(ValueError, match='other.json'):
        report.pages(str(results))
