/** Reads a request body as text with a byte cap, refusing it by Content-Length or as soon as the stream passes the cap. */

/** The text, or how many bytes were seen when the cap was passed (`exact` when Content-Length said so). */
export type CappedBody = { ok: true; text: string } | { ok: false; bytes: number; exact: boolean }

/** Never buffers more than `max` bytes (+ one chunk) of an oversized body, and stops reading it. */
export async function readCappedBody(request: Request, max: number): Promise<CappedBody> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (Number.isFinite(declared) && declared > max) return { ok: false, bytes: declared, exact: true }
  if (!request.body) return { ok: true, text: '' }
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      return { ok: false, bytes: size, exact: false }
    }
    chunks.push(value)
  }
  return { ok: true, text: Buffer.concat(chunks, size).toString('utf8') }
}
