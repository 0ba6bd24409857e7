"""Daktela list queries: PHP bracket parameters, three filter encodings, operators, sort."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

_BRACKETS = re.compile(r"\[([^\]]*)\]")


class QueryError(ValueError):
    pass


def nest_params(items: Iterable[tuple[str, str]]) -> dict:
    """`filter[0][field]=x` style pairs into nested dicts (list indexes stay string keys)."""
    root: dict = {}
    for key, value in items:
        head, _, rest = key.partition("[")
        path = [head] + (_BRACKETS.findall("[" + rest) if rest else [])
        node = root
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        last = path[-1]
        if last == "":  # value[]=a&value[]=b
            last = str(len(node))
        node[last] = value
    return root


def _as_list(value: Any) -> list:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else k))]
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [v for v in str(value).split(",")] if isinstance(value, str) and "," in value else [value]


def _number(value: Any):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(left: Any, right: Any) -> int:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        a, b = str(left), str(right)
    return (a > b) - (a < b)


def _like(pattern: str, text: str) -> bool:
    regex = "^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$"
    return re.match(regex, text, re.IGNORECASE | re.DOTALL) is not None


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda f, v: f is not None and _compare(f, v) == 0,
    "neq": lambda f, v: f is None or _compare(f, v) != 0,
    "lt": lambda f, v: f is not None and _compare(f, v) < 0,
    "lte": lambda f, v: f is not None and _compare(f, v) <= 0,
    "gt": lambda f, v: f is not None and _compare(f, v) > 0,
    "gte": lambda f, v: f is not None and _compare(f, v) >= 0,
    "like": lambda f, v: f is not None and _like(str(v), str(f)),
    "notlike": lambda f, v: f is None or not _like(str(v), str(f)),
    "contains": lambda f, v: f is not None and str(v).lower() in str(f).lower(),
    "doesnotcontain": lambda f, v: f is None or str(v).lower() not in str(f).lower(),
    "startswith": lambda f, v: f is not None and str(f).lower().startswith(str(v).lower()),
    "begins": lambda f, v: f is not None and str(f).lower().startswith(str(v).lower()),
    "notbegins": lambda f, v: f is None or not str(f).lower().startswith(str(v).lower()),
    "endswith": lambda f, v: f is not None and str(f).lower().endswith(str(v).lower()),
    "ends": lambda f, v: f is not None and str(f).lower().endswith(str(v).lower()),
    "notends": lambda f, v: f is None or not str(f).lower().endswith(str(v).lower()),
    "isnull": lambda f, v: f in (None, "", []),
    "isnotnull": lambda f, v: f not in (None, "", []),
    "in": lambda f, v: f is not None and any(_compare(f, item) == 0 for item in _as_list(v)),
    "notin": lambda f, v: f is None or all(_compare(f, item) != 0 for item in _as_list(v)),
}


def build_predicate(spec: Any, field_value: Callable[[dict, str], Any]) -> Callable[[dict], bool]:
    """A record predicate from any of the three filter encodings (nestable)."""
    if not spec:
        return lambda record: True
    if not isinstance(spec, dict):
        raise QueryError("filter must use bracket notation")
    if "filters" in spec:
        logic = str(spec.get("logic", "and")).lower()
        if logic not in ("and", "or"):
            raise QueryError(f"unknown filter logic {logic!r}")
        children = [build_predicate(child, field_value) for child in _as_list(spec["filters"])]
        combine = all if logic == "and" else any
        return lambda record: combine(child(record) for child in children)
    if "field" in spec:
        operator = str(spec.get("operator", "eq")).lower()
        if operator not in OPERATORS:
            raise QueryError(f"unknown filter operator {operator!r}")
        test, field, value = OPERATORS[operator], str(spec["field"]), spec.get("value")
        return lambda record: test(field_value(record, field), value)
    children = [build_predicate(child, field_value) for child in _as_list(spec)]
    return lambda record: all(child(record) for child in children)


def sort_records(records: list[dict], spec: Any, field_value: Callable[[dict, str], Any]) -> list[dict]:
    for item in reversed(_as_list(spec)):
        if not isinstance(item, Mapping) or "field" not in item:
            continue
        field, reverse = str(item["field"]), str(item.get("dir", "asc")).lower() == "desc"
        records.sort(key=lambda r: (field_value(r, field) is None, str(field_value(r, field) or "")), reverse=reverse)
    return records


def page_bounds(params: Mapping[str, Any]) -> tuple[int, int]:
    def integer(name: str, default: int) -> int:
        try:
            return int(params.get(name, default))
        except (TypeError, ValueError):
            raise QueryError(f"{name} must be an integer") from None

    if "take" in params or "skip" in params:
        skip, take = integer("skip", 0), integer("take", 100)
    elif "page" in params or "pageSize" in params:
        size = integer("pageSize", 100)
        skip, take = (max(integer("page", 1), 1) - 1) * size, size
    else:
        skip, take = 0, 100
    return max(skip, 0), min(max(take, 0), 1000)
