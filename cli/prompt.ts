/** Terminal prompts: a hidden value (no echo) and a yes/no confirmation; stdin piped when not a TTY. */

/** Reads a line from a TTY without echoing it (raw mode), or all of piped stdin minus one trailing newline. */
export async function readSecretValue(prompt: string): Promise<string> {
  const stdin = process.stdin
  if (!stdin.isTTY) {
    const text = await new Response(Bun.stdin.stream()).text()
    return text.replace(/\r?\n$/, '')
  }
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.resume()
  let value = ''
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') { stdin.off('data', onData); resolve(value); return }
          if (ch === '\u0003') { stdin.off('data', onData); reject(Object.assign(new Error('interrupted'), { interrupted: true })); return }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
          else value += ch
        }
      }
      stdin.on('data', onData)
    })
  } catch (e) {
    if ((e as { interrupted?: boolean }).interrupted) {
      process.stderr.write('\n')
      process.exit(130)
    }
    throw e
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}

/** Asks `question [y/N]` on a TTY; true only for y/yes. */
export async function confirm(question: string): Promise<boolean> {
  process.stderr.write(`${question} [y/N] `)
  const answer = await new Promise<string>((resolve) => {
    process.stdin.resume()
    process.stdin.once('data', (d: Buffer) => { process.stdin.pause(); resolve(d.toString('utf8')) })
  })
  return /^y(es)?$/i.test(answer.trim())
}
