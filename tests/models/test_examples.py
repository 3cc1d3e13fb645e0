"""The bundled labelled faces (`models.examples`, #17 item 1): the shipped files load and agree
with their models, demo64's are the drawn faces they say with the labels they were drawn with,
and a file whose parts disagree is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.examples import FILE, Examples, load, parse_id, save

WEIGHTS = Path(__file__).resolve().parents[2] / "models" / "weights"


@pytest.mark.parametrize("preset", ["demo64", "faces64"])
def test_a_shipped_model_s_labelled_faces_are_its_own_size_and_name_its_attributes(preset: str) -> None:
    model = WEIGHTS / preset
    examples = load(model)
    assert examples is not None, f"{model / FILE} is missing"
    config = json.loads((model / "config.json").read_text())
    size = config["autoencoder"]["image_size"]
    assert examples.preset == preset and examples.images.shape[1:] == (size, size, 3)
    assert len(examples) >= 100 and len(examples.seeds) == len(examples)
    names = json.loads((model / "attributes.json").read_text())["names"]
    assert set(examples.attributes) <= set(names)  # labels of the model's own attributes
    known = ~np.isnan(examples.labels)
    assert set(np.unique(examples.labels[known]).tolist()) == {0.0, 1.0}
    for k, name in enumerate(examples.attributes):  # both sides of every label are there to mark
        if name in ("Smiling", "Male", "Young"):
            assert 10 <= np.nansum(examples.labels[:, k]) <= known[:, k].sum() - 10, name
    assert examples.images.std() > 20  # faces, not a blank


def test_demo64_s_faces_are_the_drawn_faces_of_their_seeds_with_their_labels() -> None:
    from models.facegen.drawn import ATTRIBUTES, make_face

    examples = load(WEIGHTS / "demo64")
    assert examples is not None and examples.attributes == list(ATTRIBUTES)
    for i in (0, 57, len(examples) - 1):
        image, values = make_face(examples.seeds[i], examples.images.shape[1])
        assert np.array_equal(examples.images[i], image)
        assert examples.label_dict(i) == {a: int(v > 0.5) for a, v in zip(ATTRIBUTES, values, strict=True)}


def test_labelled_faces_round_trip_and_a_file_whose_parts_disagree_is_refused(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    labels = np.array([[1, np.nan], [0, 1], [np.nan, np.nan]], dtype=np.float32)
    ex = Examples(images=images, labels=labels, attributes=["Smiling", "Male"], preset="tiny", source="test",
                  seeds=[4, 5, 6])
    save(tmp_path / FILE, ex)
    back = load(tmp_path)
    assert back is not None and np.array_equal(back.images, images) and back.seeds == [4, 5, 6]
    assert back.label_dict(0) == {"Smiling": 1} and back.label_dict(2) == {}
    assert load(tmp_path / "elsewhere") is None
    with pytest.raises(ValueError, match="labels must be"):
        save(tmp_path / FILE, Examples(images, labels[:, :1], ["Smiling", "Male"], "tiny", "", [1, 2, 3]))
    with pytest.raises(ValueError, match="images must be"):
        save(tmp_path / FILE, Examples(images[..., 0], labels, ["Smiling", "Male"], "tiny", "", [1, 2, 3]))


@pytest.mark.parametrize(("face", "index"), [("example:0", 0), ("example:17", 17), ("example:", None),
                                             ("example:-1", None), ("example:1e3", None), ("0" * 32, None),
                                             ("example:1234567", None)])
def test_an_example_face_id_is_example_and_its_index(face: str, index: int | None) -> None:
    assert parse_id(face) == index
