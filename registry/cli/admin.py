"""``irontrace keys``, ``users``, ``audit`` and ``es``: administration on the machine that holds the registry."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from typing import IO, TypeVar

import click

from registry.access import Actor
from registry.cli.common import local_services, merge_reports_segments, or_fail
from registry.config import load_settings
from registry.errors import IronTraceError
from registry.records import AuditFilter
from registry.stamps import iso
from registry.storage.interfaces import Engine, IndexAdmin
from registry.vocabulary import AUDIT_ACTIONS, ROLES

T = TypeVar("T")
PASSWORD_VARIABLE = "IRONTRACE_PASSWORD"


@click.group("keys")
def keys_commands() -> None:
    """API keys: create, list, revoke (acts on the configured storage directly)."""


@keys_commands.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", help="For agency keys: the reporting agency's name, as in its reports.")
@click.option("--expires", help="ISO date (stops working at 00:00 UTC that day) or date-time.")
@click.option("--label", help="A note on whom the key is for.")
@click.option("--daily-rows", type=click.IntRange(min=1),
              help="Rows it may check a day (single, bulk and job checks together); default: its role's quota.")
def keys_create(role: str, agency: str | None, expires: str | None, label: str | None,
                daily_rows: int | None) -> None:
    """Issue a key; it is printed once, alone on the last line."""
    key, record = or_fail(lambda: local_services(create=True).keys.create(Actor.operator(), role, agency, expires,
                                                                          label, daily_rows))
    click.echo(f"key id {record['key_id']}, role {role}"
               + (f", agency {record['agency']}" if record["agency"] else "")
               + (f", {daily_rows} rows a day" if daily_rows else "")
               + f", expires {record['expires_at'] or 'never'}. Store it now; it cannot be shown again:")
    click.echo(key)


@keys_commands.command("list")
def keys_list() -> None:
    """Every key: id, role, agency, state, expiry, label (never the key)."""
    for record in or_fail(lambda: local_services().keys.list(Actor.operator())):
        click.echo(f"{record['key_id']}  {record['role']:<8} {record['state']:<8} "
                   f"expires {record['expires_at'] or 'never':<24} {record['agency'] or '-'}  {record['label'] or ''}")


@keys_commands.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: it stops working at once."""
    record = or_fail(lambda: local_services().keys.revoke(Actor.operator(), key_id))
    click.echo(f"revoked {record['key_id']} at {record['revoked_at']}")


@click.group("users")
def users_commands() -> None:
    """Accounts of people for the web app: create, list, reset a password, disable, enable."""


def _password(prompt: str) -> str:
    """From IRONTRACE_PASSWORD when set (scripts), else asked twice without echo."""
    return os.environ.get(PASSWORD_VARIABLE) or click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@users_commands.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", help="For agency accounts: the reporting agency's name, as in its reports.")
def users_create(username: str, role: str, agency: str | None) -> None:
    """Create an account; the password comes from IRONTRACE_PASSWORD, or is asked for."""
    password = _password("Password")
    user = or_fail(lambda: local_services(create=True).users.create(Actor.operator(), username, role, password,
                                                                    agency))
    click.echo(f"created user {user['username']}, role {user['role']}"
               + (f", agency {user['agency']}" if user["agency"] else ""))


@users_commands.command("list")
def users_list() -> None:
    """Every account: name, role, state, last sign-in, agency (never the password)."""
    for user in or_fail(lambda: local_services().users.list(Actor.operator())):
        click.echo(f"{user['username']:<24} {user['role']:<8} {user['state']:<8} "
                   f"last sign-in {user['last_login_at'] or 'never':<24} {user['agency'] or '-'}")


@users_commands.command("reset-password")
@click.argument("username")
def users_reset_password(username: str) -> None:
    """Set a new password (IRONTRACE_PASSWORD, or asked for); it also lifts a lock."""
    password = _password("New password")
    user = or_fail(lambda: local_services().users.reset_password(Actor.operator(), username, password))
    click.echo(f"password of {user['username']} reset")


@users_commands.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def users_disable(username: str, enable: bool) -> None:
    """Disable an account (its sessions end at their next request), or enable it again."""
    user = or_fail(lambda: local_services().users.set_disabled(Actor.operator(), username, not enable))
    click.echo(f"{user['username']} is {user['state']}")


@click.group("audit")
def audit_commands() -> None:
    """The hash-chained audit log."""


@audit_commands.command("verify")
@click.option("--anchor", metavar="SEQ:HASH", help="A head printed by an earlier verify: also prove it is still there.")
def audit_verify(anchor: str | None) -> None:
    """Prove the chain intact (exit 0) or name the first broken entry (exit 1).

    The chain is also held to the newest head published in IRONTRACE_AUDIT_HEADS_FILE,
    so entries cut off the end, or an emptied log, are caught without an anchor.
    """
    verification = or_fail(lambda: local_services().audit.verify(Actor.operator(), _anchor(anchor)))
    report, published = verification.chain, verification.published
    held_to = f"; holds the head published at {published.at} ({published.seq})" if published else \
        "; no head published yet"
    if published and published.restored_from:
        held_to += f", a restore of {published.restored_from}" + (
            f" that rolled the log back from the head {published.rolled_back_from}"
            if published.rolled_back_from else "")
    pending = f"; {verification.pending} entries pending" if verification.pending else ""
    if report.intact:
        click.echo(f"audit log intact: {report.entries} entries; head {report.head_seq}:{report.head_hash}"
                   f"{held_to}{pending}")
        return
    click.echo(f"audit log BROKEN at entry {report.broken_at}: {report.reason} "
               f"({report.entries} entries intact before it)")
    sys.exit(1)


@audit_commands.command("export")
@click.option("-o", "--output", type=click.File("w"), default="-", help="Default: standard output.")
@click.option("--action", type=click.Choice(AUDIT_ACTIONS))
@click.option("--principal", help="A key id, or cli:<user>.")
@click.option("--subject", help="A report, check, job or key id.")
@click.option("--since", type=click.DateTime(), help="Entries at or after this moment (UTC).")
@click.option("--until", type=click.DateTime(), help="Entries before this moment (UTC).")
def audit_export(output: IO[str], action: str | None, principal: str | None, subject: str | None,
                 since: dt.datetime | None, until: dt.datetime | None) -> None:
    """Write every matching entry as NDJSON, oldest first (as GET /v1/audit/export): for archiving,
    and for checking the chain elsewhere.  An entry that cannot be read is written as a stand-in
    saying so (``corrupt``)."""
    filters = AuditFilter(action, principal, subject, _stored_time(since), _stored_time(until))
    count = 0
    try:
        for entry in local_services().audit.export(Actor.operator(), filters):
            output.write(json.dumps(entry, ensure_ascii=False) + "\n")
            count += 1
    except IronTraceError as exc:
        raise click.ClickException(f"{exc.detail} ({count} entries written before)") from exc
    click.echo(f"exported {count} audit entries", err=True)


def _stored_time(moment: dt.datetime | None) -> str | None:
    """A moment given on the command line (UTC unless it says otherwise) as timestamps are stored."""
    if moment is None:
        return None
    return iso(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))


def _anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("expected SEQ:HASH as printed by `irontrace audit verify`", param_hint="--anchor")
    return int(seq), digest


@click.group("es")
def es_commands() -> None:
    """Elasticsearch indices (needs IRONTRACE_ES_URL)."""


def elasticsearch_engine(create: bool = False) -> Engine:
    """The configured Elasticsearch engine; a clean CLI failure when none is configured."""
    if not load_settings().get("ES_URL"):
        raise click.ClickException("Set IRONTRACE_ES_URL: these commands work on Elasticsearch only.")
    engine = local_services(create=create).engine
    assert engine.admin is not None, "an Elasticsearch engine has index administration"
    return engine


def on_elasticsearch(operation: Callable[[IndexAdmin], T], create: bool = False) -> T:
    """Run an index operation on the configured cluster; errors become a clean CLI failure."""
    admin = elasticsearch_engine(create).admin
    assert admin is not None
    return or_fail(lambda: operation(admin))


@es_commands.command("init")
def es_init() -> None:
    """Create the missing indices and aliases (safe to repeat)."""
    created = on_elasticsearch(lambda admin: admin.init(), create=True)
    click.echo(f"created {', '.join(created)}" if created else "indices already in place")


@es_commands.command("reindex")
def es_reindex() -> None:
    """Rebuild the reports index with the current mapping and switch the alias; writes made meanwhile are kept.
    Then merge its segments, as after an import."""
    result = on_elasticsearch(lambda admin: admin.reindex())
    click.echo(f"copied {result.copied} reports from {result.old_index} to {result.new_index}; alias switched")
    on_elasticsearch(merge_reports_segments)


@click.command("purge")
def purge() -> None:
    """Remove what is past its retention period now (CHECK_RETENTION_DAYS, BULK_JOB_RETENTION_DAYS,
    BULK_RESULT_RETENTION_DAYS), as every process's maintenance round does; each purge is audited."""
    services = local_services()
    counts = or_fail(lambda: services.retention.purge(services.maintenance.clock(), Actor.operator()))
    for what, count in counts.items():
        click.echo(f"{what}: {count} purged")


COMMANDS = [keys_commands, users_commands, audit_commands, es_commands, purge]
