"""People's accounts: stored in both engines, hashed, locked after repeated failures, managed from the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from registry.access import Actor
from registry.cli import main
from registry.errors import Conflict, Forbidden, InvalidRequest
from registry.services.users import SignInRefused
from tests.conftest import TEST_PASSWORD, create_user


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def audit_actions(services, subject: str) -> list[str]:
    return [e["action"] for e in services.audit.export(Actor.operator(), _filter(subject))]


def _filter(subject: str):
    from registry.records import AuditFilter

    return AuditFilter(subject=subject)


def test_accounts_are_stored_with_a_memory_hard_hash_and_never_the_password(services):
    user = services.users.create(Actor.operator(), "Aigerim.S", "agency", TEST_PASSWORD, "Police of Almaty")
    assert user["username"] == "aigerim.s" and "password_hash" not in user and user["state"] == "active"
    stored = services.engine.users.get("aigerim.s")
    assert stored["password_hash"].startswith("$argon2id$") and TEST_PASSWORD not in json.dumps(stored)
    actor, _ = services.users.sign_in("AIGERIM.S", TEST_PASSWORD, "10.0.0.7")
    assert actor == Actor("user:aigerim.s", "agency", "Police of Almaty", "10.0.0.7")
    assert [u["username"] for u in services.users.list(Actor.operator())] == ["aigerim.s"]
    assert audit_actions(services, "aigerim.s") == ["user.create", "user.sign_in"]


def test_account_rules_are_the_keys_rules(services):
    with pytest.raises(InvalidRequest):
        services.users.create(Actor.operator(), "someone", "agency", TEST_PASSWORD)  # agency role without agency
    with pytest.raises(InvalidRequest):
        services.users.create(Actor.operator(), "someone", "border", "short")
    with pytest.raises(InvalidRequest):
        services.users.create(Actor.operator(), "no spaces please", "border", TEST_PASSWORD)
    create_user(services_app(services), "border", username="taken")
    with pytest.raises(Conflict):
        services.users.create(Actor.operator(), "TAKEN", "dealer", TEST_PASSWORD)
    with pytest.raises(Forbidden):
        services.users.create(Actor("user:taken", "border"), "another", "dealer", TEST_PASSWORD)


def services_app(services):
    """``create_user`` takes an app; this one has just these services."""
    class Holder:
        extensions = {"irontrace": services}
    return Holder()


def test_failed_sign_ins_lock_the_account_for_longer_each_time_and_are_audited(services):
    clock = Clock()
    services.users.clock = clock
    name = create_user(services_app(services), "dealer")
    for _ in range(services.users.policy.max_failures - 1):
        with pytest.raises(SignInRefused) as refused:
            services.users.sign_in(name, "wrong password", "10.0.0.9")
        assert refused.value.retry_after_seconds is None
    with pytest.raises(SignInRefused):  # the failure that locks
        services.users.sign_in(name, "wrong password", "10.0.0.9")
    with pytest.raises(SignInRefused) as locked:  # locked: even the right password is refused
        services.users.sign_in(name, TEST_PASSWORD, "10.0.0.9")
    assert locked.value.retry_after_seconds == services.users.policy.lock_seconds
    clock.advance(services.users.policy.lock_seconds)
    with pytest.raises(SignInRefused):  # one more failure after the lock: twice as long
        services.users.sign_in(name, "wrong again", "10.0.0.9")
    with pytest.raises(SignInRefused) as longer:
        services.users.sign_in(name, TEST_PASSWORD, "10.0.0.9")
    assert longer.value.retry_after_seconds == 2 * services.users.policy.lock_seconds
    clock.advance(2 * services.users.policy.lock_seconds)
    services.users.sign_in(name, TEST_PASSWORD, "10.0.0.9")  # the lock has passed; the counter starts again
    assert services.engine.users.get(name)["failed_logins"] == 0
    entries = list(services.audit.export(Actor.operator(), _filter(name)))
    failures = [e["details"] for e in entries if e["action"] == "user.sign_in_failed"]
    assert [f["reason"] for f in failures] == ["wrong password"] * 5 + ["locked", "wrong password", "locked"]
    assert failures[4]["locked_until"] and entries[-1]["action"] == "user.sign_in"
    assert all(e["actor"]["address"] == "10.0.0.9" for e in entries[1:])


def test_unknown_and_disabled_accounts_cannot_sign_in(services):
    name = create_user(services_app(services), "border")
    with pytest.raises(SignInRefused):
        services.users.sign_in("nobody-here", TEST_PASSWORD, None)
    services.users.set_disabled(Actor.operator(), name, True)
    with pytest.raises(SignInRefused):
        services.users.sign_in(name, TEST_PASSWORD, None)
    services.users.set_disabled(Actor.operator(), name, False)
    services.users.sign_in(name, TEST_PASSWORD, None)
    assert audit_actions(services, "nobody-here") == ["user.sign_in_failed"]


def test_a_reset_password_ends_sessions_and_lifts_a_lock(services):
    name = create_user(services_app(services), "border")
    actor, stamp = services.users.sign_in(name, TEST_PASSWORD, None)
    assert services.users.session_actor(name, stamp, None) == actor
    services.users.reset_password(Actor.operator(), name, "another long password")
    assert services.users.session_actor(name, stamp, None) is None
    _, new_stamp = services.users.sign_in(name, "another long password", None)
    assert services.users.session_actor(name, new_stamp, None) is not None


def test_the_cli_creates_accounts_with_the_password_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONTRACE_DB", str(tmp_path / "cli.db"))
    runner = CliRunner()
    created = runner.invoke(main, ["users", "create", "Marat", "--role", "agency", "--agency", "Police of Shymkent"],
                            env={"IRONTRACE_PASSWORD": TEST_PASSWORD})
    assert created.exit_code == 0, created.output
    assert "created user marat, role agency, agency Police of Shymkent" in created.output
    asked = runner.invoke(main, ["users", "create", "dana", "--role", "dealer"],
                          input="typed at the prompt\ntyped at the prompt\n", env={"IRONTRACE_PASSWORD": ""})
    assert asked.exit_code == 0, asked.output
    listed = runner.invoke(main, ["users", "list"]).output
    assert "marat" in listed and "dana" in listed and TEST_PASSWORD not in listed
    refused = runner.invoke(main, ["users", "create", "x1", "--role", "agency"],
                            env={"IRONTRACE_PASSWORD": TEST_PASSWORD})
    assert refused.exit_code != 0 and "agency" in refused.output
    assert runner.invoke(main, ["users", "disable", "dana"]).output.strip() == "dana is disabled"
