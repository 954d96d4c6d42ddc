"""The aggregate and publish steps, over ports the adapters implement (no AWS types here)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, tzinfo
from typing import Any, Protocol, TypeVar

from courier.data.errors import DatabaseUnavailable
from courier.stats.contract import (
    SOURCES,
    AggregateRequest,
    PartialRef,
    PublishRequest,
    PublishResult,
    Source,
    partial_key,
    report_keys,
)
from courier.stats.errors import PartialsMismatch, TransientStatsError
from courier.stats.history import StatsHistory, history_day
from courier.stats.report import daily_stats, render_csv, render_json, stats_item, summary_line
from courier.stats.tallies import AnyPage, ChatTally, PartialDocument, SmsTally, Tally, fold

TallyT = TypeVar("TallyT", SmsTally, ChatTally)

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"


class RecordPager(Protocol):
    """Pages of one chat day-shard's records (the DynamoDB adapter: Query + LastEvaluatedKey)."""

    def pages(self, day_shard: str) -> Iterator[AnyPage]: ...


class ObjectStore(Protocol):
    """The reports bucket."""

    def put(self, key: str, body: bytes, *, content_type: str) -> str:
        """Store (overwrite) an object; returns its `s3://bucket/key` location."""
        ...

    def get(self, key: str) -> bytes: ...


class StatsTable(Protocol):
    def put(self, item: Mapping[str, Any]) -> None:
        """Write (overwrite) a day's item."""
        ...


class CacheInvalidator(Protocol):
    """The shared read cache: drop what readers may have cached of a day just written."""

    def invalidate(self, day: date) -> bool:
        """False when the cache could not be reached (logged and counted, never raised)."""
        ...


class SmsDayCounts(Protocol):
    """The SMS day's counts as the stream counter stored them (its partials, merged)."""

    def day_tally(self, day: str) -> SmsTally: ...


class StatsAggregator:
    """The aggregate step: the SMS day's stream partials merged, or one chat day-shard folded
    page by page; stores the result as the task's partial in S3 and returns a pointer."""

    def __init__(
        self,
        *,
        sms: SmsDayCounts,
        chat: RecordPager,
        objects: ObjectStore,
        zone: tzinfo,
    ) -> None:
        self._sms = sms
        self._chat = chat
        self._objects = objects
        self._zone = zone

    def aggregate(self, task: AggregateRequest) -> PartialRef:
        tally: Tally
        if task.source == "sms":
            tally = self._sms.day_tally(task.date)
        else:
            tally = fold(task.source, self._chat.pages(task.day_shard), zone=self._zone)
        document = PartialDocument.of(task.date, task.source, task.shard, tally)
        key = partial_key(task.date, task.run, task.source, task.shard)
        self._objects.put(key, document.to_bytes(), content_type=JSON_TYPE)
        return PartialRef(
            source=task.source, shard=task.shard, records=tally.records, partial_key=key
        )


class StatsPublisher:
    """The publish step: merge every partial of the day, write the item, both reports and the
    day's history row, then invalidate the stats read cache."""

    def __init__(
        self,
        *,
        objects: ObjectStore,
        table: StatsTable,
        history: StatsHistory,
        cache: CacheInvalidator | None = None,
        shards: Mapping[Source, int],
        timezone: str,
        top_rooms: int,
    ) -> None:
        self._objects = objects
        self._table = table
        self._history = history
        self._cache = cache
        self._shards = shards
        self._timezone = timezone
        self._top_rooms = top_rooms

    def check_complete(self, request: PublishRequest) -> None:
        """Exactly one partial per planned shard, each at the key this run's aggregate step used."""
        seen: set[tuple[Source, int]] = set()
        for ref in request.partials:
            if (ref.source, ref.shard) in seen:
                raise PartialsMismatch(f"{ref.source} shard {ref.shard} is listed twice")
            seen.add((ref.source, ref.shard))
            expected = partial_key(request.date, request.run, ref.source, ref.shard)
            if ref.partial_key != expected:
                raise PartialsMismatch(f"partial key {ref.partial_key!r} is not {expected!r}")
        wanted = {(source, n) for source in SOURCES for n in range(self._shards[source])}
        missing, extra = sorted(wanted - seen), sorted(seen - wanted)
        if missing or extra:
            raise PartialsMismatch(
                f"partials do not match the plan: missing {missing}, unexpected {extra}"
            )

    def load(self, day: str, ref: PartialRef) -> Tally:
        document = PartialDocument.from_bytes(self._objects.get(ref.partial_key))
        if (document.date, document.source, document.shard) != (day, ref.source, ref.shard):
            raise PartialsMismatch(f"{ref.partial_key} holds another day-shard")
        if document.records != ref.records:
            raise PartialsMismatch(
                f"{ref.partial_key} holds {document.records} records, the step reported "
                f"{ref.records} (rewritten by a late attempt of the step?)"
            )
        return document.tally

    def _tallies(
        self, request: PublishRequest, source: Source, kind: type[TallyT]
    ) -> Iterator[TallyT]:
        for ref in sorted(request.partials, key=lambda ref: ref.shard):
            if ref.source == source:
                tally = self.load(request.date, ref)
                assert isinstance(tally, kind)  # a partial's tally is of its source (validated)
                yield tally

    def publish(self, request: PublishRequest) -> PublishResult:
        self.check_complete(request)
        # One partial in memory at a time, merged into the running totals as it is read.
        sms = SmsTally.merge_all(self._tallies(request, "sms", SmsTally))
        chat = ChatTally.merge_all(self._tallies(request, "chat", ChatTally))
        stats = daily_stats(
            request.date,
            sms=sms,
            chat=chat,
            timezone=self._timezone,
            top_room_count=self._top_rooms,
        )
        summary = summary_line(stats)
        json_key, csv_key = report_keys(request.date)
        report_json = self._objects.put(json_key, render_json(stats), content_type=JSON_TYPE)
        report_csv = self._objects.put(csv_key, render_csv(stats), content_type=CSV_TYPE)
        self._table.put(
            stats_item(stats, summary=summary, report_json=report_json, report_csv=report_csv)
        )
        try:
            # Upsert: a re-run of the day (late receipts, a retry) rewrites the same row.
            self._history.upsert_day(history_day(stats, report_uri=report_json))
        except DatabaseUnavailable as error:
            raise TransientStatsError(f"store the history of {request.date}: {error}") from error
        if self._cache is not None:
            # After the writes, so no reader caches the old numbers under the new generation.
            self._cache.invalidate(date.fromisoformat(request.date))
        return PublishResult(
            date=request.date, summary=summary, report_json=report_json, report_csv=report_csv
        )
