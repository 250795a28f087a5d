# Copyright (c) mmacs contributors. All rights reserved.
"""Plots of mmacs runs (matplotlib; not imported by ``mmacs``)."""
from .selection import LOG_FILE, load_log, plot_selection

__all__ = ['LOG_FILE', 'load_log', 'plot_selection']
