"""The admin console end to end, in headless Chromium against the local runtime.

The admin signs in on the hosted UI, opts a number out (and finds it by a search), creates a
three-recipient campaign whose audience holds that number, sees the opted-out row reported,
launches it and watches the progress reach SENT: 2 (the sandbox provider sends), then takes the
number off the list. Then a poison message and a job lost in an outage sit on the transactional
DLQ; the page lists both with their reasons, a dry run refuses the poison and would move the
job, the applied redrive moves it and the job page shows it SENT; a forced redrive sends the
poison back too, and the sender parks it on the DLQ again with its reason (nothing lost, no
loop). The audit log page lists the campaign, opt-out and redrive entries. A campaign scheduled
for later is cancelled before it sends anything, and a chat message is deleted and its sender's
tokens revoked from the Moderation section.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from courier.campaigns.launch import job_id_for
from local.admin_sign_in import ADMIN_USER
from local.clients import chat_client, delete_messages, visible_messages
from local.system import LocalSystem
from tests.e2e.conftest import Ledger, sign_in_in_the_browser

SLOW = 30_000  # ms: a cold function start in the emulator
SENDING = 150_000  # ms: the launcher, the bulk queue, the sender, the status records


def _number() -> str:
    return f"+8210555{secrets.randbelow(10_000):04d}"


def _signed_in_admin(browser: Browser, system: LocalSystem) -> Page:
    page = browser.new_page()
    page.on("console", lambda message: print(f"browser {message.type}: {message.text}"))
    sign_in_in_the_browser(page, system, ADMIN_USER)
    expect(page.get_by_test_id("admin-username")).to_have_text(ADMIN_USER, timeout=SLOW)
    expect(page.get_by_test_id("console")).to_be_visible()
    return page


def _dead_letter_ids(system: LocalSystem, url: str, bodies: set[str]) -> dict[str, str]:
    """Body -> message id of the DLQ messages with these bodies (received without hiding them)."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(found) != bodies:
        for message_id, m in visible_messages(system, url, looks=1).items():
            if m["Body"] in bodies:
                found[m["Body"]] = message_id
    assert set(found) == bodies, "the dead letters did not show up"
    return found


def test_a_campaign_with_an_opted_out_recipient_is_launched_and_sent(
    local_system: LocalSystem, browser: Browser, ledger: Ledger
) -> None:
    run = uuid.uuid4().hex[:8]
    ann, bob, opted_out = _number(), _number(), _number()
    while len({ann, bob, opted_out}) < 3:
        bob, opted_out = _number(), _number()
    page = _signed_in_admin(browser, local_system)

    # Given a number the admin opts out on the Opt-outs section
    page.get_by_label("Number").fill(opted_out)
    page.get_by_label("Reason").fill(f"asked to stop ({run})")
    page.get_by_role("button", name="Opt out").click()
    result = page.get_by_test_id("opt-out-result")
    expect(result).to_contain_text("Opted out.", timeout=SLOW)
    expect(result).to_contain_text("yes")
    assert opted_out not in result.inner_text()  # shown masked
    # And a search for it finds the entry with its reason
    page.get_by_role("button", name="Search").click()
    expect(result).not_to_contain_text("Opted out.", timeout=SLOW)  # the search's own answer
    expect(result).to_have_attribute("data-opted-out", "true")
    expect(result).to_contain_text(f"asked to stop ({run})")

    # When the admin creates a campaign and uploads a three-row audience holding that number
    page.get_by_label("Name", exact=True).fill(f"e2e campaign {run}")
    page.get_by_label("Template").fill(f"Hello {{name}}, run {run}")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#campaign-heading")).to_have_text(f"e2e campaign {run}", timeout=SLOW)
    campaign_id = page.locator("#campaign-pick").input_value()
    assert len(campaign_id) == 32
    audience = f"phone,name\n{ann},Ann\n{bob},Bob\n{opted_out},Cy\n"
    page.get_by_label("Audience CSV").set_input_files(
        files=[{"name": "audience.csv", "mimeType": "text/csv", "buffer": audience.encode()}]
    )
    page.get_by_role("button", name="Upload and check").click()

    # Then the per-row report shows the opted-out row (masked) and two valid rows
    counts = page.get_by_test_id("audience-counts")
    expect(counts).to_contain_text("3 rows", timeout=SLOW)
    expect(counts).to_contain_text("valid: 2")
    expect(counts).to_contain_text("opted_out: 1")
    problems = page.get_by_test_id("audience-problems")
    expect(problems).to_contain_text("opted_out")
    expect(problems.locator("tbody tr")).to_have_count(1)
    assert opted_out not in problems.inner_text()
    # And the preview: GSM-7, one part a message, an estimated cost
    facts = page.get_by_test_id("campaign-facts")
    expect(facts).to_contain_text("GSM-7")
    expect(facts).to_contain_text("Total parts2")

    # When it is launched now
    page.get_by_role("button", name="Launch", exact=True).click()

    # Then the progress, polled by the page, reaches SENT for both valid rows
    progress = page.get_by_test_id("campaign-progress")
    expect(progress).to_contain_text("2 jobs queued.", timeout=SENDING)
    expect(progress).to_contain_text("SENT: 2", timeout=SENDING)
    expect(page.get_by_test_id("campaign-details")).to_have_attribute("data-state", "launched")
    for phone in (ann, bob):
        ledger.job(job_id_for(campaign_id, phone), "bulk", "SENT")

    # And one of its jobs looked up on the Jobs section is SENT, its number masked
    page.get_by_label("Job id").fill(job_id_for(campaign_id, ann))
    page.get_by_role("button", name="Look up").click()
    job = page.get_by_test_id("job-facts")
    expect(job).to_contain_text("SENT", timeout=SLOW)
    expect(job).to_contain_text(campaign_id)  # the campaign id in the job's metadata
    assert ann not in job.inner_text()

    # And the same recipient's number finds that job (the keyed-hash index), shown masked
    page.get_by_label("Jobs of the phone (E.164)").fill(ann)
    page.get_by_role("button", name="Find its jobs").click()
    jobs = page.get_by_test_id("phone-jobs")
    expect(jobs).to_contain_text(job_id_for(campaign_id, ann), timeout=SLOW)
    expect(jobs).to_contain_text("SENT")
    assert ann not in jobs.inner_text()
    assert job_id_for(campaign_id, bob) not in jobs.inner_text()

    # When the opted-out number is taken off the list
    page.get_by_label("Number").fill(opted_out)
    page.get_by_role("button", name="Remove from list").click()

    expect(result).to_contain_text("Taken off the opt-out list.", timeout=SLOW)

    # Then a new search says it is not opted out any more
    page.get_by_role("button", name="Search").click()
    expect(result).not_to_contain_text("Taken off", timeout=SLOW)
    expect(result).to_have_attribute("data-opted-out", "false")
    assert "asked to stop" not in result.inner_text()
    page.close()


def test_dead_letters_are_redriven_from_the_page_and_audited(
    local_system: LocalSystem, browser: Browser, ledger: Ledger
) -> None:
    run = uuid.uuid4().hex[:8]
    outputs = local_system.outputs
    sqs = local_system.client("sqs")
    dlq_url = outputs["SmsTransactionalDeadLetterQueueUrl"]
    source = sqs.get_queue_attributes(
        QueueUrl=outputs["SmsTransactionalQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    # Given a poison message on the transactional DLQ, parked as the sender parks one
    poison = '{"schema_version": 1, "job_id": "adm-' + run + '-poison", "to": "+8210'
    attributes = {
        "failure_code": "MALFORMED_JSON",
        "failure_reason": "MALFORMED_JSON: Expecting value",
        "source_queue": source,
        "source_message_id": str(uuid.uuid4()),
        "failed_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
    }
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=poison,
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        },
    )
    # And a valid job lost in an outage, as the queue's redrive policy leaves one
    lost = {"job_id": f"adm-{run}-lost", "to": _number(), "body": f"Lost {run}"}
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(lost))
    ids = _dead_letter_ids(local_system, dlq_url, {poison, json.dumps(lost)})
    poison_id, lost_id = ids[poison], ids[json.dumps(lost)]
    page = _signed_in_admin(browser, local_system)
    try:
        # When the admin lists the transactional DLQ
        page.get_by_label("Queue").select_option("transactional")
        page.get_by_role("button", name="List", exact=True).click()

        # Then both show with their reasons, the job's number masked
        letters = page.get_by_test_id("dlq-table")
        expect(letters).to_contain_text(poison_id, timeout=SLOW)
        poison_row = letters.locator("tr", has_text=poison_id)
        expect(poison_row).to_contain_text("MALFORMED_JSON")
        lost_row = letters.locator("tr", has_text=lost_id)
        expect(lost_row).to_contain_text(lost["job_id"])
        assert lost["to"] not in letters.inner_text()

        # When both are selected and a dry run is asked for
        page.get_by_label(f"Select {poison_id}").check()
        page.get_by_label(f"Select {lost_id}").check()
        expect(page.get_by_role("button", name="Apply redrive")).to_be_disabled()
        page.get_by_role("button", name="Dry run").click()

        # Then the poison is refused (unparseable), the lost job would go, nothing moved
        plan = page.get_by_test_id("dlq-dry-run")
        expect(plan.locator("tr", has_text=poison_id)).to_contain_text("UNPARSEABLE", timeout=SLOW)
        expect(plan.locator("tr", has_text=lost_id)).to_contain_text("would redrive")

        # When the redrive is applied
        page.get_by_role("button", name="Apply redrive").click()

        # Then the lost job went back, the poison stays listed
        expect(page.get_by_test_id("dlq-moved")).to_contain_text("Moved 1", timeout=SLOW)
        applied = page.get_by_test_id("dlq-applied")
        expect(applied.locator("tr", has_text=lost_id)).to_contain_text("redriven")
        expect(page.get_by_test_id("dlq-table")).to_contain_text(poison_id)
        expect(page.get_by_test_id("dlq-table")).not_to_contain_text(lost_id)

        # And the deployed sender sent it: the Jobs section shows it SENT
        job = page.get_by_test_id("job-result")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            page.get_by_label("Job id").fill(lost["job_id"])
            page.get_by_role("button", name="Look up").click()
            page.wait_for_timeout(1500)
            if "SENT" in job.inner_text():
                break
        expect(job).to_contain_text("SENT")
        ledger.job(lost["job_id"], "transactional", "SENT")

        # When the poison is redriven with force (say its producer swears it was fixed)
        page.get_by_label(f"Select {poison_id}").check()
        page.get_by_label("Also move messages the checks refuse (force)").check()
        page.get_by_role("button", name="Dry run").click()
        forced = page.get_by_test_id("dlq-dry-run").locator("tr", has_text=poison_id)
        expect(forced).to_contain_text("would redrive (forced)", timeout=SLOW)
        expect(forced).to_contain_text("UNPARSEABLE")
        page.get_by_role("button", name="Apply redrive").click()
        expect(page.get_by_test_id("dlq-moved")).to_contain_text("Moved 1", timeout=SLOW)
        expect(page.get_by_test_id("dlq-applied")).to_contain_text("redriven (forced)")

        # Then the sender refuses it again and parks it back on the DLQ with its reason: the
        # same body as a new message, not lost and not retried forever
        deadline = time.monotonic() + 90
        parked_again: dict[str, Any] = {}
        while time.monotonic() < deadline and not parked_again:
            parked_again = {
                message_id: m
                for message_id, m in visible_messages(local_system, dlq_url, looks=1).items()
                if m["Body"] == poison and message_id != poison_id
            }
        assert parked_again, "the forced poison did not come back to the DLQ"
        (again_id,) = parked_again
        ids[f"{poison} (again)"] = again_id
        page.get_by_role("button", name="List", exact=True).click()
        again_row = page.get_by_test_id("dlq-table").locator("tr", has_text=again_id)
        expect(again_row).to_contain_text("MALFORMED_JSON", timeout=SLOW)
        expect(page.get_by_test_id("dlq-table")).not_to_contain_text(poison_id)

        # When the audit log is read for the admin
        page.get_by_label("Actor").fill(ADMIN_USER)
        page.get_by_role("button", name="Show entries").click()

        # Then it lists the redrive and the campaign's entries, newest first
        audit = page.get_by_test_id("audit-table")
        expect(audit).to_contain_text("sms.redrive", timeout=SLOW)
        for action in ("campaign.create", "campaign.audience", "campaign.launch", "optout.add"):
            expect(audit).to_contain_text(action)
        first = audit.locator("tbody tr").first
        expect(first).to_contain_text("sms.redrive")
        expect(first).to_contain_text("dlq:transactional")

        # And a filter by action narrows it to the campaign entries
        page.get_by_label("Action").fill("campaign.*")
        page.get_by_role("button", name="Show entries").click()
        expect(audit).not_to_contain_text("sms.redrive", timeout=SLOW)
        expect(audit).to_contain_text("campaign.launch")
    finally:
        page.close()
        delete_messages(local_system, dlq_url, set(ids.values()))


def test_a_scheduled_campaign_is_cancelled_before_it_sends(
    local_system: LocalSystem, browser: Browser
) -> None:
    run = uuid.uuid4().hex[:8]
    page = _signed_in_admin(browser, local_system)
    # Given a one-recipient campaign
    page.get_by_label("Name", exact=True).fill(f"e2e later {run}")
    page.get_by_label("Template").fill(f"Later {run}")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#campaign-heading")).to_have_text(f"e2e later {run}", timeout=SLOW)
    campaign_id = page.locator("#campaign-pick").input_value()
    page.get_by_label("Audience CSV").set_input_files(
        files=[
            {"name": "a.csv", "mimeType": "text/csv", "buffer": f"phone\n{_number()}\n".encode()}
        ]
    )
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_test_id("audience-counts")).to_contain_text("valid: 1", timeout=SLOW)

    # When it is launched for two hours from now (the browser's local time)
    later = page.evaluate(
        """() => {
            const d = new Date(Date.now() + 2 * 3600 * 1000);
            const p = (n) => String(n).padStart(2, "0");
            return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}` +
                `T${p(d.getHours())}:${p(d.getMinutes())}`;
        }"""
    )
    page.get_by_label("Launch at").fill(later)
    page.get_by_role("button", name="Launch", exact=True).click()

    # Then it waits, scheduled, with nothing queued
    details = page.get_by_test_id("campaign-details")
    expect(details).to_have_attribute("data-state", "scheduled", timeout=SLOW)
    expect(page.get_by_test_id("campaign-progress")).to_contain_text("No jobs queued yet.")

    # When the admin cancels it
    page.get_by_role("button", name="Cancel campaign").click()

    # Then it is cancelled, still nothing queued, and the cancel is in the audit log
    expect(details).to_have_attribute("data-state", "cancelled", timeout=SLOW)
    expect(page.get_by_role("button", name="Cancel campaign")).to_be_disabled()
    expect(page.get_by_test_id("campaign-progress")).to_contain_text("No jobs queued yet.")
    page.get_by_label("Action").fill("campaign.cancel")
    page.get_by_role("button", name="Show entries").click()
    expect(page.get_by_test_id("audit-table")).to_contain_text(campaign_id, timeout=SLOW)
    page.close()


def test_a_chat_message_is_deleted_and_its_senders_tokens_revoked(
    local_system: LocalSystem, browser: Browser
) -> None:
    run = uuid.uuid4().hex[:8]
    room, sub = f"mod-{run}", f"e2e-mod-{run}"
    token = local_system.mint_token(sub, "Mallory", [room])
    # Given a message said in a room (not counted in the ledger: it is about to be deleted)
    with chat_client(local_system, "mallory", token) as mallory:
        mallory.join(room)
        message_id = mallory.say(room, f"spam {run}")["message_id"]
        page = _signed_in_admin(browser, local_system)

        # When the admin deletes it from the Moderation section
        page.get_by_label("Room").fill(room)
        page.get_by_label("Message id").fill(message_id)
        page.get_by_role("button", name="Delete message").click()

        # Then the page confirms it, naming its sender
        deleted = page.locator("#message-delete-result")
        expect(deleted).to_contain_text(f"{room}/{message_id}", timeout=SLOW)
        expect(deleted).to_contain_text(sub)
        # And the room's history no longer holds it
        mallory.send({"action": "history", "room": room})
        history = mallory.wait_for(lambda f: f.get("type") == "history")
        assert message_id not in {m["message_id"] for m in history["messages"]}

    # When the admin revokes the sender's tokens
    page.get_by_label("User (sub)").fill(sub)
    page.get_by_role("button", name="Revoke tokens").click()
    expect(page.locator("#user-revoke-result")).to_contain_text(sub, timeout=SLOW)

    # Then the token buys no connect ticket any more, and both actions are audited
    with pytest.raises(RuntimeError, match="answered 401"):
        local_system.connect_ticket(token)
    page.get_by_label("Actor").fill(ADMIN_USER)
    page.get_by_role("button", name="Show entries").click()
    audit = page.get_by_test_id("audit-table")
    revoked = audit.locator("tr", has_text="chat.user.revoke").filter(has_text=sub)
    expect(revoked).to_have_count(1, timeout=SLOW)
    deleted_entry = audit.locator("tr", has_text="chat.message.delete").filter(has_text=message_id)
    expect(deleted_entry).to_have_count(1)
    expect(deleted_entry).to_contain_text(sub)  # "before": who sent it, never its text
    expect(deleted_entry).not_to_contain_text(f"spam {run}")
    page.close()


def test_a_refused_request_says_not_an_admin_and_an_ended_session_signs_the_page_out(
    local_system: LocalSystem, browser: Browser
) -> None:
    page = _signed_in_admin(browser, local_system)
    # Given the API refuses the admin's next request (403: the admin was taken out of the group)
    page.route(
        "**/admin/jobs/**",
        lambda route: route.fulfill(
            status=403, content_type="application/json", body='{"code": "forbidden"}'
        ),
    )
    # When a section makes it
    page.get_by_label("Job id").fill("any-job")
    page.get_by_role("button", name="Look up").click()

    # Then the section says so inline, and the page stays signed in
    error = page.locator("#job-error")
    expect(error).to_have_text("Not an admin: this account may not use the admin console.")
    expect(error).to_have_attribute("role", "alert")
    expect(page.get_by_test_id("console")).to_be_visible()

    # Given the session has ended (the API answers 401 from now on)
    page.unroute("**/admin/jobs/**")
    page.route(
        "**/admin/jobs/**",
        lambda route: route.fulfill(
            status=401, content_type="application/json", body='{"code": "unauthorized"}'
        ),
    )
    # When a section makes a request
    page.get_by_role("button", name="Look up").click()

    # Then the page forgets the token and asks to sign in again
    expect(page.get_by_test_id("sign-in-button")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("console")).to_be_hidden()
    expect(page.get_by_test_id("status-line")).to_have_text(
        "Your session has ended; sign in again."
    )
    assert page.evaluate("sessionStorage.getItem('courier.admin.accessToken')") is None
    page.close()
