/**
 * What a Compose project may ask for, judged on the model `docker-compose config` resolved (and, before that, on the
 * files as written, for what makes Compose itself read the host): no privileged service, no added capability, device,
 * host path, host namespace (network, pid, ipc, uts, userns), security option, sysctl, runtime, another container's
 * volumes or namespaces, external network or volume, secret or config, build; published ports and a network that
 * reaches out only with the `*:*` grant. What passes is rewritten with the engine's additions (labels, no new
 * privileges, memory and pids limits, internal networks without `*:*`) into the one file Compose is then run on.
 */
import { AppError, ErrorCode } from '../../runtime/errors.ts'

type Obj = Record<string, unknown>
const isMap = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Keys of a file as written that make Compose read or build from the engine's host. */
export function rawProblems(name: string, doc: unknown): string[] {
  if (!isMap(doc)) return [`${name}: not a Compose file (a map at the top)`]
  const out: string[] = []
  for (const key of ['include', 'secrets', 'configs']) if (doc[key] !== undefined) out.push(`${name}: ${key} (reads files of the engine's host)`)
  for (const [svc, def] of Object.entries(isMap(doc.services) ? doc.services : {})) {
    if (!isMap(def)) continue
    for (const key of ['build', 'env_file', 'extends', 'secrets', 'configs']) {
      if (def[key] !== undefined) out.push(`${name}: services.${svc}.${key} (${key === 'build' ? 'builds, and may pull: use core/docker.build' : "reads files of the engine's host"})`)
    }
  }
  return out
}

const HOST_NS = (v: unknown): boolean => typeof v === 'string' && (v === 'host' || v.startsWith('container:'))

/** Why a resolved model may not run; empty when it may. */
export function modelProblems(model: Obj, network: boolean): string[] {
  const out: string[] = []
  const services = isMap(model.services) ? model.services : {}
  if (Object.keys(services).length === 0) out.push('the project has no services')
  for (const [name, s] of Object.entries(services)) {
    if (!isMap(s)) continue
    const at = `services.${name}`
    if (s.privileged === true) out.push(`${at}.privileged`)
    for (const key of ['cap_add', 'devices', 'device_cgroup_rules', 'security_opt', 'sysctls', 'volumes_from', 'external_links', 'cgroup_parent', 'runtime', 'oom_kill_disable', 'storage_opt', 'ulimits']) {
      if (s[key] !== undefined && !(Array.isArray(s[key]) && (s[key] as unknown[]).length === 0)) out.push(`${at}.${key}`)
    }
    for (const key of ['pid', 'ipc', 'uts', 'userns_mode', 'cgroup', 'network_mode']) if (HOST_NS(s[key])) out.push(`${at}.${key}: ${String(s[key])}`)
    if (s.network_mode === 'bridge' && !network) out.push(`${at}.network_mode: bridge (needs the *:* grant)`)
    if (s.ports !== undefined && !network) out.push(`${at}.ports (published on the host: needs the *:* grant)`)
    if (typeof s.image !== 'string' || s.image === '') out.push(`${at}.image (every service names a local image)`)
    for (const v of Array.isArray(s.volumes) ? s.volumes : []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : isMap(v) ? (v.type === 'bind' ? '/' : String(v.source ?? '')) : ''
      const type = isMap(v) ? v.type : undefined
      if (/^[/.~]/.test(source) || type === 'bind' || type === 'npipe') out.push(`${at}.volumes: ${typeof v === 'string' ? v : JSON.stringify(v)} (a host path)`)
    }
    const logging = isMap(s.logging) ? s.logging.driver : undefined
    if (logging !== undefined && !['json-file', 'local', 'none'].includes(String(logging))) out.push(`${at}.logging.driver: ${String(logging)} (sends the output off the host's Docker)`)
  }
  for (const [name, n] of Object.entries(isMap(model.networks) ? model.networks : {})) {
    if (!isMap(n)) continue
    if (n.external !== undefined && n.external !== false) out.push(`networks.${name}.external`)
    if (n.driver !== undefined && n.driver !== 'bridge') out.push(`networks.${name}.driver: ${String(n.driver)}`)
    if (n.driver_opts !== undefined) out.push(`networks.${name}.driver_opts`)
    // A name is Docker's: an existing network of that name (the operator's) would be joined, not made.
    if (n.name !== undefined) out.push(`networks.${name}.name (would join an existing network of that name)`)
  }
  for (const [name, v] of Object.entries(isMap(model.volumes) ? model.volumes : {})) {
    if (!isMap(v)) continue
    if (v.external !== undefined && v.external !== false) out.push(`volumes.${name}.external (an existing volume)`)
    if (v.driver !== undefined && v.driver !== 'local') out.push(`volumes.${name}.driver: ${String(v.driver)}`)
    if (v.driver_opts !== undefined) out.push(`volumes.${name}.driver_opts (may bind a host path)`)
    if (v.name !== undefined) out.push(`volumes.${name}.name (would mount an existing volume of that name)`)
  }
  for (const key of ['secrets', 'configs']) if (model[key] !== undefined) out.push(key)
  return out
}

/** Every image the model's services name. */
export const modelImages = (model: Obj): string[] =>
  [...new Set(Object.values(isMap(model.services) ? model.services : {}).flatMap((s) => (isMap(s) && typeof s.image === 'string' ? [s.image] : [])))]

/** The model Compose is run on: the checked one (format 2.4) with the engine's labels, limits and network rules. */
export function effectiveModel(model: Obj, add: { labels: Record<string, string>; memoryMb: number; pids: number; network: boolean; warn(line: string): void }): Obj {
  const services: Obj = {}
  for (const [name, s] of Object.entries(isMap(model.services) ? model.services : {})) {
    if (!isMap(s)) continue
    const { deploy, ...rest } = s
    if (deploy !== undefined) add.warn(`services.${name}.deploy is ignored (the engine sets the limits)`)
    const labels = isMap(rest.labels) ? rest.labels : Array.isArray(rest.labels) ? Object.fromEntries((rest.labels as string[]).map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')])) : {}
    const ports = Array.isArray(rest.ports) ? rest.ports.map((p) => (isMap(p) ? `${p.published ? `${String(p.published)}:` : ''}${String(p.target)}${p.protocol ? `/${String(p.protocol)}` : ''}` : p)) : undefined
    services[name] = {
      ...rest, ...(ports ? { ports } : {}),
      labels: { ...labels, ...add.labels },
      security_opt: ['no-new-privileges:true'],
      mem_limit: `${add.memoryMb}m`, memswap_limit: `${add.memoryMb}m`, pids_limit: add.pids,
    }
  }
  const networks: Obj = {}
  for (const [name, n] of Object.entries({ default: {}, ...(isMap(model.networks) ? model.networks : {}) })) {
    networks[name] = { ...(isMap(n) ? n : {}), labels: add.labels, ...(add.network ? {} : { internal: true }) }
  }
  const volumes: Obj = {}
  for (const [name, v] of Object.entries(isMap(model.volumes) ? model.volumes : {})) volumes[name] = { ...(isMap(v) ? v : {}), labels: add.labels }
  return { version: '2.4', services, networks, ...(Object.keys(volumes).length ? { volumes } : {}) }
}

/** INVALID_TASK_INPUT naming what the project asks for. */
export const refusedProject = (problems: string[]): AppError =>
  new AppError(ErrorCode.InvalidTaskInput, `the Compose project asks for what a docker task may not have: ${problems.join('; ')}`, { refused: problems })
