/*
 * wordpiece: BertTokenizer-compatible uncased WordPiece (see wordpiece.h).
 *
 * Design: the vocabulary is one copied buffer with NUL-terminated lines and an
 * open-addressing hash table of ids keyed by the token bytes. Encoding runs in
 * three passes over reusable scratch: (1) decode UTF-8 and clean the text into
 * code points (controls removed, whitespace folded to ' ', CJK spaced, special
 * tokens replaced by marker code points above U+10FFFF); (2) per
 * whitespace-separated token, fold each code point (lower-case, NFD, marks
 * dropped) and split punctuation off;
 * (3) per word, greedy longest-match-first lookup where the "##" continuation
 * prefix is written in place just before the piece, so no piece is copied.
 * The per-code-point facts are binary searches in tables generated from the
 * reference tokenizer itself (models/gen/gen_wordpiece_tables.py).
 */
#include "wordpiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_util.h"
#include "wordpiece_tables.h"

#define SS_WP_MARKER 0x200000u /* marker code point base: MARKER + id of a special token */
#define HANGUL_S0    0xAC00u
#define HANGUL_L0    0x1100u
#define HANGUL_V0    0x1161u
#define HANGUL_T0    0x11A7u
#define HANGUL_NV    21u
#define HANGUL_NT    28u
#define HANGUL_N     11172u

static const char *const ss_wp_specials[] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
#define SS_WP_NSPECIAL (sizeof(ss_wp_specials) / sizeof(ss_wp_specials[0]))

struct ss_wp {
        char *vocab;        /* [vocab_len + 1] copy of vocab.txt, each '\n' replaced by NUL */
        uint32_t *tok_off;  /* [n] byte offset of token i in vocab */
        uint32_t *tok_len;  /* [n] byte length of token i */
        int32_t n;          /* vocabulary size */
        int32_t *slots;     /* [nslots] hash table of token ids, -1 = empty */
        uint32_t nslots;    /* power of two, >= 2n */
        size_t max_tok_len; /* longest token, bytes */
        int32_t cls, sep, pad, unk;
        int32_t special_id[SS_WP_NSPECIAL]; /* id of ss_wp_specials[k], -1 if absent */

        /* scratch, grown on demand */
        uint32_t *cps; /* [cps_cap] cleaned code points of the text */
        size_t cps_cap;
        uint32_t *fold; /* [fold_cap] folded code points of one whitespace token */
        size_t fold_cap;
        char *wbuf; /* [wbuf_cap] 2 spare bytes + UTF-8 of one word */
        size_t wbuf_cap;
        uint32_t *woff; /* [SS_WP_MAX_WORD_CHARS + 1] byte offset of each code point in the word */
        int32_t *ids;   /* [ids_cap] piece ids of the text */
        size_t ids_n, ids_cap;
};

const char *ss_wp_tables_version(void)
{
        return ss_wp_tables_source;
}

/* ---- Unicode facts ---- */

static uint32_t cp_flags(uint32_t c)
{
        size_t lo = 0, hi = ss_wp_class_ranges_n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (c < ss_wp_class_ranges[mid].lo)
                        hi = mid;
                else if (c > ss_wp_class_ranges[mid].hi)
                        lo = mid + 1;
                else
                        return ss_wp_class_ranges[mid].flags;
        }
        return 0;
}

static const ss_wp_fold_t *fold_find(uint32_t c)
{
        size_t lo = 0, hi = ss_wp_fold_n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (c < ss_wp_fold[mid].cp)
                        hi = mid;
                else if (c > ss_wp_fold[mid].cp)
                        lo = mid + 1;
                else
                        return &ss_wp_fold[mid];
        }
        return NULL;
}

/* ---- vocabulary ---- */

static uint32_t hash_bytes(const char *s, size_t len)
{
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < len; i++) {
                h ^= (uint8_t)s[i];
                h *= 16777619u;
        }
        return h;
}

int32_t ss_wp_lookup(const ss_wp_t *wp, const char *tok, size_t len)
{
        if (len > wp->max_tok_len)
                return -1;
        uint32_t mask = wp->nslots - 1;
        for (uint32_t i = hash_bytes(tok, len) & mask;; i = (i + 1) & mask) {
                int32_t id = wp->slots[i];
                if (id < 0)
                        return -1;
                if (wp->tok_len[id] == len && !memcmp(wp->vocab + wp->tok_off[id], tok, len))
                        return id;
        }
}

/* Inserts id; a later duplicate of a token string replaces the earlier (as a dict would). */
static void vocab_insert(ss_wp_t *wp, int32_t id)
{
        const char *s = wp->vocab + wp->tok_off[id];
        size_t len = wp->tok_len[id];
        uint32_t mask = wp->nslots - 1;
        for (uint32_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
                int32_t o = wp->slots[i];
                if (o < 0 ||
                    (wp->tok_len[o] == len && !memcmp(wp->vocab + wp->tok_off[o], s, len))) {
                        wp->slots[i] = id;
                        return;
                }
        }
}

ss_wp_t *ss_wp_new(const char *vocab, size_t len, char *errstr, size_t errstr_size)
{
        if (len > UINT32_MAX - 1) {
                ss_err_set(errstr, errstr_size, SS_ERR_TOO_LARGE, "vocabulary: %zu bytes", len);
                return NULL;
        }
        ss_wp_t *wp = calloc(1, sizeof(*wp));
        if (!wp)
                goto nomem;
        wp->vocab = malloc(len + 1);
        if (!wp->vocab)
                goto nomem;
        memcpy(wp->vocab, vocab, len);
        wp->vocab[len] = '\0';

        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
                lines += vocab[i] == '\n';
        if (len > 0 && vocab[len - 1] != '\n')
                lines++;
        if (lines > INT32_MAX / 4) {
                ss_err_set(errstr, errstr_size, SS_ERR_TOO_LARGE, "vocabulary: %zu lines", lines);
                goto fail;
        }
        wp->n = (int32_t)lines;
        wp->tok_off = malloc((lines ? lines : 1) * sizeof(*wp->tok_off));
        wp->tok_len = malloc((lines ? lines : 1) * sizeof(*wp->tok_len));
        wp->nslots = 16;
        while (wp->nslots < 2 * lines)
                wp->nslots *= 2;
        wp->slots = malloc(wp->nslots * sizeof(*wp->slots));
        wp->woff = malloc((SS_WP_MAX_WORD_CHARS + 1) * sizeof(*wp->woff));
        if (!wp->tok_off || !wp->tok_len || !wp->slots || !wp->woff)
                goto nomem;
        memset(wp->slots, 0xff, wp->nslots * sizeof(*wp->slots));

        size_t start = 0;
        int32_t id = 0;
        for (size_t i = 0; i <= len && (size_t)id < lines; i++) {
                if (i == len || vocab[i] == '\n') {
                        wp->tok_off[id] = (uint32_t)start;
                        wp->tok_len[id] = (uint32_t)(i - start);
                        if (i < len)
                                wp->vocab[i] = '\0';
                        if (i - start > wp->max_tok_len)
                                wp->max_tok_len = i - start;
                        id++;
                        start = i + 1;
                }
        }
        for (id = 0; id < wp->n; id++)
                vocab_insert(wp, id);

        for (size_t k = 0; k < SS_WP_NSPECIAL; k++)
                wp->special_id[k] = ss_wp_lookup(wp, ss_wp_specials[k], strlen(ss_wp_specials[k]));
        wp->unk = wp->special_id[0];
        wp->sep = wp->special_id[1];
        wp->pad = wp->special_id[2];
        wp->cls = wp->special_id[3];
        for (size_t k = 0; k < 4; k++) {
                if (wp->special_id[k] < 0) {
                        ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                   "vocabulary (%d tokens) lacks the special token %s", wp->n,
                                   ss_wp_specials[k]);
                        goto fail;
                }
        }
        return wp;
nomem:
        ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "vocabulary: out of memory");
fail:
        ss_wp_destroy(wp);
        return NULL;
}

ss_wp_t *ss_wp_load(const char *vocab_path, char *errstr, size_t errstr_size)
{
        char *buf;
        size_t len;
        if (ss_file_read_all(vocab_path, &buf, &len, errstr, errstr_size) != SS_OK)
                return NULL;
        ss_wp_t *wp = ss_wp_new(buf, len, errstr, errstr_size);
        if (!wp && errstr && errstr_size) {
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "%s", errstr);
                snprintf(errstr, errstr_size, "%s: %s", vocab_path, tmp);
        }
        free(buf);
        return wp;
}

void ss_wp_destroy(ss_wp_t *wp)
{
        if (!wp)
                return;
        free(wp->vocab);
        free(wp->tok_off);
        free(wp->tok_len);
        free(wp->slots);
        free(wp->cps);
        free(wp->fold);
        free(wp->wbuf);
        free(wp->woff);
        free(wp->ids);
        free(wp);
}

int32_t ss_wp_vocab_size(const ss_wp_t *wp)
{
        return wp->n;
}

const char *ss_wp_token(const ss_wp_t *wp, int32_t id)
{
        if (id < 0 || id >= wp->n)
                return NULL;
        return wp->vocab + wp->tok_off[id];
}

int32_t ss_wp_cls_id(const ss_wp_t *wp)
{
        return wp->cls;
}

int32_t ss_wp_sep_id(const ss_wp_t *wp)
{
        return wp->sep;
}

int32_t ss_wp_pad_id(const ss_wp_t *wp)
{
        return wp->pad;
}

int32_t ss_wp_unk_id(const ss_wp_t *wp)
{
        return wp->unk;
}

/* ---- scratch ---- */

static int ids_push(ss_wp_t *wp, int32_t id)
{
        if (ss_array_grow((void **)&wp->ids, &wp->ids_cap, wp->ids_n + 1, sizeof(*wp->ids), 64))
                return -1;
        wp->ids[wp->ids_n++] = id;
        return 0;
}

/* ---- pass 1: decode and clean ---- */

/* Decodes one UTF-8 sequence at s[0..len); invalid input gives U+FFFD over one byte. */
static uint32_t utf8_next(const uint8_t *s, size_t len, size_t *adv)
{
        uint32_t c = s[0];
        size_t n;
        uint32_t min;
        if (c < 0x80) {
                *adv = 1;
                return c;
        } else if ((c & 0xE0) == 0xC0) {
                n = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
                n = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
                n = 4, min = 0x10000, c &= 0x07;
        } else {
                *adv = 1;
                return 0xFFFD;
        }
        if (n > len) {
                *adv = 1;
                return 0xFFFD;
        }
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80) {
                        *adv = 1;
                        return 0xFFFD;
                }
                c = (c << 6) | (s[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
                *adv = 1;
                return 0xFFFD;
        }
        *adv = n;
        return c;
}

/* A special token written literally at s[0..len)? Returns its index or -1. */
static int special_at(const ss_wp_t *wp, const char *s, size_t len, size_t *adv)
{
        for (size_t k = 0; k < SS_WP_NSPECIAL; k++) {
                size_t l = strlen(ss_wp_specials[k]);
                if (wp->special_id[k] >= 0 && l <= len && !memcmp(s, ss_wp_specials[k], l)) {
                        *adv = l;
                        return (int)k;
                }
        }
        return -1;
}

/* Fills wp->cps with the cleaned text; returns the count or -1 on no memory. */
static long clean_text(ss_wp_t *wp, const char *text, size_t len)
{
        /* each input byte gives at most 3 code points (a CJK char is >= 3 bytes) */
        if (len > ((size_t)-1) / 4 / sizeof(uint32_t) ||
            ss_array_grow((void **)&wp->cps, &wp->cps_cap, 3 * len + 3, sizeof(uint32_t), 64))
                return -1;
        uint32_t *out = wp->cps;
        size_t n = 0, i = 0, adv;
        while (i < len) {
                if (text[i] == '[') {
                        int k = special_at(wp, text + i, len - i, &adv);
                        if (k >= 0) {
                                out[n++] = ' ';
                                out[n++] = SS_WP_MARKER + (uint32_t)wp->special_id[k];
                                out[n++] = ' ';
                                i += adv;
                                continue;
                        }
                }
                uint32_t c = utf8_next((const uint8_t *)text + i, len - i, &adv);
                i += adv;
                uint32_t f = cp_flags(c);
                if (f & SS_WP_DROP)
                        continue;
                if (f & SS_WP_SPACE) {
                        out[n++] = ' ';
                } else if (f & SS_WP_CJK) {
                        out[n++] = ' ';
                        out[n++] = c;
                        out[n++] = ' ';
                } else {
                        out[n++] = c;
                }
        }
        return (long)n;
}

/* ---- pass 2: fold and split ---- */

/* Folds the whitespace token tok[0..n) into wp->fold, one code point at a time as the
 * reference does (no final sigma); returns the count or -1. */
static long fold_token(ss_wp_t *wp, const uint32_t *tok, size_t n)
{
        if (ss_array_grow((void **)&wp->fold, &wp->fold_cap, 3 * n, sizeof(uint32_t), 64))
                return -1;
        uint32_t *out = wp->fold;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                uint32_t c = tok[i];
                if (c < 0x80) {
                        out[m++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
                } else if (c >= HANGUL_S0 && c < HANGUL_S0 + HANGUL_N) {
                        uint32_t s = c - HANGUL_S0;
                        out[m++] = HANGUL_L0 + s / (HANGUL_NV * HANGUL_NT);
                        out[m++] = HANGUL_V0 + (s % (HANGUL_NV * HANGUL_NT)) / HANGUL_NT;
                        if (s % HANGUL_NT)
                                out[m++] = HANGUL_T0 + s % HANGUL_NT;
                } else {
                        const ss_wp_fold_t *fe = fold_find(c);
                        if (fe) {
                                for (uint8_t k = 0; k < fe->len; k++)
                                        out[m++] = ss_wp_fold_pool[fe->off + k];
                        } else {
                                out[m++] = c;
                        }
                }
        }
        return (long)m;
}

static size_t utf8_put(char *p, uint32_t c)
{
        if (c < 0x80) {
                p[0] = (char)c;
                return 1;
        } else if (c < 0x800) {
                p[0] = (char)(0xC0 | (c >> 6));
                p[1] = (char)(0x80 | (c & 0x3F));
                return 2;
        } else if (c < 0x10000) {
                p[0] = (char)(0xE0 | (c >> 12));
                p[1] = (char)(0x80 | ((c >> 6) & 0x3F));
                p[2] = (char)(0x80 | (c & 0x3F));
                return 3;
        }
        p[0] = (char)(0xF0 | (c >> 18));
        p[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        p[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        p[3] = (char)(0x80 | (c & 0x3F));
        return 4;
}

/* ---- pass 3: greedy longest-match-first pieces ---- */

/* Appends the pieces of one word (w[0..n) folded code points, no punctuation). */
static int word_pieces(ss_wp_t *wp, const uint32_t *w, size_t n)
{
        if (n == 0)
                return 0;
        if (n > SS_WP_MAX_WORD_CHARS)
                return ids_push(wp, wp->unk);
        if (ss_array_grow((void **)&wp->wbuf, &wp->wbuf_cap, 2 + 4 * n, 1, 64))
                return -1;
        char *b = wp->wbuf + 2; /* two spare bytes so "##" fits before the first piece too */
        uint32_t *off = wp->woff;
        off[0] = 0;
        for (size_t k = 0; k < n; k++)
                off[k + 1] = off[k] + (uint32_t)utf8_put(b + off[k], w[k]);

        size_t mark = wp->ids_n, start = 0;
        while (start < n) {
                int32_t id = -1;
                size_t end = n;
                char *p = b + off[start];
                char save0 = 0, save1 = 0;
                size_t extra = 0;
                if (start > 0) {
                        save0 = p[-2], save1 = p[-1];
                        p[-2] = '#', p[-1] = '#';
                        p -= 2;
                        extra = 2;
                }
                for (; end > start; end--) {
                        size_t blen = off[end] - off[start] + extra;
                        if (blen > wp->max_tok_len)
                                continue;
                        id = ss_wp_lookup(wp, p, blen);
                        if (id >= 0)
                                break;
                }
                if (start > 0)
                        p[0] = save0, p[1] = save1;
                if (id < 0) {
                        wp->ids_n = mark;
                        return ids_push(wp, wp->unk);
                }
                if (ids_push(wp, id))
                        return -1;
                start = end;
        }
        return 0;
}

/* Folds one whitespace token, splits punctuation off, appends the pieces. */
static int token_pieces(ss_wp_t *wp, const uint32_t *tok, size_t n)
{
        if (n == 1 && tok[0] >= SS_WP_MARKER)
                return ids_push(wp, (int32_t)(tok[0] - SS_WP_MARKER));
        long m = fold_token(wp, tok, n);
        if (m < 0)
                return -1;
        const uint32_t *f = wp->fold;
        size_t ws = 0;
        for (size_t i = 0; i < (size_t)m; i++) {
                uint32_t c = f[i];
                if (!(cp_flags(c) & SS_WP_PUNCT))
                        continue;
                if (word_pieces(wp, f + ws, i - ws) || word_pieces(wp, f + i, 1))
                        return -1;
                ws = i + 1;
        }
        return word_pieces(wp, f + ws, (size_t)m - ws);
}

const int32_t *ss_wp_tokenize(ss_wp_t *wp, const char *text, size_t len, size_t *n)
{
        *n = 0;
        wp->ids_n = 0;
        long nc = clean_text(wp, text, len);
        if (nc < 0)
                return NULL;
        const uint32_t *c = wp->cps;
        size_t i = 0;
        while (i < (size_t)nc) {
                if (c[i] == ' ') {
                        i++;
                        continue;
                }
                size_t j = i;
                while (j < (size_t)nc && c[j] != ' ')
                        j++;
                if (token_pieces(wp, c + i, j - i))
                        return NULL;
                i = j;
        }
        if (ss_array_grow((void **)&wp->ids, &wp->ids_cap, 1, sizeof(*wp->ids), 64))
                return NULL;
        *n = wp->ids_n;
        return wp->ids;
}

int ss_wp_encode(ss_wp_t *wp, const char *text, size_t len, int32_t *ids, int max_len,
                 ss_wp_stats_t *st)
{
        if (max_len < 2)
                return -1;
        size_t n;
        const int32_t *p = ss_wp_tokenize(wp, text, len, &n);
        if (!p)
                return -1;
        size_t keep = n < (size_t)max_len - 2 ? n : (size_t)max_len - 2;
        ids[0] = wp->cls;
        memcpy(ids + 1, p, keep * sizeof(*ids));
        ids[keep + 1] = wp->sep;
        if (st) {
                int32_t unk = 0;
                for (size_t k = 0; k < n; k++)
                        unk += p[k] == wp->unk;
                st->n_pieces = n > INT32_MAX ? INT32_MAX : (int32_t)n;
                st->n_unk = unk;
        }
        return (int)keep + 2;
}
