# ACS on CIFAR: the small JPEGs decode in ~0.1 ms each, so the scoring pass
# loads them in the main process; worker processes cost more (start-up and
# per-sample pickling) than they save (see tools/benchmark_overhead.py).
_base_ = '../../_base_/coreset/acs.py'
coreset = dict(score_num_workers=0)
