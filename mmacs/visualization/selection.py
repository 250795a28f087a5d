# Copyright (c) mmacs contributors. All rights reserved.
"""Plots of the coreset selections of a run from its ``coreset_log.jsonl``
(``tools/analysis_tools/plot_selection.py`` is the command line).

Panels: the score distribution of each scored selection (histograms, and
quantiles of the whole set beside the coreset's), the Jaccard overlap of
consecutive coresets, the class composition of each coreset (fractions of
its boxes / labels, beside the whole training set's), beta(t) and, when
the training set has known noisy samples, the noisy fraction of each
coreset against the whole set's.
"""
import json
import os.path as osp
from typing import List, Optional

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

LOG_FILE = 'coreset_log.jsonl'


def load_log(path: str) -> List[dict]:
    """The selection records of a ``coreset_log.jsonl`` (or of the one in
    the work dir ``path``).

    Raises:
        FileNotFoundError: If the log does not exist.
        ValueError: If it holds no record or a line is not a JSON object
            with an ``epoch``.
    """
    if osp.isdir(path):
        path = osp.join(path, LOG_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'no coreset log at {path!r}: run training with a coreset '
            'config (CoresetSelectionHook writes it in the work dir)')
    records = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{lineno} is not valid JSON: '
                                 f'{e}') from None
            if not isinstance(record, dict) or 'epoch' not in record:
                raise ValueError(f'{path}:{lineno} is not a selection '
                                 f'record (a JSON object with an epoch): '
                                 f'{line.strip()[:80]!r}')
            records.append(record)
    if not records:
        raise ValueError(f'the coreset log {path!r} holds no selection')
    return records


def _hist(ax, summary: dict, total: int, label: str, color,
          filled: bool) -> None:
    """A histogram as fractions of ``total`` samples."""
    edges = np.asarray(summary['hist_edges'], dtype=float)
    counts = np.asarray(summary['hist_counts'], dtype=float)
    density = counts / max(total, 1)
    if filled:
        ax.stairs(density, edges, fill=True, alpha=0.25, color=color)
    ax.stairs(density, edges, label=label, color=color)


def _num_scored(record: dict) -> int:
    """The samples a selection scored (a pool in the ``score_pool`` mode)."""
    return record.get('num_scored', record['num_samples'])


def plot_scores(ax, records: List[dict]) -> None:
    """Score histograms of the whole set, one line per scored selection."""
    scored = [r for r in records if r.get('score')]
    if not scored:
        ax.text(0.5, 0.5, 'no scores (policy without scoring)',
                ha='center', va='center', transform=ax.transAxes)
    colors = colormaps['viridis'](np.linspace(0, 0.9, max(len(scored), 1)))
    for color, record in zip(colors, scored):
        _hist(ax, record['score'], _num_scored(record),
              f"epoch {record['epoch']}", color, filled=False)
    if scored and scored[-1].get('score_selected'):
        last = scored[-1]
        _hist(ax, last['score_selected'], _num_scored(last),
              f"selected, epoch {last['epoch']}", 'tab:red', filled=True)
    ax.set_title('score distribution (scored samples; shaded: last coreset)')
    ax.set_xlabel('combined score d')
    # The logged histograms span the 1st-99th percentile of each selection
    # (older logs: min to max); the counts of the tails are logged beside.
    if any(r['score'].get('hist_below', 0) + r['score'].get('hist_above', 0)
           for r in scored):
        ax.set_xlabel('combined score d (1st-99th percentile of each '
                      'selection; tails not drawn)')
    ax.set_ylabel('fraction of samples')
    if scored:
        ax.legend(fontsize='x-small', ncol=2)


def plot_quantiles(ax, records: List[dict]) -> None:
    """Box plots (from the logged quantiles) of the whole set's scores and
    of the coreset's, per scored selection."""
    scored = [r for r in records if r.get('score')]
    stats, positions, colors = [], [], []
    for i, record in enumerate(scored):
        for offset, key, color in ((-0.2, 'score', 'tab:blue'),
                                   (0.2, 'score_selected', 'tab:red')):
            summary = record.get(key)
            if not summary:
                continue
            stats.append(
                dict(
                    med=summary['median'],
                    q1=summary['q25'],
                    q3=summary['q75'],
                    whislo=summary['min'],
                    whishi=summary['max'],
                    mean=summary['mean'],
                    fliers=[]))
            positions.append(i + offset)
            colors.append(color)
    if stats:
        boxes = ax.bxp(
            stats, positions=positions, widths=0.35, showmeans=True,
            patch_artist=True)
        for box, color in zip(boxes['boxes'], colors):
            box.set_facecolor(color)
            box.set_alpha(0.4)
        ax.set_xticks(range(len(scored)),
                      [str(r['epoch']) for r in scored])
        lows = [st['whislo'] for st in stats]
        if min(lows) > 0 and max(st['whishi'] / max(st['q3'], 1e-12)
                                 for st in stats) > 5:
            ax.set_yscale('log')  # long tails: keep the boxes readable
        ax.plot([], [], color='tab:blue', alpha=0.4, lw=6,
                label='whole set')
        ax.plot([], [], color='tab:red', alpha=0.4, lw=6, label='coreset')
        ax.legend(fontsize='x-small')
    else:
        ax.text(0.5, 0.5, 'no scores (policy without scoring)',
                ha='center', va='center', transform=ax.transAxes)
    ax.set_title('score quantiles (min, q25, median, q75, max)')
    ax.set_xlabel('epoch')


def _epoch_axis(ax, records: List[dict]) -> None:
    epochs = [r['epoch'] for r in records]
    ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel('epoch')


def plot_jaccard(ax, records: List[dict]) -> None:
    pairs = [(r['epoch'], r['jaccard_prev']) for r in records
             if r.get('jaccard_prev') is not None]
    if pairs:
        ax.plot(*zip(*pairs), marker='o')
    else:
        ax.text(0.5, 0.5, 'a single selection', ha='center', va='center',
                transform=ax.transAxes)
    ax.set_ylim(0, 1.05)
    ax.set_title('Jaccard overlap with the previous coreset')
    _epoch_axis(ax, records)


def plot_beta(ax, records: List[dict]) -> None:
    ax.plot([r['epoch'] for r in records], [r['beta'] for r in records],
            marker='o', color='tab:purple')
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(r'$\beta(t)$: weight of EVS against DS')
    _epoch_axis(ax, records)


def plot_classes(ax, records: List[dict]) -> None:
    """Stacked class fractions of each coreset, then of the whole set."""
    names = []
    for record in records:
        for name in list(record.get('class_counts_all') or {}) + list(
                record.get('class_counts') or {}):
            if name not in names:
                names.append(name)
    columns = [(str(r['epoch']), r.get('class_counts') or {})
               for r in records]
    columns.append(('all', records[-1].get('class_counts_all') or {}))
    x = np.arange(len(columns))
    bottom = np.zeros(len(columns))
    colors = colormaps['tab20'](np.linspace(0, 1, max(len(names), 1)))
    for color, name in zip(colors, names):
        frac = np.array([
            counts.get(name, 0) / max(sum(counts.values()), 1)
            for _, counts in columns
        ])
        ax.bar(x, frac, bottom=bottom, color=color, label=name)
        bottom += frac
    ax.set_xticks(x, [c[0] for c in columns])
    ax.set_ylim(0, 1)
    ax.set_title('class composition of each coreset')
    ax.set_xlabel('epoch')
    ax.set_ylabel('fraction of labels')
    if names and len(names) <= 20:
        ax.legend(fontsize='x-small', loc='center left',
                  bbox_to_anchor=(1.0, 0.5))


def plot_noise(ax, records: List[dict]) -> None:
    pts = [(r['epoch'], r['noisy_fraction'], r.get('noisy_fraction_all'))
           for r in records if r.get('noisy_fraction') is not None]
    epochs = [p[0] for p in pts]
    ax.plot(epochs, [p[1] for p in pts], marker='o', label='coreset')
    ax.plot(epochs, [p[2] for p in pts], linestyle='--', color='gray',
            label='whole set')
    ax.set_ylim(0, 1.05)
    ax.set_title('noisy fraction')
    _epoch_axis(ax, records)
    ax.legend(fontsize='small')


def plot_selection(records: List[dict], out: str,
                   title: Optional[str] = None) -> str:
    """Draw the selection panels of ``records`` into the PNG ``out``."""
    noisy = any(r.get('noisy_fraction') is not None for r in records)
    panels = [
        plot_scores, plot_quantiles, plot_jaccard, plot_classes, plot_beta
    ]
    if noisy:
        panels.append(plot_noise)
    ncols = 3
    nrows = int(np.ceil(len(panels) / ncols))
    # A Figure without pyplot: no global backend, nothing to close.
    fig = Figure(figsize=(5.5 * ncols, 4 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        panel(ax, records)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    first = records[0]
    fig.suptitle(
        title or f"coreset selection: policy {first.get('policy')}, "
        f"f = {first.get('fraction', 0):.2f}, "
        f"{first.get('num_selected')}/{first.get('num_samples')} samples, "
        f'{len(records)} selections')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return out
