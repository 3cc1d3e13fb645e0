"""Human names and slider ranges for the model's attribute directions (CelebA-HQ names)."""

from __future__ import annotations

from backend.schemas import AttributeOut, AttributesOut, Limits
from worker.contracts import ModelInfo

#: The classifier's amounts are in units of √D · ŵ in normalised z_sem; the official demos use
#: about ±0.3, and beyond ±0.5 identity drifts. Models may override per attribute in
#: attributes.json ("ranges": {name: [min, max]}).
DEFAULT_RANGE = (-0.5, 0.5)
SLIDER_STEP = 0.01

# name → (label, note on the sign when it is not "more of the label")
LABELS: dict[str, tuple[str, str | None]] = {
    "Young": ("Age", "positive = younger, negative = older"),
    "Male": ("Gender", "positive = more masculine, negative = more feminine"),
    "Smiling": ("Smile", None),
    "Blond_Hair": ("Blond hair", None),
    "Black_Hair": ("Black hair", None),
    "Brown_Hair": ("Brown hair", None),
    "Gray_Hair": ("Grey hair", None),
    "Wavy_Hair": ("Wavy hair", None),
    "Straight_Hair": ("Straight hair", None),
    "Bangs": ("Bangs", None),
    "Bald": ("Bald", None),
    "Receding_Hairline": ("Receding hairline", None),
    "Eyeglasses": ("Glasses", None),
    "No_Beard": ("Beard", "positive = less beard (the direction is 'no beard')"),
    "Goatee": ("Goatee", None),
    "Mustache": ("Moustache", None),
    "Sideburns": ("Sideburns", None),
    "Wearing_Lipstick": ("Lipstick", None),
    "Heavy_Makeup": ("Make-up", None),
    "Pale_Skin": ("Pale skin", None),
    "Rosy_Cheeks": ("Rosy cheeks", None),
    "Mouth_Slightly_Open": ("Open mouth", None),
    "Narrow_Eyes": ("Narrow eyes", None),
    "Bags_Under_Eyes": ("Bags under eyes", None),
    "Big_Nose": ("Big nose", None),
    "Big_Lips": ("Big lips", None),
    "Pointy_Nose": ("Pointy nose", None),
    "High_Cheekbones": ("High cheekbones", None),
    "Arched_Eyebrows": ("Arched eyebrows", None),
    "Bushy_Eyebrows": ("Bushy eyebrows", None),
    "Double_Chin": ("Double chin", None),
    "Chubby": ("Chubby", None),
    "Oval_Face": ("Oval face", None),
    "Attractive": ("'Attractive' (CelebA label)", "a subjective annotator label; use with care"),
    "5_o_Clock_Shadow": ("Stubble", None),
    "Blurry": ("Blur", None),
    "Wearing_Earrings": ("Earrings", None),
    "Wearing_Hat": ("Hat", None),
    "Wearing_Necklace": ("Necklace", None),
    "Wearing_Necktie": ("Necktie", None),
}


def label(name: str) -> tuple[str, str | None]:
    return LABELS.get(name, (name.replace("_", " ").capitalize(), None))


def describe(info: ModelInfo, limits: Limits) -> AttributesOut:
    """The `/attributes` answer for a model."""
    attributes = []
    for name in info.attributes:
        text, note = label(name)
        low, high = info.ranges.get(name, DEFAULT_RANGE)
        attributes.append(
            AttributeOut(
                name=name,
                label=text,
                note=note,
                min=low,
                max=high,
                step=SLIDER_STEP,
                auroc=info.auroc.get(name),
            )
        )
    return AttributesOut(
        preset=info.preset,
        image_size=info.image_size,
        can_sample=info.can_sample,
        attributes=attributes,
        limits=limits,
    )
