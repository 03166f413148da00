"""The `report` stage as a package: discovery (manifest, records), statistics (summaries,
combine), the criterion and the verdict, tables and rendering, the stage and its command.
See docs/report.md."""

from calmodel.report.combine import combine_fits
from calmodel.report.criterion import Criterion
from calmodel.report.manifest import read_manifest
from calmodel.report.records import discover, load_record
from calmodel.report.stage import ReportResult, report

__all__ = ["Criterion", "ReportResult", "combine_fits", "discover", "load_record",
           "read_manifest", "report"]
