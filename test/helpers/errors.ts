/** Test helper: the AppError a function throws (anything else, or nothing, fails the test). */

import { AppError } from '../../runtime/errors.ts'

export function thrownAppError(fn: () => unknown): AppError {
  try {
    fn()
  } catch (e) {
    if (e instanceof AppError) return e
    throw e
  }
  throw new Error('expected an AppError')
}

/** The AppError a promise rejects with (anything else, or resolving, fails the test). */
export async function rejectedAppError(p: Promise<unknown> | (() => Promise<unknown>)): Promise<AppError> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    if (e instanceof AppError) return e
    throw e
  }
  throw new Error('expected an AppError')
}
