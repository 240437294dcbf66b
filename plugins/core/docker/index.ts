/**
 * Never run: the engine performs this plugin's actions itself (sandbox/docker-tasks/), since no sandboxed process is
 * given the Docker engine. The manifest is what the task's inputs and outputs are checked against.
 */
import { definePlugin } from '../../../sandbox/sdk/index.ts'

export default definePlugin({ actions: {} })
