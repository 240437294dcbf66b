/**
 * The web UI (docs/ui.md): `/ui/` is its page, `/ui/app.js` and `/ui/app.css` its bundle (`/ui` serves the page too), and
 * `/` redirects to `/ui/`. Nothing of it is loaded until the first request for it: then ui/build.ts is imported and gives the assets
 * (ui/dist when up to date, else a build in memory), kept for the life of the process. A server nobody opens the UI
 * on holds neither the bundler's output nor the build module (the idle RSS is a tracked figure).
 */
import { Elysia } from 'elysia'
import { ErrorCode } from '../../runtime/errors.ts'
import { errorResponse } from '../errors.ts'

export const UI_PREFIX = '/ui'

export interface UiRouteOptions {
  /** Where the built UI is looked for (default ui/dist); a test points it at an empty dir to see the lazy build. */
  distDir?: string
}

export function uiRoutes(opts: UiRouteOptions = {}) {
  const load = () => import('../../ui/build.ts').then(({ uiAssets }) => uiAssets(opts.distDir))
  const serve = async (name: string): Promise<Response> => {
    const file = (await load()).files.get(name)
    if (!file) return errorResponse(404, { code: ErrorCode.NotFound, message: `no such UI file: ${name}` })
    return new Response(file.body, { headers: { 'content-type': file.type } })
  }
  const toPage = () => new Response(null, { status: 302, headers: { location: `${UI_PREFIX}/` } })
  return new Elysia({ name: 'routes.ui' })
    .get('/', toPage, { detail: { hide: true } })
    // Elysia matches `/ui/` here too (paths are not strict): the page's asset URLs are absolute, so both work.
    .get(UI_PREFIX, () => serve('index.html'), { detail: { hide: true } })
    .get(`${UI_PREFIX}/:file`, ({ params }) => serve(params.file), { detail: { hide: true } })
}
