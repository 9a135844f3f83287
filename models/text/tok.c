/*
 * tok: the tweet tokenizer.
 *
 * Two passes over the text. The first (normalize) makes the bytes safe and
 * uniform: invalid UTF-8 (lone continuation bytes, truncated sequences,
 * overlongs, surrogates, 0xF5..0xFF) becomes U+FFFD (one per maximal invalid
 * subpart), HTML entities are decoded, typographic quotes and the ellipsis are
 * folded to ASCII. A text that is plain ASCII without '&' skips this pass and
 * is scanned in place. The second pass (scan) walks the now valid UTF-8 once,
 * left to right: at each token start it tries, in order, URL, emoticon,
 * @mention, keycap emoji, #hashtag, number, word, emoji, punctuation run;
 * each scanner is a small static function that returns where its token ends.
 * Token texts are written straight into the caller's reused buffer, lower-cased
 * and with elongations folded on the fly (a per-token fold state), so no
 * allocation happens per token; buffers only grow when a text needs more than
 * any text before it.
 */
#include "tok.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Character classes                                                         */
/* ------------------------------------------------------------------------ */

enum {
        C_WS = 0, /* whitespace and control characters: separate tokens */
        C_IGN,    /* format characters (ZWJ, VS, BOM...) outside emoji: dropped */
        C_WORD,   /* letters, digits, marks, '_' */
        C_PUNCT,  /* punctuation and symbols */
        C_EMOJI,  /* emoji base */
        C_RI,     /* regional indicator (half a flag) */
        C_HIGH,   /* a byte >= 0x80 (ascii_cls only): decode it to classify */
};

/* Class of each byte (S whitespace/control, A word, P punctuation, C_HIGH non-ASCII). */
#define S C_WS
#define A C_WORD
#define P C_PUNCT
#define H C_HIGH
// clang-format off
static const uint8_t ascii_cls[256] = {
        S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
        S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
        S, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
        A, A, A, A, A, A, A, A, A, A, P, P, P, P, P, P,
        P, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
        A, A, A, A, A, A, A, A, A, A, A, P, P, P, P, A,
        P, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
        A, A, A, A, A, A, A, A, A, A, A, P, P, P, P, S,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
        H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
};
// clang-format on
#undef S
#undef A
#undef P
#undef H

/* ASCII flags: F_EMO_START may start an emoticon at a token start; F_EMO_RUN
 * may start one inside a punctuation run; F_URL_TRAIL is stripped from a URL's end. */
enum { F_EMO_START = 1, F_URL_TRAIL = 2, F_EMO_RUN = 4 };
// clang-format off
static const uint8_t ascii_flags[128] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 2, 2, 0, 0, 0, 0, 2, 1, 3, 1, 0, 2, 1, 3, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 7, 7, 5, 5, 5, 2,
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 2, 5, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0,
};
// clang-format on

static inline uint8_t ascii_lower(uint8_t c)
{
        return (uint8_t)((unsigned)(c - 'A') < 26u ? c + 32 : c);
}

static inline int is_digit(uint8_t c)
{
        return c >= '0' && c <= '9';
}

static inline int is_alnum(uint8_t c)
{
        return c < 128 && ascii_cls[c] == C_WORD && c != '_';
}

static inline int is_ascii_ws(uint8_t c)
{
        return c <= 0x20 || c == 0x7f;
}

/* Code points that are emoji on their own (pictographs and the symbols that
 * tweets use as emoji). Regional indicators are handled apart. */
static int is_emoji_cp(uint32_t cp)
{
        if (cp >= 0x1F000 && cp <= 0x1FAFF)
                return !(cp >= 0x1F1E6 && cp <= 0x1F1FF);
        if (cp >= 0x2600 && cp <= 0x27BF)
                return 1;
        switch (cp) {
        case 0x203C:
        case 0x2049:
        case 0x2122:
        case 0x2139:
        case 0x2328:
        case 0x23CF:
        case 0x24C2:
        case 0x25B6:
        case 0x25C0:
        case 0x2B50:
        case 0x2B55:
        case 0x3030:
        case 0x303D:
        case 0x3297:
        case 0x3299:
                return 1;
        }
        return (cp >= 0x2194 && cp <= 0x2199) || (cp >= 0x21A9 && cp <= 0x21AA) ||
               (cp >= 0x231A && cp <= 0x231B) || (cp >= 0x23E9 && cp <= 0x23F3) ||
               (cp >= 0x23F8 && cp <= 0x23FA) || (cp >= 0x25AA && cp <= 0x25AB) ||
               (cp >= 0x25FB && cp <= 0x25FE) || (cp >= 0x2934 && cp <= 0x2935) ||
               (cp >= 0x2B05 && cp <= 0x2B07) || (cp >= 0x2B1B && cp <= 0x2B1C);
}

/* Class of a non-ASCII code point. */
static int cp_class(uint32_t cp)
{
        if (cp >= 0x1F1E6 && cp <= 0x1F1FF)
                return C_RI;
        if (is_emoji_cp(cp))
                return C_EMOJI;
        if (cp <= 0xA0)
                return C_WS; /* C1 controls, NEL, no-break space */
        if (cp <= 0xBF) {
                if (cp == 0xAA || cp == 0xB5 || cp == 0xBA || cp == 0xB2 || cp == 0xB3 ||
                    cp == 0xB9)
                        return C_WORD;
                return cp == 0xAD ? C_IGN : C_PUNCT;
        }
        if (cp == 0xD7 || cp == 0xF7)
                return C_PUNCT;
        if (cp < 0x2000) {
                if (cp == 0x1680)
                        return C_WS;
                if (cp == 0x037E || cp == 0x0387 || (cp >= 0x055A && cp <= 0x055F) ||
                    cp == 0x0589 || cp == 0x05BE || cp == 0x05C0 || cp == 0x05C3 || cp == 0x05F3 ||
                    cp == 0x05F4 || cp == 0x060C || cp == 0x061B || cp == 0x061F ||
                    (cp >= 0x066A && cp <= 0x066D) || cp == 0x06D4 || cp == 0x0964 ||
                    cp == 0x0965 || cp == 0x0E5A || cp == 0x0E5B)
                        return C_PUNCT;
                if (cp == 0x180E)
                        return C_IGN;
                return C_WORD;
        }
        if (cp <= 0x206F) {
                if (cp <= 0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F)
                        return C_WS;
                if (cp <= 0x200F || (cp >= 0x202A && cp <= 0x202E) || cp >= 0x2060)
                        return C_IGN;
                return C_PUNCT;
        }
        if (cp <= 0x209F)
                return C_WORD; /* super- and subscripts */
        if (cp <= 0x20CF)
                return C_PUNCT; /* currency */
        if (cp <= 0x20FF)
                return C_IGN; /* combining marks for symbols (U+20E3 keycap outside a keycap) */
        if (cp >= 0x2150 && cp <= 0x218F)
                return C_WORD; /* number forms */
        if (cp <= 0x2BFF || (cp >= 0x2E00 && cp <= 0x2E7F))
                return C_PUNCT; /* symbols, arrows, math, box drawing, dingbats */
        if (cp >= 0x3000 && cp <= 0x303F) {
                if (cp == 0x3000)
                        return C_WS;
                if (cp == 0x3005 || cp == 0x3006 || cp == 0x3007 ||
                    (cp >= 0x3021 && cp <= 0x3029) || (cp >= 0x3031 && cp <= 0x303C))
                        return C_WORD;
                return C_PUNCT;
        }
        if (cp >= 0xFE00 && cp <= 0xFE0F)
                return C_IGN;
        if ((cp >= 0xFE10 && cp <= 0xFE1F) || (cp >= 0xFE30 && cp <= 0xFE6F))
                return C_PUNCT;
        if (cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB))
                return C_IGN;
        if ((cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
            (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) || cp == 0xFFFC ||
            cp == 0xFFFD)
                return C_PUNCT;
        if (cp >= 0xE0000 && cp <= 0xE01EF)
                return C_IGN; /* tags and variation selectors supplement */
        return C_WORD;
}

/* Lower case of a code point: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic. */
static uint32_t cp_lower(uint32_t cp)
{
        if (cp < 0x80)
                return ascii_lower((uint8_t)cp);
        if (cp < 0x100)
                return (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ? cp + 0x20 : cp;
        if (cp < 0x180) {
                if (cp == 0x130)
                        return 'i';
                if (cp == 0x178)
                        return 0xFF;
                if ((cp < 0x138 && !(cp & 1)) || (cp >= 0x139 && cp <= 0x148 && (cp & 1)) ||
                    (cp >= 0x14A && cp <= 0x177 && !(cp & 1)) ||
                    (cp >= 0x179 && cp <= 0x17E && (cp & 1)))
                        return cp + 1;
                return cp;
        }
        if (cp >= 0x370 && cp < 0x3D0) {
                if (cp == 0x386)
                        return 0x3AC;
                if (cp >= 0x388 && cp <= 0x38A)
                        return cp + 0x25;
                if (cp == 0x38C)
                        return 0x3CC;
                if (cp == 0x38E || cp == 0x38F)
                        return cp + 0x3F;
                if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
                        return cp + 0x20;
                return cp;
        }
        if (cp >= 0x400 && cp < 0x530) {
                if (cp <= 0x40F)
                        return cp + 0x50;
                if (cp <= 0x42F)
                        return cp + 0x20;
                if (cp == 0x4C0)
                        return 0x4CF;
                if (((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) ||
                     (cp >= 0x4D0 && cp <= 0x52F)) &&
                    !(cp & 1))
                        return cp + 1;
                if (cp >= 0x4C1 && cp <= 0x4CE && (cp & 1))
                        return cp + 1;
        }
        return cp;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                     */
/* ------------------------------------------------------------------------ */

#define REPLACEMENT 0xFFFDu

static inline int is_cont(uint8_t c)
{
        return (c & 0xC0) == 0x80;
}

/*
 * Decodes one character at s[0..n) (n >= 1). Returns the bytes consumed (1..4).
 * Invalid input gives U+FFFD and consumes the maximal invalid subpart
 * (Unicode's recommended practice), never more than n bytes.
 */
static inline size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
        uint8_t b0 = s[0];
        if (b0 < 0x80) {
                *cp = b0;
                return 1;
        }
        *cp = REPLACEMENT;
        if (b0 < 0xC2)
                return 1; /* continuation byte or overlong lead C0/C1 */
        if (b0 < 0xE0) {
                if (n < 2 || !is_cont(s[1]))
                        return 1;
                *cp = ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
                return 2;
        }
        if (b0 < 0xF0) {
                uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80; /* overlongs */
                uint8_t hi = b0 == 0xED ? 0x9F : 0xBF; /* surrogates */
                if (n < 2 || s[1] < lo || s[1] > hi)
                        return 1;
                if (n < 3 || !is_cont(s[2]))
                        return 2;
                *cp =
                    ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
                return 3;
        }
        if (b0 < 0xF5) {
                uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80; /* overlongs */
                uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
                if (n < 2 || s[1] < lo || s[1] > hi)
                        return 1;
                if (n < 3 || !is_cont(s[2]))
                        return 2;
                if (n < 4 || !is_cont(s[3]))
                        return 3;
                *cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                      ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
                return 4;
        }
        return 1; /* F5..FF never appear in UTF-8 */
}

/* Writes cp (a valid scalar value) as UTF-8 into out; returns the length. */
static inline size_t utf8_encode(uint8_t *out, uint32_t cp)
{
        if (cp < 0x80) {
                out[0] = (uint8_t)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (uint8_t)(0xC0 | (cp >> 6));
                out[1] = (uint8_t)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (uint8_t)(0xE0 | (cp >> 12));
                out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (uint8_t)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (uint8_t)(0xF0 | (cp >> 18));
        out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        return 4;
}

/* ------------------------------------------------------------------------ */
/* Pass 1: normalize                                                         */
/* ------------------------------------------------------------------------ */

/* Decodes an HTML entity at s[0..n) (s[0] == '&'). Returns its length and sets
 * *cp, or returns 0 when it is not one we decode. */
static size_t entity_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
        static const struct {
                const char *name;
                uint32_t cp;
        } named[] = {{"amp;", '&'},  {"lt;", '<'},    {"gt;", '>'},
                     {"quot;", '"'}, {"apos;", '\''}, {"nbsp;", 0xA0}};
        for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
                size_t l = strlen(named[k].name);
                if (n >= 1 + l && !memcmp(s + 1, named[k].name, l)) {
                        *cp = named[k].cp;
                        return 1 + l;
                }
        }
        if (n < 4 || s[1] != '#')
                return 0;
        size_t i = 2;
        uint32_t v = 0;
        int hex = 0, digits = 0;
        if (s[i] == 'x' || s[i] == 'X') {
                hex = 1;
                i++;
        }
        for (; i < n && digits < 7; i++, digits++) {
                uint8_t c = s[i];
                if (is_digit(c))
                        v = v * (hex ? 16 : 10) + (c - '0');
                else if (hex && ((c | 32) >= 'a' && (c | 32) <= 'f'))
                        v = v * 16 + (uint32_t)((c | 32) - 'a' + 10);
                else
                        break;
        }
        if (!digits || i >= n || s[i] != ';')
                return 0;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                v = REPLACEMENT;
        *cp = v;
        return i + 1;
}

/* Appends cp to out with the ASCII foldings (quotes, ellipsis). */
static inline size_t norm_put(uint8_t *out, uint32_t cp)
{
        switch (cp) {
        case 0x2018:
        case 0x2019:
        case 0x201B:
        case 0x2032:
        case 0x02BC:
        case 0xFF07:
                out[0] = '\'';
                return 1;
        case 0x201C:
        case 0x201D:
        case 0x201E:
        case 0x201F:
        case 0x2033:
        case 0xFF02:
                out[0] = '"';
                return 1;
        case 0x2026:
                out[0] = out[1] = out[2] = '.';
                return 3;
        }
        return utf8_encode(out, cp);
}

/*
 * Makes the text valid, entity-decoded UTF-8. Sets *out to the text to scan:
 * the input itself when it is plain ASCII without '&', else b->norm.
 * Every input byte gives at most 3 output bytes (an invalid byte -> U+FFFD).
 */
static int normalize(ss_tok_buf_t *b, const uint8_t *s, size_t n, const uint8_t **out,
                     size_t *out_n)
{
        size_t i = 0;
        /* 8 bytes at a time: stop at a word holding a byte >= 0x80 or a '&' */
        for (; i + 8 <= n; i += 8) {
                uint64_t w, x;
                memcpy(&w, s + i, 8);
                x = w ^ 0x2626262626262626ull; /* '&' bytes become 0 */
                if ((w | ((x - 0x0101010101010101ull) & ~x)) & 0x8080808080808080ull)
                        break;
        }
        while (i < n && s[i] < 0x80 && s[i] != '&')
                i++;
        if (i == n) {
                *out = s;
                *out_n = n;
                return 0;
        }
        size_t need = 3 * n + 1;
        if (b->norm_cap < need) {
                size_t cap = need < 256 ? 256 : need + need / 2;
                char *p = realloc(b->norm, cap);
                if (!p)
                        return -1;
                b->norm = p;
                b->norm_cap = cap;
        }
        uint8_t *o = (uint8_t *)b->norm;
        memcpy(o, s, i);
        size_t k = i;
        while (i < n) {
                uint8_t c = s[i];
                uint32_t cp;
                if (c < 0x80) {
                        size_t l;
                        if (c == '&' && (l = entity_decode(s + i, n - i, &cp))) {
                                k += norm_put(o + k, cp);
                                i += l;
                        } else {
                                o[k++] = c;
                                i++;
                        }
                        continue;
                }
                i += utf8_decode(s + i, n - i, &cp);
                k += norm_put(o + k, cp);
        }
        *out = o;
        *out_n = k;
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

/* Elongation folding state of the token being written. */
typedef struct fold {
        uint32_t prev;
        int run;
} fold_t;

typedef struct scan {
        ss_tok_buf_t *b;
        const uint8_t *s; /* [n] valid UTF-8 */
        size_t n;
        uint8_t *out;   /* b->text */
        size_t o;       /* write position in out */
        size_t tok_off; /* start of the token being written */
        fold_t fold;
        size_t emoji_end; /* input offset where the last emoji ended */
        int emoji_rep;    /* identical adjacent emoji so far */
} scan_t;

static int text_reserve(ss_tok_buf_t *b, size_t need)
{
        if (need <= b->text_cap)
                return 0;
        size_t cap = b->text_cap ? b->text_cap : 256;
        while (cap < need)
                cap *= 2;
        char *p = realloc(b->text, cap);
        if (!p)
                return -1;
        b->text = p;
        b->text_cap = cap;
        return 0;
}

/* Makes room for a token of at most max_len bytes (plus NUL) and starts it. */
static inline int tok_begin(scan_t *sc, size_t max_len)
{
        if (text_reserve(sc->b, sc->o + max_len + 1))
                return -1;
        sc->out = (uint8_t *)sc->b->text;
        sc->tok_off = sc->o;
        return 0;
}

static inline int tok_end(scan_t *sc, uint8_t kind)
{
        ss_tok_buf_t *b = sc->b;
        if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 64;
                ss_tok_t *p = realloc(b->toks, cap * sizeof(*p));
                if (!p)
                        return -1;
                b->toks = p;
                b->cap = cap;
        }
        b->toks[b->n].off = (uint32_t)sc->tok_off;
        b->toks[b->n].len = (uint32_t)(sc->o - sc->tok_off);
        b->toks[b->n].kind = kind;
        b->n++;
        sc->out[sc->o++] = 0;
        return 0;
}

/* Appends one character at out[*o] with elongation folding (3+ repeats -> 2).
 * Callers keep out, *o and *fd in locals so that the loop stays in registers. */
static inline void put_ascii(uint8_t *out, size_t *o, fold_t *fd, uint8_t c)
{
        if (c == fd->prev) {
                if (++fd->run >= 3)
                        return;
        } else {
                fd->prev = c;
                fd->run = 1;
        }
        out[(*o)++] = c;
}

static inline void put_cp(uint8_t *out, size_t *o, fold_t *fd, uint32_t cp)
{
        if (cp < 0x80) {
                put_ascii(out, o, fd, (uint8_t)cp);
                return;
        }
        if (cp == fd->prev) {
                if (++fd->run >= 3)
                        return;
        } else {
                fd->prev = cp;
                fd->run = 1;
        }
        *o += utf8_encode(out + *o, cp);
}

static int emit_literal(scan_t *sc, const char *lit, uint8_t kind)
{
        size_t l = strlen(lit);
        if (tok_begin(sc, l))
                return -1;
        memcpy(sc->out + sc->o, lit, l);
        sc->o += l;
        return tok_end(sc, kind);
}

/* ------------------------------------------------------------------------ */
/* Pass 2: scanners. Each gets a token start i and returns the end (or 0).   */
/* ------------------------------------------------------------------------ */

static inline int ci_prefix(const uint8_t *s, size_t n, size_t i, const char *p)
{
        size_t l = strlen(p);
        if (n - i < l)
                return 0;
        for (size_t k = 0; k < l; k++)
                if (ascii_lower(s[i + k]) != (uint8_t)p[k] || s[i + k] >= 0x80)
                        return 0;
        return 1;
}

/* http://, https://, www.<alnum>: up to whitespace or non-ASCII, minus trailing
 * punctuation, which is left for the next token. */
static size_t scan_url(const uint8_t *s, size_t n, size_t i)
{
        size_t j;
        if (ci_prefix(s, n, i, "http://"))
                j = i + 7;
        else if (ci_prefix(s, n, i, "https://"))
                j = i + 8;
        else if (ci_prefix(s, n, i, "www.") && i + 4 < n && is_alnum(s[i + 4]))
                j = i + 4;
        else
                return 0;
        size_t body = j;
        while (j < n && s[j] > 0x20 && s[j] < 0x7F)
                j++;
        while (j > body && (ascii_flags[s[j - 1]] & F_URL_TRAIL))
                j--;
        return j;
}

static inline int in_set(uint8_t c, const char *set)
{
        return c && strchr(set, c) != NULL;
}

/* Western emoticons: [>]eyes['][nose]mouth+ , e.g. :) :-) :'( ;D =P >:( xD 8-) */
static size_t emo_western(const uint8_t *s, size_t n, size_t i)
{
        size_t j = i;
        if (s[j] == '>' && j + 1 < n && in_set(s[j + 1], ":;="))
                j++;
        uint8_t eyes = s[j];
        const char *mouths;
        int need_nose = 0;
        switch (eyes) {
        case ':':
                mouths = ")(][DPpdOo/\\|*$@Ss3}{><Xx";
                break;
        case ';':
                mouths = ")(][DPpd*>";
                break;
        case '=':
                mouths = ")(][DPpdOo/\\|";
                break;
        case 'x':
        case 'X':
                mouths = "Dd";
                break;
        case '8':
                mouths = ")(DP";
                need_nose = 1;
                break;
        default:
                return 0;
        }
        j++;
        if (j < n && s[j] == '\'' && eyes == ':')
                j++;
        int nose = 0;
        if (j < n && (s[j] == '-' || s[j] == '^')) {
                j++;
                nose = 1;
        }
        if (need_nose && !nose)
                return 0;
        if (j >= n || !in_set(s[j], mouths))
                return 0;
        uint8_t m = s[j++];
        if (m == '/' || m == '\\') {
                if (j < n && (s[j] == '/' || s[j] == '\\'))
                        return 0;
        } else {
                while (j < n && s[j] == m)
                        j++;
        }
        return j - i;
}

/* Hearts: <3 </3 <\3 (more 3s allowed). */
static size_t emo_heart(const uint8_t *s, size_t n, size_t i)
{
        size_t j = i;
        if (s[j] != '<')
                return 0;
        j++;
        if (j < n && (s[j] == '/' || s[j] == '\\'))
                j++;
        if (j >= n || s[j] != '3')
                return 0;
        while (j < n && s[j] == '3')
                j++;
        return j - i;
}

/* Eastern emoticons: eye middle eye, e.g. ^_^ ^^ -_- o_O T_T >.< ._. */
static size_t emo_eastern(const uint8_t *s, size_t n, size_t i)
{
        static const char eyes[] = "^-oOTuUxX><*;=.@";
        static const char letter_eyes[] = "oOTuUxX";
        size_t j = i;
        uint8_t e1 = s[j++];
        if (!in_set(e1, eyes) || j >= n)
                return 0;
        if (e1 == '^' && s[j] == '^')
                return 2; /* ^^ */
        uint8_t mid = s[j];
        size_t mids = 0;
        if (mid == '_') {
                while (j < n && s[j] == '_' && mids < 3) {
                        j++;
                        mids++;
                }
        } else if (mid == '.' || (mid == '-' && e1 == '^')) {
                j++;
                mids = 1;
        } else {
                return 0;
        }
        if (j >= n || !in_set(s[j], eyes))
                return 0;
        uint8_t e2 = s[j++];
        int letters = in_set(e1, letter_eyes) || in_set(e2, letter_eyes);
        if (mid == '.' && letters && !(in_set(e1, "oO") && in_set(e2, "oO")))
                return 0;
        if (mid == '-' && e2 != '^')
                return 0;
        if ((e1 == '.' || e2 == '.') && !(mid == '_' && e1 == '.' && e2 == '.'))
                return 0;
        return j - i;
}

/* Reversed emoticons, only between spaces: (: (-: (; (= ): )-: */
static size_t emo_reversed(const uint8_t *s, size_t n, size_t i)
{
        size_t j = i;
        uint8_t m = s[j++];
        if (m != '(' && m != ')')
                return 0;
        if (j < n && s[j] == '-')
                j++;
        if (j >= n || !(s[j] == ':' || (m == '(' && (s[j] == ';' || s[j] == '='))))
                return 0;
        j++;
        if (j < n && !is_ascii_ws(s[j]))
                return 0;
        return j - i;
}

/* An emoticon starting at i, or 0. after_ws: i starts the text or follows
 * whitespace. The character after an emoticon must not be a letter or digit. */
static size_t scan_emoticon(const uint8_t *s, size_t n, size_t i, int after_ws)
{
        size_t l = emo_western(s, n, i);
        if (!l)
                l = emo_heart(s, n, i);
        if (!l)
                l = emo_eastern(s, n, i);
        if (!l && after_ws)
                l = emo_reversed(s, n, i);
        if (!l || (i + l < n && is_alnum(s[i + l])))
                return 0;
        return i + l;
}

/* Emoticon start bytes: at a token start, and inside a punctuation run. */
static inline int emo_start(uint8_t c)
{
        return c < 128 && (ascii_flags[c] & F_EMO_START);
}

static inline int emo_start_in_run(uint8_t c)
{
        return c < 128 && (ascii_flags[c] & F_EMO_RUN);
}

static inline int is_mention_char(uint8_t c)
{
        return c < 128 && ascii_cls[c] == C_WORD;
}

/* Is the character at i a word character? */
static inline int word_char_at(const uint8_t *s, size_t n, size_t i)
{
        if (i >= n)
                return 0;
        if (s[i] < 0x80)
                return ascii_cls[s[i]] == C_WORD;
        uint32_t cp;
        utf8_decode(s + i, n - i, &cp);
        return cp_class(cp) == C_WORD;
}

/* Keycap emoji: [0-9#*] [U+FE0F] U+20E3. Returns the end or 0. */
static size_t scan_keycap(const uint8_t *s, size_t n, size_t i)
{
        size_t j = i + 1;
        if (n - j >= 3 && s[j] == 0xEF && s[j + 1] == 0xB8 && s[j + 2] == 0x8F)
                j += 3;
        if (n - j >= 3 && s[j] == 0xE2 && s[j + 1] == 0x83 && s[j + 2] == 0xA3)
                return j + 3;
        return 0;
}

static inline int is_emoji_modifier(uint32_t cp)
{
        return cp == 0xFE0E || cp == 0xFE0F || (cp >= 0x1F3FB && cp <= 0x1F3FF) || cp == 0x20E3 ||
               (cp >= 0xE0020 && cp <= 0xE007F);
}

/* One emoji: a flag pair, or a base with modifiers, joined by ZWJ to more. */
static size_t scan_emoji_seq(const uint8_t *s, size_t n, size_t i)
{
        uint32_t cp;
        size_t j = i + utf8_decode(s + i, n - i, &cp);
        if (cp >= 0x1F1E6 && cp <= 0x1F1FF) {
                uint32_t cp2;
                if (j < n) {
                        size_t l = utf8_decode(s + j, n - j, &cp2);
                        if (cp2 >= 0x1F1E6 && cp2 <= 0x1F1FF)
                                j += l;
                }
        }
        for (;;) {
                while (j < n) {
                        size_t l = utf8_decode(s + j, n - j, &cp);
                        if (!is_emoji_modifier(cp))
                                break;
                        j += l;
                }
                if (j < n) {
                        size_t l = utf8_decode(s + j, n - j, &cp);
                        if (cp == 0x200D && j + l < n) {
                                uint32_t next;
                                size_t l2 = utf8_decode(s + j + l, n - j - l, &next);
                                if (is_emoji_cp(next)) {
                                        j += l + l2;
                                        continue;
                                }
                        }
                }
                return j;
        }
}

static int emit_emoji(scan_t *sc, size_t i, size_t j)
{
        const uint8_t *s = sc->s;
        if (tok_begin(sc, j - i))
                return -1;
        for (size_t k = i; k < j;) {
                uint32_t cp;
                size_t l = utf8_decode(s + k, j - k, &cp);
                if (cp != 0xFE0E && cp != 0xFE0F) {
                        memcpy(sc->out + sc->o, s + k, l);
                        sc->o += l;
                }
                k += l;
        }
        ss_tok_buf_t *b = sc->b;
        sc->b->has_emoji = 1;
        if (sc->emoji_end == i && b->n > 0 && b->toks[b->n - 1].kind == SS_TOKK_EMOJI &&
            b->toks[b->n - 1].len == sc->o - sc->tok_off &&
            !memcmp(b->text + b->toks[b->n - 1].off, sc->out + sc->tok_off, sc->o - sc->tok_off)) {
                sc->emoji_rep++;
        } else {
                sc->emoji_rep = 1;
        }
        sc->emoji_end = j;
        if (sc->emoji_rep >= 3) {
                sc->o = sc->tok_off; /* third and later copies: folded away */
                return 0;
        }
        return tok_end(sc, SS_TOKK_EMOJI);
}

/* Letters, digits, '_' and inner apostrophes ("don't"), lower-cased. */
static int scan_word(scan_t *sc, size_t i, uint8_t kind, size_t *end)
{
        const uint8_t *s = sc->s;
        size_t n = sc->n, j = i;
        if (tok_begin(sc, n - i))
                return -1;
        uint8_t *out = sc->out;
        size_t o = sc->o;
        fold_t fd = {0xFFFFFFFFu, 0};
        for (;;) {
                while (j < n && ascii_cls[s[j]] == C_WORD) /* the common case */
                        put_ascii(out, &o, &fd, ascii_lower(s[j++]));
                if (j >= n)
                        break;
                uint8_t c = s[j];
                if (c < 0x80) {
                        if (c != '\'' || j == i || !word_char_at(s, n, j + 1))
                                break;
                        put_ascii(out, &o, &fd, c);
                        j++;
                        continue;
                }
                uint32_t cp;
                size_t l = utf8_decode(s + j, n - j, &cp);
                if (cp_class(cp) != C_WORD)
                        break;
                put_cp(out, &o, &fd, cp_lower(cp));
                j += l;
        }
        sc->o = o;
        *end = j;
        return tok_end(sc, kind);
}

/* Digits with '.' or ',' between digits -> <num>; "2nd", "3pm" stay words. */
static int scan_number(scan_t *sc, size_t i, size_t *end)
{
        const uint8_t *s = sc->s;
        size_t n = sc->n, j = i;
        int sep = 0;
        for (;;) {
                while (j < n && is_digit(s[j]))
                        j++;
                if (j + 1 < n && (s[j] == '.' || s[j] == ',') && is_digit(s[j + 1])) {
                        j++;
                        sep = 1;
                        continue;
                }
                break;
        }
        if (!sep && word_char_at(s, n, j))
                return scan_word(sc, i, SS_TOKK_WORD, end);
        *end = j;
        return emit_literal(sc, SS_TOK_NUM, SS_TOKK_NUM);
}

/* Does a token other than punctuation start at i (inside a punctuation run)? */
static int other_token_at(const uint8_t *s, size_t n, size_t i)
{
        uint8_t c = s[i];
        if ((c == '@' || c == '#') && i + 1 < n && is_mention_char(s[i + 1]))
                return 1;
        if (c == '#' && word_char_at(s, n, i + 1))
                return 1;
        if ((c == '#' || c == '*') && scan_keycap(s, n, i))
                return 1;
        return emo_start_in_run(c) && scan_emoticon(s, n, i, 0);
}

/* A run of punctuation and symbols; one token. */
static int scan_punct(scan_t *sc, size_t i, size_t *end)
{
        const uint8_t *s = sc->s;
        size_t n = sc->n, j = i;
        if (tok_begin(sc, n - i))
                return -1;
        uint8_t *out = sc->out;
        size_t o = sc->o;
        fold_t fd = {0xFFFFFFFFu, 0};
        while (j < n) {
                uint8_t c = s[j];
                if (c < 0x80) {
                        if (ascii_cls[c] != C_PUNCT || (j > i && other_token_at(s, n, j)))
                                break;
                        put_ascii(out, &o, &fd, c);
                        j++;
                        continue;
                }
                uint32_t cp;
                size_t l = utf8_decode(s + j, n - j, &cp);
                if (cp_class(cp) != C_PUNCT)
                        break;
                if (j > i && (cp == 0xA9 || cp == 0xAE) && scan_emoji_seq(s, n, j) > j + l)
                        break; /* (c) or (r) with VS16: an emoji */
                put_cp(out, &o, &fd, cp);
                j += l;
        }
        sc->o = o;
        *end = j;
        return tok_end(sc, SS_TOKK_PUNCT);
}

/* One token starting at an ASCII byte. Returns 0 or -1 (no memory). */
static int scan_ascii(scan_t *sc, size_t i, int after_ws, size_t *end)
{
        const uint8_t *s = sc->s;
        size_t n = sc->n, j;
        uint8_t c = s[i];
        if ((c | 32) == 'h' || (c | 32) == 'w') {
                if ((j = scan_url(s, n, i))) {
                        sc->b->has_url = 1;
                        *end = j;
                        return emit_literal(sc, SS_TOK_URL, SS_TOKK_URL);
                }
        }
        /* a letter starts an emoticon only before a non-alphanumeric (o_O, T_T) or as xD */
        int emo_ok = emo_start(c) && (ascii_cls[c] != C_WORD || i + 1 >= n || !is_alnum(s[i + 1]) ||
                                      ((c | 32) == 'x' && (s[i + 1] | 32) == 'd'));
        if (emo_ok && (j = scan_emoticon(s, n, i, after_ws))) {
                sc->b->has_emoji = 1;
                if (tok_begin(sc, j - i))
                        return -1;
                fold_t fd = {0xFFFFFFFFu, 0};
                for (size_t k = i; k < j; k++)
                        put_ascii(sc->out, &sc->o, &fd, s[k]);
                *end = j;
                return tok_end(sc, SS_TOKK_EMOTICON);
        }
        if (c == '@' && i + 1 < n && is_mention_char(s[i + 1])) {
                j = i + 1;
                while (j < n && is_mention_char(s[j]))
                        j++;
                sc->b->has_mention = 1;
                *end = j;
                return emit_literal(sc, SS_TOK_USER, SS_TOKK_USER);
        }
        if ((is_digit(c) || c == '#' || c == '*') && scan_keycap(s, n, i)) {
                j = scan_emoji_seq(s, n, i);
                *end = j;
                return emit_emoji(sc, i, j);
        }
        if (c == '#' && word_char_at(s, n, i + 1))
                return scan_word(sc, i + 1, SS_TOKK_HASHTAG, end);
        if (is_digit(c))
                return scan_number(sc, i, end);
        if (ascii_cls[c] == C_WORD)
                return scan_word(sc, i, SS_TOKK_WORD, end);
        return scan_punct(sc, i, end);
}

/* ------------------------------------------------------------------------ */
/* API                                                                       */
/* ------------------------------------------------------------------------ */

void ss_tok_buf_init(ss_tok_buf_t *b)
{
        memset(b, 0, sizeof(*b));
}

void ss_tok_buf_free(ss_tok_buf_t *b)
{
        if (!b)
                return;
        free(b->text);
        free(b->toks);
        free(b->norm);
        memset(b, 0, sizeof(*b));
}

static int tok_scan(scan_t *sc)
{
        const uint8_t *s = sc->s;
        size_t n = sc->n, i = 0;
        int after_ws = 1;
        while (i < n) {
                uint8_t c = s[i];
                size_t end = i;
                if (c < 0x80) {
                        if (ascii_cls[c] == C_WS) {
                                i++;
                                after_ws = 1;
                                continue;
                        }
                        if (scan_ascii(sc, i, after_ws, &end))
                                return -1;
                } else {
                        uint32_t cp;
                        size_t l = utf8_decode(s + i, n - i, &cp);
                        int cls = cp_class(cp);
                        if ((cp == 0xA9 || cp == 0xAE) && scan_emoji_seq(s, n, i) > i + l)
                                cls = C_EMOJI;
                        if (cls == C_WS || cls == C_IGN) {
                                i += l;
                                after_ws = 1;
                                continue;
                        }
                        int rc;
                        if (cls == C_EMOJI || cls == C_RI) {
                                end = scan_emoji_seq(s, n, i);
                                rc = emit_emoji(sc, i, end);
                        } else if (cls == C_WORD) {
                                rc = scan_word(sc, i, SS_TOKK_WORD, &end);
                        } else {
                                rc = scan_punct(sc, i, &end);
                        }
                        if (rc)
                                return -1;
                }
                i = end;
                after_ws = 0;
        }
        return 0;
}

int ss_tok_run(ss_tok_buf_t *b, const char *text, size_t len)
{
        b->n = 0;
        b->text_len = 0;
        b->has_url = b->has_mention = b->has_emoji = 0;
        if (len > SS_TOK_MAX_LEN || (len && !text))
                return -1;
        const uint8_t *s;
        size_t n;
        if (normalize(b, (const uint8_t *)text, len, &s, &n))
                return -1;
        if (text_reserve(b, 2 * n + 64))
                return -1;
        scan_t sc = {.b = b, .s = s, .n = n, .out = (uint8_t *)b->text, .emoji_end = (size_t)-1};
        if (tok_scan(&sc)) {
                b->n = 0;
                return -1;
        }
        b->text_len = sc.o;
        return 0;
}
