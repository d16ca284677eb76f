"""Bouncer's HTTP layer: falcon 1.4.1 error answers, its request middleware, its JSON schema check.

Everything a client sees before Bouncer's login code runs comes from here, in
Bouncer's order (``bouncer/app/wsgiapp.py``, ``RequestMiddleware.process_request``;
``bouncer/app/utils.py``, ``gen_jsonvalidator``), with falcon 1.4.1's shapes
(``requirements.txt``): an error is ``{"title", "description", "code"}`` (absent
keys left out), ``Content-Type: application/json; charset=UTF-8`` and
``Vary: Accept``; an error without a description (falcon's 404 and 405) has no
body at all.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as et
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple, Union

from mesos_auth.testing._server import Request, Response

__all__ = [
    "BAD_REQUEST_TITLE",
    "LoginBody",
    "falcon_error",
    "json_answer",
    "method_not_allowed",
    "not_found",
    "read_login_body",
    "server_error",
]

Headers = List[Tuple[str, str]]

#: The title ``utils.badrequest`` and the middleware give their 400s; falcon's own
#: default title (``HTTPBadRequest(description=...)``) is "400 Bad Request".
BAD_REQUEST_TITLE = "Bad Request"


@dataclass(frozen=True)
class LoginBody:
    """The login body once it passed the middleware and the ``LoginObject`` schema."""

    data: Any  # a JSON object (dict) here, by the schema


def _media_ranges(accept: str) -> List[Tuple[str, str, float]]:
    ranges = []
    for item in accept.split(","):
        parts = [part.strip() for part in item.split(";")]
        kind, _, subtype = parts[0].partition("/")
        if not kind or not subtype:
            raise ValueError("not a media range")
        quality = 1.0
        for parameter in parts[1:]:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                quality = float(value)
        ranges.append((kind.strip().lower(), subtype.strip().lower(), quality))
    return ranges


def _quality(media_type: str, accept: str) -> Tuple[float, int]:
    """python-mimeparse's ``quality_and_fitness``: the q and fitness of the most specific matching range."""
    kind, subtype = media_type.split("/")
    best_fitness, best_quality = -1, 0.0
    for range_kind, range_subtype, quality in _media_ranges(accept):
        if range_kind not in (kind, "*") or range_subtype not in (subtype, "*"):
            continue
        fitness = (100 if range_kind == kind else 0) + (10 if range_subtype == subtype else 0)
        if fitness > best_fitness:
            best_fitness, best_quality = fitness, quality
    return best_quality, best_fitness


def _accept(request: Request) -> str:
    return request.header("Accept") or "*/*"  # falcon: a missing Accept is */*


def client_accepts_json(request: Request) -> bool:
    """falcon 1.4.1 ``Request.client_accepts('application/json')``."""
    accept = _accept(request)
    if accept in ("application/json", "*/*"):
        return True
    try:
        return _quality("application/json", accept)[0] != 0.0
    except ValueError:
        return False


def _preferred_error_type(request: Request) -> Optional[str]:
    """falcon 1.4.1 ``default_serialize_error``: XML or JSON by the Accept header, JSON on a tie.

    mimeparse's ``best_match`` ranks by q, then fitness, then the later candidate.
    """
    accept = _accept(request)
    candidates = ("application/xml", "text/xml", "application/json")
    try:
        scored = [(*_quality(candidate, accept), index) for index, candidate in enumerate(candidates)]
    except ValueError:
        scored = []
    best = max(scored, default=(0.0, -1, 0))
    if best[0] > 0:
        return candidates[best[2]]
    lowered = accept.lower()
    if "+json" in lowered:
        return "application/json"
    if "+xml" in lowered:
        return "application/xml"
    return None


def falcon_error(
    request: Request,
    status: int,
    title: str,
    description: Optional[str] = None,
    code: Optional[str] = None,
    headers: Optional[Headers] = None,
) -> Response:
    """An ``HTTPError`` as falcon 1.4.1 answers it (``HTTPError.to_json`` / ``to_xml``)."""
    extra = list(headers or [])
    if description is None:  # OptionalRepresentation: falcon's 404/405 without description
        return Response(status, b"", extra)
    preferred = _preferred_error_type(request)
    extra.append(("Vary", "Accept"))
    if preferred is None:
        return Response(status, b"", extra)
    fields: OrderedDict[str, str] = OrderedDict(title=title, description=description)
    if code is not None:
        fields["code"] = code
    if preferred == "application/json":
        body = json.dumps(fields, ensure_ascii=False).encode("utf-8")
    else:
        element = et.Element("error")
        for name, value in fields.items():
            et.SubElement(element, name).text = value
        body = b'<?xml version="1.0" encoding="UTF-8"?>' + et.tostring(element, encoding="utf-8")
    return Response(status, body, [("Content-Type", preferred + "; charset=UTF-8"), *extra])


def json_answer(status: int, payload: Any, headers: Optional[Headers] = None) -> Response:
    """A Bouncer answer body (``RequestMiddleware.process_response``): indented JSON and a newline."""
    body = (json.dumps(payload, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json; charset=utf-8"), *(headers or [])])


def not_found() -> Response:
    """falcon 1.4.1 for a path without a route: 404, no body."""
    return Response(404, b"")


def method_not_allowed(allowed: Sequence[str]) -> Response:
    """falcon 1.4.1 ``set_default_responders``: 405 without body, ``Allow`` lists the responders and OPTIONS."""
    return Response(405, b"", [("Allow", ", ".join([*sorted(allowed), "OPTIONS"]))])


def default_options(allowed: Sequence[str]) -> Response:
    """falcon 1.4.1's default OPTIONS responder: 200, ``Allow`` without OPTIONS itself."""
    return Response(200, b"", [("Allow", ", ".join(sorted(allowed)))])


def server_error() -> Response:
    """An exception Bouncer does not handle reaches gunicorn, which answers 500.

    (unverified) The body is gunicorn 19.9's default error page as we read
    ``gunicorn/util.py`` ``write_error``; Admin Router may pass it on or replace it.
    """
    body = (
        b"<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n  <body>\n"
        b"    <h1><p>Internal Server Error</p></h1>\n    \n  </body>\n</html>\n"
    )
    return Response(500, body, [("Content-Type", "text/html")])


def read_request_json(request: Request) -> Union[Response, Any]:
    """``RequestMiddleware.process_request``: the decoded JSON body (None when there is none) or an error.

    Order: Accept must allow JSON (406); an empty body is no data; a body needs a
    Content-Type (400); ``application/json`` is decoded (400 if it cannot be),
    form data is no JSON data, any other type is a 415. Only POST, PUT and PATCH
    bodies are read.
    """
    if not client_accepts_json(request):
        return falcon_error(
            request, 406, "Media type not acceptable", "The user agent must support application/json responses."
        )
    if not request.body or request.method not in ("POST", "PUT", "PATCH"):
        return None
    content_type = request.header("Content-Type")
    if content_type is None:
        return falcon_error(request, 400, BAD_REQUEST_TITLE, "Missing Content-Type header.")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return falcon_error(
                request, 400, BAD_REQUEST_TITLE, f"Cannot decode JSON body using UTF-8. Reason: {exc.reason}"
            )
        try:
            return json.loads(text)
        except ValueError as exc:
            return falcon_error(request, 400, BAD_REQUEST_TITLE, f"Cannot decode JSON body: {exc}")
    if media_type == "application/x-www-form-urlencoded":
        return None  # parsed as form parameters, which the login does not read
    return falcon_error(request, 415, "Unsupported media type", "Unexpected or undefined Content-Type")


def read_login_body(request: Request, data: Any) -> Union[Response, LoginBody]:
    """``gen_jsonvalidator('LoginObject')``: no JSON data is a 400, so is a schema violation.

    The schema (``docs/openapi-spec.yaml``, ``LoginObject``) says: an object whose
    ``uid``, ``password`` and ``token``, where present, are strings; the first
    violation is reported with jsonschema 2.6's message (Python ``repr`` of the value).
    """
    if data is None:
        return falcon_error(request, 400, BAD_REQUEST_TITLE, "Request has bad Content-Type or lacks JSON data")
    problem: Optional[str] = None
    if not isinstance(data, dict):
        problem = f"{data!r} is not of type 'object'"
    else:
        for name in ("uid", "password", "token"):
            if name in data and not isinstance(data[name], str):
                problem = f"{data[name]!r} is not of type 'string'"
                break
    if problem is not None:
        return falcon_error(request, 400, BAD_REQUEST_TITLE, f"Unexpected JSON input. Hint: {problem}")
    return LoginBody(data)
