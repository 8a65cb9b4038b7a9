"""Route templates as Azure Functions (ASP.NET) reads them."""

from __future__ import annotations

import pytest

from emulator.routes import RouteTemplate, RouteTemplateError


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("items", "items", {}),
        ("items", "ITEMS", {}),
        ("items/{id}", "items/abc", {"id": "abc"}),
        ("items/{id}", "items", None),
        ("items/{id}", "items/a/b", None),
        ("items/{id:int}", "items/42", {"id": "42"}),
        ("items/{id:int}", "items/x42", None),
        ("items/{id:int}", "items/99999999999", None),
        ("items/{id:long}", "items/99999999999", {"id": "99999999999"}),
        (
            "items/{id:guid}",
            "items/0f8fad5b-d9cb-469f-a165-70867728950e",
            {"id": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        ),
        ("items/{id:guid}", "items/not-a-guid", None),
        ("items/{flag:bool}", "items/True", {"flag": "True"}),
        ("items/{name:alpha}", "items/abc1", None),
        ("items/{n:range(1,5)}", "items/5", {"n": "5"}),
        ("items/{n:range(1,5)}", "items/6", None),
        ("items/{code:length(3)}", "items/abc", {"code": "abc"}),
        ("items/{code:length(3)}", "items/abcd", None),
        ("items/{code:regex(^[a-z]{{2}}\\d$)}", "items/ab1", {"code": "ab1"}),
        ("items/{id?}", "items", {}),
        ("items/{id?}", "items/7", {"id": "7"}),
        ("items/{id=none}", "items", {"id": "none"}),
        ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("files/{*path}", "files", {}),
        ("report/{year}-{month}", "report/2024-05", {"year": "2024", "month": "05"}),
        (
            "servers/{server}/databases/{db}",
            "servers/s1/databases/d1",
            {"server": "s1", "db": "d1"},
        ),
    ],
)
def test_template_matches(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert RouteTemplate(template).match(path) == expected


def test_precedence_prefers_literals_then_constraints_then_catch_all() -> None:
    templates = [
        RouteTemplate(t) for t in ("items/{*rest}", "items/{id}", "items/{id:int}", "items/new")
    ]
    ordered = [t.template for t in sorted(templates, key=lambda t: t.precedence)]
    assert ordered == ["items/new", "items/{id:int}", "items/{id}", "items/{*rest}"]


@pytest.mark.parametrize("bad", ["items/{id:nonsense}", "items/{id}/{id}", "items/{bad name}"])
def test_bad_templates_are_refused(bad: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(bad)
