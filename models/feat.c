/*
 * feat: hashed TF-IDF features (word 1..k-grams + char_wb n-grams).
 *
 * One extraction is: tokenize (tok.c) -> hash every n-gram into a bucket and
 * count it in a dense accumulator acc[2^dim_bits], remembering each bucket the
 * first time it is touched -> sort the touched list (LSD radix, 8 bits a pass)
 * -> read, weight and clear the touched counts into the sparse output. Nothing
 * is allocated per text once the scratch has grown to the largest text seen;
 * the accumulator is all zero between calls.
 *
 * Hashing is murmur3-style with domain separation: word unigrams hash the token
 * bytes (ss_feat_hash, seed cfg.seed); word bigrams/trigrams absorb the 32-bit
 * unigram hashes of their tokens under their own derived seeds; char n-grams
 * absorb the code points of the padded token under another derived seed and
 * finalise with the n-gram length. So a word key and a char key are never the
 * same hashed key even when their text is equal ("ab" the word, "ab" the char
 * bigram); they can still share a bucket by chance, like any two keys in a
 * hashed space. Char n-grams are hashed incrementally: from each start
 * position one hash state absorbs one code point at a time and is finalised at
 * every length min..max, so the 2..5-grams of a position cost five absorbs.
 *
 * char_wb follows scikit-learn: each token is padded with one space on both
 * sides; all n-grams of the padded token for n = min..max are counted, except
 * that a padded token shorter than min counts once, whole.
 */
#include "feat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ss_feat {
        ss_feat_config_t cfg;
        uint32_t dim;              /* 2^dim_bits */
        uint32_t mask;             /* dim - 1 */
        uint32_t seed_w2, seed_w3; /* word bigram / trigram seeds */
        uint32_t seed_char;        /* char n-gram seed */
        float *idf;                /* [dim] */
        float *acc;                /* [dim] counts of the current text; zero between calls */
        uint32_t *touched;         /* [touched_cap] buckets with acc != 0, first-touch order */
        uint32_t *sort_tmp;        /* [touched_cap] radix sort scratch */
        size_t n_touched, touched_cap;
        uint32_t *cps; /* [cps_cap] code points of one padded token */
        size_t cps_cap;
        ss_tok_buf_t tb; /* tokens of the last text */
};

/* ------------------------------------------------------------------------ */
/* Hashing (murmur3 x86_32 building blocks)                                  */
/* ------------------------------------------------------------------------ */

static inline uint32_t rotl32(uint32_t x, int r)
{
        return (x << r) | (x >> (32 - r));
}

/* Absorbs one 32-bit block into the state. */
static inline uint32_t mm_mix(uint32_t h, uint32_t k)
{
        k *= 0xcc9e2d51u;
        k = rotl32(k, 15);
        k *= 0x1b873593u;
        h ^= k;
        h = rotl32(h, 13);
        return h * 5 + 0xe6546b64u;
}

static inline uint32_t mm_fmix(uint32_t h)
{
        h ^= h >> 16;
        h *= 0x85ebca6bu;
        h ^= h >> 13;
        h *= 0xc2b2ae35u;
        h ^= h >> 16;
        return h;
}

static inline uint32_t mm_final(uint32_t h, uint32_t len)
{
        return mm_fmix(h ^ len);
}

uint32_t ss_feat_hash(const void *data, size_t len, uint32_t seed)
{
        const uint8_t *p = data;
        uint32_t h = seed;
        size_t nblocks = len / 4;
        for (size_t i = 0; i < nblocks; i++) {
                uint32_t k;
                memcpy(&k, p + 4 * i, 4); /* little-endian hosts only (x86-64, arm64) */
                h = mm_mix(h, k);
        }
        const uint8_t *tail = p + 4 * nblocks;
        uint32_t k = 0;
        switch (len & 3) {
        case 3:
                k ^= (uint32_t)tail[2] << 16;
                /* fall through */
        case 2:
                k ^= (uint32_t)tail[1] << 8;
                /* fall through */
        case 1:
                k ^= tail[0];
                k *= 0xcc9e2d51u;
                k = rotl32(k, 15);
                k *= 0x1b873593u;
                h ^= k;
        }
        return mm_final(h, (uint32_t)len);
}

/* ------------------------------------------------------------------------ */
/* Config                                                                    */
/* ------------------------------------------------------------------------ */

void ss_feat_config_default(ss_feat_config_t *cfg)
{
        cfg->dim_bits = 20;
        cfg->word_ngram_max = 2;
        cfg->char_ngram_min = 2;
        cfg->char_ngram_max = 5;
        cfg->seed = 0x5e47153u;
        cfg->sublinear_tf = 1;
}

ss_err_t ss_feat_config_check(const ss_feat_config_t *cfg, char *errstr, size_t errstr_size)
{
        if (!cfg)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG, "feat: no config");
        if (cfg->dim_bits < 10 || cfg->dim_bits > 24)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "feat: dim_bits %u out of range 10..24", cfg->dim_bits);
        if (cfg->word_ngram_max < 1 || cfg->word_ngram_max > 3)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "feat: word_ngram_max %u out of range 1..3", cfg->word_ngram_max);
        if (cfg->char_ngram_min != 0 &&
            (cfg->char_ngram_max > 6 || cfg->char_ngram_min > cfg->char_ngram_max))
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "feat: char n-gram range %u..%u invalid (want 1 <= min <= "
                                  "max <= 6, or min 0 to disable)",
                                  cfg->char_ngram_min, cfg->char_ngram_max);
        if (cfg->sublinear_tf > 1)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "feat: sublinear_tf %u is not 0 or 1", cfg->sublinear_tf);
        return SS_OK;
}

/* ------------------------------------------------------------------------ */
/* Object                                                                    */
/* ------------------------------------------------------------------------ */

ss_feat_t *ss_feat_new(const ss_feat_config_t *cfg, const float *idf)
{
        if (ss_feat_config_check(cfg, NULL, 0) != SS_OK)
                return NULL;
        ss_feat_t *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        f->cfg = *cfg;
        f->dim = 1u << cfg->dim_bits;
        f->mask = f->dim - 1;
        f->seed_w2 = mm_fmix(cfg->seed ^ 0x9e3779b9u);
        f->seed_w3 = mm_fmix(cfg->seed ^ 0x7f4a7c15u);
        f->seed_char = mm_fmix(cfg->seed ^ 0x3c6ef372u);
        f->idf = malloc((size_t)f->dim * sizeof(float));
        f->acc = calloc(f->dim, sizeof(float));
        ss_tok_buf_init(&f->tb);
        if (!f->idf || !f->acc) {
                ss_feat_destroy(f);
                return NULL;
        }
        if (idf) {
                memcpy(f->idf, idf, (size_t)f->dim * sizeof(float));
        } else {
                for (uint32_t j = 0; j < f->dim; j++)
                        f->idf[j] = 1.0f;
        }
        return f;
}

void ss_feat_destroy(ss_feat_t *f)
{
        if (!f)
                return;
        free(f->idf);
        free(f->acc);
        free(f->touched);
        free(f->sort_tmp);
        free(f->cps);
        ss_tok_buf_free(&f->tb);
        free(f);
}

const ss_feat_config_t *ss_feat_config(const ss_feat_t *f)
{
        return &f->cfg;
}

const float *ss_feat_idf(const ss_feat_t *f)
{
        return f->idf;
}

const ss_tok_buf_t *ss_feat_tokens(const ss_feat_t *f)
{
        return &f->tb;
}

void ss_sparse_init(ss_sparse_t *v)
{
        memset(v, 0, sizeof(*v));
}

void ss_sparse_free(ss_sparse_t *v)
{
        if (!v)
                return;
        free(v->idx);
        free(v->val);
        memset(v, 0, sizeof(*v));
}

static int sparse_reserve(ss_sparse_t *v, size_t n)
{
        if (n <= v->cap)
                return 0;
        size_t cap = v->cap ? v->cap : 256;
        while (cap < n)
                cap *= 2;
        uint32_t *idx = realloc(v->idx, cap * sizeof(*idx));
        if (!idx)
                return -1;
        v->idx = idx;
        float *val = realloc(v->val, cap * sizeof(*val));
        if (!val)
                return -1;
        v->val = val;
        v->cap = cap;
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Extraction steps                                                          */
/* ------------------------------------------------------------------------ */

/* Grows the touched list and code point scratch for the tokens in f->tb.
 * Bounds: word n-grams <= word_max * tokens; char n-grams of a token with W
 * padded code points <= W * (max - min + 1), W <= bytes + 2. */
static int scratch_reserve(ss_feat_t *f)
{
        const ss_tok_buf_t *tb = &f->tb;
        size_t span = f->cfg.char_ngram_min ? f->cfg.char_ngram_max - f->cfg.char_ngram_min + 1 : 0;
        size_t need = f->cfg.word_ngram_max * tb->n + span * (tb->text_len + 2 * tb->n) + 1;
        if (need > f->touched_cap) {
                size_t cap = f->touched_cap ? f->touched_cap : 1024;
                while (cap < need)
                        cap *= 2;
                uint32_t *t = realloc(f->touched, cap * sizeof(*t));
                if (!t)
                        return -1;
                f->touched = t;
                t = realloc(f->sort_tmp, cap * sizeof(*t));
                if (!t)
                        return -1;
                f->sort_tmp = t;
                f->touched_cap = cap;
        }
        size_t cps_need = tb->text_len + 2;
        if (cps_need > f->cps_cap) {
                size_t cap = f->cps_cap ? f->cps_cap : 256;
                while (cap < cps_need)
                        cap *= 2;
                uint32_t *c = realloc(f->cps, cap * sizeof(*c));
                if (!c)
                        return -1;
                f->cps = c;
                f->cps_cap = cap;
        }
        return 0;
}

/* Counts one hashed key. */
static inline void acc_add(ss_feat_t *f, uint32_t h)
{
        uint32_t j = h & f->mask;
        if (f->acc[j] == 0.0f)
                f->touched[f->n_touched++] = j;
        f->acc[j] += 1.0f;
}

static void add_word_ngrams(ss_feat_t *f)
{
        const ss_tok_buf_t *tb = &f->tb;
        uint32_t kmax = f->cfg.word_ngram_max;
        uint32_t u1 = 0, u2 = 0; /* unigram hashes of the previous two tokens */
        for (size_t i = 0; i < tb->n; i++) {
                uint32_t u = ss_feat_hash(ss_tok_str(tb, i), tb->toks[i].len, f->cfg.seed);
                acc_add(f, u);
                if (kmax >= 2 && i >= 1)
                        acc_add(f, mm_final(mm_mix(mm_mix(f->seed_w2, u1), u), 2));
                if (kmax >= 3 && i >= 2)
                        acc_add(f, mm_final(mm_mix(mm_mix(mm_mix(f->seed_w3, u2), u1), u), 3));
                u2 = u1;
                u1 = u;
        }
}

/* Decodes a token (valid UTF-8, written by tok.c) into f->cps with a space on
 * both sides. Returns the number of code points. */
static size_t token_codepoints(ss_feat_t *f, const uint8_t *s, size_t len)
{
        uint32_t *cps = f->cps;
        size_t w = 0;
        cps[w++] = ' ';
        for (size_t i = 0; i < len;) {
                uint8_t c = s[i];
                uint32_t cp;
                size_t l;
                if (c < 0x80) {
                        cp = c;
                        l = 1;
                } else if (c < 0xE0 && i + 1 < len) {
                        cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
                        l = 2;
                } else if (c < 0xF0 && i + 2 < len) {
                        cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
                             (s[i + 2] & 0x3F);
                        l = 3;
                } else if (i + 3 < len) {
                        cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                             ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
                        l = 4;
                } else {
                        cp = 0xFFFD; /* cannot happen for tok.c output; stay in bounds */
                        l = 1;
                }
                cps[w++] = cp;
                i += l;
        }
        cps[w++] = ' ';
        return w;
}

static void add_char_ngrams(ss_feat_t *f)
{
        const ss_tok_buf_t *tb = &f->tb;
        size_t nmin = f->cfg.char_ngram_min, nmax = f->cfg.char_ngram_max;
        if (!nmin)
                return;
        const uint32_t seed = f->seed_char;
        for (size_t t = 0; t < tb->n; t++) {
                size_t w = token_codepoints(f, (const uint8_t *)ss_tok_str(tb, t), tb->toks[t].len);
                const uint32_t *cps = f->cps;
                if (w < nmin) { /* shorter than the smallest n: the whole padded token */
                        uint32_t h = seed;
                        for (size_t k = 0; k < w; k++)
                                h = mm_mix(h, cps[k]);
                        acc_add(f, mm_final(h, (uint32_t)w));
                        continue;
                }
                for (size_t p = 0; p + nmin <= w; p++) {
                        size_t kend = w - p < nmax ? w - p : nmax;
                        uint32_t h = seed;
                        size_t k = 0;
                        for (; k + 1 < nmin; k++)
                                h = mm_mix(h, cps[p + k]);
                        for (; k < kend; k++) {
                                h = mm_mix(h, cps[p + k]);
                                acc_add(f, mm_final(h, (uint32_t)(k + 1)));
                        }
                }
        }
}

/* Sorts a[0..n) ascending (values < 2^bits); tmp has room for n. */
static void sort_u32(uint32_t *a, uint32_t *tmp, size_t n, uint32_t bits)
{
        if (n < 48) {
                for (size_t i = 1; i < n; i++) {
                        uint32_t v = a[i];
                        size_t j = i;
                        for (; j > 0 && a[j - 1] > v; j--)
                                a[j] = a[j - 1];
                        a[j] = v;
                }
                return;
        }
        uint32_t *src = a, *dst = tmp;
        for (uint32_t shift = 0; shift < bits; shift += 8) {
                size_t count[256] = {0};
                for (size_t i = 0; i < n; i++)
                        count[(src[i] >> shift) & 255]++;
                size_t sum = 0;
                for (int d = 0; d < 256; d++) {
                        size_t c = count[d];
                        count[d] = sum;
                        sum += c;
                }
                for (size_t i = 0; i < n; i++)
                        dst[count[(src[i] >> shift) & 255]++] = src[i];
                uint32_t *x = src;
                src = dst;
                dst = x;
        }
        if (src != a)
                memcpy(a, src, n * sizeof(*a));
}

/* Moves the touched counts into out (ascending), weighted, and clears acc. */
static int gather(ss_feat_t *f, int raw_counts, ss_sparse_t *out)
{
        size_t n = f->n_touched;
        sort_u32(f->touched, f->sort_tmp, n, f->cfg.dim_bits);
        if (sparse_reserve(out, n)) {
                for (size_t i = 0; i < n; i++)
                        f->acc[f->touched[i]] = 0.0f;
                f->n_touched = 0;
                out->n = 0;
                return -1;
        }
        float *acc = f->acc;
        const float *idf = f->idf;
        double sumsq = 0.0;
        for (size_t i = 0; i < n; i++) {
                uint32_t j = f->touched[i];
                float c = acc[j];
                acc[j] = 0.0f;
                float v = c;
                if (!raw_counts) {
                        if (f->cfg.sublinear_tf && c != 1.0f)
                                v = 1.0f + logf(c);
                        v *= idf[j];
                        sumsq += (double)v * v;
                }
                out->idx[i] = j;
                out->val[i] = v;
        }
        out->n = n;
        f->n_touched = 0;
        if (!raw_counts && sumsq > 0.0) {
                float inv = (float)(1.0 / sqrt(sumsq));
                for (size_t i = 0; i < n; i++)
                        out->val[i] *= inv;
        }
        return 0;
}

int ss_feat_extract(ss_feat_t *f, const char *text, size_t len, int raw_counts, ss_sparse_t *out,
                    ss_input_stats_t *stats)
{
        out->n = 0;
        if (stats)
                memset(stats, 0, sizeof(*stats));
        if (ss_tok_run(&f->tb, text, len) || scratch_reserve(f))
                return -1;
        if (stats) {
                stats->n_tokens = (int32_t)f->tb.n;
                stats->has_url = (uint8_t)f->tb.has_url;
                stats->has_mention = (uint8_t)f->tb.has_mention;
                stats->has_emoji = (uint8_t)f->tb.has_emoji;
        }
        add_word_ngrams(f);
        add_char_ngrams(f);
        return gather(f, raw_counts, out);
}

int ss_feat_idf_fit(ss_feat_t *f, const char *const *texts, const size_t *lens, size_t n)
{
        uint32_t *df = calloc(f->dim, sizeof(*df));
        ss_sparse_t v;
        ss_sparse_init(&v);
        if (!df)
                return -1;
        for (size_t d = 0; d < n; d++) {
                if (ss_feat_extract(f, texts[d], lens[d], 1, &v, NULL)) {
                        free(df);
                        ss_sparse_free(&v);
                        return -1;
                }
                for (size_t i = 0; i < v.n; i++)
                        df[v.idx[i]]++;
        }
        for (uint32_t j = 0; j < f->dim; j++)
                f->idf[j] = (float)(log((1.0 + (double)n) / (1.0 + (double)df[j])) + 1.0);
        free(df);
        ss_sparse_free(&v);
        return 0;
}
