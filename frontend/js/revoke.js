// Superseded jobs are cancelled on the server (DELETE /jobs/{id}), not only left unwatched: a
// slider dragged across five values would otherwise queue five renders, and the one wanted would
// wait behind four nobody will look at. Each flow ("edit", "strip", "mix") has at most one job the
// page still waits for; a newer job of the same flow revokes it.
//
// A revoked job reads failed with code `cancelled`: the studio treats that as "replaced", never
// as an error.

import { cancelJob } from "./api.js";

export class Revoker {
  #current = new Map(); // flow → the id of the job the page waits for
  #generation = new Map(); // flow → how many times its jobs were forgotten

  /** What `drop` needs to know that the flow's jobs were not forgotten meanwhile. */
  ticket(flow) {
    return this.#generation.get(flow) ?? 0;
  }

  /** Job `id` now serves `flow`; the job it replaces, if any, is cancelled. */
  adopt(flow, id) {
    const old = this.#current.get(flow);
    this.#current.set(flow, id);
    // An identical request answers with the same job (the server reuses it): keep it then.
    if (old && old !== id) this.#send(old);
  }

  /** Job `id`, asked for with `ticket`, was replaced before the page started to wait for it:
   * cancel it, unless a newer identical request was answered with that same job, or its upload
   * was deleted meanwhile (`forget`). */
  drop(flow, id, ticket) {
    if (this.#current.get(flow) !== id && this.ticket(flow) === ticket) this.#send(id);
  }

  /** Job `id` of `flow` ended (succeeded or failed): nothing to cancel any more. */
  ended(flow, id) {
    if (this.#current.get(flow) === id) this.#current.delete(flow);
  }

  /** Nothing replaces the job of `flow` (e.g. every slider back at 0): cancel it. */
  revoke(flow) {
    const old = this.#current.get(flow);
    this.#current.delete(flow);
    if (old) this.#send(old);
  }

  /** Forget the jobs of `flows` without cancelling them: their upload is being deleted, and its
   * jobs with it (a DELETE of one would only be answered 404). */
  forget(...flows) {
    for (const flow of flows) {
      this.#current.delete(flow);
      this.#generation.set(flow, this.ticket(flow) + 1);
    }
  }

  #send(id) {
    // Best effort: a job that ended meanwhile answers 204 all the same, and one the server lost
    // costs nothing.
    cancelJob(id).catch(() => {});
  }
}
