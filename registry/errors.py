"""Domain errors and the one table that maps them to HTTP.

Services raise these; they know nothing of HTTP.  The resource layer turns
each into an RFC 9457 problem document with the status from ``HTTP_STATUS``.
"""

from __future__ import annotations


class IronTraceError(Exception):
    """Base of every error a caller can act on."""

    retry_after_seconds: int | None = None  # set: the answer says when to try again (Retry-After)

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Unauthenticated(IronTraceError):
    """No API key, or one that is unknown, revoked or expired."""


class Forbidden(IronTraceError):
    """A valid key whose role (or agency) does not allow this."""


class RateLimited(IronTraceError):
    """Too many requests with one key, or from one address; retry after ``retry_after_seconds``."""

    def __init__(self, detail: str, retry_after_seconds: int, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after_seconds = retry_after_seconds


class QuotaExceeded(RateLimited):
    """A key's rows checked today would pass its daily quota; ``quota``, ``limit``, ``used``,
    ``requested`` and ``resets_at`` say by how much and until when."""


class NotFound(IronTraceError):
    """No such record (or none this actor may know of)."""


class Conflict(IronTraceError):
    """The request clashes with what is stored (a duplicate, a finished job)."""


class InvalidRequest(IronTraceError):
    """Input that is well-formed but cannot be acted on (a bad cursor, filter or file)."""


class ValidationFailed(IronTraceError):
    """Field-level validation failure; ``errors`` lists each field and message."""

    def __init__(self, errors: list[dict[str, str]], detail: str = "Some fields are invalid.") -> None:
        super().__init__(detail, errors=errors)


class UnrecognizedColumns(ValidationFailed):
    """A file with no column the reader knows how to use; ``recognized_headers`` lists the names
    it would have understood, by field."""

    def __init__(self, detail: str, recognized_headers: dict[str, list[str]]) -> None:
        IronTraceError.__init__(self, detail, errors=[{"field": "file", "message": detail}],
                                recognized_headers=recognized_headers)


class PreconditionRequired(IronTraceError):
    """A change sent without If-Match."""


class PreconditionFailed(IronTraceError):
    """If-Match names a version that is not the stored one."""


class PayloadTooLarge(IronTraceError):
    """An upload over a configured limit; ``limit`` and ``unit`` say which."""


class UnsupportedFileType(IronTraceError):
    """A file that is none of the formats read (CSV, NDJSON, JSON, an Excel workbook)."""


class StorageUnavailable(IronTraceError):
    """The storage engine cannot be reached or cannot serve right now; retry later."""

    retry_after_seconds = 5


class StorageFull(StorageUnavailable):
    """The disk, or the size the registry may take, is full: writes fail until space is freed
    (reads still work)."""

    retry_after_seconds = 60


HTTP_STATUS: dict[type[IronTraceError], int] = {
    InvalidRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    ValidationFailed: 422,
    PayloadTooLarge: 413,
    UnsupportedFileType: 415,
    PreconditionRequired: 428,
    RateLimited: 429,
    StorageUnavailable: 503,
    StorageFull: 507,
}


def http_status(error: IronTraceError) -> int:
    """Status for a domain error: the nearest class in ``HTTP_STATUS``, else 400."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def flatten_messages(messages: object, prefix: str = "") -> list[dict[str, str]]:
    """Turn marshmallow's nested error dict into ``[{"field", "message"}]``."""
    if isinstance(messages, dict):
        errors = []
        for key, value in messages.items():
            field = f"{prefix}.{key}" if prefix else str(key)
            errors.extend(flatten_messages(value, field))
        return errors
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": prefix or "_body", "message": m} for m in messages]
    if isinstance(messages, list):
        return [e for m in messages for e in flatten_messages(m, prefix)]
    return [{"field": prefix or "_body", "message": str(messages)}]
