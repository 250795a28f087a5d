# ACS on CIFAR-sized images with mmacs's default selection: the
# `stratified` rule (score strata share the budget: coverage, not only the
# hardest samples) among the samples whose label the FP teacher does not
# contradict (`teacher_filter`, min_prob 0.05: likely label errors stay
# out). How it compares with random and full-data baselines, and why the
# CIFAR hold-out it was chosen on overrates it: README, docs/studies.md.
# On clean labels the filter ties (W2A2 and W4A4, clean protocol, 3 seeds);
# with 20% flipped labels it keeps the coresets 1-3% noisy and pays.
# The paper's exact method is ./coreset_cifar_paper.py, or `--cfg-options
# coreset.selection=topk coreset.teacher_filter=None`.
#
# With the in-memory datasets of the CIFAR configs the scoring pass reads
# whole batches from the image array (no per-sample pipeline, no workers);
# on the per-sample path the small JPEGs decode in ~0.1 ms each, so the
# scoring pass loads them in the main process: worker processes cost more
# (start-up and per-sample pickling) than they save (see
# tools/benchmarks/overhead.py).
_base_ = '../../_base_/coreset/acs.py'
coreset = dict(
    score_num_workers=0,
    selection='stratified',
    teacher_filter=dict(min_prob=0.05))
