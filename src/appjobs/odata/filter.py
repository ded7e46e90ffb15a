"""``$filter``: a tokenizer and a recursive-descent parser producing a tree of frozen dataclasses.

:mod:`appjobs.odata.query` evaluates the tree against each entity in memory
(our entity sets are small). What clients send::

    JobTemplateText eq 'Nightly load'
    JobStatus eq 'F' or JobStatus eq 'A'
    CreationDateTime ge datetime'2018-11-20T00:00:00' and not (JobTemplateStepCount gt 1)
    startswith(JobTemplateParameterName,'P_TSKID') eq true
    substringof('load',tolower(JobTemplateText))
    JobPlannedStartDateTime ge '20260101000000'          (an Edm.String holding an ABAP timestamp)

The grammar, loosest binding first (OData v2's precedence: ``not`` binds
tighter than a comparison, so write ``not (A eq 'x')``)::

    or_expr     := and_expr ("or" and_expr)*
    and_expr    := comparison ("and" comparison)*
    comparison  := relational [("eq" | "ne") relational]
    relational  := unary [("lt" | "le" | "gt" | "ge") unary]
    unary       := "not" unary | primary
    primary     := "(" or_expr ")" | function "(" or_expr ("," or_expr)* ")"
                 | property | literal | "true" | "false" | "null"

Functions: ``substringof(needle, haystack)``, ``startswith(text, prefix)``,
``endswith(text, suffix)`` give Edm.Boolean; ``tolower``, ``toupper`` give
Edm.String; ``length`` gives Edm.Int32. Literals are those of
:mod:`appjobs.odata.literals`. Keywords are case-sensitive (``eq``, not
``EQ``); whitespace between tokens is free. Comparisons do not chain
(``A eq B eq C`` is an error), so ``and``/``or`` chains stay flat and the
tree is only as deep as parentheses, ``not`` and function calls nest it -
at most :data:`MAX_DEPTH` levels.

Every error is an :class:`~appjobs.errors.InvalidInput` (a
:class:`~appjobs.errors.MalformedLiteral` for a bad literal) naming the
token or property and its position, counted from 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import re
from collections.abc import Callable, Iterator, Mapping

from appjobs import errors
from appjobs.odata import literals

MAX_LENGTH = 8192  #: characters; SAP's own URLs stop near 64 KiB, a filter needs far less
MAX_DEPTH = 100  #: nesting of parentheses, ``not`` and function calls
BOOLEAN = "Edm.Boolean"
STRING = "Edm.String"
NULL = "null"  #: the type of the ``null`` literal, comparable with everything

EQUALITY = {"eq": operator.eq, "ne": operator.ne}
RELATIONAL = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}
OPERATORS = {**EQUALITY, **RELATIONAL}
KEYWORDS = {"and", "or", "not", *OPERATORS}
# Types that compare with each other; any other type compares only with itself.
FAMILIES = {
    **dict.fromkeys(("Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Decimal"), "number"),
    **dict.fromkeys(("Edm.DateTime", "Edm.DateTimeOffset"), "datetime"),
}

_TOKEN_RE = re.compile(
    r"""(?P<space>\s+)
      | (?P<literal>'(?:[^']|'')*'
          | (?i:datetimeoffset|datetime|guid|time|binary|x)'[^']*'
          | [+-]?[0-9][0-9.]*[A-Za-z]?)          # numbers; literals.infer_literal judges the shape
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


# --- the tree ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Literal:
    """A constant: ``'x'`` is ``Literal("x", "Edm.String")``, ``null`` is ``Literal(None, "null")``."""

    value: object
    edm_type: str


@dataclasses.dataclass(frozen=True)
class Property:
    """A property of the entity, by its SAP name, with its Edm type."""

    name: str
    edm_type: str


@dataclasses.dataclass(frozen=True)
class Call:
    """A function call such as ``tolower(JobTemplateText)``."""

    function: str
    args: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Compare:
    """``left op right``, where op is a comparison operator."""

    op: str  #: eq, ne, lt, le, gt, ge
    left: Node
    right: Node


@dataclasses.dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Node


@dataclasses.dataclass(frozen=True)
class And:
    """Conditions joined by ``and``; a whole chain is one node."""

    operands: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    """Conditions joined by ``or``; a whole chain is one node."""

    operands: tuple[Node, ...]


Node = Literal | Property | Call | Compare | Not | And | Or


@dataclasses.dataclass(frozen=True)
class Function:
    """What a filter function takes and gives (Edm types), and its Python implementation."""

    params: tuple[str, ...]
    returns: str
    apply: Callable[..., object]


FUNCTIONS = {
    "substringof": Function((STRING, STRING), BOOLEAN, lambda needle, text: needle in text),
    "startswith": Function((STRING, STRING), BOOLEAN, str.startswith),
    "endswith": Function((STRING, STRING), BOOLEAN, str.endswith),
    "tolower": Function((STRING,), STRING, str.lower),
    "toupper": Function((STRING,), STRING, str.upper),
    "length": Function((STRING,), "Edm.Int32", len),
}


def type_of(node: Node) -> str:
    """The Edm type *node* evaluates to (``"null"`` for the null literal)."""
    if isinstance(node, (Literal, Property)):
        return node.edm_type
    if isinstance(node, Call):
        return FUNCTIONS[node.function].returns
    return BOOLEAN


def comparable(left: str, right: str) -> bool:
    """True when values of Edm types *left* and *right* can be compared."""
    return NULL in (left, right) or FAMILIES.get(left, left) == FAMILIES.get(right, right)


# --- tokens --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Token:
    """One token of a filter, where it starts, and how error messages show it."""

    kind: str  #: literal, name, punct or end
    text: str
    position: int  #: 1-based

    def __str__(self) -> str:
        return "end of $filter" if self.kind == "end" else f"{_clip(self.text)} at position {self.position}"


def tokenize(text: str) -> list[Token]:
    """The tokens of *text*, ending with an ``end`` token; whitespace separates and is dropped."""
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if not match:
            what = "unterminated string" if text[position] == "'" else f"unexpected character {text[position]!r}"
            raise errors.InvalidInput(f"$filter: {what} at position {position + 1}")
        if match.lastgroup != "space":
            tokens.append(Token(str(match.lastgroup), match[0], position + 1))
        position = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _clip(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


# --- parsing -------------------------------------------------------------------------


def parse_filter(text: str, properties: Mapping[str, str]) -> Node:
    """The tree of ``$filter`` *text*; *properties* maps each SAP property name to its Edm type."""
    if len(text) > MAX_LENGTH:
        raise errors.InvalidInput(f"$filter is longer than {MAX_LENGTH} characters")
    return _Parser(tokenize(text), properties).parse()


class _Parser:
    """One method per grammar rule; each consumes its tokens and returns a node."""

    def __init__(self, tokens: list[Token], properties: Mapping[str, str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.properties = properties

    def parse(self) -> Node:
        start = self._peek()
        if start.kind == "end":
            raise errors.InvalidInput("$filter is empty")
        node = self._or()
        if self._peek().kind != "end":
            raise errors.InvalidInput(f"$filter: unexpected {self._peek()}; expected 'and', 'or' or the end")
        if type_of(node) != BOOLEAN:
            raise errors.InvalidInput(f"$filter: {_describe(node)} is {type_of(node)}, not a condition (Edm.Boolean)")
        return node

    def _or(self) -> Node:
        operands = [self._and()]
        while self._accept("or"):
            operands.append(self._and())
        return Or(self._conditions(operands, "or")) if len(operands) > 1 else operands[0]

    def _and(self) -> Node:
        operands = [self._comparison()]
        while self._accept("and"):
            operands.append(self._comparison())
        return And(self._conditions(operands, "and")) if len(operands) > 1 else operands[0]

    def _comparison(self) -> Node:
        node = self._relational()
        token = self._peek()
        if token.kind == "name" and token.text in EQUALITY:
            self.index += 1
            node = self._compare(token, node, self._relational())
        after = self._peek()
        if after.kind == "name" and after.text in OPERATORS:
            raise errors.InvalidInput(f"$filter: comparisons do not chain; unexpected {after}, use 'and'")
        return node

    def _relational(self) -> Node:
        node = self._unary()
        token = self._peek()
        if token.kind == "name" and token.text in RELATIONAL:
            self.index += 1
            node = self._compare(token, node, self._unary())
        return node

    def _unary(self) -> Node:
        token = self._peek()
        if not self._accept("not"):
            return self._primary()
        with self._nested(token):
            operand = self._unary()
        if type_of(operand) != BOOLEAN:
            raise errors.InvalidInput(
                f"$filter: 'not' at position {token.position} needs a condition, but {_describe(operand)} is "
                f"{type_of(operand)}; write not (A eq B)"
            )
        return Not(operand)

    def _primary(self) -> Node:
        token = self._next()
        if token.kind == "literal":
            return _literal(token)
        if token.kind == "punct" and token.text == "(":
            with self._nested(token):
                node = self._or()
                self._expect(")")
            return node
        if token.kind == "name" and token.text not in KEYWORDS:
            if self._peek().text == "(" and self._peek().kind == "punct":
                return self._call(token)
            return self._name(token)
        raise errors.InvalidInput(f"$filter: unexpected {token}; expected a property, literal, function or '('")

    def _name(self, token: Token) -> Node:
        if token.text in ("true", "false"):
            return Literal(token.text == "true", BOOLEAN)
        if token.text == "null":
            return Literal(None, NULL)
        if token.text not in self.properties:
            raise errors.InvalidInput(f"$filter: unknown property {token}")
        return Property(token.text, self.properties[token.text])

    def _call(self, token: Token) -> Node:
        function = FUNCTIONS.get(token.text)
        if function is None:
            raise errors.InvalidInput(f"$filter: unknown function {token}; known are {', '.join(FUNCTIONS)}")
        self._expect("(")
        with self._nested(token):
            args = [self._or()]
            while self._accept(","):
                args.append(self._or())
            self._expect(")")
        if len(args) != len(function.params):
            raise errors.InvalidInput(
                f"$filter: {token.text}() at position {token.position} takes {len(function.params)} argument(s), "
                f"not {len(args)}"
            )
        for number, (arg, param) in enumerate(zip(args, function.params, strict=True), 1):
            if not comparable(type_of(arg), param):
                raise errors.InvalidInput(
                    f"$filter: argument {number} of {token.text}() at position {token.position} must be {param}, "
                    f"but {_describe(arg)} is {type_of(arg)}"
                )
        return Call(token.text, tuple(args))

    def _compare(self, token: Token, left: Node, right: Node) -> Compare:
        if not comparable(type_of(left), type_of(right)):
            raise errors.InvalidInput(
                f"$filter: invalid parameter type for '{token.text}' at position {token.position}: "
                f"{_describe(left)} is {type_of(left)}, {_describe(right)} is {type_of(right)}"
            )
        return Compare(token.text, left, right)

    def _conditions(self, operands: list[Node], keyword: str) -> tuple[Node, ...]:
        for operand in operands:
            if type_of(operand) != BOOLEAN:
                raise errors.InvalidInput(
                    f"$filter: '{keyword}' joins conditions, but {_describe(operand)} is {type_of(operand)}"
                )
        return tuple(operands)

    @contextlib.contextmanager
    def _nested(self, token: Token) -> Iterator[None]:
        # Bounded here so that no input can exhaust Python's recursion limit, here or when evaluating.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise errors.InvalidInput(f"$filter: nested more than {MAX_DEPTH} levels deep at position {token.position}")
        yield
        self.depth -= 1

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _next(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _accept(self, text: str) -> bool:
        token = self._peek()
        if token.kind in ("name", "punct") and token.text == text:
            self.index += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._accept(text):
            raise errors.InvalidInput(f"$filter: expected '{text}' but found {self._peek()}")


def _literal(token: Token) -> Literal:
    try:
        value, edm_type = literals.infer_literal(token.text)
    except errors.MalformedLiteral as exc:
        raise errors.MalformedLiteral(f"$filter: {exc} (at position {token.position})") from None
    return Literal(value, edm_type)


def _describe(node: Node) -> str:
    if isinstance(node, Property):
        return node.name
    if isinstance(node, Literal):
        text = "null" if node.value is None else literals.format_literal(node.value, node.edm_type)
        return text if len(text) <= 40 else text[:40] + "..."
    if isinstance(node, Call):
        return f"{node.function}(...)"
    return "a condition"
