"""The OpenAPI document says every problem an operation can answer.

Views document what is theirs (success, and the problems only they raise,
such as 409 or 412); ``document_problems`` adds, in one place, the problems
that follow from what an operation is: a key is needed (401, 403, 429),
storage is used (503; 507 when it writes), it reads a body (400, 413, 415,
422) or query parameters (400, 422), it names a record in its path (404).
schemathesis then fails the suite on any status the document does not list.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from registry.api.problems import PROBLEM_CONTENT_TYPE, title

METHODS = ("get", "post", "put", "patch", "delete")
WRITES = ("post", "put", "patch", "delete")
NO_STORAGE_PATHS = frozenset({"/healthz"})
HEADER_DOCS: dict[str, dict[str, Any]] = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}},
}
PROBLEMS: dict[int, tuple[str, tuple[str, ...]]] = {  # status: (when, headers)
    400: ("A malformed body, cursor or parameter", ()),
    401: ("No API key, or one that is not valid now", ("WWW-Authenticate",)),
    403: ("The key's role (or agency) may not do this", ()),
    404: ("No such record, or none the key may see", ()),
    413: ("The body is over the size limit; `limit` and `unit` say which", ()),
    415: ("The body is not JSON (or, for uploads, not a file type read)", ()),
    422: ("Fields are invalid; `errors` lists each", ()),
    429: ("Too many requests with this key", ("Retry-After",)),
    503: ("Storage cannot serve now", ("Retry-After",)),
    507: ("Storage is full: writes fail until space is freed", ("Retry-After",)),
}


def document_problems(spec: APISpec) -> None:
    """Register a response per problem status and add each operation's to it."""
    for status, (when, headers) in PROBLEMS.items():
        spec.components.response(_name(status), {
            "description": f"{title(status)}: {when}",
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": {name: HEADER_DOCS[name] for name in headers}} if headers else {}),
        })
    for path, operations in spec._paths.items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is not None:
                responses = operation.setdefault("responses", {})
                for status in problems_of(path, method, operation, operations.get("parameters", [])):
                    responses.setdefault(str(status), {"$ref": f"#/components/responses/{_name(status)}"})


def problems_of(path: str, method: str, operation: dict[str, Any], path_parameters: list) -> list[int]:
    """The problem statuses that follow from what the operation is."""
    statuses = []
    if operation.get("security") != []:
        statuses += [401, 403, 429]
    if path not in NO_STORAGE_PATHS:
        statuses.append(503)
    if method in WRITES:
        statuses.append(507)
    if "requestBody" in operation:
        statuses += [400, 413, 415, 422]
    parameters = [*path_parameters, *operation.get("parameters", [])]
    if any(p.get("in") == "query" for p in parameters):
        statuses += [400, 422]
    if any(p.get("in") == "path" for p in parameters) or "{" in path:
        statuses.append(404)
    return sorted(set(statuses))


def _name(status: int) -> str:
    return f"Problem{status}"
