# Copyright (c) mmacs contributors. All rights reserved.
"""The core of the resumable multi-seed studies (``quality``,
``detection``): a run's recipe and its config overrides, the results file
that stores every finished run (found again by its identity and recipe, so
a study resumes and parallel invocations merge), the run's own resume from
its last checkpoint, and the loop over the runs a call asks for."""
import hashlib
import json
import os
import os.path as osp
import statistics
import time
from typing import Callable, Iterable, Optional, Sequence, Tuple


def add_results_args(parser, default_name: str, report_help: str) -> None:
    """Add the options of a resumable study's results file to ``parser``:
    ``--report`` (``report_help``), ``--baseline`` (with it, the variant
    every other is compared with, seed by seed), ``--out`` (default
    ``<work-dir>/<default_name>``) and ``--merge``."""
    parser.add_argument('--report', action='store_true', help=report_help)
    parser.add_argument('--baseline', metavar='VARIANT',
                        help='with --report: compare every variant with '
                        'this one, a name as the report prints it (e.g. '
                        '"random_dynamic"), seed by seed')
    parser.add_argument('--out', help='results JSON (read and extended); '
                        f'default: <work-dir>/{default_name}')
    parser.add_argument('--merge', nargs='+', default=[], metavar='FILE',
                        help='results files of other invocations (e.g. '
                        'seeds run in parallel) whose runs are added to '
                        '--out first')


def add_run_args(parser, policies: Sequence[str],
                 default_policies: Sequence[str], epochs: int,
                 interval: int) -> None:
    """Add the options that say which runs a study trains to ``parser``:
    ``--policies`` (of ``policies``), ``--seeds``, ``--epochs``,
    ``--interval`` and ``--selection`` (JSON; ``common.json_option``
    parses it)."""
    parser.add_argument('--policies', nargs='+',
                        default=list(default_policies), choices=policies)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=epochs,
                        help=f'QAT epochs (default {epochs})')
    parser.add_argument('--interval', type=int, default=interval,
                        help='R: epochs between selections')
    parser.add_argument('--selection', default=None,
                        help="acs's selection rule as JSON, e.g. "
                        '\'{"type": "stratified"}\' (default: top-k, the '
                        "paper's, whatever the config says)")


def load_results(path: str) -> dict:
    """The results file ``path`` of a study (a JSON object with a ``runs``
    list), or an empty one when it does not exist."""
    if not osp.isfile(path):
        return dict(runs=[])
    with open(path) as f:
        results = json.load(f)
    if not isinstance(results, dict) or not isinstance(
            results.get('runs'), list):
        raise ValueError(f'{path} is not a results file of this benchmark '
                         "(a JSON object with a 'runs' list)")
    return results


def save_results(path: str, results: dict) -> None:
    """Write ``results`` to ``path`` atomically (a crash mid-write leaves
    the previous file)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, path)


def random_draws(policy: str) -> Optional[str]:
    """What a run of ``policy`` trained now records as its
    ``random_draws``: how its random draws were seeded (None for a
    policy that draws no random coreset)."""
    from mmacs.coreset.policies import RANDOM_DRAWS
    return RANDOM_DRAWS if policy.startswith('random') else None


class RunStore:
    """How a study finds its runs in a results file.

    A run is the same run when its ``identity`` fields (e.g. setting,
    policy, seed, teacher checkpoint) and its recipe match; an identity
    field a stored run lacks reads as None. Recipe keys added after runs were
    stored read, in those runs, as the value they had then
    (``late_defaults``), so old files keep loading and old runs keep
    their meaning.

    Args:
        identity (Sequence[str]): The run fields besides the recipe that
            tell runs apart.
        late_defaults (dict): ``{recipe key: the value runs stored without
            it had}``.
    """

    def __init__(self, identity: Sequence[str], late_defaults: dict) -> None:
        self.identity = tuple(identity)
        self.late_defaults = dict(late_defaults)

    def recipe(self, run: dict) -> dict:
        """The full recipe of a stored ``run``."""
        return dict(self.late_defaults, **run['recipe'])

    def key(self, run: dict) -> tuple:
        return tuple(run.get(k) for k in self.identity) + (json.dumps(
            self.recipe(run), sort_keys=True), )

    def find(self, results: dict, run: dict) -> Optional[dict]:
        """The stored run of ``results`` that is ``run`` (a dict with the
        identity fields and a ``recipe``), or None."""
        key = self.key(run)
        for stored in results['runs']:
            if self.key(stored) == key:
                return stored
        return None

    def merge(self, results: dict, paths: Iterable[str]) -> int:
        """Add the runs of the results files ``paths`` that ``results``
        does not hold, or that replace the one it holds: a rerun of a
        random policy with independent draws replaces one stored with
        shared draws (or before runs recorded them), never the other way.
        Other top-level entries (e.g. the FP models of ``detection``) are
        added where ``results`` lacks them. The number of runs added or
        replaced."""
        from mmacs.coreset.policies import RANDOM_DRAWS
        added = 0
        for path in paths:
            other = load_results(path)
            for name, entry in other.items():
                if name != 'runs' and isinstance(entry, dict):
                    held = results.setdefault(name, {})
                    for key, value in entry.items():
                        held.setdefault(key, value)
            for run in other['runs']:
                stored = self.find(results, run)
                if stored is None:
                    results['runs'].append(run)
                elif (run.get('random_draws') == RANDOM_DRAWS
                      and stored.get('random_draws') != RANDOM_DRAWS):
                    results['runs'][results['runs'].index(stored)] = run
                else:
                    continue
                added += 1
        return added


def run_all(store: RunStore, results: dict, out: str, wanted: Iterable[dict],
            train: Callable[[dict], dict],
            describe: Callable[[dict], Tuple[str, str]]) -> list:
    """The runs ``wanted`` (each the identity fields and the recipe of a
    run), from ``results`` where it holds them, else trained by
    ``train(wanted run)`` and saved to ``out`` at once (an interrupted
    study resumes where it stopped). ``describe(run)`` gives the name and
    the result printed for a run taken from the file."""
    runs = []
    for probe in wanted:
        run = store.find(results, probe)
        if run is None:
            run = train(probe)
            results['runs'].append(run)
            save_results(out, results)
        else:
            name, result = describe(run)
            print(f'{name} from {out}: {result}', flush=True)
        runs.append(run)
    return runs


def open_results(store: RunStore, args, prefix: str, default_name: str):
    """Start a study call: the device name (``args.device_name``), the work
    dir (a temporary one without ``--work-dir``), and the results file
    ``--out`` (default ``<work-dir>/<default_name>``) with the runs of the
    ``--merge`` files added and saved. Returns ``(results, out, tmp,
    start)``, ``tmp`` the temporary dir to clean up (or None)."""
    from benchmarks import common
    args.device_name = common.device_label(args.device)
    start = time.perf_counter()
    tmp = common.benchmark_work_dir(args, prefix)
    out = args.out or osp.join(args.work_dir, default_name)
    results = load_results(out)
    if args.merge:
        print(f'merged {store.merge(results, args.merge)} runs into {out}',
              flush=True)
        save_results(out, results)
    return results, out, tmp, start


def finish_study(result: dict, args, out: str, tmp, start: float) -> dict:
    """``common.finish_benchmark`` of a study call's ``result``, with the
    device and the results file (None when it was in a temporary work
    dir, removed now)."""
    from benchmarks import common
    result.update(device=args.device_name,
                  results_file=None if tmp is not None else osp.abspath(out))
    return common.finish_benchmark(result, tmp, start)


def print_verdict(store: RunStore, files: Sequence[str],
                  rows: Callable[[list], list],
                  table: Callable[[list], str]) -> dict:
    """The verdict over the results ``files`` (each run once): ``rows`` of
    their runs, printed as the markdown ``table`` and then as JSON."""
    held = dict(runs=[])
    store.merge(held, files)
    verdict = rows(held['runs'])
    print(table(verdict))
    print(json.dumps(dict(verdict=verdict)))
    return dict(verdict=verdict)


#: The policies that score samples (the others draw at random or take
#: all): only they read the selection rule and the teacher filter.
SCORED = ('acs', 'el2n')


def coreset_overrides(policy: str,
                      fraction: float,
                      interval: int,
                      seed: int,
                      epochs: int,
                      selection=None,
                      teacher_filter: Optional[dict] = None
                      ) -> Tuple[dict, int]:
    """The ``coreset`` config of a run of ``policy`` and its epochs.

    ``full`` trains on all the data for ``epochs``; ``full_steps`` for
    ``round(fraction x epochs)`` epochs (at least 1; the same number of
    training steps as a coreset run). A scoring policy gets the selection
    rule (None: the paper's top-k, whatever the config's default, so that
    stored runs keep their meaning) and the teacher filter (None: none);
    the others get no teacher filter.
    """
    coreset = dict(policy=policy, fraction=fraction, interval=interval,
                   seed=seed, teacher_filter=None)
    if policy in SCORED:
        coreset.update(selection='topk' if selection is None else selection,
                       teacher_filter=teacher_filter)
    elif policy in ('full', 'full_steps'):
        if policy == 'full_steps':
            epochs = max(1, int(round(fraction * epochs)))
        coreset.update(policy='full', fraction=1.0, interval=epochs)
    return coreset, epochs


def wall_ratio(runs: Iterable[dict], first: Callable[[dict], bool],
               second: Callable[[dict], bool], what: str) -> float:
    """The mean wall seconds of the ``runs`` that ``first`` picks over
    those of the runs ``second`` picks (``random_timed``'s time given
    back); a ValueError names ``what`` needs them when either is empty."""
    walls = ([], [])
    for run in runs:
        for picked, pick in zip(walls, (first, second)):
            if pick(run):
                picked.append(run['wall_seconds'])
    if not all(walls):
        raise ValueError(
            f'{what} needs acs and random_dynamic runs of this recipe in '
            '--out to measure their wall-time ratio (run them first, before '
            'random_timed in --policies) or --time-ratio')
    return statistics.fmean(walls[0]) / statistics.fmean(walls[1])


def recipe_digest(recipe: dict, omit_defaults: dict) -> str:
    """A short hash of ``recipe`` that leaves out the keys of
    ``omit_defaults`` where the recipe holds their value there (keys added
    after runs got their directories: those runs keep their names)."""
    named = {
        k: v
        for k, v in recipe.items()
        if k not in omit_defaults or v != omit_defaults[k]
    }
    return hashlib.sha1(json.dumps(named,
                                   sort_keys=True).encode()).hexdigest()[:10]


def epoch_clock(work_dir: str, start: float):
    """A hook that records in ``clock.json`` of the run's work dir the wall
    seconds (since ``start``) the run has spent when each epoch ends, so a
    resumed run adds the seconds spent up to the checkpoint it resumes
    from; ``seconds()`` is the run's wall time so far."""
    from mmengine.hooks import Hook

    class EpochClock(Hook):
        priority = 'LOWEST'  # after the checkpoint is saved

        def __init__(self) -> None:
            self.path = osp.join(work_dir, 'clock.json')
            self.before = 0.0  # seconds spent before this process resumed
            self.resumed_from = 0
            self.elapsed = {}  # epochs done -> seconds spent by then

        def seconds(self) -> float:
            return self.before + time.perf_counter() - start

        def before_train(self, runner) -> None:
            # The runner has resumed by now: runner.epoch is the epochs done;
            # a fresh run (epoch 0) counts no earlier attempt.
            self.resumed_from = runner.epoch
            if runner.epoch and osp.isfile(self.path):
                with open(self.path) as f:
                    self.elapsed = json.load(f)
            self.before = float(self.elapsed.get(str(runner.epoch), 0.0))

        def after_train_epoch(self, runner) -> None:
            self.elapsed[str(runner.epoch + 1)] = self.seconds()
            with open(self.path, 'w') as f:
                json.dump(self.elapsed, f)

    return EpochClock()


def train_and_evaluate(cfg, test: bool = False
                       ) -> Tuple[dict, float, int, Optional[dict]]:
    """Train ``cfg`` (or finish it from its last checkpoint when
    ``cfg.resume``), then evaluate it on its validation set: the metrics,
    the wall seconds of training (:func:`epoch_clock`), the epoch it
    resumed from and, with ``test``, the metrics on its test set (else
    None)."""
    from mmacs.engine import release_process_group
    from mmacs.engine.cli import build_runner
    start = time.perf_counter()
    runner = build_runner(cfg)
    hook = epoch_clock(cfg.work_dir, start)
    runner.register_hook(hook)
    runner.train()
    seconds = hook.seconds()
    metrics = runner.val_loop.run()
    test_metrics = runner.test_loop.run() if test else None
    release_process_group(runner)
    return metrics, seconds, hook.resumed_from, test_metrics


def evaluate_untrained(cfg, test: bool = False
                       ) -> Tuple[dict, float, Optional[dict]]:
    """Evaluate ``cfg``'s model without training it (a QAT model's steps
    are calibrated first: post-training quantization): its validation
    metrics, the wall seconds and, with ``test``, its test metrics."""
    from mmacs.engine import release_process_group
    from mmacs.engine.cli import build_runner
    start = time.perf_counter()
    runner = build_runner(cfg)
    metrics = runner.val()
    seconds = time.perf_counter() - start
    test_metrics = runner.test_loop.run() if test else None
    release_process_group(runner)
    return metrics, seconds, test_metrics


def coreset_record(work_dir: str, noisy: bool) -> dict:
    """What the coreset log of the run in ``work_dir`` adds to its record:
    the seconds spent scoring and selecting, each selection's Jaccard
    overlap with the previous one, the noisy share of each coreset and of
    the whole set (when the run trained on ``noisy`` labels; else empty
    and None) and what the teacher filter kept."""
    rounds = []
    log = osp.join(work_dir, 'coreset_log.jsonl')
    if osp.isfile(log):
        with open(log) as f:
            rounds = [json.loads(line) for line in f]

    def each(key):
        return [r[key] for r in rounds if r.get(key) is not None]

    return dict(
        score_seconds=sum(r.get('score_seconds', 0.0) for r in rounds),
        select_seconds=sum(r.get('select_seconds', 0.0) for r in rounds),
        jaccard_prev=each('jaccard_prev'),
        noisy_fraction=each('noisy_fraction') if noisy else [],
        noisy_fraction_all=rounds[0].get('noisy_fraction_all')
        if rounds and noisy else None,
        teacher_filter=each('teacher_filter'))


def teacher_digests(runs: Iterable[dict]) -> dict:
    """The ``runs`` grouped by the FP checkpoint they started from (their
    teacher), ``{teacher_digest: runs}``; runs stored before the digest
    was recorded are left out."""
    by_digest = {}
    for run in runs:
        if run.get('teacher_digest') is not None:
            by_digest.setdefault(run['teacher_digest'], []).append(run)
    return by_digest


def teacher_note(runs: Sequence[dict],
                 group: Callable[[dict], str]) -> Optional[str]:
    """A warning when ``runs`` started from more than one FP checkpoint
    (a retrained teacher under the same name is another model), naming
    each digest's runs by ``group``; None otherwise."""
    by_digest = teacher_digests(runs)
    if len(by_digest) < 2:
        return None
    parts = [
        f"{digest}: {len(held)} runs "
        f"({', '.join(sorted({group(run) for run in held}))})"
        for digest, held in sorted(by_digest.items())
    ]
    return (f'note: these runs come from {len(by_digest)} teacher '
            f"checkpoints ({'; '.join(parts)}); compare runs of one "
            'teacher only')


def teacher_tag(runs: Sequence[dict]) -> Callable[[dict], str]:
    """What a report adds to a run's name to tell its teacher checkpoint
    (`` [teacher <digest>]``) when ``runs`` come from several (runs stored
    before the digest was recorded as ``unrecorded``); '' when from one."""
    if len({run.get('teacher_digest') for run in runs}) < 2:
        return lambda run: ''
    return lambda run: (
        f" [teacher {run.get('teacher_digest') or 'unrecorded'}]")


def teacher_sentence(runs: Sequence[dict]) -> str:
    """What a results page says of the teacher checkpoints of ``runs``:
    one sentence per digest, with its number of runs."""
    return ''.join(
        f' Teacher checkpoint (SHA-256) `{digest}`: {len(held)} runs.'
        for digest, held in sorted(teacher_digests(runs).items()))
