from __future__ import annotations

import os
from pathlib import Path

from skinscan_kit.cores import usable_cores


def test_a_cgroup_quota_bounds_the_cores(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # 1.5 cores: 2 threads may run
    assert usable_cores(cpu_max) == min(2, len(os.sched_getaffinity(0)), os.cpu_count() or 2)
    cpu_max.write_text("max 100000\n")  # no quota: the affinity and the host count
    assert usable_cores(cpu_max) == min(len(os.sched_getaffinity(0)), os.cpu_count() or 1)
    assert usable_cores(tmp_path / "absent") == usable_cores(cpu_max)
