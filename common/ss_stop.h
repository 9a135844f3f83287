/*
 * ss_stop: the one stop request of a process. SIGTERM and SIGINT (once
 * ss_stop_install() ran) or ss_stop_request() set it; every long loop (the
 * scorer, the monitor, tail, label) polls it and finishes cleanly. Loops whose
 * API takes a flag (ss_monitor_run(), ss_cli_tail_topic()) are given
 * ss_stop_flag(); tests may pass their own.
 */
#ifndef SS_STOP_H
#define SS_STOP_H

#include <signal.h>

/* Installs the handler for SIGTERM and SIGINT (no SA_RESTART: blocking calls return
 * EINTR, so loops see the request at once). */
void ss_stop_install(void);

/* Requests the stop. Async-signal-safe; callable from any thread. */
void ss_stop_request(void);

/* 1 once a stop was requested (and not cleared). */
int ss_stop_requested(void);

/* Forgets the request (a run that stopped consumed it). */
void ss_stop_clear(void);

/* The flag itself, for APIs that poll a flag they are given. Valid for the process. */
volatile sig_atomic_t *ss_stop_flag(void);

#endif /* SS_STOP_H */
