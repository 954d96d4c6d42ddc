"""The admin console end to end, in headless Chromium against the local runtime.

The admin signs in on the hosted UI, opts a number out, creates a three-recipient campaign
whose audience holds that number, sees the opted-out row reported, launches it and watches the
progress reach SENT: 2 (the sandbox provider sends). Then a poison message and a job lost in
an outage sit on the transactional DLQ; the page lists both with their reasons, a dry run
refuses the poison and would move the job, the applied redrive moves it, the job page shows it
SENT, and the audit log page lists the campaign, opt-out and redrive entries.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid

from playwright.sync_api import Browser, Page, expect

from courier.campaigns.launch import job_id_for
from local.admin_sign_in import ADMIN_USER
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
    sqs = system.client("sqs")
    found: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(found) != bodies:
        for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", []):
            if m["Body"] in bodies:
                found[m["Body"]] = m["MessageId"]
    assert set(found) == bodies, "the dead letters did not show up"
    return found


def _delete_dead_letters(system: LocalSystem, url: str, message_ids: set[str]) -> None:
    """Remove this test's leftovers, so other tests see only their own dead letters."""
    sqs = system.client("sqs")
    for _ in range(10):
        if not message_ids:
            return
        for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5, WaitTimeSeconds=1
        ).get("Messages", []):
            if m["MessageId"] in message_ids:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                message_ids.discard(m["MessageId"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )


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
        _delete_dead_letters(local_system, dlq_url, {poison_id, lost_id})


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
