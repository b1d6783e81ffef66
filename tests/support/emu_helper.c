#include "emu_helper.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The exit cleanup uses copies: a kw_emu_t on main()'s stack is gone by
 * the time atexit handlers run. */
typedef struct {
    int used, pid;
    char dir[256], socket[300], state[300];
} rec_t;
static rec_t recs[4];
static int handlers;

static void kill_pid(int *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

static void kill_emu(kw_emu_t *e)
{
    kill_pid(&e->pid);
    recs[e->rec].pid = 0;
    keyward_i2c_socket_close(&e->ctl);
}

/* Empties and removes the emulator's directory.  Every entry goes, not a list of known
 * names: the socket, the state and its .tmp, and the bus lock keyward's socket HAL makes
 * beside the socket (bus.sock.lock, which a list once missed, leaving the folder behind). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[600];

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

static void cleanup(void)
{
    for (int i = 0; i < 4; i++) {
        rec_t *r = &recs[i];
        if (r->used) {
            kill_pid(&r->pid);
            remove_dir(r->dir);
            r->used = 0;
        }
    }
}

static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void spawn(kw_emu_t *e, const char *const *extra)
{
    const char *emu = getenv("KW_EMU");
    const char *argv[32];
    int n = 0;

    if (emu == NULL) {
        fprintf(stderr, "KW_EMU (path of keyward-atecc608-emu) is not set\n");
        exit(1);
    }
    argv[n++] = emu;
    argv[n++] = "--state";
    argv[n++] = e->state;
    argv[n++] = "--socket";
    argv[n++] = e->socket;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 30; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    unlink(e->socket);
    e->pid = fork();
    if (e->pid == 0) {
        execv(emu, (char *const *)argv);
        _exit(127);
    }
    recs[e->rec].pid = e->pid;
    for (int i = 0; i < 500; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        if (keyward_i2c_socket_open(&e->ctl, e->socket) == 0) {
            return;
        }
        if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
            e->pid = 0;
            break;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "the emulator did not start\n");
    exit(1);
}

void kw_emu_start(kw_emu_t *e, const char *const *extra)
{
    const char *tmp = getenv("TMPDIR");
    int slot = -1;

    memset(e, 0, sizeof(*e));
    e->ctl.fd = -1;
    snprintf(e->dir, sizeof(e->dir), "%s/kw-atecc-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(e->dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(e->socket, sizeof(e->socket), "%s/bus.sock", e->dir);
    snprintf(e->state, sizeof(e->state), "%s/chip.state", e->dir);
    snprintf(e->bus, sizeof(e->bus), "unix:%s", e->socket);
    for (int i = 0; i < 4; i++) {
        if (!recs[i].used) {
            slot = i;
            break;
        }
    }
    REQUIRE(slot >= 0);
    if (!handlers) {
        handlers = 1;
        atexit(cleanup);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGABRT, on_signal);
        signal(SIGSEGV, on_signal);
    }
    e->rec = slot;
    recs[slot].used = 1;
    snprintf(recs[slot].dir, sizeof(recs[slot].dir), "%s", e->dir);
    snprintf(recs[slot].socket, sizeof(recs[slot].socket), "%s", e->socket);
    snprintf(recs[slot].state, sizeof(recs[slot].state), "%s", e->state);
    spawn(e, extra);
}

void kw_emu_restart(kw_emu_t *e, const char *const *extra)
{
    kill_emu(e);
    spawn(e, extra);
}

void kw_emu_stop(kw_emu_t *e)
{
    kill_emu(e);
}

const char *kw_emu_ctl(kw_emu_t *e, const char *cmd)
{
    static char answer[8192];
    if (keyward_i2c_socket_control(&e->ctl, cmd, answer, sizeof(answer)) != 0) {
        fprintf(stderr, "emulator control '%s' failed: %s\n", cmd, answer);
        exit(1);
    }
    return answer;
}

unsigned long kw_emu_stat(kw_emu_t *e, const char *name)
{
    const char *s = kw_emu_ctl(e, "stats");
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

int kw_tool(const char *subcommand, const char *keyref)
{
    const char *tool = getenv("KW_TOOL");
    int st = 0;
    pid_t pid;

    if (tool == NULL) {
        fprintf(stderr, "KW_TOOL (path of keyward-tool) is not set\n");
        exit(1);
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        execl(tool, tool, subcommand, keyref, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
