"""Typed parameter declarations in template TOML: what is accepted, and how each mistake names file and field."""

from __future__ import annotations

import pytest

from appjobs import errors, models
from appjobs.engine import templates
from appjobs.params import ParamType, Row

NOW = models.utcnow()
HEAD = """
[[template]]
name = "/T/P"
text = "Parameters"
[[template.step]]
command = "true"
"""


def parse(parameters: str) -> models.TemplateStep:
    (template,) = templates.parse(HEAD + parameters, source="jobs.toml", by="TESTER", now=NOW)
    return template.steps[0]


def parse_error(parameters: str) -> str:
    with pytest.raises(errors.TemplateFileError) as caught:
        parse(parameters)
    return str(caught.value)


def test_the_old_form_is_a_string_parameter_with_its_default() -> None:
    step = parse('parameters = { AREA = "EU", COUNT = 3 }\n')
    assert step.parameters == {"AREA": "EU", "COUNT": "3"}
    (area, count) = step.declarations
    assert area.type is ParamType.STRING
    assert area.default == (Row("I", "EQ", "EU", ""),)
    assert not area.select_option
    assert not area.mandatory
    assert count.default_value == "3"


def test_declarations_are_read_and_defaults_written_in_sap_forms() -> None:
    step = parse(
        """
[template.step.parameters]
AREA = "EU"
[template.step.parameters.FROM]
type = "date"
default = 2026-01-02
mandatory = true
text = "First day"
[template.step.parameters.FULL]
type = "boolean"
default = true
[template.step.parameters.LIMIT]
type = "INT4"
default = "007"
allowed = [7, 8]
[template.step.parameters.PLANTS]
select_option = true
default = ["1000", { sign = "E", option = "BT", low = "1100", high = "1200" }]
"""
    )
    d = {declaration.name: declaration for declaration in step.declarations}
    assert d["FROM"].type is ParamType.DATE
    assert d["FROM"].default_value == "20260102"
    assert d["FROM"].mandatory
    assert d["FROM"].text == "First day"
    assert d["FULL"].default_value == "X"
    assert d["LIMIT"].default_value == "7"
    assert d["LIMIT"].allowed == ("7", "8")
    assert d["PLANTS"].kind == "S"
    assert d["PLANTS"].default == (Row("I", "EQ", "1000", ""), Row("E", "BT", "1100", "1200"))
    assert step.parameters["PLANTS"] == "1000"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[template.step.parameters.X]\ntype = "float"\n', "template[1].step[1].parameters.X: field 'type': 'float'"),
        ("[template.step.parameters.X]\ntipe = 1\n", "template[1].step[1].parameters.X: unknown field 'tipe'"),
        ('[template.step.parameters.X]\nmandatory = "yes"\n', "parameters.X: field 'mandatory' must be true or false"),
        ('[template.step.parameters.X]\ntype = "integer"\ndefault = "ten"\n', "parameters.X: field 'default': value"),
        ('[template.step.parameters.X]\ntype = "date"\ndefault = "20261301"\n', "is not a date"),
        ('[template.step.parameters.X]\ntype = "boolean"\ndefault = "maybe"\n', "is not a checkbox value"),
        ('[template.step.parameters.X]\nallowed = ["a"]\ndefault = "b"\n', "'b' is not allowed (allowed: a)"),
        ('[template.step.parameters.X]\ntype = "integer"\nallowed = ["a"]\n', "field 'allowed'[1]"),
        ('[template.step.parameters.X]\ndefault = ["a", "b"]\n', "a list of rows needs select_option = true"),
        (
            '[template.step.parameters.X]\nselect_option = true\ndefault = [{ option = "ZZ", low = "a" }]\n',
            "OPTION 'ZZ' is not one of",
        ),
        (
            '[template.step.parameters.X]\nselect_option = true\ndefault = [{ low = "a", hgh = "b" }]\n',
            "field 'default'[1]: unknown field 'hgh'",
        ),
        ("[template.step.parameters.X]\ntext = 5\n", "field 'text' must be a string"),
        ("[template.step.parameters.lower]\n", "'lower' is not a parameter name"),
        (
            '[template.step.parameters]\nX_RANGES = "1"\n[template.step.parameters.X]\nselect_option = true\n',
            "X_RANGES: the select-option X reaches the step as X and X_RANGES",
        ),
    ],
)
def test_declaration_mistakes_name_file_and_field(toml: str, message: str) -> None:
    error = parse_error(toml)
    assert error.startswith("jobs.toml: template[1].step[1]"), error
    assert message in error, error
