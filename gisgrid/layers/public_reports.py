"""群众上报 public reports: what the resident-facing form keeps beside the incident it made.

One row per incident a resident reported through ``/report`` (no account): the SHA-256 of
the secret half of the tracking code the resident was given (the code itself is never
stored: whoever reads the store cannot follow a report with it) and the contact phone the
resident gave, if any. The incident and its case's first step (``report`` by the reserved
actor ``public``) are the ordinary rows of :mod:`.incidents` and :mod:`.case_steps`; the
three are written in one transaction (:mod:`gisgrid.services.public_reports`).
"""

from __future__ import annotations

from gisgrid.layers.fields import id_field
from gisgrid.layers.schema import Field, Layer

LAYER = Layer(
    name="public_reports",
    label_zh="群众上报",
    description=(
        "Incidents reported by residents through the public form: the hash of their tracking "
        "code's secret and the contact phone they gave (optional)."
    ),
    fields=(
        id_field("事件编号", "the incident the resident reported", name="incident_id"),
        Field(
            "code_hash",
            "str",
            required=True,
            label_zh="查询码摘要",
            pattern=r"[0-9a-f]{64}",
            hint="64 hex digits",
            description="SHA-256 (hex) of the secret part of the resident's tracking code",
            # not personal, but of no use to anyone reading records: hidden like a phone
            personal="resident",
        ),
        Field(
            "contact_phone",
            "str",
            label_zh="联系电话",
            max_length=40,
            description="the phone the resident left for questions (optional)",
            personal="resident",
            masked_as="phone",
        ),
    ),
    key=("incident_id",),
)
