/**
 * A byte-for-byte proxy in front of the local Docker socket, for docker runner tests: on a unix socket (the daemon is
 * still local: the engine can look) or on 127.0.0.1 (to the engine, a remote daemon: it cannot). `onRequest` sees each
 * chunk the client sends before it is forwarded, so a test can act at an exact point of the API conversation (e.g.
 * swap a bind source just before the daemon starts the container), as a hostile local party racing the engine would.
 */

import Dockerode from 'dockerode'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { Transform } from 'node:stream'

export interface DockerProxy { docker: Dockerode; close(): Promise<void> }

const DAEMON_SOCKET = '/var/run/docker.sock'

/** Starts the proxy: `listen` is a unix socket path, or 'tcp' for 127.0.0.1 on a free port. */
export async function startDockerProxy(listen: string, onRequest: (chunk: string) => void = () => undefined): Promise<DockerProxy> {
  const open = new Set<Socket>()
  const server: Server = createServer((client) => {
    const daemon = createConnection(DAEMON_SOCKET)
    open.add(client); open.add(daemon)
    const spy = new Transform({ transform(chunk: Buffer, _enc, done) { onRequest(chunk.toString('latin1')); done(null, chunk) } })
    client.pipe(spy).pipe(daemon)
    daemon.pipe(client)
    const end = () => { client.destroy(); daemon.destroy(); open.delete(client); open.delete(daemon) }
    client.once('close', end); daemon.once('close', end)
    client.once('error', end); daemon.once('error', end)
  })
  await new Promise<void>((resolve) => (listen === 'tcp' ? server.listen(0, '127.0.0.1', resolve) : server.listen(listen, resolve)))
  const address = server.address()
  const docker = typeof address === 'object' && address
    ? new Dockerode({ host: '127.0.0.1', port: address.port, protocol: 'http' })
    : new Dockerode({ socketPath: listen })
  return {
    docker,
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy()
      server.close(() => resolve())
    }),
  }
}
