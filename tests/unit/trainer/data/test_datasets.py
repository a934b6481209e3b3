from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import link_ham10000_subset
from tests.images import png_bytes
from trainer.data.datasets import load_dataset, load_folder, load_ham10000, load_isic_archive
from trainer.data.samples import DataError, Sample, decode

HAM_HEADER = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"


@pytest.fixture
def ham_subset(ham10000: Path, tmp_path: Path) -> Path:
    return link_ham10000_subset(ham10000, tmp_path / "ham", 3, ("nv", "mel", "bcc", "bkl"))


def test_ham10000_binary_and_dx_labels_grouped_by_lesion(ham_subset: Path) -> None:
    binary = load_dataset(ham_subset)
    assert binary.classes == ("benign", "malignant")
    # mel and bcc are malignant; nv and bkl are not.
    assert binary.counts() == {"benign": 6, "malignant": 6}
    lines = (ham_subset / "HAM10000_metadata.csv").read_text().splitlines()[1:]
    assert [s.group for s in binary.samples] == [line.split(",")[0] for line in lines]
    dx = load_ham10000(ham_subset, "dx")
    assert dx.classes == ("bcc", "bkl", "mel", "nv")
    assert set(dx.counts().values()) == {3}


def test_ham10000_bad_rows_name_the_line(ham_subset: Path) -> None:
    metadata = ham_subset / "HAM10000_metadata.csv"
    metadata.write_text(metadata.read_text() + "HAM_X,ISIC_9999999,mel,histo,50,male,back\n")
    with pytest.raises(DataError, match=r"line 14: image 'ISIC_9999999' is not below"):
        load_ham10000(ham_subset)
    metadata.write_text(HAM_HEADER + "HAM_X,ISIC_1,melanoma,histo,50,male,back\n")
    with pytest.raises(DataError, match="line 2: unknown diagnosis 'melanoma'"):
        load_ham10000(ham_subset)


def test_isic_cli_download(isic_train: Path, tmp_path: Path) -> None:
    benign = sorted((isic_train / "benign").glob("*.jpg"))[:3]
    malignant = sorted((isic_train / "malignant").glob("*.jpg"))[:2]
    root = tmp_path / "isic"
    root.mkdir()
    rows = ["isic_id,attribution,copyright_license,benign_malignant,diagnosis,lesion_id"]
    for i, path in enumerate(benign + malignant):
        isic_id = f"ISIC_{i:07d}"
        (root / f"{isic_id}.jpg").symlink_to(path)
        label = "benign" if path in benign else "malignant"
        rows.append(f"{isic_id},Anonymous,CC-0,{label},nevus,IL_{i // 2}")
    rows.append("ISIC_0000099,Anonymous,CC-0,indeterminate,,IL_99")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    dataset = load_dataset(root)
    assert dataset.name == "ISIC Archive"
    assert dataset.counts() == {"benign": 3, "malignant": 2}
    assert [s.group for s in dataset.samples] == [
        "lesion:IL_0",
        "lesion:IL_0",
        "lesion:IL_1",
        "lesion:IL_1",
        "lesion:IL_2",
    ]
    (root / "metadata.csv").write_text(rows[0] + "\nISIC_0000000,A,CC-0,maybe,,IL_0\n")
    with pytest.raises(DataError, match="line 2: unknown benign_malignant 'maybe'"):
        load_isic_archive(root)


def test_acral_loads_as_a_source_grouped_by_patient_with_its_institutions(acral: Path) -> None:
    """acral/ (image_id, institution, patient_id, lesion_id) trains like any ISIC download."""
    dataset = load_dataset(acral)
    assert len(dataset.samples) == 2708 and dataset.counts()["malignant"] == 645
    institutions = {s.institution for s in dataset.samples}
    assert {"Imperial College London", "International Dermoscopy Society"} <= institutions
    # Barcelona's department and the hospital are one institution.
    assert "Hospital Clínic de Barcelona" in institutions
    assert not any(name.startswith("Department of") for name in institutions)
    # A patient's lesions share one group, so no patient straddles a split.
    by_group: dict[str, set[str]] = {}
    for sample in dataset.samples:
        by_group.setdefault(sample.group, set()).add(sample.institution)
    patients = [g for g in by_group if g.startswith("patient:")]
    assert patients and len(by_group) < len(dataset.samples)


def test_folder_errors_name_the_file_or_folder(tmp_path: Path) -> None:
    (tmp_path / "benign").mkdir()
    with pytest.raises(DataError, match="at least two"):
        load_folder(tmp_path)
    (tmp_path / "malignant").mkdir()
    (tmp_path / "benign" / "a.png").write_bytes(png_bytes(64, 64))
    with pytest.raises(DataError, match="malignant holds no"):
        load_folder(tmp_path)
    (tmp_path / "malignant" / "broken.jpg").write_bytes(b"not a jpeg")
    dataset = load_folder(tmp_path)
    assert dataset.classes == ("benign", "malignant")
    with pytest.raises(DataError, match=r"broken\.jpg"):
        decode(list(dataset.samples), 32)
    with pytest.raises(DataError, match="applies to HAM10000 only"):
        load_dataset(tmp_path, "dx")
    assert decode([Sample(tmp_path / "benign" / "a.png", 0, "a")], 32).pixels.shape == (
        1,
        32,
        32,
        3,
    )
