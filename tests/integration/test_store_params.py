"""Parameters in the store: migration 0006 keeps what was stored before it; select-option rows survive the database."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from alembic import command
from alembic.config import Config

from appjobs import models, params
from appjobs.engine import JobService, templates
from appjobs.settings import Paths
from appjobs.storage import Store, schema
from appjobs.storage import jobsql as q
from appjobs.storage.database import MIGRATIONS
from appjobs.storage.templates import _step_row

pytestmark = pytest.mark.backends("sqlite", "postgresql")

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
TOML = """
[[template]]
name = "/T/TYPED"
text = "Typed"
[[template.step]]
command = "true"
[template.step.parameters]
PLAIN = "p"
[template.step.parameters.PLANTS]
select_option = true
allowed = ["1", "2", "3"]
default = [{ sign = "E", option = "BT", low = "1", high = "2" }]
[template.step.parameters.DAY]
type = "date"
mandatory = true
text = "Day"
"""


def test_parameters_stored_before_0006_are_string_parameters_after_it(data_dir: pathlib.Path) -> None:
    """A template and a job written by an appjobs before migration 0006 read back as they meant."""
    url = Paths.resolve(str(data_dir)).database_url
    Paths.resolve(str(data_dir)).create()
    old = Store.open(url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    key = models.JobKey.new()
    step = models.TemplateStep(1, models.StepKind.SHELL, "true")
    job = models.Job(key, "/T/OLD", "old", "U", "U", models.JobStatus.FINISHED, NOW, NOW)
    try:
        with old.db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
            template = {"name": "/T/OLD", "version": "0", "text": "Old", "supports_test_mode": False}
            template |= {
                "created_at": NOW,
                "created_by": "T",
                "changed_at": NOW,
                "changed_by": "T",
                "business_users": "",
            }
            conn.execute(schema.template.insert().values(template))
            conn.execute(schema.template_step.insert().values(_step_row("/T/OLD", step)))
            param = {"template_name": "/T/OLD", "step_number": 1, "name": "AREA", "default_value": "EU"}
            conn.execute(schema.template_param.insert().values(param))
            before_0007 = {k: v for k, v in q.job_row(job).items() if k not in ("series_id", "series_index")}
            conn.execute(q.INSERT_JOB, before_0007)
            conn.execute(q.INSERT_STEP, q.step_row(models.StepRun(key, 1, step.kind, "true", "", job.status)))
            value = {"job_name": key.name, "run_count": key.run_count, "step_number": 1, "name": "AREA", "value": "US"}
            conn.execute(schema.job_param.insert().values(value))
    finally:
        old.close()
    store = Store.open(url)
    try:
        (declaration,) = store.templates.get("/T/OLD").steps[0].declarations
        assert declaration == params.Declaration("AREA", default=(params.Row("I", "EQ", "EU", ""),))
        assert store.jobs.parameter_values(key) == [params.Value(1, "AREA", (params.Row("I", "EQ", "US", ""),))]
    finally:
        store.close()


def test_declarations_and_select_option_rows_survive_the_database(service: JobService) -> None:
    (template,) = templates.parse(TOML, source="t.toml", by="T", now=NOW)
    service.import_templates([template])
    assert service.template("/T/TYPED").steps[0].declared() == tuple(
        sorted(template.steps[0].declared(), key=lambda d: d.name)
    )
    rows = (params.Row("I", "EQ", "3", ""), params.Row("E", "BT", "1", "2"))
    entries = [params.Entry("PLANTS", rows), params.Entry("DAY", (params.Row(low="2026-12-06"),), 1)]
    job = service.schedule("/T/TYPED", creator="T", parameters=entries)
    got = {value.name: value for value in service.parameter_values(job.key)}
    assert got["PLANTS"] == params.Value(1, "PLANTS", rows, select_option=True)
    assert got["DAY"].rows == (params.Row("I", "EQ", "20261206", ""),)
    assert got["PLAIN"].rows == (params.Row("I", "EQ", "p", ""),)
    assert service.parameters(job.key) == {1: {"DAY": "20261206", "PLAIN": "p", "PLANTS": "3"}}
