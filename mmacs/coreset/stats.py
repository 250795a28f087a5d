# Copyright (c) mmacs contributors. All rights reserved.
"""Summaries of one coreset selection, for logs and plots."""
from collections import Counter
from typing import List, Optional, Sequence

import torch
from torch import Tensor


def score_summary(scores: Tensor, bins: int = 20) -> dict:
    """Mean, std, quantiles and a histogram of the scored samples of
    ``scores`` (NaN marks a sample that was not scored).

    The histogram spans the 1st to the 99th percentile, so that a few
    extreme scores (detection losses have long tails) do not squeeze the
    bulk into one bin; ``hist_below`` / ``hist_above`` count the samples
    outside it, so the counts still add up to the scored samples.
    """
    s = scores.double()
    s = s[~torch.isnan(s)]
    if s.numel() == 0:
        raise ValueError('score_summary got no scored sample')
    q = torch.quantile(
        s,
        torch.tensor([0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0],
                     dtype=torch.float64))
    lo, hi = float(q[0]), float(q[-1])
    h_lo, h_hi = float(q[1]), float(q[5])
    if h_hi <= h_lo:  # (nearly) constant scores: one range for all
        h_lo, h_hi = lo, (hi if hi > lo else lo + 1)
    # histc leaves out the values outside [h_lo, h_hi].
    counts = torch.histc(s, bins=bins, min=h_lo, max=h_hi)
    edges = torch.linspace(h_lo, h_hi, bins + 1, dtype=torch.float64)
    return dict(
        mean=float(s.mean()),
        std=float(s.std()) if s.numel() > 1 else 0.0,
        min=lo,
        q01=float(q[1]),
        q25=float(q[2]),
        median=float(q[3]),
        q75=float(q[4]),
        q99=float(q[5]),
        max=hi,
        hist_edges=[round(float(e), 6) for e in edges],
        hist_counts=[int(c) for c in counts],
        hist_below=int((s < h_lo).sum()),
        hist_above=int((s > h_hi).sum()))


def jaccard(a: Tensor, b: Tensor) -> float:
    """|a & b| / |a | b| of two index sets."""
    sa, sb = set(a.tolist()), set(b.tolist())
    union = len(sa | sb)
    return len(sa & sb) / union if union else 1.0


def class_counts(indices: Sequence[int], cat_ids: List[List[int]],
                 classes: Sequence[str]) -> dict:
    """Instances per class over the samples ``indices``."""
    counter = Counter()
    for i in indices:
        counter.update(cat_ids[i])
    name = (lambda c: classes[c] if c < len(classes) else str(c))
    return {name(c): n for c, n in sorted(counter.items())}


def dataset_labels(dataset, single_label: bool) -> tuple:
    """The category ids of every sample of ``dataset``, its class names and,
    for ``single_label`` (class-balanced selection, which checks that each
    sample has exactly one), the ``[N]`` labels (else None)."""
    cat_ids = [list(dataset.get_cat_ids(i)) for i in range(len(dataset))]
    if single_label and any(len(c) != 1 for c in cat_ids):
        bad = [i for i, c in enumerate(cat_ids) if len(c) != 1]
        raise ValueError(
            'class_balance=True needs a single label per sample, but '
            f'samples {bad[:10]} have {len(cat_ids[bad[0]])}; set '
            'class_balance=False')
    labels = torch.tensor([c[0] for c in cat_ids]) if single_label else None
    return cat_ids, list((dataset.metainfo or {}).get('classes', [])), labels


def selection_record(epoch: int, round_idx: int, policy: str, beta: float,
                     num_samples: int, indices: Tensor,
                     previous: Optional[Tensor], scores: Optional[dict],
                     cat_ids: List[List[int]], classes: Sequence[str],
                     noisy: Optional[Sequence[int]],
                     timing: Optional[dict] = None) -> dict:
    """One JSON-serialisable line of ``coreset_log.jsonl`` (the hook adds
    the ``timing``)."""
    chosen = indices.tolist()
    record = dict(
        epoch=epoch,
        round=round_idx,
        policy=policy,
        beta=beta,
        num_samples=num_samples,
        num_selected=len(chosen),
        fraction=len(chosen) / num_samples,
        jaccard_prev=None if previous is None else jaccard(indices, previous),
        class_counts=class_counts(chosen, cat_ids, classes),
        class_counts_all=class_counts(range(num_samples), cat_ids, classes),
        noisy_fraction=None,
        noisy_fraction_all=None)
    if scores is not None:
        record['score'] = score_summary(scores['combined'])
        record['score_selected'] = score_summary(scores['combined'][indices])
        record['evs'] = score_summary(scores['evs'])
        # DS is not computed while it has no weight (beta = 1).
        record['ds'] = None if scores['ds'] is None else score_summary(
            scores['ds'])
        record['num_scored'] = int((~torch.isnan(scores['evs'])).sum())
    if noisy is not None:
        noisy = set(int(i) for i in noisy)
        record['noisy_fraction'] = sum(i in noisy
                                       for i in chosen) / len(chosen)
        record['noisy_fraction_all'] = len(noisy) / num_samples
    record.update({k: float(v) for k, v in (timing or {}).items()})
    return record
