/** Loads the 256-bit master key that encrypts secrets: from AUTOKESTRA_SECRET_KEY, else a 0600 key file generated on first use. */

import { randomBytes } from 'node:crypto'
import {
  closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { AppError, ErrorCode } from '../errors.ts'
import { engineUid } from '../private-files.ts'

/** Environment variable holding the master key (base64 or hex of exactly 32 bytes). */
export const SECRET_KEY_ENV = 'AUTOKESTRA_SECRET_KEY'
/** Key length in bytes (AES-256). */
export const MASTER_KEY_BYTES = 32

const HOW_TO_GENERATE = 'generate one with: openssl rand -base64 32'

export interface LoadMasterKeyOptions {
  /** Environment to read AUTOKESTRA_SECRET_KEY from; defaults to process.env. */
  env?: Record<string, string | undefined>
  /** Key file used when the env var is absent, normally `<data dir>/secret.key`. */
  keyFile: string
  /** Create the key file when it does not exist (default true); false makes a missing file SECRET_KEY_MISSING. */
  generate?: boolean
}

export interface MasterKey {
  key: Buffer
  /** Where the key came from; `generated` means the key file was just created. */
  source: 'env' | 'file' | 'generated'
  /** The key file, when the key came from (or was written to) one. */
  keyFile?: string
}

/** Returns the master key; throws AppError(SECRET_KEY_INVALID | SECRET_KEY_MISSING) saying how to configure one. */
export function loadMasterKey(options: LoadMasterKeyOptions): Buffer {
  return resolveMasterKey(options).key
}

/** Like loadMasterKey, but also says where the key came from (the server logs it; never the key itself). */
export function resolveMasterKey({ env = process.env, keyFile, generate = true }: LoadMasterKeyOptions): MasterKey {
  const fromEnv = env[SECRET_KEY_ENV]
  if (fromEnv !== undefined) {
    // An empty value is usually an unexpanded `${VAR}` in compose files; silently falling back to a
    // generated file key would encrypt secrets with a key that vanishes with the container.
    if (fromEnv.trim() === '') {
      throw invalid(`${SECRET_KEY_ENV} is set but empty; set it to a 256-bit key in base64 or hex ` +
        `(${HOW_TO_GENERATE}), or unset it to use the key file ${keyFile}`)
    }
    const key = parseMasterKey(fromEnv)
    if (!key) {
      throw invalid(`${SECRET_KEY_ENV} is not a 256-bit key: expected 32 bytes as base64 (44 chars) or hex ` +
        `(64 chars); ${HOW_TO_GENERATE}`)
    }
    return { key, source: 'env' }
  }
  const existing = readKeyFile(keyFile)
  if (existing) return { key: existing, source: 'file', keyFile }
  if (!generate) {
    throw new AppError(ErrorCode.SecretKeyMissing, `no secret master key: set ${SECRET_KEY_ENV} (base64 or hex, ` +
      `32 bytes) or create the key file ${keyFile} with mode 0600; ${HOW_TO_GENERATE}`, { keyFile })
  }
  return createKeyFile(keyFile)
}

/** Parses a key written as hex (64 chars) or base64 / base64url (43–44 chars); undefined if it is not exactly 32 bytes. */
export function parseMasterKey(text: string): Buffer | undefined {
  const s = text.trim()
  // Hex first: 64 hex chars are also valid base64 (of 48 bytes).
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex')
  if (/^[A-Za-z0-9+/]{43}=?$/.test(s) || /^[A-Za-z0-9_-]{43}=?$/.test(s)) {
    const key = Buffer.from(s, 'base64')
    return key.length === MASTER_KEY_BYTES ? key : undefined
  }
  return undefined
}

/** A fresh random key, base64-encoded (what `openssl rand -base64 32` prints). */
export function generateMasterKey(): string {
  return randomBytes(MASTER_KEY_BYTES).toString('base64')
}

/**
 * Reads and checks an existing key file; undefined when it does not exist. The checks are made on the open
 * descriptor (so the file read is the file checked): a regular file, owned by the engine's uid, no access for
 * group or others. A key another user owns could have been planted (its author would know the key), so it is
 * refused like a readable one, however narrow its mode.
 */
function readKeyFile(keyFile: string): Buffer | undefined {
  let fd: number
  try {
    // O_NONBLOCK: a FIFO planted in place of the key must not hang the start-up.
    fd = openSync(keyFile, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw invalid(`cannot read secret key file ${keyFile}: ${(e as Error).message}`)
  }
  let text: string
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw invalid(`secret key file ${keyFile} is not a regular file`)
    if (st.size > 4096) throw invalid(`secret key file ${keyFile} is ${st.size} bytes: not a key file (a key is 45 bytes)`)
    const uid = engineUid()
    if (uid !== undefined && st.uid !== uid) {
      throw invalid(`secret key file ${keyFile} is owned by uid ${st.uid}, but the engine runs as uid ${uid}: a key ` +
        `another user owns may have been planted, so it is refused. If the file is yours: chown ${uid} ${keyFile} ` +
        `&& chmod 600 ${keyFile}; if not, remove it and restore your key from its backup (or set ${SECRET_KEY_ENV})`)
    }
    // Like ssh with private keys: a key others can read is refused rather than trusted.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw invalid(`secret key file ${keyFile} is accessible by group or others (mode ` +
        `${(st.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${keyFile}`)
    }
    text = readFileSync(fd, 'utf8')
  } catch (e) {
    if (e instanceof AppError) throw e
    throw invalid(`cannot read secret key file ${keyFile}: ${(e as Error).message}`)
  } finally {
    closeSync(fd)
  }
  const key = parseMasterKey(text)
  if (!key) {
    throw invalid(`secret key file ${keyFile} does not hold a 256-bit key (base64 or hex). Restore it from a ` +
      `backup: a new key cannot decrypt secrets stored with the old one. For a fresh install, ${HOW_TO_GENERATE}`)
  }
  return key
}

/** Writes a new key atomically with mode 0600; if another process won the race, uses its key. */
function createKeyFile(keyFile: string): MasterKey {
  const dir = dirname(keyFile)
  const tmp = `${keyFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const fd = openSync(tmp, 'wx', 0o600)
    try {
      fchmodSync(fd, 0o600) // whatever the umask
      writeSync(fd, `${generateMasterKey()}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    // link() never replaces an existing file, unlike rename(): two servers starting at once
    // must end up with one key, not each with its own.
    try {
      linkSync(tmp, keyFile)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    } finally {
      unlinkSync(tmp)
    }
    syncDir(dir)
  } catch (e) {
    throw new AppError(ErrorCode.SecretKeyMissing, `no secret master key and cannot create the key file ` +
      `${keyFile} (${(e as Error).message}); set ${SECRET_KEY_ENV} (base64 or hex, 32 bytes) or make the ` +
      `data directory writable; ${HOW_TO_GENERATE}`, { keyFile })
  }
  const key = readKeyFile(keyFile)
  if (!key) throw invalid(`secret key file ${keyFile} disappeared right after it was created`)
  return { key, source: 'generated', keyFile }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Directory fsync is best effort (unsupported on some filesystems); the file itself is synced.
  }
}

function invalid(message: string): AppError {
  return new AppError(ErrorCode.SecretKeyInvalid, message)
}
