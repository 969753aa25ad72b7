"""The reports rendered offline from a tiny synthetic metrics set: every number they show comes
from the metrics files, the HTML is self-contained and renders in a real headless browser
(formulas as MathML, every image loaded, no error), and the PDF has its pages, text and figures.

The metrics are made up (seeded) and written by the study's own writer, so the values the
reports must show are known without running a study; no value is typed here.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmm_recovery.core import paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.reporting import tables
from mmm_recovery.reporting.render import REPORTS, quarto_path, render

SMOKE = paths.STUDIES / "smoke.yaml"
QUANTITIES = ("adstock.alpha", "roas", "mroas", "curve_error")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
#: CI sets this (``.ci/run`` installs Debian's Chromium): there the browser test may not skip
REQUIRE_BROWSER = os.environ.get("MMM_REQUIRE_BROWSER") == "1"


def synthetic_metrics(out_dir: Path) -> None:
    """Write a metrics set for the smoke study: 2 replicates x 2 channels per scenario and
    estimator, seeded errors and coverage, one failed and one non-converged fit."""
    from mmm_recovery.evaluation.study import write_metrics

    spec = load_study(SMOKE)
    rng = np.random.default_rng(20261204)
    comp, fits = [], []
    for scen in spec.scenarios:
        for est in spec.estimators:
            for rep in range(2):
                fits.append(
                    {
                        "scenario": scen,
                        "replicate": rep,
                        "estimator": est,
                        "status": "ok",
                        "converged": bool(rep == 0 or est != "bayesian"),
                        "error": None,
                        "regret": rng.uniform(10, 500),
                        "regret_share_of_lift": rng.uniform(0.01, 0.6),
                        "true_lift_of_recommendation": rng.uniform(100, 900),
                        "predicted_lift": rng.uniform(100, 1500),
                        "decomp_rssd_true": 0.1 + 0.2 * (scen == "base"),
                        "decomp_rssd": rng.uniform(0.05, 0.3),
                        "spend_share_pull": rng.normal(0.3, 0.2),
                        "holdout_mape": rng.uniform(0.01, 0.1),
                    }
                )
                for channel in ("tv", "search"):
                    for quantity in QUANTITIES:
                        truth = rng.uniform(0.2, 2.0)
                        estimate = truth * (1 + rng.normal(0, 0.3))
                        width = rng.uniform(0.1, 1.0)
                        interval = quantity != "curve_error"
                        lower = estimate - width / 2
                        comp.append(
                            {
                                "scenario": scen,
                                "replicate": rep,
                                "estimator": est,
                                "channel": channel,
                                "quantity": quantity,
                                "converged": True,
                                "truth": truth,
                                "estimate": estimate,
                                "error": estimate - truth,
                                "rel_error": (estimate - truth) / truth,
                                "lower": lower if interval else np.nan,
                                "upper": lower + width if interval else np.nan,
                                "width": width if interval else np.nan,
                                "covered": float(lower <= truth <= lower + width)
                                if interval
                                else np.nan,
                                **{
                                    f"covered@{q:g}": float(rng.uniform() < q)
                                    if interval
                                    else np.nan
                                    for q in spec.study.calibration_levels
                                },
                            }
                        )
    fits.append({**fits[0], "replicate": 2, "status": "failed", "error": "synthetic failure"})
    write_metrics(spec, out_dir, pd.DataFrame(comp), pd.DataFrame(fits), synthetic_stability(rng))
    synthetic_sbc(spec, out_dir, rng)


def synthetic_stability(rng: np.random.Generator) -> pd.DataFrame:
    """A seed-stability summary: 2 datasets x 3 seeds of the smoke study's first scenario."""
    from mmm_recovery.evaluation import stability

    spec = load_study(SMOKE)
    scen = next(iter(spec.scenarios))
    rows = [
        {
            "scenario": scen,
            "replicate": rep,
            "estimator": est,
            "seed": seed,
            "status": "ok",
            "channel": channel,
            "quantity": "roas",
            "truth": 1.0 + k,
            "estimate": (1.0 + k) * (1 + rng.normal(0, 0.2)),
        }
        for est in spec.estimators
        for rep in range(2)
        for seed in range(3)
        for k, channel in enumerate(("tv", "search"))
    ]
    return stability.summarize(pd.DataFrame(rows))


#: the quantity the synthetic SBC makes fail (its ranks pile up low)
SBC_FAILING = "roas[tv]"


def synthetic_sbc(spec, out_dir: Path, rng: np.random.Generator) -> None:
    """SBC metrics of the smoke design's two arms: uniform ranks, but for :data:`SBC_FAILING` in
    the study arm."""
    from mmm_recovery.core import files
    from mmm_recovery.core.sbc_spec import SBCPower
    from mmm_recovery.evaluation import sbc, sbc_metrics

    settings = spec.sbc.model_copy(update={"simulations": 100, "power": SBCPower(repeats=200)})
    n = settings.ranks
    rows, fits, decisions = [], [], []
    for arm in settings.arms:
        for i in range(settings.simulations):
            converged = i % 10 != 0
            fits.append(
                {
                    "arm": arm,
                    "simulation": i,
                    "converged": converged,
                    "divergences": int(i % 25 == 0),
                }
            )
            decisions.append(
                {
                    "arm": arm,
                    "simulation": i,
                    "predicted_lift": 1000.0 + 10 * i,
                    "true_lift": 1000.0 + 10 * i + rng.normal(0, 50),
                    "regret": 5.0,
                    "true_revenue_current": 1e5,
                }
            )
            for q in ("adstock_alpha[tv]", SBC_FAILING, "log_likelihood"):
                failing = q == SBC_FAILING and arm == "study"
                rank = rng.integers(0, n // 3) if failing else rng.integers(0, n + 1)
                rows.append(
                    {
                        "arm": arm,
                        "simulation": i,
                        "quantity": q,
                        "rank": int(rank),
                        "truth": rng.normal(),
                        "posterior_mean": 1.0,
                        "posterior_sd": 0.5,
                        "converged": converged,
                    }
                )
    ranks, fits_df = pd.DataFrame(rows), pd.DataFrame(fits)
    decisions_df = pd.DataFrame(decisions)
    files.write_csv(out_dir / sbc.RANKS_FILE, ranks)
    files.write_csv(out_dir / sbc.FITS_FILE, fits_df)
    files.write_csv(out_dir / sbc.DECISIONS_FILE, decisions_df)
    files.write_json(
        out_dir / sbc.METRICS_FILE,
        sbc_metrics.metrics(ranks, fits_df, decisions_df, settings, 1),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if quarto_path():
        pytest.skip("Quarto is on PATH: the offline route is not the one rendered")
    root = tmp_path_factory.mktemp("reports")
    synthetic_metrics(root / "metrics")
    render(list(REPORTS), str(SMOKE), str(root / "metrics"), root / "_site")
    return root


def test_render_record_names_the_offline_route(site):
    record = json.loads((site / "_site" / "render.json").read_text())
    assert set(record) == set(REPORTS)
    for name, entry in record.items():
        assert entry["renderer"] == "pandoc" and entry["pdf"].startswith("typst ")
        assert entry["files"] == [f"{name}.html", f"{name}.pdf"]
        for produced in entry["files"]:
            assert (site / "_site" / produced).stat().st_size > 0
    assert not list((site / "_site").glob(".*.render")), "scratch folders left behind"


def test_every_summary_number_is_in_both_reports(site):
    """Recompute the summary table from the metrics files; each value is a table cell of the HTML
    and a word of the PDF text."""
    m = tables.StudyMetrics.load(site / "metrics")
    spec = load_study(SMOKE)
    for name, part in itertools.product(REPORTS, tables.SUMMARY_PARTS):
        table = tables.summary_table(m, part)
        assert len(table) == len(spec.scenarios) * len(spec.estimators)
        page = html.unescape((site / "_site" / f"{name}.html").read_text())
        cells = set(re.findall(r"<td[^>]*>([^<]*)</td>", page))
        text = pdf_text(site / "_site" / f"{name}.pdf")
        for _, row in table.iterrows():
            for col, value in row.items():
                assert value in cells, f"{name}.html lacks {col}={value} ({row['scenario']})"
                assert value in text, f"{name}.pdf lacks {col}={value} ({row['scenario']})"


def test_html_is_self_contained(site):
    """No script, style sheet or image is fetched: no http(s) reference in src/href of the tags
    that load things, and no <script> at all (formulas are MathML)."""
    for name in REPORTS:
        page = (site / "_site" / f"{name}.html").read_text()
        assert "<script" not in page
        loads = re.findall(r"<(?:link|img|script|iframe)\b[^>]*>", page)
        assert loads and not [t for t in loads if re.search(r"(src|href)=\"https?:", t)]
    assert "<math" in (site / "_site" / "methodology.html").read_text()


def test_tables_are_whole_and_have_no_index_column(site):
    page = (site / "_site" / "model_card.html").read_text()
    assert "rows x" not in page and "…" not in page and "..." not in page
    header = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert "" not in header, "a table with an unnamed (index) column"


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    text = text.replace("\u2212", "-")  # Typst sets a minus sign before a digit
    text = text.replace("\u200b", "")  # break opportunities in table identifiers
    text = re.sub(r"([_/]) ", r"\1", text)  # ... where a cell wrapped after one
    return re.sub(r"\s+", " ", text)  # a table cell may wrap inside its column


def test_pdf_has_pages_text_and_figures(site):
    from pypdf import PdfReader

    for name, headings, figures in (
        ("model_card", ("The answer at a glance", "Limitations and out-of-scope use"), 2),
        ("methodology", ("Adstock: carry-over of spend", "References"), 4),
    ):
        reader = PdfReader(site / "_site" / f"{name}.pdf")
        assert len(reader.pages) >= 3
        text = pdf_text(site / "_site" / f"{name}.pdf")
        for heading in headings:
            assert heading in text, (name, heading)
        images = sum(len(page.images) for page in reader.pages)
        assert images >= figures, f"{name}.pdf has {images} images, expected >= {figures}"


@pytest.mark.skipif(
    not (BROWSER and DRIVER) and not REQUIRE_BROWSER,
    reason="Chromium and chromedriver not found (Debian: apt-get install chromium "
    "chromium-driver; .ci/run installs them)",
)
def test_reports_render_in_a_headless_browser(site):
    """Debian's Chromium opens each report from disk, with the network off: every image is
    decoded with a size, every formula is laid out as MathML, and nothing shows an error."""
    assert BROWSER and DRIVER, "MMM_REQUIRE_BROWSER=1 but Chromium/chromedriver are missing"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={site / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        for name in REPORTS:
            driver.get((site / "_site" / f"{name}.html").as_uri())
            state = driver.execute_script(
                """
                const imgs = [...document.images];
                const math = [...document.querySelectorAll('math')];
                return {
                  images: imgs.length,
                  broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).length,
                  math: math.length,
                  flat_math: math.filter(m => m.getBoundingClientRect().width === 0).length,
                  text: document.body.innerText,
                };
                """
            )
            assert state["images"] >= 2 and state["broken"] == 0, (name, state["broken"])
            for marker in ("Traceback", "Error:", "$\\", "NaN"):
                assert marker not in state["text"], (name, marker)
            if name == "methodology":
                assert state["math"] >= 10 and state["flat_math"] == 0, state["math"]
    finally:
        driver.quit()


def findings_page(tmp_path: Path) -> str:
    """The findings page written by its command from :func:`synthetic_metrics` in ``tmp_path``."""
    from mmm_recovery.reporting import findings

    synthetic_metrics(tmp_path / "metrics")
    out = tmp_path / "findings.md"
    findings.main(
        ["--study", str(SMOKE), "--metrics-dir", str(tmp_path / "metrics"), "--out", str(out)]
    )
    return out.read_text()


def test_findings_page_shows_the_metrics_numbers(tmp_path):
    """The README's findings page: every scenario's coverage and mean error of the synthetic
    metrics, recomputed here from comparisons.csv as channel averages (each channel weighing the
    same), is on the page; failed fits are counted."""
    from mmm_recovery.core import files
    from mmm_recovery.reporting import findings

    page = findings_page(tmp_path)
    comp = pd.read_csv(tmp_path / "metrics" / "comparisons.csv")
    for quantity, label in findings.HEADLINE:
        section = page.split(f"### {label}\n", 1)[1].split("\n#", 1)[0]
        for (scen, est), g in comp[comp["quantity"] == quantity].groupby(["scenario", "estimator"]):
            by_channel = g.groupby("channel")
            coverage = by_channel["covered"].mean().mean()
            mean = by_channel["rel_error"].apply(lambda x: x.abs().mean()).mean()
            row = next(r for r in section.splitlines() if r.startswith(f"| {scen} | {est} |"))
            assert f"| {coverage:.2f} [" in row and f"| {mean:.3f} (" in row, (scen, est, quantity)
    study = files.read_json(tmp_path / "metrics" / "study.json")
    for scen, per_est in study.items():
        for est, v in per_est.items():
            assert (
                f"| {scen} | {est} | {v['fits']} | {v['failed']} | {v['not_converged']} |" in page
            )
    assert sum(v["failed"] for per_est in study.values() for v in per_est.values()) == 1
    # the optimizer's curse: mean predicted and true lift of the advice, recomputed from fits.csv
    fits = pd.read_csv(tmp_path / "metrics" / "fits.csv")
    for (scen, est), g in fits[fits["status"] == "ok"].groupby(["scenario", "estimator"]):
        v = study[scen][est]
        assert v["predicted_lift_mean"] == pytest.approx(g["predicted_lift"].mean(), rel=1e-5)
        assert v["true_lift_mean"] == pytest.approx(
            g["true_lift_of_recommendation"].mean(), rel=1e-5
        )
        predicted = tables.fmt_with_se(v["predicted_lift_mean"], v["predicted_lift_mean_se"])
        true = tables.fmt_with_se(v["true_lift_mean"], v["true_lift_mean_se"])
        assert f"| {predicted} | {true} |" in page, (scen, est)
    assert not list(tmp_path.glob(".findings*")), "a temporary file was left behind"


def test_methodology_states_the_sbc_verdicts_from_its_metrics(site):
    """The SBC section's sentences and tables come from sbc.json: the failing quantity is named,
    the counts, power and contraction are the metrics' own, and both arms' figures are in the
    HTML."""
    from mmm_recovery.core import files

    metrics = files.read_json(site / "metrics" / "sbc.json")
    assert metrics["failed"] == [f"study/{SBC_FAILING}"]
    page = html.unescape((site / "_site" / "methodology.html").read_text())
    study = metrics["arms"]["study"]
    assert f"{study['simulations']} simulations, {study['converged']} met every convergence" in page
    assert f"1 fail: {SBC_FAILING}" in page
    assert f"{study['power']['narrow']['power']:.2f} against a posterior sd 20% too narrow" in page
    cells = set(re.findall(r"<td[^>]*>([^<]*)</td>", page))
    for name, q in study["quantities"].items():
        assert name in cells and f"{q['p_value']:.3g}" in cells and q["verdict"] in cells
        assert ("weak" if q["weak_test"] else "informative") in cells
    assert "contraction" in page
    assert "design: ECDF of each quantity" in page and "SBC with lift tests" in page
    assert SBC_FAILING in pdf_text(site / "_site" / "methodology.pdf")


def test_methodology_states_the_calibration_curve_from_its_metrics(site):
    """The calibration section's figure is in the report and its sentence states the one
    rule's counts per estimator, recomputed here from the metrics."""
    from mmm_recovery.evaluation import calibration as cal
    from mmm_recovery.reporting import verdicts

    m = tables.StudyMetrics.load(site / "metrics")
    page = html.unescape((site / "_site" / "methodology.html").read_text())
    assert "Empirical coverage of the ROAS intervals against their nominal level" in page
    v = verdicts.coverage_verdicts(m, "roas")
    for est, g in v.groupby("estimator"):
        counts = (
            f"{est}: of {len(g)} cells, {(g['verdict'] == cal.UNDER).sum()} under-cover, "
            f"{(g['verdict'] == cal.OVER).sum()} over-cover, "
            f"{(g['verdict'] == cal.NOMINAL).sum()} are not distinguishable from nominal"
        )
        assert counts in page, est


def test_both_reports_open_with_what_the_study_supports(site):
    """Each report opens with what the study supports, from the one calibration rule and the
    paired contrasts: every supported claim, the pooled calibration table's verdict per
    estimator and level; then a compact per-scenario table whose verdicts state their power;
    and its calibration section states the same rule's counts over every level."""
    from mmm_recovery.evaluation import calibration as cal
    from mmm_recovery.reporting import supported, verdicts

    m = tables.StudyMetrics.load(site / "metrics")
    table = verdicts.coverage_verdicts(m, "roas")
    assert len(table) and (table["scenario"] == "all").any()
    claims = supported.supported_findings(m)
    assert claims
    pooled = supported.pooled_calibration(m)
    for name in ("model_card", "methodology"):
        page = html.unescape((site / "_site" / f"{name}.html").read_text())
        page = page.replace("\u2019", "'")  # pandoc's smart quotes
        assert page.index("What the study supports") < page.index("Per scenario"), name
        for claim in claims:
            assert claim.replace("|", "") in page.replace("|", ""), (name, claim)
        cells = set(re.findall(r"<td[^>]*>([^<]*)</td>", page))
        assert {v for row in pooled.itertuples(index=False) for v in row} <= cells, name
        for est in m.estimators:
            family = table[table["estimator"] == est]
            level = family[
                ((family["nominal"] - m.interval_level(est)).abs() < 1e-9)
                & (family["scenario"] != "all")
            ]
            assert (level["verdict"] == cal.NOMINAL).any() <= ("could miss" in page)
            counts = (
                f"{est}: of {len(family)} cells, {(family['verdict'] == cal.UNDER).sum()} "
                f"under-cover, {(family['verdict'] == cal.OVER).sum()} over-cover, "
            )
            assert counts in page, (name, est)


def test_findings_page_states_the_sbc_verdicts(tmp_path):
    from mmm_recovery.core import files
    from mmm_recovery.reporting.sbc_plots import summary

    page = findings_page(tmp_path)
    metrics = files.read_json(tmp_path / "metrics" / "sbc.json")
    assert f"**1 fail**: `study/{SBC_FAILING}`" in page
    assert summary(metrics) in page


#: Typst that records, for every table cell, the width its content has and its widest word:
#: a word wider than its cell prints over the next column (``<cellfit>`` metadata)
CELL_PROBE = """\
#let _str(c) = if type(c) == str { c } else if c == none { "" } else if c.func() == [ ].func() { " " } else if c.has("text") { if type(c.text) == str { c.text } else { _str(c.text) } } else if c.has("children") { c.children.map(_str).join("", default: "") } else if c.has("body") { _str(c.body) } else if c.has("child") { _str(c.child) } else { "" }
#show table.cell: it => layout(size => {
  let s = _str(it.body)
  let words = s.split(regex("[\\s\\u{200B}_/]+")).filter(x => x != "")
  let w = calc.max(0pt, ..words.map(x => measure(text(x)).width))
  [#metadata((avail: size.width.pt(), widest: w.pt(), text: s)) <cellfit>]
  it
})
"""


@pytest.mark.parametrize("report", REPORTS)
def test_every_table_fits_its_pdf_page(site, report, tmp_path):
    """Every table cell of the PDF is at least as wide as its widest unbreakable word (so no
    column prints over the next), and table figures may break across pages (so the last rows
    do not run off the page). Measured by Typst on the report's own Typst source."""
    import json

    import typst

    from mmm_recovery.reporting import pandoc

    md = tmp_path / f"{report}.md"
    md.write_text(pandoc.notebook_markdown(site / "_site" / f"{report}.ipynb", tmp_path / "media"))
    source = pandoc.typst_source(md)
    assert "set block(breakable: true)" in source.split("#show: doc")[0]
    typ = tmp_path / f"{report}.typ"
    typ.write_text(CELL_PROBE + source)
    cells = json.loads(typst.query(str(typ), "<cellfit>", field="value", root=str(tmp_path)))
    assert len(cells) > 50
    over = [c for c in cells if c["widest"] > c["avail"] + 0.5]
    assert not over, [(round(c["avail"]), round(c["widest"]), c["text"][:40]) for c in over[:10]]
