/** `workflow sandbox build-image [--tag]`: build the default docker-runner plugin image locally (no registry). */
import type { CAC } from 'cac'
import Dockerode from 'dockerode'
import { AppError } from '../../runtime/errors.ts'
import { dockerUnavailable, isEngineUnreachable } from '../../sandbox/docker/engine.ts'
import { buildDefaultImage, defaultImageTag } from '../../sandbox/docker/image.ts'
import { colors, emit, globalOptions, runCommand, usageError, type CliContext } from '../output.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['build-image'] as const

/** Registers `sandbox <action>` (actions: build-image). */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('sandbox <action>', 'Sandbox tools: `sandbox build-image [--tag t]` builds the docker runner\'s plugin image')
    .option('--tag <tag>', `Image tag (default: ${defaultImageTag()})`)
    .example((name) => `  $ ${name} sandbox build-image --json`)
    .action(runCommand(async (action: string, options: Record<string, unknown>) => {
      if (action !== 'build-image') throw usageError(`unknown sandbox action "${action}" (expected: ${ACTIONS.join(', ')})`)
      const g = globalOptions(options)
      const tag = typeof options.tag === 'string' && options.tag !== '' ? options.tag : defaultImageTag()
      const docker = new Dockerode()
      const started = performance.now()
      try {
        await buildDefaultImage({ docker, tag })
      } catch (e) {
        if (!isEngineUnreachable(e)) throw e
        const info = dockerUnavailable(docker, e)
        throw new AppError(info.code, info.message)
      }
      const info = await docker.getImage(tag).inspect()
      const result = { image: tag, id: info.Id, sizeBytes: info.Size, bunVersion: Bun.version, seconds: +((performance.now() - started) / 1000).toFixed(2) }
      emit(result, {
        json: g.json,
        human: (r) => colors.green(`✓ built ${r.image} (${(r.sizeBytes / 1e6).toFixed(0)} MB, Bun ${r.bunVersion}) in ${r.seconds}s`),
      })
    }))
}
