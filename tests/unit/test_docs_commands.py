"""The `sms dlq` commands the runbooks and docs tell an operator to run are ones the CLI takes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from courier.sms.cli import _build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PLACEHOLDERS = {"<stack>": "courier-prod", "<id>": "m-1", "<message-id>": "m-1"}


def _commands() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        # `sms dlq ...` in inline code (a paragraph may wrap it) or as a line of a code block
        inline = re.findall(r"`(sms dlq [^`]*)`", text)
        lines = re.findall(r"^(sms dlq [^#\n]*)", text, re.M)
        for raw in inline + lines:
            command = " ".join(raw.split())
            if "|" in command or "..." in command:
                continue  # a synopsis (alternatives, elisions), not a command to run
            found.append((path.relative_to(ROOT).as_posix(), command))
    return found


COMMANDS = _commands()


def test_the_docs_do_show_commands() -> None:
    assert len(COMMANDS) >= 6, COMMANDS


@pytest.mark.parametrize(("doc", "command"), COMMANDS)
def test_each_documented_command_parses(doc: str, command: str) -> None:
    argv = [PLACEHOLDERS.get(word, word) for word in shlex.split(command)][1:]
    arguments = _build_parser().parse_args(argv)
    assert arguments.command == "dlq", (doc, command)
