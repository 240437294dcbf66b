/** A state as a coloured badge (`data-state` names it for tests and styles). */
export function StateBadge({ state }: { state: string | undefined }) {
  if (!state) return <span class="muted">—</span>
  return <span class={`badge st-${state}`} data-state={state}>{state}</span>
}
