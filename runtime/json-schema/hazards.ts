/**
 * What in a JSON Schema would make the engine do unbounded work, or reach beyond the schema's owner, when Ajv
 * applies it on the engine's threads: refused where the schema is loaded (a manifest, an approval), with a reason.
 * - `uniqueItems` over items that are not all of a scalar type: Ajv then compares every pair of items (deep
 *   equality), O(n²) on a value an anonymous webhook caller may size (review 2, hole 2). Over scalar items Ajv
 *   uses a hash, linear.
 * - A nested `$id`: Ajv registers it in the instance every plugin shares, and `removeSchema` forgets only the
 *   root's, so one plugin could take another's id (review 2, hole 9).
 */

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null'])

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Whether an `items` schema guarantees scalar items (its `type` is scalar, or a list of scalar types). */
function scalarItems(items: unknown): boolean {
  if (!isMap(items)) return false
  const t = items.type
  return typeof t === 'string' ? SCALAR_TYPES.has(t) : Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === 'string' && SCALAR_TYPES.has(x))
}

/** Keywords whose value is data, not a schema: never looked into (a `default` may hold a key called `$id`). */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples'])

/** Keywords whose value maps names to schemas: the map's keys are names (a property may be called `$id`). */
const NAME_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependencies', 'dependentSchemas'])

/** The first hazard in `schema` (`/properties/tags: …`), or undefined. Iterative: a deep schema cannot overflow the stack. */
export function schemaHazard(schema: unknown): string | undefined {
  // [node, where, what the node is: the root schema, a schema, or a map of names to schemas]
  const stack: [unknown, string, 'root' | 'schema' | 'names'][] = [[schema, '', 'root']]
  while (stack.length > 0) {
    const [node, at, role] = stack.pop()!
    if (Array.isArray(node)) {
      node.forEach((v, i) => stack.push([v, `${at}/${i}`, 'schema']))
      continue
    }
    if (!isMap(node)) continue
    if (role === 'names') {
      for (const [k, v] of Object.entries(node)) stack.push([v, `${at}/${k}`, 'schema'])
      continue
    }
    if (role === 'schema' && '$id' in node) {
      return `${at}: a nested $id is not supported (one schema per action; use $ref to "#/definitions/…")`
    }
    if (node.uniqueItems === true && !scalarItems(node.items)) {
      return `${at || '/'}: uniqueItems needs items of a scalar type (string, number, integer, boolean, null): over other items it compares every pair, O(n²) on the engine`
    }
    for (const [k, v] of Object.entries(node)) {
      if (DATA_KEYWORDS.has(k)) continue
      if (isMap(v) || Array.isArray(v)) stack.push([v, `${at}/${k}`, NAME_MAPS.has(k) ? 'names' : 'schema'])
    }
  }
  return undefined
}
