"""ASP.NET-style route templates, as Azure Functions HTTP triggers use them.

Supported: literal segments (case-insensitive), `{name}`, optional `{name?}`, defaults
`{name=value}`, catch-all `{*rest}`, and the inline constraints int, long, bool, guid,
double, float, decimal, datetime, alpha, min(n), max(n), range(a,b), length(n[,m]),
minlength(n), maxlength(n), regex(expr). Templates are ordered like ASP.NET: literals
before parameters, constrained before plain, catch-alls last.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_PARAM = re.compile(r"\{([^{}]+)\}")
# `{{` and `}}` are literal braces (also inside regex constraints); hidden while parsing
_OPEN, _CLOSE = "\x00", "\x01"


def _unhide(text: str) -> str:
    return text.replace(_OPEN, "{").replace(_CLOSE, "}")


_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


class RouteTemplateError(ValueError):
    pass


def _is_int(value: str, bounds: tuple[int, int] = _INT_RANGE) -> bool:
    if not re.fullmatch(r"[+-]?\d+", value):
        return False
    return bounds[0] <= int(value) <= bounds[1]


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in {"nan", "inf", "-inf", "+inf", "infinity"}


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value.strip("{}()"))
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": _is_int,
    "long": lambda v: _is_int(v, _LONG_RANGE),
    "bool": lambda v: v.lower() in {"true", "false"},
    "guid": _is_guid,
    "double": _is_float,
    "float": _is_float,
    "decimal": _is_float,
    "datetime": _is_datetime,
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
}


def _numbers(arg: str) -> list[int]:
    try:
        return [int(x) for x in arg.split(",")]
    except ValueError as exc:
        raise RouteTemplateError(f"bad constraint argument {arg!r}") from exc


def _with_argument(name: str, arg: str) -> Callable[[str], bool]:
    if name == "regex":
        pattern = re.compile(_unhide(arg), re.IGNORECASE)
        return lambda v: bool(pattern.fullmatch(v))
    nums = _numbers(arg)
    checks: dict[str, Callable[[str], bool]] = {
        "min": lambda v: _is_int(v, _LONG_RANGE) and int(v) >= nums[0],
        "max": lambda v: _is_int(v, _LONG_RANGE) and int(v) <= nums[0],
        "range": lambda v: _is_int(v, _LONG_RANGE) and nums[0] <= int(v) <= nums[-1],
        "length": lambda v: nums[0] <= len(v) <= nums[-1],
        "minlength": lambda v: len(v) >= nums[0],
        "maxlength": lambda v: len(v) <= nums[0],
    }
    if name not in checks:
        raise RouteTemplateError(f"unknown route constraint {name!r}")
    return checks[name]


def _constraint(text: str) -> Callable[[str], bool]:
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.DOTALL)
    if not match:
        raise RouteTemplateError(f"bad route constraint {text!r}")
    name, arg = match.group(1).lower(), match.group(2)
    if arg is None:
        if name not in _SIMPLE:
            raise RouteTemplateError(f"unknown route constraint {name!r}")
        return _SIMPLE[name]
    return _with_argument(name, arg)


@dataclass
class _Param:
    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    constraints: list[Callable[[str], bool]] = field(default_factory=list)


def _split_constraints(body: str) -> list[str]:
    """Splits `name:c1:regex(a:b)` on colons outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in body:
        depth += (char == "(") - (char == ")")
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _parse_param(body: str) -> _Param:
    name, *constraints = _split_constraints(body)
    param = _Param(name=name)
    if param.name.startswith("*"):
        param.name, param.catch_all, param.optional = param.name.lstrip("*"), True, True
    if "=" in param.name:
        param.name, param.default = param.name.split("=", 1)
        param.optional = True
    if param.name.endswith("?"):
        param.name, param.optional = param.name[:-1], True
    if not re.fullmatch(r"\w+", param.name):
        raise RouteTemplateError(f"bad route parameter {body!r}")
    param.constraints = [_constraint(c) for c in constraints]
    return param


class RouteTemplate:
    """One compiled template; `match(path)` returns the route parameters or None."""

    def __init__(self, template: str) -> None:
        self.template = template.strip("/")
        self._hidden = self.template.replace("{{", _OPEN).replace("}}", _CLOSE)
        self._params: dict[str, _Param] = {}
        self._regex = re.compile(self._compile(), re.IGNORECASE | re.DOTALL)
        self.precedence = self._precedence()

    def _compile(self) -> str:
        if not self._hidden:
            return ""
        pieces = []
        for index, segment in enumerate(self._hidden.split("/")):
            lead = "" if index == 0 else "/"
            whole = _PARAM.fullmatch(segment)
            if whole and _parse_param(whole.group(1)).optional:
                param = self._add(_parse_param(whole.group(1)))
                value = ".*" if param.catch_all else "[^/]+"
                pieces.append(f"(?:{lead}(?P<{param.name}>{value}))?")
            else:
                pieces.append(re.escape(lead) + self._segment(segment))
        return "".join(pieces)

    def _segment(self, segment: str) -> str:
        out, position = "", 0
        for match in _PARAM.finditer(segment):
            out += re.escape(_unhide(segment[position : match.start()]))
            param = self._add(_parse_param(match.group(1)))
            out += f"(?P<{param.name}>{'.*' if param.catch_all else '[^/]+?'})"
            position = match.end()
        return out + re.escape(_unhide(segment[position:]))

    def _add(self, param: _Param) -> _Param:
        if param.name in self._params:
            raise RouteTemplateError(f"parameter {param.name!r} repeated in {self.template!r}")
        self._params[param.name] = param
        return param

    def _precedence(self) -> tuple[Any, ...]:
        def rank(segment: str) -> int:
            if not _PARAM.search(segment):
                return 0
            param = _parse_param(_PARAM.search(segment).group(1))  # type: ignore[union-attr]
            if param.catch_all:
                return 4
            return 1 if param.constraints else 2

        return tuple(rank(s) for s in self._hidden.split("/")) if self._hidden else ()

    def match(self, path: str) -> dict[str, str] | None:
        found = self._regex.fullmatch(path.strip("/"))
        if found is None:
            return None
        values: dict[str, str] = {}
        for name, param in self._params.items():
            value = found.group(name)
            if value in (None, ""):
                if not param.optional:
                    return None
                if param.default is not None:
                    values[name] = param.default
                continue
            if not all(check(value) for check in param.constraints):
                return None
            values[name] = value
        return values
