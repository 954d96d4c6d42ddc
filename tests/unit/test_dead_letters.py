"""Dead-letter listing and redrive planning/applying (courier.sms.dead_letters,
dead_letter_redrive) against in-memory ports, no network."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from courier.sms.dead_letter_redrive import (
    JobFacts,
    RedrivePlan,
    RedriveRules,
    Refusal,
    Selection,
    apply_redrive,
    plan_redrive,
)
from courier.sms.dead_letters import (
    MAX_RECEIVES,
    MoveReport,
    MoveTaskUnsupported,
    QueueKind,
    QueueMessage,
    inspect_dead_letters,
    redrive_attributes,
)
from courier.sms.queues import FAILURE_ATTRIBUTES, SqsQueues
from courier.sms.status import SmsStatus

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SOURCE_ARN = "arn:aws:sqs:ap-northeast-2:123456789012:courier-sms-transactional"
RULES = RedriveRules(idempotency_ttl=timedelta(days=21), margin=timedelta(days=1))
NUMBER = "+821012345678"
SECRET_TEXT = "Your code is 918273"


def job_body(job_id: str) -> str:
    return json.dumps({"job_id": job_id, "to": NUMBER, "body": SECRET_TEXT})


def message(
    message_id: str,
    body: str,
    *,
    code: str | None = "PROVIDER_DOWN",
    age: timedelta = timedelta(hours=1),
    receive_count: int = 1,
    source_arn: str | None = None,
) -> QueueMessage:
    attributes = {"failure_code": code, "failure_reason": "why"} if code else {}
    return QueueMessage(
        message_id=message_id,
        body=body,
        attributes=attributes,
        sent_at=NOW - age,
        receive_count=receive_count,
        source_arn=source_arn,
    )


@dataclass
class FakeQueue:
    """The DeadLetterQueue port in memory; counts what moved and how."""

    messages: list[QueueMessage]
    move_task: Callable[[], str] | None = None  # None: the service has no move task
    source_queue_arn: str = SOURCE_ARN
    moved: list[str] = field(default_factory=list)
    move_tasks: int = 0
    fail: set[str] = field(default_factory=set)

    def peek(self, limit: int) -> list[QueueMessage]:
        return list(self.messages[:limit])

    def depth(self) -> int:
        return len(self.messages)

    def move_each(self, decide: Callable[[QueueMessage], bool], limit: int) -> MoveReport:
        report = MoveReport()
        for m in list(self.messages[:limit]):
            if not decide(m):
                continue
            if m.message_id in self.fail:
                report.failed[m.message_id] = "send failed"
                continue
            self.messages.remove(m)
            self.moved.append(m.message_id)
            report.moved.append(m.message_id)
        return report

    def start_move_task(self) -> str:
        if self.move_task is None:
            raise MoveTaskUnsupported("InvalidAction")
        self.move_tasks += 1
        return self.move_task()


@dataclass
class FakeHistory:
    jobs: dict[str, JobFacts] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def facts(self, job_id: str) -> JobFacts:
        self.asked.append(job_id)
        return self.jobs.get(job_id, JobFacts(status=None, idempotency_expires_at=None))


def plan(
    queue: FakeQueue,
    history: FakeHistory,
    selection: Selection | None = None,
    *,
    force: bool = False,
    kind: QueueKind = QueueKind.TRANSACTIONAL,
) -> RedrivePlan:
    return plan_redrive(
        kind, queue, history, RULES, selection or Selection(all=True), force=force, now=NOW
    )


def verdicts(redrive_plan: RedrivePlan) -> dict[str, tuple[str, str | None]]:
    return {
        m.letter.message_id: (m.action, m.refusal.value if m.refusal else None)
        for m in redrive_plan.messages
    }


def test_jobs_the_provider_has_or_may_have_are_refused_and_others_are_eligible() -> None:
    # Given dead letters of jobs with every status, and one the tables have never seen
    history = FakeHistory(
        {
            "sent": JobFacts(SmsStatus.SENT, NOW + timedelta(days=10)),
            "delivered": JobFacts(SmsStatus.DELIVERED, NOW + timedelta(days=10)),
            "unknown": JobFacts(SmsStatus.UNKNOWN, NOW + timedelta(days=10)),
            "failed": JobFacts(SmsStatus.FAILED, NOW + timedelta(days=10)),
        }
    )
    names = ["sent", "delivered", "unknown", "failed", "never-seen"]
    queue = FakeQueue([message(f"m-{n}", job_body(n)) for n in names])

    # When a redrive of everything is planned
    result = plan(queue, history)

    # Then SENT, DELIVERED and UNKNOWN are refused; FAILED and unseen jobs may go back
    assert verdicts(result) == {
        "m-sent": ("refused", "ALREADY_SENT"),
        "m-delivered": ("refused", "ALREADY_DELIVERED"),
        "m-unknown": ("refused", "ALREADY_UNKNOWN"),
        "m-failed": ("redrive", None),
        "m-never-seen": ("redrive", None),
    }
    # And planning moved nothing (a dry run is the plan alone)
    assert queue.moved == []
    assert queue.move_tasks == 0
    assert len(queue.messages) == 5


@pytest.mark.parametrize(
    ("expires_in", "age", "refused"),
    [
        (timedelta(days=10), timedelta(days=5), False),  # record well alive
        (timedelta(hours=20), timedelta(days=5), True),  # record ends within the margin
        (timedelta(hours=-1), timedelta(days=5), True),  # expired, not yet removed by TTL
        (None, timedelta(days=5), False),  # no record, young message
        (None, timedelta(days=19, hours=23), False),  # no record, just inside TTL - margin
        (None, timedelta(days=20, hours=1), True),  # no record, a record may be gone
    ],
)
def test_jobs_past_their_idempotency_window_are_refused(
    expires_in: timedelta | None, age: timedelta, refused: bool
) -> None:
    # Given a dead-lettered job with that idempotency record and message age
    expires = NOW + expires_in if expires_in is not None else None
    history = FakeHistory({"job": JobFacts(None, expires)})
    queue = FakeQueue([message("m", job_body("job"), age=age)])

    # When the redrive is planned
    result = plan(queue, history)

    # Then it is refused exactly when a redriven copy could outlive the record
    expected = ("refused", "IDEMPOTENCY_EXPIRED") if refused else ("redrive", None)
    assert verdicts(result) == {"m": expected}


def test_force_moves_refused_messages_and_marks_them_forced() -> None:
    # Given a SENT job and a body that does not parse
    history = FakeHistory({"sent": JobFacts(SmsStatus.SENT, NOW + timedelta(days=10))})
    queue = FakeQueue(
        [message("m-sent", job_body("sent")), message("m-bad", '{"job_id": "x", "to": ')]
    )

    # When planned without and with --force
    plain, forced = plan(queue, history), plan(queue, history, force=True)

    # Then both are refused without it, and redriven (marked forced, reason kept) with it
    assert verdicts(plain) == {
        "m-sent": ("refused", "ALREADY_SENT"),
        "m-bad": ("refused", "UNPARSEABLE"),
    }
    assert verdicts(forced) == {
        "m-sent": ("redrive", "ALREADY_SENT"),
        "m-bad": ("redrive", "UNPARSEABLE"),
    }
    assert all(m.forced for m in forced.messages)
    assert not any(m.forced for m in plain.messages)
    bad = next(m for m in plain.messages if m.letter.message_id == "m-bad")
    assert bad.refusal_detail is not None
    assert "MALFORMED_JSON" in bad.refusal_detail


def test_messages_from_another_queue_are_refused() -> None:
    # Given a dead letter recorded as coming from the bulk queue, planned for the transactional
    bulk = SOURCE_ARN.replace("transactional", "bulk")
    queue = FakeQueue([message("m", job_body("j"), source_arn=bulk)])
    # Then it is refused: sending it to the transactional queue would change its priority
    assert verdicts(plan(queue, FakeHistory())) == {"m": ("refused", "WRONG_SOURCE")}


def test_listing_shows_codes_masked_numbers_age_and_receive_count_never_the_text() -> None:
    # Given a sender-dead-lettered job and one moved by the redrive policy (no attributes)
    queue = FakeQueue(
        [
            message("m-poison", job_body("j1"), code="JOB_ID_REUSED", age=timedelta(hours=2)),
            message("m-max", job_body("j2"), code=None, receive_count=6),
        ]
    )

    # When the queue is listed
    listing = inspect_dead_letters(QueueKind.TRANSACTIONAL, queue, now=NOW)

    # Then each shows its code (MAX_RECEIVES with the receive count for the policy's moves)
    letters = {letter.message_id: letter for letter in listing.letters}
    assert letters["m-poison"].failure_code == "JOB_ID_REUSED"
    assert letters["m-poison"].age_seconds == 7200
    assert letters["m-max"].failure_code == MAX_RECEIVES
    assert "ApproximateReceiveCount 6" in letters["m-max"].failure_reason
    assert letters["m-max"].receive_count == 6
    assert (letters["m-poison"].job_id, letters["m-poison"].to_masked) == ("j1", "+82********78")
    assert listing.complete
    assert listing.depth == 2
    # And neither the full number nor the message text appears anywhere in what is shown
    shown = listing.model_dump_json()
    assert NUMBER not in shown
    assert SECRET_TEXT not in shown


def test_selection_by_code_or_id_reports_ids_not_in_the_queue() -> None:
    queue = FakeQueue(
        [
            message("m-1", job_body("a"), code=None),
            message("m-2", job_body("b"), code="PROVIDER_DOWN"),
            message("m-3", job_body("c"), code=None),
        ]
    )
    by_code = plan(queue, FakeHistory(), Selection(failure_codes=frozenset({MAX_RECEIVES})))
    by_id = plan(queue, FakeHistory(), Selection(message_ids=frozenset({"m-2", "m-404"})))
    assert sorted(verdicts(by_code)) == ["m-1", "m-3"]
    assert by_code.unselected == 1
    assert sorted(verdicts(by_id)) == ["m-2"]
    assert by_id.not_found == ["m-404"]
    assert not by_code.moves_whole_queue  # m-2 stays: the move task would take it too


def test_a_whole_eligible_queue_goes_back_as_one_message_move_task() -> None:
    # Given a queue whose every message is eligible, and a service with move tasks
    queue = FakeQueue(
        [message("m-1", job_body("a")), message("m-2", job_body("b"))],
        move_task=lambda: "task-1",
    )
    redrive_plan = plan(queue, FakeHistory())
    assert redrive_plan.moves_whole_queue

    # When applied
    result = apply_redrive(redrive_plan, queue, FakeHistory(), RULES, now=NOW)

    # Then SQS's own move task is started, and no message is moved one by one
    assert (result.method, result.task_handle, result.moved) == (
        "message-move-task",
        "task-1",
        ["m-1", "m-2"],
    )
    assert queue.move_tasks == 1
    assert queue.moved == []


def test_without_a_move_task_the_whole_queue_goes_message_by_message() -> None:
    # Given the same queue on a service without move tasks (moto, MiniStack)
    queue = FakeQueue([message("m-1", job_body("a")), message("m-2", job_body("b"))])
    result = apply_redrive(plan(queue, FakeHistory()), queue, FakeHistory(), RULES, now=NOW)
    # Then every message is moved by hand, and the reason is reported
    assert result.method == "per-message"
    assert sorted(queue.moved) == ["m-1", "m-2"]
    assert result.fallback_reason is not None
    assert "InvalidAction" in result.fallback_reason


def test_a_refused_message_keeps_the_move_task_out_and_stays_behind() -> None:
    # Given one eligible and one SENT job, on a service with move tasks
    history = FakeHistory({"sent": JobFacts(SmsStatus.SENT, NOW + timedelta(days=10))})
    queue = FakeQueue(
        [message("m-ok", job_body("ok")), message("m-sent", job_body("sent"))],
        move_task=lambda: "task-never",
    )
    # When all are redriven
    result = apply_redrive(plan(queue, history), queue, history, RULES, now=NOW)
    # Then only the eligible one moves, message by message; the SENT one stays
    assert (result.method, result.moved, queue.move_tasks) == ("per-message", ["m-ok"], 0)
    assert [m.message_id for m in queue.messages] == ["m-sent"]


def test_apply_checks_again_and_reports_what_changed_since_the_plan() -> None:
    # Given a plan with three eligible jobs
    history = FakeHistory()
    queue = FakeQueue([message(f"m-{n}", job_body(n)) for n in ("a", "b", "c")])
    redrive_plan = plan(queue, history)
    # And since then job b was sent (another copy of it), m-c left the queue, m-a fails to send
    history.jobs["b"] = JobFacts(SmsStatus.SENT, NOW + timedelta(days=10))
    queue.messages = [m for m in queue.messages if m.message_id != "m-c"]
    queue.fail = {"m-a"}

    # When the plan is applied
    result = apply_redrive(redrive_plan, queue, history, RULES, now=NOW)

    # Then nothing is moved and each reason is reported
    assert result.moved == []
    assert [(m.letter.message_id, m.refusal) for m in result.refused_now] == [
        ("m-b", Refusal.ALREADY_SENT)
    ]
    assert result.failed == {"m-a": "send failed"}
    assert result.vanished == ["m-c"]


def test_receipts_are_not_checked_against_the_tables_but_must_parse() -> None:
    # Given a dead-lettered receipt for a DELIVERED job and a broken receipt
    receipt = {
        "eventType": "TEXT_DELIVERED",
        "eventTimestamp": 1764028800000,
        "isFinal": True,
        "messageId": "provider-1",
        "destinationPhoneNumber": NUMBER,
        "context": {"job_id": "j-1"},
    }
    history = FakeHistory({"j-1": JobFacts(SmsStatus.DELIVERED, None)})
    queue = FakeQueue(
        [message("m-ok", json.dumps(receipt), code=None), message("m-bad", "not json")]
    )

    # When all are planned on the events queue
    result = plan(queue, history, kind=QueueKind.EVENTS)

    # Then the receipt may go back (applying it again is harmless), the broken one may not
    assert verdicts(result) == {"m-ok": ("redrive", None), "m-bad": ("refused", "UNPARSEABLE")}
    assert history.asked == []
    ok = result.messages[0].letter
    assert (ok.job_id, ok.to_masked) == ("j-1", "+82********78")


def test_a_redrive_keeps_every_attribute_but_the_failure_ones_and_the_deferral_count() -> None:
    failure = ["failure_code", "failure_reason", "source_queue", "source_message_id", "failed_at"]
    kept = redrive_attributes([*failure, "courier_deferrals", "trace_id", "tenant"])
    assert kept == ["trace_id", "tenant"]


def test_a_queue_that_grew_since_the_plan_is_moved_by_hand_and_the_newcomer_stays() -> None:
    # Given a plan for a whole eligible queue, on a service with move tasks
    queue = FakeQueue([message("m-1", job_body("a"))], move_task=lambda: "task-never")
    redrive_plan = plan(queue, FakeHistory())
    # And a new dead letter arriving before the plan is applied (nobody checked it)
    queue.messages.append(message("m-new", job_body("sent-meanwhile")))

    # When the plan is applied
    result = apply_redrive(redrive_plan, queue, FakeHistory(), RULES, now=NOW)

    # Then no move task runs (it would take the unchecked newcomer too): only m-1 moves
    assert queue.move_tasks == 0
    assert result.moved == ["m-1"]
    assert [m.message_id for m in queue.messages] == ["m-new"]
    assert result.fallback_reason is not None
    assert "holds 2 messages now, 1 when planned" in result.fallback_reason


def test_a_queue_read_only_up_to_the_limit_never_goes_as_a_move_task() -> None:
    # Given three eligible dead letters, read with a limit of two
    queue = FakeQueue([message(f"m-{n}", job_body(n)) for n in "abc"], move_task=lambda: "t")
    redrive_plan = plan_redrive(
        QueueKind.TRANSACTIONAL, queue, FakeHistory(), RULES, Selection(all=True), limit=2, now=NOW
    )
    # Then the plan knows it saw only part of the queue, and moving it takes no move task
    assert not redrive_plan.complete
    assert not redrive_plan.moves_whole_queue
    result = apply_redrive(redrive_plan, queue, FakeHistory(), RULES, limit=2, now=NOW)
    assert (result.method, result.moved, queue.move_tasks) == ("per-message", ["m-a", "m-b"], 0)


def test_the_attributes_a_sender_parks_with_are_the_ones_a_redrive_drops() -> None:
    # Given a sender's queue adapter parking a poison message
    sent: list[dict[str, Any]] = []

    class Client:
        def send_message(self, **request: Any) -> None:
            sent.append(request)

    SqsQueues(Client(), dead_letter_queue_url="dlq").dead_letter(  # type: ignore[arg-type]
        body="{", code="MALFORMED_JSON", reason="x", source_arn="arn", source_message_id="m"
    )
    # Then the redrive knows every attribute it attached as a failure attribute
    [request] = sent
    assert set(request["MessageAttributes"]) == FAILURE_ATTRIBUTES
