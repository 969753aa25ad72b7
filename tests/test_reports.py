"""Report sources: valid Quarto front matter using only documented formats/options; a real Quarto
render when the CLI is present (skipped with the reason otherwise)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from mmm_recovery.core import paths
from mmm_recovery.reporting.notebook import load_source, notebook_parameters
from mmm_recovery.reporting.render import REPORTS

# Keys and options documented by Quarto (quarto.org/docs/reference: formats/html, formats/typst,
# document front matter, execute options). Anything else is a typo Quarto would ignore or reject.
TOP_LEVEL = {
    "title",
    "subtitle",
    "author",
    "date",
    "abstract",
    "format",
    "execute",
    "toc",
    "number-sections",
    "bibliography",
    "lang",
    "crossref",
    "jupyter",
}
FORMATS = {
    "html": {
        "embed-resources",
        "toc",
        "number-sections",
        "code-fold",
        "theme",
        "toc-depth",
        "fig-width",
        "fig-height",
    },
    "typst": {"toc", "number-sections", "papersize", "margin", "fontsize", "columns", "toc-depth"},
}
EXECUTE = {"echo", "enabled", "warning", "error", "output", "eval", "freeze"}


def front_matter(name: str) -> dict:
    nb = load_source(paths.REPORTS / f"{name}.py")
    first = nb.cells[0]
    assert first.cell_type == "raw" and first.source.startswith("---"), (
        f"{name}: front matter must be the first raw cell"
    )
    return yaml.safe_load(first.source.strip().strip("-"))


@pytest.mark.parametrize("name", REPORTS)
def test_front_matter_is_valid_quarto(name):
    fm = front_matter(name)
    assert fm["title"]
    assert set(fm) <= TOP_LEVEL, set(fm) - TOP_LEVEL
    assert set(fm["format"]) == {"html", "typst"}
    for fmt, opts in fm["format"].items():
        opts = opts if isinstance(opts, dict) else {}
        assert set(opts) <= FORMATS[fmt], (fmt, set(opts) - FORMATS[fmt])
    assert fm["format"]["html"]["embed-resources"] is True
    assert set(fm.get("execute", {})) <= EXECUTE


def test_quarto_project_file_lists_the_reports():
    project = yaml.safe_load((paths.REPORTS / "_quarto.yml").read_text())
    assert project["project"]["render"] == [f"{n}.py" for n in REPORTS]


@pytest.mark.parametrize("name", REPORTS)
def test_report_parameters_are_the_stage_parameters(name):
    wanted = {"study", "metrics_dir", "full_metrics_dir"}  # what render.render passes
    assert set(notebook_parameters(paths.REPORTS / f"{name}.py")) == wanted


@pytest.mark.quarto
@pytest.mark.skipif(
    shutil.which("quarto") is None,
    reason="Quarto CLI not on PATH (not installable offline here; "
    "conda install -c conda-forge quarto)",
)
def test_quarto_renders_both_reports(tmp_path):
    from helpers import dvc, project_copy

    root = project_copy(tmp_path / "project")
    dvc(root, "repro")
    for name in REPORTS:
        assert (root / "reports" / "_site" / f"{name}.html").is_file()
        assert (root / "reports" / "_site" / f"{name}.pdf").is_file()


def test_channel_errors_are_signed_means_with_coverage_counts():
    import pandas as pd

    from mmm_recovery.reporting.tables import StudyMetrics, channel_errors

    rows = [
        ("base", 0, "bayesian", "tv", "roas", 0.10, 1.0),
        ("base", 1, "bayesian", "tv", "roas", 0.30, 0.0),
        ("base", 0, "bayesian", "search", "roas", -0.05, 1.0),
        ("base", 0, "bayesian", "tv", "adstock.alpha", 0.9, 0.0),
    ]
    comp = pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "replicate",
            "estimator",
            "channel",
            "quantity",
            "rel_error",
            "covered",
        ],
    )
    m = StudyMetrics({}, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), comp)
    t = channel_errors(m, "roas")
    assert t.to_dict("records") == [
        {"scenario": "base", "estimator": "bayesian", "tv": "+20% (1/2)", "search": "-5% (1/1)"}
    ]


def test_lift_test_effect_sets_a_tested_channel_beside_the_untested_scenarios():
    import pandas as pd

    from mmm_recovery.reporting.tables import StudyMetrics, lift_test_effect

    cols = ["scenario", "estimator", "channel", "quantity", "rel_error", "width", "truth"]
    rows = [
        ("lift", "bayesian", "search", "roas", 0.05, 0.2, 1.0),
        ("lift", "bayesian", "search", "roas", -0.15, 0.4, 2.0),
        ("lift", "bayesian", "tv", "roas", 0.9, 0.1, 1.0),  # not the tested channel
        ("base", "bayesian", "search", "roas", 0.30, 1.0, 1.0),
        ("noisy", "bayesian", "search", "roas", -0.50, 2.0, 1.0),
        ("base", "bayesian", "search", "adstock.alpha", 0.7, 0.1, 0.5),
    ]
    comp = pd.DataFrame(rows, columns=cols).assign(covered=[1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    study = {s: {"bayesian": {}} for s in ("base", "noisy", "lift")}
    m = StudyMetrics(study, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), comp)
    t = lift_test_effect(m, {"lift": ["search"]}).set_index("scenario")
    assert list(t.index) == ["lift", "without lift tests"]
    assert t.loc["lift", "mean |rel. error| (SE)"] == "0.100 (0.050)"
    assert t.loc["lift", "mean width / truth"] == "0.200" and t.loc["lift", "coverage"] == "1/2"
    assert t.loc["without lift tests", "mean |rel. error| (SE)"] == "0.400 (0.100)"
    assert t.loc["without lift tests", "coverage"] == "1/2"
    assert lift_test_effect(m, {}).empty


def test_offline_render_is_the_same_bytes_twice(tmp_path):
    """The offline route renders an executed notebook to the same HTML and PDF every time, and
    reads the front matter, callouts, formulas and figure captions of the Quarto source."""
    import base64
    import io

    import nbformat
    from matplotlib.figure import Figure

    from mmm_recovery.reporting import pandoc

    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1])
    png = io.BytesIO()
    fig.savefig(png, format="png")
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("#| label: fig-line\n#| fig-cap: A line.\nfig", id="c2")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(png.getvalue()).decode()}
        )
    ]
    nb.cells = [
        nbformat.v4.new_raw_cell("---\ntitle: T\nsubtitle: S\nformat: {html: {}}\n---", id="c0"),
        nbformat.v4.new_markdown_cell(
            "::: {.callout-note}\nA note.\n:::\n\nSome $x^2$ text.", id="c1"
        ),
        code,
    ]
    executed = tmp_path / "r.ipynb"
    nbformat.write(nb, executed)
    out = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        assert pandoc.render(executed, tmp_path / run, "note") == ["r.html", "r.pdf"]
        out.append([(tmp_path / run / f).read_bytes() for f in ("r.html", "r.pdf")])
    assert out[0] == out[1]
    page = out[0][0].decode()
    assert '<h1 class="title">T</h1>' in page and "callout-note" in page and "<math" in page
    assert 'id="fig-line"' in page and "A line." in page and "format" not in page


def test_a_cell_error_stops_the_offline_render(tmp_path):
    import nbformat

    from mmm_recovery.reporting import pandoc

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1/0", id="c0")
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="x")]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "r.ipynb")
    with pytest.raises(pandoc.RenderError, match=r"r.ipynb, cell 0: .*ZeroDivisionError"):
        pandoc.render(tmp_path / "r.ipynb", tmp_path, "note")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.ipynb"]  # no output, no scratch


def test_interval_figure_shows_an_estimate_outside_its_interval():
    """A bootstrap interval need not contain the full-data estimate (seen: the frequentist search
    ROAS 0.909 with interval [0.931, 1.012] with a lift test); the figure draws the interval from
    its bounds and the estimate where it is, and a channel without an interval as a point."""
    from matplotlib.collections import LineCollection

    from mmm_recovery.reporting import plots

    truth = {
        "channel_names": ["tv", "search"],
        "channels": {"tv": {"roas": 1.0}, "search": {"roas": 1.01}},
    }
    est = {
        "tv": {"roas": {"estimate": 0.95, "lower": None, "upper": None}},
        "search": {"roas": {"estimate": 0.909, "lower": 0.931, "upper": 1.012}},
    }
    fig = plots.interval_vs_truth({"frequentist": {"channels": est}}, truth, "roas")
    ax = fig.axes[0]
    (segments,) = [c.get_segments() for c in ax.collections if isinstance(c, LineCollection)]
    assert np.allclose(segments[0][:, 0], [0.931, 1.012])
    points = sorted(float(line.get_xdata()[0]) for line in ax.lines)
    assert points == pytest.approx([0.909, 0.95])


def test_prior_sensitivity_tables_count_flags_against_misses():
    """Flags use each fit's own threshold from fits.csv; the frequentist rows (no sensitivity)
    are left out; a miss is |rel. error| > ROAS_REL_TOLERANCE."""
    import pandas as pd

    from mmm_recovery.reporting.tables import (
        StudyMetrics,
        prior_sensitivity_by_channel,
        prior_sensitivity_vs_error,
    )

    nan = float("nan")
    cols = ["scenario", "replicate", "estimator", "channel", "quantity", "rel_error", "covered"]
    cols += ["prior_sensitivity", "likelihood_sensitivity"]
    comp = pd.DataFrame(
        [
            ("base", 0, "bayesian", "search", "roas", 0.30, 1.0, 0.07, 0.12),  # flagged, miss
            ("base", 1, "bayesian", "search", "roas", 0.10, 1.0, 0.06, 0.01),  # < rep 1's 0.08
            ("base", 0, "bayesian", "tv", "roas", -0.25, 0.0, 0.02, 0.2),  # not flagged, miss
            ("base", 1, "bayesian", "tv", "roas", 0.05, 1.0, 0.065, 0.2),  # rep 1 threshold 0.08
            ("base", 0, "bayesian", "tv", "beta", 0.9, 0.0, 0.5, 0.2),  # another quantity
            ("base", 0, "frequentist", "tv", "roas", 0.9, 0.0, nan, nan),
        ],
        columns=cols,
    )
    fits = pd.DataFrame(
        {
            "scenario": ["base"] * 3,
            "replicate": [0, 1, 0],
            "estimator": ["bayesian", "bayesian", "frequentist"],
            "prior_sensitivity_threshold": [0.05, 0.08, nan],
        }
    )
    m = StudyMetrics({}, fits, pd.DataFrame(), pd.DataFrame(), comp)
    by_channel = prior_sensitivity_by_channel(m, "roas")
    assert by_channel.to_dict("records") == [
        {"scenario": "base", "estimator": "bayesian", "search": "0.065 (1/2)", "tv": "0.043 (0/2)"}
    ]
    t = prior_sensitivity_vs_error(m).set_index("prior sensitivity")
    assert list(t["estimator"]) == ["bayesian", "bayesian"]
    assert t.loc["reaches threshold", "|rel. error| > 20%"] == "1/1"
    assert t.loc["below threshold", "|rel. error| > 20%"] == "1/3"
    assert t.loc["below threshold", "interval covers truth"] == "2/3"
    assert t.loc["reaches threshold", "prior-data conflict"] == "1"
    empty = StudyMetrics({}, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), comp.iloc[-1:])
    assert prior_sensitivity_vs_error(empty).empty


def test_prior_sensitivity_note_counts_skipped_fits():
    import pandas as pd

    from mmm_recovery.reporting.tables import StudyMetrics, prior_sensitivity_note

    fits = pd.DataFrame(
        {
            "estimator": ["bayesian", "bayesian", "bayesian", "frequentist"],
            "prior_sensitivity_threshold": [0.05, 0.05, float("nan"), float("nan")],
            "prior_sensitivity_skipped": [None, None, "hierarchical prior", None],
        }
    )
    m = StudyMetrics({}, fits, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert prior_sensitivity_note(m) == (
        "The prior sensitivity was computed in 2 of the 3 fits that compute it; skipped in 1 "
        "(hierarchical prior)."
    )
    m = StudyMetrics({}, fits.iloc[:2], pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert prior_sensitivity_note(m).endswith("in 2 of the 2 fits that compute it.")
    empty = StudyMetrics({}, fits[["estimator"]], pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert prior_sensitivity_note(empty) == "No fit computes a prior sensitivity."
