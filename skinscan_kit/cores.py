"""How many cores this process may really use.

os.cpu_count() is the host's count: in a Kubernetes pod limited to 2 CPUs on a
64-core node it says 64, and thread pools sized from it oversubscribe the
quota (the kernel then throttles the whole pod). The cgroup's quota and the
CPU affinity both bound it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["usable_cores"]

_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def _quota_cores(cpu_max: Path) -> int | None:
    """The cgroup v2 quota ("200000 100000" is 2 cores; "max ..." none), rounded up."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def usable_cores(cpu_max: Path = _CGROUP_CPU_MAX) -> int:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    counts = [n for n in (affinity, os.cpu_count(), _quota_cores(cpu_max)) if n]
    return min(counts) if counts else 1
