/*
 * ss_types: the vocabulary every layer shares: the sentiment classes, their
 * names, and the input statistics a model reports for each text it scores.
 *
 * Models produce these, the serde puts them on the wire, the model card
 * stores reference distributions over them and the monitor compares live
 * values against the card. Nothing here depends on anything but libc.
 */
#ifndef SS_TYPES_H
#define SS_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Class order used everywhere: arrays of SS_NUM_CLASSES are indexed by ss_label_t. */
#define SS_NUM_CLASSES 3
typedef enum { SS_LABEL_NEGATIVE = 0, SS_LABEL_NEUTRAL = 1, SS_LABEL_POSITIVE = 2 } ss_label_t;

/* "negative", "neutral", "positive"; NULL for an out-of-range value. */
const char *ss_label_name(int label);

/* Parses a label name (exact, lower case). Returns the label or -1. */
int ss_label_parse(const char *s, size_t len);

/* Index of the largest probability in a row of SS_NUM_CLASSES. */
int ss_probs_argmax(const float *probs);

/*
 * Input statistics of one text, computed by the model's own tokenizer while
 * scoring. The card stores reference histograms of the same quantities.
 */
typedef struct ss_input_stats {
        int32_t n_tokens;    /* tokens the model's tokenizer produced */
        float unk_share;     /* share of those tokens unknown to the model, 0..1 */
        uint8_t has_url;     /* 1 if the text holds a URL */
        uint8_t has_mention; /* 1 if the text holds an @mention */
        uint8_t has_emoji;   /* 1 if the text holds an emoji or emoticon */
} ss_input_stats_t;

#endif /* SS_TYPES_H */
