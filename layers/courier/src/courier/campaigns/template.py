"""Campaign message templates: `{name}` variables, `{{`/`}}` for literal braces, and a preview.

Hand-written rather than `string.Formatter`: that one also accepts positional fields, attribute
and index access and format specs (`{0}`, `{a.b}`, `{x:>10}`), none of which a campaign
author should be able to write, and its errors carry no position. This scanner knows only
names and literal braces and says where each problem is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from courier.sms.contract import MAX_BODY_CHARS
from courier.sms.segments import Encoding, segment

VARIABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_TEMPLATE_CHARS: Final = MAX_BODY_CHARS
# The CSV's number column: never a template variable (the template must not print it).
PHONE_COLUMN: Final = "phone"


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One thing wrong with a template, at a 0-based character position."""

    code: str
    message: str
    position: int | None = None


class TemplateError(ValueError):
    """A template that cannot be used; `problems` lists every error found."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


class MissingVariables(ValueError):
    """Values absent (or empty) for some of the template's variables."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__("missing value for " + ", ".join(f"{{{n}}}" for n in names))


@dataclass(frozen=True, slots=True)
class MessagePreview:
    """How one rendered message goes out: encoding, length, parts and the estimated cost."""

    encoding: Encoding
    characters: int
    parts: int
    cost: Decimal


def estimated_cost(parts: int, price_per_part: Decimal) -> Decimal:
    return price_per_part * parts


def preview_text(text: str, price_per_part: Decimal) -> MessagePreview:
    seg = segment(text)
    return MessagePreview(
        seg.encoding, len(text), seg.parts, estimated_cost(seg.parts, price_per_part)
    )


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A parsed template: literal text and variable names, in order."""

    source: str
    pieces: tuple[tuple[bool, str], ...]  # (is_variable, literal text or variable name)

    @property
    def variables(self) -> tuple[str, ...]:
        """Each variable once, in order of first use."""
        return tuple(dict.fromkeys(name for is_var, name in self.pieces if is_var))

    def render(self, values: dict[str, str]) -> str:
        """The message for one recipient; MissingVariables when a value is absent or empty."""
        missing = [name for name in self.variables if not values.get(name)]
        if missing:
            raise MissingVariables(missing)
        return "".join(values[text] if is_var else text for is_var, text in self.pieces)

    def sample(self) -> str:
        """The text with each variable shown as its own name, for a preview before any audience."""
        return "".join(f"{{{text}}}" if is_var else text for is_var, text in self.pieces)


def parse_template(source: str) -> MessageTemplate:
    """Parse `source`; TemplateError lists every unbalanced brace and bad variable name."""
    problems: list[TemplateProblem] = []
    if not source.strip():
        problems.append(TemplateProblem("empty", "the template is empty"))
    if len(source) > MAX_TEMPLATE_CHARS:
        problems.append(
            TemplateProblem(
                "too_long",
                f"the template has {len(source)} characters; at most {MAX_TEMPLATE_CHARS}",
            )
        )
    pieces: list[tuple[bool, str]] = []
    literal: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "{" and source.startswith("{{", i):
            literal.append("{")
            i += 2
        elif ch == "}" and source.startswith("}}", i):
            literal.append("}")
            i += 2
        elif ch == "}":
            problems.append(
                TemplateProblem(
                    "unbalanced_brace",
                    f"'}}' at position {i} closes nothing (write '}}}}' for a literal brace)",
                    i,
                )
            )
            i += 1
        elif ch == "{":
            end = source.find("}", i + 1)
            other_open = source.find("{", i + 1)
            if end == -1 or (other_open != -1 and other_open < end):
                problems.append(
                    TemplateProblem(
                        "unbalanced_brace",
                        f"'{{' at position {i} is never closed (write '{{{{' for a literal brace)",
                        i,
                    )
                )
                i += 1
                continue
            name = source[i + 1 : end]
            if not VARIABLE_NAME.fullmatch(name):
                problems.append(
                    TemplateProblem(
                        "bad_variable",
                        f"'{{{name}}}' at position {i} is not a variable name (letters, digits "
                        "and '_', not starting with a digit, at most 64)",
                        i,
                    )
                )
            elif name == PHONE_COLUMN:
                problems.append(
                    TemplateProblem(
                        "reserved_variable",
                        f"'{{{PHONE_COLUMN}}}' at position {i}: the recipient's number is not "
                        "a template variable",
                        i,
                    )
                )
            else:
                if literal:
                    pieces.append((False, "".join(literal)))
                    literal = []
                pieces.append((True, name))
            i = end + 1
        else:
            literal.append(ch)
            i += 1
    if literal:
        pieces.append((False, "".join(literal)))
    if problems:
        raise TemplateError(problems)
    return MessageTemplate(source, tuple(pieces))
