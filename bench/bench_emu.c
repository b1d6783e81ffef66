#include "bench_emu.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The exit cleanup works on a copy: a bench_emu_t on main()'s stack is gone
 * by the time atexit handlers run.  One emulator per benchmark. */
static bench_emu_t running;

static void cleanup(void)
{
    char p[320];

    if (running.dir[0] == '\0') {
        return;
    }
    if (running.pid > 0) {
        kill(running.pid, SIGTERM);
        waitpid(running.pid, NULL, 0);
        running.pid = 0;
    }
    unlink(running.socket);
    /* The driver's per-chip lock file (atecc608_linux.c flocks it). */
    snprintf(p, sizeof(p), "%s.lock", running.socket);
    unlink(p);
    unlink(running.state);
    snprintf(p, sizeof(p), "%s.tmp", running.state);
    unlink(p);
    rmdir(running.dir);
    running.dir[0] = '\0';
}

static const char *env_path(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "%s (a program's path) is not set\n", name);
        exit(1);
    }
    return v;
}

/* Runs argv with stdout into out (NULL: inherited); its exit status, -1 if
 * it did not run or died. */
static int run(const char *const *argv, char *out, size_t size)
{
    int fds[2] = {-1, -1}, st = 0;
    size_t len = 0;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    if (out != NULL && pipe(fds) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        if (out != NULL) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (out != NULL) {
        close(fds[1]);
        while (pid > 0 && len + 1 < size) {
            ssize_t n = read(fds[0], out + len, size - 1 - len);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            len += (size_t)n;
        }
        out[len] = '\0';
        close(fds[0]);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The emulator is up when its socket accepts a connection. */
static int socket_up(const char *path)
{
    struct sockaddr_un sa;
    size_t len = strlen(path);
    int fd, ok;

    if (len >= sizeof(sa.sun_path)) {
        fprintf(stderr, "socket path too long: %s\n", path);
        exit(1);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ok = fd >= 0 && connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

void bench_emu_start(bench_emu_t *e, const char *const *extra)
{
    const char *tmp = getenv("TMPDIR"), *emu = env_path("KW_EMU");
    const char *argv[32];
    int n = 0;

    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "%s/kw-bench-atecc-XXXXXX", tmp != NULL ? tmp : "/tmp");
    CHECK(mkdtemp(e->dir) != NULL);
    snprintf(e->socket, sizeof(e->socket), "%s/bus.sock", e->dir);
    snprintf(e->state, sizeof(e->state), "%s/chip.state", e->dir);
    snprintf(e->bus, sizeof(e->bus), "unix:%s", e->socket);
    running = *e;
    atexit(cleanup);
    argv[n++] = emu;
    argv[n++] = "--state";
    argv[n++] = e->state;
    argv[n++] = "--socket";
    argv[n++] = e->socket;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 30; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    e->pid = fork();
    if (e->pid == 0) {
        execv(emu, (char *const *)argv);
        _exit(127);
    }
    CHECK(e->pid > 0);
    running.pid = e->pid;
    /* Poll for the socket, with a deadline (5 s), and stop early if the
     * emulator died. */
    for (int i = 0; i < 500; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        if (socket_up(e->socket)) {
            return;
        }
        if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
            e->pid = running.pid = 0;
            break;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "the emulator did not start\n");
    exit(1);
}

void bench_emu_ctl(const bench_emu_t *e, const char *cmd, char *out, size_t size)
{
    const char *argv[] = {env_path("KW_EMU"), "--socket", e->socket, "--ctl", cmd, NULL};

    if (run(argv, out, size) != 0) {
        fprintf(stderr, "emulator control '%s' failed\n", cmd);
        exit(1);
    }
}

unsigned long bench_emu_stat(const char *s, const char *name)
{
    size_t n = strlen(name);

    while (s != NULL && *s != '\0') {
        if (strncmp(s, name, n) == 0 && s[n] == '=') {
            return strtoul(s + n + 1, NULL, 10);
        }
        s = strchr(s, '\n');
        s = s != NULL ? s + 1 : NULL;
    }
    fprintf(stderr, "no counter %s\n", name);
    exit(1);
}

int bench_tool(const char *subcommand, const char *keyref)
{
    const char *argv[] = {env_path("KW_TOOL"), subcommand, keyref, NULL};

    return run(argv, NULL, 0);
}
