"""Campaign templates: variables, brace errors, rendering, and the encoding/parts/cost preview."""

from __future__ import annotations

from decimal import Decimal

import pytest

from courier.campaigns.template import (
    MissingVariables,
    TemplateError,
    parse_template,
    preview_text,
)


def test_variables_are_listed_once_in_order_and_rendered() -> None:
    # Given a template using {name} twice and {code} once, with escaped braces
    template = parse_template("Hi {name}, code {code} {{not a var}} bye {name}")
    # Then the variables are listed once each, in order of first use
    assert template.variables == ("name", "code")
    # And rendering substitutes each and keeps literal braces
    assert template.render({"name": "Kim", "code": "42"}) == "Hi Kim, code 42 {not a var} bye Kim"


@pytest.mark.parametrize(
    ("source", "code", "position"),
    [
        ("Hi {name", "unbalanced_brace", 3),
        ("Hi name}", "unbalanced_brace", 7),
        ("Hi {na{me}", "unbalanced_brace", 3),
        ("Hi {}", "bad_variable", 3),
        ("Hi {1st}", "bad_variable", 3),
        ("Hi {a.b}", "bad_variable", 3),
        ("Hi {x:>10}", "bad_variable", 3),
        ("Call {phone}", "reserved_variable", 5),
        ("   ", "empty", None),
    ],
)
def test_each_template_error_names_its_problem_and_position(
    source: str, code: str, position: int | None
) -> None:
    # When a broken template is parsed
    with pytest.raises(TemplateError) as caught:
        parse_template(source)
    # Then the first problem has the expected code and position, and a readable message
    problem = caught.value.problems[0]
    assert (problem.code, problem.position) == (code, position)
    assert problem.message


def test_every_problem_is_reported_not_only_the_first() -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template("{a b} and } and {ok")
    assert [p.code for p in caught.value.problems] == [
        "bad_variable",
        "unbalanced_brace",
        "unbalanced_brace",
    ]


def test_a_missing_or_empty_value_names_every_missing_variable() -> None:
    template = parse_template("{first} {last} {city}")
    with pytest.raises(MissingVariables) as caught:
        template.render({"first": "A", "last": ""})
    assert caught.value.names == ["last", "city"]
    assert "{last}" in str(caught.value)
    assert "{city}" in str(caught.value)


def test_preview_counts_gsm7_and_ucs2_parts_and_cost_per_part() -> None:
    price = Decimal("0.0125")
    gsm = preview_text("a" * 161, price)  # one over a single GSM-7 part: two parts of 153
    assert (gsm.encoding, gsm.parts, gsm.cost) == ("GSM-7", 2, Decimal("0.0250"))
    korean = preview_text("안녕하세요" * 14 + "!", price)  # 71 UCS-2 units: two parts
    assert (korean.encoding, korean.parts, korean.cost) == ("UCS-2", 2, Decimal("0.0250"))


def test_the_sample_shows_variables_by_name() -> None:
    assert parse_template("Hi {name} {{x}}").sample() == "Hi {name} {x}"
