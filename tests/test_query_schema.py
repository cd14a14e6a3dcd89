"""The Query tool as the model sees it: a strict function tool that follows the Structured
Outputs rules, built from the schema (and hidden columns), and stable (a committed snapshot)."""

from __future__ import annotations

import copy
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

import openai
import pytest

from nl2sql import schema
from nl2sql.errors import QueryValidationError
from nl2sql.query import TOOL, Query, build_tool
from nl2sql.tooling import tool_definition

SNAPSHOT = Path(__file__).parent / "snapshots" / "query_tool.json"
UPDATE_ENV = "NL2SQL_UPDATE_SNAPSHOTS"

# Keywords OpenAI's Structured Outputs accepts in a strict schema.
STRUCTURE_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "anyOf",
    "items",
    "$ref",
    "$defs",
    "description",
    "title",
    "const",
}
STRING_KEYWORDS = {"pattern", "format"}
NUMBER_KEYWORDS = {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"}
ARRAY_KEYWORDS = {"minItems", "maxItems"}
SUPPORTED_KEYWORDS = STRUCTURE_KEYWORDS | STRING_KEYWORDS | NUMBER_KEYWORDS | ARRAY_KEYWORDS
JSON_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
MAX_DEPTH = 10
MAX_PROPERTIES = 5000
MAX_ENUM_VALUES = 1000
MAX_TOTAL_STRING_LENGTH = 120_000
ENUM_LENGTH_LIMIT = 15_000  # total length of one enum's values when it has more than 250
ENUM_LENGTH_THRESHOLD = 250


class StrictSchemaChecker:
    """Checks one JSON schema against the Structured Outputs rules; collects every problem."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.defs: dict[str, Any] = root.get("$defs", {}) if isinstance(root, dict) else {}
        self.problems: list[str] = []
        self.property_count = 0
        self.enum_values = 0
        self.string_length = 0

    def check(self) -> list[str]:
        if not isinstance(self.root, dict) or self.root.get("type") != "object":
            self.problems.append("$: the root must be an object schema (not anyOf)")
        if isinstance(self.root, dict) and "anyOf" in self.root:
            self.problems.append("$: the root must not be anyOf")
        self._node(self.root, "$")
        for name, definition in self.defs.items():
            self.string_length += len(name)
            self._node(definition, f"$defs.{name}")
        depth = self._depth(self.root, frozenset())
        if depth > MAX_DEPTH:
            self.problems.append(f"$: nesting depth {depth} exceeds {MAX_DEPTH}")
        if self.property_count > MAX_PROPERTIES:
            self.problems.append(f"$: {self.property_count} properties exceed {MAX_PROPERTIES}")
        if self.enum_values > MAX_ENUM_VALUES:
            self.problems.append(f"$: {self.enum_values} enum values exceed {MAX_ENUM_VALUES}")
        if self.string_length > MAX_TOTAL_STRING_LENGTH:
            self.problems.append(f"$: total string length {self.string_length} is too long")
        return self.problems

    def _node(self, node: Any, where: str) -> None:
        if not isinstance(node, dict):
            self.problems.append(f"{where}: a schema must be an object, not {node!r}")
            return
        for key in node:
            if key == "default":
                self.problems.append(f"{where}: 'default' is not allowed in a strict schema")
            elif key not in SUPPORTED_KEYWORDS:
                self.problems.append(f"{where}: unsupported keyword {key!r}")
        if "$defs" in node and where != "$":
            self.problems.append(f"{where}: $defs only at the root")
        declared = node.get("type")
        if isinstance(declared, list):
            self.problems.append(f"{where}: a type list; use anyOf with {{'type': 'null'}}")
        elif declared is not None and declared not in JSON_TYPES:
            self.problems.append(f"{where}: unknown type {declared!r}")
        if not any(k in node for k in ("type", "$ref", "anyOf", "enum", "const")):
            self.problems.append(f"{where}: no type, $ref, anyOf, enum or const")
        if "$ref" in node:
            self._ref(node["$ref"], where)
        if declared == "object" or "properties" in node:
            self._object(node, where)
        if declared == "array" or "items" in node:
            if "items" not in node:
                self.problems.append(f"{where}: an array needs items")
            else:
                self._node(node["items"], f"{where}.items")
        if "anyOf" in node:
            branches = node["anyOf"]
            if not isinstance(branches, list) or not branches:
                self.problems.append(f"{where}: anyOf must be a non-empty list")
            else:
                for index, branch in enumerate(branches):
                    self._node(branch, f"{where}.anyOf[{index}]")
        if "enum" in node:
            self._enum(node, where)
        if "const" in node and isinstance(node["const"], str):
            self.string_length += len(node["const"])
        self._keyword_fits_type(node, where)

    def _object(self, node: dict[str, Any], where: str) -> None:
        properties = node.get("properties")
        if not isinstance(properties, dict):
            self.problems.append(f"{where}: an object needs properties")
            properties = {}
        if node.get("additionalProperties") is not False:
            self.problems.append(f"{where}: additionalProperties must be false")
        required = node.get("required")
        if not isinstance(required, list) or set(required) != set(properties):
            missing = sorted(set(properties) - set(required or []))
            self.problems.append(f"{where}: every property must be required (missing {missing})")
        elif len(required) != len(set(required)):
            self.problems.append(f"{where}: required lists a property twice")
        for name, sub in properties.items():
            self.property_count += 1
            self.string_length += len(name)
            self._node(sub, f"{where}.{name}")

    def _enum(self, node: dict[str, Any], where: str) -> None:
        values = node["enum"]
        if not isinstance(values, list) or not values:
            self.problems.append(f"{where}: enum must be a non-empty list")
            return
        self.enum_values += len(values)
        texts = [v for v in values if isinstance(v, str)]
        length = sum(len(v) for v in texts)
        self.string_length += length
        if len(values) > ENUM_LENGTH_THRESHOLD and length > ENUM_LENGTH_LIMIT:
            self.problems.append(f"{where}: enum strings total {length} characters")
        python_types = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
        declared = node.get("type")
        if declared in python_types:
            wrong = [v for v in values if not isinstance(v, python_types[declared])]
            if wrong:
                self.problems.append(f"{where}: enum values {wrong} are not {declared}")
        if len(set(map(json.dumps, values))) != len(values):
            self.problems.append(f"{where}: enum repeats a value")

    def _keyword_fits_type(self, node: dict[str, Any], where: str) -> None:
        declared = node.get("type")
        for keywords, allowed in (
            (STRING_KEYWORDS, {"string"}),
            (NUMBER_KEYWORDS, {"number", "integer"}),
            (ARRAY_KEYWORDS, {"array"}),
        ):
            for key in keywords & set(node):
                if declared not in allowed:
                    self.problems.append(f"{where}: {key} on a {declared} schema")

    def _ref(self, ref: Any, where: str) -> Any:
        prefix = "#/$defs/"
        if not isinstance(ref, str) or not ref.startswith(prefix):
            self.problems.append(f"{where}: $ref {ref!r} must point into #/$defs")
            return None
        name = ref[len(prefix) :]
        if name not in self.defs:
            self.problems.append(f"{where}: $ref {ref!r} points nowhere")
            return None
        return self.defs[name]

    def _depth(self, node: Any, seen: frozenset[str]) -> int:
        """Object nesting depth, following $refs (a recursive reference counts once)."""
        if not isinstance(node, dict):
            return 0
        depth = 0
        if "$ref" in node and node["$ref"] not in seen:
            target = self.defs.get(str(node["$ref"]).rsplit("/", 1)[-1])
            depth = max(depth, self._depth(target, seen | {node["$ref"]}))
        for branch in node.get("anyOf", []) if isinstance(node.get("anyOf"), list) else []:
            depth = max(depth, self._depth(branch, seen))
        if isinstance(node.get("items"), dict):
            depth = max(depth, self._depth(node["items"], seen))
        properties = node.get("properties")
        if isinstance(properties, dict):
            inner = max((self._depth(p, seen) for p in properties.values()), default=0)
            depth = max(depth, 1 + inner)
        return depth


def strict_problems(parameters: dict[str, Any]) -> list[str]:
    return StrictSchemaChecker(parameters).check()


def check_strict_tool(tool: dict[str, Any]) -> list[str]:
    problems = []
    if tool.get("type") != "function":
        problems.append("tool: type must be 'function'")
    function = tool.get("function", {})
    if function.get("strict") is not True:
        problems.append("tool: function.strict must be true")
    if not function.get("name") or not isinstance(function.get("description"), str):
        problems.append("tool: function needs a name and a description")
    return problems + strict_problems(function.get("parameters", {}))


# -- the real tool is strict -------------------------------------------------------------------


def test_pydantic_function_tool_of_query_is_a_valid_strict_tool() -> None:
    tool = dict(openai.pydantic_function_tool(Query))
    assert check_strict_tool(tool) == []


def test_tool_definition_is_a_valid_strict_tool() -> None:
    definition = tool_definition()
    assert check_strict_tool(definition) == []
    function = definition["function"]
    assert function["name"] == "Query"
    assert function["description"] == TOOL.description
    # The same parameters as the SDK builds from the model: nothing is bolted on by hand.
    assert function["parameters"] == openai.pydantic_function_tool(Query)["function"]["parameters"]


def test_tool_with_hidden_columns_is_still_strict() -> None:
    tool = build_tool(hidden=["customers.email", "orders.total_amount"])
    assert check_strict_tool(tool_definition(tool)) == []


def test_non_strict_definition_drops_only_the_strict_flag() -> None:
    strict, loose = tool_definition(), tool_definition(strict=False)
    assert "strict" not in loose["function"]
    assert loose["function"]["parameters"] == strict["function"]["parameters"]
    assert strict["function"]["strict"] is True  # the strict copy was not changed in place


def _nullable_fields(model: type) -> list[str]:
    names = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation):
            names.append(name)
    return names


@pytest.mark.parametrize("model_name", ["Field", "Condition", "Sort", "Query"])
def test_optional_values_are_any_of_with_null(model_name: str) -> None:
    parameters = tool_definition()["function"]["parameters"]
    node = parameters if model_name == "Query" else parameters["$defs"][model_name]
    nullable = _nullable_fields(getattr(TOOL, model_name))
    assert nullable, f"{model_name} has no optional field; the test would prove nothing"
    for name in nullable:
        branches = node["properties"][name].get("anyOf")
        assert branches is not None, f"{model_name}.{name} must be anyOf [..., null]"
        assert {"type": "null"} in branches, f"{model_name}.{name} lacks the null branch"
        assert name in node["required"], f"{model_name}.{name} must still be required"


def test_expected_nullable_fields() -> None:
    assert _nullable_fields(TOOL.Field) == [
        "aggregate", "time_grain", "days_from", "share", "change", "average_per",
    ]  # fmt: skip
    assert _nullable_fields(TOOL.Condition) == ["aggregate", "value", "days_from"]
    assert _nullable_fields(TOOL.DynamicValue) == ["aggregate", "within"]
    assert _nullable_fields(TOOL.Sort) == ["aggregate"]
    assert _nullable_fields(TOOL.Query) == ["limit", "per_group_limit"]


def test_enums_in_the_schema_come_from_the_database_schema() -> None:
    defs = tool_definition()["function"]["parameters"]["$defs"]
    expected_columns = [f"{t.name}.{c.name}" for t in schema.TABLES.values() for c in t.columns]
    expected_columns += [f"{c.table}.{c.name}" for c in schema.COMPUTED_COLUMNS]
    # Every column field refers to the one Column enum: the list is in the schema once.
    for model, prop in [
        ("Field", "column"),
        ("Condition", "column"),
        ("Sort", "column"),
        ("DynamicValue", "column_name"),
        ("PerGroupLimit", "column"),
    ]:
        assert defs[model]["properties"][prop] == {"$ref": "#/$defs/Column"}, (model, prop)
    assert sorted(defs["Column"]["enum"]) == sorted(expected_columns)
    assert "order_items.line_total" in defs["Column"]["enum"]
    text = json.dumps(tool_definition())
    assert text.count('"order_items.line_total"') == 1
    parameters = tool_definition()["function"]["parameters"]
    assert sorted(parameters["properties"]["table_name"]["enum"]) == sorted(schema.TABLES)
    assert defs["Condition"]["properties"]["operator"] == {"$ref": "#/$defs/Operator"}
    assert defs["Operator"]["enum"] == [
        "=", "!=", ">", ">=", "<", "<=", "in", "not in", "contains", "is null", "is not null",
        "between",
    ]  # fmt: skip
    assert defs["Aggregate"]["enum"] == [
        "count", "count_distinct", "sum", "avg", "min", "max",
        "median", "p25", "p75", "p90", "p95", "p99",
    ]  # fmt: skip
    assert defs["TimeGrain"]["enum"] == ["day", "week", "month", "quarter", "year"]
    assert defs["Sort"]["properties"]["direction"] == {"$ref": "#/$defs/OrderBy"}
    assert defs["OrderBy"]["enum"] == ["asc", "desc"]


def test_tool_description_lists_the_status_values() -> None:
    line = next(
        line for line in TOOL.description.splitlines() if line.startswith("- orders.status:")
    )
    for status in schema.ORDER_STATUSES:
        assert status in line
    assert "One of: " + ", ".join(schema.ORDER_STATUSES) in line


def test_tool_description_names_every_column_with_its_type() -> None:
    for name, info in TOOL.columns.items():
        assert f"- {name}: {info.kind}." in TOOL.description


# -- hidden columns ----------------------------------------------------------------------------


def test_hidden_column_is_removed_from_enum_description_and_validation() -> None:
    hidden = build_tool(hidden=["customers.email"])
    assert "customers.email" in TOOL.columns  # the default tool still has it
    assert "customers.email" not in hidden.columns
    assert "customers.email" not in [c.value for c in hidden.Column]  # type: ignore[attr-defined]
    parameters = tool_definition(hidden)["function"]["parameters"]
    assert "customers.email" not in json.dumps(parameters)
    assert "customers.email" not in hidden.description
    assert "customers.name" in hidden.description  # its neighbours stay
    with pytest.raises(QueryValidationError) as caught:
        hidden.parse(
            {
                "table_name": "customers",
                "columns": [{"column": "customers.email", "aggregate": None, "time_grain": None}],
                "conditions": [],
                "order_by": [],
                "limit": None,
            }
        )
    assert "customers.email" in str(caught.value)


def test_hiding_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="customers.password"):
        build_tool(hidden=["customers.password"])


# -- the checker itself can fail ----------------------------------------------------------------


def _good_schema() -> dict[str, Any]:
    return copy.deepcopy(tool_definition()["function"]["parameters"])


def _nest(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        node = {
            "type": "object",
            "properties": {"inner": node},
            "required": ["inner"],
            "additionalProperties": False,
        }
    return node


def _break_additional_properties(s: dict[str, Any]) -> None:
    del s["$defs"]["Field"]["additionalProperties"]


def _break_required(s: dict[str, Any]) -> None:
    s["$defs"]["Condition"]["required"].remove("aggregate")


def _add_default(s: dict[str, Any]) -> None:
    s["properties"]["limit"]["default"] = None


def _add_unsupported_keyword(s: dict[str, Any]) -> None:
    s["$defs"]["Sort"]["properties"]["direction"]["oneOf"] = [{"type": "string"}]


def _type_list_for_nullable(s: dict[str, Any]) -> None:
    s["properties"]["limit"] = {"type": ["integer", "null"]}


def _dangling_ref(s: dict[str, Any]) -> None:
    s["$defs"]["Field"]["properties"]["aggregate"]["anyOf"][0]["$ref"] = "#/$defs/Missing"


def _too_many_enum_values(s: dict[str, Any]) -> None:
    s["$defs"]["Column"]["enum"] = [f"t.c{i}" for i in range(1001)]


def _too_deep(s: dict[str, Any]) -> None:
    s["properties"]["deep"] = _nest(11)
    s["required"].append("deep")


def _too_many_properties(s: dict[str, Any]) -> None:
    many = {f"p{i}": {"type": "string"} for i in range(5001)}
    s["properties"]["wide"] = {
        "type": "object",
        "properties": many,
        "required": list(many),
        "additionalProperties": False,
    }
    s["required"].append("wide")


def _root_any_of(s: dict[str, Any]) -> None:
    s.clear()
    s.update({"anyOf": [{"type": "string"}, {"type": "null"}]})


def _pattern_on_integer(s: dict[str, Any]) -> None:
    s["properties"]["limit"]["anyOf"][0]["pattern"] = "^[0-9]+$"


def _additional_properties_true(s: dict[str, Any]) -> None:
    s["additionalProperties"] = True


BREAKAGES = [
    _break_additional_properties,
    _break_required,
    _add_default,
    _add_unsupported_keyword,
    _type_list_for_nullable,
    _dangling_ref,
    _too_many_enum_values,
    _too_deep,
    _too_many_properties,
    _root_any_of,
    _pattern_on_integer,
    _additional_properties_true,
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__.strip("_"))
def test_checker_rejects_a_broken_schema(breakage: Any) -> None:
    broken = _good_schema()
    assert strict_problems(broken) == []
    breakage(broken)
    assert strict_problems(broken) != []


def test_checker_accepts_ten_levels_and_rejects_eleven() -> None:
    assert strict_problems(_nest(10)) == []
    assert any("depth 11" in p for p in strict_problems(_nest(11)))


def test_checker_rejects_a_non_strict_tool() -> None:
    tool = tool_definition(strict=False)
    assert "function.strict must be true" in " ".join(check_strict_tool(tool))


# -- snapshot ------------------------------------------------------------------------------------


def test_tool_definition_matches_the_committed_snapshot() -> None:
    current = json.dumps(tool_definition(), indent=2, sort_keys=False) + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), (
        f"{SNAPSHOT} is missing. Create it with: {UPDATE_ENV}=1 python -m pytest "
        "tests/test_query_schema.py"
    )
    expected = SNAPSHOT.read_text()
    assert current == expected, (
        "The Query tool sent to the model changed. If the change is intended, review the diff "
        f"and regenerate the snapshot with: {UPDATE_ENV}=1 python -m pytest "
        "tests/test_query_schema.py  (then commit tests/snapshots/query_tool.json)"
    )


def test_the_tool_is_built_once_and_its_definition_is_the_callers_own() -> None:
    from nl2sql.tooling import function_tool

    assert function_tool(TOOL) is function_tool(TOOL)
    definition = tool_definition(TOOL)
    definition["function"]["parameters"]["$defs"].clear()
    assert tool_definition(TOOL)["function"]["parameters"]["$defs"]
