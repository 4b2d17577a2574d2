"""Property, end to end: a formatting-only variant of a registered identifier always gives ``hit``.

Runs through the whole check path (lookup keys, a real SQLite file, the
scorer and the verdict), not just ``normalize``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.access import Actor
from registry.config import load_settings
from registry.demo import generate_reports
from registry.services import open_services
from search.query import CheckQuery
from tests.test_normalize import formatting_variants

REGISTRY_SIZE = 300


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    services = open_services(load_settings({"DB": str(tmp_path_factory.mktemp("property") / "registry.db")}))
    reports = list(generate_reports(REGISTRY_SIZE, seed=3))
    services.imports.import_rows(Actor.operator(), enumerate(reports, start=1))
    active = [r for r in reports if r["status"] in ("stolen", "missing")]
    yield services.checks, active
    services.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_formatting_only_variant_of_a_registered_identifier_is_a_hit(registry, data):
    checks, active = registry
    report = data.draw(st.sampled_from(active))
    identifier = data.draw(st.sampled_from(report["identifiers"]))
    reading = data.draw(formatting_variants(identifier["value"]))
    outcome = checks.check(Actor.operator(), CheckQuery(identifier=reading)).outcome
    assert outcome.verdict == "hit"
    assert outcome.matches[0].report["external_ref"] == report["external_ref"]
    assert outcome.matches[0].match_type in {"exact", "normalized"}
