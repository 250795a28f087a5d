# The paper's exact ACS on CIFAR-sized images (Huang et al.): top-k of
# d(t) per class, no teacher filter. Use it in place of ./coreset_cifar.py
# in a config's bases (see lsq-w2a2_acs-paper-f0.1_resnet20_cifar10.py).
_base_ = '../../_base_/coreset/acs.py'
coreset = dict(score_num_workers=0, selection='topk', teacher_filter=None)
