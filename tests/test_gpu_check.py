"""scripts/gpu_check.py runs end to end (convert random official-layout weights, time every path,
print the table) on the CPU with the small preset, so that the GPU check is not first run on a GPU."""

from __future__ import annotations

import pytest

from scripts.gpu_check import main


def test_gpu_check_smoke_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--preset", "demo64", "--steps", "4", "--device", "cpu", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "converted random official-layout demo64 weights" in out
    table = [line for line in out.splitlines() if line.startswith(("| fp", "| bf"))]
    assert {line.split(" | ")[0] for line in table} == {"| fp32 ddim", "| fp16 ddim", "| bf16 ddim",
                                                        "| fp32 dpm++2m", "| fp16 dpm++2m", "| bf16 dpm++2m"}
    fp32 = next(line for line in table if line.startswith("| fp32 ddim"))
    assert "| 1.00× |" in fp32 and "| 0.000 | inf |" in fp32
