"""Returning freed tensor memory to the operating system on CPU.

glibc serves allocations above its mmap threshold with mmap (given back on free) and the rest
from its heap, which it rarely shrinks; the threshold starts at 128 KB but *rises* to the
size of each large block freed, up to 32 MB. Training frees activation tensors of a few MB
every step, so after the first steps most of them come from the heap and the process keeps
the high-water mark of every step's fragments: on SmolLM2-135M with LoRA and 4 x 900-token
batches, peak RSS was 7-8 GB with the default and 1.7 GB with the threshold pinned
(docs/results.md, LR-SQL section), at the price of slower steps (fresh pages fault in).
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD = 128 * 1024


def pin_mmap_threshold(threshold: int = THRESHOLD) -> bool:
    """Pin glibc's mmap threshold (which also stops its dynamic rise); False where the C
    library is not glibc (macOS, musl) or refuses."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
