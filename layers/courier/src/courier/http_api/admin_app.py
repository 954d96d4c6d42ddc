"""The admin API: the resolver of the admin function (`ANY /api/admin/{proxy+}`).

The admin console's routes run in a function of their own, apart from the user-facing API
(DESIGN.md: the old system had no isolation between admin and user traffic): its own role,
concurrency, logs and alarms. Every route needs a Cognito access token of the admin group
(courier.http_api.admin_routes.signed_in_admin) and records what it changes in the audit log.
"""

from __future__ import annotations

from typing import Final

from courier.http_api.admin_campaign_routes import AUDIENCE_BODY_BYTES, AUDIENCE_PATH
from courier.http_api.admin_campaign_routes import router as campaign_router
from courier.http_api.admin_chat_routes import router as admin_chat_router
from courier.http_api.admin_routes import router as admin_router
from courier.http_api.admin_sms_routes import router as admin_sms_router
from courier.http_api.origin import MAX_BODY_BYTES
from courier.http_api.resolver import build_resolver

# Method sets of every admin route, for 405 on a known path (kept equal to the resolver's; tested).
ADMIN_ROUTES: Final[dict[str, frozenset[str]]] = {
    "/api/admin/me": frozenset({"GET"}),
    "/api/admin/audit": frozenset({"GET"}),
    "/api/admin/jobs/search": frozenset({"POST"}),
    "/api/admin/jobs/{job_id}": frozenset({"GET"}),
    "/api/admin/dlq/{queue}": frozenset({"GET"}),
    "/api/admin/dlq/{queue}/redrive": frozenset({"POST"}),
    "/api/admin/opt-outs": frozenset({"POST"}),
    "/api/admin/opt-outs/search": frozenset({"POST"}),
    "/api/admin/opt-outs/remove": frozenset({"POST"}),
    "/api/admin/rooms/{room}/messages/{message_id}": frozenset({"DELETE"}),
    "/api/admin/users/{user}/revoke": frozenset({"POST"}),
    "/api/admin/campaigns": frozenset({"GET", "POST"}),
    "/api/admin/campaigns/{campaign_id}": frozenset({"GET"}),
    "/api/admin/campaigns/{campaign_id}/audience": frozenset({"PUT"}),
    "/api/admin/campaigns/{campaign_id}/launch": frozenset({"POST"}),
    "/api/admin/campaigns/{campaign_id}/cancel": frozenset({"POST"}),
}


def body_limit(path: str) -> int:
    """An audience CSV may be up to 4 MiB (10,000 rows); every other body 256 KiB."""
    return AUDIENCE_BODY_BYTES if AUDIENCE_PATH.match(path) else MAX_BODY_BYTES


app = build_resolver(ADMIN_ROUTES, max_body_bytes=body_limit)
app.include_router(admin_router)
app.include_router(admin_sms_router)
app.include_router(admin_chat_router)
app.include_router(campaign_router)
