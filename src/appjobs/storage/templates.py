"""Job templates in the database.

Scheduling a job reads its template, so :meth:`TemplateStore.get` is on the
hot path of ``JobService.schedule``. It reads the template, its steps and
their parameters in one query built once (outer joins: one row per step and
parameter), not three. It keeps no cache: any cache would need a query per
read to learn whether another process had imported or replaced the template
since, and one query can just as well bring the template itself, which then
can never be stale. ``list`` runs the same join over every template, so
the two always build templates the same way (:func:`_joined_template`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

import sqlalchemy as sa

from appjobs import errors, models, params
from appjobs.storage import schema
from appjobs.storage.database import Database

T, TS, TP = schema.template, schema.template_step, schema.template_param

_TEMPLATES_JOINED = sa.select(
    T,
    TS.c.number.label("step_number"),
    TS.c.kind.label("step_kind"),
    TS.c.target.label("step_target"),
    TS.c.text.label("step_text"),
    TS.c.warning_exit_codes.label("step_warning_exit_codes"),
    TS.c.pass_env.label("step_pass_env"),
    TP.c.name.label("param_name"),
    TP.c.default_value.label("param_default"),
    TP.c.type.label("param_type"),
    TP.c.select_option.label("param_select_option"),
    TP.c.mandatory.label("param_mandatory"),
    TP.c.allowed.label("param_allowed"),
    TP.c.text.label("param_text"),
    TP.c.default_rows.label("param_default_rows"),
).select_from(
    T.outerjoin(TS, TS.c.template_name == T.c.name).outerjoin(
        TP, sa.and_(TP.c.template_name == TS.c.template_name, TP.c.step_number == TS.c.number)
    )
)
# A step's parameters come back ordered by name (the order every reader of them shows).
WHOLE_TEMPLATE = _TEMPLATES_JOINED.where(T.c.name == sa.bindparam("template")).order_by(TS.c.number, TP.c.name)
ALL_TEMPLATES = _TEMPLATES_JOINED.order_by(T.c.name, TS.c.number, TP.c.name)


class TemplateStore:
    """Reads and writes job templates; an import is all-or-nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, templates: Sequence[models.Template], *, replace: bool = False) -> None:
        """Store *templates* in one transaction.

        A name that is already stored raises :class:`~appjobs.errors.DuplicateTemplate`
        and stores nothing, unless *replace* is true; then the template's steps
        and parameters are replaced and its creation data kept.
        """
        with self.db.write() as conn:
            stored = set(conn.scalars(sa.select(T.c.name).where(T.c.name.in_([t.name for t in templates]))))
            if stored and not replace:
                raise errors.DuplicateTemplate(
                    f"job template {sorted(stored)[0]} already exists (use --replace to change it)"
                )
            for template in templates:
                self._write(conn, template, exists=template.name in stored)

    def _write(self, conn: sa.Connection, template: models.Template, *, exists: bool) -> None:
        values = {
            "version": template.version,
            "text": template.text,
            "supports_test_mode": template.supports_test_mode,
            "changed_at": template.changed_at,
            "changed_by": template.changed_by,
            "business_users": " ".join(template.business_users),
            **_recurrence_columns(template.recurrence),
        }
        if exists:
            conn.execute(T.update().where(T.c.name == template.name).values(values))
            conn.execute(TS.delete().where(TS.c.template_name == template.name))
            conn.execute(TP.delete().where(TP.c.template_name == template.name))
        else:
            conn.execute(
                T.insert().values(
                    name=template.name, created_at=template.created_at, created_by=template.created_by, **values
                )
            )
        conn.execute(TS.insert(), [_step_row(template.name, s) for s in template.steps])
        rows = [_param_row(template.name, s.number, d) for s in template.steps for d in s.declared()]
        if rows:
            conn.execute(TP.insert(), rows)

    def get(self, name: str) -> models.Template:
        """The template called *name*; :class:`~appjobs.errors.TemplateNotFound` otherwise."""
        with self.db.read() as conn:
            rows = conn.execute(WHOLE_TEMPLATE, {"template": name}).all()
        if not rows:
            raise errors.TemplateNotFound(f"Job template {name} doesn't exist.")
        return _joined_template(rows)

    def list(self) -> list[models.Template]:
        """Every template, ordered by name."""
        with self.db.read() as conn:
            rows = conn.execute(ALL_TEMPLATES).all()
        return [_joined_template(list(group)) for _, group in itertools.groupby(rows, key=lambda r: r.name)]

    def names(self) -> set[str]:
        with self.db.read() as conn:
            return set(conn.scalars(sa.select(T.c.name)))


def _joined_template(rows: Sequence[sa.Row]) -> models.Template:
    """The template in the rows of :data:`WHOLE_TEMPLATE`: the same on every row, then one row per parameter."""
    defaults: dict[int, dict[str, str]] = {}
    declarations: dict[int, list[params.Declaration]] = {}
    steps: dict[int, sa.Row] = {}
    for r in rows:
        if r.step_number is not None:  # None: a template without steps
            steps.setdefault(r.step_number, r)
            if r.param_name is not None:
                defaults.setdefault(r.step_number, {})[r.param_name] = r.param_default
                declarations.setdefault(r.step_number, []).append(_declaration(r))
    row = rows[0]
    return models.Template(
        name=row.name,
        text=row.text,
        version=row.version,
        supports_test_mode=row.supports_test_mode,
        created_at=row.created_at,
        created_by=row.created_by,
        changed_at=row.changed_at,
        changed_by=row.changed_by,
        business_users=tuple(row.business_users.split()),
        recurrence=_recurrence(row),
        steps=tuple(
            models.TemplateStep(
                number=n,
                kind=models.StepKind(s.step_kind),
                target=s.step_target,
                text=s.step_text,
                parameters=defaults.get(n, {}),
                warning_exit_codes=codes(s.step_warning_exit_codes),
                pass_env=tuple(s.step_pass_env.split()),
                declarations=tuple(declarations.get(n, ())),
            )
            for n, s in steps.items()
        ),
    )


def _recurrence_columns(recurrence: models.DefaultRecurrence | None) -> dict[str, str | None]:
    """The three recurrence columns: all NULL without one, and NULL ``at`` for "when it is scheduled"."""
    if recurrence is None:
        return {"recurrence_every": None, "recurrence_at": None, "recurrence_timezone": None}
    return {
        "recurrence_every": recurrence.every,
        "recurrence_at": recurrence.at or None,
        "recurrence_timezone": recurrence.timezone,
    }


def _recurrence(row: sa.Row) -> models.DefaultRecurrence | None:
    if row.recurrence_every is None:
        return None
    return models.DefaultRecurrence(
        every=row.recurrence_every, at=row.recurrence_at or "", timezone=row.recurrence_timezone or "UTC"
    )


def _step_row(template_name: str, step: models.TemplateStep) -> dict[str, object]:
    return {
        "template_name": template_name,
        "number": step.number,
        "kind": step.kind.value,
        "target": step.target,
        "text": step.text,
        "warning_exit_codes": " ".join(map(str, step.warning_exit_codes)),
        "pass_env": " ".join(step.pass_env),
    }


def codes(stored: str) -> tuple[int, ...]:
    """Exit codes as a column stores them, space-separated."""
    return tuple(int(c) for c in stored.split())


def _param_row(template_name: str, step_number: int, d: params.Declaration) -> dict[str, object]:
    return {
        "template_name": template_name,
        "step_number": step_number,
        "name": d.name,
        "default_value": d.default_value,
        "type": d.type.value,
        "select_option": d.select_option,
        "mandatory": d.mandatory,
        "allowed": json.dumps(list(d.allowed)) if d.allowed else "",
        "text": d.text,
        "default_rows": json.dumps([r.to_sap() for r in d.default]),
    }


def _declaration(r: sa.Row) -> params.Declaration:
    """A parameter declaration from its row; a row from before migration 0006 is a string with a default."""
    if r.param_default_rows is None:
        default = (params.Row(low=r.param_default),)
    else:
        default = tuple(params.row_from_sap(row) for row in json.loads(r.param_default_rows))
    return params.Declaration(
        name=r.param_name,
        type=params.ParamType(r.param_type),
        select_option=r.param_select_option,
        default=default,
        mandatory=r.param_mandatory,
        allowed=tuple(json.loads(r.param_allowed)) if r.param_allowed else (),
        text=r.param_text,
    )
