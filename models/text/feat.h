/*
 * feat: hashed bag-of-n-grams features for the linear baseline.
 *
 * Each text is tokenized (tok.h), then:
 *   - word n-grams, n = 1..word_ngram_max, over the token strings;
 *   - character n-grams, n = char_ngram_min..char_ngram_max, inside each token
 *     padded with a space on both sides (scikit-learn's "char_wb" analyzer);
 * are hashed (seeded, one key family each) into 2^dim_bits buckets, counted, optionally
 * sublinear-tf scaled (1 + log tf), multiplied by the bucket's IDF (learned at
 * training, stored in the model; 1.0 before fitting) and L2-normalised.
 *
 * The result is a sparse vector with unique, ascending indices. Extraction is
 * deterministic for a given config. Scratch (key array, sort buffers, token
 * buffer) belongs to the extractor, grows only when a text needs more than any
 * before, and is never allocated per token. An extractor is not thread-safe:
 * use one per thread.
 */
#ifndef SS_FEAT_H
#define SS_FEAT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tok.h"

typedef struct ss_feat_config {
        uint32_t dim_bits;       /* log2 of the hashed space, 10..24 (default 20) */
        uint32_t word_ngram_max; /* 1..3 (default 2) */
        uint32_t char_ngram_min; /* 1..char_ngram_max (default 2); 0 disables char n-grams */
        uint32_t char_ngram_max; /* ..6 (default 5) */
        uint32_t seed;           /* hash seed (default 0x5e47153) */
        uint32_t sublinear_tf;   /* 1: tf -> 1 + log(tf) (default 1) */
} ss_feat_config_t;

/* Fills cfg with the defaults above. */
void ss_feat_config_default(ss_feat_config_t *cfg);

/* Checks cfg against the ranges above; SS_ERR_CONFIG names the field and value. */
ss_err_t ss_feat_config_check(const ss_feat_config_t *cfg, char *errstr, size_t errstr_size);

/* A sparse vector: n (index, value) pairs, indices unique and ascending. */
typedef struct ss_sparse {
        uint32_t *idx; /* [cap] */
        float *val;    /* [cap] */
        size_t n, cap;
} ss_sparse_t;

void ss_sparse_init(ss_sparse_t *v);
void ss_sparse_free(ss_sparse_t *v);

typedef struct ss_feat ss_feat_t;

/*
 * Creates an extractor. Copies cfg. idf may be NULL (all 1.0) or point to
 * 2^dim_bits floats, which are copied. Returns NULL on a bad config (see
 * ss_feat_config_check() for the reason) or no memory. Caller frees with
 * ss_feat_destroy().
 */
ss_feat_t *ss_feat_new(const ss_feat_config_t *cfg, const float *idf);
void ss_feat_destroy(ss_feat_t *f);

const ss_feat_config_t *ss_feat_config(const ss_feat_t *f);

/* The IDF vector, [2^dim_bits], or NULL while the extractor has none (all 1.0: created
 * with idf NULL and not fitted); pointer valid until ss_feat_destroy(). */
const float *ss_feat_idf(const ss_feat_t *f);

/* ss_feat_extract() flags. */
enum {
        SS_FEAT_RAW = 1,      /* plain term counts: no tf scaling, no IDF, no normalisation */
        SS_FEAT_UNORDERED = 2 /* indices unique but in first-occurrence order, not ascending */
};

/*
 * Extracts the feature vector of one text into out (reusing its memory).
 * flags: 0 gives the weighted vector; SS_FEAT_RAW the plain term counts (what
 * IDF fitting needs). SS_FEAT_UNORDERED, for callers that only sum over the
 * vector (scoring), counts the n-grams in a small direct-mapped table inside
 * the extractor instead of sorting them (about a third of the extraction
 * time); the values equal the ordered call's up to float summation order.
 * If stats is non-NULL it gets the text's input statistics (unk_share is left
 * 0: the model knows its vocabulary, the extractor does not). Returns 0, or -1
 * on out of memory or a text over SS_TOK_MAX_LEN (out is then empty).
 */
int ss_feat_extract(ss_feat_t *f, const char *text, size_t len, int flags, ss_sparse_t *out,
                    ss_input_stats_t *stats);

/*
 * Learns smoothed IDF from n documents: idf[j] = ln((1 + n) / (1 + df[j])) + 1
 * (scikit-learn's smooth_idf); df[j] counts the documents in which bucket j
 * occurs. Buckets no document touches get the largest value, ln(1 + n) + 1.
 * Replaces the extractor's IDF. Returns 0, or -1 (out of memory, or a text
 * over SS_TOK_MAX_LEN) leaving the IDF unchanged.
 */
int ss_feat_idf_fit(ss_feat_t *f, const char *const *texts, const size_t *lens, size_t n);

/* The tokenizer buffer of the last ss_feat_extract() call (tokens of that text). */
const ss_tok_buf_t *ss_feat_tokens(const ss_feat_t *f);

/*
 * Seeded hash of a byte string (murmur3 x86_32), for vocabulary sets and any
 * other hashed lookup outside the feature space.
 */
uint32_t ss_feat_hash(const void *data, size_t len, uint32_t seed);

/* The bucket of the word-unigram feature of one token (its normalised text,
 * as ss_tok_str() gives it), in [0, 2^dim_bits). */
uint32_t ss_feat_word_bucket(const ss_feat_t *f, const char *tok, size_t len);

#endif /* SS_FEAT_H */
