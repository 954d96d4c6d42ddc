"""The admin API: the resolver of the admin function (`ANY /api/admin/{proxy+}`).

The admin console's routes run in a function of their own, apart from the user-facing API
(DESIGN.md: the old system had no isolation between admin and user traffic): its own role,
concurrency, logs and alarms. Every route needs a Cognito access token of the admin group
(courier.http_api.admin_routes.signed_in_admin) and records what it changes in the audit log.
"""

from __future__ import annotations

from typing import Final

from courier.http_api.admin_routes import router as admin_router
from courier.http_api.resolver import build_resolver

# Method sets of every admin route, for 405 on a known path (kept equal to the resolver's; tested).
ADMIN_ROUTES: Final[dict[str, frozenset[str]]] = {
    "/api/admin/me": frozenset({"GET"}),
    "/api/admin/audit": frozenset({"GET"}),
}

app = build_resolver(ADMIN_ROUTES)
app.include_router(admin_router)
