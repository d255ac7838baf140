"""Every web router, in the order the app includes them."""

from __future__ import annotations

from sgm_app.web import (
    docs,
    routes_admin,
    routes_auth,
    routes_files,
    routes_forms,
    routes_patients,
    routes_viewer,
    routes_worklists,
)

ROUTERS = (
    docs.router,
    routes_auth.router,
    routes_patients.router,
    routes_forms.router,
    routes_files.router,
    routes_viewer.router,
    routes_worklists.router,
    routes_admin.router,
)
