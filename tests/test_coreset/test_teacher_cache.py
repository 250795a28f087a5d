# Copyright (c) mmacs contributors. All rights reserved.
import gc

import torch

from mmacs.coreset import TeacherCache


def batch(indices, classes=10):
    return dict(logits=torch.stack([
        torch.full((classes, ), float(i)) for i in indices]))


def test_round_trip_across_batches():
    cache = TeacherCache()
    cache.put([3, 7, 1], batch([3, 7, 1]))
    cache.put([4, 0], batch([4, 0]))
    assert len(cache) == 5
    out = cache.get([0, 7, 3], batch([0, 0, 0]))
    assert torch.equal(out['logits'], batch([0, 7, 3])['logits'])
    assert cache.get([0, 9], batch([0, 0])) is None  # 9 never cached
    # Another layout (e.g. other feature-map sizes) is a miss.
    assert cache.get([0, 7], batch([0, 0], classes=5)) is None


def test_budget_keeps_what_fits_and_says_full():
    per_sample = 10 * 4
    cache = TeacherCache(max_bytes=3 * per_sample)
    cache.put([0, 1], batch([0, 1]))
    assert not cache.full
    cache.put([2, 3], batch([2, 3]))
    assert cache.full and len(cache) == 3 and cache.nbytes == 3 * per_sample
    assert cache.get([2], batch([0])) is not None
    assert cache.get([3], batch([0])) is None


def test_cached_samples_add_no_objects_for_the_garbage_collector():
    cache = TeacherCache()
    gc.collect()
    before = len(gc.get_objects())
    for start in range(0, 5000, 100):
        ids = list(range(start, start + 100))
        cache.put(ids, batch(ids))
    gc.collect()
    # One chunk per batch (50), not one container per sample (5000).
    assert len(gc.get_objects()) - before < 500
    assert len(cache) == 5000


def test_cache_keeps_a_copy_not_a_view_of_the_batch():
    out = batch([5, 6])
    cache = TeacherCache()
    cache.put([5, 6], out)
    out['logits'].zero_()  # the caller reuses its buffer
    got = cache.get([6, 5], batch([0, 0]))
    assert torch.equal(got['logits'], batch([6, 5])['logits'])
