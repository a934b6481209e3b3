"""The split of version 3 onwards: isic-binary as version 2 split it, HAM10000 held out where
version 2's backbone never trained on it.

Version 2 was pretrained on HAM10000's seven diagnoses (`prepare(ham10000,
"dx", 0.1, 0.0, seed 0)` as the trainer then split it, less the images that
nearly duplicate an isic-binary validation or test image), and its pretraining
validation part is the only HAM10000 data its backbone has not learnt from.
Holding out any other HAM10000 image would measure a diagnosis head on images
whose diagnoses the backbone already saw, so that part (899 images) becomes
the HAM10000 validation and test splits, half each by lesion, stratified by
diagnosis; everything else is training data. Versions built on version 3 keep
this split (trainer.data.split_file).

    git worktree add /tmp/v2 c35a360   # version 2, as it was served
    python tools/unseen_split.py --parent /tmp/v2/models/skinscan-resnet50/2 \\
        --isic ../shared/data/isic-binary/train --ham10000 ../shared/data/ham10000 \\
        --out runs/v3-split.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from trainer.data.prepare import prepare
from trainer.data.split_file import read_split_file
from trainer.data.splits import grouped_split, near_duplicate_pairs

# Version 2's pretraining split, as its recorded config and the trainer of the day made it.
PRETRAIN_VALIDATION_FRACTION = 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent", type=Path, required=True, help="version 2's folder")
    parser.add_argument("--isic", type=Path, required=True)
    parser.add_argument("--ham10000", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    (isic_parts,) = read_split_file(args.parent / "split.csv").values()
    isic = prepare(args.isic, "binary", 0.15, 0.15, args.seed)
    positions = {
        s.path.relative_to(args.isic).as_posix(): i for i, s in enumerate(isic.dataset.samples)
    }
    held_out = [positions[p] for p, part in isic_parts.items() if part != "train"]

    ham = prepare(args.ham10000, "dx", PRETRAIN_VALIDATION_FRACTION, 0.0, args.seed)
    leaks = {i for i, _ in near_duplicate_pairs(ham.hashes, isic.hashes[held_out])}
    unseen = [i for i in ham.split.validation if i not in leaks]
    print(f"HAM10000: {len(unseen)} images version 2's backbone never trained on")
    halves = grouped_split(
        [ham.dataset.samples[i].label for i in unseen],
        [ham.groups[i] for i in unseen],
        0.5,
        0.0,
        args.seed,
    )
    part_of = {i: "train" for i in range(len(ham.dataset.samples)) if i not in set(unseen)}
    part_of |= {unseen[i]: "validation" for i in halves.validation}
    part_of |= {unseen[i]: "test" for i in halves.train}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "group", "split", "source"])
        for index, sample in enumerate(isic.dataset.samples):
            relative = sample.path.relative_to(args.isic).as_posix()
            label = isic.dataset.classes[sample.label]
            writer.writerow([relative, label, isic.groups[index], isic_parts[relative], args.isic])
        for index, sample in enumerate(ham.dataset.samples):
            writer.writerow(
                [
                    sample.path.relative_to(args.ham10000).as_posix(),
                    ham.dataset.classes[sample.label],
                    ham.groups[index],
                    part_of[index],
                    args.ham10000,
                ]
            )
    counts = {
        p: sum(1 for v in part_of.values() if v == p) for p in ("train", "validation", "test")
    }
    print(f"wrote {args.out}: HAM10000 {counts}")


if __name__ == "__main__":
    main()
