"""One request to an external source, every failure mapped to a ``SourceError``.

Error messages are written here, never copied from the exception or the
answer: requests' messages quote URLs and an answer may echo anything, and
neither must reach a log line or a check response unreviewed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from integrations.base import AuthenticationFailed, MalformedResponse, SourceError, SourceTimeout, SourceUnavailable

REFUSED_CREDENTIALS = (401, 403)
TOO_MANY_REQUESTS = 429
FIRST_SERVER_ERROR = 500


def send(session: requests.Session, method: str, url: str, headers: Mapping[str, str], timeout: float,
         body: Any = None, expected: tuple[int, ...] = (200,)) -> requests.Response:
    """The answer when its status is ``expected``; ``SourceError`` subclasses for everything else."""
    try:
        response = session.request(
            method, url, headers=headers, json=body, timeout=(timeout, timeout), allow_redirects=False
        )
    except requests.Timeout as exc:
        raise SourceTimeout(f"no answer within {timeout:.2f} s") from exc
    except requests.ConnectionError as exc:
        raise SourceUnavailable("connection failed or was dropped") from exc
    except requests.RequestException as exc:
        raise SourceError(f"request failed ({type(exc).__name__})") from exc
    status = response.status_code
    if status in REFUSED_CREDENTIALS:
        raise AuthenticationFailed(f"credentials refused (HTTP {status})")
    if status == TOO_MANY_REQUESTS or status >= FIRST_SERVER_ERROR:
        raise SourceUnavailable(f"source answered HTTP {status}")
    if status not in expected:
        raise MalformedResponse(f"unexpected HTTP {status}")
    return response


def request_json(session: requests.Session, method: str, url: str, headers: Mapping[str, str], timeout: float,
                 body: Any = None) -> Any:
    """The decoded JSON of a 200 answer; ``SourceError`` subclasses for everything else."""
    response = send(session, method, url, {"Accept": "application/json", **headers}, timeout, body)
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedResponse("answer is not JSON") from exc


def field(data: Any, name: str, kind: type | tuple[type, ...] = str, required: bool = True) -> Any:
    """``data[name]`` checked to be of ``kind``; ``MalformedResponse`` names what is wrong."""
    if not isinstance(data, dict):
        raise MalformedResponse(f"expected a JSON object holding {name!r}")
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise MalformedResponse(f"field {name!r} is missing or of the wrong type")
    return value
