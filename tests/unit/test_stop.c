/*
 * test_stop: the process's one stop request: set by SIGTERM / SIGINT once
 * installed, by ss_stop_request(), seen through ss_stop_flag(), and cleared.
 */
#include <signal.h>

#include "ss_stop.h"
#include "ss_test.h"

int main(void)
{
        CHECK(!ss_stop_requested() && *ss_stop_flag() == 0);
        ss_stop_request();
        CHECK(ss_stop_requested() && *ss_stop_flag() == 1);
        ss_stop_clear();
        CHECK(!ss_stop_requested());
        ss_stop_install();
        raise(SIGTERM); /* handled: the process goes on */
        CHECK(ss_stop_requested());
        ss_stop_clear();
        raise(SIGINT);
        CHECK(ss_stop_requested());
        return ss_test_finish();
}
