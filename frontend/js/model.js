// What people should know about the model this server runs, said where they look (the top of the
// page): its name and, for a small demo model, what to expect of it. The server tells the name
// (GET /healthz `model`: what the workers serve; GET /attributes `preset`, `image_size`); what a
// bundled model was trained on is in its model card (models/weights/*/README.md), summed up here.

/** Below this face size (px) a model is one of the small CPU demos, not the paper's 128/256 px. */
const FULL_SIZE = 128;

/** The bundled models' limits, from their model cards. */
const KNOWN = {
  demo64: "It was trained only on drawn cartoon faces, so a real photo comes back looking drawn.",
  faces64: "It was trained briefly, on synthetic faces, so faces come back soft and edits are coarse.",
};

/**
 * `{name, small, title, detail}` for the notice at the top of the page, or null before the server
 * has named its model.
 */
export function describeModel(serving, model) {
  const name = serving ?? model?.preset ?? null;
  if (!name) return null;
  const size = model?.preset === name ? model.imageSize : null;
  const small = name in KNOWN || (size !== null && size < FULL_SIZE);
  if (!small) return { name, small, title: "", detail: "" };
  return {
    name,
    small,
    title: `This server runs ${name}, a small demo model${size ? ` (${size} × ${size} px faces)` : ""}.`,
    detail: `${KNOWN[name] ?? "Faces come back soft and edits are coarse."} `
      + "The paper's quality needs its official FFHQ model on the server.",
  };
}
