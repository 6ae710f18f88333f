"""Figures and tables of a study: heatmaps over (log K, log n), U-curves at fixed N, the K* table."""

from jaxdiv.report.report import summary_table, write_report

__all__ = ["summary_table", "write_report"]
