// The uploads this browser made and has not seen deleted, kept in localStorage so that "Delete my
// data" still reaches them after a reload or in a later visit (the page footer promises it). An
// upload id lets its holder edit and delete that upload, so the ids stay in this browser only, and
// an entry is dropped once the server says the upload is gone, or after MAX_AGE_MS at most.

const KEY = "diffae-studio.uploads";
const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

const valid = (entry) => typeof entry?.id === "string" && entry.id !== "" && Number.isFinite(entry.at)
  && (entry.alignedUrl === null || typeof entry.alignedUrl === "string");

function read() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    const now = Date.now();
    return Array.isArray(list) ? list.filter((e) => valid(e) && now - e.at < MAX_AGE_MS) : [];
  } catch {
    return []; // storage disabled (some private modes) or unreadable: nothing remembered
  }
}

function write(list) {
  try {
    if (list.length) localStorage.setItem(KEY, JSON.stringify(list));
    else localStorage.removeItem(KEY);
  } catch {
    // Storage full or disabled: deletion then only works until the page is reloaded.
  }
}

/** `[{id, alignedUrl, at}]`, oldest first. */
export const remembered = () => read();

/** Remember upload `id` (again, with its aligned face's URL once known). */
export function remember(id, alignedUrl = null) {
  const list = read();
  const old = list.find((e) => e.id === id);
  if (old) old.alignedUrl = alignedUrl ?? old.alignedUrl;
  else list.push({ id, alignedUrl, at: Date.now() });
  write(list);
}

/** Forget upload `id`: it was deleted or the server no longer has it. */
export function forget(id) {
  const list = read();
  const kept = list.filter((e) => e.id !== id);
  if (kept.length !== list.length) write(kept);
}
