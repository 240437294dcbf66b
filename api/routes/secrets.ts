/** `/secrets`: metadata list, set (204), get value, delete (204/404). Names are normalised upper-case. */
import { Elysia } from 'elysia'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { normalizeSecretName, type SecretStore } from '../../runtime/secrets/index.ts'
import { errors, NoContent } from '../models/common.ts'
import { PutSecretBody, SecretList, SecretParams, SecretValue } from '../models/secrets.ts'

/** Records an administrative action on a secret (its name and version, never its value). */
export type SecretAudit = (type: 'SECRET_SET' | 'SECRET_REVEALED' | 'SECRET_DELETED', data: { name: string; version?: number }) => void | Promise<void>

export const secretRoutes = (secrets: SecretStore, audit: SecretAudit = () => {}) =>
  new Elysia({ name: 'routes.secrets', prefix: '/secrets' })
    .get('', async () => ({ items: await secrets.list() }), {
      response: { 200: SecretList, ...errors() },
      detail: { operationId: 'listSecrets', summary: 'Secret names, versions and timestamps (never values)', tags: ['secrets'] },
    })
    .put('/:name', async ({ params, body, set }) => {
      const meta = await secrets.set(params.name, body.value)
      await audit('SECRET_SET', { name: meta.name, version: meta.version })
      set.status = 204
    }, {
      params: SecretParams,
      body: PutSecretBody,
      response: { 204: NoContent, ...errors(400) },
      detail: { operationId: 'setSecret', summary: 'Create or replace a secret (204); values up to 64 KiB', tags: ['secrets'] },
    })
    .get('/:name', async ({ params }) => {
      const name = normalizeSecretName(params.name)
      const value = await secrets.get(name)
      await audit('SECRET_REVEALED', { name })
      return { name, value }
    }, {
      params: SecretParams,
      response: { 200: SecretValue, ...errors(400, 404) },
      detail: { operationId: 'getSecret', summary: 'A secret with its value', tags: ['secrets'] },
    })
    .delete('/:name', async ({ params, set }) => {
      const name = normalizeSecretName(params.name)
      if (!(await secrets.delete(name))) throw new AppError(ErrorCode.NotFound, `secret ${name} not found`, { name })
      await audit('SECRET_DELETED', { name })
      set.status = 204
    }, {
      params: SecretParams,
      response: { 204: NoContent, ...errors(400, 404) },
      detail: { operationId: 'deleteSecret', summary: 'Delete a secret (204, or 404)', tags: ['secrets'] },
    })
