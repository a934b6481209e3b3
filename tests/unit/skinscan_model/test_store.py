"""LocalModelStore: versions, fetch, verify and publish on a real folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skinscan.errors import ConflictError, ModelNotFoundError
from skinscan_model.metadata import InputSpec, ModelMetadata, sha256_of
from skinscan_model.store import METADATA_FILE, LocalModelStore

METADATA = ModelMetadata(
    name="m",
    labels=("benign", "malignant"),
    positive_label="malignant",
    decision_threshold=0.4,
    input=InputSpec(size=32),
)


def _graph(tmp_path: Path, content: bytes) -> Path:
    # The store copies and checks bytes; it never parses the graph.
    path = tmp_path / f"graph-{len(content)}.onnx"
    path.write_bytes(content)
    return path


def test_publish_numbers_versions_and_fetch_takes_the_newest(tmp_path: Path) -> None:
    store = LocalModelStore(tmp_path / "repo")
    assert store.versions("m") == []
    first = store.publish(_graph(tmp_path, b"one"), METADATA)
    card = tmp_path / "card.md"
    card.write_text("card")
    second = store.publish(_graph(tmp_path, b"second"), METADATA, {"MODEL_CARD.md": card})
    assert (first.version, second.version) == ("1", "2")
    assert store.versions("m") == ["1", "2"]
    newest = store.fetch("m")
    assert newest.version == "2" and newest.onnx_path.read_bytes() == b"second"
    assert (newest.path / "MODEL_CARD.md").read_text() == "card"
    assert newest.metadata.model_sha256 == sha256_of(newest.onnx_path)
    assert store.fetch("m", "1").onnx_path.read_bytes() == b"one"
    store.verify(newest)
    # No staging folder is left behind.
    assert sorted(p.name for p in (tmp_path / "repo" / "m").iterdir()) == ["1", "2"]


def test_a_changed_model_file_fails_verification(tmp_path: Path) -> None:
    store = LocalModelStore(tmp_path)
    version = store.publish(_graph(tmp_path, b"weights"), METADATA)
    version.onnx_path.write_bytes(b"weightz")
    with pytest.raises(ModelNotFoundError, match="SHA-256"):
        store.verify(store.fetch("m"))


def test_a_version_published_without_a_checksum_still_verifies(tmp_path: Path) -> None:
    store = LocalModelStore(tmp_path)
    version = store.publish(_graph(tmp_path, b"weights"), METADATA)
    raw = json.loads((version.path / METADATA_FILE).read_text())
    del raw["model_sha256"]
    (version.path / METADATA_FILE).write_text(json.dumps(raw))
    store.verify(store.fetch("m"))


@pytest.mark.parametrize(
    ("setup", "name", "version", "reason"),
    [
        ("none", "m", None, "does not exist"),
        ("empty", "m", None, "holds no version of model 'm'"),
        ("one", "m", "7", "has no version 7"),
        ("bad metadata", "m", None, "missing or invalid"),
    ],
)
def test_what_cannot_be_served_is_refused_with_a_reason(
    tmp_path: Path, setup: str, name: str, version: str | None, reason: str
) -> None:
    root = tmp_path / "repo"
    if setup != "none":
        root.mkdir()
    if setup in ("one", "bad metadata"):
        published = LocalModelStore(root).publish(_graph(tmp_path, b"w"), METADATA)
        if setup == "bad metadata":
            (published.path / METADATA_FILE).write_text("{")
    with pytest.raises(ModelNotFoundError, match=reason):
        LocalModelStore(root).fetch(name, version)


def test_put_copies_a_version_under_its_number_once(tmp_path: Path) -> None:
    source = LocalModelStore(tmp_path / "source")
    source.publish(_graph(tmp_path, b"one"), METADATA)
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("card")
    published = source.publish(_graph(tmp_path, b"two"), METADATA, {"MODEL_CARD.md": card})
    target = LocalModelStore(tmp_path / "target")
    copied = target.put(published)
    # The number travels with the model: results name the version whose card was reviewed.
    assert target.versions("m") == ["2"] and copied.version == "2"
    assert (copied.path / "MODEL_CARD.md").read_text() == "card"
    target.verify(copied)
    assert target.put(published).path == copied.path  # again: nothing changes
    other = LocalModelStore(tmp_path / "other").publish(_graph(tmp_path, b"xx"), METADATA)
    target.put(source.fetch("m", "1"))
    with pytest.raises(ConflictError, match="never overwritten"):
        target.put(other)
    assert target.fetch("m", "1").onnx_path.read_bytes() == b"one"
