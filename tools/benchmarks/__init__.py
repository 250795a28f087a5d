# Copyright (c) mmacs contributors. All rights reserved.
"""The study of mmacs: what Adaptive Coreset Selection costs and buys.

Not part of the installed package; it imports ``mmacs``, never the other
way round. ``common`` holds what every benchmark script shares,
``protocol`` the core of the resumable multi-seed studies (recipes, the
run store, resume and merge), ``report`` their statistics, tables and the
result pages; ``quality`` (CIFAR) and ``detection`` are thin CLIs over
them, ``overhead``, ``datapath`` and ``fakequant`` one-shot timings.

Each script runs as ``python tools/benchmarks/<name>.py``; the result
pages of ``results/*.json`` (the studies' results files and the saved
``overhead.py --out`` results) are written by ``python
tools/benchmarks/report.py --write docs/results``.
"""
