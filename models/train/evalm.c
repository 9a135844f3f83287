/*
 * evalm: a 3x3 confusion matrix and the metrics derived from it. Everything is
 * computed from integer counts in ss_eval_finish(), so merging partial counts
 * (adding matrices) and recomputing gives the same figures as one pass.
 */
#include "evalm.h"

#include <string.h>

void ss_eval_init(ss_eval_t *e)
{
        memset(e, 0, sizeof(*e));
}

int ss_eval_add(ss_eval_t *e, int truth, int pred)
{
        if (truth < 0 || truth >= SS_NUM_CLASSES || pred < 0 || pred >= SS_NUM_CLASSES)
                return -1;
        e->confusion[truth][pred]++;
        e->n++;
        return 0;
}

static double ss_ratio(int64_t num, int64_t den)
{
        return den > 0 ? (double)num / (double)den : 0.0;
}

void ss_eval_finish(ss_eval_t *e)
{
        int64_t correct = 0, total = 0;
        double rec_sum = 0, f1_sum = 0;
        for (int c = 0; c < SS_NUM_CLASSES; c++) {
                int64_t tp = e->confusion[c][c], row = 0, col = 0;
                for (int k = 0; k < SS_NUM_CLASSES; k++) {
                        row += e->confusion[c][k];
                        col += e->confusion[k][c];
                }
                e->support[c] = row;
                e->precision[c] = ss_ratio(tp, col);
                e->recall[c] = ss_ratio(tp, row);
                double pr = e->precision[c] + e->recall[c];
                e->f1[c] = pr > 0 ? 2 * e->precision[c] * e->recall[c] / pr : 0.0;
                correct += tp;
                total += row;
                rec_sum += e->recall[c];
                f1_sum += e->f1[c];
        }
        e->n = total;
        e->accuracy = ss_ratio(correct, total);
        e->avgrec = rec_sum / SS_NUM_CLASSES;
        e->macro_f1 = f1_sum / SS_NUM_CLASSES;
        e->f1_pn = (e->f1[SS_LABEL_POSITIVE] + e->f1[SS_LABEL_NEGATIVE]) / 2;
}

void ss_eval_compute(ss_eval_t *e, const int8_t *truth, const int8_t *pred, size_t n)
{
        ss_eval_init(e);
        for (size_t i = 0; i < n; i++)
                ss_eval_add(e, truth[i], pred[i]);
        ss_eval_finish(e);
}
