/*
 * SIGINT/SIGTERM for keyward's programs: the handler only records the signal
 * (and wakes poll() through a self-pipe), so the program leaves through its
 * normal cleanup, keyward_deinit() included, and SE objects get released.
 */
#ifndef KW_SIGNALS_H
#define KW_SIGNALS_H

/* Installs the handlers (SA_RESTART: an SE transfer in progress is not
 * broken off; it completes, then the program notices) and ignores SIGPIPE.
 * A signal the program was started with ignored (a background job's
 * SIGINT, nohup) stays ignored.
 * Returns 0, or -1 when the self-pipe cannot be made. */
int kw_signals_install(void);

/* The signal caught (SIGINT, SIGTERM), or 0. */
int kw_signals_caught(void);

/* A descriptor that becomes readable once a signal is caught: poll it next to
 * a socket so a wait ends at once.  -1 before kw_signals_install(). */
int kw_signals_fd(void);

/* The exit status for a caught signal: 128 + signal number (130, 143). */
int kw_signals_exit_status(int sig);

#endif
