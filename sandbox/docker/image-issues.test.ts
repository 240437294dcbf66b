/** The apply-time check of script tasks' `image:` (image-issues.ts) where the Docker engine does not answer. */
import { describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { parseWorkflow } from '../../runtime/workflow/parse.ts'
import { RUNNER_KINDS } from '../runners.ts'
import { imageIssues, namedImages } from './image-issues.ts'

const wf = (() => {
  const r = parseWorkflow(`id: w
tasks:
  - { id: a, type: core/script.shell, runner: docker, image: "my/sh:1", commands: [x] }
  - { id: b, type: core/script.shell, runner: docker, commands: [x] }
finally:
  - { id: c, type: core/script.python, runner: docker, image: "my/py:1", script: "x = 1" }
`)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.workflow
})()

describe('image issues', () => {
  it('names each image a task gives, in every list, with its path', () => {
    expect(namedImages(wf, RUNNER_KINDS)).toEqual([{ path: 'tasks[0].image', image: 'my/sh:1' }, { path: 'finally[0].image', image: 'my/py:1' }])
  })

  it('an engine that does not answer: a warning per image (IMAGE_UNCHECKED), nothing refused', async () => {
    const r = await imageIssues(wf, RUNNER_KINDS, new Dockerode({ socketPath: '/nonexistent/docker.sock' }))
    expect(r.refused).toEqual([])
    expect(r.warnings.map((w) => [w.path, w.code])).toEqual([['tasks[0].image', 'IMAGE_UNCHECKED'], ['finally[0].image', 'IMAGE_UNCHECKED']])
    expect(r.warnings[0]!.message).toContain('the Docker engine cannot be reached')
  })
})
