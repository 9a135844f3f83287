/*
 * dataset: labelled tweets read from the project's data files, and the line
 * parser that `sentistream score` uses on its input.
 *
 * A line is either TSV, `tweet_id<TAB>label<TAB>text` (as in data/), or a JSON
 * object when its first byte is '{': {"id": "...", "label": "...", "text":
 * "..."} ("label" optional for scoring, other keys ignored). Every line must be
 * valid UTF-8; a JSON `\u` escape must not decode to NUL or to a lone
 * surrogate. Errors name the file (or "stdin") and the 1-based line, and the
 * byte offset where that helps.
 */
#ifndef SS_DATASET_H
#define SS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"

/* A chunked string arena: allocations never move, freed all at once. */
typedef struct ss_arena_block ss_arena_block_t;
typedef struct ss_arena {
        ss_arena_block_t *head; /* newest block first */
} ss_arena_t;

void ss_arena_init(ss_arena_t *a);
/* Copies len bytes and a NUL; NULL on out of memory. Valid until reset/free. */
char *ss_arena_strndup(ss_arena_t *a, const char *s, size_t len);
/* Drops every allocation but keeps the newest block for reuse. */
void ss_arena_reset(ss_arena_t *a);
void ss_arena_free(ss_arena_t *a);

/* One parsed line. Pointers point into the line or into the arena given to the parser. */
typedef struct ss_record {
        const char *id; /* NUL-terminated only when from JSON; use id_len */
        size_t id_len;
        const char *text; /* not NUL-terminated in general; use text_len */
        size_t text_len;
        int label; /* ss_label_t, or -1 when the line has none */
} ss_record_t;

/*
 * Parses one line (without its '\n'; a trailing '\r' is ignored).
 *   TSV: `id<TAB>label<TAB>text` (text = everything after the second tab) or,
 *        when need_label is 0, also `id<TAB>text`; an empty label field is
 *        allowed when need_label is 0.
 *   JSON: an object with string "id" and "text" (and "label" when need_label).
 * Decoded JSON strings are copied into arena. On error returns the error
 * (SS_ERR_PARSE, SS_ERR_UTF8, SS_ERR_EMPTY, SS_ERR_NOMEM) with a message (no
 * file/line prefix: the caller adds it).
 */
ss_err_t ss_record_parse(const char *line, size_t len, int need_label, ss_arena_t *arena,
                         ss_record_t *rec, char *errstr, size_t errstr_size);

/* Offset of the first invalid UTF-8 byte in s, or -1 if s is valid UTF-8. */
long ss_utf8_check(const char *s, size_t len);

/*
 * A labelled data set held in memory: struct of arrays, row i = line lines[i].
 * texts[i] is NUL-terminated and holds lens[i] bytes.
 */
typedef struct ss_dataset {
        size_t n;
        const char **ids;   /* [n] NUL-terminated */
        const char **texts; /* [n] NUL-terminated */
        size_t *lens;       /* [n] byte lengths of texts */
        int8_t *labels;     /* [n] ss_label_t */
        uint32_t *lines;    /* [n] 1-based line number in the file */
        char path[512];     /* the file it came from */
        char sha256[65];    /* sha256 of the file's bytes, hex */
        /* private */
        char *buf_;        /* the file contents, TSV fields split in place */
        ss_arena_t arena_; /* decoded JSON strings */
        size_t cap_;
} ss_dataset_t;

/*
 * Loads a labelled data file (TSV or JSON lines, may be mixed). Any bad line
 * fails the whole load with "path:line: reason". An empty file is an error
 * (SS_ERR_EMPTY). Returns NULL on error. Caller frees with ss_dataset_destroy().
 */
ss_dataset_t *ss_dataset_load(const char *path, char *errstr, size_t errstr_size);

/* Called for each line a lenient load skips, with "path:line: reason" and its error code. */
typedef void (*ss_dataset_bad_fn)(ss_err_t err, const char *msg, void *opaque);

/*
 * Like ss_dataset_load(), but a bad line (unparsable, invalid UTF-8, empty
 * text, no label) is handed to bad and skipped, and the rest loads; *nbad
 * counts them. A file that cannot be read, no memory, or no good line at all
 * still fail the load.
 */
ss_dataset_t *ss_dataset_load_lenient(const char *path, ss_dataset_bad_fn bad, void *opaque,
                                      size_t *nbad, char *errstr, size_t errstr_size);

/* A new empty data set, filled by ss_dataset_add() (tests, splits). Strings are copied. */
ss_dataset_t *ss_dataset_new(void);
ss_err_t ss_dataset_add(ss_dataset_t *ds, const char *id, const char *text, size_t len, int label,
                        uint32_t line);
void ss_dataset_destroy(ss_dataset_t *ds);

/* Counts of each label, [SS_NUM_CLASSES]. */
void ss_dataset_label_counts(const ss_dataset_t *ds, int64_t *counts);

/*
 * Deterministic split by a seeded hash of the tweet id: a row goes to the tune
 * part when hash(id, seed) / 2^64 < share. Either output may be NULL. The
 * outputs are copies; caller destroys them.
 */
ss_err_t ss_dataset_split(const ss_dataset_t *ds, double share, uint64_t seed, ss_dataset_t **fit,
                          ss_dataset_t **tune, char *errstr, size_t errstr_size);

/* True if id goes to the tune part (the rule ss_dataset_split() applies). */
int ss_dataset_is_tune(const char *id, size_t len, double share, uint64_t seed);

#endif /* SS_DATASET_H */
