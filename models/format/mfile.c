/*
 * mfile: writer and validating reader of the .ssm model container (layout in
 * mfile.h).
 *
 * Writing copies each section into the container, then serialises: payload
 * first (so that its sha256, and from it the default version string, are
 * known), then the header in front of it. Reading loads the whole file into one
 * buffer and checks it front to back with a bounds-checked cursor; only when
 * every check has passed does the caller get an object, whose sections point
 * into that buffer. Nothing is trusted before it has been checked: lengths are
 * compared with what is left before any arithmetic that could overflow. The
 * whole-file sha256 is checked as soon as the header's structure has located
 * it, before any string or section is interpreted.
 */
#include "mfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_util.h"

#define SS_MF_STR_MAX    SS_MFILE_STR_MAX
#define SS_MF_LABELS_MAX 16
#define SS_MF_HDR_MAX    (1u << 20)
#define SS_MF_SEC_HDR    64

typedef struct ss_mf_section {
        char name[SS_MFILE_SECNAME_MAX];
        uint32_t type;
        uint64_t count, bytes;
        const uint8_t *data; /* [bytes], into buf (read) or owned (write) */
        int owned;
} ss_mf_section_t;

struct ss_mfile {
        char *kind, *name, *version;
        int nlabels;
        char *labels[SS_MF_LABELS_MAX];
        ss_mf_section_t *secs; /* [nsecs] */
        size_t nsecs, cap;
        uint8_t *buf; /* the whole file when read */
        size_t len;
        char sha_hex[65];
        char path[512];
};

static const char *const ss_mf_default_labels[] = {"negative", "neutral", "positive"};

size_t ss_mf_type_size(uint32_t type)
{
        switch (type) {
        case SS_MF_U8:
        case SS_MF_STR:
                return 1;
        case SS_MF_I32:
        case SS_MF_U32:
        case SS_MF_F32:
                return 4;
        case SS_MF_I64:
        case SS_MF_U64:
        case SS_MF_F64:
                return 8;
        default:
                return 0;
        }
}

const char *ss_mf_type_name(uint32_t type)
{
        static const char *const names[] = {"?",   "u8",  "i32", "u32", "i64",
                                            "u64", "f32", "f64", "str"};
        return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/*
 * Printable UTF-8: well-formed (no overlong forms, surrogates or code points above
 * U+10FFFF) and without C0/C1 control characters or DEL. These strings end up in every
 * prediction (model name and version) and in logs.
 */
static int ss_mf_str_ok(const char *str)
{
        const unsigned char *s = (const unsigned char *)str;
        while (*s) {
                unsigned c = *s, n, cp;
                if (c < 0x80) {
                        if (c < 0x20 || c == 0x7f)
                                return 0;
                        s++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, cp = c & 0x07;
                else
                        return 0;
                for (unsigned k = 1; k <= n; k++) {
                        if ((s[k] & 0xc0) != 0x80)
                                return 0;
                        cp = cp << 6 | (s[k] & 0x3f);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
                        return 0;
                s += n + 1;
        }
        return 1;
}

static char *ss_strdup_n(const char *s, size_t n)
{
        char *p = malloc(n + 1);
        if (p) {
                memcpy(p, s, n);
                p[n] = '\0';
        }
        return p;
}

ss_mfile_t *ss_mfile_new(const char *kind, const char *name, const char *version)
{
        ss_mfile_t *mf = calloc(1, sizeof(*mf));
        if (!mf)
                return NULL;
        mf->kind = ss_strdup_n(kind, strlen(kind));
        mf->name = ss_strdup_n(name, strlen(name));
        mf->version = version ? ss_strdup_n(version, strlen(version)) : NULL;
        mf->nlabels = 3;
        for (int i = 0; i < 3; i++)
                mf->labels[i] =
                    ss_strdup_n(ss_mf_default_labels[i], strlen(ss_mf_default_labels[i]));
        if (!mf->kind || !mf->name || (version && !mf->version) || !mf->labels[0] ||
            !mf->labels[1] || !mf->labels[2]) {
                ss_mfile_destroy(mf);
                return NULL;
        }
        return mf;
}

void ss_mfile_destroy(ss_mfile_t *mf)
{
        if (!mf)
                return;
        for (size_t i = 0; i < mf->nsecs; i++)
                if (mf->secs[i].owned)
                        free((void *)mf->secs[i].data);
        free(mf->secs);
        free(mf->kind);
        free(mf->name);
        free(mf->version);
        for (int i = 0; i < mf->nlabels; i++)
                free(mf->labels[i]);
        free(mf->buf);
        free(mf);
}

static ss_mf_section_t *ss_mfile_find(const ss_mfile_t *mf, const char *name)
{
        for (size_t i = 0; i < mf->nsecs; i++)
                if (!strcmp(mf->secs[i].name, name))
                        return &mf->secs[i];
        return NULL;
}

static ss_err_t ss_mfile_push(ss_mfile_t *mf, ss_mf_section_t *s)
{
        if (mf->nsecs == mf->cap) {
                size_t cap = mf->cap ? mf->cap * 2 : 8;
                ss_mf_section_t *ns = realloc(mf->secs, cap * sizeof(*ns));
                if (!ns)
                        return SS_ERR_NOMEM;
                mf->secs = ns;
                mf->cap = cap;
        }
        mf->secs[mf->nsecs++] = *s;
        return SS_OK;
}

ss_err_t ss_mfile_add(ss_mfile_t *mf, const char *section, ss_mf_type_t type, const void *data,
                      uint64_t count, char *errstr, size_t errstr_size)
{
        size_t esz = ss_mf_type_size(type);
        size_t nlen = strlen(section);
        if (!esz)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "section \"%s\": unknown type %d", section, (int)type);
        if (nlen == 0 || nlen >= SS_MFILE_SECNAME_MAX)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "section name \"%s\": length must be 1..%d", section,
                                  SS_MFILE_SECNAME_MAX - 1);
        if (ss_mfile_find(mf, section))
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "section \"%s\" added twice", section);
        if (count > SIZE_MAX / esz)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "section \"%s\": too large", section);
        ss_mf_section_t s = {.type = type, .count = count, .bytes = count * esz, .owned = 1};
        memcpy(s.name, section, nlen + 1);
        uint8_t *copy = malloc(s.bytes ? s.bytes : 1);
        if (!copy)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "section \"%s\": out of memory", section);
        if (s.bytes)
                memcpy(copy, data, s.bytes);
        s.data = copy;
        if (ss_mfile_push(mf, &s)) {
                free(copy);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        return SS_OK;
}

int ss_mfile_remove(ss_mfile_t *mf, const char *section)
{
        ss_mf_section_t *s = ss_mfile_find(mf, section);
        if (!s)
                return 0;
        if (s->owned)
                free((void *)s->data);
        size_t i = (size_t)(s - mf->secs);
        memmove(s, s + 1, (mf->nsecs - i - 1) * sizeof(*s));
        mf->nsecs--;
        return 1;
}

/* ---- little-endian helpers ---- */

static void ss_put_u16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static void ss_put_u32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void ss_put_u64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t ss_get_u32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ss_get_u64(const uint8_t *p)
{
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

static size_t ss_round16(size_t n)
{
        return (n + 15) & ~(size_t)15;
}

/* ---- writing ---- */

static size_t ss_put_str(uint8_t *p, const char *s)
{
        size_t n = strlen(s);
        ss_put_u16(p, (uint16_t)n);
        memcpy(p + 2, s, n);
        return 2 + n;
}

ss_err_t ss_mfile_serialize(ss_mfile_t *mf, uint8_t **out, size_t *out_len, char *errstr,
                            size_t errstr_size)
{
        *out = NULL;
        *out_len = 0;
        size_t plen = 0;
        for (size_t i = 0; i < mf->nsecs; i++)
                plen += SS_MF_SEC_HDR + ss_round16(mf->secs[i].bytes);
        uint8_t *payload = calloc(1, plen ? plen : 1);
        if (!payload)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        size_t off = 0;
        for (size_t i = 0; i < mf->nsecs; i++) {
                const ss_mf_section_t *s = &mf->secs[i];
                memcpy(payload + off, s->name, strlen(s->name));
                ss_put_u32(payload + off + 40, s->type);
                ss_put_u32(payload + off + 44, 0);
                ss_put_u64(payload + off + 48, s->count);
                ss_put_u64(payload + off + 56, s->bytes);
                off += SS_MF_SEC_HDR;
                if (s->bytes)
                        memcpy(payload + off, s->data, s->bytes);
                off += ss_round16(s->bytes);
        }
        uint8_t sha[32];
        ss_sha256(payload, plen, sha);
        ss_sha256_hex(payload, plen, mf->sha_hex);
        if (!mf->version) {
                /* from the content alone (no clock): the same training gives the same bytes */
                char v[128];
                snprintf(v, sizeof(v), "%s-%.12s", mf->kind, mf->sha_hex);
                mf->version = ss_strdup_n(v, strlen(v));
                if (!mf->version) {
                        free(payload);
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                }
        }
        const char *strs[3] = {mf->kind, mf->name, mf->version};
        size_t hraw = 16 + 2 + 8 + 32;
        for (int i = 0; i < 3 + mf->nlabels; i++) {
                const char *str = i < 3 ? strs[i] : mf->labels[i - 3];
                if (strlen(str) > SS_MF_STR_MAX || !ss_mf_str_ok(str)) {
                        free(payload);
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "header string \"%.40s\" is not printable UTF-8 of at "
                                          "most %d bytes",
                                          str, SS_MF_STR_MAX);
                }
                hraw += 2 + strlen(str);
        }
        size_t hlen = ss_round16(hraw);
        uint8_t *buf = calloc(1, hlen + plen);
        if (!buf) {
                free(payload);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        memcpy(buf, SS_MFILE_MAGIC, 8);
        ss_put_u32(buf + 8, SS_MFILE_VERSION);
        ss_put_u32(buf + 12, (uint32_t)hlen);
        size_t p = 16;
        for (int i = 0; i < 3; i++)
                p += ss_put_str(buf + p, strs[i]);
        ss_put_u16(buf + p, (uint16_t)mf->nlabels);
        p += 2;
        for (int i = 0; i < mf->nlabels; i++)
                p += ss_put_str(buf + p, mf->labels[i]);
        ss_put_u64(buf + p, plen);
        p += 8;
        memcpy(buf + hlen, payload, plen);
        free(payload);
        ss_sha256(buf, hlen + plen, sha); /* with the sha256 field still zero */
        memcpy(buf + p, sha, 32);
        *out = buf;
        *out_len = hlen + plen;
        return SS_OK;
}

ss_err_t ss_mfile_write(ss_mfile_t *mf, const char *path, char *errstr, size_t errstr_size)
{
        uint8_t *buf;
        size_t len;
        ss_err_t err = ss_mfile_serialize(mf, &buf, &len, errstr, errstr_size);
        if (err)
                return err;
        char tmp[1024];
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        if (!f) {
                free(buf);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", tmp, strerror(errno));
        }
        int ok = fwrite(buf, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
        int e = errno;
        ok = (fclose(f) == 0) && ok;
        free(buf);
        if (!ok || rename(tmp, path) != 0) {
                if (ok)
                        e = errno;
                unlink(tmp);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", path, strerror(e));
        }
        snprintf(mf->path, sizeof(mf->path), "%s", path);
        return SS_OK;
}

/* ---- reading ---- */

typedef struct ss_cursor {
        const uint8_t *p;
        size_t off, end;
} ss_cursor_t;

static int ss_cur_str(ss_cursor_t *c, char **out)
{
        if (c->end - c->off < 2)
                return -1;
        size_t n = (size_t)c->p[c->off] | (size_t)c->p[c->off + 1] << 8;
        c->off += 2;
        if (n > SS_MF_STR_MAX || c->end - c->off < n)
                return -1;
        if (memchr(c->p + c->off, '\0', n))
                return -1;
        *out = ss_strdup_n((const char *)c->p + c->off, n);
        c->off += n;
        return *out ? 0 : -1;
}

#define FAIL(code, ...)                                                                            \
        do {                                                                                       \
                char msg_[400];                                                                    \
                snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                         \
                ss_err_set(errstr, errstr_size, code, "%s: %s", what, msg_);                       \
                goto fail;                                                                         \
        } while (0)

ss_mfile_t *ss_mfile_parse(uint8_t *buf, size_t len, const char *what, char *errstr,
                           size_t errstr_size)
{
        ss_mfile_t *mf = calloc(1, sizeof(*mf));
        if (!mf) {
                free(buf);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", what);
                return NULL;
        }
        mf->buf = buf;
        mf->len = len;
        snprintf(mf->path, sizeof(mf->path), "%s", what);
        if (len < 8 || memcmp(buf, SS_MFILE_MAGIC, 8) != 0) {
                if (len < 8 && memcmp(buf, SS_MFILE_MAGIC, len) == 0)
                        FAIL(SS_ERR_FORMAT, "truncated: %zu bytes, shorter than the magic", len);
                FAIL(SS_ERR_FORMAT, "not a sentistream model file (bad magic)");
        }
        if (len < 16)
                FAIL(SS_ERR_FORMAT, "truncated: %zu bytes, shorter than the 16-byte fixed header",
                     len);
        uint32_t ver = ss_get_u32(buf + 8);
        if (ver > SS_MFILE_VERSION)
                FAIL(SS_ERR_FORMAT,
                     "format version %u is newer than this program reads (%d); upgrade sentistream",
                     ver, SS_MFILE_VERSION);
        if (ver == 1)
                FAIL(SS_ERR_FORMAT,
                     "format version 1 (its checksum does not cover the header) is no longer "
                     "read: train the model again, or convert it again (sentistream convert)");
        if (ver != SS_MFILE_VERSION)
                FAIL(SS_ERR_FORMAT, "bad format version %u", ver);
        uint32_t hlen = ss_get_u32(buf + 12);
        if (hlen < 16 + 6 + 2 + 40 || hlen > SS_MF_HDR_MAX || hlen % 16)
                FAIL(SS_ERR_FORMAT, "bad header length %u at offset 12", hlen);
        if (hlen > len)
                FAIL(SS_ERR_FORMAT, "truncated: %zu bytes, header alone is %u", len, hlen);
        ss_cursor_t c = {buf, 16, hlen};
        if (ss_cur_str(&c, &mf->kind) || ss_cur_str(&c, &mf->name) || ss_cur_str(&c, &mf->version))
                FAIL(SS_ERR_FORMAT, "bad kind/name/version string near offset %zu", c.off);
        if (c.end - c.off < 2)
                FAIL(SS_ERR_FORMAT, "header ends before the label count (offset %zu)", c.off);
        unsigned nl = (unsigned)buf[c.off] | (unsigned)buf[c.off + 1] << 8;
        c.off += 2;
        if (nl == 0 || nl > SS_MF_LABELS_MAX)
                FAIL(SS_ERR_FORMAT, "bad label count %u at offset %zu", nl, c.off - 2);
        for (unsigned i = 0; i < nl; i++) {
                if (ss_cur_str(&c, &mf->labels[i]))
                        FAIL(SS_ERR_FORMAT, "bad label %u near offset %zu", i, c.off);
                mf->nlabels = (int)i + 1;
        }
        if (c.end - c.off < 40)
                FAIL(SS_ERR_FORMAT, "header ends before payload length and sha256 (offset %zu)",
                     c.off);
        uint64_t plen = ss_get_u64(buf + c.off);
        uint8_t *sha_field = buf + c.off + 8;
        c.off += 40;
        for (size_t i = c.off; i < hlen; i++)
                if (buf[i])
                        FAIL(SS_ERR_FORMAT, "non-zero header padding at offset %zu", i);
        if (plen > len - hlen)
                FAIL(SS_ERR_FORMAT,
                     "truncated: payload is %zu bytes, header says %llu (file %zu of %llu bytes)",
                     len - hlen, (unsigned long long)plen, len, (unsigned long long)(hlen + plen));
        if (plen < len - hlen)
                FAIL(SS_ERR_FORMAT, "%llu unexpected bytes after the payload",
                     (unsigned long long)(len - hlen - plen));
        /* the whole file, with the sha256 field as zeros */
        uint8_t want_sha[32], sha[32];
        memcpy(want_sha, sha_field, 32);
        memset(sha_field, 0, 32);
        ss_sha256(buf, len, sha);
        memcpy(sha_field, want_sha, 32);
        if (memcmp(sha, want_sha, 32) != 0)
                FAIL(SS_ERR_CHECKSUM, "file sha256 mismatch: the file is corrupted");
        ss_sha256_hex(buf + hlen, (size_t)plen, mf->sha_hex);
        if (!*mf->kind || !ss_mf_str_ok(mf->kind) || !ss_mf_str_ok(mf->name) || !*mf->version ||
            !ss_mf_str_ok(mf->version))
                FAIL(SS_ERR_FORMAT, "kind, name or version in the header is empty or not "
                                    "printable UTF-8");
        for (int i = 0; i < mf->nlabels; i++)
                if (!*mf->labels[i] || !ss_mf_str_ok(mf->labels[i]))
                        FAIL(SS_ERR_FORMAT,
                             "label %d in the header is empty or not printable UTF-8", i);
        /* sections */
        const uint8_t *pl = buf + hlen;
        size_t off = 0;
        while (off < plen) {
                if (plen - off < SS_MF_SEC_HDR)
                        FAIL(SS_ERR_FORMAT, "section header cut at payload offset %zu", off);
                ss_mf_section_t s = {0};
                memcpy(s.name, pl + off, SS_MFILE_SECNAME_MAX);
                if (!memchr(s.name, '\0', SS_MFILE_SECNAME_MAX) || !s.name[0])
                        FAIL(SS_ERR_FORMAT, "bad section name at payload offset %zu", off);
                s.type = ss_get_u32(pl + off + 40);
                uint32_t reserved = ss_get_u32(pl + off + 44);
                s.count = ss_get_u64(pl + off + 48);
                s.bytes = ss_get_u64(pl + off + 56);
                size_t esz = ss_mf_type_size(s.type);
                if (!esz || reserved)
                        FAIL(SS_ERR_FORMAT, "section \"%s\": unknown type %u", s.name, s.type);
                if (s.count > UINT64_MAX / esz || s.count * esz != s.bytes)
                        FAIL(SS_ERR_FORMAT, "section \"%s\": %llu bytes for %llu x %s", s.name,
                             (unsigned long long)s.bytes, (unsigned long long)s.count,
                             ss_mf_type_name(s.type));
                off += SS_MF_SEC_HDR;
                if (s.bytes > plen - off || ss_round16((size_t)s.bytes) > plen - off)
                        FAIL(SS_ERR_FORMAT, "section \"%s\": %llu bytes overrun the payload",
                             s.name, (unsigned long long)s.bytes);
                if (ss_mfile_find(mf, s.name))
                        FAIL(SS_ERR_FORMAT, "section \"%s\" appears twice", s.name);
                s.data = pl + off;
                if (ss_mfile_push(mf, &s))
                        FAIL(SS_ERR_NOMEM, "out of memory");
                off += ss_round16((size_t)s.bytes);
        }
        return mf;
fail:
        ss_mfile_destroy(mf);
        return NULL;
}

/*
 * A buffer for a whole model file. Large ones are 2 MiB aligned and advised
 * into transparent huge pages: scoring reads weight rows at random, and with
 * 4 KiB pages nearly every row costs a TLB miss.
 */
static uint8_t *ss_mfile_alloc(size_t len)
{
        const size_t huge = (size_t)2 << 20;
        if (len < 2 * huge)
                return malloc(len ? len : 1);
        void *p = NULL;
        size_t cap = (len + huge - 1) & ~(huge - 1);
        if (posix_memalign(&p, huge, cap) != 0)
                return NULL;
        madvise(p, cap, MADV_HUGEPAGE); /* advisory: ignore failure */
        return p;
}

ss_mfile_t *ss_mfile_read(const char *path, char *errstr, size_t errstr_size)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", path, strerror(errno));
                return NULL;
        }
        struct stat st;
        if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
                fclose(f);
                ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: not a regular file", path);
                return NULL;
        }
        size_t len = (size_t)st.st_size;
        uint8_t *buf = ss_mfile_alloc(len);
        if (!buf) {
                fclose(f);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory (%zu bytes)", path,
                           len);
                return NULL;
        }
        size_t got = fread(buf, 1, len, f);
        int bad = ferror(f);
        fclose(f);
        if (bad || got != len) {
                free(buf);
                ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: read error", path);
                return NULL;
        }
        return ss_mfile_parse(buf, len, path, errstr, errstr_size);
}

const char *ss_mfile_kind(const ss_mfile_t *mf)
{
        return mf->kind;
}

const char *ss_mfile_name(const ss_mfile_t *mf)
{
        return mf->name;
}

void ss_mfile_version_reset(ss_mfile_t *mf)
{
        free(mf->version);
        mf->version = NULL;
}

const char *ss_mfile_version(const ss_mfile_t *mf)
{
        return mf->version ? mf->version : "";
}

const char *ss_mfile_payload_sha256(const ss_mfile_t *mf)
{
        return mf->sha_hex;
}

int ss_mfile_nlabels(const ss_mfile_t *mf)
{
        return mf->nlabels;
}

const char *ss_mfile_label(const ss_mfile_t *mf, int i)
{
        return i >= 0 && i < mf->nlabels ? mf->labels[i] : NULL;
}

const char *ss_mfile_path(const ss_mfile_t *mf)
{
        return mf->path;
}

size_t ss_mfile_nsections(const ss_mfile_t *mf)
{
        return mf->nsecs;
}

const char *ss_mfile_section_name(const ss_mfile_t *mf, size_t i)
{
        return i < mf->nsecs ? mf->secs[i].name : NULL;
}

const void *ss_mfile_get(const ss_mfile_t *mf, const char *section, ss_mf_type_t type,
                         uint64_t want_count, uint64_t *count, char *errstr, size_t errstr_size)
{
        const char *what = mf->path[0] ? mf->path : "model";
        const ss_mf_section_t *s = ss_mfile_find(mf, section);
        if (!s) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: missing section \"%s\"", what,
                           section);
                return NULL;
        }
        if (s->type != (uint32_t)type) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: section \"%s\" is %s, want %s",
                           what, section, ss_mf_type_name(s->type), ss_mf_type_name(type));
                return NULL;
        }
        if (want_count && s->count != want_count) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: section \"%s\" has %llu elements, want %llu", what, section,
                           (unsigned long long)s->count, (unsigned long long)want_count);
                return NULL;
        }
        if (count)
                *count = s->count;
        return s->data;
}
