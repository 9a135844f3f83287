/*
 * rhtml: the drift report as one self-contained HTML page (no script, no
 * external font or style sheet; charts are inline SVG), rendered from the
 * report JSON the monitor writes to Redis (mcore.h, ss_mcore_report_json()).
 *
 * Sections: what moved (every statistic of the latest sliding window with its
 * family, value, threshold, critical value, window n and reference n, and
 * whether it may raise an event); each family's statistic over the recent
 * evaluations against its threshold and critical value; the estimated true
 * class mix against the reference mix with its intervals; measured and
 * estimated macro-F1 with label coverage and label lag; the reference and
 * current histogram of every distribution; the events fired.
 *
 * Every figure shown in a table cell carries data-key="<path>" with the
 * value printed as %.4f, so a test can find the report's numbers in the
 * rendered DOM.
 */
#ifndef SS_RHTML_H
#define SS_RHTML_H

#include <stdio.h>

#include "ss_err.h"

/* Renders report JSON text (origin names it in errors) to out. SS_ERR_PARSE for JSON that
 * does not parse, SS_ERR_FORMAT for one that is not a monitor report. */
ss_err_t ss_rhtml_render(const char *json, const char *origin, FILE *out, char *errstr,
                         size_t errstr_size);

#endif /* SS_RHTML_H */
