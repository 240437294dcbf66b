/*
 * Native sandbox launcher: the same policy (AUTOKESTRA_SANDBOX, see policy.ts) and the same steps as
 * launch.ts, without a Bun start. Creates the namespaces itself (no `unshare` hop; a non-root engine maps its
 * uid to itself, never to 0), bind-mounts the temp dir and write grants noexec in the private mount namespace,
 * forks an engine-owned init (pid 1 of the new pid namespace) and then the plugin (pid 2), and moves the plugin into
 * its cgroups from the outside while it starts (a
 * cgroup v1 migration waits for an RCU grace period, ~10 ms): the plugin waits on a gate before any plugin
 * code runs (exec plugins before execve, Bun plugins in confine.ts before the plugin is imported). The child
 * drops to the leased uid and every capability and installs the engine-built seccomp filter last.
 * Build: cc -O2 -o jail-bin/launcher launcher.c (sandbox/process/build-launcher.ts, which puts it here).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LAUNCH_FAILED 125
#define POLICY_ENV "AUTOKESTRA_SANDBOX"
#define GATE_ENV "AUTOKESTRA_SANDBOX_GATE"

static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dprintf(2, "::error::autokestra sandbox: %s\n", msg);
  _exit(LAUNCH_FAILED);
}

/* ---- minimal JSON reader (objects, arrays, strings, numbers, true/false/null) ---- */
enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct J { int type; double num; char *str; const char *start, *end; struct J **kids; char **keys; int n; } J;
static const char *p;

static void ws(void) { while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++; }
static void *xalloc(size_t n) { void *v = calloc(1, n); if (!v) fail("out of memory"); return v; }
static void put_utf8(char **o, unsigned c) {
  char *s = *o;
  if (c < 0x80) *s++ = (char)c;
  else if (c < 0x800) { *s++ = (char)(0xC0 | c >> 6); *s++ = (char)(0x80 | (c & 63)); }
  else if (c < 0x10000) { *s++ = (char)(0xE0 | c >> 12); *s++ = (char)(0x80 | (c >> 6 & 63)); *s++ = (char)(0x80 | (c & 63)); }
  else { *s++ = (char)(0xF0 | c >> 18); *s++ = (char)(0x80 | (c >> 12 & 63)); *s++ = (char)(0x80 | (c >> 6 & 63)); *s++ = (char)(0x80 | (c & 63)); }
  *o = s;
}
static unsigned hex4(void) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = *p++;
    v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : (fail("bad \\u escape"), 0));
  }
  return v;
}
static char *jstring(void) {
  if (*p++ != '"') fail("policy: string expected");
  char *out = xalloc(strlen(p) + 1), *o = out;
  while (*p != '"') {
    if (!*p) fail("policy: unterminated string");
    if (*p != '\\') { *o++ = *p++; continue; }
    p++;
    char c = *p++;
    switch (c) {
      case 'n': *o++ = '\n'; break; case 't': *o++ = '\t'; break; case 'r': *o++ = '\r'; break;
      case 'b': *o++ = '\b'; break; case 'f': *o++ = '\f'; break;
      case 'u': {
        unsigned u = hex4();
        if (u >= 0xD800 && u < 0xDC00 && p[0] == '\\' && p[1] == 'u') { p += 2; u = 0x10000 + ((u - 0xD800) << 10) + (hex4() - 0xDC00); }
        if (u == 0) fail("policy: NUL in string");
        put_utf8(&o, u);
        break;
      }
      default: *o++ = c;
    }
  }
  p++;
  *o = 0;
  return out;
}
static J *jvalue(void) {
  ws();
  J *j = xalloc(sizeof *j);
  j->start = p;
  if (*p == '{' || *p == '[') {
    int obj = *p++ == '{';
    j->type = obj ? J_OBJ : J_ARR;
    int cap = 8;
    j->kids = xalloc(cap * sizeof *j->kids);
    j->keys = xalloc(cap * sizeof *j->keys);
    ws();
    while (*p != (obj ? '}' : ']')) {
      if (j->n == cap) { cap *= 2; j->kids = realloc(j->kids, cap * sizeof *j->kids); j->keys = realloc(j->keys, cap * sizeof *j->keys); if (!j->kids || !j->keys) fail("out of memory"); }
      if (obj) { ws(); j->keys[j->n] = jstring(); ws(); if (*p++ != ':') fail("policy: ':' expected"); }
      j->kids[j->n++] = jvalue();
      ws();
      if (*p == ',') { p++; ws(); } else if (*p != (obj ? '}' : ']')) fail("policy: ',' expected");
    }
    p++;
  } else if (*p == '"') { j->type = J_STR; j->str = jstring(); }
  else if (!strncmp(p, "null", 4)) { j->type = J_NULL; p += 4; }
  else if (!strncmp(p, "true", 4)) { j->type = J_BOOL; j->num = 1; p += 4; }
  else if (!strncmp(p, "false", 5)) { j->type = J_BOOL; p += 5; }
  else { char *e; j->type = J_NUM; j->num = strtod(p, &e); if (e == p) fail("policy: bad value"); p = e; }
  j->end = p;
  return j;
}
static J *get(J *o, const char *key) {
  if (!o || o->type != J_OBJ) return NULL;
  for (int i = 0; i < o->n; i++) if (!strcmp(o->keys[i], key)) return o->kids[i];
  return NULL;
}
static long num(J *o, const char *key) { J *v = get(o, key); if (!v || v->type != J_NUM) fail("policy: number %s missing", key); return (long)v->num; }
static int truthy(J *o, const char *key) { J *v = get(o, key); return v && v->type == J_BOOL && v->num != 0; }

/* ---- Landlock (include/uapi/linux/landlock.h) ---- */
#define LL_CREATE 444
#define LL_ADD_RULE 445
#define LL_RESTRICT 446
#define FS_EXEC 1
#define FS_WRITE 2
#define FS_READ 4
#define FS_TRUNCATE (1 << 14)
#define FS_IOCTL_DEV (1 << 15)
#define FILE_RIGHTS (FS_EXEC | FS_WRITE | FS_READ | FS_TRUNCATE | FS_IOCTL_DEV)

static uint64_t handled_fs(long abi) {
  uint64_t all = (1u << 13) - 1;
  if (abi >= 2) all |= 1u << 13;
  if (abi >= 3) all |= FS_TRUNCATE;
  if (abi >= 5) all |= FS_IOCTL_DEV;
  return all;
}

/* A filesystem grant path (the rule has a "pin"): opened following no symlink (openat2 RESOLVE_NO_SYMLINKS) and
 * required to be the (device, inode) the engine pinned when it took the grant; a pin of null means the path did not
 * exist then, and gets no rule whatever stands there now (-1). Anything else fails the launch. */
static int open_pinned(const char *path, J *pin) {
  struct { uint64_t flags, mode, resolve; } how = { O_PATH | O_CLOEXEC, 0, 0x04 /* RESOLVE_NO_SYMLINKS */ };
  int fd = (int)syscall(437 /* openat2 */, AT_FDCWD, path, &how, sizeof how);
  int err = errno;
  if (pin->type == J_NULL) { if (fd >= 0) close(fd); return -1; }
  J *dev = get(pin, "dev"), *ino = get(pin, "ino");
  if (!dev || dev->type != J_STR || !ino || ino->type != J_STR) fail("policy: bad pin for %s", path);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && (unsigned long long)st.st_dev == strtoull(dev->str, NULL, 10) &&
      (unsigned long long)st.st_ino == strtoull(ino->str, NULL, 10)) return fd;
  fail("grant path %s changed since it was checked: it %s; refusing to start", path,
       fd >= 0 ? "is another file" : err == ENOENT ? "is gone" : err == ELOOP ? "goes through a symbolic link" : "cannot be opened");
  return -1;
}

static void landlock(J *ll) {
  long abi = syscall(LL_CREATE, NULL, 0, 1);
  if (abi < 1) fail("landlock unavailable");
  uint64_t fs = handled_fs(abi);
  uint64_t attr[3] = { fs, abi >= 4 ? 3 : 0, abi >= 6 ? 3 : 0 };
  int rs = (int)syscall(LL_CREATE, attr, abi >= 6 ? 24 : abi >= 4 ? 16 : 8, 0);
  if (rs < 0) fail("landlock_create_ruleset failed: errno %d", errno);
  J *paths = get(ll, "paths");
  for (int i = 0; paths && i < paths->n; i++) {
    J *r = paths->kids[i];
    J *path = get(r, "path");
    if (!path || path->type != J_STR) fail("policy: rule path missing");
    J *pin = get(r, "pin");
    int fd = pin ? open_pinned(path->str, pin) : open(path->str, O_PATH | O_CLOEXEC);
    if (fd < 0) continue; /* missing paths are skipped, as in landlock.ts */
    struct __attribute__((packed)) { uint64_t access; int32_t fd; } rule = { (uint64_t)num(r, "access") & fs, fd };
    long rc = syscall(LL_ADD_RULE, rs, 1, &rule, 0);
    if (rc < 0 && errno == EINVAL) { rule.access &= FILE_RIGHTS; rc = syscall(LL_ADD_RULE, rs, 1, &rule, 0); }
    close(fd);
    if (rc < 0) fail("landlock_add_rule(%s) failed: errno %d", path->str, errno);
  }
  J *ports = get(ll, "connectPorts");
  for (int i = 0; abi >= 4 && ports && i < ports->n; i++) {
    struct __attribute__((packed)) { uint64_t access; uint64_t port; } net = { 2, (uint64_t)ports->kids[i]->num };
    if (syscall(LL_ADD_RULE, rs, 2, &net, 0) < 0) fail("landlock_add_rule(tcp %llu) failed: errno %d", (unsigned long long)net.port, errno);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) fail("prctl(NO_NEW_PRIVS) failed: errno %d", errno);
  if (syscall(LL_RESTRICT, rs, 0) < 0) fail("landlock_restrict_self failed: errno %d", errno);
  close(rs);
}

/* ---- privileges (same steps as libc.ts `capabilities` and `dropTo`) ---- */
static void drop_privileges(J *user) {
  for (int cap = 0; cap < 64; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (prctl(PR_SET_SECUREBITS, 0x1 | 0x2 | 0x8 | 0x20 | 0x40 | 0x80, 0, 0, 0)) fail("cannot lock capabilities: errno %d", errno);
  if (user && user->type == J_OBJ) {
    uid_t uid = (uid_t)num(user, "uid");
    gid_t gid = (gid_t)num(user, "gid");
    if (syscall(SYS_setgroups, 0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) fail("cannot switch to uid %u: errno %d", uid, errno);
  }
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capset, &h, d)) fail("cannot drop capabilities: errno %d", errno);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open %s: errno %d", path, errno);
  ssize_t n = write(fd, text, strlen(text));
  int err = errno;
  close(fd);
  if (n < 0) { errno = err; fail("cannot write %s: errno %d", path, err); }
}

/* Bind-mounts each path onto itself nosuid, nodev, noexec. Flags the source mount already has are kept: in a user
 * namespace they are locked, and a remount that drops one fails with EPERM. */
static void noexec_mounts(J *paths) {
  for (int i = 0; paths && i < paths->n; i++) {
    const char *p = paths->kids[i]->str;
    struct statvfs sv;
    if (statvfs(p, &sv)) fail("statvfs(%s): errno %d", p, errno);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (sv.f_flag & ST_RDONLY) flags |= MS_RDONLY;
    if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    if (sv.f_flag & 8192 /* ST_NOSYMFOLLOW */) flags |= 256 /* MS_NOSYMFOLLOW */;
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) || mount(NULL, p, NULL, flags, NULL)) fail("cannot mount %s noexec: errno %d", p, errno);
  }
}

/* The process's own /proc entry is the only part of /proc the plugin may read (the Landlock rule on /proc/self), but
 * its net/ lists the host's sockets once a network grant removes the network namespace (net/unix names docker.sock,
 * net/tcp the engine's port), and task/ holds each thread's net/ again: both are covered with an empty read-only
 * tmpfs in the private mount namespace. Bun reads maps, statm, stat and cgroup there, never these. */
static void mask_proc_self(void) {
  static const char *const dirs[] = { "/proc/self/net", "/proc/self/task" };
  for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    if (mount("none", dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")) fail("cannot hide %s: errno %d", dirs[i], errno);
  }
}

/* The filter comes from the engine (seccomp.ts) as [[code, jt, jf, k], ...]; installed as the very last step. */
static void install_seccomp(J *prog) {
  if (!prog || prog->type != J_ARR) return;
  struct sock_filter *f = xalloc(prog->n * sizeof *f);
  for (int i = 0; i < prog->n; i++) {
    J *ins = prog->kids[i];
    if (ins->type != J_ARR || ins->n != 4) fail("policy: bad seccomp instruction");
    f[i].code = (unsigned short)ins->kids[0]->num;
    f[i].jt = (unsigned char)ins->kids[1]->num;
    f[i].jf = (unsigned char)ins->kids[2]->num;
    f[i].k = (unsigned int)(unsigned long long)ins->kids[3]->num;
  }
  struct sock_fprog fp = { (unsigned short)prog->n, f };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) fail("prctl(NO_NEW_PRIVS) failed: errno %d", errno);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0)) fail("cannot install the seccomp filter: errno %d", errno);
}

static char **strings(J *arr) {
  char **v = xalloc((arr->n + 1) * sizeof *v);
  for (int i = 0; i < arr->n; i++) v[i] = arr->kids[i]->str;
  return v;
}

/* Whether the launcher parent still lives (closes the race with PR_SET_PDEATHSIG). Inside a new pid
 * namespace the parent is outside it and getppid() is 0; a dead parent then shows as 0 too, but its gate
 * (closed on death) stops the plugin before any plugin code runs. */
static int parent_alive(pid_t parent) {
  pid_t pp = getppid();
  return pp == parent || pp == 0;
}

/* Child side: rlimits, Landlock, privileges, then become the plugin (exec plugins wait on the gate first). */
static void confine_and_exec(J *pol, int gate, pid_t parent) {
  /* The plugin must never hold the uid lease lock (unlocking a duplicate frees the uid while it runs); the parent,
   * which waits for the plugin, keeps its copy until it exits. */
  J *lease = get(pol, "leaseFd");
  if (lease && lease->type == J_NUM) close((int)lease->num);
  J *rl = get(pol, "rlimits");
  long cpu = num(rl, "cpuSeconds");
  struct rlimit r = { (rlim_t)cpu, (rlim_t)cpu + 1 };
  if (setrlimit(RLIMIT_CPU, &r)) fail("setrlimit failed: errno %d", errno);
  r.rlim_cur = r.rlim_max = (rlim_t)num(rl, "nofile");
  if (setrlimit(RLIMIT_NOFILE, &r)) fail("setrlimit failed: errno %d", errno);
  r.rlim_cur = r.rlim_max = (rlim_t)num(rl, "core");
  if (setrlimit(RLIMIT_CORE, &r)) fail("setrlimit failed: errno %d", errno);
  umask((mode_t)num(pol, "umask"));
  J *cwd = get(pol, "cwd");
  if (!cwd || cwd->type != J_STR || chdir(cwd->str)) fail("chdir failed: errno %d", errno);
  if (truthy(get(pol, "ns"), "mount")) mask_proc_self();
  J *ll = get(pol, "landlock");
  if (ll && ll->type == J_OBJ) landlock(ll);
  drop_privileges(get(pol, "user"));
  /* A credential change clears the parent-death signal: set it (again) now. */
  if (parent > 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (!parent_alive(parent)) _exit(LAUNCH_FAILED);
  }
  install_seccomp(get(pol, "seccomp"));
  J *ex = get(pol, "exec");
  J *path = get(ex, "path"), *argv = get(ex, "argv"), *env = get(ex, "env");
  if (!path || path->type != J_STR || !argv || argv->type != J_ARR || !env || env->type != J_OBJ) fail("policy: exec missing");
  char **envp = xalloc((env->n + 3) * sizeof *envp);
  int k = 0;
  for (int i = 0; i < env->n; i++) {
    if (!strcmp(env->keys[i], POLICY_ENV) || !strcmp(env->keys[i], GATE_ENV)) continue;
    if (asprintf(&envp[k++], "%s=%s", env->keys[i], env->kids[i]->str) < 0) fail("out of memory");
  }
  J *guard = get(pol, "guard");
  if (guard && guard->type == J_OBJ) {
    /* The guard policy is passed on verbatim (the JSON text as the engine wrote it). */
    if (asprintf(&envp[k++], "%s=%.*s", POLICY_ENV, (int)(guard->end - guard->start), guard->start) < 0) fail("out of memory");
    if (gate >= 0) {
      if (fcntl(gate, F_SETFD, 0)) fail("gate: errno %d", errno);
      if (asprintf(&envp[k++], "%s=%d", GATE_ENV, gate) < 0) fail("out of memory");
    }
  } else if (gate >= 0) {
    char go;
    if (read(gate, &go, 1) != 1) _exit(LAUNCH_FAILED);
    close(gate);
  }
  /* An exec plugin (maybe a spare) starts only once its invocation is there: poll, without consuming it. */
  if (truthy(ex, "awaitInput")) {
    struct pollfd in = { 0, POLLIN, 0 };
    while (poll(&in, 1, -1) < 0) if (errno != EINTR) fail("poll(stdin): errno %d", errno);
    /* Readable but empty is end of file: the engine dropped this spare without an invocation. Run nothing. */
    int avail = 0;
    if (ioctl(0, FIONREAD, &avail) == 0 && avail == 0) _exit(LAUNCH_FAILED);
  }
  envp[k] = NULL;
  execve(path->str, strings(argv), envp);
  fail("cannot execute %s: errno %d", path->str, errno);
}

/* The pid namespace's init (pid 1), engine-owned: never confined, never the plugin. The plugin (pid 2) may clear its
 * own parent-death signal, but when this process dies the kernel kills every process of the namespace, so the plugin
 * cannot outlive the launcher. It lives until the launcher closes `hold` (or dies: end of file, and its own
 * parent-death signal), reaps the orphans the plugin leaves, keeps no descriptor of the engine's (stdio, the uid
 * lease) and is not dumpable (no ptrace, no /proc access by the plugin). */
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
static pid_t start_init(int hold[2]) {
  pid_t pid = fork();
  if (pid < 0) fail("fork: errno %d", errno);
  if (pid > 0) { close(hold[0]); return pid; }
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(LAUNCH_FAILED);
  if (dup2(hold[0], 3) < 0) _exit(LAUNCH_FAILED);
  if (syscall(436 /* close_range */, 4, ~0U, 0)) for (int fd = 4; fd < 4096; fd++) close(fd);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = reap;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  char c;
  while (read(3, &c, 1) < 0 && errno == EINTR) {}
  _exit(0);
}

/* Parent side: wait for the plugin, end its namespace (killing its init takes every orphan it left), and exit the way
 * the plugin did (a signal is re-raised, e.g. SIGXCPU). The uid lease (held by this process) goes only after that. */
static void relay(pid_t child, pid_t init, int hold) {
  int status;
  while (waitpid(child, &status, 0) < 0) if (errno != EINTR) fail("waitpid: errno %d", errno);
  if (init > 0) {
    close(hold);
    kill(init, SIGKILL);
    while (waitpid(init, NULL, 0) < 0 && errno == EINTR) {}
  }
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  struct rlimit none = { 0, 0 };
  setrlimit(RLIMIT_CORE, &none);
  signal(sig, SIG_DFL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  kill(getpid(), sig);
  _exit(128 + sig);
}

int main(void) {
  const char *raw = getenv(POLICY_ENV);
  if (!raw) fail(POLICY_ENV " missing");
  p = raw;
  J *pol = jvalue();
  if (pol->type != J_OBJ) fail("policy: object expected");
  /* The engine's death takes the launcher (and, through it, the plugin) down. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  /* The uid lease lock must be there (Launch.fds): otherwise its number would go to the gate pipe, and nothing would
   * hold the uid while the plugin runs. */
  J *lease = get(pol, "leaseFd");
  if (lease && lease->type == J_NUM && fcntl((int)lease->num, F_GETFD) < 0) fail("the uid lease descriptor %d was not passed", (int)lease->num);
  J *ns = get(pol, "ns");
  int mountns = truthy(ns, "mount");
  int flags = (truthy(ns, "net") ? CLONE_NEWNET : 0) | (truthy(ns, "pid") ? CLONE_NEWPID : 0) | (mountns ? CLONE_NEWNS | CLONE_NEWIPC : 0);
  if (flags && truthy(ns, "user")) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(flags | CLONE_NEWUSER)) fail("unshare failed: errno %d", errno);
    /* Identity map: the plugin keeps the engine's (non-zero) uid inside too; the namespace's creator still holds
     * the capabilities it needs for the mounts below until drop_privileges. */
    char map[64];
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "%u %u 1", uid, uid); write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "%u %u 1", gid, gid); write_file("/proc/self/gid_map", map);
  } else if (flags && unshare(flags)) fail("unshare failed: errno %d", errno);
  if (mountns) {
    /* Private first: otherwise, on a host whose / is shared (systemd), the bind mounts would show on the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("cannot make / private: errno %d", errno);
    noexec_mounts(get(pol, "noexec"));
  }
  J *cgroups = get(pol, "cgroups");
  int ncg = cgroups && cgroups->type == J_ARR ? cgroups->n : 0;
  if (!(flags & CLONE_NEWPID) && ncg == 0) confine_and_exec(pol, -1, 0);
  int gate[2], hold[2] = { -1, -1 };
  if (pipe2(gate, O_CLOEXEC)) fail("pipe: errno %d", errno);
  pid_t self = getpid();
  /* The first child of a new pid namespace is its init: an engine-owned one, so that the plugin (the next child) is not. */
  pid_t init = 0;
  if (flags & CLONE_NEWPID) {
    if (pipe2(hold, O_CLOEXEC)) fail("pipe: errno %d", errno);
    init = start_init(hold);
  }
  pid_t child = fork();
  if (child < 0) { if (init > 0) kill(init, SIGKILL); fail("fork: errno %d", errno); }
  if (child == 0) {
    close(gate[1]);
    if (hold[1] >= 0) close(hold[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (!parent_alive(self)) _exit(LAUNCH_FAILED);
    confine_and_exec(pol, ncg > 0 ? gate[0] : -1, self);
  }
  close(gate[0]);
  /* After the fork (SIG_IGN would be inherited): a plugin gone before reading its gate must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  char pid[32];
  snprintf(pid, sizeof pid, "%d", child);
  for (int i = 0; i < ncg; i++) {
    char file[4096];
    snprintf(file, sizeof file, "%s/cgroup.procs", cgroups->kids[i]->str);
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, strlen(pid)) < 0) {
      int err = errno;
      if (err == ESRCH) { if (fd >= 0) close(fd); break; } /* already gone: nothing ran, the exit status tells */
      kill(child, SIGKILL);
      if (init > 0) kill(init, SIGKILL);
      fail("cannot join cgroup %s: errno %d", cgroups->kids[i]->str, err);
    }
    close(fd);
  }
  if (ncg > 0 && write(gate[1], "1", 1) != 1 && errno != EPIPE) { kill(child, SIGKILL); if (init > 0) kill(init, SIGKILL); fail("gate: errno %d", errno); }
  close(gate[1]);
  relay(child, init, hold[1]);
  return LAUNCH_FAILED;
}
