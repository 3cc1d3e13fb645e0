"""``python -m cli attributes [PHOTO]``: the model's attributes, and a photo's classifier scores,
equal to what the pipeline itself computes; plus the progress bar's arithmetic."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from backend.settings import Settings
from backend.upload import prepare_upload
from cli.progress import Bar, wanted
from models.images import to_tensor
from models.pipeline import DiffAEPipeline
from tests.cli.command_line import DEMO, run_cli

DEMO_ATTRIBUTES = json.loads((DEMO / "attributes.json").read_text())["names"]


def test_lists_the_models_attributes_with_labels() -> None:
    done = run_cli("attributes", "--model", DEMO)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["NAME", "LABEL", "RANGE", "AUROC", "NOTE"]
    assert [row.split()[0] for row in rows] == DEMO_ATTRIBUTES
    young = rows[DEMO_ATTRIBUTES.index("Young")]
    assert "Age" in young and "-0.5..0.5" in young and "positive = younger, negative = older" in young


def test_scores_a_photo_as_the_pipeline_does(photos: Path) -> None:
    done = run_cli("attributes", photos / "astronaut.jpg", "--json", "--model", DEMO, "--threads", "1")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["face"], answer["faces"], answer["preset"]) == (0, 1, "demo64")
    scores = answer["scores"]
    assert list(scores.values()) == sorted(scores.values(), reverse=True)  # what she has most first
    assert sorted(scores) == sorted(DEMO_ATTRIBUTES)
    upload = prepare_upload((photos / "astronaut.jpg").read_bytes(), 0, 64, Settings())
    pipe = DiffAEPipeline.from_pretrained(DEMO)
    x_0 = to_tensor(Image.open(io.BytesIO(upload.aligned_png)))
    expected = pipe.attribute_scores(pipe.encode_semantic(x_0))[0]
    got = torch.tensor([scores[name] for name in pipe.attributes])
    torch.testing.assert_close(got, expected, atol=0.05, rtol=0.01)


def test_a_photo_that_fails_is_one_line_with_its_code(photos: Path) -> None:
    done = run_cli("attributes", photos / "notes.jpg", "--model", DEMO)
    assert done.returncode == 1
    assert done.stderr == (f"{photos / 'notes.jpg'}: unsupported_image: the upload is not a readable JPEG, "
                           "PNG or WebP image (26 bytes)\n")
    assert done.stdout == ""


def test_the_bar_fills_by_stages_and_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert not wanted(False, io.StringIO()) and not wanted(True, Terminal()) and wanted(False, Terminal())
    drawn = Terminal()
    bar = Bar(2, "edit", enabled=True, stream=drawn)
    encode, decode = bar.stage(0, 0.75), bar.stage(0.75, 0.25)
    encode(3, 6)
    assert bar.done == pytest.approx(0.375)
    encode(6, 6)
    decode(5, 5)
    assert bar.done == pytest.approx(1.0)
    bar.stage(1, 1)(1, 4)
    bar.move_to(1.1)  # never backwards
    assert bar.done == pytest.approx(1.25)
    bar.move_to(5)
    assert bar.done == 2
    bar.close()
    assert "edit" in drawn.getvalue() and "100%" in drawn.getvalue()
