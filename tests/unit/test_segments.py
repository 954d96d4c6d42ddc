"""Exact SMS segmentation: GSM-7 160/153 septets, UCS-2 70/67 code units, no split characters."""

from __future__ import annotations

import pytest

from courier.sms.segments import GSM7_BASIC, GSM7_EXTENSION, Segmentation, is_gsm7, segment


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_part_boundaries(length: int, parts: int) -> None:
    # Given a plain GSM-7 text of `length` characters
    text = "a" * length
    # When it is segmented
    result = segment(text)
    # Then one part holds 160 septets, and each part of a longer text 153
    assert result.encoding == "GSM-7"
    assert result.units == length
    assert result.parts == parts


@pytest.mark.parametrize(("count", "units", "parts"), [(80, 160, 1), (81, 162, 2)])
def test_gsm7_extension_characters_count_twice(count: int, units: int, parts: int) -> None:
    # Given a text of euro signs (escape + code in the extension table)
    text = "€" * count
    # When it is segmented
    result = segment(text)
    # Then each one takes two septets
    assert result == Segmentation("GSM-7", units, parts)


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_every_extension_character_is_two_septets(char: str) -> None:
    # Given one extension character among plain ones / When segmented / Then it weighs 2
    assert segment("a" + char).units == 3


def test_escape_pair_is_never_split_across_parts() -> None:
    # Given 152 septets, then a euro sign (2 septets), then 152 more: 306 septets in all,
    # which would fit two 153-septet parts only if the escape pair could straddle them
    text = "a" * 152 + "€" + "a" * 152
    # When it is segmented
    result = segment(text)
    # Then the pair moves whole to part 2 (2 + 151), leaving one septet for a third part
    assert result.units == 306
    assert result.parts == 3


def test_escape_pair_that_fits_stays_in_the_part() -> None:
    # Given 151 septets and a euro sign: exactly 153 in the first part, then 10 more
    text = "a" * 151 + "€" + "a" * 10
    # When it is segmented / Then the first part is full and the rest needs one more part
    assert segment(text).parts == 2


def test_extension_char_within_single_part_limit() -> None:
    # Given 158 septets plus a euro sign: 160 septets, still one part
    assert segment("a" * 158 + "€") == Segmentation("GSM-7", 160, 1)
    # And one more septet makes it a multipart message: 161 septets -> 2 parts of 153
    assert segment("a" * 159 + "€").parts == 2


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_part_boundaries(length: int, parts: int) -> None:
    # Given a Korean text of `length` characters
    text = "가" * length
    # When it is segmented
    result = segment(text)
    # Then it is UCS-2: 70 units in one part, 67 per part beyond that
    assert result.encoding == "UCS-2"
    assert result.units == length
    assert result.parts == parts


def test_korean_text_is_ucs2() -> None:
    # Given a typical Korean verification message
    text = "[Courier] 인증번호는 123456 입니다."
    # When it is segmented
    result = segment(text)
    # Then it is UCS-2, one unit per Hangul syllable and per ASCII character
    assert not is_gsm7(text)
    assert result.encoding == "UCS-2"
    assert result.units == len(text)
    assert result.parts == 1


@pytest.mark.parametrize(("count", "units", "parts"), [(35, 70, 1), (36, 72, 2)])
def test_emoji_takes_two_code_units(count: int, units: int, parts: int) -> None:
    # Given emoji outside the Basic Multilingual Plane (a UTF-16 surrogate pair each)
    text = "😀" * count
    # When it is segmented / Then each counts as two UCS-2 units
    assert segment(text) == Segmentation("UCS-2", units, parts)


def test_emoji_is_never_split_across_parts() -> None:
    # Given 66 units, an emoji (2 units) and 66 more: 134 units, two parts only if the pair split
    text = "a" * 66 + "😀" + "a" * 66
    # When it is segmented
    result = segment(text)
    # Then the emoji opens part 2 (2 + 65) and one unit spills into part 3
    assert result.encoding == "UCS-2"
    assert result.units == 134
    assert result.parts == 3


def test_single_non_gsm_character_forces_ucs2() -> None:
    # Given 159 GSM characters and one lowercase c-cedilla (only the capital is in GSM 03.38)
    text = "a" * 159 + "ç"
    # When it is segmented
    result = segment(text)
    # Then the whole message is UCS-2: 160 units -> 3 parts of at most 67
    assert result.encoding == "UCS-2"
    assert result.units == 160
    assert result.parts == 3


def test_extension_characters_are_single_units_in_ucs2() -> None:
    # Given a UCS-2 message with euro signs / When segmented / Then each is one UTF-16 unit
    result = segment("가" + "€" * 69)
    assert result == Segmentation("UCS-2", 70, 1)


def test_gsm7_alphabet_tables() -> None:
    # Given the GSM 03.38 tables / Then the basic table has 127 characters (128 minus ESC)
    assert len(GSM7_BASIC) == 127
    assert "\x1b" not in GSM7_BASIC
    assert frozenset("\f^{}\\[~]|€") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION
    # And common look-alikes outside the alphabet force UCS-2
    for char in ("ç", "`", "\u2019", "\u201c", "\u2014", "\u2026"):
        assert not is_gsm7(char), char


def test_empty_text_has_no_parts() -> None:
    assert segment("") == Segmentation("GSM-7", 0, 0)
