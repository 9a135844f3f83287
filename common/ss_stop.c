/*
 * ss_stop: one volatile sig_atomic_t per process, set by the signal handler
 * (ss_stop.h).
 */
#include "ss_stop.h"

#include <string.h>

static volatile sig_atomic_t ss_stop_flag_v;

static void ss_stop_on_signal(int sig)
{
        (void)sig;
        ss_stop_flag_v = 1;
}

void ss_stop_install(void)
{
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = ss_stop_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
}

void ss_stop_request(void)
{
        ss_stop_flag_v = 1;
}

int ss_stop_requested(void)
{
        return ss_stop_flag_v != 0;
}

void ss_stop_clear(void)
{
        ss_stop_flag_v = 0;
}

volatile sig_atomic_t *ss_stop_flag(void)
{
        return &ss_stop_flag_v;
}
