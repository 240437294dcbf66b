/**
 * The shape the seed catalog's built-in task types share (`core/bash.exec`, `core/script.run`,
 * `core/git-source.checkout`): `type`, `inputs:` as the seed wrote them, an optional `runner`, and `permissions`
 * (the task's whole grant, within `sandbox.scriptPolicy`). One definition of the fields and of their normalization,
 * so a fourth catalog type cannot accept a field the others refuse.
 */
import { Type } from '@sinclair/typebox'
import type { PermissionSet } from '../model.ts'
import { RunnerNameSchema } from '../sandbox-fields.ts'
import { RawPermissions } from '../schema.ts'

/** A catalog task as normalized: its type, its inputs, its runner and its grant. */
export interface CatalogSpec<T extends string> {
  type: T
  inputs: Record<string, unknown>
  runner?: string
  permissions?: PermissionSet
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The fields of a catalog task (TaskKind.fields). */
export const CATALOG_FIELDS = {
  type: Type.String(),
  inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  runner: Type.Optional(RunnerNameSchema),
  permissions: Type.Optional(RawPermissions),
}

/** TaskKind.normalize for a catalog task of `type`. */
export function normalizeCatalog<T extends string>(type: T, raw: Readonly<Record<string, unknown>>): CatalogSpec<T> {
  const spec: CatalogSpec<T> = { type, inputs: isMap(raw.inputs) ? raw.inputs : {} }
  if (typeof raw.runner === 'string') spec.runner = raw.runner
  if (isMap(raw.permissions)) spec.permissions = raw.permissions as PermissionSet
  return spec
}
