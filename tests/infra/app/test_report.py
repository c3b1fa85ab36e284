"""The report: files, summary numbers, figures and page, on a known history and on an empty store."""

from __future__ import annotations

import json
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from matplotlib.image import imread

from infra.app.report import FIGURES, REPORT_QUERIES, build_report, choose_bucket
from infra.app.report import figures as draw
from infra.queries import QueryParameterError, run_named, shipped
from tests.infra.analytics_rows import GATE_A, write_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONTEXT = {"scenario": "agrawal", "time_to_heal_s": 42.5, "phases": ["warm-up", "drift"]}


class Links(HTMLParser):
    """The ``src`` of every image and the ``href`` of every link of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.images.append(values["src"] or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")


def links(page: str) -> Links:
    parser = Links()
    parser.feed(page)
    return parser


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


@pytest.fixture
def report(analytics: Client, tmp_path: Path) -> Path:
    write_history(analytics)
    out = tmp_path / "run" / "report"
    index = build_report(
        analytics, out, title="insitu <demo> & co", context=CONTEXT, params={"final_events": 10, "bucket_s": 60}
    )
    assert index == out / "index.html"
    return out


def test_report_writes_every_file(report: Path) -> None:
    names = {p.relative_to(report).as_posix() for p in report.rglob("*") if p.is_file()}
    assert names == {"index.html", "summary.json", *FIGURES.values(), *(f"queries/{q}.sql" for q in REPORT_QUERIES)}
    for figure in FIGURES.values():
        assert_png(report / figure)
    for name in REPORT_QUERIES:
        assert (report / "queries" / f"{name}.sql").read_text("utf-8") == shipped()[name].sql


def test_summary_has_the_numbers_per_instance(report: Path) -> None:
    summary = json.loads((report / "summary.json").read_text("utf-8"))
    assert summary["title"] == "insitu <demo> & co"
    assert summary["context"] == CONTEXT
    assert summary["events_total"] == 27
    assert summary["dead_letters"] == {"undecodable": 3, "unknown_request": 1}
    assert summary["dead_letters_total"] == 4
    assert summary["commands"] == {"accepted": 1, "rejected": 2}
    assert summary["accuracy_bucket_s"] == 60
    assert sorted(summary["instances"]) == ["credit-a", "credit-b", "fraud-a", "fraud-b"]

    a = summary["instances"]["credit-a"]
    assert (a["route"], a["events"], a["correct_events"], a["accuracy"]) == ("credit", 20, 15, 0.75)
    assert (a["final_accuracy"], a["final_window_events"], a["last_served_version"]) == (0.9, 10, 4)
    assert [(v["version"], v["status"], v["parent_version"]) for v in a["versions"]] == [
        (3, "promoted", None),
        (4, "rolled_back", 3),
    ]
    assert [h["status"] for h in a["versions"][1]["history"]] == ["candidate", "promoted", "rolled_back"]
    assert (a["promotions"], a["rollbacks"]) == (2, 1)
    (finetune,) = a["finetunes"]
    assert finetune["version"] == 4
    assert finetune["latest_status"] == "rolled_back"
    for key, value in GATE_A.items():
        assert finetune[key] == pytest.approx(value)
    assert finetune["slice_gain"] == pytest.approx(0.3)
    assert a["traffic_share"] == {"v3": 0.5}
    assert a["weak_slices"] == []  # the latest profile has none left
    assert a["first_event_ts"] == "2026-11-24T10:00:00+00:00"

    b = summary["instances"]["credit-b"]
    assert [(v["version"], v["status"]) for v in b["versions"]] == [(3, "rejected")]
    assert [f["latest_status"] for f in b["finetunes"]] == ["rejected"]
    assert (b["rollbacks"], b["promotions"], b["traffic_share"]) == (0, 0, {"v2": 0.5})

    fraud_b = summary["instances"]["fraud-b"]  # routed to, never labelled
    assert (fraud_b["events"], fraud_b["accuracy"], fraud_b["traffic_share"]) == (0, None, {"v1": 0.25})

    queries = summary["queries"]
    assert list(queries) == list(REPORT_QUERIES)
    assert queries["instance_summary"]["parameters"]["final_events"] == 10
    assert queries["accuracy_over_time"]["rows"] == 6  # credit-a 4 minutes, credit-b 1, fraud-a 1
    assert queries["accuracy_over_time"]["parameters"]["since"] == "1970-01-01T00:00:00+00:00"
    assert summary["figures"] == FIGURES


def test_page_shows_figures_tables_and_sql(report: Path) -> None:
    page = (report / "index.html").read_text("utf-8")
    found = links(page)
    assert found.images == list(FIGURES.values())  # relative: the folder can move
    assert all((report / src).is_file() for src in found.images)
    sql_links = [href for href in found.links if href.endswith(".sql")]
    assert sql_links == [f"queries/{name}.sql" for name in REPORT_QUERIES]
    assert all((report / href).is_file() for href in sql_links)
    assert "<title>insitu &lt;demo&gt; &amp; co</title>" in page
    assert '<td>time_to_heal_s</td><td class="num">42.5</td>' in page
    assert "v3 promoted, v4 rolled_back" in page  # credit-a's versions in the instances table
    assert "rollback by alice" in page
    assert "undecodable #1" in page
    for name in REPORT_QUERIES:  # every query's SQL, escaped
        assert f"<pre>{escape(shipped()[name].sql)}</pre>" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_a_report_on_an_empty_store_still_renders(analytics: Client, tmp_path: Path) -> None:
    index = build_report(analytics, tmp_path, title="empty")
    summary = json.loads((tmp_path / "summary.json").read_text("utf-8"))
    assert summary["instances"] == {}
    assert (summary["events_total"], summary["dead_letters"], summary["context"]) == (0, {}, {})
    assert summary["accuracy_bucket_s"] == 1
    for figure in FIGURES.values():
        assert_png(tmp_path / figure)
    assert index.read_text("utf-8").count('<p class="note">no rows</p>') >= 6


def test_params_narrow_every_query_that_declares_them(analytics: Client, tmp_path: Path) -> None:
    write_history(analytics)
    build_report(analytics, tmp_path, title="fraud only", params={"route": "fraud"})
    summary = json.loads((tmp_path / "summary.json").read_text("utf-8"))
    assert sorted(summary["instances"]) == ["fraud-a", "fraud-b"]
    assert summary["dead_letters_total"] == 4  # dead letters belong to no route
    with pytest.raises(QueryParameterError, match=r"report parameter\(s\) rout are declared by no report query"):
        build_report(analytics, tmp_path / "typo", title="typo", params={"rout": "fraud"})
    assert not (tmp_path / "typo").exists()


def test_the_bucket_width_follows_the_time_span(analytics: Client, tmp_path: Path) -> None:
    write_history(analytics)  # events from 10:00:00 to 11:01:30: 3690 s
    build_report(analytics, tmp_path, title="auto")
    summary = json.loads((tmp_path / "summary.json").read_text("utf-8"))
    assert summary["accuracy_bucket_s"] == choose_bucket(3690) == 120


def test_figures_without_data_say_so() -> None:
    for figure in (
        draw.accuracy_over_time([], [], bucket_s=10),
        draw.traffic_share([], []),
        draw.finetune_effect([]),
    ):
        texts = [text.get_text() for ax in figure.axes for text in ax.texts]
        assert texts == [draw.NO_DATA]


def test_figures_mark_promotions_and_rollbacks(analytics: Client) -> None:
    write_history(analytics)
    versions = run_named(analytics, "version_timeline").records()
    traffic = run_named(analytics, "traffic_share_history").records()
    figure = draw.traffic_share(traffic, versions)
    credit, fraud = figure.axes
    assert [ax.get_title() for ax in (credit, fraud)] == ["Traffic share, route credit", "Traffic share, route fraud"]
    notes = [text.get_text().strip() for text in credit.texts]
    assert notes == ["credit-a v4 promoted", "credit-a v3 promoted; credit-a v4 rolled back"]
    assert len(fraud.texts) == 0
    legend = [text.get_text() for text in credit.get_legend().get_texts()]
    assert legend == ["credit-a v3", "credit-a v4", "credit-b v2", "promoted", "rolled back"]
