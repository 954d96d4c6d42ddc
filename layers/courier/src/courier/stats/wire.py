"""DynamoDB Query response bodies → pages the fold reads: typed items first, plain records else.

The fast way: msgspec decodes the body against the projection's types (`{"S": text}`,
`{"N": whole number}`, a known vocabulary as a `Literal`, so equal texts are one object) into
slotted, untracked structs, and the fold reads them column by column through C-level attribute
getters (`tallies.ColumnPage`): no dict per record and no Python loop per record. msgspec rather
than `json.loads` + a decode loop: it skips what it is not asked for, builds no dict per
attribute, and ~3x faster in the bench (docs/benchmarks.md). A body it cannot type (another
attribute type, a status outside the vocabulary, a fractional `parts`...) is decoded the general
way: `json.loads` and `WireDecoder` (S and N only), and what that refuses goes to botocore's own
parse and boto3's TypeDeserializer (the pager), so nothing is misread.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from courier.stats.columns import ColumnPage

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer

Page = ColumnPage | list[dict[str, Any]]


class WireDecoder:
    """Items in DynamoDB's wire format (`{"parts": {"N": "2"}}`) → plain values (`{"parts": 2}`).

    `S` → str; `N` → int for `integers` (the fields the fold reads as whole numbers) when the text
    is one, else Decimal; any other type → boto3's TypeDeserializer, on items botocore parsed.
    """

    def __init__(self, integers: Collection[str] = ()) -> None:
        self._integers = frozenset(integers)
        self._deserializer: TypeDeserializer | None = None

    def _other(self, name: str, value: Mapping[str, Any]) -> Any:
        text = value.get("N")
        if text is not None and name in self._integers:
            try:
                return int(text)
            except ValueError:
                pass  # not a whole number: a Decimal, as boto3 reads it
        if self._deserializer is None:
            from boto3.dynamodb.types import TypeDeserializer

            self._deserializer = TypeDeserializer()
        return self._deserializer.deserialize(dict(value))  # type: ignore[arg-type]

    def items(self, items: Sequence[Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """Items as botocore's parser returns them (binary values already bytes)."""
        other = self._other
        # An attribute value holds exactly one type: `"S" in value` is a string.
        return [
            {
                name: value["S"] if "S" in value else other(name, value)
                for name, value in item.items()
            }
            for item in items
        ]

    def raw_items(
        self, items: Sequence[Mapping[str, Mapping[str, Any]]]
    ) -> list[dict[str, Any]] | None:
        """Items straight from the response JSON, or None when one holds a type other than S or N
        (binary is base64 there, and maps or lists may hold binary: botocore's parse decodes it)."""
        other = self._other
        try:
            return [
                {
                    name: value["S"] if "S" in value else other(name, _number(value))
                    for name, value in item.items()
                }
                for item in items
            ]
        except _NotPlain:
            return None


class _NotPlain(Exception):
    """A wire value this decoder leaves to botocore."""


def _number(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if "N" not in value:
        raise _NotPlain
    return value


def plain_key(key: Any) -> bool:
    """Whether a LastEvaluatedKey from the JSON can go back as it is (no base64 binary in it)."""
    return key is None or (
        isinstance(key, dict)
        and all(isinstance(v, dict) and v.keys() <= {"S", "N"} for v in key.values())
    )


# Absent attributes decode to these shared values, so every attribute path reads None, not fails.
class _Text(msgspec.Struct, frozen=True, gc=False):
    S: str | None


class _Whole(msgspec.Struct, frozen=True, gc=False):
    # Non-strict decoding reads "2", "2.0" or "1e2" as an int, as int(Decimal(text)) would; "2.5"
    # or "02" fail the page's typed decode (the general way then reads it).
    N: int | None


_NO_TEXT = _Text(None)
_NO_NUMBER = _Whole(None)


def _value_type(name: str, integers: Collection[str], vocabulary: Collection[str] | None) -> Any:
    if name in integers:
        return _Whole
    if not vocabulary:
        return _Text
    # Literal texts decode to the Literal's own string objects: hashing and comparing them in the
    # fold's counters is a pointer check.
    words: Any = Literal.__getitem__(tuple(vocabulary))
    return msgspec.defstruct(f"_Word_{name}", [("S", words | None)], frozen=True, gc=False)


class QueryBodyDecoder:
    """A Query response body → (page, LastEvaluatedKey), or None to leave it to botocore.

    `fields` are the projected attributes (all the typed items hold; any other is ignored, and
    none is expected: the Query projects exactly these), `integers` the whole-number ones,
    `vocabularies` the known words of some text fields (a word outside → the general way).
    """

    def __init__(
        self,
        fields: Sequence[str],
        *,
        integers: Collection[str] = (),
        vocabularies: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        words = vocabularies or {}
        columns: list[tuple[str, Any, Any]] = []
        self._paths: dict[str, str] = {}
        for name in fields:
            kind = _value_type(name, integers, words.get(name))
            absent = _NO_NUMBER if kind is _Whole else _NO_TEXT if kind is _Text else kind(None)
            columns.append((name, kind, absent))
            self._paths[name] = f"{name}.N" if kind is _Whole else f"{name}.S"
        item: Any = msgspec.defstruct("_Item", columns, gc=False)
        body: Any = msgspec.defstruct(
            "_QueryBody", [("Items", list[item], []), ("LastEvaluatedKey", Any, None)], gc=False
        )
        self._typed = msgspec.json.Decoder(body, strict=False)
        self._plain = WireDecoder(integers)

    @property
    def wire(self) -> WireDecoder:
        """The general decoder (for bodies botocore parsed)."""
        return self._plain

    def decode(self, body: bytes | str) -> tuple[Page, Any] | None:
        try:
            typed: Any = self._typed.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return self._decode_plain(body)
        last = typed.LastEvaluatedKey
        if not plain_key(last):
            return None
        return ColumnPage(typed.Items, self._paths), last

    def _decode_plain(self, body: bytes | str) -> tuple[Page, Any] | None:
        try:
            data = json.loads(body)
        except ValueError:
            return None  # botocore's parser reports it
        if not isinstance(data, dict):
            return None
        last = data.get("LastEvaluatedKey")
        items = self._plain.raw_items(data.get("Items", [])) if plain_key(last) else None
        return None if items is None else (items, last)
