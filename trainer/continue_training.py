"""`skinscan train --init-from MODEL --budget-minutes N`: the whole network trains on from a version.

The committed model is the checkpoint (issue 27). Its network is rebuilt from its ONNX graph
(trainer.export.onnx_import), its folded BatchNorm layers get back the statistics of what reaches them
(trainer.network.renormalize) so that it trains as the BatchNorm network it was, and then every layer
(or every one after the stem and the first stages, with --freeze-stages) trains on for at most
N minutes (warm-up, then a cosine that ends with the budget: trainer.training.budget), on the parent's
split, with the run's sampling and augmentation options, the decision and the diagnosis head
together. The result is a new model in full: temperature, threshold, int8 quantization,
out-of-distribution statistics and output gates are all fitted anew (trainer.finalize).

It is published only if it beats its parent on the validation images both score
(trainer.evaluation.versus_parent); otherwise it is kept beside the checkpoints as a candidate, with the
comparison, and the repository's newest version stays what it was.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.store import ModelVersion
from trainer.card.curve import cumulative_minutes, parent_curve
from trainer.card.trials import trials_from
from trainer.config import TrainConfig
from trainer.data.samples import DataError
from trainer.finalize import finalize
from trainer.init_from import (
    decode_part,
    decode_split,
    network_with_diagnoses,
    parent_and_config,
    prepare_on_parents_split,
)
from trainer.network.model import SkinLesionClassifier
from trainer.network.renormalize import restore_batch_statistics
from trainer.run import Continued, Trained
from trainer.training.distributed import Distributed
from trainer.training.loop import fit
from trainer.training.objective import predict_logits
from trainer.training.parent_mix import mix_with_parent
from trainer.training.phases import as_tensors, augmentation_for, data_identity, phase_config
from trainer.training.recipe import describe_recipe, recipe

__all__ = ["continue_from_parent"]

# Training images whose activations give the folded BatchNorm layers their statistics back.
_STATISTICS_IMAGES = 1024
# The rebuilt network must compute what the parent's network did (logits, in eval mode).
_RENORMALIZED_TOLERANCE = 1e-3


def _frozen_front(
    classifier: SkinLesionClassifier, stages: int, architecture: str
) -> tuple[str, ...]:
    """The modules --freeze-stages keeps (the stem and the first `stages` stages), checked
    against the parent's network before any data is read."""
    trunk = classifier.backbone
    if stages >= len(trunk.stages):
        raise DataError(
            f"--freeze-stages {stages}: {architecture} has {len(trunk.stages)} stages, and at "
            f"least the last one trains (at most {len(trunk.stages) - 1})"
        )
    return tuple(f"backbone.{name}" for name in trunk.front(stages))


def continue_from_parent(config: TrainConfig, device: torch.device) -> ModelVersion:
    assert config.budget_minutes > 0 and config.init_from is not None
    init_from = config.init_from
    started = time.monotonic()
    parent, config = parent_and_config(config)
    parent_version, metadata = parent.version, parent.metadata
    frozen = _frozen_front(parent.classifier, config.freeze_stages, metadata.architecture)
    size, parent_size = config.image_size, metadata.input.size
    prepared, split_file = prepare_on_parents_split(config, parent)
    images = decode_split(prepared, size)
    # The parent is compared at the size it is served at, on the same validation images.
    parent_validation = (
        decode_part(prepared, "validation", parent_size).pixels if size != parent_size else None
    )
    diagnosing = images.train.has_diagnoses
    classifier = (
        network_with_diagnoses(config, parent, len(DIAGNOSIS_CODES))
        if diagnosing
        else parent.classifier
    )
    # The parent's network, as it computes, to check the rebuilt one against.
    probe = torch.from_numpy(images.validation.pixels[:32])
    before = predict_logits(classifier, probe, 32)
    chosen = np.random.default_rng(config.seed).choice(
        len(images.train.labels), min(_STATISTICS_IMAGES, len(images.train.labels)), replace=False
    )
    restored = restore_batch_statistics(classifier, images.train.pixels[np.sort(chosen)])
    moved = float((predict_logits(classifier, probe, 32) - before).abs().max())
    if moved > _RENORMALIZED_TOLERANCE:
        raise RuntimeError(
            f"giving {restored} BatchNorm layers their statistics back changed the logits by "
            f"{moved:.2e}: the rebuilt network would not start from {parent.identity}"
        )
    resized = f", trained on at {size} px" if size != parent_size else ""
    print(
        f"starting from {parent.identity} ({metadata.architecture}, {parent_size} px, "
        f"{metadata.precision}): the whole network trains on for at most "
        f"{config.budget_minutes:g} min{resized}; {restored} folded BatchNorm layers measured "
        f"again on {len(chosen)} training images (logits unchanged within {moved:.1e})"
    )
    # The parent's weights as the run starts (BatchNorm measured again): one end of the mixes.
    start = (
        {k: v.detach().clone() for k, v in classifier.state_dict().items()}
        if config.mix_with_parent
        else None
    )
    classifier = classifier.to(device)
    if device.type == "cuda":
        classifier = classifier.to(memory_format=torch.channels_last)
    fit_config = phase_config(
        config,
        "continue",
        config.epochs,
        config.learning_rate,
        size,
        f"{parent.identity} (sha256 {metadata.model_sha256})",
        data_identity(
            config.data, config.labels, len(prepared.split.train), len(prepared.split.validation)
        ),
        budget_minutes=config.budget_minutes,
        device=device,
        frozen_modules=frozen,
    )
    # What tells this run from others from the same parent: its phase's settings, which name
    # the parent's checksum and the data (the checkpoint is refused under any other).
    # Mixing acts after the last step, so a mixed run resumes the same phase's checkpoint;
    # it is another run all the same (another trial, if not published).
    settings = asdict(fit_config) | ({"mix_with_parent": True} if config.mix_with_parent else {})
    run = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    trained_recipe = recipe(config, fit_config.bf16)
    print(f"recipe: {describe_recipe(trained_recipe)}")
    checkpoints = config.checkpoint_dir
    if checkpoints is not None:
        checkpoints.mkdir(parents=True, exist_ok=True)
    train = as_tensors(images.train, device, diagnosing)
    validation = as_tensors(images.validation, device, diagnosing)
    result = fit(
        classifier,
        train,
        validation,
        fit_config,
        classes=len(metadata.labels),
        positive=metadata.labels.index(config.positive_label),
        checkpoint=checkpoints / "continue.pt" if checkpoints else None,
        distributed=Distributed(device=device),
        augmentation=augmentation_for(config),
        diagnoses=len(DIAGNOSIS_CODES) if diagnosing else 0,
        sources=torch.from_numpy(prepared.part_sources("train")),
    )
    fitted = time.monotonic()
    classifier.load_state_dict(result.best_state)
    mixed = None
    if start is not None:
        assert result.objective is not None
        mixed = mix_with_parent(
            classifier,
            start,
            result.best_state,
            train[0],
            validation,
            (prepared.part_sources("validation"), tuple(str(r) for r in prepared.roots)),
            result.objective,
            metadata.labels.index(config.positive_label),
            config.batch_size,
            keep=frozen,
            seed=config.seed,
        )
        print(mixed.describe(), flush=True)
    # The phase's minutes over every run that resumed it, and this run's after the phase (mixing).
    minutes = (result.spent_s + time.monotonic() - fitted) / 60
    before_minutes, complete = cumulative_minutes(metadata)
    trained_what = (
        "the whole network (backbone, decision head"
        if not frozen
        else f"the network after its stem and first {config.freeze_stages} stage(s) (backbone "
        "beyond them, decision head"
    ) + (", diagnosis head)" if diagnosing else ")")
    if size != parent_size:
        trained_what += f" at {size} px (the parent's {parent_size})"
    if mixed is not None and mixed.share < 1:
        trained_what += f", then mixed with the parent's weights ({mixed.share:g} of the trained)"
    elif mixed is not None:
        trained_what += "; mixes with the parent's weights tried, the trained ones kept"
    lineage: dict[str, Any] = {
        "kind": "continued",
        "parent": {
            "name": parent_version.name,
            "version": parent_version.version,
            "model_sha256": metadata.model_sha256,
            "precision": metadata.precision,
        },
        "trained": f"{trained_what}, {len(result.history)} epochs in a {config.budget_minutes:g} "
        "min budget",
        "recipe": trained_recipe,
        "split_from": str(split_file),
        "renormalized_batchnorm_layers": restored,
        "minutes": round(minutes, 1),
        "cumulative_minutes": round(before_minutes + minutes, 1),
        "cumulative_complete": complete,
        "run": run,
        **({"mixed_with_parent": mixed.lineage()} if mixed is not None else {}),
        # The runs from the same parent that were not published come before this one.
        "curve": parent_curve(parent_version.version, metadata)
        + trials_from(init_from, config.data_cache, metadata.model_sha256, run),
    }
    return finalize(
        Trained(
            config=config,
            classifier=classifier,
            spec=replace(metadata.input, size=size),
            prepared=prepared,
            images=images,
            history=result,
            pretrain_history=None,
            seconds=time.monotonic() - started,
            device=str(device),
            continued=Continued(parent_version, lineage, parent_validation),
        )
    )
