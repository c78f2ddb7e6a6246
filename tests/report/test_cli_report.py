from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from vfl.cli.report import report


def test_report_command_prints_the_path(sbt_out: Path) -> None:
    result = CliRunner().invoke(report, [str(sbt_out)])
    assert result.exit_code == 0, result.output
    assert f"report: {sbt_out / 'report.html'}" in result.output
    assert (sbt_out / "report.html").is_file() and (sbt_out / "plots" / "roc.svg").is_file()


def test_report_command_on_an_empty_folder_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(report, [str(tmp_path)])
    assert result.exit_code == 2
    assert "no summary.json" in result.output and "next step: run `vfl simulate" in result.output
