# Copyright (c) mmacs contributors. All rights reserved.
"""The registries of mmacs's coreset building blocks.

mmacs's models, hooks, samplers, datasets, transforms and metrics register
straight into mmdet's registries (``mmdet.registry``). The building blocks
below have no counterpart there; each kind gets a registry of its own, in
the ``mmacs`` scope, that imports its ``locations`` on first use:

- ``TASKS``: what the QAT model, the scorers, the selector and the export
  know about a task (``'detection'``, ``'classification'``; see
  :mod:`mmacs.tasks`);
- ``DENSE_HEADS``: the per-image view of a family of mmdet dense heads
  (``'AnchorHead'``, ``'FCOSHead'``) that detection scoring and
  distillation use;
- ``SCORERS``: per-sample (EVS, DS) from the student's and the teacher's
  outputs;
- ``POLICIES``: how a coreset is chosen (``'acs'``, ``'random_dynamic'``,
  ...);
- ``SELECTION_RULES``: how a score-based policy turns scores into a coreset;
- ``BETA_SCHEDULES``: the EVS weight ``beta(t)``.

They are roots, not children of mmengine's: mmengine keeps one child per
scope under a root, and its ``build`` switches to the registry of the
runner's default scope (``mmdet``), which would not find these names.
Entries are looked up by name with :func:`get_registered`.
"""
from mmengine.registry import Registry

TASKS = Registry('task', scope='mmacs', locations=['mmacs.tasks'])
DENSE_HEADS = Registry(
    'dense head', scope='mmacs', locations=['mmacs.tasks.heads'])
SCORERS = Registry(
    'scorer', scope='mmacs', locations=['mmacs.coreset.scorers'])
POLICIES = Registry(
    'coreset policy', scope='mmacs', locations=['mmacs.coreset.policies'])
SELECTION_RULES = Registry(
    'selection rule', scope='mmacs', locations=['mmacs.coreset.selection'])
BETA_SCHEDULES = Registry(
    'beta schedule', scope='mmacs', locations=['mmacs.coreset.schedules'])


def get_registered(registry: Registry, name, what: str):
    """What ``registry`` holds under ``name``; a ValueError naming ``name``
    and the choices when it holds nothing (``what`` names the kind)."""
    found = registry.get(name) if isinstance(name, str) else None
    if found is None:
        raise ValueError(f'unknown {what} {name!r}; choose from '
                         f'{sorted(registry.module_dict)}')
    return found
