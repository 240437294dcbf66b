/*
 * The first program of a Docker plugin container (sandbox/docker/first.ts builds it statically and mounts it
 * read-only): applies Landlock to itself and execs the rest of its argv, so that nothing of the image — its loader,
 * its /etc/ld.so.preload, the preloads of its ENV, its bun — runs before the container is in the domain. Static: no
 * loader, no library, no environment read. A coarse layer (the guest's sdk/lockdown.ts adds the precise ones):
 *   read everywhere; write the -w paths and a few devices; execute the -x paths and what executing each also executes
 *   (its PT_INTERP loader, its #! interpreter); TCP connect to the -p ports only, bind none; with -n, refuse to run
 *   without Landlock network rules (ABI 4). Exits 125 without running anything when it cannot apply them.
 * Usage: first [-w PATH]... [-x PATH]... [-p PORT]... [-n] -- PROGRAM ARGS...
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAILED 125
#define MAXR 512

static void fail(const char *what) {
  dprintf(2, "::error::autokestra sandbox: %s (errno %d): refusing to run unconfined\n", what, errno);
  _exit(FAILED);
}

struct attr { uint64_t fs, net, scoped; };
struct path_rule { uint64_t allowed; int32_t fd; } __attribute__((packed));
struct net_rule { uint64_t allowed; uint64_t port; };

enum {
  EXECUTE = 1 << 0, WRITE_FILE = 1 << 1, READ_FILE = 1 << 2, READ_DIR = 1 << 3, REMOVE_DIR = 1 << 4,
  REMOVE_FILE = 1 << 5, MAKE_CHAR = 1 << 6, MAKE_DIR = 1 << 7, MAKE_REG = 1 << 8, MAKE_SOCK = 1 << 9,
  MAKE_FIFO = 1 << 10, MAKE_BLOCK = 1 << 11, MAKE_SYM = 1 << 12, REFER = 1 << 13, TRUNCATE = 1 << 14, IOCTL_DEV = 1 << 15,
};
#define READ (READ_FILE | READ_DIR)
#define WRITE (READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | MAKE_SOCK | MAKE_FIFO | REFER | TRUNCATE)
#define FILE_RIGHTS (EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV)

static int ruleset;
static uint64_t handled;

static void rule(const char *path, uint64_t access) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return; /* missing: nothing granted there */
  struct path_rule r = { access & handled, fd };
  long rc = syscall(__NR_landlock_add_rule, ruleset, 1, &r, 0);
  if (rc < 0 && errno == EINVAL) { r.allowed &= FILE_RIGHTS; rc = syscall(__NR_landlock_add_rule, ruleset, 1, &r, 0); }
  close(fd);
  if (rc < 0) fail("landlock_add_rule failed");
}

/* What executing `path` also executes: the ELF's PT_INTERP, or a script's #! interpreter; 0 when neither. */
static int also_executed(const char *path, char *out, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned char h[256];
  ssize_t got = pread(fd, h, sizeof h, 0);
  int found = 0;
  if (got >= 2 && h[0] == '#' && h[1] == '!') {
    size_t i = 2, j = 0;
    while (i < (size_t)got && (h[i] == ' ' || h[i] == '\t')) i++;
    while (i < (size_t)got && h[i] != ' ' && h[i] != '\t' && h[i] != '\n' && j + 1 < n) out[j++] = (char)h[i++];
    out[j] = 0;
    found = j > 0 && out[0] == '/';
  } else if (got >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(h, ELFMAG, SELFMAG) == 0 && h[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr e;
    memcpy(&e, h, sizeof e);
    for (int i = 0; i < e.e_phnum && !found; i++) {
      Elf64_Phdr ph;
      if (pread(fd, &ph, sizeof ph, (off_t)(e.e_phoff + (uint64_t)i * e.e_phentsize)) != sizeof ph) break;
      if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz >= n) continue;
      if (pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz) break;
      out[ph.p_filesz] = 0;
      found = out[0] == '/';
    }
  }
  close(fd);
  return found;
}

static void exec_rule(const char *path, int depth) {
  rule(path, READ_FILE | EXECUTE);
  char next[4096];
  if (depth < 2 && also_executed(path, next, sizeof next)) exec_rule(next, depth + 1);
}

int main(int argc, char **argv) {
  const char *write_paths[MAXR], *exec_paths[MAXR];
  uint64_t ports[MAXR];
  int nw = 0, nx = 0, np = 0, need_net = 0, i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (strcmp(argv[i], "-n") == 0) { need_net = 1; continue; }
    if (i + 1 >= argc) { errno = EINVAL; fail("bad arguments"); }
    if (strcmp(argv[i], "-w") == 0 && nw < MAXR) write_paths[nw++] = argv[++i];
    else if (strcmp(argv[i], "-x") == 0 && nx < MAXR) exec_paths[nx++] = argv[++i];
    else if (strcmp(argv[i], "-p") == 0 && np < MAXR) ports[np++] = strtoull(argv[++i], NULL, 10);
    else { errno = EINVAL; fail("bad arguments"); }
  }
  if (i >= argc) { errno = EINVAL; fail("nothing to run"); }
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, 1);
  if (abi < 1) fail("Landlock is not available in this container (kernel, or the container's seccomp profile)");
  if (need_net && abi < 4) { errno = 0; fail("this task has a network grant and Landlock cannot hold TCP ports here (ABI 4 needed)"); }
  handled = (1 << 13) - 1;
  if (abi >= 2) handled |= REFER;
  if (abi >= 3) handled |= TRUNCATE;
  if (abi >= 5) handled |= IOCTL_DEV;
  struct attr a = { handled, abi >= 4 ? 3 : 0, abi >= 6 ? 3 : 0 };
  ruleset = (int)syscall(__NR_landlock_create_ruleset, &a, abi >= 6 ? 24 : abi >= 4 ? 16 : 8, 0);
  if (ruleset < 0) fail("landlock_create_ruleset failed");
  rule("/", READ);
  const char *devices[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom" };
  for (size_t d = 0; d < sizeof devices / sizeof *devices; d++) rule(devices[d], READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV);
  for (int k = 0; k < nw; k++) rule(write_paths[k], WRITE);
  for (int k = 0; k < nx; k++) exec_rule(exec_paths[k], 0);
  if (abi >= 4) {
    for (int k = 0; k < np; k++) {
      struct net_rule r = { 2 /* CONNECT_TCP */, ports[k] };
      if (syscall(__NR_landlock_add_rule, ruleset, 2, &r, 0) < 0) fail("landlock_add_rule(tcp) failed");
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("prctl(NO_NEW_PRIVS) failed");
  if (syscall(__NR_landlock_restrict_self, ruleset, 0) < 0) fail("landlock_restrict_self failed");
  close(ruleset);
  execv(argv[i], argv + i);
  fail("cannot execute the container's program");
  return FAILED;
}
