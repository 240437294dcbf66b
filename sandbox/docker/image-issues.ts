/**
 * Whether the images script tasks name (`image:`) are on this side's Docker engine, checked when a workflow is
 * applied (and by `workflow validate` on the local machine): an image the engine does not have is refused
 * IMAGE_NOT_FOUND at `tasks[i].image`, as RUNTIME_UNAVAILABLE refuses a missing Python, since nothing is ever pulled.
 * An engine that cannot be reached is a warning (IMAGE_UNCHECKED): its tasks would fail DOCKER_UNAVAILABLE anyway,
 * and whether the image is there is then not known. Importing this module loads dockerode.
 */
import Dockerode from 'dockerode'
import { ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import { IssueCode, type Issue } from '../../runtime/workflow/issues.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { listedTasks, type TaskList } from '../../runtime/workflow/task-lists.ts'
import { pluginCallsOf } from '../../runtime/workflow/tasks/registry.ts'
import { DEFAULT_RUNNER, type RunnerRegistry } from '../runners.ts'
import { isEngineUnreachable } from './engine.ts'
import { localImageId } from './runner.ts'

/** Each `image:` a task names on a runner that runs images, with where it is written. */
export function namedImages(wf: Pick<Workflow, TaskList>, registry: RunnerRegistry): { path: string; image: string }[] {
  return listedTasks(wf).flatMap((t) => pluginCallsOf(t.task).flatMap((c) =>
    c.image !== undefined && registry[c.runner ?? DEFAULT_RUNNER]?.programs === 'image' ? [{ path: `${t.list}[${t.index}].image`, image: c.image }] : []))
}

/** The images of `wf` this engine lacks (refused), and those it could not check (warnings). */
export async function imageIssues(wf: Pick<Workflow, TaskList>, registry: RunnerRegistry, docker: Dockerode = new Dockerode()): Promise<{ refused: Issue[]; warnings: Issue[] }> {
  const refused: Issue[] = []
  const warnings: Issue[] = []
  const seen = new Map<string, Promise<'present' | 'absent' | string>>()
  for (const { path, image } of namedImages(wf, registry)) {
    let p = seen.get(image)
    if (!p) {
      p = localImageId(docker, image).then(() => 'present' as const, (e: unknown) => {
        const info = toErrorInfo(e)
        if (info.code === ErrorCode.ImageNotFound) return 'absent' as const
        return isEngineUnreachable(e) ? `the Docker engine cannot be reached (${info.message})` : info.message
      })
      seen.set(image, p)
    }
    const found = await p
    if (found === 'absent') refused.push({ path, code: IssueCode.ImageNotFound, message: `image ${image} is not on this server's Docker engine (images are never pulled): build or load it there first` })
    else if (found !== 'present') warnings.push({ path, code: IssueCode.ImageUnchecked, message: `image ${image} was not checked: ${found}` })
  }
  return { refused, warnings }
}
