# Copyright (c) mmacs contributors. All rights reserved.
from .filters import (apply_teacher_filter, check_teacher_filter,
                      teacher_drop_pool, teacher_filter_pool)
from .policies import (Policy, draw_seed, get_policy, register_policy,
                       select_coreset)
from .reuse import ScoreRecorder, ScoreStore, merge_scores
from .schedules import beta_schedule, check_schedule
from .scorers import build_scorer
from .scores import (anchor_l2_scores, combine_scores, disagreement_score,
                     error_vector_score)
from .scoring import (ScoringPass, check_scoring_args, find_dataset_attr,
                      pop_scoring_args)
from .selection import check_selection, register_rule
from .selector import CoresetSelector, Plan, Selection
from .stats import dataset_labels, selection_record
from .teacher_cache import TeacherCache

__all__ = [
    'apply_teacher_filter', 'check_teacher_filter', 'teacher_drop_pool',
    'teacher_filter_pool', 'Policy', 'draw_seed', 'get_policy',
    'register_policy', 'select_coreset', 'beta_schedule', 'check_schedule',
    'build_scorer', 'error_vector_score', 'disagreement_score',
    'anchor_l2_scores', 'combine_scores', 'ScoringPass', 'check_scoring_args',
    'find_dataset_attr', 'pop_scoring_args', 'check_selection',
    'register_rule', 'CoresetSelector', 'Plan', 'Selection',
    'dataset_labels', 'selection_record', 'TeacherCache', 'ScoreRecorder',
    'ScoreStore', 'merge_scores'
]
