"""Benchmark: what verdicts mean on a registry of dense sequential serial ranges (issue 18).

    python bench/verdicts_bench.py --markdown
    python bench/verdicts_bench.py --densities 0.01 --es-url http://127.0.0.1:9250

Heavy equipment is numbered in sequence, so a machine never reported usually
sits a digit or two from one that was.  For each density the benchmark builds
a registry in which a share (0.1%, 1%, 10%) of one production range of
``--range-size`` consecutive running numbers is registered, for every family
of a fixed list of models (``MODELS``: PINs, truck VINs, attachment,
generator and light-tower serials, from ``registry.demo``), imports it
into the embedded engine and checks three sets of readings in-process through
``CheckService.decide`` (the ranking of every single and bulk check):

* serials of the same ranges that were never reported, checked as a bulk file
  checks them (``copied``): how many raise an alarm (``hit`` or
  ``possible_match``), and how many are listed as similar serials;
* strong-evidence misreadings of registered serials, typed: formatting and
  case, Cyrillic look-alike letters, letter/digit look-alikes, a 17-character
  value without its manufacturer code, and a selective worn tail (the whole
  running number, the value's last run of digits, plus two or three
  characters before it): how many raise an alarm with the right report first;
* typed readings of registered serials with one or two arbitrary typos
  (substitution, two substitutions, insertion, deletion, swapped neighbours):
  how often the right report is listed first, and how often no other
  registered value is as close to the reading as the right one (the most any
  ranking of these distances could reach).

The script runs unchanged on code from before issue 18 (the "before" column
of bench/RESULTS.md: run it from an export of that commit), where checks know
no reading source and verdicts have no similar serials.  With ``--es-url`` the
registry of the smallest density given is also loaded into Elasticsearch and
every reading's verdict, top match, tier and score are compared between the
two engines.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from workload import ROOT, machine, run_and_print

sys.path.insert(0, str(ROOT))
from registry.access import Actor  # noqa: E402
from registry.config import load_settings  # noqa: E402
from registry.demo import corrupt, generate_reports  # noqa: E402
from registry.demo.reports import ITEMS  # noqa: E402
from registry.services import Services, open_services  # noqa: E402
from search.normalize import normalize  # noqa: E402
from search.query import CheckQuery  # noqa: E402
from search.scoring import compare  # noqa: E402

# (manufacturer, model) of the items whose families make the registry: every family of each.
MODELS = (
    ("Caterpillar", "320D2"), ("Komatsu", "PC300-8"), ("Hitachi", "ZX330-5G"), ("Volvo", "EC220D"),
    ("XCMG", "XE215C"), ("SANY", "SY365H"),
    ("KAMAZ", "65115"), ("Sinotruk HOWO", "ZZ3257N3847A"), ("Shacman", "F3000 SX3256"), ("MAN", "TGS 41.400"),
    ("Epiroc", "HB 3100"), ("Cummins", "C550 D5"), ("Caterpillar", "GP 1.9 m3"), ("Atlas Copco", "HiLight V5+"),
    ("Amkodor", "342C4"),
)
DENSITIES = (0.001, 0.01, 0.1)
RANGE_SIZE = 20_000  # running numbers in each family's production range
SEED = 18
STRONG_KINDS = ("formatting", "cyrillic", "confusable", "missing_prefix", "selective_tail")
TYPO_KINDS = ("substitution", "two_substitutions", "insertion", "deletion", "transposition")
ALARMS = ("hit", "possible_match")
SELECTIVE_TAIL_EXTRA = (2, 3)  # characters read before the running number in a selective worn tail
BATCH = 200  # readings decided together, as a bulk check does
OPERATOR = Actor.operator()


@dataclasses.dataclass(frozen=True)
class Range:
    """One family's production range: consecutive running numbers, a share of them registered."""

    item: object
    family: object
    year: int
    first: int

    def value(self, offset: int) -> str:
        return self.family.value(self.first + offset, self.year)


def production_ranges(range_size: int) -> list[Range]:
    items = {(item.manufacturer, item.model): item for item in ITEMS}
    ranges = []
    for key in MODELS:
        item = items[key]
        for family in item.families:
            rng = random.Random(f"{SEED}:{family.key}")
            ranges.append(Range(item, family, item.years[1], rng.randrange(family.capacity - range_size)))
    return ranges


def build_registry(ranges: list[Range], density: float, range_size: int) -> tuple[list[dict], list[set[int]]]:
    """Reports for ``density`` of every range (their other fields from ``generate_reports``), and
    which offsets of each range are registered."""
    rng = random.Random(f"{SEED}:{density}")
    registered = [set(rng.sample(range(range_size), max(1, round(density * range_size)))) for _ in ranges]
    base = generate_reports(sum(map(len, registered)), SEED)
    reports = []
    for production, offsets in zip(ranges, registered):
        item = production.item
        for offset in sorted(offsets):
            report = next(base)
            report.update(category=item.category, manufacturer=item.manufacturer, model=item.model,
                          year=production.year,
                          description=f"{item.manufacturer} {item.model} {item.noun}",
                          identifiers=[{"type": production.family.id_type, "value": production.value(offset)}])
            report.pop("distinguishing_marks", None)
            reports.append(report)
    return reports, registered


def never_reported(ranges: list[Range], registered: list[set[int]], count: int, range_size: int,
                   rng: random.Random) -> list[dict]:
    readings = []
    while len(readings) < count:
        index = rng.randrange(len(ranges))
        offset = rng.randrange(range_size)
        if offset not in registered[index]:
            readings.append({"kind": "never_reported", "reading": ranges[index].value(offset), "report": None})
    return readings


def selective_tail(value: str, rng: random.Random) -> str:
    """The running number (last run of digits) and two or three characters before it."""
    canonical = normalize(value)
    end = len(canonical)
    while end and not canonical[end - 1].isdigit():
        end -= 1
    start = end
    while start and canonical[start - 1].isdigit():
        start -= 1
    keep = len(canonical) - start + rng.choice(SELECTIVE_TAIL_EXTRA)
    if keep >= len(canonical) or keep < 6:
        raise ValueError("no selective tail shorter than the value")
    return canonical[-keep:]


def damaged(reports: list[dict], kinds: tuple[str, ...], count: int, rng: random.Random) -> list[dict]:
    """Readings of active reports' identifiers, each kind in turn (skipping values a kind cannot apply to)."""
    active = [r for r in reports if r["status"] in ("stolen", "missing")]
    readings = []
    while len(readings) < count:
        kind = kinds[len(readings) % len(kinds)]
        report = rng.choice(active)
        value = report["identifiers"][0]["value"]
        try:
            reading = selective_tail(value, rng) if kind == "selective_tail" else corrupt(value, kind, rng)
        except ValueError:
            continue
        readings.append({"kind": kind, "reading": reading, "report": report})
    return readings


def query(reading: str, source: str) -> CheckQuery:
    """A check as the code under test can ask it (older code knows no reading source)."""
    fields = {f.name for f in dataclasses.fields(CheckQuery)}
    return CheckQuery(identifier=reading, **({"reading_source": source} if "reading_source" in fields else {}))


def answers(services: Services, readings: list[dict], source: str) -> tuple[list[dict], float]:
    """Each reading's verdict and matches; and milliseconds per check."""
    queries = [query(r["reading"], source) for r in readings]
    started = time.perf_counter()
    outcomes = [outcome for start in range(0, len(queries), BATCH)
                for outcome in (d.outcome for d in services.checks.decide(OPERATOR, queries[start:start + BATCH]))]
    elapsed_ms = (time.perf_counter() - started) * 1000 / max(1, len(queries))
    return [{"verdict": o.verdict, "matches": [
        {"ref": (m.report["external_ref"], m.report["reporting_agency"]["name"]),
         "value": m.identifier["value"] if m.identifier else None, "score": m.score,
         "tier": getattr(m, "tier", None)} for m in o.matches]} for o in outcomes], elapsed_ms


def ref(report: dict) -> tuple[str, str]:
    return report["external_ref"], report["reporting_agency"]["name"]


def right_first(reading: dict, answer: dict) -> bool:
    return bool(answer["matches"]) and answer["matches"][0]["ref"] == ref(reading["report"])


def strictly_closest(reading: dict, answer: dict) -> bool:
    """No other listed registered value is as close to the reading as the right one (by ``compare``)."""
    def similarity(value: str | None) -> float:
        comparison = compare(reading["reading"], value) if value else None
        return comparison.score if comparison else 0.0

    right = [similarity(m["value"]) for m in answer["matches"] if m["ref"] == ref(reading["report"])]
    others = [similarity(m["value"]) for m in answer["matches"] if m["ref"] != ref(reading["report"])]
    return bool(right) and max(right) > max(others, default=0.0)


def share(flags: list[bool]) -> float:
    return round(sum(flags) / max(1, len(flags)), 4)


def measure(strangers: list[dict], strong: list[dict], typed: list[dict],
            results: dict[str, tuple[list[dict], float]]) -> dict:
    (stranger_answers, stranger_ms), (strong_answers, strong_ms), (typed_answers, typed_ms) = (
        results["strangers"], results["strong"], results["typed"])
    stranger_verdicts = Counter(a["verdict"] for a in stranger_answers)
    strong_ok = [a["verdict"] in ALARMS and right_first(r, a) for r, a in zip(strong, strong_answers)]
    typed_ok = [a["verdict"] in ("possible_match", "similar_serials") and right_first(r, a)
                for r, a in zip(typed, typed_answers)]
    return {
        "never_reported": len(strangers),
        "never_reported_alarms": share([a["verdict"] in ALARMS for a in stranger_answers]),
        "never_reported_verdicts": dict(stranger_verdicts),
        "strong_misreadings": len(strong),
        "strong_alarm_right_first": share(strong_ok),
        "strong_by_kind": {kind: share([ok for r, ok in zip(strong, strong_ok) if r["kind"] == kind])
                           for kind in STRONG_KINDS},
        "typed_typos": len(typed),
        "typed_right_first": share(typed_ok),
        "typed_right_first_any_verdict": share([right_first(r, a) for r, a in zip(typed, typed_answers)]),
        "typed_right_listed": share([ref(r["report"]) in {m["ref"] for m in a["matches"]}
                                     for r, a in zip(typed, typed_answers)]),
        "typed_by_kind": {kind: share([ok for r, ok in zip(typed, typed_ok) if r["kind"] == kind])
                          for kind in TYPO_KINDS},
        "typed_strictly_closest": share([strictly_closest(r, a) for r, a in zip(typed, typed_answers)]),
        "typed_verdicts": dict(Counter(a["verdict"] for a in typed_answers)),
        "ms_per_check": {"never_reported": round(stranger_ms, 2), "strong": round(strong_ms, 2),
                         "typed": round(typed_ms, 2)},
    }


def run_engine(settings: dict, reports: list[dict], readings: dict[str, tuple[list[dict], str]]) -> tuple[dict, float]:
    services = open_services(load_settings(settings))
    try:
        started = time.perf_counter()
        summary = services.imports.import_rows(OPERATOR, enumerate(reports, start=1))
        import_seconds = time.perf_counter() - started
        assert summary.created == len(reports) and not summary.rejected, summary.rejected[:3]
        return {name: answers(services, batch, source) for name, (batch, source) in readings.items()}, import_seconds
    finally:
        if services.engine.admin is not None:  # Elasticsearch: the benchmark's indices go with it
            cluster = services.engine.reports.cluster  # type: ignore[attr-defined]
            names = list(cluster.client.indices.get(index=f"{cluster.prefix}-*"))
            if names:
                cluster.client.indices.delete(index=",".join(names))
        services.close()


def disagreements(one: dict, other: dict) -> int:
    def summary(answer: dict) -> tuple:
        top = answer["matches"][0] if answer["matches"] else {}
        return answer["verdict"], top.get("ref"), top.get("tier"), top.get("score")

    return sum(summary(a) != summary(b) for name in one for a, b in zip(one[name][0], other[name][0]))


def run(args: argparse.Namespace) -> dict:
    ranges = production_ranges(args.range_size)
    result = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "code": args.label, "families": len(ranges), "range_size": args.range_size, "densities": {}}
    for density in args.densities:
        rng = random.Random(f"{SEED}:readings:{density}")
        reports, registered = build_registry(ranges, density, args.range_size)
        readings = {
            "strangers": (never_reported(ranges, registered, args.never_reported, args.range_size, rng), "copied"),
            "strong": (damaged(reports, STRONG_KINDS, args.strong, rng), "typed"),
            "typed": (damaged(reports, TYPO_KINDS, args.typed, rng), "typed"),
        }
        with tempfile.TemporaryDirectory(prefix="irontrace-verdicts-") as workdir:
            sqlite, import_seconds = run_engine({"DB": str(Path(workdir) / "registry.db")}, reports, readings)
        figures = measure(readings["strangers"][0], readings["strong"][0], readings["typed"][0], sqlite)
        figures.update(reports=len(reports), import_seconds=round(import_seconds, 1))
        if args.es_url and density == min(args.densities):
            es, _ = run_engine({"ES_URL": args.es_url, "ES_INDEX_PREFIX": f"bench-verdicts-{uuid.uuid4().hex[:8]}"},
                               reports, readings)
            figures["elasticsearch_disagreements"] = disagreements(sqlite, es)
            figures["elasticsearch_readings"] = sum(len(batch) for batch, _ in readings.values())
        result["densities"][str(density)] = figures
        print(f"density {density}: {json.dumps(figures)}", file=sys.stderr)
    return result


def markdown(result: dict) -> str:
    densities = result["densities"]
    head = " | ".join(f"{float(d):.1%}".replace(".0%", "%") for d in densities)
    lines = [f"Code: {result['code']}; {result['families']} families, ranges of {result['range_size']:,} "
             f"running numbers; {result['machine']}; {result['date']}", "",
             f"| | {head} |", "| --- |" + " --- |" * len(densities)]

    def row(name: str, value) -> None:
        lines.append(f"| {name} | " + " | ".join(value(f) for f in densities.values()) + " |")

    row("reports", lambda f: f"{f['reports']:,}")
    row("never reported, copied: alarm (hit or possible match)", lambda f: f"{f['never_reported_alarms']:.1%}")
    row("never reported: verdicts",
        lambda f: ", ".join(f"{k} {v}" for k, v in sorted(f["never_reported_verdicts"].items())))
    row("strong misreadings: alarm with the right report first", lambda f: f"{f['strong_alarm_right_first']:.1%}")
    for kind in STRONG_KINDS:
        row(f"&nbsp;&nbsp;{kind}", lambda f, kind=kind: f"{f['strong_by_kind'][kind]:.1%}")
    row("typed typos: right report first, possible match or similar serial",
        lambda f: f"{f['typed_right_first']:.1%}")
    for kind in TYPO_KINDS:
        row(f"&nbsp;&nbsp;{kind}", lambda f, kind=kind: f"{f['typed_by_kind'][kind]:.1%}")
    row("typed typos: right report strictly the closest registered value",
        lambda f: f"{f['typed_strictly_closest']:.1%}")
    row("typed typos: right report listed", lambda f: f"{f['typed_right_listed']:.1%}")
    row("ms per check (never reported / strong / typed)",
        lambda f: " / ".join(str(v) for v in f["ms_per_check"].values()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--densities", type=lambda s: tuple(float(d) for d in s.split(",")), default=DENSITIES)
    parser.add_argument("--range-size", type=int, default=RANGE_SIZE)
    parser.add_argument("--never-reported", type=int, default=2000)
    parser.add_argument("--strong", type=int, default=1000)
    parser.add_argument("--typed", type=int, default=1000)
    parser.add_argument("--label", default="this worktree", help="What code ran (for the table).")
    parser.add_argument("--es-url", help="Also compare every verdict with Elasticsearch at the smallest density.")
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
