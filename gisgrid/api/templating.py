"""The web app's HTML: one autoescaping Jinja environment for every page, and what every
signed-in page shows of its caller (name, role, their links, the sign-out form)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from gisgrid.api.deps import SignedIn
from gisgrid.roles import Permission

#: every template of gisgrid/api/templates, escaped (names from the store are never markup)
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
)


def caller_context(access: SignedIn) -> dict[str, Any]:
    """What ``_user_bar.html`` needs: the account, whether it administers, its role's label,
    and the CSRF token its forms carry (empty for a caller by API token, who needs none)."""
    session = access.caller.session
    return {
        "me": access.caller.account,
        "me_role": access.caller.info.label_zh,
        "me_admin": Permission.ADMINISTER in access.caller.info.permissions,
        "csrf_token": "" if session is None else session.csrf_token,
    }


def render(template: str, access: SignedIn | None = None, **context: Any) -> str:
    """``template`` rendered with ``context`` (and the caller's, when signed in)."""
    if access is not None:
        context = caller_context(access) | context
    return TEMPLATES.get_template(template).render(**context)
