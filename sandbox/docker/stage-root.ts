/** Where staging points live (mount-stage.ts): root-only, never under a dir anything removes recursively (a staged write grant is live). Its own module so the engine can test for it without loading the stager. */
export const STAGE_ROOT = '/run/autokestra-stage'
