/*
 * rhtml: walks the report's cJSON tree once and prints HTML with inline SVG.
 * Charts are drawn by three small functions (a line chart over evaluation
 * counts with horizontal reference lines, grouped bars with interval
 * whiskers, a pair of histograms); each scales its own axes from the data.
 * Missing parts of a report (no labels yet, no label-shift estimate) leave
 * their section saying so.
 */
#include "rhtml.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define CHART_W 640
#define CHART_H 200
#define PAD_L   56
#define PAD_R   12
#define PAD_T   14
#define PAD_B   28
#define MAX_PTS 512

static const char *const class_names[3] = {"negative", "neutral", "positive"};

static void esc(FILE *out, const char *s)
{
        for (; s && *s; s++) {
                switch (*s) {
                case '<':
                        fputs("&lt;", out);
                        break;
                case '>':
                        fputs("&gt;", out);
                        break;
                case '&':
                        fputs("&amp;", out);
                        break;
                case '"':
                        fputs("&quot;", out);
                        break;
                default:
                        fputc(*s, out);
                }
        }
}

static const cJSON *at(const cJSON *o, const char *key)
{
        return cJSON_GetObjectItemCaseSensitive(o, key);
}

static double num(const cJSON *o, const char *key)
{
        const cJSON *v = at(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key)
{
        const cJSON *v = at(o, key);
        return cJSON_IsString(v) ? v->valuestring : "";
}

/* Up to max numbers of array a (null -> NAN); returns the count. */
static int nums(const cJSON *a, double *v, int max)
{
        int n = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, a)
        {
                if (n == max)
                        break;
                v[n++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        }
        return n;
}

/* A table cell with a figure and the key a test looks it up by. */
static void cell(FILE *out, const char *key, double v)
{
        fputs("<td class=\"v\" data-key=\"", out);
        esc(out, key);
        if (isnan(v))
                fputs("\">&ndash;</td>", out);
        else
                fprintf(out, "\">%.4f</td>", v);
}

/* ---- charts ------------------------------------------------------------------------- */

typedef struct series {
        const char *name, *color;
        const double *y;
        int dashed;
} series_t;

typedef struct hline {
        const char *name, *color;
        double y;
} hline_t;

static double sx(double x, double x0, double x1)
{
        return PAD_L + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (CHART_W - PAD_L - PAD_R);
}

static double sy(double y, double y0, double y1)
{
        return CHART_H - PAD_B - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (CHART_H - PAD_T - PAD_B);
}

static void axes(FILE *out, double x0, double x1, double y0, double y1, const char *xlabel)
{
        fprintf(out,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>",
                PAD_L, CHART_H - PAD_B, CHART_W - PAD_R, CHART_H - PAD_B, PAD_L, PAD_T, PAD_L,
                CHART_H - PAD_B);
        for (int k = 0; k <= 4; k++) {
                double y = y0 + (y1 - y0) * k / 4;
                fprintf(out,
                        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"t\">%.3g</text>"
                        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>",
                        PAD_L - 4, sy(y, y0, y1) + 4, y, PAD_L + 1, sy(y, y0, y1), CHART_W - PAD_R,
                        sy(y, y0, y1));
        }
        if (!*xlabel)
                return; /* categories: the caller labels them */
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" class=\"t\">%.0f</text>"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"t\">%.0f</text>"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"t\">",
                PAD_L, CHART_H - 8, x0, CHART_W - PAD_R, CHART_H - 8, x1,
                (PAD_L + CHART_W - PAD_R) / 2, CHART_H - 8);
        esc(out, xlabel);
        fputs("</text>", out);
}

/* A line chart of series over x[n], with horizontal lines; y from 0 unless data go below. */
static void line_chart(FILE *out, const char *title, const double *x, int n, const series_t *s,
                       int ns, const hline_t *h, int nh, const char *xlabel)
{
        double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = -INFINITY;
        for (int i = 0; i < n; i++) {
                x0 = fmin(x0, x[i]);
                x1 = fmax(x1, x[i]);
                for (int k = 0; k < ns; k++)
                        if (!isnan(s[k].y[i])) {
                                y0 = fmin(y0, s[k].y[i]);
                                y1 = fmax(y1, s[k].y[i]);
                        }
        }
        for (int k = 0; k < nh; k++)
                if (!isnan(h[k].y))
                        y1 = fmax(y1, h[k].y);
        if (!(y1 > y0))
                y1 = y0 + 1;
        y1 *= 1.08;
        fputs("<figure><figcaption>", out);
        esc(out, title);
        fprintf(out,
                "</figcaption><svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "role=\"img\">",
                CHART_W, CHART_H + 18, CHART_W, CHART_H + 18);
        if (n == 0) {
                fputs("<text x=\"60\" y=\"60\" class=\"t\">no evaluation yet</text></svg></figure>",
                      out);
                return;
        }
        axes(out, x0, x1, y0, y1, xlabel);
        for (int k = 0; k < nh; k++) {
                if (isnan(h[k].y))
                        continue;
                fprintf(out,
                        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" "
                        "stroke-dasharray=\"2 3\"/>",
                        PAD_L, sy(h[k].y, y0, y1), CHART_W - PAD_R, sy(h[k].y, y0, y1), h[k].color);
        }
        for (int k = 0; k < ns; k++) {
                fprintf(out,
                        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"",
                        s[k].color, s[k].dashed ? " stroke-dasharray=\"6 3\"" : "");
                for (int i = 0; i < n; i++)
                        if (!isnan(s[k].y[i]))
                                fprintf(out, "%.1f,%.1f ", sx(x[i], x0, x1), sy(s[k].y[i], y0, y1));
                fputs("\"/>", out);
        }
        /* legend */
        int lx = PAD_L + 8;
        for (int k = 0; k < ns + nh; k++) {
                const char *name = k < ns ? s[k].name : h[k - ns].name;
                const char *color = k < ns ? s[k].color : h[k - ns].color;
                fprintf(out,
                        "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"3\" fill=\"%s\"/>"
                        "<text x=\"%d\" y=\"%d\" class=\"t\">",
                        lx, CHART_H + 8, color, lx + 13, CHART_H + 13);
                esc(out, name);
                fputs("</text>", out);
                lx += 18 + 6 * (int)strlen(name);
        }
        fputs("</svg></figure>\n", out);
}

/* Reference and estimated class shares with interval whiskers. */
static void mix_chart(FILE *out, const double *ref, const double *est, const double *lo,
                      const double *hi)
{
        fprintf(out,
                "<figure><figcaption>true class mix: reference (grey) and estimated from "
                "the predictions (blue, with its interval)</figcaption>"
                "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
                CHART_W, CHART_H + 18, CHART_W, CHART_H + 18);
        axes(out, 0, 0, 0, 1, "");
        double w = (CHART_W - PAD_L - PAD_R) / 3.0;
        for (int k = 0; k < 3; k++) {
                double bx = PAD_L + k * w + w * 0.2, bw = w * 0.28;
                fprintf(
                    out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#aaa\"/>",
                    bx, sy(ref[k], 0, 1), bw, sy(0, 0, 1) - sy(ref[k], 0, 1));
                fprintf(out,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"#3b6fb6\"/>",
                        bx + bw + 4, sy(est[k], 0, 1), bw, sy(0, 0, 1) - sy(est[k], 0, 1));
                double cx = bx + 1.5 * bw + 4;
                fprintf(out,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
                        "stroke-width=\"1.5\"/>",
                        cx, sy(lo[k], 0, 1), cx, sy(hi[k], 0, 1));
                fprintf(out,
                        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"t\">%s</text>",
                        bx + bw, CHART_H + 8, class_names[k]);
        }
        fputs("</svg></figure>\n", out);
}

/* Reference and current histograms of one distribution, as shares. */
static void hist_chart(FILE *out, const char *name, const double *ref, const double *cur, int nb)
{
        double rs = 0, cs = 0, ymax = 0;
        for (int b = 0; b < nb; b++) {
                rs += ref[b];
                cs += cur[b];
        }
        for (int b = 0; b < nb; b++)
                ymax = fmax(ymax, fmax(rs > 0 ? ref[b] / rs : 0, cs > 0 ? cur[b] / cs : 0));
        if (!(ymax > 0))
                ymax = 1;
        const int w = 300, hgt = 110;
        fputs("<figure class=\"small\"><figcaption>", out);
        esc(out, name);
        fprintf(out, "</figcaption><svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">", w, hgt,
                w, hgt);
        double bw = (w - 10.0) / nb;
        for (int b = 0; b < nb; b++) {
                double r = rs > 0 ? ref[b] / rs : 0, c = cs > 0 ? cur[b] / cs : 0;
                fprintf(out,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#bbb\"/>"
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"#3b6fb6\"/>",
                        5 + b * bw, hgt - 5 - r / ymax * (hgt - 15), bw * 0.45,
                        r / ymax * (hgt - 15), 5 + b * bw + bw * 0.47,
                        hgt - 5 - c / ymax * (hgt - 15), bw * 0.45, c / ymax * (hgt - 15));
        }
        fputs("</svg></figure>\n", out);
}

/* ---- sections ----------------------------------------------------------------------- */

static void section_moved(FILE *out, const cJSON *win)
{
        fputs("<h2>What moved (latest sliding window)</h2>", out);
        if (!win) {
                fputs("<p>No sliding window evaluated yet.</p>", out);
                return;
        }
        fputs("<table><tr><th>family</th><th>statistic</th><th>measure</th><th>value</th>"
              "<th>threshold</th><th>critical</th><th>window n</th><th>reference n</th>"
              "<th>breach</th><th>raises events</th></tr>\n",
              out);
        const cJSON *ls = at(win, "label_shift");
        if (ls) {
                for (int k = 0; k < 2; k++) {
                        const char *m = k ? "kl" : "psi";
                        char key[64], tk[64], ck[64];
                        snprintf(key, sizeof(key), "label_shift.%s", m);
                        snprintf(tk, sizeof(tk), "%s_threshold", m);
                        snprintf(ck, sizeof(ck), "%s_critical", m);
                        fprintf(out,
                                "<tr class=\"%s\"><td>label_shift</td><td>label_shift</td>"
                                "<td>%s</td>",
                                cJSON_IsTrue(at(ls, "breach")) ? "breach" : "", m);
                        cell(out, key, num(ls, m));
                        snprintf(key, sizeof(key), "label_shift.%s_threshold", m);
                        cell(out, key, num(ls, tk));
                        snprintf(key, sizeof(key), "label_shift.%s_critical", m);
                        cell(out, key, num(ls, ck));
                        fprintf(out, "<td>%.0f</td><td>%.0f</td><td>%s</td><td>%s</td></tr>\n",
                                num(ls, "n"), num(ls, "reference_n"),
                                cJSON_IsTrue(at(ls, "breach")) ? "yes" : "no",
                                cJSON_IsTrue(at(ls, "raises_events")) ? "yes" : "no");
                }
        }
        const cJSON *ep = at(win, "estimated_performance");
        if (ep) {
                fprintf(out,
                        "<tr class=\"%s\"><td>performance</td><td>performance.estimated_f1"
                        "</td><td>macro-F1</td>",
                        cJSON_IsTrue(at(ep, "breach")) ? "breach" : "");
                cell(out, "performance.estimated_f1", num(ep, "macro_f1"));
                cell(out, "performance.estimated_f1.threshold", num(ep, "f1_threshold"));
                cell(out, "performance.estimated_f1.critical", num(ep, "f1_critical"));
                fprintf(out, "<td>%.0f</td><td></td><td>%s</td><td>%s</td></tr>\n", num(ep, "n"),
                        cJSON_IsTrue(at(ep, "breach")) ? "yes" : "no",
                        cJSON_IsTrue(at(ep, "raises_events")) ? "yes" : "no");
        }
        const cJSON *x;
        cJSON_ArrayForEach(x, at(win, "metrics"))
        {
                for (int k = 0; k < 2; k++) {
                        const char *m = k ? "kl" : "psi";
                        char key[128], tk[32], ck[32];
                        snprintf(tk, sizeof(tk), "%s_threshold", m);
                        snprintf(ck, sizeof(ck), "%s_critical", m);
                        int breach = num(x, m) > num(x, tk) && num(x, m) > num(x, ck) &&
                                     cJSON_IsTrue(at(x, "evaluated"));
                        fprintf(out, "<tr class=\"%s\"><td>", breach ? "breach" : "");
                        esc(out, str(x, "family"));
                        fputs("</td><td>", out);
                        esc(out, str(x, "statistic"));
                        fprintf(out, "</td><td>%s</td>", m);
                        snprintf(key, sizeof(key), "%s.%s", str(x, "statistic"), m);
                        cell(out, key, num(x, m));
                        cell(out, "", num(x, tk));
                        cell(out, "", num(x, ck));
                        fprintf(out, "<td>%.0f</td><td>%.0f</td><td>%s</td><td>%s</td></tr>\n",
                                num(x, "n"), num(x, "reference_n"), breach ? "yes" : "no",
                                cJSON_IsTrue(at(x, "raises_events")) ? "yes" : "no");
                }
        }
        fputs("</table>\n", out);
}

static void section_history(FILE *out, const cJSON *report, double psi_thr, double ls_thr)
{
        const cJSON *h = at(at(report, "history"), "sliding");
        static double x[MAX_PTS], a[MAX_PTS], b[MAX_PTS], c[MAX_PTS], d[MAX_PTS], e[MAX_PTS],
            f[MAX_PTS];
        int n = nums(at(h, "count"), x, MAX_PTS);
        nums(at(h, "label_shift_psi"), a, MAX_PTS);
        nums(at(h, "label_shift_critical"), b, MAX_PTS);
        nums(at(h, "prediction_class_psi"), c, MAX_PTS);
        nums(at(h, "prediction_class_critical"), d, MAX_PTS);
        nums(at(h, "input_psi"), e, MAX_PTS);
        nums(at(h, "input_critical"), f, MAX_PTS);
        fputs("<h2>Statistics over time (sliding window, by predictions seen)</h2>\n", out);
        series_t ls[] = {{"label_shift PSI", "#3b6fb6", a, 0}, {"critical", "#c0392b", b, 1}};
        hline_t lh[] = {{"threshold", "#e67e22", ls_thr}};
        line_chart(out, "label_shift: PSI of the estimated true class mix", x, n, ls, 2, lh, 1,
                   "predictions");
        series_t ps[] = {{"prediction.class PSI", "#3b6fb6", c, 0}, {"critical", "#c0392b", d, 1}};
        hline_t ph[] = {{"threshold", "#e67e22", psi_thr}};
        line_chart(out, "prediction family: PSI of the predicted class mix", x, n, ps, 2, ph, 1,
                   "predictions");
        series_t is[] = {{"input PSI (the statistic nearest its critical value)", "#3b6fb6", e, 0},
                         {"critical", "#c0392b", f, 1}};
        line_chart(out, "input family (reported; raises events only if configured)", x, n, is, 2,
                   ph, 1, "predictions");
}

static void section_mix(FILE *out, const cJSON *win)
{
        fputs("<h2>Estimated class mix</h2>\n", out);
        const cJSON *ls = win ? at(win, "label_shift") : NULL;
        if (!ls) {
                fputs("<p>No label-shift estimate (the card has no reference confusion matrix, or "
                      "monitor.label_shift.enabled is false).</p>",
                      out);
                return;
        }
        double ref[3], est[3], lo[3], hi[3], q[3];
        if (nums(at(ls, "reference_mix"), ref, 3) != 3 ||
            nums(at(ls, "estimated_mix"), est, 3) != 3 ||
            nums(at(ls, "interval_low"), lo, 3) != 3 || nums(at(ls, "interval_high"), hi, 3) != 3 ||
            nums(at(ls, "predicted_mix"), q, 3) != 3)
                return;
        mix_chart(out, ref, est, lo, hi);
        fprintf(out,
                "<table><tr><th>class</th><th>reference</th><th>predicted share</th>"
                "<th>estimated true share</th><th>%.0f%% interval low</th><th>high</th></tr>\n",
                100 * num(ls, "interval_level"));
        for (int k = 0; k < 3; k++) {
                char key[64];
                fprintf(out, "<tr><td>%s</td>", class_names[k]);
                snprintf(key, sizeof(key), "reference_mix.%s", class_names[k]);
                cell(out, key, ref[k]);
                snprintf(key, sizeof(key), "predicted_mix.%s", class_names[k]);
                cell(out, key, q[k]);
                snprintf(key, sizeof(key), "estimated_mix.%s", class_names[k]);
                cell(out, key, est[k]);
                snprintf(key, sizeof(key), "interval_low.%s", class_names[k]);
                cell(out, key, lo[k]);
                snprintf(key, sizeof(key), "interval_high.%s", class_names[k]);
                cell(out, key, hi[k]);
                fputs("</tr>\n", out);
        }
        fputs("</table>\n", out);
}

static void section_performance(FILE *out, const cJSON *report, const cJSON *win)
{
        fputs("<h2>Performance: measured (labels) and estimated (no labels)</h2>\n", out);
        static double px[MAX_PTS], pf[MAX_PTS], sx_[MAX_PTS], se[MAX_PTS], sc[MAX_PTS],
            cov[MAX_PTS];
        const cJSON *hp = at(at(report, "history"), "perf");
        const cJSON *hs = at(at(report, "history"), "sliding");
        int np = nums(at(hp, "count"), px, MAX_PTS);
        nums(at(hp, "f1"), pf, MAX_PTS);
        nums(at(hp, "label_coverage"), cov, MAX_PTS);
        int ns = nums(at(hs, "count"), sx_, MAX_PTS);
        nums(at(hs, "estimated_f1"), se, MAX_PTS);
        if (nums(at(hs, "estimated_f1_critical"), sc, MAX_PTS) != ns)
                for (int i = 0; i < ns; i++)
                        sc[i] = NAN; /* a report written before the critical value existed */
        const cJSON *perf = at(report, "performance");
        const cJSON *ep = win ? at(win, "estimated_performance") : NULL;
        double ref_f1 = num(at(report, "reference"), "macro_f1");
        double thr = ep ? num(ep, "f1_threshold") : (perf ? num(perf, "f1_threshold") : NAN);
        series_t es[] = {{"estimated macro-F1", "#3b6fb6", se, 0}, {"critical", "#c0392b", sc, 1}};
        hline_t eh[] = {{"reference (card)", "#555", ref_f1}, {"threshold", "#e67e22", thr}};
        line_chart(out, "estimated macro-F1 (CBPE, from calibrated probabilities)", sx_, ns, es, 2,
                   eh, 2, "predictions");
        series_t ms[] = {{"measured macro-F1", "#27ae60", pf, 0},
                         {"label coverage", "#8e44ad", cov, 1}};
        line_chart(out, "measured macro-F1 (rolling, joined labels) and label coverage", px, np, ms,
                   2, eh, 2, "labels joined");
        fputs("<table><tr><th>figure</th><th>value</th></tr>\n", out);
        fputs("<tr><td>reference macro-F1 (card)</td>", out);
        cell(out, "reference.macro_f1", ref_f1);
        fputs("</tr><tr><td>estimated macro-F1 (latest window)</td>", out);
        cell(out, "estimated_performance.macro_f1", ep ? num(ep, "macro_f1") : NAN);
        fputs("</tr><tr><td>estimated AvgRec</td>", out);
        cell(out, "estimated_performance.avgrec", ep ? num(ep, "avgrec") : NAN);
        fputs("</tr><tr><td>measured macro-F1 (rolling)</td>", out);
        cell(out, "performance.macro_f1", perf ? num(perf, "macro_f1") : NAN);
        fputs("</tr><tr><td>label coverage</td>", out);
        cell(out, "label_coverage", num(report, "label_coverage"));
        const cJSON *lag = perf ? at(perf, "label_lag_seconds") : NULL;
        fputs("</tr><tr><td>label lag p50 (s)</td>", out);
        cell(out, "label_lag.p50", lag ? num(lag, "p50") : NAN);
        fputs("</tr><tr><td>label lag p95 (s)</td>", out);
        cell(out, "label_lag.p95", lag ? num(lag, "p95") : NAN);
        fputs("</tr></table>\n", out);
}

static void section_histograms(FILE *out, const cJSON *win)
{
        fputs("<h2>Reference (grey) and current (blue) distributions</h2>\n<div class=\"grid\">",
              out);
        const cJSON *x, *metrics = win ? at(win, "metrics") : NULL;
        cJSON_ArrayForEach(x, metrics)
        {
                static double ref[256], cur[256];
                int nb = nums(at(x, "reference_counts"), ref, 256);
                if (nums(at(x, "current_counts"), cur, 256) != nb || nb == 0)
                        continue;
                hist_chart(out, str(x, "statistic"), ref, cur, nb);
        }
        fputs("</div>\n", out);
}

static void section_events(FILE *out, const cJSON *report)
{
        fputs("<h2>Events</h2>\n", out);
        const cJSON *tr = at(report, "trigger");
        fprintf(out,
                "<p>fired %.0f, held back by the cooldown %.0f (k = %.0f of n = %.0f "
                "evaluations, cooldown %.0f s)</p>\n",
                num(tr, "fired"), num(tr, "suppressed_by_cooldown"), num(tr, "k"), num(tr, "n"),
                num(tr, "cooldown_s"));
        fputs("<table><tr><th>event id</th><th>window end</th><th>reasons</th></tr>\n", out);
        const cJSON *e;
        cJSON_ArrayForEach(e, at(report, "events_recent"))
        {
                fputs("<tr><td class=\"ev\">", out);
                esc(out, str(e, "event_id"));
                fputs("</td><td>", out);
                esc(out, str(e, "window_end"));
                fputs("</td><td>", out);
                esc(out, str(e, "reasons"));
                fputs("</td></tr>\n", out);
        }
        fputs("</table>\n", out);
}

ss_err_t ss_rhtml_render(const char *json, const char *origin, FILE *out, char *errstr,
                         size_t errstr_size)
{
        cJSON *r = cJSON_Parse(json);
        if (!r)
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "%s: not valid JSON", origin);
        if (strncmp(str(r, "format"), "sentistream-monitor-report/", 27)) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: not a sentistream monitor report (format \"%s\")", origin,
                           str(r, "format"));
                cJSON_Delete(r);
                return SS_ERR_FORMAT;
        }
        const cJSON *win = at(at(r, "windows"), "sliding");
        double psi_thr = NAN, ls_thr = NAN;
        const cJSON *m0 = win ? cJSON_GetArrayItem(at(win, "metrics"), 0) : NULL;
        if (m0)
                psi_thr = num(m0, "psi_threshold");
        if (win && at(win, "label_shift"))
                ls_thr = num(at(win, "label_shift"), "psi_threshold");
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>sentistream drift report</title><style>"
              "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}"
              "table{border-collapse:collapse;margin:8px 0}"
              "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
              "td.v{text-align:right;font-variant-numeric:tabular-nums}"
              "tr.breach td{background:#fde2e0}.t{font-size:10px;fill:#333}"
              "figure{margin:10px 0}figcaption{font-size:13px;font-weight:bold}"
              ".grid{display:flex;flex-wrap:wrap}.small{width:310px}"
              "</style></head><body>\n",
              out);
        fputs("<h1>Drift report: ", out);
        esc(out, str(r, "model_name"));
        fputs("</h1>\n<p>version <b>", out);
        esc(out, str(r, "model_version"));
        fputs("</b> (", out);
        esc(out, str(r, "model_kind"));
        fputs("), updated ", out);
        esc(out, str(r, "updated_at"));
        fprintf(out, "; %.0f predictions, %.0f joined with a label. Events may be raised by: <b>",
                num(r, "predictions"), num(r, "joined"));
        esc(out, str(at(r, "reference"), "event_families"));
        fputs("</b>; every other breach is reported only.</p>\n", out);
        section_moved(out, win);
        section_mix(out, win);
        section_history(out, r, psi_thr, ls_thr);
        section_performance(out, r, win);
        section_histograms(out, win);
        section_events(out, r);
        fputs("</body></html>\n", out);
        cJSON_Delete(r);
        return ferror(out) ? ss_err_set(errstr, errstr_size, SS_ERR_IO, "write failed") : SS_OK;
}
