/*
 * mfile: the versioned binary model container (files ending in .ssm).
 *
 * Layout, all integers little-endian:
 *
 *   offset  size  field
 *   0       8     magic "\x89SSM\r\n\x1a\n" (catches text-mode and 7-bit mangling)
 *   8       4     format version (SS_MFILE_VERSION)
 *   12      4     header length H: bytes from the file start to the payload
 *   16      ...   kind, name, version: each u16 length + bytes (printable UTF-8, at
 *                 most 256 bytes; kind and version non-empty)
 *           ...   labels: u16 count, then each u16 length + bytes (same rules)
 *           8     payload length P
 *           32    sha256 of the whole file (all H + P bytes), computed with these
 *                 32 bytes set to zero: every byte of the file is covered
 *           ...   zero padding up to H (a multiple of 16)
 *   H       P     payload: sections, each
 *                   64-byte header: name[40] (NUL-padded, non-empty), u32 type,
 *                   u32 reserved (0), u64 element count, u64 byte length
 *                   data, zero-padded to a multiple of 16 bytes
 *
 * The file is exactly H + P bytes. Section data is 16-byte aligned in the file
 * and in the loaded buffer, so readers point straight into it (no copy).
 *
 * The reader validates everything before returning: magic, version (a newer
 * one is refused as such; version 1, whose sha256 covered the payload only, is
 * refused with the advice to train or convert again), header bounds, string
 * lengths, labels, exact file size (truncated or trailing bytes), the whole-file
 * sha256, the header strings' content (printable UTF-8), then every section
 * header (known type, byte length = count x element size, inside the payload,
 * unique names). Errors name the file and the problem.
 *
 * The writer builds the file in memory, writes PATH.tmp.PID, fsyncs and renames
 * it over PATH, so readers never see a half-written model.
 */
#ifndef SS_MFILE_H
#define SS_MFILE_H

#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"

#define SS_MFILE_MAGIC       "\x89SSM\r\n\x1a\n"
#define SS_MFILE_VERSION     2
#define SS_MFILE_STR_MAX     256 /* longest kind / name / version / label, bytes */
#define SS_MFILE_SECNAME_MAX 40  /* bytes incl. the NUL */

typedef enum {
        SS_MF_U8 = 1,
        SS_MF_I32 = 2,
        SS_MF_U32 = 3,
        SS_MF_I64 = 4,
        SS_MF_U64 = 5,
        SS_MF_F32 = 6,
        SS_MF_F64 = 7,
        SS_MF_STR = 8, /* UTF-8 bytes (count = bytes), e.g. JSON */
} ss_mf_type_t;

/* Element size of a type, 0 for an unknown one. */
size_t ss_mf_type_size(uint32_t type);
const char *ss_mf_type_name(uint32_t type);

typedef struct ss_mfile ss_mfile_t;

/*
 * A new, empty container for writing. Strings are copied; version may be NULL,
 * in which case ss_mfile_write() sets it to "<kind>-<first 12 hex of the payload
 * sha256>" (no clock: the same training writes the same bytes). Labels are the
 * project's three class names. Returns NULL on out of memory. Caller frees with ss_mfile_destroy().
 */
ss_mfile_t *ss_mfile_new(const char *kind, const char *name, const char *version);

/* Adds a section, copying count elements of type. Names are unique. */
ss_err_t ss_mfile_add(ss_mfile_t *mf, const char *section, ss_mf_type_t type, const void *data,
                      uint64_t count, char *errstr, size_t errstr_size);

/* Removes a section (to add it again with new contents). Returns 1 if it was there, else 0. */
int ss_mfile_remove(ss_mfile_t *mf, const char *section);

/* Serialises into a new buffer (caller frees). Sets the version if it was NULL. A header
 * string that is not printable UTF-8 or longer than SS_MFILE_STR_MAX is SS_ERR_INVALID_ARG. */
ss_err_t ss_mfile_serialize(ss_mfile_t *mf, uint8_t **out, size_t *out_len, char *errstr,
                            size_t errstr_size);

/* Forgets the version, so that the next serialisation derives it again from the payload
 * (after a section was added to a container already written). */
void ss_mfile_version_reset(ss_mfile_t *mf);

/* Serialises and writes atomically (temp file + rename). */
ss_err_t ss_mfile_write(ss_mfile_t *mf, const char *path, char *errstr, size_t errstr_size);

/* Reads and validates a model file. NULL on error. Caller frees with ss_mfile_destroy(). */
ss_mfile_t *ss_mfile_read(const char *path, char *errstr, size_t errstr_size);

/*
 * Validates and parses a buffer (what = name for messages, e.g. the path).
 * Takes ownership of buf (malloc'ed, 16-byte aligned as malloc gives) even on
 * failure.
 */
ss_mfile_t *ss_mfile_parse(uint8_t *buf, size_t len, const char *what, char *errstr,
                           size_t errstr_size);

void ss_mfile_destroy(ss_mfile_t *mf);

/* Header fields; valid until ss_mfile_destroy(). */
const char *ss_mfile_kind(const ss_mfile_t *mf);
const char *ss_mfile_name(const ss_mfile_t *mf);
const char *ss_mfile_version(const ss_mfile_t *mf);
const char *
ss_mfile_payload_sha256(const ss_mfile_t *mf); /* hex of the payload's sha256
                                                 (not the file's), after read/serialize */
int ss_mfile_nlabels(const ss_mfile_t *mf);
const char *ss_mfile_label(const ss_mfile_t *mf, int i);
const char *ss_mfile_path(const ss_mfile_t *mf); /* "" unless read from a file */

/* Number of sections and the name of section i (in file order). */
size_t ss_mfile_nsections(const ss_mfile_t *mf);
const char *ss_mfile_section_name(const ss_mfile_t *mf, size_t i);

/*
 * Looks a section up by name and type. Returns the data (16-byte aligned,
 * valid until ss_mfile_destroy()) and its element count, or NULL with an
 * SS_ERR_FORMAT message naming the file and section when it is missing, has
 * another type, or (when want_count != 0) another count.
 */
const void *ss_mfile_get(const ss_mfile_t *mf, const char *section, ss_mf_type_t type,
                         uint64_t want_count, uint64_t *count, char *errstr, size_t errstr_size);

#endif /* SS_MFILE_H */
