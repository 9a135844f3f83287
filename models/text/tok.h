/*
 * tok: a tweet tokenizer.
 *
 * Lower-cases; URLs, @mentions and numbers become placeholder tokens
 * (SS_TOK_URL, SS_TOK_USER, SS_TOK_NUM); hashtags keep their word ("#Happy" ->
 * "#" is dropped, "happy" kept); emoticons (":-)", ":(", "<3", ...) and emoji
 * are kept as tokens; letter elongations are folded to two ("soooo" -> "soo");
 * runs of punctuation ("!!!", "?!") are one token. Input is UTF-8: invalid
 * bytes are replaced by U+FFFD; the tokenizer never reads out of bounds and
 * handles any length (a 1 MiB line included).
 *
 * Before scanning, HTML entities common in tweets (&amp; &lt; &gt; &quot;
 * &apos; &#39; &nbsp; and numeric &#N; / &#xH;) are decoded, typographic
 * quotes are folded to ASCII (' and ") and U+2026 to "...". Upper case is
 * folded for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic. Any
 * character repeated 3+ times in a row inside a token becomes 2 ("!!!!!" ->
 * "!!", ":)))" -> ":))"); the same emoji three or more times in a row gives
 * two tokens. Emoji tokens hold the emoji sequence (skin tone, ZWJ parts,
 * flag pairs, keycaps) without variation selectors (U+FE0E, U+FE0F).
 *
 * Tokens are written into a caller-owned ss_tok_buf_t that is reused across
 * calls (allocated once, grows on demand).
 */
#ifndef SS_TOK_H
#define SS_TOK_H

#include <stddef.h>
#include <stdint.h>

#define SS_TOK_URL  "<url>"
#define SS_TOK_USER "<user>"
#define SS_TOK_NUM  "<num>"

/* Longest input ss_tok_run() accepts, in bytes (token offsets are 32-bit). */
#define SS_TOK_MAX_LEN ((size_t)64 << 20)

typedef enum {
        SS_TOKK_WORD = 0, /* letters/digits (after folding) */
        SS_TOKK_URL,      /* placeholder for a URL */
        SS_TOKK_USER,     /* placeholder for an @mention */
        SS_TOKK_NUM,      /* placeholder for a number */
        SS_TOKK_HASHTAG,  /* the word of a hashtag (without '#') */
        SS_TOKK_EMOTICON, /* ASCII emoticon such as ":)" */
        SS_TOKK_EMOJI,    /* one emoji (with its modifiers/ZWJ sequence) */
        SS_TOKK_PUNCT,    /* a run of punctuation */
} ss_tok_kind_t;

typedef struct ss_tok {
        uint32_t off; /* byte offset of the token text in buf->text */
        uint32_t len; /* byte length of the token text */
        uint8_t kind; /* ss_tok_kind_t */
} ss_tok_t;

typedef struct ss_tok_buf {
        char *text;      /* [text_cap] normalised token texts, each NUL-terminated */
        size_t text_len; /* bytes used in text */
        size_t text_cap;
        ss_tok_t *toks; /* [cap] tokens */
        size_t n;       /* tokens produced by the last ss_tok_run() */
        size_t cap;
        int has_url, has_mention, has_emoji; /* flags of the last text */
        char *norm; /* [norm_cap] scratch: the text after entity/UTF-8 repair */
        size_t norm_cap;
} ss_tok_buf_t;

/* Initialises an empty buffer (no allocation yet). */
void ss_tok_buf_init(ss_tok_buf_t *b);

/* Frees the buffer's memory; the struct itself is the caller's. */
void ss_tok_buf_free(ss_tok_buf_t *b);

/*
 * Tokenizes len bytes of text into b (previous contents replaced). text may
 * hold any bytes (NUL and invalid UTF-8 included) and need not be
 * NUL-terminated. Returns 0, or -1 if memory could not be allocated or len is
 * over SS_TOK_MAX_LEN (b then holds no tokens).
 */
int ss_tok_run(ss_tok_buf_t *b, const char *text, size_t len);

/* Token i's NUL-terminated text. Pointer valid until the next ss_tok_run(). */
static inline const char *ss_tok_str(const ss_tok_buf_t *b, size_t i)
{
        return b->text + b->toks[i].off;
}

#endif /* SS_TOK_H */
