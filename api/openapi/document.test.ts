/** finishDocument: canonical paths, declared bodies and responses kept, coercion unions collapsed, named models shared. */
import { describe, expect, it } from 'bun:test'
import { Elysia, t } from 'elysia'
import { errorHandler } from '../errors.ts'
import { canonicalPath, finishDocument } from './document.ts'

const OPTS = { serverUrl: '/', tags: [{ name: 'x', description: 'X' }] }

describe('finishDocument', () => {
  it('drops trailing slashes and merges the two forms of a path', () => {
    expect(canonicalPath('/api/v1/workflows/')).toBe('/api/v1/workflows')
    expect(canonicalPath('/api/v1/workflows/:id')).toBe('/api/v1/workflows/{id}')
    expect(canonicalPath('/')).toBe('/')
    const doc = finishDocument({ paths: { '/a/': { get: { responses: {} } }, '/a': { post: { responses: {} } } } }, [], OPTS)
    expect(Object.keys(doc.paths as object)).toEqual(['/a'])
    expect(Object.keys((doc.paths as Record<string, object>)['/a']!).sort()).toEqual(['get', 'post'])
    expect(doc.servers).toEqual([{ url: '/', description: 'This server' }])
  })

  it('keeps the request body and responses a route declares, and gives a 204 no content', () => {
    const body = { required: false, content: { 'application/json': { schema: { type: 'object' } } } }
    const events = { 200: { description: 'stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } }
    const doc = finishDocument({
      paths: {
        '/a/{id}': { post: { requestBody: { required: true, content: {} }, responses: { 204: { description: 'x', content: { type: 'void' } } } } },
        '/e': { get: {} },
      },
    }, [
      { method: 'POST', path: '/a/:id', hooks: { detail: { requestBody: body } } },
      { method: 'GET', path: '/e', hooks: { detail: { responses: events } } },
    ], OPTS)
    const paths = doc.paths as Record<string, Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>>
    expect(paths['/a/{id}']!.post!.requestBody).toEqual(body)
    expect(paths['/a/{id}']!.post!.responses).toEqual({ 204: { description: 'x' } })
    expect(paths['/e']!.get!.responses).toEqual(events)
  })

  it('keeps JSON bodies JSON only, and marks an optional body schema not required', () => {
    const generated = () => ({ required: true, content: { 'application/json': { schema: {} }, 'application/x-www-form-urlencoded': { schema: {} }, 'multipart/form-data': { schema: {} } } })
    const doc = finishDocument({ paths: { '/o': { post: { requestBody: generated() } }, '/r': { post: { requestBody: generated() } } } }, [
      { method: 'POST', path: '/o', hooks: { body: t.Optional(t.Object({ reason: t.Optional(t.String()) })) } },
      { method: 'POST', path: '/r', hooks: { body: t.Object({ reason: t.String() }) } },
    ], OPTS)
    const body = (p: string) => (doc.paths as Record<string, { post: { requestBody: unknown } }>)[p]!.post.requestBody
    expect(body('/o')).toEqual({ required: false, content: { 'application/json': { schema: {} } } })
    expect(body('/r')).toEqual({ required: true, content: { 'application/json': { schema: {} } } })
  })

  it('collapses Elysia\'s integer coercion union, drops schema error messages, names titled models once', () => {
    const page = { title: 'Page', type: 'object', properties: { n: { minimum: 1, anyOf: [{ type: 'string', format: 'integer', default: 0 }, { type: 'integer', minimum: 1 }] } } }
    const other = { title: 'Page', type: 'object', properties: { m: { type: 'string' } } }
    const json = (schema: unknown, description?: string) => ({ description: description ?? 'Response for status 200', content: { 'application/json': { schema } } })
    const doc = finishDocument({
      paths: {
        '/p': { get: { responses: { 200: json({ ...page, description: 'first' }), 404: json({ type: 'object', error: 'x: y' }, 'nf') } } },
        '/q': { get: { responses: { 200: json(page), 404: json({ type: 'object', error: 'x: y' }, 'nf') } } },
        '/r': { get: { responses: { 200: json(other) } } },
      },
    }, [], OPTS)
    const paths = doc.paths as Record<string, { get: { responses: Record<string, { description?: string; $ref?: string; content?: Record<string, { schema: unknown }> }> } }>
    expect(paths['/p']!.get.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Page', description: 'first' })
    expect(paths['/p']!.get.responses['200']!.description).toBe('OK')
    expect(paths['/q']!.get.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Page' })
    // A different schema under a taken title stays inline.
    expect(paths['/r']!.get.responses['200']!.content!['application/json']!.schema).toMatchObject({ title: 'Page', properties: { m: { type: 'string' } } })
    const components = doc.components as { schemas: Record<string, unknown>; responses: Record<string, unknown> }
    expect(components.schemas.Page).toEqual({ type: 'object', properties: { n: { minimum: 1, type: 'integer' } } })
    expect(paths['/p']!.get.responses['404']).toEqual({ $ref: '#/components/responses/Error404' })
    expect(components.responses.Error404).toEqual({ description: 'nf', content: { 'application/json': { schema: { type: 'object' } } } })
  })
})

describe('the error mapping of declared answers', () => {
  it('answers 500 INTERNAL, not a client error, when a handler returns what its schema does not allow', async () => {
    const logged: unknown[] = []
    const app = new Elysia().use(errorHandler((e) => logged.push(e)))
      // @ts-expect-error the handler breaks its own declared schema on purpose
      .get('/bad', () => ({ n: 'not a number' }), { response: { 200: t.Object({ n: t.Number() }) } })
    const res = await app.handle(new Request('http://localhost/bad'))
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'internal error (see the server log)' } } })
    expect(logged).toHaveLength(1)
  })
})
