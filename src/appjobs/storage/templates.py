"""Job templates and communication users in the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from appjobs import errors, models
from appjobs.storage import schema
from appjobs.storage.database import Database

T, TS, TP = schema.template, schema.template_step, schema.template_param


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
        params = [
            {"template_name": template.name, "step_number": s.number, "name": n, "default_value": v}
            for s in template.steps
            for n, v in s.parameters.items()
        ]
        if params:
            conn.execute(TP.insert(), params)

    def get(self, name: str) -> models.Template:
        """The template called *name*; :class:`~appjobs.errors.TemplateNotFound` otherwise."""
        found = self._load(T.c.name == name)
        if not found:
            raise errors.TemplateNotFound(f"Job template {name} doesn't exist.")
        return found[0]

    def list(self) -> list[models.Template]:
        """Every template, ordered by name."""
        return self._load(sa.true())

    def names(self) -> set[str]:
        with self.db.read() as conn:
            return set(conn.scalars(sa.select(T.c.name)))

    def _load(self, where: sa.ColumnElement[bool]) -> list[models.Template]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(T).where(where).order_by(T.c.name)).all()
            names = [r.name for r in rows]
            steps = conn.execute(sa.select(TS).where(TS.c.template_name.in_(names)).order_by(TS.c.number)).all()
            params = conn.execute(sa.select(TP).where(TP.c.template_name.in_(names)).order_by(TP.c.name)).all()
        return [_template(row, steps, params) for row in rows]


def _step_row(template_name: str, step: models.TemplateStep) -> dict[str, object]:
    return {
        "template_name": template_name,
        "number": step.number,
        "kind": step.kind.value,
        "target": step.target,
        "text": step.text,
    }


def _template(row: sa.Row, steps: Iterable[sa.Row], params: Iterable[sa.Row]) -> models.Template:
    defaults: dict[int, dict[str, str]] = {}
    for p in params:
        if p.template_name == row.name:
            defaults.setdefault(p.step_number, {})[p.name] = p.default_value
    return models.Template(
        name=row.name,
        text=row.text,
        version=row.version,
        supports_test_mode=row.supports_test_mode,
        created_at=row.created_at,
        created_by=row.created_by,
        changed_at=row.changed_at,
        changed_by=row.changed_by,
        steps=tuple(
            models.TemplateStep(
                number=s.number,
                kind=models.StepKind(s.kind),
                target=s.target,
                text=s.text,
                parameters=defaults.get(s.number, {}),
            )
            for s in steps
            if s.template_name == row.name
        ),
    )


class UserStore:
    """Communication users: the identities external schedulers log on with."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, password_hash: str, now: dt.datetime) -> None:
        """Store a new user; :class:`~appjobs.errors.DuplicateUser` when the name is taken."""
        try:
            with self.db.write() as conn:
                conn.execute(schema.comm_user.insert().values(name=name, password_hash=password_hash, created_at=now))
        except sa.exc.IntegrityError as exc:
            raise errors.DuplicateUser(f"communication user {name} already exists") from exc

    def password_hash(self, name: str) -> str | None:
        """The stored hash of *name*, or None when there is no such user."""
        with self.db.read() as conn:
            return conn.scalar(sa.select(schema.comm_user.c.password_hash).where(schema.comm_user.c.name == name))

    def names(self) -> list[str]:
        with self.db.read() as conn:
            return list(conn.scalars(sa.select(schema.comm_user.c.name).order_by(schema.comm_user.c.name)))

    def failed_logons(self, name: str) -> int:
        """Failed logons of *name* since its last successful one (0 for an unknown user)."""
        with self.db.read() as conn:
            count = conn.scalar(sa.select(schema.comm_user.c.failed_logons).where(schema.comm_user.c.name == name))
        return count or 0

    def record_logon(self, name: str, *, ok: bool) -> None:
        """Count a failed logon of *name*, or reset the count after a successful one."""
        user = schema.comm_user
        count = sa.literal(0) if ok else user.c.failed_logons + 1
        with self.db.write() as conn:
            conn.execute(user.update().where(user.c.name == name).values(failed_logons=count))
