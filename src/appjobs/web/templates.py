"""Job Templates: the list, a template's page, and importing templates from a TOML upload.

Viewers read; operators and administrators also import. An upload goes
through the very parser ``appjobs admin templates import`` uses
(:func:`appjobs.engine.templates.parse`), so it is checked the same way and
its problems read the same (``jobs.toml: template[2].step[1]: unknown field
'comand'``), and it is stored all at once or not at all. Template names hold
slashes (``/APPJOBS/DEMO_ECHO``): links encode them (``%2F``) and the page's
route takes the rest of the path as the name.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appjobs import errors, models, params
from appjobs.auth.ui import Role
from appjobs.auth.users import ui_source
from appjobs.engine import JobService
from appjobs.engine import templates as template_files
from appjobs.web.rendering import PREFIX, render
from appjobs.web.security import MAX_FORM, error_status, form_of, page, session_of
from appjobs.web.uploads import uploaded

#: The storage's hint for a duplicate names the command's flag; the page names its checkbox instead.
#: How a value of each type (but text) must be written.
FORMS = {
    params.ParamType.INTEGER: "a whole number",
    params.ParamType.DATE: "a date YYYYMMDD",
    params.ParamType.BOOLEAN: "X or empty",
}
REPLACE_HINT = ("use --replace to change it", "tick “Replace existing templates” to change it")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One declared parameter of a step, as the template's page shows it."""

    step: int
    declaration: params.Declaration

    @property
    def default(self) -> str:
        """The default as text: a parameter's value, or a select-option's rows (``I BT 1000 2000``)."""
        d = self.declaration
        if not d.select_option:
            return d.default_value
        return "; ".join(" ".join(filter(None, (r.sign, r.option, r.low, r.high))) for r in d.default)

    @property
    def type_name(self) -> str:
        return self.declaration.type.name.lower()

    @property
    def checks(self) -> str:
        """What JobScheduleCheck asks of a value: its type's form and the allowed values, if the template has any."""
        found = [FORMS[self.declaration.type]] if self.declaration.type in FORMS else []
        if self.declaration.allowed:
            found.append("one of " + ", ".join(self.declaration.allowed))
        return "; ".join(found)


def recurrence_text(default: models.DefaultRecurrence | None) -> str:
    """A default recurrence as the CLI's listing writes it: ``every 1d at 02:00 Europe/Berlin``."""
    if default is None:
        return ""
    at = f" at {default.at}" if default.at else ""
    return f"every {default.every}{at} {default.timezone}"


def href(name: str) -> str:
    """The address of template *name*'s page: every ``/`` of the name encoded, so it stays one part."""
    return f"{PREFIX}/templates/{quote(name, safe='')}"


def parameters_of(template: models.Template) -> list[Parameter]:
    return [Parameter(step.number, d) for step in template.steps for d in step.declared()]


def _service(request: Request) -> JobService:
    return request.app.state.service


@page()
def template_list(request: Request) -> Response:
    """``GET /appjobs/ui/templates``: every template, and the import form for those who may import."""
    return _list(request)


def _list(request: Request, status: int = 200, **context: object) -> Response:
    found = _service(request).templates()
    rows = [(t, href(t.name), len(parameters_of(t)), recurrence_text(t.recurrence)) for t in found]
    may_import = session_of(request).role.may(Role.OPERATOR)
    context.setdefault("replace", False)
    return render(request, "templates/list.html", status, rows=rows, may_import=may_import,
                  max_kib=MAX_FORM // 1024, **context)  # fmt: skip


@page()
def template_page(request: Request) -> Response:
    """``GET /appjobs/ui/templates/{name}``: a template's steps, parameters and allowed business users."""
    template = _service(request).template(request.path_params["name"])
    return render(request, "templates/detail.html", job_template=template, parameters=parameters_of(template),
                  recurrence=recurrence_text(template.recurrence))  # fmt: skip


@page(Role.OPERATOR)
def import_templates(request: Request) -> Response:
    """``POST /appjobs/ui/templates/import``: fields ``file`` (TOML) and ``replace`` (a checkbox)."""
    form = form_of(request)
    replace = form.get("replace") is not None
    try:
        imported = _import(request, uploaded(form, "file"), replace=replace)
    except errors.AppjobsError as exc:
        message = exc.message.replace(*REPLACE_HINT) if isinstance(exc, errors.DuplicateTemplate) else exc.message
        return _list(request, error_status(exc), error=message, replace=replace)
    names = ", ".join(f"{t.name} ({t.text}, {t.step_count} step{'s' if t.step_count != 1 else ''})" for t in imported)
    count = f"{len(imported)} job template{'s' if len(imported) != 1 else ''}"
    return _list(request, message=f"Imported {count}: {names}.", replace=replace)


def _import(request: Request, upload: tuple[str, bytes] | None, *, replace: bool) -> list[models.Template]:
    """Parse and store the uploaded file, as ``admin templates import`` does, and audit who did it."""
    if upload is None:
        raise errors.InvalidInput("Choose a TOML file of job templates to import.")
    filename, data = upload
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # the message load_file gives for a file it cannot read
        raise errors.TemplateFileError(f"{filename}: cannot read: {exc}") from exc
    service = _service(request)
    user = session_of(request).user
    loaded = template_files.parse(text, source=filename, by=user, now=service.clock())
    service.import_templates(loaded, replace=replace)
    detail = ("replaced or imported" if replace else "imported") + " job templates " + ", ".join(t.name for t in loaded)
    service.store.audit.add([models.AuditEntry(service.clock(), "admin", None, ui_source(user), "success", detail)])
    return loaded


routes = [
    Route("/templates", template_list, methods=["GET"]),
    Route("/templates/import", import_templates, methods=["POST"]),
    Route("/templates/{name:path}", template_page, methods=["GET"]),
]
