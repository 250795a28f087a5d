# Copyright (c) mmacs contributors. All rights reserved.
from .policies import POLICIES, register_policy, select_coreset
from .schedules import SCHEDULES, beta_schedule
from .scorers import SCORERS, build_scorer, register_scorer
from .scores import (anchor_l2_scores, combine_scores, disagreement_score,
                     error_vector_score, soft_focal_distance)
from .teacher_cache import TeacherCache

__all__ = [
    'POLICIES', 'register_policy', 'select_coreset', 'SCHEDULES',
    'beta_schedule', 'SCORERS', 'build_scorer', 'register_scorer',
    'error_vector_score', 'disagreement_score', 'soft_focal_distance',
    'anchor_l2_scores', 'combine_scores', 'TeacherCache'
]
