"""Configuration: defaults first, then ``IRONTRACE_*`` environment variables.

Every setting can be overridden by the environment variable of the same name
prefixed with ``IRONTRACE_`` (``IRONTRACE_DB=/var/lib/irontrace.db``), or by
the ``test_config`` mapping given to ``create_app``.  A value that cannot be
used stops start-up with a ``ConfigurationError`` naming the variable and the
form it expects (never a traceback: ``gunicorn.conf.py`` and the CLI print it).
"""

from __future__ import annotations

import json
import os
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Embedded default: one SQLite file.
    "DB": "./irontrace.db",
    "SQLITE_CACHE_MB": 256,
    "SQLITE_MAX_SIZE_MB": 0,  # the file never grows past this (0: no cap); writes beyond answer 507
    "DISK_RESERVE_MB": 16,  # /readyz reports storage full when the database's disk has less free
    # Elasticsearch: setting ES_URL switches storage and search to it.
    "ES_URL": None,
    "ES_API_KEY": None,
    "ES_USERNAME": None,
    "ES_PASSWORD": None,
    "ES_CA_CERTS": None,
    "ES_INDEX_PREFIX": "irontrace",
    "ES_TIMEOUT_SECONDS": 10,
    # A cluster: primary shards per index (the change feed keeps one); replicas per shard ("auto": one
    # wherever a second node can hold it, none on a single node); copies of a shard that must be active
    # before a write proceeds ("all" or a number; the write still goes to every copy in sync); how
    # often a request that failed because a node went away is tried again on another node.
    "ES_SHARDS": 1,
    "ES_REPLICAS": "auto",
    "ES_WAIT_FOR_ACTIVE_SHARDS": "1",
    "ES_MAX_RETRIES": 3,
    "ES_REFRESH_INTERVAL": "1s",
    # After `irontrace import` and `es reindex`, the reports index is merged down to this many segments a
    # shard (0: never): every check looks its keys up in every segment, and a bulk load leaves dozens.
    "ES_MERGED_SEGMENTS": 8,
    # `irontrace es snapshot`/`restore`: a filesystem repository; every node's path.repo must hold the location
    # (a relative location is taken under the node's first path.repo).
    "ES_SNAPSHOT_REPOSITORY": "irontrace-backups",
    "ES_SNAPSHOT_LOCATION": "irontrace-backups",
    # External registries (integrations.config): a TOML file and/or JSON; neither means none is called.
    "SOURCES_FILE": None,
    "SOURCES": None,
    "FEED_STATE": "./irontrace-feeds.json",
    # HTTP behaviour.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Limits, counted in the engine, so every process of a deployment shares them.
    "RATE_LIMIT_PER_MINUTE": 600,  # per API key
    "RATE_LIMIT_BURST": 100,
    "AUTH_FAILURES_PER_MINUTE": 10,  # failed authentications per client address
    "AUTH_FAILURE_BURST": 20,
    # Rows checked per key per UTC day (single, bulk and job checks together), by role; a role
    # not named has no quota, and a key's own ``daily_rows`` overrides its role's.
    "DAILY_ROWS": {"dealer": 5000, "border": 1_000_000, "agency": 1_000_000},
    "SCAN_ALERT_READINGS": 100,  # readings in a day that look like a scan before an alert is raised
    # The audit log: where its head is published (default: beside the SQLite file, or
    # ./irontrace-audit-heads.ndjson on Elasticsearch), and how long an unfinished write may
    # wait for its entry before recovery completes it (Elasticsearch).
    "AUDIT_HEADS_FILE": None,
    "AUDIT_OUTBOX_GRACE_SECONDS": 60.0,
    "MAINTENANCE_SECONDS": 60.0,  # how often each process publishes the head and completes what is due
    # Replicas at border posts: past this age their answers carry a warning; how often
    # `irontrace replica sync --follow` asks the centre; the most changes one request carries; at the
    # centre, how old a snapshot new replicas start from may be before the next asks for a new one.
    "REPLICA_STALE_MINUTES": 60.0,
    "REPLICA_SNAPSHOT_MAX_AGE_MINUTES": 60.0,
    "REPLICA_SYNC_SECONDS": 30.0,
    "REPLICA_PAGE_SIZE": 5000,
    "CLOCK_FILE": None,  # tests and drills: a file holding the Unix time that limits and alerts count by
    "CORS_ORIGINS": [],  # browser origins allowed to call the API; none by default
    "TRUSTED_PROXIES": 0,  # reverse proxies in front whose X-Forwarded-For names the client
    # Operations: logs, and how often a storage failure is logged while it lasts.
    "LOG_LEVEL": "info",
    "STORAGE_ERROR_LOG_SECONDS": 60,
    # Serving (read by gunicorn.conf.py).
    "BIND": "127.0.0.1:8000",
    "WORKERS": 0,  # 0: one per CPU core
    "THREADS": 4,
    # The web app: sessions of people signed in, and how failed sign-ins slow an account down.
    "SECRET_KEY": None,  # signs session cookies; unset: kept in SECRET_KEY_FILE, made on first start
    "SECRET_KEY_FILE": "./irontrace-secret.key",
    "SESSION_MINUTES": 480,  # a session ends this long after sign-in
    "SECURE_COOKIES": False,  # true behind TLS: session cookies are sent over HTTPS only
    "LOGIN_MAX_FAILURES": 5,  # failed sign-ins in a row before each further one locks the account
    "LOGIN_LOCK_SECONDS": 60,  # the first lock; each further failure doubles it
    "LOGIN_MAX_LOCK_SECONDS": 3600,
    # Argon2id cost of a password hash: OWASP's first recommended configuration (19 MiB, 2 passes, 1 lane).
    "PASSWORD_HASH_MEMORY_KIB": 19456,
    "PASSWORD_HASH_TIME_COST": 2,
    # Bulk checks: upload limits, and how workers run jobs.
    "BULK_MAX_BYTES": 64 * 1024 * 1024,
    "BULK_MAX_ROWS": 1_000_000,
    "BULK_MAX_COLUMNS": 256,  # an upload wider than this is refused (an inventory has a dozen)
    "BULK_BATCH_SIZE": 500,  # rows checked, and committed with their checkpoint, together
    "BULK_LEASE_SECONDS": 60,  # a job whose worker stops renewing this long is resumed by another
    "BULK_POLL_SECONDS": 1.0,  # how often an idle worker looks for a job
    "BULK_WORKER_THREADS": -1,  # per app process; -1: one on SQLite, none on Elasticsearch
    # Acting on a hit: when the owning agency must answer a confirmation request.
    "CONFIRMATION_URGENT_MINUTES": 10,  # NCIC's answer time for an urgent request
    "CONFIRMATION_ROUTINE_MINUTES": 60,
    # Webhooks: each app process sends due deliveries, retrying with exponential backoff.
    "WEBHOOK_POLL_SECONDS": 0.5,  # how often a process looks for deliveries due (its own are sent at once)
    "WEBHOOK_TIMEOUT_SECONDS": 5.0,  # a receiver slower than this counts as a failed attempt
    "WEBHOOK_RETRY_HOURS": 24.0,  # a delivery is retried at least this long before it is marked failed
    "WEBHOOK_RETRY_BASE_SECONDS": 5.0,  # the first retry; each next waits twice as long...
    "WEBHOOK_RETRY_MAX_SECONDS": 3600.0,  # ...up to this
    # A webhook may point at a loopback, private or link-local address only if this allows it (a receiver
    # on the same host or network); otherwise such a url is refused, and checked again before each send.
    "WEBHOOK_ALLOW_PRIVATE": False,
    # Seen before: a new report is matched against the checks of this many past days.
    "SIGHTINGS_DAYS": 180,
    # The life of a report: an agency validates each active report within this many months of its
    # registration or last validation; past it the report is shown as due for review.
    "REPORT_REVIEW_MONTHS": 12,
    # Retention: what is purged (by the maintenance round, or ``irontrace purge``) once this many days
    # old; 0 keeps it for ever.  The audit log is never purged.
    "CHECK_RETENTION_DAYS": 730,  # check records (who checked what); sightings look back SIGHTINGS_DAYS
    "BULK_JOB_RETENTION_DAYS": 365,  # finished bulk-check jobs, with their rows and results
    "BULK_RESULT_RETENTION_DAYS": 90,  # the uploaded rows and results of finished jobs (the job stays)
}

# The smallest value each numeric setting may take.
MINIMUMS: dict[str, float] = {
    "SQLITE_CACHE_MB": 1, "SQLITE_MAX_SIZE_MB": 0, "DISK_RESERVE_MB": 0, "ES_TIMEOUT_SECONDS": 1,
    "ES_SHARDS": 1, "ES_MAX_RETRIES": 0, "ES_MERGED_SEGMENTS": 0,
    "MAX_CONTENT_LENGTH": 1, "RATE_LIMIT_PER_MINUTE": 1, "RATE_LIMIT_BURST": 1, "TRUSTED_PROXIES": 0,
    "STORAGE_ERROR_LOG_SECONDS": 0, "WORKERS": 0, "THREADS": 1, "BULK_MAX_BYTES": 1, "BULK_MAX_ROWS": 1,
    "BULK_BATCH_SIZE": 1, "BULK_LEASE_SECONDS": 1, "BULK_POLL_SECONDS": 0.01, "BULK_WORKER_THREADS": -1,
    "AUTH_FAILURES_PER_MINUTE": 1, "AUTH_FAILURE_BURST": 1, "SCAN_ALERT_READINGS": 1,
    "AUDIT_OUTBOX_GRACE_SECONDS": 1, "MAINTENANCE_SECONDS": 0.01,
    "CONFIRMATION_URGENT_MINUTES": 1, "CONFIRMATION_ROUTINE_MINUTES": 1, "WEBHOOK_POLL_SECONDS": 0.01,
    "WEBHOOK_TIMEOUT_SECONDS": 0.1, "WEBHOOK_RETRY_HOURS": 0, "WEBHOOK_RETRY_BASE_SECONDS": 0.01,
    "WEBHOOK_RETRY_MAX_SECONDS": 0.01, "SIGHTINGS_DAYS": 1,
    "REPORT_REVIEW_MONTHS": 1, "CHECK_RETENTION_DAYS": 0, "BULK_JOB_RETENTION_DAYS": 0,
    "BULK_RESULT_RETENTION_DAYS": 0,
}
AUTO_REPLICAS_MAX = 1  # ES_REPLICAS=auto: Elasticsearch's ``auto_expand_replicas`` "0-1"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

ENV_PREFIX = "IRONTRACE_"


class ConfigurationError(ValueError):
    """A setting that cannot be used: the message names the variable and the form it expects."""


def load_settings(test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings from defaults, then the environment, then ``test_config``; ``ConfigurationError``
    for any value that cannot be used."""
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        raw = os.environ.get(ENV_PREFIX + name)
        if raw is not None:
            settings[name] = _parse(ENV_PREFIX + name, raw, default)
    settings.update(test_config or {})
    for name, minimum in MINIMUMS.items():
        if settings[name] < minimum:
            raise ConfigurationError(f"{ENV_PREFIX}{name} must be at least {minimum:g}; got {settings[name]}.")
    if settings["LOG_LEVEL"].lower() not in LOG_LEVELS:
        raise ConfigurationError(f"{ENV_PREFIX}LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}; "
                                 f"got {settings['LOG_LEVEL']!r}.")
    _check_shard_copies(settings)
    if not settings["AUDIT_HEADS_FILE"]:
        settings["AUDIT_HEADS_FILE"] = default_audit_heads_file(settings)
    return settings


def _check_shard_copies(settings: dict[str, Any]) -> None:
    """``ES_REPLICAS`` is ``auto`` or a whole number; ``ES_WAIT_FOR_ACTIVE_SHARDS`` is ``all`` or a
    number of copies that can exist (at most replicas + 1: more would make every write wait in vain)."""
    replicas, active = str(settings["ES_REPLICAS"]).strip().lower(), str(settings["ES_WAIT_FOR_ACTIVE_SHARDS"]).strip()
    if replicas != "auto" and not replicas.isdigit():
        raise _expected(ENV_PREFIX + "ES_REPLICAS", replicas, "auto or a whole number, e.g. IRONTRACE_ES_REPLICAS=1")
    settings["ES_REPLICAS"] = replicas if replicas == "auto" else int(replicas)
    if active.lower() == "all":
        settings["ES_WAIT_FOR_ACTIVE_SHARDS"] = "all"
        return
    copies = settings["ES_REPLICAS"] + 1 if replicas != "auto" else AUTO_REPLICAS_MAX + 1
    if not active.isdigit() or not 1 <= int(active) <= copies:
        raise _expected(ENV_PREFIX + "ES_WAIT_FOR_ACTIVE_SHARDS", active,
                        f"all or a number of shard copies from 1 to {copies} (replicas + 1)")
    settings["ES_WAIT_FOR_ACTIVE_SHARDS"] = active


def default_audit_heads_file(settings: dict[str, Any]) -> str:
    """Where the audit log's head is published unless configured: beside the SQLite file, or
    named after the index prefix in the working directory on Elasticsearch."""
    if settings.get("ES_URL"):
        return f"./{settings['ES_INDEX_PREFIX']}-audit-heads.ndjson"
    return f"{settings['DB']}.audit-heads.ndjson"


def _parse(variable: str, raw: str, default: Any) -> Any:
    """Environment values are strings; give them the type of their default, or say what was expected."""
    text = raw.strip()
    if isinstance(default, bool):
        if text.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise _expected(variable, raw, "true or false (also 1/0, yes/no, on/off)")
        return text.lower() in TRUE_WORDS
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise _expected(variable, raw, f"a whole number, e.g. {variable}={default}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise _expected(variable, raw, f"a number, e.g. {variable}={default}") from None
    if isinstance(default, list):
        return _list(variable, text)
    if isinstance(default, dict):
        return _mapping(variable, text)
    return raw


def _list(variable: str, text: str) -> list[str]:
    """A comma-separated list (``a, b``), or a JSON list of strings (``["a", "b"]``)."""
    if not text.startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    try:
        items = json.loads(text)
    except ValueError:
        items = None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _expected(variable, text, f'a comma-separated list, e.g. {variable}=https://a.example,https://b.example '
                                        f'(or a JSON list of strings)')
    return items


def _mapping(variable: str, text: str) -> dict[str, Any]:
    """A JSON object, e.g. ``{"dealer": 5000}``."""
    try:
        mapping = json.loads(text)
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict):
        raise _expected(variable, text, f'a JSON object, e.g. {variable}={{"dealer": 5000}}')
    return mapping


def _expected(variable: str, raw: str, form: str) -> ConfigurationError:
    return ConfigurationError(f"{variable} must be {form}; got {raw!r}.")
