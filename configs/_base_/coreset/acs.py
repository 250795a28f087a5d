# Adaptive Coreset Selection: add this to the bases of any QAT config (one
# built on _base_/qat/lsq_runtime.py, whose QATRunner expands these keys) to
# train every epoch on the top `fraction` of the training set, re-selected
# every `interval` (R) epochs from EVS/DS scores of the quantized model.
# Plain keys, overridable from the command line, e.g.
#   --cfg-options coreset.fraction=0.3 coreset.interval=5 \
#                 coreset.policy=random_dynamic
coreset = dict(
    fraction=0.1,  # f: the coreset is round(f * N) samples
    interval=2,  # R: epochs between selections
    policy='acs',  # acs | full | random_static | random_dynamic | el2n
    schedule='cosine',  # beta(t): cosine | official | linear | evs_only ...
    selection='topk',  # topk (the paper) | stratified | mixed | sampled |
    # trimmed, or a dict with the rule's parameters
    score_view='clean',  # clean (test pipeline) | train (augmented)
    scorer=None,  # None: 'loss' (detection) / 'softmax' (classification)
    score_pool=1.0,  # 1: score every sample (the paper); < 1: a random
    # pool of that fraction per round (faster, approximate)
    score_reuse=False,  # True (classification): keep scores between
    # rounds, score the coreset from the training step of each round's last
    # epoch (augmented view, train mode) and refresh a rotating score_pool
    # of the rest with the scoring pass
    reuse_start='all',  # with score_reuse, the first round scores all
    # samples; 'block': only its rotating block (cheaper, approximate)
    first_scores='student',  # 'teacher': the first round scores the FP
    # teacher's outputs as the (untrained) student's, skipping its pass
    teacher_cache_mb=2048)
# Not set here (None: the paper): teacher_filter=dict(min_prob=p) never
# selects a sample whose label the FP teacher gives a probability below p
# (classification; the CIFAR bases set it); teacher_filter=dict(drop=q)
# never selects the share q of the scored samples the teacher fits worst
# (classification and detection: the teacher's per-image head loss).
