# Copyright (c) mmacs contributors. All rights reserved.
import json

import pytest

from mmacs.testing import load_tool
from mmacs.visualization import selection

plot_selection = load_tool('analysis_tools/plot_selection')

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def summary(lo, hi):
    return dict(
        mean=(lo + hi) / 2, std=1.0, min=lo, q25=lo, median=(lo + hi) / 2,
        q75=hi, max=hi, hist_edges=[lo, (lo + hi) / 2, hi],
        hist_counts=[3, 7])


def record(epoch, noisy=True, scored=True):
    rec = dict(
        epoch=epoch, round=epoch, policy='acs', beta=1.0 - 0.3 * epoch,
        num_samples=10, num_selected=3, fraction=0.3,
        jaccard_prev=None if epoch == 0 else 0.5,
        class_counts=dict(circle=2 + epoch, ring=1),
        class_counts_all=dict(circle=6, ring=3, star=4),
        noisy_fraction=0.1 * epoch if noisy else None,
        noisy_fraction_all=0.2 if noisy else None,
        score_seconds=1.0, select_seconds=0.0)
    if scored:
        rec.update(score=summary(0, 2), score_selected=summary(1, 2),
                   evs=summary(0, 1), ds=summary(0, 1))
    return rec


def write_log(path, records):
    with open(path / 'coreset_log.jsonl', 'w') as f:
        for rec in records:
            f.write(json.dumps(rec) + '\n')


@pytest.mark.parametrize('noisy, scored', [(True, True), (False, False)])
def test_writes_png(tmp_path, noisy, scored):
    write_log(tmp_path, [record(e, noisy, scored) for e in range(3)])
    out = tmp_path / 'sel.png'
    assert plot_selection.main([str(tmp_path), '--out', str(out)]) == str(
        out)
    with open(out, 'rb') as f:
        assert f.read(8) == PNG_MAGIC


def test_default_output_in_work_dir(tmp_path):
    write_log(tmp_path, [record(0)])
    out = plot_selection.main([str(tmp_path)])
    assert out == str(tmp_path / 'coreset_selection.png')
    with open(out, 'rb') as f:
        assert f.read(8) == PNG_MAGIC


def test_missing_log(tmp_path):
    with pytest.raises(FileNotFoundError, match='no coreset log'):
        plot_selection.main([str(tmp_path)])


def test_empty_log(tmp_path):
    (tmp_path / 'coreset_log.jsonl').write_text('\n')
    with pytest.raises(ValueError, match='holds no selection'):
        plot_selection.main([str(tmp_path)])


@pytest.mark.parametrize('line', ['{not json', '[1, 2]', '{"beta": 1}'])
def test_bad_lines(tmp_path, line):
    (tmp_path / 'coreset_log.jsonl').write_text(line + '\n')
    with pytest.raises(ValueError, match='coreset_log.jsonl:1'):
        selection.load_log(str(tmp_path))


@pytest.mark.parametrize('tails, note', [(0, False), (3, True)])
def test_score_axis_says_when_tails_are_not_drawn(tails, note):
    import matplotlib.pyplot as plt
    rec = record(0)
    rec['score'].update(hist_below=0, hist_above=tails)
    fig, ax = plt.subplots()
    try:
        selection.plot_scores(ax, [rec])
        assert ('tails not drawn' in ax.get_xlabel()) == note
    finally:
        plt.close(fig)
