"""The OpenAPI document is valid and complete, and its browser works without reaching any other host."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

SURFACES = ("/mp/v1/", "/console/v1/")
_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")


def _api_operations(app: Flask) -> set[tuple[str, str]]:
    """(openapi path, lower-case method) of every route of the two API surfaces."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(SURFACES):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                operations.add((path, method.lower()))
    return operations


def _spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec: dict[str, Any] = response.get_json()
    return spec


def test_openapi_document_is_valid(client: FlaskClient) -> None:
    spec = _spec(client)

    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "civicdesk"


def test_every_api_route_is_documented(app: Flask, client: FlaskClient) -> None:
    spec = _spec(client)
    operations = _api_operations(app)
    assert len(operations) >= 10  # the surfaces are there at all

    documented = {(path, method) for path, item in spec["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}
    assert operations <= documented, sorted(operations - documented)


def test_security_schemes_and_their_use(app: Flask, client: FlaskClient) -> None:
    spec = _spec(client)
    schemes = spec["components"]["securitySchemes"]

    assert schemes["residentToken"] == schemes["residentToken"] | {"type": "http", "scheme": "bearer"}
    assert schemes["staffToken"] == schemes["staffToken"] | {"type": "http", "scheme": "bearer"}
    paths = spec["paths"]
    assert paths["/mp/v1/me"]["get"]["security"] == [{"residentToken": []}]
    assert paths["/console/v1/departments"]["post"]["security"] == [{"staffToken": []}]
    for path, method in _api_operations(app):
        operation = paths[path][method]
        used = {name for requirement in operation.get("security", []) for name in requirement}
        assert used <= set(schemes)
        if path.startswith("/mp/v1/") and used:
            assert used == {"residentToken"}, (path, method)
        if path.startswith("/console/v1/") and used:
            assert used == {"staffToken"}, (path, method)
    # Logging in needs no token.
    assert "security" not in paths["/mp/v1/auth/login"]["post"]
    assert "security" not in paths["/console/v1/auth/login"]["post"]


def test_idempotency_key_header_is_documented(client: FlaskClient) -> None:
    operation = _spec(client)["paths"]["/console/v1/departments"]["post"]

    headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
    assert [p["name"] for p in headers] == ["Idempotency-Key"]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_docs_page_uses_only_local_assets(client: FlaskClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    parser = _Assets()
    parser.feed(html)

    assert parser.urls, "the docs page loads no assets at all"
    assert not re.search(r"(?:https?:)?//(?!localhost[:/])[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE)
    for url in parser.urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), url
        asset = client.get(urljoin("/api/docs", url))
        assert asset.status_code == 200, url
        if url.endswith(".js"):
            assert asset.mimetype in ("text/javascript", "application/javascript"), url
        elif url.endswith(".css"):
            assert asset.mimetype == "text/css", url
        assert len(asset.get_data()) > 1000, url
        asset.close()
    kinds = {url.rsplit(".", 1)[-1] for url in parser.urls}
    assert {"js", "css"} <= kinds
    assert "/api/openapi.json" in html


def test_error_responses_are_documented_as_problem_json(client: FlaskClient) -> None:
    """The server sends application/problem+json; the document must say so, or generated clients mis-parse."""
    spec = _spec(client)
    problem_ref = "#/components/schemas/Problem"
    documented: dict[str, set[str]] = {}
    for name, response in spec["components"].get("responses", {}).items():
        for media_type, content in response.get("content", {}).items():
            if content.get("schema", {}).get("$ref") == problem_ref:
                documented.setdefault(name, set()).add(media_type)

    assert documented, "no error response refers to the Problem schema"
    assert {name: types for name, types in documented.items() if types != {"application/problem+json"}} == {}
