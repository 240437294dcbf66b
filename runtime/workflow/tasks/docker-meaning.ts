/** What the `docker: true` grant means, in plain words: one text for apply, plugin inspect and the docs. No imports. */
export const DOCKER_GRANT_MEANING =
  "the engine drives this host's Docker engine for the task (root-equivalent on most hosts): it may build and tag "
  + 'images (tags under autokestra-task/) and run containers of any local image, never pulled, each with the engine\'s '
  + 'defaults: no capabilities, no new privileges, no host paths, memory and process limits, no network unless *:* is granted'
