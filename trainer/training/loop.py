"""One training phase: epochs of Adam on augmented batches, validation, schedule, early stopping.

Resumable: after every epoch the whole state (weights, optimizer, schedule,
random generator, best weights so far, history) is written to a checkpoint, and
a phase started with an existing checkpoint continues where it stopped; a
finished phase returns its result at once. Under torchrun every process trains
on its share of each batch (DistributedDataParallel); all of them evaluate the
same validation set, so they take the same early-stopping decision without
talking, and only the first one writes files.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from trainer.data.augment import Augmentation
from trainer.training.averaging import LastEpochs, measure_batchnorm, window_start
from trainer.training.budget import BudgetPlan, plan_steps, validation_estimate, warmup_cosine
from trainer.training.distributed import Distributed
from trainer.training.objective import Objective, objective_for, validate
from trainer.training.sampling import epoch_order, inclusion_chances

__all__ = ["EpochRecord", "FitConfig", "FitResult", "batchnorm_sample", "fit"]

# Steps timed to plan a budgeted phase, after two untimed ones.
_TIMED_STEPS = 5
# Training images that measure averaged (or mixed) weights' BatchNorm statistics.
_BATCHNORM_IMAGES = 2048


def batchnorm_sample(train_pixels: torch.Tensor, seed: int) -> torch.Tensor:
    """The training images (at most _BATCHNORM_IMAGES, drawn by `seed`) that measure averaged or
    mixed weights' BatchNorm statistics: the same ones for every candidate of a run, so that
    they are compared on equal terms."""
    chosen = torch.randperm(len(train_pixels), generator=torch.Generator().manual_seed(seed))
    return train_pixels[chosen[:_BATCHNORM_IMAGES].to(train_pixels.device)]


@dataclass(frozen=True)
class FitConfig:
    phase: str
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    seed: int
    class_weighting: bool = True
    weight_decay: float = 0.0
    # At most this many images of each source per epoch, drawn afresh each
    # epoch (0: all). Keeps a small source (isic-binary) fully in every epoch
    # while a large one (HAM10000) contributes a rotating share, which makes a
    # CPU epoch affordable without dropping either source.
    images_per_source: int = 0
    # Not used by the loop itself: they tell a checkpoint of this phase apart
    # from one trained at another size, from another starting point or on
    # other data, so none of those is silently resumed.
    image_size: int = 0
    starts_from: str = ""
    data: str = ""
    # A time budget for the phase, validation included (0: none, `epochs` decide). With one,
    # the learning rate warms up, then follows a cosine that reaches 0 when the budget's
    # steps are done (trainer.training.budget plans them from the first steps' measured time), and
    # `epochs` is only an upper bound.
    budget_s: float = 0.0
    # Every batch takes the same number of images from each source (a small source repeats,
    # a large one is sampled afresh each epoch): the decision learns from every collection
    # alike rather than mostly from the largest.
    balance_sources: bool = False
    # Cross-entropy against (1 - e) on the label and e spread over the classes.
    label_smoothing: float = 0.0
    # Train in bfloat16 autocast where the CPU runs it natively (1.8x faster measured on an
    # AVX-512 BF16 host); on CUDA it always is. Validation stays in float32.
    bf16: bool = False
    # With a budget: the weights at the end of the last N planned epochs are averaged
    # (trainer.training.averaging), and the average kept if it validates better than any one epoch.
    average_epochs: int = 0
    # Submodules (dotted names) that keep their weights and their BatchNorm statistics: no
    # gradient is computed for them, and they stay in eval mode while the rest trains.
    frozen_modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_balanced_accuracy: float
    val_roc_auc: float
    learning_rate: float
    seconds: float
    # Of the diagnosis head, on the validation images with a diagnosis; nan without one.
    val_diagnosis_balanced_accuracy: float = math.nan


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    history: list[EpochRecord] = field(default_factory=list)
    stopped_early: bool = False
    # How many epochs' weights the kept state averages (0: one epoch's, best_epoch).
    averaged_epochs: int = 0
    # What the phase minimised, to validate other weights (trainer.training.parent_mix) by the same loss.
    objective: Objective | None = None
    # The phase's time to its last epoch, over every run that resumed it.
    spent_s: float = 0.0


def _with_defaults(written: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's phase settings, with the settings added since it was written at their
    defaults (which is what the phase ran with), so that a newer trainer resumes it."""
    defaults = {f.name: f.default for f in fields(FitConfig) if f.default is not MISSING}
    return {**defaults, **written}


def _save(path: Path, state: dict[str, Any]) -> None:
    # Written beside and renamed: a crash mid-write leaves the previous checkpoint.
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def _keep_average_if_better(
    model: nn.Module,
    average: LastEpochs,
    result: FitResult,
    best_loss: float,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    positive: int | None,
    config: FitConfig,
    objective: Objective,
    verbose: bool,
) -> float:
    """Validates the averaged weights (BatchNorm measured again) and keeps them in `result` if
    their validation loss beats the best epoch's; returns the best loss either way."""
    model.load_state_dict(average.average())
    measure_batchnorm(
        model,
        batchnorm_sample(x_train, config.seed),
        config.batch_size,
        keep=config.frozen_modules,
    )
    val, _ = validate(model, x_val, y_val, positive, config.batch_size * 4, objective)
    kept = val["loss"] < best_loss
    if verbose:
        print(
            f"{config.phase}: the last {average.count} epochs' weights averaged: val loss "
            f"{val['loss']:.4f}, ROC-AUC {val['roc_auc']:.3f}, against the best epoch's "
            f"{best_loss:.4f}: {'kept' if kept else 'not kept'}",
            flush=True,
        )
    if not kept:
        return best_loss
    result.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    result.averaged_epochs = average.count
    return float(val["loss"])


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor],
    config: FitConfig,
    classes: int,
    positive: int | None,
    checkpoint: Path | None,
    distributed: Distributed,
    augmentation: Augmentation | None = None,
    diagnoses: int = 0,
    sources: torch.Tensor | None = None,
) -> FitResult:
    """Trains `model` in place; returns the weights of the epoch with the lowest validation loss.

    `sources` gives each training image's source, for `config.images_per_source`.
    """
    entered = time.monotonic()
    augmentation = augmentation or Augmentation()
    x_train, y_train = train
    x_val, y_val = validation
    device = x_train.device
    frozen = [model.get_submodule(name) for name in config.frozen_modules]
    for module in frozen:
        module.requires_grad_(False)
    network = distributed.wrap(model)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    cap = config.images_per_source
    balanced = config.balance_sources
    if len(x_val) == 0:
        raise ValueError(f"{config.phase}: no validation image is left to choose epochs by")
    if balanced and cap > 0:
        raise ValueError(
            f"{config.phase}: balanced sources and a per-source cap exclude each other"
        )
    per_step = config.batch_size * distributed.world_size
    epoch_size = len(epoch_order(len(x_train), sources, cap, torch.Generator(), balanced))
    steps = epoch_size // per_step
    if steps == 0:
        raise ValueError(
            f"{config.phase}: {epoch_size} training images do not fill one batch of {per_step}"
        )
    budgeted = config.budget_s > 0
    if config.average_epochs and not budgeted:
        raise ValueError(f"{config.phase}: averaging the last epochs needs a budget's plan")
    if budgeted and distributed.world_size > 1:
        # Each process would plan from its own clock and stop at a different step.
        raise ValueError(f"{config.phase}: a time budget is for one process, not torchrun")
    warmup = min(50, max(1, steps // 10))
    plan: BudgetPlan | None = None
    schedule: torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau
    if budgeted:
        # Per step: warm-up, then a cosine to 0 at the planned last step (until it is planned,
        # the end is taken as far away, so the first steps only warm up).
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: warmup_cosine(step, warmup, plan.total_steps if plan else 10**9),
        )
    else:
        schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.3, patience=max(1, config.patience // 3)
        )
    objective = objective_for(
        y_train,
        classes,
        diagnoses,
        config.class_weighting,
        inclusion_chances(sources, cap, len(x_train), balanced),
        config.label_smoothing,
    )
    generator = torch.Generator().manual_seed(config.seed)
    result = FitResult(
        best_state={k: v.clone() for k, v in model.state_dict().items()},
        best_epoch=0,
        objective=objective,
    )
    best_loss, stale, first_epoch = math.inf, 0, 1
    done_steps, spent_s = 0, 0.0
    average = LastEpochs()

    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        if _with_defaults(saved["config"]) != asdict(config):
            raise ValueError(
                f"{checkpoint} was written by a different {config.phase} configuration "
                f"({saved['config']}); remove it or choose another --checkpoint-dir"
            )
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        generator.set_state(saved["generator"])
        result = FitResult(
            best_state=saved["best_state"],
            best_epoch=saved["best_epoch"],
            history=[EpochRecord(**r) for r in saved["history"]],
            stopped_early=saved["finished"] and saved["epoch"] < config.epochs,
            averaged_epochs=saved.get("averaged_epochs", 0),
            objective=objective,
        )
        # A checkpoint from before epochs were kept one by one (a running mean) starts its
        # average again: which epochs that mean holds cannot be told any more.
        average = LastEpochs(saved.get("average_kept"))
        best_loss, stale, first_epoch = saved["best_loss"], saved["stale"], saved["epoch"] + 1
        if saved.get("plan") is not None:
            plan = BudgetPlan(**saved["plan"])
        done_steps, spent_s = saved.get("done_steps", 0), saved.get("spent_s", 0.0)
        if distributed.is_main:
            print(f"{config.phase}: resumed from {checkpoint} after epoch {saved['epoch']}")
        if saved["finished"]:
            result.spent_s = spent_s
            return result

    device_type = device.type
    autocast = device_type == "cuda" or config.bf16
    # A resumed phase counts the time its earlier runs spent against the budget.
    phase_started = entered - spent_s
    timed_s, timed_steps = 0.0, 0

    def budget_spent() -> bool:
        """Whether the planned steps are done or the budget's time is up."""
        return budgeted and (
            (plan is not None and done_steps >= plan.total_steps)
            or time.monotonic() - phase_started > config.budget_s
        )

    for epoch in range(first_epoch, config.epochs + 1):
        started = time.monotonic()
        network.train()
        for module in frozen:
            module.eval()
        order = epoch_order(len(x_train), sources, cap, generator, balanced).to(device)
        total = torch.zeros((), device=device)
        epoch_steps = steps
        if plan is not None:
            epoch_steps = min(steps, plan.total_steps - done_steps)
        bar = tqdm(
            range(epoch_steps),
            desc=f"{config.phase} {epoch}/{config.epochs}",
            disable=None if distributed.is_main else True,
            file=sys.stderr,
            leave=False,
        )
        for step in bar:
            step_started = time.monotonic()
            offset = step * per_step + distributed.rank * config.batch_size
            index = order[offset : offset + config.batch_size]
            pixels = augmentation(x_train[index], generator)
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
                logits = network(pixels)
            loss = objective(logits.float(), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
            if budgeted:
                assert isinstance(schedule, torch.optim.lr_scheduler.LambdaLR)
                schedule.step()
                done_steps += 1
                if plan is None and done_steps > 2:
                    # The first two steps are slower (allocation, caches): not timed.
                    timed_s += time.monotonic() - step_started
                    timed_steps += 1
                    if timed_steps == _TIMED_STEPS:
                        plan = plan_steps(
                            config.budget_s,
                            time.monotonic() - phase_started,
                            timed_s / timed_steps,
                            done_steps,
                            steps,
                            validation_estimate(
                                len(x_val), config.batch_size, timed_s / timed_steps
                            ),
                            warmup,
                        )
                        if distributed.is_main:
                            print(f"{config.phase}: {plan.describe()}", flush=True)
                if budget_spent():
                    epoch_steps = step + 1
                    break
        bar.close()
        steps_ended = time.monotonic()
        distributed.sync_buffers(model)
        val, _ = validate(model, x_val, y_val, positive, config.batch_size * 4, objective)
        if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule.step(val["loss"])
        record = EpochRecord(
            epoch=epoch,
            train_loss=float(total.item()) / max(1, epoch_steps),
            val_loss=val["loss"],
            val_accuracy=val["accuracy"],
            val_balanced_accuracy=val["balanced_accuracy"],
            val_roc_auc=val["roc_auc"],
            learning_rate=optimizer.param_groups[0]["lr"],
            seconds=round(time.monotonic() - started, 1),
            val_diagnosis_balanced_accuracy=val["diagnosis_balanced_accuracy"],
        )
        result.history.append(record)
        if distributed.is_main:
            print(
                f"{config.phase} epoch {epoch}/{config.epochs}: train loss {record.train_loss:.4f}, "
                f"val loss {record.val_loss:.4f}, accuracy {record.val_accuracy:.3f}, "
                f"balanced accuracy {record.val_balanced_accuracy:.3f}, ROC-AUC {record.val_roc_auc:.3f}, "
                + (
                    f"diagnosis balanced accuracy {record.val_diagnosis_balanced_accuracy:.3f}, "
                    if not math.isnan(record.val_diagnosis_balanced_accuracy)
                    else ""
                )
                + f"lr {record.learning_rate:.1e}, {record.seconds:.0f} s",
                flush=True,
            )
        if val["loss"] < best_loss:
            best_loss, stale = val["loss"], 0
            result.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.best_epoch = epoch
        else:
            stale += 1
        spent_s = time.monotonic() - phase_started
        out_of_budget = budget_spent()
        finished = stale >= config.patience or epoch == config.epochs or out_of_budget
        if out_of_budget and distributed.is_main:
            print(
                f"{config.phase}: budget spent ({spent_s / 60:.1f} of "
                f"{config.budget_s / 60:.1f} min, {done_steps} steps); keeping epoch "
                f"{result.best_epoch}",
                flush=True,
            )
        if stale >= config.patience:
            result.stopped_early = True
            if distributed.is_main:
                print(
                    f"{config.phase}: early stop, validation loss has not improved for {stale} "
                    f"epochs; keeping epoch {result.best_epoch}"
                )
        if plan is not None and config.average_epochs:
            start = window_start(plan.total_steps, steps, config.average_epochs)
            if done_steps > start:
                average.add(done_steps, model.state_dict(), start)
            if finished and average.count >= 2:
                best_loss = _keep_average_if_better(
                    model,
                    average,
                    result,
                    best_loss,
                    x_train,
                    x_val,
                    y_val,
                    positive,
                    config,
                    objective,
                    distributed.is_main,
                )
        if plan is not None and not finished:
            # The epoch's steps and validation pass, measured rather than estimated: the rest of
            # the budget is planned again with them after every epoch (the cosine barely moves
            # unless the host got slower or faster), before the checkpoint keeps the plan. The
            # first plan comes from five steps; in the first continued run (docs/model-lineage.md)
            # epochs' steps took 1.06-1.15 s against 1.02 s timed, and 1.61 s while tests ran
            # beside it.
            plan = plan_steps(
                config.budget_s,
                time.monotonic() - phase_started,
                (steps_ended - started) / max(1, epoch_steps),
                done_steps,
                steps,
                time.monotonic() - steps_ended,
                warmup,
            )
            if distributed.is_main:
                print(f"{config.phase}: planned again, {plan.describe()}", flush=True)
        if checkpoint is not None and distributed.is_main:
            _save(
                checkpoint,
                {
                    "config": asdict(config),
                    "epoch": epoch,
                    "finished": finished,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "generator": generator.get_state(),
                    "best_state": result.best_state,
                    "best_epoch": result.best_epoch,
                    "best_loss": best_loss,
                    "stale": stale,
                    "history": [asdict(r) for r in result.history],
                    "plan": asdict(plan) if plan is not None else None,
                    "done_steps": done_steps,
                    "spent_s": spent_s,
                    "average_kept": average.kept,
                    "averaged_epochs": result.averaged_epochs,
                },
            )
        if finished:
            break
    result.spent_s = time.monotonic() - phase_started
    return result
