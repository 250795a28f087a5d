# Copyright (c) mmacs contributors. All rights reserved.
"""One rank of the 2-process gloo test (run by torchrun).

Trains the toy QAT + ACS task with a real mmengine Runner under
``launcher='pytorch'`` (DDP over gloo) and writes what the rank saw to
``<work_dir>/rank<k>.json``; with a second argument ``reuse``, three
epochs with ``score_reuse``.
"""
import json
import os
import sys
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

import mmacs  # noqa: E402,F401
from mmacs.engine import (CoresetSelectionHook, QATRunner,  # noqa: E402
                          release_process_group)
from mmacs.testing.toy import toy_cfg  # noqa: E402


def main(work_dir, reuse=False):
    cfg = toy_cfg(work_dir, max_epochs=3 if reuse else 2, fraction=0.25)
    if reuse:
        cfg.coreset.update(score_reuse=True, score_pool=0.5)
    cfg.launcher = 'pytorch'
    cfg.experiment_name = 'dist'
    seen = []

    original = CoresetSelectionHook.new_round

    def new_round(self, runner, epoch):
        original(self, runner, epoch)
        self.sampler.set_epoch(epoch)
        seen.append(
            dict(epoch=epoch, indices=self.indices.tolist(),
                 shard=list(self.sampler),
                 scores=self.store.scores['combined'].tolist()))

    with mock.patch.object(CoresetSelectionHook, 'new_round', new_round):
        runner = QATRunner.from_cfg(cfg)
        runner.train()
        wrapped = type(runner.model).__name__
    rank = int(os.environ['RANK'])
    with open(os.path.join(work_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(dict(selections=seen, wrapper=wrapped), f)
    release_process_group(runner)


if __name__ == '__main__':
    main(sys.argv[1], reuse=sys.argv[2:] == ['reuse'])
