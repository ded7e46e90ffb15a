"""A template's default recurrence through the database, the command line and JobTemplateSet over real HTTP."""

from __future__ import annotations

import json

import pytest
import requests
import sqlalchemy as sa
from tenant import Tenant, admin

from appjobs import models
from appjobs.engine import JobService, templates
from appjobs.storage import Store, schema

pytestmark = pytest.mark.backends("sqlite", "postgresql")

TEMPLATES = """
[[template]]
name = "/ZTEST/NIGHTLY"
text = "Every night at two, Berlin time"
recurrence = { every = "1d", at = "02:00", timezone = "Europe/Berlin" }
[[template.step]]
command = 'true'

[[template]]
name = "/ZTEST/QUARTER"
text = "Every quarter of an hour"
recurrence = { every = "15min" }
[[template.step]]
command = 'true'

[[template]]
name = "/ZTEST/ONCE"
text = "Not periodic"
[[template.step]]
command = 'true'
"""
EXPECTED = {
    "/ZTEST/NIGHTLY": {"every": "1d", "at": "02:00", "timezone": "Europe/Berlin"},
    "/ZTEST/QUARTER": {"every": "15m", "at": "", "timezone": "UTC"},
    "/ZTEST/ONCE": None,
}


def columns(store: Store, name: str) -> tuple[str | None, str | None, str | None]:
    t = schema.template
    query = sa.select(t.c.recurrence_every, t.c.recurrence_at, t.c.recurrence_timezone).where(t.c.name == name)
    with store.db.read() as conn:
        return tuple(conn.execute(query).one())  # type: ignore[return-value]


def test_a_default_recurrence_round_trips_through_the_store(service: JobService, store: Store) -> None:
    parsed = templates.parse(TEMPLATES, source="t.toml", by="T", now=models.utcnow())
    service.import_templates(parsed)
    assert service.templates() == sorted(parsed, key=lambda t: t.name)
    assert {t.name: t.recurrence and vars(t.recurrence) for t in service.templates()} == EXPECTED
    assert columns(store, "/ZTEST/NIGHTLY") == ("1d", "02:00", "Europe/Berlin")
    assert columns(store, "/ZTEST/QUARTER") == ("15m", None, "UTC")  # no 'at': the time it is scheduled
    assert columns(store, "/ZTEST/ONCE") == (None, None, None)
    # Replaced by a version without the key, the template is no longer periodic.
    once = templates.parse(
        TEMPLATES.replace('recurrence = { every = "15min" }\n', ""), source="t", by="T", now=models.utcnow()
    )
    service.import_templates([t for t in once if t.name == "/ZTEST/QUARTER"], replace=True)
    assert service.template("/ZTEST/QUARTER").recurrence is None
    assert columns(store, "/ZTEST/QUARTER") == (None, None, None)


@pytest.fixture(scope="module")
def imported(tenant: Tenant) -> Tenant:
    toml = tenant.data_dir.parent / "recurrence.toml"
    toml.write_text(TEMPLATES, encoding="utf-8")
    admin(tenant.data_dir, "templates", "import", str(toml))
    return tenant


def test_job_template_set_shows_the_periodic_fields(imported: Tenant) -> None:
    response = requests.get(
        f"{imported.root}/JobTemplateSet",
        params={"$format": "json"},
        auth=imported.auth(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    entities = response.json()["d"]["results"]
    found = {e["JobTemplateName"]: (e["JobPeriodicGranularity"], e["JobPeriodicValue"]) for e in entities}
    assert found["/APPJOBS/DEMO_ECHO"] == ("", "000")  # as the guide's capture of SAP's templates
    assert {name: fields for name, fields in found.items() if name.startswith("/ZTEST/")} == {
        "/ZTEST/NIGHTLY": ("DA", "001"),
        "/ZTEST/QUARTER": ("MI", "015"),
        "/ZTEST/ONCE": ("", "000"),
    }


def test_admin_templates_list_json_shows_the_recurrence(imported: Tenant) -> None:
    listed = json.loads(admin(imported.data_dir, "templates", "list", "--json").stdout)
    assert {t["name"]: t["recurrence"] for t in listed if t["name"].startswith("/ZTEST/")} == EXPECTED
