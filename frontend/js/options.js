// How an edit is made, beside its amounts: holding age and gender fixed while the sliders move
// (a conditional edit: each direction made orthogonal to theirs on the server), and limiting the
// change to one part of the face, chosen from a menu or painted (or both: their union). All go into POST /manipulate with the edits (docs/service.md,
// "Editing beyond the sliders").

/** The attributes "Keep age and gender fixed" holds (those the model has). */
const KEPT = ["Young", "Male"];

/** The names sent as `keep` for `state`: none when the toggle is off or the model lacks them. */
export function keptAttributes(state) {
  if (!state.keep) return [];
  return keptAvailable(state.attributes);
}

/** Of the attributes the toggle holds, those `attributes` (GET /attributes) has. */
export function keptAvailable(attributes) {
  return KEPT.filter((name) => attributes.some((a) => a.name === name));
}

/** The parts of the face an edit can be limited to (POST /manipulate `region`), in menu order. */
export const REGIONS = ["mouth", "eyes", "face", "hair"];

/**
 * Whether the face being edited has the landmarks a region is found by: not a drawn face, nor a
 * photo whose encode result says `regions: false`.
 */
export const hasRegions = (latent) => Boolean(latent) && !latent.drawn && !latent.noRegions;

/**
 * The region sent for `state`: null for the whole face, and for a face without landmarks (the
 * server would refuse).
 */
export function editRegion(state) {
  return state.region && hasRegions(state.latent) ? state.region : null;
}

/**
 * The request options of an edit of `state`: `{keep, region, brush}` (brush: the painted mask,
 * null when nothing is painted; a drawn face can have one, it needs no landmarks).
 */
export function editOptions(state) {
  return { keep: keptAttributes(state), region: editRegion(state), brush: state.brush ?? null };
}
