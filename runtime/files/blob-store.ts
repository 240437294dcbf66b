/**
 * Where the bytes of task files live: a content-addressed blob store, keyed by SHA-256 (lower-case hex). Types only.
 * What a file *is* (its name, task run, execution, size) is metadata in the Store (`Store.files`); a blob is only its
 * bytes, shared by every file with the same content. The local store (local.ts) keeps them under the data dir; an
 * S3-compatible store implements the same four methods (docs/files.md#other-blob-stores).
 */

/** A SHA-256 digest as 64 lower-case hex digits. */
export type Sha256 = string

export const SHA256_PATTERN = /^[0-9a-f]{64}$/

/** What `put` made of its source. `too-large`: more than `maxBytes` came, nothing was kept. */
export type PutResult =
  | { ok: true; sha256: Sha256; size: number }
  | { ok: false; reason: 'too-large'; maxBytes: number }

export interface BlobStore {
  /** Its kind (`local`). */
  readonly kind: string
  /**
   * Stores what `source` yields, hashing it on the way; at most `maxBytes` bytes are accepted, and a source yielding
   * more leaves nothing behind. A blob already there is kept as it is (same digest, same bytes). Durable on return.
   */
  put(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<PutResult>
  /** The blob's bytes, or undefined when there is none. */
  get(sha256: Sha256): Promise<ReadableStream<Uint8Array> | undefined>
  stat(sha256: Sha256): Promise<{ size: number; storedAt: number } | undefined>
  /** False when there was none. Callers delete a blob only once no file row names it (Store.files). */
  delete(sha256: Sha256): Promise<boolean>
  /** Every blob's digest with the time it was stored (ms): what a garbage collection compares against the Store. */
  list(): AsyncIterable<{ sha256: Sha256; storedAt: number }>
}
