/*
 * Unit tests of the tweet tokenizer (models/text/tok.c): token texts and kinds for
 * each rule, the flags, and robustness on invalid UTF-8 and very long input.
 */
#include "ss_test.h"

#include <stdint.h>

#include "tok.h"

static ss_tok_buf_t tb;

/* Tokenizes text and compares with want: tokens joined by a single space. */
static int tok_join(const char *text, size_t len, char *out, size_t size)
{
        if (ss_tok_run(&tb, text, len))
                return -1;
        size_t o = 0;
        out[0] = 0;
        for (size_t i = 0; i < tb.n; i++) {
                int w = snprintf(out + o, size - o, "%s%s", i ? " " : "", ss_tok_str(&tb, i));
                if (w < 0 || (size_t)w >= size - o)
                        return -1;
                o += (size_t)w;
        }
        return 0;
}

#define CHECK_TOKS(text, want)                                                                     \
        do {                                                                                       \
                char got_[1024];                                                                   \
                CHECK(tok_join((text), strlen(text), got_, sizeof(got_)) == 0);                    \
                CHECK_STR_EQ(got_, (want));                                                        \
        } while (0)

/* Kind of the token whose text is str in the last run, or -1. */
static int kind_of(const char *str)
{
        for (size_t i = 0; i < tb.n; i++)
                if (!strcmp(ss_tok_str(&tb, i), str))
                        return tb.toks[i].kind;
        return -1;
}

/* Every token is non-empty, NUL-terminated at off+len, inside text_len, and valid UTF-8. */
static int buf_consistent(void)
{
        for (size_t i = 0; i < tb.n; i++) {
                const ss_tok_t *t = &tb.toks[i];
                if (t->len == 0 || t->off + t->len >= tb.text_len || tb.text[t->off + t->len])
                        return 0;
                if (strlen(tb.text + t->off) != t->len)
                        return 0;
                const uint8_t *p = (const uint8_t *)tb.text + t->off;
                for (size_t k = 0; k < t->len;) {
                        uint8_t c = p[k];
                        size_t l = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
                        if (!l || k + l > t->len)
                                return 0;
                        for (size_t m = 1; m < l; m++)
                                if ((p[k + m] & 0xC0) != 0x80)
                                        return 0;
                        k += l;
                }
        }
        return 1;
}

static void test_words_case_elongation(void)
{
        CHECK_TOKS("Hello WORLD", "hello world");
        CHECK_TOKS("soooo goooood yesss", "soo good yess");
        CHECK_TOKS("aaabbbccc", "aabbcc");
        CHECK_TOKS("don't I'm rock'n'roll", "don't i'm rock'n'roll");
        CHECK_TOKS("'quoted' dogs'", "' quoted ' dogs '");
        CHECK_TOKS("It\xe2\x80\x99s", "it's"); /* typographic apostrophe */
        /* Latin-1, Latin Extended-A, Greek, Cyrillic. */
        CHECK_TOKS("\xc3\x89"
                   "COLE \xc3\x80 \xc3\x96l",
                   "\xc3\xa9"
                   "cole \xc3\xa0 \xc3\xb6l");
        CHECK_TOKS("\xc5\x81\xc3\xb3\x64\xc5\xba \xc4\x8c\x65\x73\x6b\xc3\xbd",
                   "\xc5\x82\xc3\xb3\x64\xc5\xba \xc4\x8d\x65\x73\x6b\xc3\xbd"); /* Łódź Český */
        CHECK_TOKS("\xc4\xb0stanbul \xc5\xb8", "istanbul \xc3\xbf");             /* İ Ÿ */
        CHECK_TOKS("\xce\xa9\xce\x9c\xce\x88\xce\x93\xce\x91",
                   "\xcf\x89\xce\xbc\xce\xad\xce\xb3\xce\xb1"); /* ΩΜΈΓΑ -> ωμέγα */
        CHECK_TOKS("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\x81",
                   "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd1\x91"); /* ПРИВЕТ Ё */
        CHECK(ss_tok_run(&tb, "Hi", 2) == 0 && tb.n == 1 && tb.toks[0].kind == SS_TOKK_WORD);
}

static void test_urls_mentions_hashtags(void)
{
        CHECK_TOKS("see http://t.co/AbC. now", "see <url> . now");
        CHECK(tb.has_url == 1 && tb.has_mention == 0 && kind_of("<url>") == SS_TOKK_URL);
        CHECK_TOKS("HTTPS://x.y/z?q=1&r=2, www.Example.com/a)", "<url> , <url> )");
        CHECK_TOKS("https://t.co/abc\xe2\x80\xa6", "<url> ..");
        CHECK_TOKS("awww. www. foo", "aww . ww . foo"); /* "www" folds like any run */
        CHECK(tb.has_url == 0);
        CHECK_TOKS("@User_1: hi @b", "<user> : hi <user>");
        CHECK(tb.has_mention == 1 && kind_of("<user>") == SS_TOKK_USER);
        CHECK_TOKS("mail a@b.c", "mail a <user> . c");
        CHECK_TOKS("@ alone", "@ alone");
        CHECK(tb.has_mention == 0);
        CHECK_TOKS("#HappyDay #1 # x #caf\xc3\x89", "happyday 1 # x caf\xc3\xa9");
        CHECK(kind_of("happyday") == SS_TOKK_HASHTAG && kind_of("#") == SS_TOKK_PUNCT);
        CHECK_TOKS("(@a,#b)", "( <user> , b )");
}

static void test_numbers(void)
{
        CHECK_TOKS("3,000,000 1.5 42", "<num> <num> <num>");
        CHECK(kind_of("<num>") == SS_TOKK_NUM);
        CHECK_TOKS("2nd 3pm 1.5x", "2nd 3pm <num> x");
        CHECK(kind_of("2nd") == SS_TOKK_WORD);
        CHECK_TOKS("7/13 10:30 $5 -2 1.", "<num> / <num> <num> : <num> $ <num> - <num> <num> .");
        CHECK_TOKS("mp3 b4", "mp3 b4");
}

static void test_emoticons(void)
{
        CHECK_TOKS(":) :-) :( :'( :D ;) :P <3 </3 xD ^_^ o_O",
                   ":) :-) :( :'( :D ;) :P <3 </3 xD ^_^ o_O");
        for (size_t i = 0; i < tb.n; i++)
                CHECK(tb.toks[i].kind == SS_TOKK_EMOTICON);
        CHECK(tb.has_emoji == 1);
        CHECK_TOKS("(: (-: ): >:( =) T_T -_- >.< ^^", "(: (-: ): >:( =) T_T -_- >.< ^^");
        CHECK(kind_of("(:") == SS_TOKK_EMOTICON && kind_of("^^") == SS_TOKK_EMOTICON);
        CHECK_TOKS(":))))) XDDD <333", ":)) XDD <33");
        CHECK_TOKS("great!:) wow!!!:(", "great ! :) wow !! :(");
        /* Not emoticons: letters or digits after, URLs, times, a bracket mid-text. */
        CHECK_TOKS("Re:Dave 10:30 (see fig):", "re : dave <num> : <num> ( see fig ):");
        CHECK(kind_of("):") == SS_TOKK_PUNCT);
        CHECK(tb.has_emoji == 0);
        CHECK_TOKS("x<30 XP", "x < <num> xp");
        CHECK(tb.has_emoji == 0);
        CHECK_TOKS("&lt;3 &amp; &gt;:(", "<3 & >:(");
        CHECK(kind_of("<3") == SS_TOKK_EMOTICON);
}

static void test_emoji(void)
{
        /* ZWJ family (man, woman, girl, boy) is one token. */
        const char *family = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d"
                             "\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6";
        char buf[256];
        snprintf(buf, sizeof(buf), "we%s!", family);
        CHECK(ss_tok_run(&tb, buf, strlen(buf)) == 0);
        CHECK(tb.n == 3 && tb.has_emoji == 1);
        CHECK_STR_EQ(ss_tok_str(&tb, 1), family);
        CHECK(tb.toks[1].kind == SS_TOKK_EMOJI);
        /* Flags pair up: US then GB. */
        CHECK_TOKS("\xf0\x9f\x87\xba\xf0\x9f\x87\xb8\xf0\x9f\x87\xac\xf0\x9f\x87\xa7",
                   "\xf0\x9f\x87\xba\xf0\x9f\x87\xb8 \xf0\x9f\x87\xac\xf0\x9f\x87\xa7");
        CHECK(tb.n == 2 && kind_of("\xf0\x9f\x87\xba\xf0\x9f\x87\xb8") == SS_TOKK_EMOJI);
        /* Skin tone stays attached; VS16 is dropped; heart with VS16 == heart. */
        CHECK_TOKS("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd ok", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd ok");
        CHECK_TOKS("\xe2\x9d\xa4\xef\xb8\x8f\xe2\x9d\xa4", "\xe2\x9d\xa4 \xe2\x9d\xa4");
        /* Rainbow flag: white flag, VS16, ZWJ, rainbow. */
        CHECK_TOKS("\xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88",
                   "\xf0\x9f\x8f\xb3\xe2\x80\x8d\xf0\x9f\x8c\x88");
        CHECK(tb.n == 1);
        /* Keycap: digit + VS16 + U+20E3 is an emoji, not a number. */
        CHECK_TOKS("1\xef\xb8\x8f\xe2\x83\xa3 2", "1\xe2\x83\xa3 <num>");
        CHECK(kind_of("1\xe2\x83\xa3") == SS_TOKK_EMOJI);
        /* Repeated emoji fold to two; spaced ones stay. */
        CHECK_TOKS("lol\xf0\x9f\x98\x82\xf0\x9f\x98\x82\xf0\x9f\x98\x82\xf0\x9f\x98\x82",
                   "lol \xf0\x9f\x98\x82 \xf0\x9f\x98\x82");
        CHECK_TOKS("\xf0\x9f\x98\x82 \xf0\x9f\x98\x82 \xf0\x9f\x98\x82",
                   "\xf0\x9f\x98\x82 \xf0\x9f\x98\x82 \xf0\x9f\x98\x82");
        /* (c) with VS16 is an emoji, without it punctuation. */
        CHECK_TOKS("\xc2\xa9\xef\xb8\x8f \xc2\xa9", "\xc2\xa9 \xc2\xa9");
        CHECK(tb.toks[0].kind == SS_TOKK_EMOJI && tb.toks[1].kind == SS_TOKK_PUNCT);
        CHECK_TOKS("no emoji here", "no emoji here");
        CHECK(tb.has_emoji == 0);
}

static void test_punct_entities(void)
{
        CHECK_TOKS("wow!!!!! ?!?! ... \xe2\x80\x94", "wow !! ?!?! .. \xe2\x80\x94");
        CHECK(kind_of("!!") == SS_TOKK_PUNCT);
        CHECK_TOKS("&amp; &lt;b&gt; &quot;hi&quot; &#39;x&#39; &#x41; &bogus; &",
                   "& < b > \" hi \" ' x ' a & bogus ; &");
        CHECK_TOKS("a&nbsp;b &#0; &#xD800;", "a b \xef\xbf\xbd \xef\xbf\xbd");
        CHECK_TOKS("\xe2\x80\x9cquote\xe2\x80\x9d", "\" quote \"");
        CHECK_TOKS("a\tb\r\nc\x01"
                   "d\xc2\xa0"
                   "e\xe2\x80\x8b"
                   "f",
                   "a b c d e f");
}

static void test_invalid_utf8(void)
{
        /* Lone continuation byte, 0xFF, overlong '/', surrogate, truncated at the end,
         * above U+10FFFF. Each maximal invalid subpart gives one U+FFFD; three or
         * more in a row fold to two like any repeated character. */
        static const struct {
                const char *in;
                size_t len;
                const char *want;
        } cases[] = {
            {"a\x80"
             "b",
             3, "a \xef\xbf\xbd b"},
            {"\xff", 1, "\xef\xbf\xbd"},
            {"x\xc0\xaf", 3, "x \xef\xbf\xbd\xef\xbf\xbd"},
            {"\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd"},
            {"\xe0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
            {"\xed\xa0\x80z", 4, "\xef\xbf\xbd\xef\xbf\xbd z"},
            {"\xed\xa0"
             "a",
             3, "\xef\xbf\xbd\xef\xbf\xbd a"},
            {"ok\xe2\x82", 4, "ok \xef\xbf\xbd"},
            {"ok\xf0\x9f\x98", 5, "ok \xef\xbf\xbd"},
            {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd"},
            {"\xe2\x82"
             "a",
             3, "\xef\xbf\xbd a"},
            {"\xc3", 1, "\xef\xbf\xbd"},
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                char got[256];
                CHECK(tok_join(cases[k].in, cases[k].len, got, sizeof(got)) == 0);
                CHECK_STR_EQ(got, cases[k].want);
                CHECK(buf_consistent());
        }
        /* Bytes after the given length are never read (ASan checks the exact-size copy). */
        char *exact = malloc(3);
        memcpy(exact, "a\xe2\x82", 3);
        CHECK(ss_tok_run(&tb, exact, 3) == 0 && tb.n == 2);
        free(exact);
        /* Embedded NUL separates tokens, never truncates one. */
        CHECK(ss_tok_run(&tb, "ab\0cd", 5) == 0 && tb.n == 2);
}

static void test_empty_and_large(void)
{
        CHECK(ss_tok_run(&tb, "", 0) == 0 && tb.n == 0);
        CHECK(ss_tok_run(&tb, NULL, 0) == 0 && tb.n == 0);
        CHECK(ss_tok_run(&tb, "   \t ", 5) == 0 && tb.n == 0);
        CHECK(tb.has_url == 0 && tb.has_emoji == 0 && tb.has_mention == 0);

        size_t big = (size_t)1 << 20;
        char *s = malloc(big);
        /* Random bytes: every token valid, the run terminates. */
        uint32_t x = 12345;
        for (size_t i = 0; i < big; i++) {
                x = x * 1664525u + 1013904223u;
                s[i] = (char)(x >> 24);
        }
        CHECK(ss_tok_run(&tb, s, big) == 0);
        CHECK(tb.n > 1000 && buf_consistent());
        /* One long word: a single token, elongation folded to "ab" pairs. */
        for (size_t i = 0; i < big; i++)
                s[i] = (i & 1) ? 'b' : 'a';
        CHECK(ss_tok_run(&tb, s, big) == 0 && tb.n == 1 && tb.toks[0].len == big);
        memset(s, 'o', big);
        CHECK(ss_tok_run(&tb, s, big) == 0 && tb.n == 1);
        CHECK_STR_EQ(ss_tok_str(&tb, 0), "oo");
        /* Worst-case growth: many tiny tokens that expand ("1!" -> "<num>", "!"). */
        for (size_t i = 0; i + 1 < big; i += 2) {
                s[i] = '1';
                s[i + 1] = '!';
        }
        CHECK(ss_tok_run(&tb, s, big) == 0 && tb.n == big && buf_consistent());
        /* Invalid bytes only: each becomes U+FFFD, the punct run folds to two. */
        memset(s, 0xff, big);
        CHECK(ss_tok_run(&tb, s, big) == 0 && tb.n == 1 && tb.toks[0].len == 6);
        free(s);
        CHECK(ss_tok_run(&tb, "x", SS_TOK_MAX_LEN + 1) == -1 && tb.n == 0);
}

/* Buffer reuse: a short text after a long one gives only its own tokens. */
static void test_reuse(void)
{
        CHECK_TOKS("one two three four five six", "one two three four five six");
        CHECK_TOKS("seven", "seven");
        CHECK(tb.n == 1);
}

int main(void)
{
        ss_tok_buf_init(&tb);
        test_words_case_elongation();
        test_urls_mentions_hashtags();
        test_numbers();
        test_emoticons();
        test_emoji();
        test_punct_entities();
        test_invalid_utf8();
        test_empty_and_large();
        test_reuse();
        ss_tok_buf_free(&tb);
        return ss_test_finish();
}
