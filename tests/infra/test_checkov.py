"""checkov on infra/: no failed check, and every check the template skips says why.

checkov lives in a virtualenv of its own (``make install`` builds it in ``.venv/checkov``):
it pins packages the project must not be held to. It exits 0 on files it cannot parse, so
the assertions read its JSON report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CHECKOV = Path(sys.prefix) / "checkov" / "bin" / "checkov"

# A suppression comment inside a resource: `// checkov:skip=CKV_AZURE_35: why`.
SUPPRESSION = re.compile(r"//\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?$")
MIN_REASON_WORDS = 6
# checkov 3.3.30 runs 20 checks that apply to these resources and pass; a drop means checks
# stopped applying (a resource checkov no longer recognizes), not that the template improved.
MIN_PASSED = 20


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make test` (or `make install`)")
    run = subprocess.run(
        [
            str(CHECKOV),
            "--skip-download",
            "--framework",
            "bicep",
            "--directory",
            str(INFRA),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.stdout, f"checkov printed nothing (exit {run.returncode}): {run.stderr}"
    parsed = json.loads(run.stdout)
    assert isinstance(parsed, dict), "expected one report, for the bicep framework"
    parsed["exit_code"] = run.returncode
    return parsed


def _suppressions() -> dict[str, str]:
    """Check id -> reason, from the suppression comments in the templates."""
    found: dict[str, str] = {}
    for path in sorted(INFRA.glob("*.bicep")):
        for line in path.read_text().splitlines():
            match = SUPPRESSION.search(line)
            if match:
                check, reason = match.group(1), (match.group(2) or "").strip()
                assert check not in found, f"{check} is suppressed twice"
                found[check] = reason
    return found


def test_checkov_parses_every_template(report: dict[str, Any]) -> None:
    assert report["check_type"] == "bicep"
    assert report["summary"]["parsing_errors"] == 0
    assert report["results"]["parsing_errors"] == []
    assert report["summary"]["resource_count"] > 0


def test_no_check_fails(report: dict[str, Any]) -> None:
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]

    assert failed == []
    assert report["summary"]["failed"] == 0
    assert report["exit_code"] == 0


def test_the_checks_that_matter_ran_and_passed(report: dict[str, Any]) -> None:
    passed = {check["check_id"] for check in report["results"]["passed_checks"]}

    assert report["summary"]["passed"] >= MIN_PASSED
    assert {
        "CKV_AZURE_3",  # storage: HTTPS only
        "CKV_AZURE_44",  # storage: TLS 1.2
        "CKV_AZURE_34",  # containers: no public access
        "CKV_AZURE_14",  # app: HTTPS only
        "CKV_AZURE_145",  # function app: TLS 1.2
        "CKV_AZURE_78",  # app: FTP off
        "CKV_AZURE_71",  # app: managed identity
    } <= passed


def test_every_suppression_gives_a_reason() -> None:
    suppressions = _suppressions()

    assert suppressions, "expected the documented suppressions in infra/main.bicep"
    for check, reason in suppressions.items():
        assert len(reason.split()) >= MIN_REASON_WORDS, f"{check}: reason too short: {reason!r}"


def test_checkov_skips_exactly_the_suppressed_checks(report: dict[str, Any]) -> None:
    suppressions = _suppressions()
    skipped = {
        check["check_id"]: check["check_result"]["suppress_comment"].strip()
        for check in report["results"]["skipped_checks"]
    }

    # A comment that skips nothing (wrong id, or outside its resource) shows up here too.
    assert skipped == suppressions
    assert report["summary"]["skipped"] == len(suppressions)
