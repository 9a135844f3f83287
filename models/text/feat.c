/*
 * feat: hashed TF-IDF features (word 1..k-grams + char_wb n-grams).
 *
 * One extraction: tokenize (tok.c) -> one pass over the tokens appends the
 * bucket of every n-gram occurrence to a key array -> LSD radix sort of the
 * keys (7-bit digits, all histograms in one pass) -> run-length count into the
 * sparse output (ascending, unique) -> sublinear tf, IDF, L2 norm. All scratch
 * lives in the extractor and only grows when a text needs more than any text
 * before; nothing is allocated per token or per text.
 *
 * Why sort instead of a dense accumulator: a tweet has ~360 n-gram
 * occurrences. Counting them in a 2^20-float array costs a cache miss per
 * occurrence and still needs a sort of the touched buckets for ascending
 * output; sorting the raw keys (L1-resident) and counting runs does both jobs
 * with no random memory traffic. The IDF loads (the only 4 MiB random access)
 * are prefetched before the sort so the sort hides their latency.
 *
 * Scoring needs no order, only the count of each key, and there the sort is
 * the largest cost. The unordered way counts in a direct-mapped table of 4096
 * slots inside the extractor (20 KiB, L1-resident), indexed by the key's low
 * bits and tagged with the key and a generation number (so nothing is cleared
 * between texts). Each key either claims an empty slot (a new key, appended to
 * the output), bumps its own slot, or spills because another key holds the
 * slot; all of it with selects, no branch on the data. A tweet's ~300 keys
 * spill a few per cent; the spilled keys (disjoint from the slotted ones: a
 * key has one slot) are sorted and counted the ordered way and appended.
 *
 * Keys: every n-gram is a 64-bit polynomial state over code points,
 * h = (h + cp) * POLY_M from a per-family seed, finalised by xor-shift and
 * multiply into the top dim_bits bits. Families have distinct 64-bit seeds:
 * word unigram (the token's code points), word bigram and trigram (the
 * unigram states of their tokens), char n-gram. Two equal-length inputs under
 * different seeds never share a state, so a word key and a char key never
 * coincide by construction ("ab" the word vs "ab" the char bigram); different
 * keys share a bucket only by chance, as in any hashed space. Char n-grams are
 * hashed incrementally: from each start position one state absorbs one code
 * point at a time and yields a key at every length min..max.
 *
 * char_wb follows scikit-learn: each token is padded with one space on both
 * sides; all n-grams of the padded token for n = min..max are counted, except
 * that a padded token shorter than min counts once, whole.
 */
#include "feat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHAR_NGRAM_CAP 6 /* largest char_ngram_max */
#define SLOT_BITS      12
#define SLOTS          (1u << SLOT_BITS) /* direct-mapped counters of the unordered way */

struct ss_feat {
        ss_feat_config_t cfg;
        uint32_t dim;       /* 2^dim_bits */
        uint32_t mask;      /* dim - 1 */
        uint64_t seed_w[3]; /* word unigram, bigram, trigram key seeds */
        uint64_t seed_c;    /* char n-gram key seed */
        float *idf;         /* [dim], or NULL: all 1.0 (raw counts need none) */
        uint32_t *keys;     /* [keys_cap] bucket of every n-gram of the text, repeats included */
        uint32_t *sort_tmp; /* [keys_cap] sort scratch */
        size_t n_keys, keys_cap;
        uint32_t radix[4][128];   /* [passes][digit] radix sort counters */
        float tf_table[64];       /* [64] 1 + ln(c), the sublinear tf of small counts */
        uint32_t slot_tag[SLOTS]; /* [SLOTS] key | generation << 24 of the unordered way */
        uint16_t slot_cnt[SLOTS]; /* [SLOTS] its count, valid where the tag has this generation */
        uint32_t slot_gen;        /* 1..255; tags of other generations are empty */
        uint32_t *cps;            /* [cps_cap] code points of one padded token, then slack */
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
        for (int k = 0; k < 4; k++) { /* distinct, well-mixed 64-bit seeds per key family */
                uint32_t uk = (uint32_t)k;
                uint64_t x = ((uint64_t)mm_fmix(cfg->seed + 2 * uk + 1) << 32) |
                             mm_fmix(cfg->seed ^ (0x9e3779b9u * (uk + 1)));
                if (k < 3)
                        f->seed_w[k] = x;
                else
                        f->seed_c = x;
        }
        ss_tok_buf_init(&f->tb);
        for (int c = 0; c < 64; c++)
                f->tf_table[c] = c ? 1.0f + logf((float)c) : 0.0f;
        if (idf) {
                f->idf = malloc((size_t)f->dim * sizeof(float));
                if (!f->idf) {
                        ss_feat_destroy(f);
                        return NULL;
                }
                memcpy(f->idf, idf, (size_t)f->dim * sizeof(float));
        }
        return f;
}

void ss_feat_destroy(ss_feat_t *f)
{
        if (!f)
                return;
        free(f->idf);
        free(f->keys);
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
        if (need > f->keys_cap) {
                size_t cap = f->keys_cap ? f->keys_cap : 1024;
                while (cap < need)
                        cap *= 2;
                uint32_t *t = realloc(f->keys, cap * sizeof(*t));
                if (!t)
                        return -1;
                f->keys = t;
                t = realloc(f->sort_tmp, cap * sizeof(*t));
                if (!t)
                        return -1;
                f->sort_tmp = t;
                f->keys_cap = cap;
        }
        size_t cps_need = tb->text_len + 2 + CHAR_NGRAM_CAP; /* + tail read by the unrolled loop */
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

/*
 * Keys. Every n-gram is a 64-bit polynomial state over code points,
 * h = (h + cp) * POLY_M from a per-family seed, finalised into the top
 * dim_bits bits (xor-shift, multiply): two ops on the dependency chain per
 * code point, four per key. Families: word unigram (the token's code points,
 * seed_w[0]), word bigram/trigram (the unigram states of the tokens,
 * seed_w[1], seed_w[2]), char n-gram (seed_c).
 */
#define POLY_M 0x9e3779b97f4a7c15ull
#define FIN_M  0xbf58476d1ce4e5b9ull

static inline uint32_t key_of(uint64_t h, uint32_t shift)
{
        h ^= h >> 31;
        h *= FIN_M;
        return (uint32_t)(h >> shift);
}

/* Decodes a token (valid UTF-8, written by tok.c) into cps[1..] with a space
 * on both sides and zero slack after; sets *word to the token's word state.
 * Returns the padded length in code points. */
static inline size_t token_decode(uint32_t *cps, const uint8_t *s, size_t len, uint64_t seed,
                                  uint64_t *word)
{
        size_t w = 1;
        uint64_t h = seed;
        cps[0] = ' ';
        for (size_t i = 0; i < len;) {
                uint8_t c = s[i];
                uint32_t cp;
                if (c < 0x80) {
                        cp = c;
                        i += 1;
                } else if (c < 0xE0 && i + 1 < len) {
                        cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
                        i += 2;
                } else if (c < 0xF0 && i + 2 < len) {
                        cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
                             (s[i + 2] & 0x3F);
                        i += 3;
                } else if (c >= 0xF0 && i + 3 < len) {
                        cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                             ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
                        i += 4;
                } else {
                        cp = 0xFFFD; /* cannot happen for tok.c output; stay in bounds */
                        i += 1;
                }
                cps[w++] = cp;
                h = (h + cp) * POLY_M;
        }
        cps[w] = ' ';
        for (size_t k = 1; k <= CHAR_NGRAM_CAP; k++)
                cps[w + k] = 0;
        *word = h;
        return w + 1;
}

/*
 * The char n-gram keys of one padded token of w code points. Positions whose
 * n-grams all fit run a fixed-length inner loop (unrolled when inlined with
 * the constant default range); the last few positions compute every length
 * and keep only those that fit (reading the zero slack), so no branch depends
 * on the token's length per n-gram.
 */
static inline __attribute__((always_inline)) size_t char_ngrams_token(uint32_t *keys, size_t nk,
                                                                      const uint32_t *cps, size_t w,
                                                                      size_t nmin, size_t nmax,
                                                                      uint64_t seed, uint32_t shift)
{
        if (w < nmin) { /* shorter than the smallest n: the whole padded token */
                uint64_t h = seed;
                for (size_t k = 0; k < w; k++)
                        h = (h + cps[k]) * POLY_M;
                keys[nk++] = key_of(h, shift);
                return nk;
        }
        size_t p = 0;
        for (; p + nmax <= w; p++) {
                uint64_t h = seed;
#pragma GCC unroll 8
                for (size_t k = 0; k < nmax; k++) {
                        h = (h + cps[p + k]) * POLY_M;
                        if (k + 1 >= nmin)
                                keys[nk++] = key_of(h, shift);
                }
        }
        for (; p + nmin <= w; p++) {
                uint64_t h = seed;
#pragma GCC unroll 8
                for (size_t k = 0; k < nmax; k++) {
                        h = (h + cps[p + k]) * POLY_M;
                        if (k + 1 >= nmin) {
                                keys[nk] = key_of(h, shift);
                                nk += p + k + 1 <= w;
                        }
                }
        }
        return nk;
}

/* All keys of the text in f->tb, appended to f->keys. */
static void add_keys(ss_feat_t *f)
{
        const ss_tok_buf_t *tb = &f->tb;
        const size_t nmin = f->cfg.char_ngram_min, nmax = f->cfg.char_ngram_max;
        const uint32_t kmax = f->cfg.word_ngram_max, shift = 64 - f->cfg.dim_bits;
        const uint64_t sc = f->seed_c, s1 = f->seed_w[0], s2 = f->seed_w[1], s3 = f->seed_w[2];
        uint32_t *keys = f->keys, *cps = f->cps;
        size_t nk = f->n_keys;
        uint64_t u1 = 0, u2 = 0; /* word states of the previous two tokens */
        for (size_t t = 0; t < tb->n; t++) {
                uint64_t u;
                size_t w =
                    token_decode(cps, (const uint8_t *)ss_tok_str(tb, t), tb->toks[t].len, s1, &u);
                keys[nk++] = key_of(u, shift);
                if (kmax >= 2 && t >= 1)
                        keys[nk++] = key_of(((s2 + u1) * POLY_M + u) * POLY_M, shift);
                if (kmax >= 3 && t >= 2)
                        keys[nk++] =
                            key_of((((s3 + u2) * POLY_M + u1) * POLY_M + u) * POLY_M, shift);
                u2 = u1;
                u1 = u;
                if (nmin == 2 && nmax == 5)
                        nk = char_ngrams_token(keys, nk, cps, w, 2, 5, sc, shift);
                else if (nmin)
                        nk = char_ngrams_token(keys, nk, cps, w, nmin, nmax, sc, shift);
        }
        f->n_keys = nk;
}

uint32_t ss_feat_word_bucket(const ss_feat_t *f, const char *tok, size_t len)
{
        uint64_t h = f->seed_w[0];
        const uint8_t *s = (const uint8_t *)tok;
        for (size_t i = 0; i < len;) {
                uint32_t cp = s[i];
                size_t l = 1;
                if (cp >= 0xC0 && cp < 0xE0 && i + 1 < len) {
                        cp = ((cp & 0x1F) << 6) | (s[i + 1] & 0x3F);
                        l = 2;
                } else if (cp >= 0xE0 && cp < 0xF0 && i + 2 < len) {
                        cp = ((cp & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
                             (s[i + 2] & 0x3F);
                        l = 3;
                } else if (cp >= 0xF0 && i + 3 < len) {
                        cp = ((cp & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                             ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
                        l = 4;
                } else if (cp >= 0x80) {
                        cp = 0xFFFD;
                }
                h = (h + cp) * POLY_M;
                i += l;
        }
        return key_of(h, 64 - f->cfg.dim_bits);
}

static void insertion_sort(uint32_t *a, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                uint32_t v = a[i];
                size_t j = i;
                for (; j > 0 && a[j - 1] > v; j--)
                        a[j] = a[j - 1];
                a[j] = v;
        }
}

/*
 * Sorts a[0..n) ascending (values < 2^bits, bits 10..24) using tmp[n];
 * returns the sorted array (a or tmp). Small n: insertion sort. Otherwise LSD
 * radix with digits of at most 7 bits (3 passes for 20 bits), all digit
 * histograms counted in one pass: a text's few hundred keys cost a few small
 * counter arrays instead of thousands of counters, and nothing branches on
 * the random keys.
 */
static inline __attribute__((always_inline)) uint32_t *radix_lsd(uint32_t *a, uint32_t *tmp,
                                                                 size_t n, uint32_t (*count)[128],
                                                                 uint32_t passes, uint32_t width)
{
        uint32_t mask = (1u << width) - 1;
        memset(count, 0, passes * sizeof(count[0]));
        for (size_t i = 0; i < n; i++) {
                uint32_t k = a[i];
#pragma GCC unroll 4
                for (uint32_t p = 0; p < passes; p++)
                        count[p][(k >> (p * width)) & mask]++;
        }
        for (uint32_t p = 0; p < passes; p++) {
                uint32_t sum = 0;
                for (uint32_t d = 0; d <= mask; d++) {
                        uint32_t c = count[p][d];
                        count[p][d] = sum;
                        sum += c;
                }
        }
        uint32_t *src = a, *dst = tmp;
#pragma GCC unroll 4
        for (uint32_t p = 0; p < passes; p++) {
                uint32_t sh = p * width, *c = count[p];
                for (size_t i = 0; i < n; i++)
                        dst[c[(src[i] >> sh) & mask]++] = src[i];
                uint32_t *x = src;
                src = dst;
                dst = x;
        }
        return src;
}

static uint32_t *sort_keys(uint32_t *a, uint32_t *tmp, size_t n, uint32_t bits,
                           uint32_t (*count)[128])
{
        if (n < 48) {
                insertion_sort(a, n);
                return a;
        }
        if (bits == 20)
                return radix_lsd(a, tmp, n, count, 3, 7);
        uint32_t passes = (bits + 6) / 7;
        return radix_lsd(a, tmp, n, count, passes, (bits + passes - 1) / passes);
}

/* Counts the nk keys of a into idx/val (ascending, unique) by sorting them, with
 * tmp[nk] as the sort's scratch (a and tmp are both overwritten). Returns how many
 * distinct keys. */
static size_t count_sorted(ss_feat_t *f, uint32_t *a, uint32_t *tmp, size_t nk, uint32_t *idx,
                           float *val)
{
        const uint32_t *k = sort_keys(a, tmp, nk, f->cfg.dim_bits, f->radix);
        /* Run-length count without data-dependent branches and with a one-add
         * dependency chain: n counts the distinct keys so far; each key is
         * (re)written at n - 1 together with the end of its run, and the counts
         * are the differences of consecutive run ends. */
        uint32_t *ends = k == a ? tmp : a; /* the free buffer */
        size_t n = 0;
        if (nk) {
                uint32_t prev_key = k[0];
                idx[0] = prev_key;
                ends[0] = 1;
                n = 1;
                for (size_t i = 1; i < nk; i++) {
                        uint32_t key = k[i];
                        n += key != prev_key;
                        prev_key = key;
                        idx[n - 1] = key;
                        ends[n - 1] = (uint32_t)i + 1;
                }
                uint32_t prev = 0;
                for (size_t j = 0; j < n; j++) {
                        val[j] = (float)(ends[j] - prev);
                        prev = ends[j];
                }
        }
        return n;
}

/* Counts f->keys into out (unique; slotted keys in first-occurrence order,
 * then the spilled ones ascending) in the slot table. Returns 0, or -1 (out
 * untouched) for a text of 65536 keys or more, whose counts could wrap. */
static int count_slots(ss_feat_t *f, size_t nk, ss_sparse_t *out)
{
        if (nk > UINT16_MAX)
                return -1;
        if (++f->slot_gen > 255) { /* generations run out: empty the table once */
                memset(f->slot_tag, 0, sizeof(f->slot_tag));
                f->slot_gen = 1;
        }
        const uint32_t gen = f->slot_gen << 24, mask = SLOTS - 1;
        uint32_t *tag = f->slot_tag;
        uint16_t *cnt = f->slot_cnt;
        const uint32_t *keys = f->keys;
        uint32_t *idx = out->idx, *spill = f->sort_tmp;
        size_t n = 0, m = 0;
        for (size_t i = 0; i < nk; i++) {
                uint32_t key = keys[i], s = key & mask, t = tag[s], kg = key | gen;
                uint32_t fresh = (t & 0xff000000u) != gen, same = t == kg;
                tag[s] = fresh ? kg : t;
                cnt[s] = (uint16_t)(fresh ? 1u : cnt[s] + same);
                idx[n] = key; /* kept when new */
                n += fresh;
                spill[m] = key; /* kept when the slot holds another key */
                m += !fresh & !same;
        }
        float *val = out->val;
        for (size_t j = 0; j < n; j++)
                val[j] = (float)cnt[idx[j] & mask];
        /* the spilled keys, counted the sorted way after the slotted ones (f->keys is
         * free now: the sort's scratch) */
        out->n = n + count_sorted(f, spill, f->keys, m, idx + n, val + n);
        return 0;
}

/* Counts the keys into out (see flags), then weights them. */
static int gather(ss_feat_t *f, int flags, ss_sparse_t *out)
{
        size_t nk = f->n_keys;
        f->n_keys = 0;
        int raw_counts = flags & SS_FEAT_RAW;
        if (!raw_counts && f->idf) /* start the IDF loads now; counting hides their latency */
                for (size_t i = 0; i < nk; i++)
                        __builtin_prefetch(&f->idf[f->keys[i]]);
        if (sparse_reserve(out, nk))
                return -1;
        if (!(flags & SS_FEAT_UNORDERED) || count_slots(f, nk, out))
                out->n = count_sorted(f, f->keys, f->sort_tmp, nk, out->idx, out->val);
        if (raw_counts)
                return 0;
        size_t n = out->n;
        const uint32_t *idx = out->idx;
        float *val = out->val;
        const float *idf = f->idf;
        double sumsq = 0.0;
        for (size_t i = 0; i < n; i++) {
                float v = val[i];
                if (f->cfg.sublinear_tf)
                        v = v < 64.0f ? f->tf_table[(int)v] : 1.0f + logf(v);
                if (idf)
                        v *= idf[idx[i]];
                val[i] = v;
                sumsq += (double)v * v;
        }
        if (sumsq > 0.0) {
                float inv = (float)(1.0 / sqrt(sumsq));
                for (size_t i = 0; i < n; i++)
                        val[i] *= inv;
        }
        return 0;
}

int ss_feat_extract(ss_feat_t *f, const char *text, size_t len, int flags, ss_sparse_t *out,
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
        add_keys(f);
        return gather(f, flags, out);
}

int ss_feat_idf_fit(ss_feat_t *f, const char *const *texts, const size_t *lens, size_t n)
{
        /* the extractor's own array when it has one; a new one installed only on success */
        float *idf = f->idf ? f->idf : malloc((size_t)f->dim * sizeof(float));
        uint32_t *df = calloc(f->dim, sizeof(*df));
        ss_sparse_t v;
        ss_sparse_init(&v);
        int rc = -1;
        if (!idf || !df)
                goto done;
        for (size_t d = 0; d < n; d++) {
                if (ss_feat_extract(f, texts[d], lens[d], SS_FEAT_RAW, &v, NULL))
                        goto done;
                for (size_t i = 0; i < v.n; i++)
                        df[v.idx[i]]++;
        }
        for (uint32_t j = 0; j < f->dim; j++)
                idf[j] = (float)(log((1.0 + (double)n) / (1.0 + (double)df[j])) + 1.0);
        f->idf = idf;
        rc = 0;
done:
        if (rc && idf != f->idf)
                free(idf);
        free(df);
        ss_sparse_free(&v);
        return rc;
}
