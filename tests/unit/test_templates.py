"""Template TOML files: what is accepted, and how each mistake is reported."""

from __future__ import annotations

import pathlib

import pytest

from appjobs import errors, models
from appjobs.engine import templates

NOW = models.utcnow()
DEMO = pathlib.Path(templates.__file__).parent / "demo.toml"


def parse(text: str) -> list[models.Template]:
    return templates.parse(text, source="jobs.toml", by="TESTER", now=NOW)


def parse_error(text: str) -> str:
    with pytest.raises(errors.TemplateFileError) as caught:
        parse(text)
    return str(caught.value)


def test_demo_templates_are_valid() -> None:
    """The shipped demo file defines the demo templates with their steps."""
    loaded = templates.load_file(DEMO, by="SAP", now=NOW)
    assert {t.name: t.step_count for t in loaded} == {
        "/APPJOBS/DEMO_ECHO": 1,
        "/APPJOBS/DEMO_SLEEP": 1,
        "/APPJOBS/DEMO_FAIL": 1,
        "/APPJOBS/DEMO_CHAIN": 3,
        "/APPJOBS/DEMO_WARN": 1,
        "/APPJOBS/DEMO_PARAMS": 1,
    }
    warn = next(t for t in loaded if t.name == "/APPJOBS/DEMO_WARN")
    assert warn.steps[0].warning_exit_codes == (1,)
    sleep = next(t for t in loaded if t.name == "/APPJOBS/DEMO_SLEEP")
    assert sleep.steps[0].parameters == {"SECONDS": "30"}
    echo = next(t for t in loaded if t.name == "/APPJOBS/DEMO_ECHO")
    assert echo.steps[0].kind is models.StepKind.PYTHON


def test_restrictions_and_warning_codes_are_read() -> None:
    """business_users restricts the template; warning_exit_codes are kept sorted, once each."""
    text = (
        '[[template]]\ntext = "x"\nbusiness_users = ["CB1", "CB2", "CB1"]\n'
        '[[template.step]]\ncommand = "a"\nwarning_exit_codes = [7, 3, 7]\n'
    )
    (t,) = parse(text)
    assert t.business_users == ("CB1", "CB2")
    assert t.steps[0].warning_exit_codes == (3, 7)


def test_generated_name_is_stable_and_sap_shaped() -> None:
    """A template without a name gets Z + 26 base32 characters, the same for the same text."""
    text = '[[template]]\ntext = "Nightly load"\n[[template.step]]\ncommand = "true"\n'
    (first,) = parse(text)
    (second,) = parse(text)
    assert first.name == second.name
    assert len(first.name) == 27
    assert models.TEMPLATE_NAME_RE.match(first.name)
    (other,) = parse(text.replace("Nightly", "Weekly"))
    assert other.name != first.name


def test_numbers_as_parameter_defaults_become_strings() -> None:
    """Parameter defaults may be written as numbers; steps always receive strings."""
    (t,) = parse('[[template]]\ntext = "x"\n[[template.step]]\ncommand = "true"\nparameters = { N = 5 }\n')
    assert t.steps[0].parameters == {"N": "5"}


def test_broken_toml_names_file_and_line() -> None:
    """A TOML syntax error names the file and the line."""
    message = parse_error('[[template]]\ntext = "x"\ncommand = \n')
    assert "jobs.toml" in message
    assert "line 3" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncomand = "true"\n',
            "template[1].step[1]: unknown field 'comand'",
        ),
        ('[[template]]\ntxt = "x"\n', "template[1]: unknown field 'txt'"),
        ('[[template]]\ntext = "x"\n', "template[1]: needs at least one [[template.step]]"),
        ('[[template]]\ntext = "x"\n[[template.step]]\ntext = "no command"\n', "needs exactly one of 'command' or"),
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\ncallable = "m:f"\n',
            "needs exactly one of 'command' or 'callable'",
        ),
        ('[[template]]\n[[template.step]]\ncommand = "a"\n', "template[1]: missing field 'text'"),
        ('[[template]]\ntext = "x"\n[[template.step]]\ncallable = "no_colon"\n', "not of the form module:function"),
        ('[[template]]\nname = "lower"\ntext = "x"\n[[template.step]]\ncommand = "a"\n', "is not a template name"),
        ('[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\nparameters = { PATH = "/" }\n', "reserved"),
        ('[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\nparameters = { bad = "1" }\n', "parameter name"),
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\nparameters = { A = true }\n',
            "string or a number",
        ),
        (f'[[template]]\ntext = "{"x" * 121}"\n[[template.step]]\ncommand = "a"\n', "longer than 120"),
        ('[[template]]\ntext = "x"\nsupports_test_mode = "yes"\n[[template.step]]\ncommand = "a"\n', "true or false"),
        ('title = "x"\n', "unknown top-level key 'title'"),
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\nwarning_exit_codes = [0]\n',
            "'warning_exit_codes' must be a list of integers from 1 to 255",
        ),
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\nwarning_exit_codes = 1\n',
            "'warning_exit_codes' must be a list of integers",
        ),
        (
            '[[template]]\ntext = "x"\nbusiness_users = ["lower case"]\n[[template.step]]\ncommand = "a"\n',
            "'lower case' is not a business user id",
        ),
        (
            '[[template]]\ntext = "x"\nbusiness_users = "CB1"\n[[template.step]]\ncommand = "a"\n',
            "'business_users' must be a list of business user ids",
        ),
        (
            '[[template]]\ntext = "x"\npass_env = ["APPJOBS_DATABASE_URL"]\n[[template.step]]\ncommand = "a"\n',
            "template[1]: field 'pass_env': 'APPJOBS_DATABASE_URL' is refused",
        ),
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\npass_env = ["ORACLE HOME"]\n',
            "template[1].step[1]: field 'pass_env': 'ORACLE HOME' is not an environment variable name",
        ),
        ('[[template]]\ntext = "x"\npass_env = "X"\n[[template.step]]\ncommand = "a"\n', "must be a list"),
        ("", "no [[template]] tables"),
    ],
)
def test_each_mistake_is_named(text: str, expected: str) -> None:
    """Every kind of invalid template is refused with a message naming the field that is wrong."""
    message = parse_error(text)
    assert expected in message
    assert message.startswith("jobs.toml")


def test_duplicate_names_in_one_file_are_refused() -> None:
    """Two templates with one name in a file are refused, naming both."""
    one = '[[template]]\nname = "/Z/A"\ntext = "x"\n[[template.step]]\ncommand = "a"\n'
    message = parse_error(one + one.replace('"x"', '"y"'))
    assert "template[2]: duplicate template /Z/A (also template[1])" in message


def test_unreadable_file_is_reported(tmp_path: pathlib.Path) -> None:
    """A missing or non-UTF-8 file is a TemplateFileError naming the file."""
    with pytest.raises(errors.TemplateFileError, match=r"missing\.toml"):
        templates.load_file(tmp_path / "missing.toml", by="T", now=NOW)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[template]]\ntext = "\xe9"\n')
    with pytest.raises(errors.TemplateFileError, match=r"latin.toml: cannot read"):
        templates.load_file(latin, by="T", now=NOW)


def test_pass_env_of_template_and_step_are_merged() -> None:
    """A template's pass_env applies to each of its steps; a step's own names add to it, each once."""
    toml = """
    [[template]]
    text = "x"
    pass_env = ["ORACLE_HOME", "TNS_ADMIN"]
    [[template.step]]
    command = "a"
    pass_env = ["http_proxy", "ORACLE_HOME"]
    [[template.step]]
    command = "b"
    """
    (template,) = parse(toml)
    assert [s.pass_env for s in template.steps] == [
        ("ORACLE_HOME", "TNS_ADMIN", "http_proxy"),
        ("ORACLE_HOME", "TNS_ADMIN"),
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[[template]]\ntext = "a\\u0000b"\n[[template.step]]\ncommand = "a"\n', "template[1].text"),
        ('[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a\\u0000"\n', "template[1].step[1].command"),
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncommand = "a"\nparameters = { P = "\\U00000000" }\n',
            "template[1].step[1].parameters.P",
        ),
        ('[[template]]\ntext = "x"\nbusiness_users = ["A\\u0000"]\n[[template.step]]\ncommand = "a"\n', "[1]"),
    ],
)
def test_a_nul_anywhere_is_refused_with_its_place(text: str, where: str) -> None:
    """TOML may escape a NUL; PostgreSQL cannot store one and a command line cannot carry one."""
    message = parse_error(text)
    assert where in message
    assert "contains a NUL character" in message
