# Copyright (c) mmacs contributors. All rights reserved.
"""A bounded cache of the frozen teacher's per-sample outputs.

The teacher never changes and the scoring pipeline is deterministic (no
augmentation, the same batches every pass), so its outputs for a sample are
the same at every selection: caching them is exact and saves one of the two
forward passes of every scoring pass after the first.
"""
from typing import List, Optional

import torch


class TeacherCache:
    """``sample_idx -> outputs`` on the CPU, up to ``max_bytes``.

    Args:
        max_bytes (int): The budget; samples past it are not cached (and
            are recomputed at every pass). Defaults to 2 GiB.
    """

    def __init__(self, max_bytes: int = 2 << 30) -> None:
        if max_bytes < 0:
            raise ValueError(f'max_bytes must be >= 0, got {max_bytes!r}')
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.full = False
        self._store = {}

    def __len__(self) -> int:
        return len(self._store)

    def put(self, indices: List[int], out: dict) -> None:
        """Store each sample's slice of the batch outputs ``out``."""
        for i, idx in enumerate(indices):
            item = {
                k: v[i].detach().cpu().clone() if torch.is_tensor(v) else v
                for k, v in out.items()
            }
            size = sum(v.numel() * v.element_size() for v in item.values()
                       if torch.is_tensor(v))
            if self.nbytes + size > self.max_bytes:
                self.full = True
                return
            self._store[idx] = item
            self.nbytes += size

    def get(self, indices: List[int], like: dict) -> Optional[dict]:
        """The batch's outputs if every sample is cached with the layout of
        ``like`` (the student's outputs for the batch), else None."""
        if not all(idx in self._store for idx in indices):
            return None
        out = {}
        for key, value in like.items():
            parts = [self._store[idx][key] for idx in indices]
            if torch.is_tensor(value):
                if any(p.shape != value.shape[1:] for p in parts):
                    return None
                out[key] = torch.stack(parts).to(value.device)
            elif any(p != value for p in parts):
                return None
            else:
                out[key] = value
        return out
