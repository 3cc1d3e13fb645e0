"""How good a slider taught from a few examples is, on real photos it was not taught from.

    python -m models.evaluation.taught --model models/weights/faces64 [--photos DIR] [--n 200]
        [--examples 20] [--amount 0.3] [--steps 20] [--out docs/evaluation_photos]

A person marks faces; here an independent judge does (`models.facegen.labels`: the landmark smile
logit, the age estimate), so the labels owe nothing to the model. For each property, the
`--examples` faces of the teaching pool (the first half of the photos) the judge rates highest are
the positives and the lowest the negatives (the paper's Table 3 setting: a few dozen labelled
faces); `models.teach` fits the direction exactly as POST /directions does. Then, on the held-out
half:

- accuracy: the direction's score (z_n · w) against the judge's label, top vs bottom third of the
  held-out faces by the judge (balanced accuracy at the median score, and AUROC);
- edit success: pushed by +amount along it (decoded, as the service does), the share of held-out
  faces whose judge measure moves the right way; the same for the model's own built-in slider for
  the property, for comparison.

The report is `taught.json` and `taught.md` in --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.evaluation.batching import Batched, Meter
from models.evaluation.metrics import auroc
from models.evaluation.photos import JUDGED, faces_and_model, judge_measures, to_judge, to_model
from models.examples import load as load_examples
from models.facegen.labels import Calibration, FaceMeasurer
from models.images import batch_to_tensor
from models.pipeline import DiffAEPipeline
from models.teach import MIN_EXAMPLES, TaughtDirection, teach

#: Properties a person might teach, each with the judge measure that labels it and the built-in
#: slider that does the same, for comparison.
PROPERTIES = {"Smile": "Smiling", "Youth": "Young"}


def _measure(pipe: DiffAEPipeline, run: Batched, measurer: FaceMeasurer, cal: Calibration,
             fit: TaughtDirection, builtin: str, j: int, z: torch.Tensor, x_T: torch.Tensor, z_n: np.ndarray,
             held: np.ndarray,
             base: np.ndarray, judged: np.ndarray, examples: int, amount: float, steps: int,
             with_builtin: bool = True) -> dict[str, Any]:
    """Held-out accuracy and edit success of one taught direction (and of the built-in slider)."""
    score = z_n[held] @ fit.direction
    third = len(held) // 3
    by_judge = np.argsort(judged[held, j])
    low, high = by_judge[:third], by_judge[-third:]
    labels = np.concatenate([np.zeros(third, bool), np.ones(third, bool)])
    scores = np.concatenate([score[low], score[high]])
    predicted = scores > np.median(scores)
    accuracy = float((np.mean(predicted[labels]) + np.mean(~predicted[~labels])) / 2)
    row: dict[str, Any] = {"builtin": builtin, "examples": examples, "cv_accuracy": fit.accuracy,
                           "held_out_accuracy": accuracy, "held_out_auroc": auroc(labels, scores)}
    custom = {"taught": torch.from_numpy(fit.direction)}
    for label, edits in (("taught", {"taught": amount}), ("built-in", {builtin: amount})):
        if label == "built-in" and (builtin not in pipe.attributes or not with_builtin):
            continue
        edited = pipe.manipulate(z[held], edits, custom=custom).cpu()
        x = run.decode(edited, x_T[held], steps, f"({builtin}, {label} +{amount:g})")
        change = judge_measures(measurer, cal, to_judge(x))[:, j] - base[:, j]
        row[f"{label}_edit_success"] = float(np.mean(change > 0))
    cls = pipe.classifier
    row["cosine_with_builtin"] = (float(fit.direction @ cls.direction(builtin).detach().cpu().numpy())
                                  if cls is not None and builtin in pipe.attributes else None)
    print(f"  {builtin}: held-out accuracy {accuracy:.2f}, edit success taught "
          f"{row['taught_edit_success']:.2f} / built-in {row.get('built-in_edit_success', float('nan')):.2f}",
          flush=True)
    return row


def evaluate(pipe: DiffAEPipeline, faces: np.ndarray, examples: int = 20, amount: float = 0.3,
             steps: int = 20, batch: int = 32, model_dir: str | Path | None = None) -> dict[str, Any]:
    """Accuracy and edit success of directions taught from `examples` + `examples` faces (of the
    photos' teaching half, and of `model_dir`'s bundled labelled faces when it has them)."""
    encode_steps = pipe.config.diffusion.encode_steps or pipe.config.diffusion.default_steps
    n = len(faces)
    pool, held = np.arange(n // 2), np.arange(n // 2, n)
    evaluations = n * (encode_steps + steps) + len(held) * steps * 3 * len(PROPERTIES)
    run = Batched(pipe, batch, Meter(evaluations, True))
    z, x_T = run.invert(to_model(faces, pipe.image_size), encode_steps)
    z_n = pipe.normalize_z(z).cpu().numpy()
    measurer, cal = FaceMeasurer(), Calibration.load()
    judged = judge_measures(measurer, cal, to_judge(run.decode(z, x_T, steps, "(unedited)")))
    base = judged[held]
    bundled = load_examples(model_dir) if model_dir is not None else None
    z_bundled = None
    if bundled is not None and bundled.preset == pipe.config.preset:
        codes = [pipe.encode_semantic(batch_to_tensor(bundled.images[k:k + 64]))
                 for k in range(0, len(bundled), 64)]
        z_bundled = pipe.normalize_z(torch.cat(codes)).cpu().numpy()
    out: dict[str, Any] = {}
    for prop, builtin in PROPERTIES.items():
        j = JUDGED.index(builtin)  # the judge measure of the property ("Young": minus the age)
        order = pool[np.argsort(judged[pool, j])]
        fits = {prop: teach(z_n[order[-examples:]], z_n[order[:examples]])}
        if z_bundled is not None and bundled is not None and builtin in bundled.attributes:
            # The page's third source: the model's bundled faces, by their labels (by eye), the
            # first `examples` of each side; the judge plays no part in the teaching.
            y = bundled.labels[:, bundled.attributes.index(builtin)]
            pos, neg = np.flatnonzero(y == 1)[:examples], np.flatnonzero(y == 0)[:examples]
            if min(len(pos), len(neg)) >= MIN_EXAMPLES:
                fits[f"{prop} (bundled faces)"] = teach(z_bundled[pos], z_bundled[neg])
        for name, fit in fits.items():
            out[name] = _measure(pipe, run, measurer, cal, fit, builtin, j, z, x_T, z_n, held, base, judged,
                                 examples, amount, steps, with_builtin=name == prop)
    return {"model": pipe.config.preset, "photos": n, "held_out": len(held), "amount": amount, "steps": steps,
            "properties": out}


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Sliders taught from examples, on held-out real photos",
        "",
        f"`python -m models.evaluation.taught --model ... --n {report['photos']}`: CelebA crops aligned by "
        f"our aligner, model `{report['model']}`. Each property is taught from the highest- and lowest-rated "
        "faces of the first half by an independent judge (landmark smile logit, age estimate); measured on "
        f"the {report['held_out']} held-out faces: accuracy of the direction's score against the judge (top "
        f"vs bottom third), and the share of faces the judge sees move the right way at +{report['amount']} "
        f"({report['steps']} DDIM steps), beside the model's built-in slider. Rows \"(bundled faces)\": "
        "taught instead from the model's bundled labelled faces (GET /examples; labels by eye, the first "
        "faces of each side; the page's \"Mark by label\" marks 30), measured on the same held-out "
        "photos.",
        "",
        "| property | examples (each side) | CV accuracy | held-out accuracy | held-out AUROC | edit success "
        "(taught) | edit success (built-in) | cos(taught, built-in) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for prop, r in report["properties"].items():
        def f(v: float | None) -> str:
            return "—" if v is None else f"{v:.2f}"

        lines.append(f"| {prop} | {r['examples']} | {f(r['cv_accuracy'])} | {f(r['held_out_accuracy'])} "
                     f"| {f(r['held_out_auroc'])} | {f(r['taught_edit_success'])} "
                     f"| {f(r.get('built-in_edit_success'))} | {f(r['cosine_with_builtin'])} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.evaluation.taught",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--photos", default=None, help="a folder of photos (default: the CelebA crops, fetched)")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--examples", type=int, default=20)
    p.add_argument("--amount", type=float, default=0.3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", type=Path, default=Path("docs/evaluation_photos"))
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    pipe, faces = faces_and_model(args.model, args.photos, args.n)
    report = evaluate(pipe, faces, args.examples, args.amount, args.steps, model_dir=args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "taught.json").write_text(json.dumps(report, indent=2))
    (args.out / "taught.md").write_text(render_markdown(report))
    print(f"wrote {args.out}/taught.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
