"""The served model's bundled labelled faces (`models.examples`): faces a person can mark when
teaching a slider (POST /directions names them `example:{n}`), with their labels to find them by.
They are generated faces from the model's training data, not personal data: no TTL, cached."""

from __future__ import annotations

import io

from fastapi import APIRouter, Response
from PIL import Image

from backend.routes.deps import Services, ServicesDep, errors
from backend.schemas import ExampleOut, ExamplesOut
from models.errors import UnknownImageError
from models.examples import EXAMPLE, Examples, load

router = APIRouter(tags=["directions"])

#: Bundled faces change only with the model files: browsers may keep them a day.
_CACHE = {"Cache-Control": "public, max-age=86400"}


def served_examples(services: Services) -> Examples | None:
    """The labelled faces of the served model (MODEL_DIR's, when its preset is the one the workers
    serve), or None."""
    examples = load(services.settings.model_dir)
    if examples is None or examples.preset != services.facts.get().preset:
        return None
    return examples


@router.get("/examples", response_model=ExamplesOut, responses=errors(503))
def listing(services: ServicesDep) -> ExamplesOut:
    """The bundled labelled faces of the served model (none when it ships none), each with its
    labels: mark them as having a property or not when teaching a slider (POST /directions)."""
    preset = services.facts.get().preset
    examples = served_examples(services)
    if examples is None:
        return ExamplesOut(preset=preset, source="", attributes=[], examples=[])
    return ExamplesOut(
        preset=preset, source=examples.source, attributes=examples.attributes,
        examples=[ExampleOut(example_id=f"{EXAMPLE}{i}", image_url=f"/examples/{i}.png",
                             labels=examples.label_dict(i)) for i in range(len(examples))])


@router.get("/examples/{index}.png", response_class=Response,
            responses={**errors(404, 503), 200: {"content": {"image/png": {}}}})
def image(index: int, services: ServicesDep) -> Response:
    """A bundled face, as the model sees it (PNG)."""
    examples = served_examples(services)
    if examples is None or not 0 <= index < len(examples):
        count = 0 if examples is None else len(examples)
        raise UnknownImageError(f"no bundled face {index}: the served model has {count}")
    out = io.BytesIO()
    Image.fromarray(examples.images[index]).save(out, format="PNG")
    return Response(out.getvalue(), media_type="image/png", headers=_CACHE)
