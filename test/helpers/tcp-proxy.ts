/**
 * A TCP proxy a test puts between one node and its database, to partition that node alone. `cut()` black-holes the
 * link: every byte either way is held, nothing fails and nothing arrives (what a lost route looks like: a query hangs,
 * it does not error). `heal()` delivers what was held, in order, and forwards again, as TCP does when a route comes
 * back. Connections opened during a cut are accepted and held the same way.
 */

import type { Socket } from 'bun'

export interface TcpProxy {
  port: number
  cut(): void
  heal(): void
  stop(): void
}

interface Pipe {
  /** Bytes waiting to go to this socket (a cut, or backpressure). */
  queue: Uint8Array[]
  sock?: Socket<Link>
}

interface Link {
  toClient: Pipe
  toServer: Pipe
}

export function tcpProxy(target: { hostname: string; port: number }): TcpProxy {
  let cut = false
  const links = new Set<Link>()
  const pump = (p: Pipe) => {
    while (!cut && p.sock && p.queue.length > 0) {
      const chunk = p.queue[0]!
      const n = p.sock.write(chunk)
      if (n < chunk.length) {
        p.queue[0] = chunk.subarray(Math.max(0, n))
        return // the rest on drain
      }
      p.queue.shift()
    }
  }
  const send = (p: Pipe, data: Uint8Array) => {
    p.queue.push(new Uint8Array(data)) // a copy: the runtime reuses its buffer
    pump(p)
  }
  const server = Bun.listen<Link>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(client) {
        const link: Link = { toClient: { queue: [], sock: client }, toServer: { queue: [] } }
        client.data = link
        links.add(link)
        void Bun.connect<Link>({
          hostname: target.hostname,
          port: target.port,
          data: link,
          socket: {
            open(up) {
              link.toServer.sock = up
              pump(link.toServer)
            },
            data(_up, d) { send(link.toClient, d) },
            drain() { pump(link.toServer) },
            close() { link.toClient.sock?.end() },
            error() { link.toClient.sock?.end() },
          },
        }).catch(() => client.end())
      },
      data(client, d) { send(client.data.toServer, d) },
      drain(client) { pump(client.data.toClient) },
      close(client) {
        client.data.toServer.sock?.end()
        links.delete(client.data)
      },
      error(client) { client.data.toServer.sock?.end() },
    },
  })
  return {
    port: server.port,
    cut: () => { cut = true },
    heal: () => {
      cut = false
      for (const l of links) {
        pump(l.toServer)
        pump(l.toClient)
      }
    },
    stop: () => {
      for (const l of links) {
        l.toClient.sock?.end()
        l.toServer.sock?.end()
      }
      server.stop(true)
    },
  }
}
