"""Recorded calls against the roles: what no role allows, and what no call exercised."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tests.iam_check.policy import PROVIDER_ACTIONS, Statement, decide, matches
from tests.iam_check.recorder import Call


@dataclass(frozen=True)
class Grant:
    function: str
    sid: str
    action: str
    resource: str


def provider_call(call: Call) -> str | None:
    """The SmsProvider a call belongs to (SMS to a phone number), or None for every provider."""
    if call.action == "sns:Publish" and call.resource != "*":
        return None
    return PROVIDER_ACTIONS.get(call.action)


def violations(
    calls: Iterable[Call], roles: dict[str, list[Statement]], provider: str
) -> list[str]:
    """One line per distinct call the function's role does not allow (under `provider`)."""
    found: set[str] = set()
    for call in calls:
        if provider_call(call) not in {None, provider}:
            continue
        if call.function not in roles:
            found.add(f"{call.function}: no such function in template.yaml")
            continue
        verdict = decide(roles[call.function], call.action, call.resource)
        if verdict != "allow":
            found.add(
                f"{call.function}: {call.service}.{call.operation} needs {call.action} on "
                f"{call.resource} ({verdict})"
            )
    return sorted(found)


def unexercised(calls: Iterable[Call], roles: dict[str, list[Statement]]) -> list[Grant]:
    """Allowed (action, resource) pairs of each role that no recorded call of it matched."""
    by_function: dict[str, list[Call]] = {}
    for call in calls:
        by_function.setdefault(call.function, []).append(call)
    grants: list[Grant] = []
    for function, statements in sorted(roles.items()):
        mine = by_function.get(function, [])
        for statement in statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                for resource in statement.resources:
                    if decide(statements, action, resource) == "deny":
                        continue  # taken back by an explicit Deny: not a grant
                    if not any(
                        matches(action.lower(), c.action.lower()) and matches(resource, c.resource)
                        for c in mine
                    ):
                        grants.append(Grant(function, statement.sid, action, resource))
    return grants
