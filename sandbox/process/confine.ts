/** In-process confinement of a Bun plugin before its code loads (stub until the sandbox lands). */

/** Applies the sandbox policy passed by the runner in `AUTOKESTRA_SANDBOX`, then forgets it. */
export async function confineFromEnv(): Promise<void> {
  delete process.env.AUTOKESTRA_SANDBOX
}
