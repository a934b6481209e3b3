"""A recorded split applied to freshly loaded data: versions compared on the same images.

Every version writes its split as `split.csv` (path relative to its source,
label, group, part, source). A version trained on top of another keeps its
parent's split, so its validation numbers sit beside the parent's on the same
images, and no image the parent held out is trained on now. Sources are
recognised by their images, not by where they live: the recorded source
whose paths are all among a loaded source's images is that source, wherever
the folder is today. A loaded source that the file does not cover keeps the
split it was given.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from trainer.data.prepare import PARTS, PreparedData, describe_split, split_without_leaks
from trainer.data.samples import DataError

__all__ = ["apply_split_file", "read_split_file"]


def read_split_file(path: Path) -> dict[str, dict[str, str]]:
    """Each recorded source's images: relative path -> part."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise DataError(f"cannot read the split file {path}: {error}") from error
    sources: dict[str, dict[str, str]] = {}
    for row in rows:
        if row.get("split") not in PARTS or not row.get("path"):
            raise DataError(f"{path}: a row without a path or a part ({', '.join(PARTS)}): {row}")
        sources.setdefault(row.get("source") or "", {})[row["path"]] = row["split"]
    return sources


def apply_split_file(prepared: PreparedData, path: Path) -> PreparedData:
    """`prepared` with each source's parts taken from the split file, where it records them."""
    recorded = read_split_file(path)
    part_of = prepared.split.part_of()
    for index, root in enumerate(prepared.roots):
        mine = [i for i, s in enumerate(prepared.source) if s == index]
        paths = {prepared.dataset.samples[i].path.relative_to(root).as_posix(): i for i in mine}
        matching = [name for name, rows in recorded.items() if rows.keys() <= paths.keys()]
        if not matching:
            print(f"{root}: not in {path}; split afresh")
            continue
        if len(matching) > 1:
            raise DataError(f"{path} records several sources whose images are all in {root}")
        rows = recorded.pop(matching[0])
        for relative, sample in paths.items():
            part_of.pop(sample, None)
            if relative in rows:
                part_of[sample] = rows[relative]
        unlisted = len(paths) - len(rows)
        print(
            f"{root}: split as {path} records it"
            + (f"; {unlisted} images it does not list are left out" if unlisted else "")
        )
    if recorded:
        raise DataError(
            f"{path} records sources that are not among --data: "
            + ", ".join(name or "(unnamed)" for name in recorded)
        )
    split, left_out = split_without_leaks(part_of, prepared.hashes, prepared.source)
    if left_out:
        print(f"left out {len(left_out)} images that nearly duplicate another source's")
    describe_split(prepared.dataset, split)
    return replace(prepared, split=split)
