"""The documents a newcomer reads: every link and picture resolves, every command shown exists,
and the screenshots show the model `make run` serves.

README.md and docs/ are checked as they are committed: a relative link or image must name a
file that exists (and a heading of it, for `#anchor`); a `skinscan …` command in a code block
must name real subcommands and options (`skinscan … --help` would list them); a `make …`
command must name a target of the Makefile.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from skinscan_cli.main import build_parser
from skinscan_model.store import DEFAULT_MODEL_NAME, LocalModelStore
from tests.conftest import ROOT

DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```(\w*)\s*$")
# Unlabelled blocks are pictures (architecture diagrams); commands are in shell blocks.
_SHELLS = {"sh", "bash", "shell", "console"}


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors, fenced = set(), False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^#+ (.*)", line)):
            anchors.add(_slug(m.group(1)))
    return anchors


def _prose(path: Path) -> str:
    """The text outside code blocks and inline code (where a link is only an example)."""
    kept, fenced = [], False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def _shell_commands(path: Path) -> list[str]:
    """Each command line of the document's shell code blocks, continuations joined."""
    commands: list[str] = []
    language: str | None = None
    pending = ""
    for line in path.read_text().splitlines():
        fence = _FENCE.match(line)
        if fence:
            language = None if language is not None else fence.group(1)
            continue
        if language is None or language not in _SHELLS:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        commands.append(pending + line)
        pending = ""
    return commands


def _broken_links(document: Path) -> list[str]:
    broken = []
    for target in _LINK.findall(_prose(document)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no such heading in {linked.name}")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_resolves(document: Path) -> None:
    broken = _broken_links(document)
    assert not broken, broken


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _check_skinscan(words: list[str]) -> list[str]:
    """Problems with one `skinscan` command line (its words after `skinscan`)."""
    parser = build_parser()
    used: list[str] = []
    for word in words:
        if word in ("|", "&&", ";", "||", ">", ">>") or word.startswith("#"):
            break
        subcommands = _subcommands(parser)
        if subcommands and not word.startswith("-"):
            if word not in subcommands:
                return [f"{' '.join(['skinscan', *used])} has no subcommand {word!r}"]
            parser = subcommands[word]
            used.append(word)
            continue
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            if option not in parser._option_string_actions:
                return [f"{' '.join(['skinscan', *used])} has no option {option}"]
    return []


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=False)
    except ValueError:  # an unclosed quote in an example: split plainly
        return command.split()


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_shown_exists(document: Path) -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    problems = []
    for command in _shell_commands(document):
        words = _words(command)
        for i, word in enumerate(words):
            name = word.rsplit("/", 1)[-1]
            first = i == 0 or words[i - 1] in ("|", "&&", ";", "||", "$(", "time")
            if name == "skinscan" and (first or word.endswith("/skinscan")):
                problems += _check_skinscan(words[i + 1 :])
            elif word == "make" and first and i + 1 < len(words):
                target = words[i + 1]
                if not target.startswith("-") and "=" not in target and target not in targets:
                    problems.append(f"make {target}: no such target in the Makefile")
    assert not problems, problems


def test_the_screenshots_show_the_served_model_version() -> None:
    """tools/readme_screenshots.py records what it photographed; retake them after a version."""
    shown = json.loads((ROOT / "docs" / "images" / "screenshots.json").read_text())
    served = LocalModelStore(ROOT / "models").fetch(DEFAULT_MODEL_NAME)
    assert (shown["model"], shown["version"]) == (DEFAULT_MODEL_NAME, served.version), (
        "the README's screenshots are of another version: run tools/readme_screenshots.py "
        "against make run"
    )


def test_the_check_finds_what_it_is_for(tmp_path: Path) -> None:
    assert _check_skinscan(["analyze", "--json", "x.jpg"]) == []
    assert _check_skinscan(["analyse", "x.jpg"]) == ["skinscan has no subcommand 'analyse'"]
    assert _check_skinscan(["train", "--no-such-option"]) == [
        "skinscan train has no option --no-such-option"
    ]
    (tmp_path / "other.md").write_text("## A heading, with `code`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[here](#title) [gone](#nowhere) [file](missing.md) "
        "[there](other.md#a-heading-with-code) [not there](other.md#b) ![p](missing.png)\n"
        "`[in code](nowhere.md)`\n\n```sh\n[in a block](nowhere.md)\n```\n"
    )
    assert _broken_links(page) == [
        "#nowhere: no such heading in page.md",
        "missing.md: no such file",
        "other.md#b: no such heading in other.md",
        "missing.png: no such file",
    ]
