"""Reports of the analytics store: a self-contained HTML page, PNG figures, a JSON summary, the SQL.

``build_report(client, out_dir, title=..., context=...)`` runs the named queries of
``infra.queries`` on a clickhouse-connect client and writes, into ``out_dir``:
``index.html``, ``accuracy_over_time.png``, ``traffic_share.png``, ``finetune_effect.png``,
``summary.json`` and ``queries/NAME.sql``. Figures are drawn with matplotlib's Agg canvas
(no display needed); a figure with no data says so instead of failing.

Public names:

- ``build_report``, ``FIGURES`` (``infra.app.report.builder``): write a report.
- ``fetch``, ``ReportData``, ``REPORT_QUERIES``, ``choose_bucket`` (``infra.app.report.data``): its data.
- ``build_summary`` (``infra.app.report.summary``): the ``summary.json`` content.
"""

from infra.app.report.builder import FIGURES, build_report
from infra.app.report.data import REPORT_QUERIES, ReportData, choose_bucket, fetch
from infra.app.report.summary import build_summary

__all__ = ["FIGURES", "REPORT_QUERIES", "ReportData", "build_report", "build_summary", "choose_bucket", "fetch"]
