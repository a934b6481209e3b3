"""The Markdown model card written beside every exported model, from its metadata alone."""

from __future__ import annotations

from typing import Any

from skinscan.analysis import DISCLAIMER
from skinscan_model.metadata import ModelMetadata
from trainer.card.card_sections import (
    heatmap_lines,
    lineage_lines,
    ood_lines,
    quality_by_source_lines,
)
from trainer.card.gate_card import gate_lines
from trainer.data.splits import NEAR_DUPLICATE_BITS
from trainer.evaluation.metrics import BOOTSTRAP_RESAMPLES
from trainer.export.graph import CALIBRATION_IMAGES, INT8_MAX_AUC_DROP
from trainer.options import reproduce_command

__all__ = ["MODEL_CARD_FILE", "render_model_card"]

MODEL_CARD_FILE = "MODEL_CARD.md"

_METRIC_NAMES = {
    "roc_auc": "ROC-AUC",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "sensitivity": "Sensitivity (recall, malignant)",
    "specificity": "Specificity",
    "precision": "Precision (PPV)",
    "f1": "F1",
    "sensitivity_at_90_specificity": "Sensitivity at 90% specificity",
    "ece": "Expected calibration error",
}


def _metrics_table(evaluations: dict[str, Any]) -> list[str]:
    parts = [p for p in ("validation", "test") if p in evaluations]
    header = "| Metric | " + " | ".join(f"{p} (95% CI)" for p in parts) + " |"
    lines = [header, "|---" * (len(parts) + 1) + "|"]
    for key, name in _METRIC_NAMES.items():
        cells = []
        for part in parts:
            entry = evaluations[part][key]
            low, high = entry["ci95"]
            cells.append(f"{entry['value']:.3f} ({low:.3f}-{high:.3f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    images = " | ".join(
        f"{evaluations[p]['images']} images, {evaluations[p]['positives']} malignant" for p in parts
    )
    lines.append(f"| Images | {images} |")
    return lines


def _by_source(by_source: dict[str, Any]) -> list[str]:
    """The decision on each source alone, at the one served threshold."""
    if not by_source:
        return []
    lines = [
        "",
        "## Each source alone",
        "",
        "The same graph and threshold on each source's own held-out images: a model that is "
        "excellent on one collection may over-call benign lesions on another.",
        "",
        "| Source | Split | Images (malignant) | ROC-AUC (95% CI) | Sensitivity | Specificity | Accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for part, sources in by_source.items():
        for source, report in sources.items():
            low, high = report["roc_auc"]["ci95"]
            lines.append(
                f"| {source} | {part} | {report['images']} ({report['positives']}) | "
                f"{report['roc_auc']['value']:.3f} ({low:.3f}-{high:.3f}) | "
                f"{report['sensitivity']['value']:.3f} | {report['specificity']['value']:.3f} | "
                f"{report['accuracy']['value']:.3f} |"
            )
    return lines


def _diagnosis(diagnosis: dict[str, Any], calibration: dict[str, Any]) -> list[str]:
    """The diagnosis head: the ISIC 2018 metric, each class's sensitivity, the confusions."""
    if not diagnosis:
        return []
    lines = [
        "",
        "## Diagnosis head",
        "",
        "On the held-out images that have a diagnosis (HAM10000), the graph's most probable "
        "diagnosis; balanced accuracy is the mean per-class sensitivity, the ISIC 2018 metric."
        + (
            f" Temperature {calibration['diagnosis']['temperature']:.3f}, fitted on validation."
            if "diagnosis" in calibration
            else ""
        ),
        "",
    ]
    for part, report in diagnosis.items():
        low, high = report["balanced_accuracy"]["ci95"]
        sensitivities = ", ".join(
            f"{code} {value:.2f}"
            for code, value in report["sensitivity"].items()
            if value is not None
        )
        matrix = report["confusion_matrix"]
        lines += [
            f"- {part} ({report['images']} images): balanced accuracy "
            f"{report['balanced_accuracy']['value']:.3f} ({low:.3f}-{high:.3f}), accuracy "
            f"{report['accuracy']:.3f}; sensitivity {sensitivities}.",
            "",
            "  | true \\ predicted | " + " | ".join(matrix["classes"]) + " |",
            "  " + "|---" * (len(matrix["classes"]) + 1) + "|",
            *(
                f"  | {code} | " + " | ".join(str(n) for n in row) + " |"
                for code, row in zip(matrix["classes"], matrix["matrix"], strict=True)
            ),
            "",
        ]
    return lines


def _withheld(withheld: dict[str, str]) -> list[str]:
    """What the graph computes but the version does not serve, and why (trainer.export.output_gates)."""
    if not withheld:
        return []
    return [
        "",
        "## Not served",
        "",
        "The graph computes these, but their checks did not hold, so the services do not show "
        "them (the app says the version draws no heat map or names no diagnosis):",
        "",
        *(f"- The {output}: {reason}." for output, reason in withheld.items()),
    ]


def _assessability(metadata: ModelMetadata) -> list[str]:
    """What the service refuses to assess, and on what grounds."""
    ood = metadata.metrics.get("out_of_distribution")
    quality = metadata.quality
    rates = metadata.metrics.get("assessability")
    gate = metadata.metrics.get("acquisition")
    if not ood and quality is None and not gate:
        return []
    lines = [*gate_lines(gate), "", "## What it refuses to assess", ""]
    if rates:
        held_out, others = rates["held_out_dermoscopy"], rates["not_dermoscopy"]
        kinds = "; ".join(
            f"{kind} {r['refused']}/{r['images']}" for kind, r in others["by_kind"].items()
        )
        spoilt = "; ".join(
            f"{name} {r['refused']}/{r['images']}" for name, r in rates["spoilt_dermoscopy"].items()
        )
        lines += [
            f"Through the service's own rules: **{held_out['pass_rate']:.1%}** of the "
            f"{held_out['images']} validation images are assessed; **{others['refusal_rate']:.1%}** "
            f"of {others['images']} images that are not dermoscopy are refused ({kinds}); of "
            f"validation images spoilt on purpose, refused: {spoilt}.",
            "",
        ]
    if ood and ("retired" not in ood or not gate):
        lines += ood_lines(ood)
    lines += quality_by_source_lines(rates)
    lines += heatmap_lines(metadata.metrics.get("heatmap", {}))
    if quality is not None:
        lines.append(
            f"- Image quality, limits read off the {quality.images} training images at "
            f"{metadata.input.size} px (warning beyond the 1% tail, refusal well beyond the 0.1% "
            f"tail): sharpness (variance of the Laplacian) below {quality.blurred.warn:.1f} warns "
            f"and below {quality.blurred.refuse:.1f} refuses (out of focus), above "
            f"{quality.noisy.warn:.0f} / {quality.noisy.refuse:.0f} (noise); black pixels above "
            f"{quality.too_dark.warn:.2%} / {quality.too_dark.refuse:.2%}; burnt-out pixels above "
            f"{quality.overexposed.warn:.2%} / {quality.overexposed.refuse:.2%}. Images smaller "
            f"than {metadata.input.size} px warn, below half of it refuse; greyscale warns."
        )
    return lines


def render_model_card(metadata: ModelMetadata) -> str:
    training = metadata.training
    config = training.get("config", {})
    metrics = metadata.metrics
    calibration = metrics.get("calibration", {})
    evaluations: dict[str, Any] = {p: metrics[p] for p in ("validation", "test") if p in metrics}
    int8 = metrics.get("int8_parity")
    split = training.get("split", {})
    hours = training.get("seconds", 0) / 3600
    lines = [
        f"# Model card: {metadata.name} ({metadata.precision})",
        "",
        f"Created {metadata.created_at}. Classifies a dermoscopic image of a skin lesion as "
        f"{' or '.join(metadata.labels)}.",
        "",
        f"> **{DISCLAIMER}**",
        "",
        "## Intended use",
        "",
        "Decision support for clinicians triaging dermoscopic images: a second opinion that "
        "flags lesions for a dermatologist's attention. Not for use by patients on their own, "
        "not for clinical photographs without a dermatoscope, not a diagnosis. The decision "
        "threshold favours sensitivity: expect false alarms rather than missed melanomas.",
        "",
        "## Model",
        "",
        f"- Architecture: {metadata.architecture} backbone, global average pooling, "
        "Dense 224, BatchNorm, ReLU, Dense "
        f"{len(metadata.labels)}, softmax"
        + (
            f"; a second head of the same shape names the {len(metadata.diagnoses)} HAM10000 "
            f"diagnoses ({', '.join(metadata.diagnoses)})"
            if metadata.diagnoses
            else ""
        )
        + (
            f". Weights: those of {metadata.name} version "
            f"{training['lineage']['parent']['version']} (see Lineage)."
            if training.get("lineage")
            else f". Weights: {config.get('weights', '?')} (no ImageNet weights; see Training)."
        ),
        f"- Input: {metadata.input.size}x{metadata.input.size} RGB uint8 pixels, {metadata.input.layout}, "
        "after the service's decoding, shorter-side resize and centre crop. Inside the graph: "
        f"colour constancy `{metadata.input.color_constancy}`"
        + (" (Shades of Gray, p=6)" if metadata.input.color_constancy == "shades_of_gray" else "")
        + f", then normalization with mean {list(metadata.input.mean)} and std {list(metadata.input.std)}.",
        f"- Served precision: {metadata.precision}"
        + (
            " (ONNX Runtime static quantization, QDQ, int8 weights per channel, uint8 activations "
            f"calibrated on {CALIBRATION_IMAGES} training images); the fp32 graph is `model.fp32.onnx` where kept."
            if metadata.precision == "int8"
            else "."
        ),
        f"- Outputs: calibrated `logits` and `probabilities` over {list(metadata.labels)}"
        + (
            f"; `{metadata.ood_output}`, how unlike the training dermoscopy the image's features "
            "are"
            if metadata.ood_threshold is not None
            else ""
        )
        + (
            f"; `{metadata.heatmap_output}`, Grad-CAM of the last convolutional block for the "
            "decided class, as uint8 at the input size"
            if (metadata.ood_threshold is not None or metadata.acquisition_level is not None)
            and metadata.heatmap_output
            else ""
        )
        + (
            f"; `{metadata.diagnosis_output}`, calibrated probabilities of the diagnoses"
            if metadata.diagnoses
            else ""
        )
        + (
            f"; `{metadata.acquisition_output}`, the probabilities of dermoscopy, a clinical "
            "photograph and anything else (the acquisition gate, below)."
            if metadata.acquisition_level is not None
            else "."
        ),
        f"- Decision: `{metadata.positive_label}` when its probability is at least "
        f"**{metadata.decision_threshold:.4f}**, chosen on the validation split for "
        f"{config.get('target_sensitivity', 0.9):.0%} sensitivity; otherwise the other class.",
        "",
        "## Training data and licence",
        "",
        f"- {training.get('data', '')}.",
        f"- Split by lesion group, stratified by class: train {split.get('train')}, validation "
        f"{split.get('validation')}, test {split.get('test')} images. Images whose 255-bit "
        f"perceptual hashes differ in at most {NEAR_DUPLICATE_BITS} bits were joined into one group first, so no "
        "near-duplicate sits on both sides. The split is `split.csv` beside this card.",
    ]
    if config.get("pretrain_data"):
        lines.append(
            f"- Pretrained first on {config['pretrain_data']} ({config.get('pretrain_labels')} "
            f"labels, {len(training.get('pretraining_history', []))} epochs at "
            f"{config.get('pretrain_image_size') or config.get('image_size')} px), leaving out every "
            "pretraining image that nearly duplicates a validation or test image."
        )
    lines += [
        "- Licence: the ISIC Archive images are CC-0 or CC-BY-NC and HAM10000 is CC BY-NC-SA "
        "4.0. This model inherits the **non-commercial** terms: research and evaluation use only.",
        "",
        "## Metrics",
        "",
        "Computed on the served ONNX graph in ONNX Runtime, at the decision threshold above, with "
        f"percentile bootstrap 95% intervals ({BOOTSTRAP_RESAMPLES} resamples). The validation split chose the "
        "epoch, the temperature and the threshold, so its numbers are slightly optimistic; the "
        "test split influenced nothing. Neither is an independent external test set.",
        "",
        *_metrics_table(evaluations),
        "",
    ]
    for part in evaluations:
        (tn, fp), (fn, tp) = evaluations[part]["confusion_matrix"]["matrix"]
        lines.append(f"Confusion matrix, {part}: TN {tn}, FP {fp}, FN {fn}, TP {tp}.")
    if calibration:
        validation = calibration.get("validation", {})
        test = calibration.get("test", {})
        lines += [
            "",
            "## Calibration",
            "",
            f"Temperature scaling, T = {calibration['temperature']:.3f}, "
            + (
                f"{calibration['inherited_from']}'s, kept with its decision path (this version's "
                "validation split did not choose it),"
                if calibration.get("inherited_from")
                else "fitted on validation logits"
            )
            + " and applied inside the graph.",
            "",
            "| Split | NLL before | NLL after | ECE before | ECE after |",
            "|---|---|---|---|---|",
        ]
        for name, entry in (("validation", validation), ("test", test)):
            if entry:
                lines.append(
                    f"| {name} | {entry['nll_before']:.4f} | {entry['nll_after']:.4f} | "
                    f"{entry['ece_before']:.4f} | {entry['ece_after']:.4f} |"
                )
    lines += _withheld(metrics.get("withheld_outputs", {}))
    lines += lineage_lines(metadata)
    lines += _by_source(metrics.get("by_source", {}))
    lines += _diagnosis(metrics.get("diagnosis", {}), metrics.get("calibration", {}))
    lines += _assessability(metadata)
    if int8:
        lines += [
            "",
            "## int8 against PyTorch",
            "",
            *(
                [f"**int8 was refused and the fp32 graph is served**: {int8['refused']}.", ""]
                if not int8.get("accepted", True)
                else []
            ),
            f"On {int8['images']} images the int8 graph and the PyTorch model take the same decision "
            f"for {int8['decision_agreement']:.2%} of them (argmax {int8['argmax_agreement']:.2%}); "
            f"held-out ROC-AUC {int8['roc_auc_pytorch']:.4f} (PyTorch) vs {int8['roc_auc_int8']:.4f} "
            f"(int8), a drop of {int8['roc_auc_drop']:.4f} (limit {INT8_MAX_AUC_DROP}).",
        ]
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        reproduce_command(config),
        "```",
        "",
        f"Cost: {training.get('seconds', 0):.0f} s of training epochs ({hours:.1f} h) on "
        f"{training.get('hardware', training.get('device', '?'))}, torch {training.get('torch', '?')}. "
        f"Best epoch {training.get('best_epoch')}"
        + (" (early stopping)." if training.get("stopped_early") else "."),
        "",
        "Evaluate it again, through the service's own preprocessing:",
        "",
        "```",
        f"skinscan evaluate --model models/{metadata.name} --data {config.get('data')} "
        "--split validation --out report/",
        "```",
        "",
        "## Known limits",
        "",
        "- No clinical validation. Numbers come from a split of the training collection, not "
        "from a prospective study or an independent hospital's images.",
        "- Skin types: ISIC and HAM10000 images come mostly from fair-skinned (Fitzpatrick I-III) "
        "patients in Europe, Australia and the United States. Performance on darker skin is "
        "unknown and likely worse.",
        "- Image quality: trained on dermoscopy at reduced resolution "
        f"({metadata.input.size} px); blurred, badly exposed, hair-covered or non-dermoscopic "
        "images, and lesions not centred in the frame, are out of distribution.",
        (
            "- Classes: the decision is benign or malignant; the diagnosis head knows only the "
            "seven HAM10000 diagnoses, so any other lesion gets the nearest of them. "
            if metadata.diagnoses
            else "- Classes: benign or malignant only. "
        )
        + "Rare malignancies (e.g. amelanotic melanoma, Merkel cell carcinoma) are "
        "under-represented; the training labels include some without histopathology.",
        *(
            [
                "- Trained without ImageNet weights (none could be downloaded), so it is weaker "
                "than published ImageNet-initialised models on this collection."
            ]
            if config.get("weights") == "none"
            else []
        ),
        "",
        "## Figures",
        "",
        "`training_curves.png`, and for each split `<split>_roc.png`, "
        "`<split>_confusion_matrix.png`, `<split>_reliability.png`.",
        "",
    ]
    return "\n".join(lines)
