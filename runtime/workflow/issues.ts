/** The workflow DSL's issue codes (one vocabulary, append-only) and the issue every check reports. */
import { LimitCode } from './limits.ts'

/**
 * Every code a workflow issue can carry. Codes are stable: users and scripts branch on them, so they are
 * append-only (messages may improve). docs/workflows.md lists them all; a test keeps the two in step.
 */
export const IssueCode = {
  // Syntax and structure (the YAML parser, the TypeBox schemas)
  YamlSyntax: 'YAML_SYNTAX',
  Required: 'REQUIRED',
  InvalidType: 'INVALID_TYPE',
  UnknownField: 'UNKNOWN_FIELD',
  InvalidValue: 'INVALID_VALUE',
  // Semantics
  InvalidId: 'INVALID_ID',
  EmptyTasks: 'EMPTY_TASKS',
  DuplicateTaskId: 'DUPLICATE_TASK_ID',
  UnknownNeed: 'UNKNOWN_NEED',
  SelfNeed: 'SELF_NEED',
  Cycle: 'CYCLE',
  InvalidTaskType: 'INVALID_TASK_TYPE',
  /** A task names more than one kind (e.g. `type:` and a later kind's own key). */
  ConflictingTaskKinds: 'CONFLICTING_TASK_KINDS',
  InvalidDuration: 'INVALID_DURATION',
  InvalidCron: 'INVALID_CRON',
  InvalidTimezone: 'INVALID_TIMEZONE',
  InvalidTemplate: 'INVALID_TEMPLATE',
  UnknownTaskRef: 'UNKNOWN_TASK_REF',
  TaskRefNotUpstream: 'TASK_REF_NOT_UPSTREAM',
  UndeclaredInput: 'UNDECLARED_INPUT',
  UndeclaredSecret: 'UNDECLARED_SECRET',
  SecretValueNotName: 'SECRET_VALUE_NOT_NAME',
  InvalidSecretName: 'INVALID_SECRET_NAME',
  InvalidInputName: 'INVALID_INPUT_NAME',
  DuplicateInput: 'DUPLICATE_INPUT',
  InvalidInputDefault: 'INVALID_INPUT_DEFAULT',
  InvalidEnvName: 'INVALID_ENV_NAME',
  /** A label key or value breaks the label rules (labels.ts). */
  InvalidLabel: 'INVALID_LABEL',
  TooManyLabels: 'TOO_MANY_LABELS',
  /** A `needs` entry names a task of another list (`tasks`, `finally`, `onFailure`): each list is its own graph. */
  NeedOutsideList: 'NEED_OUTSIDE_LIST',
  /** A task id the engine keeps for itself (`finally`: the prefix of the finally tasks' run paths). */
  ReservedTaskId: 'RESERVED_TASK_ID',
  /** Subflows that call each other in a circle (`a → b → a`), seen from their literal workflow ids. */
  SubflowCycle: 'SUBFLOW_CYCLE',
  /** A local run (`workflow run`) calls a subflow none of its files declares (`--with FILE`, or `<id>.yaml` beside the caller). */
  UnknownSubflow: 'UNKNOWN_SUBFLOW',
  // Limits (limits.ts), and the server's parser budget
  ...LimitCode,
  ValidationAborted: 'VALIDATION_ABORTED',
  // Against the plugins loaded (at apply on the server, and by `workflow validate` locally)
  PluginRefused: 'PLUGIN_REFUSED',
  PermissionsRefused: 'PERMISSIONS_REFUSED',
  /** No plugin provides the task's `type` (or its plugin has no such action). */
  UnknownTaskType: 'UNKNOWN_TASK_TYPE',
  /** A script task asks for more than the operator's cap on scripts (`sandbox.scriptPolicy`). */
  ScriptPolicyExceeded: 'SCRIPT_POLICY_EXCEEDED',
  /** A docker task (core/docker.*, core/docker-compose.*) without `permissions: { docker: true }`. */
  DockerGrantRequired: 'DOCKER_GRANT_REQUIRED',
  /** A docker task's `docker: true` where the operator's `sandbox.scriptPolicy.docker` does not allow it. */
  DockerNotAllowed: 'DOCKER_NOT_ALLOWED',
  /** A script task's interpreter cannot be run on this server (Python 3 not found). */
  RuntimeUnavailable: 'RUNTIME_UNAVAILABLE',
  /** A script task's `image:` is not on this server's Docker engine (nothing is pulled). */
  ImageNotFound: 'IMAGE_NOT_FOUND',
  /** A task's static inputs break its action's input schema. */
  InvalidTaskInput: 'INVALID_TASK_INPUT',
  // Warnings: the workflow is valid, but worth a look
  UnusedSecret: 'UNUSED_SECRET',
  CronRequiredInput: 'CRON_REQUIRED_INPUT',
  /** A task's `image:` could not be checked at apply or validate (the Docker engine did not answer). */
  ImageUnchecked: 'IMAGE_UNCHECKED',
} as const
export type IssueCode = (typeof IssueCode)[keyof typeof IssueCode]

/** One validation problem, pointing at the offending path (and source position when known). */
export interface Issue {
  path: string
  code: IssueCode
  message: string
  line?: number
  column?: number
}
