/**
 * Protocol 2: moves the pipe the engine writes invocation frames on off fd 0 before any plugin code runs. Every
 * later frame (its input, its denial seal) comes on that pipe; left as stdin, a child the plugin starts with its
 * stdio inherited shares it, and one left running read the next invocation's frame before the boot did (review 9:
 * test/escape/review9-seal-stdin.test.ts). The frames are read from a close-on-exec duplicate instead, and fd 0 is
 * /dev/null for whatever the plugin starts. Four libc calls through bun:ffi, once per warm process.
 */

const F_DUPFD_CLOEXEC = 1030
const O_RDONLY = 0
const O_CLOEXEC = 0o2000000

/** The frames' descriptor (close-on-exec); exits the process when the move fails (it must not serve frames on fd 0). */
export function takeFramesFromStdin(): number {
  const { dlopen, FFIType, ptr } = require('bun:ffi') as typeof import('bun:ffi')
  const lib = dlopen('libc.so.6', {
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    open: { args: [FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
    dup2: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  })
  try {
    const frames = lib.symbols.fcntl(0, F_DUPFD_CLOEXEC, 3)
    const path = Buffer.from('/dev/null\0')
    const devNull = lib.symbols.open(ptr(path), O_RDONLY | O_CLOEXEC, 0)
    if (frames < 3 || devNull < 0 || lib.symbols.dup2(devNull, 0) !== 0) {
      console.error('::error::autokestra: cannot move the invocation frames off stdin: refusing to serve')
      process.exit(2)
    }
    lib.symbols.close(devNull)
    return frames
  } finally {
    lib.close()
  }
}
