/*
 * logreg: scoring, saving and loading of the linear baseline (see logreg.h).
 *
 * Scoring one text is two steps: the extractor (feat.h) hashes the n-grams
 * into raw counts, and ss_logreg_forward() reads one table row per non-zero
 * (weights and IDF), accumulating the logits of the unnormalised tf-idf vector
 * and its norm in the same pass, then scales by 1/norm. The two-pass reference
 * (ss_logreg_tfidf() then ss_logreg_logits(), what training uses) is kept
 * beside it and the test compares them. Applying the IDF here
 * rather than in the extractor keeps one table access per bucket (weights and
 * IDF share a 16-byte row) and one copy of the IDF in memory. Loading from a
 * model file borrows the file's sections: nothing is copied.
 */
#include "logreg.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "ss_util.h"

enum { SS_LOGREG_CONFIG_FIELDS = 10, SS_LOGREG_FORMAT = 1 };

void ss_logreg_config_default(ss_logreg_config_t *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        ss_feat_config_default(&cfg->feat);
        cfg->vocab_bits = 24;
        cfg->vocab_seed = 0x70cab;
}

size_t ss_logreg_rows(const ss_logreg_config_t *cfg)
{
        return ((size_t)1 << cfg->feat.dim_bits) + cfg->lex_feats;
}

/* ---- lexicon ---- */

static uint64_t ss_lex_hash(const char *s, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)s[i];
                h *= 0x100000001b3ULL;
        }
        return h ? h : 1; /* 0 marks an empty slot */
}

ss_err_t ss_lexicon_load(const char *path, ss_lexicon_t *lx, char *errstr, size_t errstr_size)
{
        memset(lx, 0, sizeof(*lx));
        char *text;
        size_t len;
        ss_err_t err = ss_file_read_all(path, &text, &len, errstr, errstr_size);
        if (err)
                return err;
        size_t lines = 1;
        for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
        uint64_t cap = 16;
        while (cap < 2 * lines)
                cap *= 2;
        uint64_t *keys = calloc(cap, sizeof(*keys));
        float *vals = calloc(cap, sizeof(*vals));
        if (!keys || !vals) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", path);
                goto fail;
        }
        char *p = text, *end = text + len;
        unsigned lineno = 0, n = 0;
        while (p < end) {
                lineno++;
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *le = nl ? nl : end;
                char *tab = memchr(p, '\t', (size_t)(le - p));
                if (le == p) {
                        p = le + 1;
                        continue;
                }
                char *num_end = NULL;
                double v = tab ? strtod(tab + 1, &num_end) : 0;
                if (!tab || tab == p || num_end == tab + 1 || !isfinite(v)) {
                        err = ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                         "%s:%u: want token<TAB>valence", path, lineno);
                        goto fail;
                }
                uint64_t h = ss_lex_hash(p, (size_t)(tab - p)), mask = cap - 1, i = h & mask;
                while (keys[i] && keys[i] != h)
                        i = (i + 1) & mask;
                if (!keys[i])
                        n++;
                keys[i] = h;
                vals[i] = (float)v;
                p = le + 1;
        }
        if (n == 0) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_EMPTY, "%s: no entries", path);
                goto fail;
        }
        free(text);
        lx->keys = keys;
        lx->vals = vals;
        lx->cap = cap;
        return SS_OK;
fail:
        free(text);
        free(keys);
        free(vals);
        return err;
}

/* Negators (VADER's list, apostrophes dropped), as a set of token hashes built once. */
static const char *const ss_negators[] = {
    "not",    "no",      "never",    "none",    "nobody",  "nothing", "neither", "nor",   "nowhere",
    "cannot", "cant",    "dont",     "doesnt",  "didnt",   "isnt",    "wasnt",   "arent", "werent",
    "wont",   "wouldnt", "shouldnt", "couldnt", "aint",    "hasnt",   "havent",  "hadnt", "without",
    "rarely", "seldom",  "despite",  "nope",    "mightnt", "mustnt",  "neednt",  "shant"};
#define SS_NEGSET_SLOTS 128
static uint64_t ss_negset[SS_NEGSET_SLOTS]; /* open addressing, 0 = empty */
static pthread_once_t ss_negset_once = PTHREAD_ONCE_INIT;

static void ss_negset_build(void)
{
        for (size_t k = 0; k < sizeof(ss_negators) / sizeof(ss_negators[0]); k++) {
                uint64_t h = ss_lex_hash(ss_negators[k], strlen(ss_negators[k]));
                size_t i = h & (SS_NEGSET_SLOTS - 1);
                while (ss_negset[i] && ss_negset[i] != h)
                        i = (i + 1) & (SS_NEGSET_SLOTS - 1);
                ss_negset[i] = h;
        }
}

/* A negator: one of the list, or any word ending in "n't". h = ss_lex_hash(t, n). */
static int ss_lex_is_negator(const char *t, size_t n, uint64_t h)
{
        if (n >= 3 && !memcmp(t + n - 3, "n't", 3))
                return 1;
        for (size_t i = h & (SS_NEGSET_SLOTS - 1);; i = (i + 1) & (SS_NEGSET_SLOTS - 1)) {
                if (ss_negset[i] == h)
                        return 1;
                if (!ss_negset[i])
                        return 0;
        }
}

static int ss_lexicon_get_h(const ss_lexicon_t *lx, uint64_t h, float *val)
{
        if (!lx->cap)
                return 0;
        if (lx->filter && !(lx->filter[(h & 0xffff) >> 6] >> (h & 63) & 1))
                return 0;
        uint64_t mask = lx->cap - 1;
        for (uint64_t i = h & mask;; i = (i + 1) & mask) {
                if (lx->keys[i] == h) {
                        *val = lx->vals[i];
                        return 1;
                }
                if (!lx->keys[i])
                        return 0;
        }
}

int ss_lexicon_get(const ss_lexicon_t *lx, const char *tok, size_t len, float *val)
{
        return ss_lexicon_get_h(lx, ss_lex_hash(tok, len), val);
}

void ss_logreg_lex_features(float *out, const ss_tok_buf_t *tb, const ss_lexicon_t *lx)
{
        pthread_once(&ss_negset_once, ss_negset_build);
        float pos = 0, neg = 0, mx = 0, mn = 0, last = 0;
        int npos = 0, nneg = 0, window = 0;
        for (size_t i = 0; i < tb->n; i++) {
                int kind = tb->toks[i].kind;
                if (kind == SS_TOKK_PUNCT)
                        window = 0; /* a clause ends the negation's scope */
                /* the lexicon holds words and emoticons: no lookup for the rest */
                int looked = kind == SS_TOKK_WORD || kind == SS_TOKK_HASHTAG ||
                             kind == SS_TOKK_EMOTICON || kind == SS_TOKK_PUNCT;
                float v = 0;
                int hit = 0;
                if (looked) {
                        const char *t = ss_tok_str(tb, i);
                        size_t n = tb->toks[i].len;
                        uint64_t h = ss_lex_hash(t, n);
                        if (kind == SS_TOKK_WORD && ss_lex_is_negator(t, n, h)) {
                                window = 3;
                                continue;
                        }
                        hit = ss_lexicon_get_h(lx, h, &v);
                }
                if (!hit) {
                        if (window > 0)
                                window--;
                        continue;
                }
                if (window > 0) {
                        v *= -0.74f;
                        window--;
                }
                if (v > 0) {
                        pos += v;
                        npos++;
                } else if (v < 0) {
                        neg -= v;
                        nneg++;
                }
                mx = v > mx ? v : mx;
                mn = v < mn ? v : mn;
                last = v;
        }
        out[0] = tanhf(pos / 4);
        out[1] = tanhf(neg / 4);
        out[2] = (float)(npos < 5 ? npos : 5) / 5;
        out[3] = (float)(nneg < 5 ? nneg : 5) / 5;
        out[4] = mx / 4;
        out[5] = mn / 4;
        out[6] = last / 4;
        out[7] = tanhf((pos - neg) / 4);
}

int ss_logreg_is_word(int tok_kind)
{
        return tok_kind == SS_TOKK_WORD || tok_kind == SS_TOKK_HASHTAG;
}

uint32_t ss_logreg_vocab_bit(const char *tok, size_t len, uint32_t bits, uint32_t seed)
{
        return ss_feat_hash(tok, len, seed) & ((1u << bits) - 1);
}

static ss_err_t ss_logreg_config_check(const ss_logreg_config_t *cfg, char *errstr,
                                       size_t errstr_size)
{
        if (cfg->vocab_bits < 10 || cfg->vocab_bits > 28)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "vocab_bits %u outside 10..28", cfg->vocab_bits);
        if (cfg->lex_feats != 0 && cfg->lex_feats != SS_LOGREG_LEX_FEATS)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "lex_feats %u: want 0 or %d",
                                  cfg->lex_feats, SS_LOGREG_LEX_FEATS);
        if (cfg->feat.dim_bits < 10 || cfg->feat.dim_bits > 24)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "dim_bits %u outside 10..24",
                                  cfg->feat.dim_bits);
        return SS_OK;
}

ss_logreg_t *ss_logreg_new(const ss_logreg_config_t *cfg, const ss_logreg_weights_t *w,
                           char *errstr, size_t errstr_size)
{
        if (ss_logreg_config_check(cfg, errstr, errstr_size))
                return NULL;
        ss_logreg_t *lr = calloc(1, sizeof(*lr));
        if (!lr) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        lr->cfg = *cfg;
        lr->w = *w;
        if (w->lex.cap) {
                for (uint64_t i = 0; i < w->lex.cap; i++)
                        if (w->lex.keys[i])
                                lr->lex_filter[(w->lex.keys[i] & 0xffff) >> 6] |=
                                    (uint64_t)1 << (w->lex.keys[i] & 63);
                lr->w.lex.filter = lr->lex_filter;
        }
        ss_sparse_init(&lr->s.x[0]);
        ss_sparse_init(&lr->s.x[1]);
        lr->feat = ss_feat_new(&cfg->feat, NULL);
        if (!lr->feat) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "bad feature config (dim_bits %u, word n-grams 1..%u, char "
                           "n-grams %u..%u) or out of memory",
                           cfg->feat.dim_bits, cfg->feat.word_ngram_max, cfg->feat.char_ngram_min,
                           cfg->feat.char_ngram_max);
                free(lr);
                return NULL;
        }
        return lr;
}

void ss_logreg_destroy(ss_logreg_t *lr)
{
        if (!lr)
                return;
        ss_feat_destroy(lr->feat);
        ss_sparse_free(&lr->s.x[0]);
        ss_sparse_free(&lr->s.x[1]);
        free(lr->s.bits);
        free(lr->owned);
        free(lr);
}

void ss_logreg_tfidf(ss_sparse_t *x, const float *table, int sublinear)
{
        float norm = 0;
        for (size_t k = 0; k < x->n; k++) {
                /* rows are read at random: ask for the one 16 ahead */
                if (k + 16 < x->n)
                        __builtin_prefetch(table + (size_t)x->idx[k + 16] * SS_LOGREG_ROW);
                float c = x->val[k];
                float tf = sublinear && c > 1 ? 1 + logf(c) : c;
                float v = tf * table[(size_t)x->idx[k] * SS_LOGREG_ROW + SS_NUM_CLASSES];
                x->val[k] = v;
                norm += v * v;
        }
        if (norm > 0) {
                float inv = 1 / sqrtf(norm);
                for (size_t k = 0; k < x->n; k++)
                        x->val[k] *= inv;
        }
}

void ss_logreg_logits(float *logits, const ss_sparse_t *x, const float *table, const float *bias)
{
        float z0 = bias[0], z1 = bias[1], z2 = bias[2];
        for (size_t k = 0; k < x->n; k++) {
                const float *row = table + (size_t)x->idx[k] * SS_LOGREG_ROW;
                float v = x->val[k];
                z0 += v * row[0];
                z1 += v * row[1];
                z2 += v * row[2];
        }
        logits[0] = z0;
        logits[1] = z1;
        logits[2] = z2;
}

void ss_logreg_forward(float *logits, const ss_sparse_t *x, const float *table, const float *bias,
                       int sublinear)
{
        float z0 = 0, z1 = 0, z2 = 0, norm = 0;
        const uint32_t *idx = x->idx;
        const float *val = x->val;
        size_t n = x->n;
        for (size_t k = 0; k < n && k < 32; k++)
                __builtin_prefetch(table + (size_t)idx[k] * SS_LOGREG_ROW);
        for (size_t k = 0; k < n; k++) {
                if (k + 32 < n)
                        __builtin_prefetch(table + (size_t)idx[k + 32] * SS_LOGREG_ROW);
                const float *row = table + (size_t)idx[k] * SS_LOGREG_ROW;
                float c = val[k];
                float v = (sublinear && c > 1 ? 1 + logf(c) : c) * row[SS_NUM_CLASSES];
                norm += v * v;
                z0 += v * row[0];
                z1 += v * row[1];
                z2 += v * row[2];
        }
        float inv = norm > 0 ? 1 / sqrtf(norm) : 0;
        logits[0] = bias[0] + z0 * inv;
        logits[1] = bias[1] + z1 * inv;
        logits[2] = bias[2] + z2 * inv;
}

/*
 * Unknown-word share, step 1: the vocabulary bit of every word token of the
 * text the extractor saw last, into s.bits, each bitmap word prefetched. The
 * bitmap (2^vocab_bits bits, 2 MiB by default) is read at random; asking for
 * the lines here and testing them after the lexicon features hides the misses.
 * Returns the number of words, or -1 when out of memory.
 */
static long ss_logreg_vocab_fetch(ss_logreg_t *lr)
{
        const ss_tok_buf_t *tb = ss_feat_tokens(lr->feat);
        if (tb->n > lr->s.bits_cap) {
                size_t cap = lr->s.bits_cap ? lr->s.bits_cap : 64;
                while (cap < tb->n)
                        cap *= 2;
                uint32_t *b = realloc(lr->s.bits, cap * sizeof(*b));
                if (!b)
                        return -1;
                lr->s.bits = b;
                lr->s.bits_cap = cap;
        }
        size_t words = 0;
        for (size_t i = 0; i < tb->n; i++) {
                if (!ss_logreg_is_word(tb->toks[i].kind))
                        continue;
                uint32_t bit = ss_logreg_vocab_bit(ss_tok_str(tb, i), tb->toks[i].len,
                                                   lr->cfg.vocab_bits, lr->cfg.vocab_seed);
                __builtin_prefetch(&lr->w.vocab[bit >> 6]);
                lr->s.bits[words++] = bit;
        }
        return (long)words;
}

/* Step 2: token count and unknown-word share from the bits step 1 stored. */
static void ss_logreg_stats(const ss_logreg_t *lr, size_t words, ss_input_stats_t *st)
{
        size_t unk = 0;
        for (size_t i = 0; i < words; i++) {
                uint32_t bit = lr->s.bits[i];
                unk += !(lr->w.vocab[bit >> 6] >> (bit & 63) & 1);
        }
        st->n_tokens = (int32_t)ss_feat_tokens(lr->feat)->n;
        st->unk_share = words ? (float)unk / (float)words : 0.0f;
}

/*
 * Stage 1 of scoring a text into slot b: features (raw counts, unordered), a
 * prefetch of every table row they touch, the lexicon features and the input
 * statistics: all the work that needs the text's tokens.
 */
static ss_err_t ss_logreg_prepare(ss_logreg_t *lr, const char *text, size_t len, int b,
                                  ss_input_stats_t *st)
{
        ss_sparse_t *x = &lr->s.x[b];
        if (ss_feat_extract(lr->feat, text, len, SS_FEAT_RAW | SS_FEAT_UNORDERED, x, st))
                return SS_ERR_NOMEM;
        for (size_t k = 0; k < x->n; k++)
                __builtin_prefetch(lr->w.table + (size_t)x->idx[k] * SS_LOGREG_ROW);
        long words = st ? ss_logreg_vocab_fetch(lr) : 0;
        if (words < 0)
                return SS_ERR_NOMEM;
        if (lr->cfg.lex_feats)
                ss_logreg_lex_features(lr->s.lex[b], ss_feat_tokens(lr->feat), &lr->w.lex);
        if (st)
                ss_logreg_stats(lr, (size_t)words, st);
        return SS_OK;
}

/* Stage 2: the probabilities of the text prepared in slot b. */
static void ss_logreg_finish(const ss_logreg_t *lr, int b, float *p)
{
        ss_logreg_forward(p, &lr->s.x[b], lr->w.table, lr->w.bias, (int)lr->cfg.feat.sublinear_tf);
        if (lr->cfg.lex_feats) {
                const float *rows =
                    lr->w.table + ((size_t)1 << lr->cfg.feat.dim_bits) * SS_LOGREG_ROW;
                for (int k = 0; k < SS_LOGREG_LEX_FEATS; k++)
                        for (int c = 0; c < SS_NUM_CLASSES; c++)
                                p[c] += lr->s.lex[b][k] * rows[k * SS_LOGREG_ROW + c];
        }
        ss_softmax(p, SS_NUM_CLASSES);
}

/*
 * Two texts in flight: text i + 1 is prepared before text i's forward pass, so
 * the table rows of text i (16 MiB at 2^20 buckets, read at random) have a
 * whole text's work to arrive in cache.
 */
ss_err_t ss_logreg_score(ss_logreg_t *lr, const char *const *texts, const size_t *lens, size_t n,
                         float *probs, ss_input_stats_t *stats, char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i <= n; i++) {
                if (i < n && ss_logreg_prepare(lr, texts[i], lens[i], (int)(i & 1),
                                               stats ? &stats[i] : NULL))
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "feature extraction failed on text %zu (%zu bytes)", i,
                                          lens[i]);
                if (i > 0)
                        ss_logreg_finish(lr, (int)((i - 1) & 1), probs + (i - 1) * SS_NUM_CLASSES);
        }
        return SS_OK;
}

/* ---- model file ---- */

/*
 * Texts whose raw features identify the extractor: a model is only valid with
 * the tokenizer and hashing it was trained with, so the model file stores the
 * sha256 of these texts' features and loading recomputes it.
 */
static const char *const ss_logreg_probes[] = {
    "Soooo HAPPY today!!! :-) @friend http://t.co/xyz #Blessed 2016 \xf0\x9f\x98\x80",
    "I don't like Mondays... &amp; it's RAINING :( <3 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
    "Caf\xc3\xa9 na\xc3\xafve \xe2\x80\x9cquotes\xe2\x80\x9d \xe2\x80\xa6 12,345.67 x",
};

static ss_err_t ss_logreg_features_id(const ss_feat_config_t *fc, char hex[65])
{
        ss_feat_t *f = ss_feat_new(fc, NULL);
        ss_sparse_t x;
        ss_sparse_init(&x);
        size_t cap = 1 << 16, len = 0;
        uint8_t *buf = malloc(cap);
        ss_err_t err = f && buf ? SS_OK : SS_ERR_NOMEM;
        for (size_t p = 0; !err && p < sizeof(ss_logreg_probes) / sizeof(ss_logreg_probes[0]);
             p++) {
                const char *t = ss_logreg_probes[p];
                if (ss_feat_extract(f, t, strlen(t), SS_FEAT_RAW, &x, NULL)) {
                        err = SS_ERR_NOMEM;
                        break;
                }
                size_t need = len + x.n * 8 + 8;
                if (need > cap) {
                        uint8_t *nb = realloc(buf, need * 2);
                        if (!nb) {
                                err = SS_ERR_NOMEM;
                                break;
                        }
                        buf = nb;
                        cap = need * 2;
                }
                uint64_t n = x.n;
                memcpy(buf + len, &n, 8);
                memcpy(buf + len + 8, x.idx, x.n * 4);
                memcpy(buf + len + 8 + x.n * 4, x.val, x.n * 4);
                len += 8 + x.n * 8;
        }
        if (!err)
                ss_sha256_hex(buf, len, hex);
        free(buf);
        ss_sparse_free(&x);
        ss_feat_destroy(f);
        return err;
}

static void ss_logreg_config_pack(const ss_logreg_config_t *cfg, uint32_t *out)
{
        uint32_t v[SS_LOGREG_CONFIG_FIELDS] = {SS_LOGREG_FORMAT,         cfg->feat.dim_bits,
                                               cfg->feat.word_ngram_max, cfg->feat.char_ngram_min,
                                               cfg->feat.char_ngram_max, cfg->feat.seed,
                                               cfg->feat.sublinear_tf,   cfg->vocab_bits,
                                               cfg->vocab_seed,          cfg->lex_feats};
        memcpy(out, v, sizeof(v));
}

ss_err_t ss_logreg_save(const ss_logreg_config_t *cfg, const ss_logreg_weights_t *w, ss_mfile_t *mf,
                        char *errstr, size_t errstr_size)
{
        uint32_t packed[SS_LOGREG_CONFIG_FIELDS];
        ss_logreg_config_pack(cfg, packed);
        uint64_t rows = ss_logreg_rows(cfg);
        uint64_t vwords = ((uint64_t)1 << cfg->vocab_bits) / 64;
        ss_err_t err = ss_mfile_add(mf, "logreg.config", SS_MF_U32, packed, SS_LOGREG_CONFIG_FIELDS,
                                    errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "logreg.table", SS_MF_F32, w->table, rows * SS_LOGREG_ROW,
                                   errstr, errstr_size);
        if (!err && cfg->lex_feats)
                err = ss_mfile_add(mf, "logreg.lex.keys", SS_MF_U64, w->lex.keys, w->lex.cap,
                                   errstr, errstr_size);
        if (!err && cfg->lex_feats)
                err = ss_mfile_add(mf, "logreg.lex.vals", SS_MF_F32, w->lex.vals, w->lex.cap,
                                   errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "logreg.bias", SS_MF_F32, w->bias, SS_NUM_CLASSES, errstr,
                                   errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "logreg.vocab", SS_MF_U64, w->vocab, vwords, errstr,
                                   errstr_size);
        char id[65];
        if (!err && ss_logreg_features_id(&cfg->feat, id))
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        if (!err)
                err = ss_mfile_add(mf, "logreg.features", SS_MF_STR, id, 64, errstr, errstr_size);
        return err;
}

static void *ss_logreg_kind_load(const ss_mfile_t *mf, char *errstr, size_t errstr_size)
{
        const char *what = ss_mfile_path(mf)[0] ? ss_mfile_path(mf) : "model";
        const uint32_t *pc = ss_mfile_get(mf, "logreg.config", SS_MF_U32, SS_LOGREG_CONFIG_FIELDS,
                                          NULL, errstr, errstr_size);
        if (!pc)
                return NULL;
        if (pc[0] != SS_LOGREG_FORMAT) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: logreg section format %u, this program reads %d", what, pc[0],
                           SS_LOGREG_FORMAT);
                return NULL;
        }
        ss_logreg_config_t cfg;
        ss_logreg_config_default(&cfg);
        cfg.feat.dim_bits = pc[1];
        cfg.feat.word_ngram_max = pc[2];
        cfg.feat.char_ngram_min = pc[3];
        cfg.feat.char_ngram_max = pc[4];
        cfg.feat.seed = pc[5];
        cfg.feat.sublinear_tf = pc[6];
        cfg.vocab_bits = pc[7];
        cfg.vocab_seed = pc[8];
        cfg.lex_feats = pc[9];
        char msg[256];
        if (ss_logreg_config_check(&cfg, msg, sizeof(msg))) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: logreg.config: %s", what, msg);
                return NULL;
        }
        uint64_t d = ss_logreg_rows(&cfg);
        ss_logreg_weights_t w;
        memset(&w, 0, sizeof(w));
        w.table = ss_mfile_get(mf, "logreg.table", SS_MF_F32, d * SS_LOGREG_ROW, NULL, errstr,
                               errstr_size);
        if (!w.table)
                return NULL;
        w.bias =
            ss_mfile_get(mf, "logreg.bias", SS_MF_F32, SS_NUM_CLASSES, NULL, errstr, errstr_size);
        if (!w.bias)
                return NULL;
        w.vocab = ss_mfile_get(mf, "logreg.vocab", SS_MF_U64, ((uint64_t)1 << cfg.vocab_bits) / 64,
                               NULL, errstr, errstr_size);
        if (!w.vocab)
                return NULL;
        if (cfg.lex_feats) {
                w.lex.keys = ss_mfile_get(mf, "logreg.lex.keys", SS_MF_U64, 0, &w.lex.cap, errstr,
                                          errstr_size);
                if (!w.lex.keys)
                        return NULL;
                w.lex.vals = ss_mfile_get(mf, "logreg.lex.vals", SS_MF_F32, w.lex.cap, NULL, errstr,
                                          errstr_size);
                if (!w.lex.vals)
                        return NULL;
                uint64_t empty = 0;
                for (uint64_t i = 0; i < w.lex.cap; i++) {
                        if (!isfinite(w.lex.vals[i])) {
                                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                           "%s: logreg.lex.vals[%llu] is not finite", what,
                                           (unsigned long long)i);
                                return NULL;
                        }
                        empty += w.lex.keys[i] == 0;
                }
                /* a power of two with free slots, or lookups would not terminate */
                if (w.lex.cap < 2 || (w.lex.cap & (w.lex.cap - 1)) || empty == 0) {
                        ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                   "%s: logreg.lex.keys: bad table (%llu slots, %llu free)", what,
                                   (unsigned long long)w.lex.cap, (unsigned long long)empty);
                        return NULL;
                }
        }
        for (uint64_t i = 0; i < d * SS_LOGREG_ROW; i++) {
                if (!isfinite(w.table[i]) ||
                    (i % SS_LOGREG_ROW == SS_NUM_CLASSES && w.table[i] < 0)) {
                        ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                   "%s: logreg.table element %llu is %g", what,
                                   (unsigned long long)i, (double)w.table[i]);
                        return NULL;
                }
        }
        for (int k = 0; k < SS_NUM_CLASSES; k++) {
                if (!isfinite(w.bias[k])) {
                        ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                   "%s: logreg.bias[%d] is not finite", what, k);
                        return NULL;
                }
        }
        const char *want_id =
            ss_mfile_get(mf, "logreg.features", SS_MF_STR, 64, NULL, errstr, errstr_size);
        if (!want_id)
                return NULL;
        char id[65];
        if (ss_logreg_features_id(&cfg.feat, id)) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", what);
                return NULL;
        }
        if (memcmp(id, want_id, 64) != 0) {
                ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                           "%s: trained with another feature extractor (tokenizer or hashing "
                           "changed since): retrain the model",
                           what);
                return NULL;
        }
        ss_logreg_t *lr = ss_logreg_new(&cfg, &w, msg, sizeof(msg));
        if (!lr)
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: %s", what, msg);
        return lr;
}

static ss_err_t ss_logreg_kind_score(void *impl, const char *const *texts, const size_t *lens,
                                     size_t n, float *probs, ss_input_stats_t *stats, char *errstr,
                                     size_t errstr_size)
{
        return ss_logreg_score(impl, texts, lens, n, probs, stats, errstr, errstr_size);
}

static void ss_logreg_kind_destroy(void *impl)
{
        ss_logreg_destroy(impl);
}

const ss_model_kind_t ss_logreg_kind = {
    .kind = "logreg",
    .load = ss_logreg_kind_load,
    .score_batch = ss_logreg_kind_score,
    .destroy = ss_logreg_kind_destroy,
};
