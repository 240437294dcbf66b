/**
 * One git command as a child of this plugin (inside its sandbox: Landlock, seccomp and the namespaces are inherited),
 * its stderr passed on as log lines (the engine masks them), its stdout kept (a rev-parse's answer), its whole process
 * group killed on the deadline or the attempt's cancel.
 */
import type { ActionContext } from '../../../sandbox/sdk/index.ts'

export interface GitRun { exitCode: number | null; stdout: string; tail: string[]; timedOut: boolean }

export async function runGit(git: string, args: string[], o: { cwd: string; env: Record<string, string>; timeoutMs: number; signal: ActionContext['signal'] }): Promise<GitRun> {
  const child = Bun.spawn([git, ...args], { cwd: o.cwd, env: o.env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', detached: true })
  let timedOut = false
  const kill = () => { try { process.kill(-child.pid, 'SIGKILL') } catch { child.kill('SIGKILL') } }
  o.signal.addEventListener('abort', kill, { once: true })
  const timer = setTimeout(() => { timedOut = true; kill() }, o.timeoutMs)
  const tail: string[] = []
  try {
    const [stdout] = await Promise.all([
      new Response(child.stdout).text(),
      (async () => {
        const decoder = new TextDecoder()
        let rest = ''
        const line = (l: string) => {
          tail.push(l)
          if (tail.length > 20) tail.shift()
          process.stderr.write(`${l}\n`)
        }
        for await (const chunk of child.stderr) {
          rest += decoder.decode(chunk, { stream: true })
          let nl: number
          // git redraws progress with \r: each piece is a line of its own.
          while ((nl = rest.search(/[\r\n]/)) >= 0) {
            const l = rest.slice(0, nl)
            rest = rest.slice(nl + 1)
            if (l.trim() !== '') line(l)
          }
        }
        rest += decoder.decode()
        if (rest.trim() !== '') line(rest)
      })(),
    ])
    const exitCode = await child.exited
    return { exitCode: child.signalCode ? null : exitCode, stdout, tail, timedOut }
  } finally {
    clearTimeout(timer)
    o.signal.removeEventListener('abort', kill)
  }
}
