/*
 * wordpiece_tables: the generated per-code-point facts behind wordpiece.c (see
 * models/gen/gen_wordpiece_tables.py, which writes wordpiece_tables.c).
 */
#ifndef SS_WORDPIECE_TABLES_H
#define SS_WORDPIECE_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* Class flags of a code point, as the reference tokenizer treats it. */
#define SS_WP_DROP  1 /* removed: control, format, NUL, or a mark that accent stripping drops */
#define SS_WP_SPACE 2 /* becomes a space: a word break */
#define SS_WP_PUNCT 4 /* split off as a token of its own */
#define SS_WP_CJK   8 /* ideograph: spaced on both sides */

typedef struct ss_wp_range {
        uint32_t lo, hi; /* inclusive */
        uint32_t flags;
} ss_wp_range_t;

/* cp folds to pool[off .. off+len): lower-cased, NFD, marks dropped (0 < len <= 3). */
typedef struct ss_wp_fold {
        uint32_t cp;
        uint16_t off;
        uint8_t len;
} ss_wp_fold_t;

extern const char ss_wp_tables_source[];         /* e.g. "tokenizers 0.23.3" */
extern const ss_wp_range_t ss_wp_class_ranges[]; /* sorted, disjoint; absent = flags 0 */
extern const size_t ss_wp_class_ranges_n;
extern const ss_wp_fold_t ss_wp_fold[]; /* sorted by cp */
extern const size_t ss_wp_fold_n;
extern const uint32_t ss_wp_fold_pool[];

#endif /* SS_WORDPIECE_TABLES_H */
