"""The web app end to end: the chat page in headless Chromium, talking to a WebSocket client."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, expect

from local.clients import chat_client
from local.system import LocalSystem
from tests.e2e.conftest import Ledger


def test_the_chat_page_connects_with_a_token_and_a_second_client_receives_its_message(
    local_system: LocalSystem, browser: Browser, ledger: Ledger
) -> None:
    text = f"hello from the browser {uuid.uuid4().hex[:6]}"
    reply = "hello, browser"
    with chat_client(local_system, "bob", local_system.tokens["bob"]) as bob:
        bob.join("lobby")
        # Given the chat page served from the web bucket, with its runtime config
        page = browser.new_page()
        socket_urls: list[str] = []
        page.on("websocket", lambda socket: socket_urls.append(socket.url))
        page.goto(local_system.web_url)
        # When alice pastes her token, connects, joins the lobby and sends a message
        page.get_by_test_id("token-input").fill(local_system.tokens["alice"])
        page.get_by_test_id("connect-button").click()
        expect(page.get_by_test_id("status-line")).to_contain_text("Connected", timeout=60_000)
        # (with a single-use ticket in the WebSocket URL, never the token itself)
        (socket_url,) = socket_urls
        assert "?ticket=" in socket_url
        assert local_system.tokens["alice"] not in socket_url
        assert "token=" not in socket_url
        page.get_by_test_id("room-input").fill("lobby")
        page.get_by_test_id("join-button").click()
        expect(page.get_by_test_id("room-tab")).to_contain_text("lobby", timeout=30_000)
        page.get_by_test_id("message-input").fill(text)
        page.get_by_test_id("send-button").click()
        # Then bob's WebSocket client receives it from alice
        heard = bob.wait_for(lambda f: f.get("type") == "message" and f["text"] == text)
        assert heard["sender"] == {"sub": "alice", "name": "Alice"}
        # And bob's reply shows up on the page
        bob.say("lobby", reply)
        expect(page.get_by_test_id("message-list")).to_contain_text(reply, timeout=30_000)
        page.close()
    ledger.chat("lobby", "alice")
    ledger.chat("lobby", "bob")


def test_the_stats_page_shows_the_days_report_from_the_http_api(
    local_system: LocalSystem, browser: Browser
) -> None:
    # Given a stats run for today
    result = local_system.run_stats()
    assert result["status"] == "SUCCEEDED", result
    jobs = result["report"]["sms"]["jobs"]
    # When the stats page is opened for that day
    page = browser.new_page()
    page.goto(local_system.web_url.replace("chat.html", f"stats.html?date={result['date']}"))
    # Then it shows the report, with the day's SMS job count
    report = page.get_by_test_id("report")
    expect(report).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("sms-by-status")).to_contain_text("SENT")
    expect(page.locator('#summary dt:text-is("SMS jobs") + dd')).to_have_text(f"{jobs:,}")
    page.close()
