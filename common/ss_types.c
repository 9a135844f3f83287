/*
 * ss_types: label names and the arg-max over class probabilities (ss_types.h).
 */
#include "ss_types.h"

#include <string.h>

static const char *const ss_label_names[SS_NUM_CLASSES] = {"negative", "neutral", "positive"};

const char *ss_label_name(int label)
{
        return label >= 0 && label < SS_NUM_CLASSES ? ss_label_names[label] : NULL;
}

int ss_label_parse(const char *s, size_t len)
{
        for (int i = 0; i < SS_NUM_CLASSES; i++)
                if (strlen(ss_label_names[i]) == len && !memcmp(s, ss_label_names[i], len))
                        return i;
        return -1;
}

int ss_probs_argmax(const float *probs)
{
        int best = 0;
        for (int c = 1; c < SS_NUM_CLASSES; c++)
                if (probs[c] > probs[best])
                        best = c;
        return best;
}
