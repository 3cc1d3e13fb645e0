"""`python -m models.evaluation.bench` runs every path side by side and prints the table (a
smoke test on the small shipped model with few steps; the figures themselves are docs/benchmarks.md's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.evaluation.bench import main


def test_bench_prints_every_path_with_ratio_and_difference(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "bench.json"
    assert main(["--models", "demo64", "--steps", "4", "--repeats", "1",
                 "--paths", "fp32,onnxruntime-float32", "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    fp32 = next(line for line in table.splitlines() if line.startswith("| fp32 |"))
    assert "| 1.00× | exact |" in fp32  # the baseline against itself
    engine = next(line for line in table.splitlines() if line.startswith("| onnxruntime-float32 |"))
    cells = [c.strip() for c in engine.strip("|").split("|")]
    assert float(cells[1].removesuffix(" s")) > 0  # its first call (export + session) is measured
    assert float(cells[6].removesuffix(" dB")) >= 40  # fp32 engine: equal output
    (result,) = json.loads(out_json.read_text())["results"]
    assert result["trained"] and result["solver_steps"] == 2
    assert [row["path"] for row in result["rows"]] == ["fp32", "onnxruntime-float32"]


def test_bench_refuses_paths_without_the_baseline() -> None:
    with pytest.raises(SystemExit):
        main(["--paths", "bf16"])
