# Copyright (c) mmacs contributors. All rights reserved.
"""Where a coreset selection is reported: the runner's log, its visualizer
scalars and a JSON-lines file in the work dir (one record a selection, see
:func:`mmacs.coreset.stats.selection_record`)."""
import json
import os
import os.path as osp
import time

from mmengine.dist import is_main_process


def log_selection(runner, record: dict, timing: dict, log_file: str) -> None:
    """Report ``record`` with its ``timing`` (seconds and counts) in the
    log, as scalars and as a line of ``log_file``."""
    record = dict(record, **{k: float(v) for k, v in timing.items()})
    score = record.get('score') or {}
    msg = (f"coreset epoch {record['epoch']}: {record['policy']} selected "
           f"{record['num_selected']}/{record['num_samples']}, "
           f"beta={record['beta']:.3f}")
    if score:
        msg += (f", score mean={score['mean']:.4f} "
                f"std={score['std']:.4f}")
    if record['jaccard_prev'] is not None:
        msg += f", jaccard(prev)={record['jaccard_prev']:.3f}"
    if record['noisy_fraction'] is not None:
        msg += f", noisy={record['noisy_fraction']:.3f}"
    msg += f", scoring {record['score_seconds']:.1f}s"
    if record.get('teacher_cache_hits'):
        msg += (f" (teacher cache: {record['teacher_cache_hits']:.0f} "
                f"hits, ~{record['teacher_seconds_saved']:.1f}s saved)")
    runner.logger.info(msg)
    scalars = {
        'coreset/beta': record['beta'],
        'coreset/score_seconds': record['score_seconds'],
    }
    if score:
        scalars['coreset/score_mean'] = score['mean']
        scalars['coreset/score_std'] = score['std']
    if record['jaccard_prev'] is not None:
        scalars['coreset/jaccard_prev'] = record['jaccard_prev']
    if record['noisy_fraction'] is not None:
        scalars['coreset/noisy_fraction'] = record['noisy_fraction']
    runner.visualizer.add_scalars(scalars, step=record['epoch'])
    if is_main_process():
        with open(osp.join(runner.work_dir, log_file), 'a') as f:
            f.write(json.dumps(record) + '\n')


def truncate_log(runner, log_file: str, epoch: int) -> None:
    """Drop the lines of ``log_file`` of selections at epochs >= ``epoch``:
    a run resumed at ``epoch`` makes them again."""
    path = osp.join(runner.work_dir, log_file)
    if not osp.isfile(path):
        return
    with open(path) as f:
        lines = f.readlines()
    keep = [line for line in lines
            if not line.strip() or json.loads(line)['epoch'] < epoch]
    if len(keep) < len(lines):
        with open(path, 'w') as f:
            f.writelines(keep)
        runner.logger.info(
            f'{log_file}: dropped {len(lines) - len(keep)} '
            f'selection(s) made after the checkpoint (epoch >= {epoch}); '
            'they are made again')


def archive_log(runner, log_file: str) -> None:
    """Move the ``log_file`` an earlier run left in the work dir to
    ``<name>-<its last write time>.jsonl``: a fresh run starts its own log
    and the earlier one is kept."""
    path = osp.join(runner.work_dir, log_file)
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return
    root, ext = osp.splitext(path)
    stamp = time.strftime('%Y%m%d_%H%M%S',
                          time.localtime(osp.getmtime(path)))
    target, n = f'{root}-{stamp}{ext}', 1
    while osp.exists(target):
        target, n = f'{root}-{stamp}-{n}{ext}', n + 1
    os.replace(path, target)
    runner.logger.info(f'{log_file}: an earlier run\'s log in the work dir '
                       f'moved to {osp.basename(target)}; this run starts '
                       'a new one')


def start_log(runner, log_file: str, loaded_epoch) -> None:
    """Before training: a fresh run archives the log an earlier run left
    (:func:`archive_log`), a run resumed from the checkpoint of epoch
    ``loaded_epoch`` drops the lines it makes again
    (:func:`truncate_log`); only the main process writes."""
    if not is_main_process():
        return
    if loaded_epoch is not None and 0 < runner.epoch == loaded_epoch:
        truncate_log(runner, log_file, runner.epoch)
    elif runner.epoch == 0:
        archive_log(runner, log_file)
