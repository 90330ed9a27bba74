"""The rule builder of the "+ New Segment" dialog: form fields <-> rule JSON (docs/rules.md).

The dialog shows a rule as rows of Field / Operator / Value inside groups. Every node has a
path: the top-level group is "1", its items "1.1", "1.2"..., the items of group "1.3" are
"1.3.1"... These are the paths of rule errors too ("condition 2 of group 1.3" is "1.3.2"), so
an error lands on its row. Form fields are named after the path:

    group-<path>               "all" or "any"
    field-<path>, op-<path>    a condition's field and operator
    value-<path>               its value (for is_any_of: values separated by commas;
                               for between: the low end)
    value2-<path>              between: the high end
    amount-<path>, unit-<path> within_last / more_than_ago

Buttons post `action`: "add-condition:<group>", "add-group:<group>", "remove:<path>",
"refresh" (re-render, e.g. after the field changed) or "save". The server keeps the whole
state: no JavaScript builds rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from community_os.ids import parse_id

from . import rules

DEFAULT_FIELD = "company_name"
UNITS = ("days", "weeks", "months")

OPERATOR_LABELS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "is_any_of": "is any of",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "eq": "equals",
    "ne": "does not equal",
    "gt": "greater than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "between": "between",
    "before": "before",
    "after": "after",
    "on": "on",
    "within_last": "in the last",
    "more_than_ago": "more than … ago",
    "in": "is in",
    "not_in": "is not in",
}

# The Field menu, in groups; attribute fields of an edited rule are added to "Text".
FIELD_GROUPS = (
    ("Person", ("name", "email", "bio")),
    ("Work", ("company_name", "job_title")),
    ("Location", ("location", "city", "country")),
    ("Dates", ("joined_at", "last_seen_at")),
    (
        "Scores",
        ("engagement_score", "frequency_score", "recency_score", "impact_score", "active_days_90"),
    ),
    ("Other", ("source", "segment")),
)


@dataclass
class DraftCondition:
    field: str = DEFAULT_FIELD
    op: str = "is"
    value: str = ""
    value2: str = ""
    amount: str = ""
    unit: str = "days"
    path: str = ""
    error: str = ""

    is_group = False

    @property
    def dom_id(self) -> str:
        """The path as an HTML id part usable in CSS selectors ("1.2" -> "1-2")."""
        return self.path.replace(".", "-")

    @property
    def spec(self) -> rules.FieldSpec | None:
        return rules.get_field(self.field)

    @property
    def kind(self) -> str:
        spec = self.spec
        return spec.kind if spec else "text"

    @property
    def operators(self) -> list[tuple[str, str]]:
        spec = self.spec
        ops = spec.operators if spec else rules.OPERATORS["text"]
        return [(op, OPERATOR_LABELS[op]) for op in ops]

    @property
    def signature(self) -> str:
        """What the row's controls depend on: the field's kind and the value input shown."""
        return f"{self.kind}:{self.input}"

    @property
    def input(self) -> str:
        """Which value input the row shows."""
        if self.op in ("is_empty", "is_not_empty"):
            return "none"
        if self.op in ("within_last", "more_than_ago"):
            return "relative"
        if self.op == "is_any_of":
            return "list"
        if self.op == "between":
            return f"{self.kind}-pair"
        return self.kind  # text, number, date, identity, segment


@dataclass
class DraftGroup:
    kind: str = "all"
    children: list[DraftCondition | DraftGroup] = field(default_factory=list)
    path: str = "1"
    error: str = ""

    is_group = True

    @property
    def depth(self) -> int:
        return self.path.count(".")

    @property
    def can_nest(self) -> bool:
        return self.depth + 1 < rules.MAX_DEPTH


def new_rule() -> DraftGroup:
    """What a new smart segment starts with: one empty condition."""
    return number(DraftGroup("all", [DraftCondition()]))


def number(group: DraftGroup, path: str = "1") -> DraftGroup:
    """Give every node its path from its position (after rows were added or removed)."""
    group.path = path
    for index, child in enumerate(group.children, start=1):
        if isinstance(child, DraftGroup):
            number(child, f"{path}.{index}")
        else:
            child.path = f"{path}.{index}"
    return group


def _walk(group: DraftGroup):
    yield group
    for child in group.children:
        if isinstance(child, DraftGroup):
            yield from _walk(child)
        else:
            yield child


def uses_field(root: DraftGroup, field: str) -> bool:
    return any(isinstance(node, DraftCondition) and node.field == field for node in _walk(root))


def find(group: DraftGroup, path: str) -> DraftGroup | DraftCondition | None:
    return next((node for node in _walk(group) if node.path == path), None)


# --- From the form ------------------------------------------------------------------------------

_PATH = re.compile(r"1(\.[1-9][0-9]{0,3}){0,8}")


def _path_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in path.split("."))


def from_form(data: Mapping[str, Any]) -> DraftGroup:
    """The builder's state from posted fields; unknown or malformed keys are ignored."""
    groups: dict[str, DraftGroup] = {}
    conditions: dict[str, DraftCondition] = {}
    for key in data:
        prefix, _, path = str(key).partition("-")
        if not _PATH.fullmatch(path):
            continue
        if prefix == "group":
            kind = data.get(key)
            groups[path] = DraftGroup("any" if kind == "any" else "all", path=path)
        elif prefix == "field":
            conditions[path] = DraftCondition(
                field=str(data.get(key, "")),
                op=str(data.get(f"op-{path}", "")),
                value=str(data.get(f"value-{path}", "")),
                value2=str(data.get(f"value2-{path}", "")),
                amount=str(data.get(f"amount-{path}", "")),
                unit=str(data.get(f"unit-{path}", "days")),
                path=path,
            )
    root = groups.get("1") or DraftGroup("all", path="1")
    groups["1"] = root
    nodes: dict[str, DraftGroup | DraftCondition] = {**conditions, **groups}
    for path in sorted(nodes, key=_path_key):
        if path == "1":
            continue
        parent = groups.get(path.rsplit(".", 1)[0])
        if parent is not None:  # rows whose group is gone are dropped
            parent.children.append(nodes[path])
    for node in _walk(root):
        if isinstance(node, DraftCondition):
            _fit_operator(node)
    return number(root)


def _fit_operator(condition: DraftCondition) -> None:
    """After the field changed, keep the operator if the new field has it, else the first."""
    if condition.spec is None:
        condition.field = DEFAULT_FIELD
    allowed = [op for op, _ in condition.operators]
    if condition.op not in allowed:
        condition.op = allowed[0]
        condition.value = condition.value2 = condition.amount = ""
    if condition.unit not in UNITS:
        condition.unit = "days"


def apply(root: DraftGroup, action: str) -> DraftGroup:
    """Add or remove a row or group; anything else leaves the rule as it is."""
    verb, _, path = action.partition(":")
    target = find(root, path)
    if verb == "add-condition" and isinstance(target, DraftGroup):
        target.children.append(DraftCondition())
    elif verb == "add-group" and isinstance(target, DraftGroup) and target.can_nest:
        target.children.append(DraftGroup("any", [DraftCondition()]))
    elif verb == "remove" and target is not None and path != "1":
        parent = find(root, path.rsplit(".", 1)[0])
        if isinstance(parent, DraftGroup):
            parent.children = [child for child in parent.children if child is not target]
    return number(root)


# --- To and from rule JSON ----------------------------------------------------------------------


def _missing(condition: DraftCondition) -> str:
    """Why the row is not complete yet, or ""."""
    shape = condition.input
    if shape == "none":
        return ""
    if shape == "relative":
        return "" if condition.amount.strip() else "Enter how many days, weeks or months."
    if shape.endswith("-pair"):
        if not (condition.value.strip() and condition.value2.strip()):
            return "Enter both ends of the range."
        return ""
    return "" if condition.value.strip() else "Enter a value."


_WHOLE = re.compile(r"[0-9]{1,9}")


def _condition_data(condition: DraftCondition) -> dict:
    data: dict[str, Any] = {"field": condition.field, "op": condition.op}
    shape = condition.input
    if shape == "none":
        return data
    if shape == "relative":
        amount = condition.amount.strip()
        data["value"] = {
            # Not a whole number in ASCII digits: left as text for the rule engine to refuse.
            "amount": int(amount) if _WHOLE.fullmatch(amount) else amount,
            "unit": condition.unit,
        }
    elif shape == "list":
        data["value"] = [item.strip() for item in condition.value.split(",") if item.strip()]
    elif shape.endswith("-pair"):
        data["value"] = [condition.value.strip(), condition.value2.strip()]
    elif shape == "segment":
        value = condition.value.strip()
        data["value"] = parse_id(value) or value
    else:
        data["value"] = condition.value
    return data


def to_data(group: DraftGroup) -> dict:
    return {
        group.kind: [
            to_data(child) if isinstance(child, DraftGroup) else _condition_data(child)
            for child in group.children
        ]
    }


def incomplete(root: DraftGroup) -> bool:
    """Mark rows that still lack a value (before the rule engine sees them); any marked?"""
    found = False
    for node in _walk(root):
        if isinstance(node, DraftCondition):
            node.error = _missing(node)
            found = found or bool(node.error)
    return found


_ERROR_PATH = re.compile(r"^(?:condition (\d+) of group ([\d.]+)|group ([\d.]+)): (.*)$", re.S)


def place_error(root: DraftGroup, message: str) -> str:
    """Put a rule error on its row or group; returns what is left for the whole rule."""
    match = _ERROR_PATH.match(message)
    if match:
        number_, group, whole_group, why = match.groups()
        path = f"{group}.{number_}" if number_ else whole_group
        node = find(root, path)
        if node is not None:
            node.error = why[:1].upper() + why[1:]
            return ""
    return message


def from_data(data: Any) -> DraftGroup:
    """The builder for a stored (valid) rule."""
    return number(_group_from(data) if isinstance(data, dict) else DraftGroup())


def _group_from(data: dict) -> DraftGroup:
    ((kind, items),) = data.items()
    children: list[DraftCondition | DraftGroup] = []
    for item in items:
        if "all" in item or "any" in item:
            children.append(_group_from(item))
        else:
            children.append(_condition_from(item))
    return DraftGroup(kind, children)


def _condition_from(data: dict) -> DraftCondition:
    condition = DraftCondition(field=data["field"], op=data["op"])
    value = data.get("value")
    if isinstance(value, dict):
        condition.amount, condition.unit = str(value["amount"]), value["unit"]
    elif isinstance(value, list) and condition.op == "is_any_of":
        condition.value = ", ".join(str(item) for item in value)
    elif isinstance(value, list):
        condition.value, condition.value2 = str(value[0]), str(value[1])
    elif value is not None:
        condition.value = str(value)
    return condition


def field_choices(root: DraftGroup) -> list[tuple[str, list[tuple[str, str]]]]:
    """The Field menu: grouped (name, label), plus any attribute field the rule uses."""
    groups = [
        (title, [(name, rules.FIELDS[name].label) for name in names])
        for title, names in FIELD_GROUPS
    ]
    extra = sorted(
        {
            node.field
            for node in _walk(root)
            if isinstance(node, DraftCondition) and node.field.startswith(rules.ATTRIBUTE_PREFIX)
        }
    )
    if extra:
        groups.append(
            ("Attributes", [(name, name[len(rules.ATTRIBUTE_PREFIX) :]) for name in extra])
        )
    return groups
