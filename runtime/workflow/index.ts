/** Public API of the workflow DSL: parse/validate YAML, the task graph, templates and the model. */
export * from './model.ts'
export { IssueCode } from './issues.ts'
export { documentTooLarge, parseWorkflow, type ParseResult } from './parse.ts'
export { DEFAULT_WORKFLOW_LIMITS, LimitCode, type WorkflowLimits } from './limits.ts'
export { buildGraph, findCycle, upstreamOf, type GraphTask, type TaskGraph } from './graph.ts'
export {
  extractTemplateRefs, renderString, renderValue, scanTemplates, TEMPLATE_ROOTS,
  type TemplateContext, type TemplateProblem, type TemplateRef, type TemplateRoot,
} from './template.ts'
export { matchesType } from './validate.ts'
export { ENV_NAME_PATTERN, ID_PATTERN, SECRET_NAME_PATTERN, TASK_TYPE_PATTERN } from './schema.ts'
export { formatPath } from './path.ts'
export { formatRunPath, iterationOf, parentRunPath, parseRunPath, taskAtPath, type PathStep, type RunPath } from './run-path.ts'
export { describeTask, kindOf, pluginCallsOf, TASK_KINDS, templatesOf } from './tasks/registry.ts'
