"""Campaigns and audiences in Aurora MySQL (MariaDB locally): `campaigns`, `campaign_recipients`.

Routing: changes use the writer; `get(fresh=True)` reads the writer too (a state just changed, or
one the launcher is about to act on); the list and plain reads use the reader. An audience is
written in multi-row INSERTs kept under 16 KB each (`max_stmt_length`): a larger statement pins
an RDS Proxy session.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from courier.campaigns.audience import AudienceRow, RowStatus
from courier.campaigns.model import Campaign, CampaignState, Creator, Recipient

if TYPE_CHECKING:
    from courier.data.connections import Database

MAX_STATEMENT_BYTES: Final = 15_000
_SELECT: Final = (
    "SELECT id, name, template, state, created_by_sub, created_by_username, created_at, "
    "updated_at, launch_at, launched_at, finished_at, cancelled_at, audience_summary, "
    "chunks_queued, jobs_queued, last_row_queued FROM campaigns"
)
_INSERT_ROW: Final = (
    "INSERT INTO campaign_recipients (campaign_id, row_no, phone, variables, status, error_code, "
    "error, parts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
# The time column each state stamps when a campaign enters it (launched_at only the first time).
_STAMPS: Final = {
    CampaignState.LAUNCHING: "launched_at = COALESCE(launched_at, %s)",
    CampaignState.LAUNCHED: "finished_at = %s",
    CampaignState.CANCELLED: "cancelled_at = %s",
}


def _naive_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str | bytes) else value


def _campaign(row: dict[str, Any]) -> Campaign:
    return Campaign(
        id=row["id"],
        name=row["name"],
        template=row["template"],
        state=CampaignState(row["state"]),
        created_by=Creator(row["created_by_sub"], row["created_by_username"]),
        created_at=row["created_at"].replace(tzinfo=UTC),
        updated_at=row["updated_at"].replace(tzinfo=UTC),
        launch_at=_aware(row["launch_at"]),
        launched_at=_aware(row["launched_at"]),
        finished_at=_aware(row["finished_at"]),
        cancelled_at=_aware(row["cancelled_at"]),
        audience=_json(row["audience_summary"]),
        chunks_queued=row["chunks_queued"],
        jobs_queued=row["jobs_queued"],
        last_row_queued=row["last_row_queued"],
    )


def _statement_groups(campaign_id: str, rows: list[AudienceRow]) -> list[list[tuple[Any, ...]]]:
    """Row values in groups whose multi-row INSERT (PyMySQL's executemany) stays under 16 KB."""
    groups: list[list[tuple[Any, ...]]] = [[]]
    size = len(_INSERT_ROW)
    for r in rows:
        values = (
            campaign_id,
            r.row,
            r.phone[:32],
            json.dumps(r.variables, separators=(",", ":"), ensure_ascii=False),
            r.status.value,
            r.error_code,
            (r.error or "")[:255] or None,
            r.parts,
        )
        # Escaping can double a character, and UTF-8 takes up to 4 bytes for one.
        row_bytes = 80 + 2 * sum(len(str(v).encode()) for v in values if v is not None)
        if groups[-1] and size + row_bytes > MAX_STATEMENT_BYTES:
            groups.append([])
            size = len(_INSERT_ROW)
        groups[-1].append(values)
        size += row_bytes
    return [g for g in groups if g]


class MySqlCampaignStore:
    """The campaign tables through the routing `Database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def create(self, campaign: Campaign) -> None:
        with self._database.write_transaction() as cursor:
            cursor.execute(
                "INSERT INTO campaigns (id, name, template, state, created_by_sub, "
                "created_by_username, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    campaign.id,
                    campaign.name,
                    campaign.template,
                    campaign.state.value,
                    campaign.created_by.sub,
                    campaign.created_by.username,
                    _naive_utc(campaign.created_at),
                    _naive_utc(campaign.updated_at),
                ),
            )

    def get(self, campaign_id: str, *, fresh: bool = False) -> Campaign | None:
        transaction = self._database.write_transaction if fresh else self._database.read_transaction
        with transaction() as cursor:
            cursor.execute(f"{_SELECT} WHERE id = %s", (campaign_id,))
            row = cursor.fetchone()
        return _campaign(row) if row else None

    def recent(self, limit: int) -> list[Campaign]:
        with self._database.read_transaction() as cursor:
            cursor.execute(
                f"{_SELECT} ORDER BY created_at DESC, id DESC LIMIT %s",
                (limit,),
            )
            rows = cursor.fetchall()
        return [_campaign(row) for row in rows]

    def replace_audience(
        self, campaign_id: str, rows: list[AudienceRow], summary: dict[str, Any], at: datetime
    ) -> bool:
        with self._database.write_transaction() as cursor:
            # The row lock keeps a concurrent launch from moving the state until this commits.
            cursor.execute("SELECT state FROM campaigns WHERE id = %s FOR UPDATE", (campaign_id,))
            found = cursor.fetchone()
            if not found or found["state"] != CampaignState.DRAFT.value:
                return False
            cursor.execute("DELETE FROM campaign_recipients WHERE campaign_id = %s", (campaign_id,))
            for group in _statement_groups(campaign_id, rows):
                cursor.executemany(_INSERT_ROW, group)
            cursor.execute(
                "UPDATE campaigns SET audience_summary = %s, updated_at = %s WHERE id = %s",
                (json.dumps(summary, separators=(",", ":")), _naive_utc(at), campaign_id),
            )
        return True

    def transition(
        self,
        campaign_id: str,
        allowed: frozenset[CampaignState],
        to: CampaignState,
        at: datetime,
        *,
        launch_at: datetime | None = None,
    ) -> bool:
        sets = ["state = %s", "updated_at = %s"]
        values: list[Any] = [to.value, _naive_utc(at)]
        if to in _STAMPS:
            sets.append(_STAMPS[to])
            values.append(_naive_utc(at))
        if to is CampaignState.SCHEDULED:
            sets.append("launch_at = %s")
            values.append(_naive_utc(launch_at))
        states = sorted(s.value for s in allowed)
        placeholders = ", ".join(["%s"] * len(states))
        # Only constant column clauses and placeholders are joined in; values stay parameters.
        sql = f"UPDATE campaigns SET {', '.join(sets)} WHERE id = %s AND state IN ({placeholders})"  # noqa: S608
        with self._database.write_transaction() as cursor:
            changed = cursor.execute(sql, (*values, campaign_id, *states))
        return bool(changed)

    def recipients_after(self, campaign_id: str, after_row: int, limit: int) -> list[Recipient]:
        # The writer: an audience replaced a moment ago must not be read from a lagging replica.
        with self._database.write_transaction() as cursor:
            cursor.execute(
                "SELECT row_no, phone, variables FROM campaign_recipients WHERE campaign_id = %s "
                "AND row_no > %s AND status = %s ORDER BY row_no LIMIT %s",
                (campaign_id, after_row, RowStatus.VALID.value, limit),
            )
            rows = cursor.fetchall()
        return [Recipient(r["row_no"], r["phone"], _json(r["variables"])) for r in rows]

    def record_chunk(self, campaign_id: str, last_row: int, jobs: int, at: datetime) -> None:
        with self._database.write_transaction() as cursor:
            cursor.execute(
                "UPDATE campaigns SET chunks_queued = chunks_queued + 1, "
                "jobs_queued = jobs_queued + %s, last_row_queued = %s, updated_at = %s "
                "WHERE id = %s AND last_row_queued < %s",
                (jobs, last_row, _naive_utc(at), campaign_id, last_row),
            )

    def queued_phones(self, campaign_id: str, up_to_row: int) -> list[str]:
        with self._database.read_transaction() as cursor:
            cursor.execute(
                "SELECT phone FROM campaign_recipients WHERE campaign_id = %s AND row_no <= %s "
                "AND status = %s ORDER BY row_no",
                (campaign_id, up_to_row, RowStatus.VALID.value),
            )
            rows = cursor.fetchall()
        return [r["phone"] for r in rows]

    def problem_rows(self, campaign_id: str, limit: int) -> list[dict[str, Any]]:
        """Rows not valid, in row order (the report shown before launch)."""
        with self._database.read_transaction() as cursor:
            cursor.execute(
                "SELECT row_no, phone, status, error_code, error FROM campaign_recipients "
                "WHERE campaign_id = %s AND status <> %s ORDER BY row_no LIMIT %s",
                (campaign_id, RowStatus.VALID.value, limit),
            )
            return list(cursor.fetchall())
