/**
 * A real git server for tests: bare repositories in a temp dir, made with real commits, served over smart HTTP on
 * 127.0.0.1 by `git http-backend` (CGI) behind Bun.serve, with Basic auth that takes one token as the password.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface GitFixture {
  url(repo?: string): string
  port: number
  token: string
  /** The directory holding the bare repositories (`repo.git`, `project.git`): what test/helpers/ssh-server.ts serves. */
  root: string
  /** `project.git` (url('project.git')) is a package.json project depending on ms@2.1.3, its start script `bun index.ts`. */
  /** Commits of the test repository: `first` (tagged v1, annotated), `second` (main's head), `feature` (branch feature). */
  commits: { first: string; second: string; feature: string }
  /** Requests the server answered, with their status (what a test may assert on: a 401, a fetch). */
  requests: { path: string; status: number; authorized: boolean }[]
  close(): void
}

const git = (cwd: string, ...args: string[]): string => {
  const r = Bun.spawnSync(['git', ...args], {
    cwd, env: { PATH: '/usr/bin:/bin', HOME: cwd, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com', GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z' },
  })
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.toString()}`)
  return r.stdout.toString().trim()
}

export function startGitServer(token: string): GitFixture {
  const root = mkdtempSync(join(tmpdir(), 'ak-git-'))
  const work = join(root, 'work')
  mkdirSync(work)
  git(work, 'init', '-q', '-b', 'main')
  writeFileSync(join(work, 'README.md'), 'first version\n')
  mkdirSync(join(work, 'app', 'lib'), { recursive: true })
  writeFileSync(join(work, 'app', 'main.txt'), 'app main\n')
  writeFileSync(join(work, 'app', 'lib', 'util.txt'), 'util\n')
  writeFileSync(join(work, 'app', 'run.sh'), '#!/bin/sh\necho ran\n')
  chmodSync(join(work, 'app', 'run.sh'), 0o755)
  symlinkSync('../README.md', join(work, 'app', 'readme-link'))
  git(work, 'add', '-A')
  git(work, 'commit', '-q', '-m', 'first')
  const first = git(work, 'rev-parse', 'HEAD')
  git(work, 'tag', '-a', 'v1', '-m', 'version 1')
  git(work, 'checkout', '-q', '-b', 'feature')
  writeFileSync(join(work, 'FEATURE.md'), 'feature branch\n')
  git(work, 'add', '-A')
  git(work, 'commit', '-q', '-m', 'feature')
  const feature = git(work, 'rev-parse', 'HEAD')
  git(work, 'checkout', '-q', 'main')
  writeFileSync(join(work, 'README.md'), 'second version\n')
  git(work, 'commit', '-q', '-am', 'second')
  const second = git(work, 'rev-parse', 'HEAD')
  git(root, 'clone', '-q', '--bare', work, 'repo.git')
  git(join(root, 'repo.git'), 'push', '-q', work, 'feature:feature')
  // A second repository, `project.git`: a package.json project with one real dependency (core/script.run's input).
  const proj = join(root, 'project')
  mkdirSync(proj)
  git(proj, 'init', '-q', '-b', 'main')
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'from-git', version: '1.0.0', scripts: { start: 'bun index.ts' }, dependencies: { ms: '2.1.3' } }, null, 2))
  writeFileSync(join(proj, 'index.ts'), "import ms from 'ms'\nconsole.log(`two hours is ${ms('2h')} ms, args ${process.argv.slice(2).join(' ')}`)\n")
  git(proj, 'add', '-A')
  git(proj, 'commit', '-q', '-m', 'project')
  git(root, 'clone', '-q', '--bare', proj, 'project.git')

  const requests: GitFixture['requests'] = []
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`
  const server = Bun.serve({
    hostname: '127.0.0.1', port: 0,
    async fetch(req) {
      const url = new URL(req.url)
      const authorized = req.headers.get('authorization') === expected
      if (!authorized) {
        requests.push({ path: url.pathname, status: 401, authorized })
        return new Response('unauthorized\n', { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="git"' } })
      }
      const body = new Uint8Array(await req.arrayBuffer())
      const p = Bun.spawn(['git', 'http-backend'], {
        env: {
          PATH: '/usr/bin:/bin', GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', GIT_CONFIG_NOSYSTEM: '1', HOME: root,
          PATH_INFO: url.pathname, QUERY_STRING: url.search.slice(1), REQUEST_METHOD: req.method, REMOTE_USER: 'x-access-token', REMOTE_ADDR: '127.0.0.1',
          CONTENT_TYPE: req.headers.get('content-type') ?? '', CONTENT_LENGTH: String(body.byteLength),
          HTTP_CONTENT_ENCODING: req.headers.get('content-encoding') ?? '', GIT_PROTOCOL: req.headers.get('git-protocol') ?? '',
        },
        stdin: body, stdout: 'pipe', stderr: 'ignore',
      })
      const out = Buffer.from(await new Response(p.stdout).arrayBuffer())
      await p.exited
      const cut = out.indexOf('\r\n\r\n')
      const head = out.subarray(0, cut).toString().split('\r\n')
      const headers = new Headers()
      let status = 200
      for (const h of head) {
        const i = h.indexOf(':')
        const k = h.slice(0, i).trim()
        const v = h.slice(i + 1).trim()
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10)
        else headers.append(k, v)
      }
      requests.push({ path: url.pathname, status, authorized })
      return new Response(out.subarray(cut + 4), { status, headers })
    },
  })
  const port = server.port!
  return {
    url: (repo = 'repo.git') => `http://127.0.0.1:${port}/${repo}`,
    port, token, root, commits: { first, second, feature }, requests,
    close() { server.stop(true); rmSync(root, { recursive: true, force: true }) },
  }
}
