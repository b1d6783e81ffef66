/* SIGINT/SIGTERM as a flag plus a self-pipe (tools/signals.h). */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught;
static int pipe_fd[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (caught == 0) {
        caught = sig;
    }
    if (pipe_fd[1] >= 0) {
        /* A full pipe already wakes every poll(): a failed write loses nothing. */
        ssize_t n = write(pipe_fd[1], "", 1);
        (void)n;
    }
    errno = saved;
}

int kw_signals_install(void)
{
    struct sigaction sa;

    if (pipe_fd[0] < 0) {
        if (pipe(pipe_fd) != 0) {
            return -1;
        }
        for (int i = 0; i < 2; i++) {
            fcntl(pipe_fd[i], F_SETFL, fcntl(pipe_fd[i], F_GETFL) | O_NONBLOCK);
            fcntl(pipe_fd[i], F_SETFD, FD_CLOEXEC);
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 2; i++) {
        int sig = i == 0 ? SIGINT : SIGTERM;
        struct sigaction old;
        /* A signal ignored from the start stays ignored (a shell's
         * background job, nohup): the user asked for that. */
        if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN) {
            continue;
        }
        sigaction(sig, &sa, NULL);
    }
    /* Writes to a closed peer report EPIPE instead of killing the program. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

int kw_signals_caught(void)
{
    return (int)caught;
}

int kw_signals_fd(void)
{
    return pipe_fd[0];
}

int kw_signals_exit_status(int sig)
{
    return 128 + sig;
}
