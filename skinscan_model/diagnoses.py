"""The seven HAM10000 diagnoses: the codes a diagnosis head predicts, in plain language.

Shared by the trainer (which labels HAM10000 images with them) and the
service (which names the most likely one to a clinician), so the two cannot
disagree about what a code means or whether it is malignant.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIAGNOSES", "DIAGNOSIS_CODES", "Diagnosis"]


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    # Malignant or pre-malignant: what the binary decision calls malignant.
    malignant: bool


DIAGNOSES = {
    d.code: d
    for d in (
        Diagnosis(
            "akiec", "Actinic keratosis or intraepithelial carcinoma (Bowen's disease)", True
        ),
        Diagnosis("bcc", "Basal cell carcinoma", True),
        Diagnosis(
            "bkl",
            "Benign keratosis (seborrhoeic keratosis, solar lentigo, lichen planus-like keratosis)",
            False,
        ),
        Diagnosis("df", "Dermatofibroma", False),
        Diagnosis("mel", "Melanoma", True),
        Diagnosis("nv", "Melanocytic nevus", False),
        Diagnosis("vasc", "Vascular lesion", False),
    )
}
# The order of a diagnosis head's outputs.
DIAGNOSIS_CODES = tuple(sorted(DIAGNOSES))
