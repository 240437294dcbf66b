/** The container's HEALTHCHECK: exit 0 when GET /health answers `ok` on the configured port (the image has no curl). */
const port = process.env.WORKFLOW_SERVER_PORT ?? '7233'
try {
  const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(4000) })
  const body = (await r.json()) as { status?: string }
  process.exit(r.ok && body.status === 'ok' ? 0 : 1)
} catch {
  process.exit(1)
}

export {}
