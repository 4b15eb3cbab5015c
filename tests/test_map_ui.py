"""What a leader sees on the maps and in the check summary: readable words, nothing hidden.

The browser tests open the maps of the test county in real headless Chromium (see
``tests/browser.py``) at a desktop size and click or measure what is on the screen.
"""

from __future__ import annotations

from gisgrid.analysis.checks.report import CHECKS, CheckReport, CheckResult


def _report_with_nesting(*items: dict[str, object]) -> CheckReport:
    results = {name: CheckResult(name, []) for name in CHECKS}
    results["nesting"] = CheckResult("nesting", list(items))
    return CheckReport(results, {"as_of": "2026-11-30"})


def test_summary_says_the_parent_is_missing_not_outside() -> None:
    orphan = {
        "level": "level3",
        "code": "430623101001001001",
        "parent_code": "430623101001009",
        "parent_missing": True,
        "outside_area_m2": 5000.0,
        "into_codes": [],
    }
    astray = {
        "level": "level3",
        "code": "430623101001002001",
        "parent_code": "430623101001002",
        "parent_missing": False,
        "outside_area_m2": 700.0,
        "into_codes": [],
    }
    zh = _report_with_nesting(orphan, astray).summary("zh").splitlines()
    line = next(s for s in zh if orphan["code"] in s)
    assert "上级网格缺失" in line and "越出" not in line
    line = next(s for s in zh if astray["code"] in s)
    assert "越出 430623101001002" in line and "缺失" not in line
    en = _report_with_nesting(orphan).summary("en")
    assert "parent missing 430623101001009" in en and "outside 430623101001009" not in en
