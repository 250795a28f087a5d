# ACS on CIFAR-sized images. With the in-memory datasets of the CIFAR
# configs the scoring pass reads whole batches from the image array (no
# per-sample pipeline, no workers); on the per-sample path the small JPEGs
# decode in ~0.1 ms each, so the scoring pass loads them in the main
# process: worker processes cost more (start-up and per-sample pickling)
# than they save (see tools/benchmarks/overhead.py).
_base_ = '../../_base_/coreset/acs.py'
coreset = dict(score_num_workers=0)
