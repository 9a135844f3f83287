/*
 * minilm_convert: a sentence-transformers BERT directory -> a "minilm-encoder"
 * model file (see minilm.h for the sections).
 *
 * Reads config.json (shapes), sentence_bert_config.json (max_seq_length),
 * 1_Pooling/config.json (must be mean pooling), tokenizer_config.json (must be
 * lower-casing), vocab.txt and model.safetensors. A safetensors file is an
 * 8-byte little-endian header length, a JSON header {name: {dtype, shape,
 * data_offsets: [begin, end)}} and the raw little-endian tensors; it is parsed
 * here with cJSON and every tensor is checked (dtype F32, F16 or BF16, shape
 * against config.json, byte range inside the file) before it is renamed to the
 * project's short section names and written as F32. Tensors the encoder does
 * not use (pooler.*, embeddings.position_ids) are skipped; any other unknown
 * tensor is an error, so a different architecture is never half-converted.
 * Pickled PyTorch checkpoints (pytorch_model.bin) are refused: reading them
 * means running a pickle interpreter, and the safetensors form is what the
 * model packages ship.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ss_log.h"
#include "ss_util.h"
#include "minilm.h"

typedef struct conv_ctx {
        const char *src;
        char st_path[1024];
        const uint8_t *data; /* the safetensors file */
        size_t size;
        size_t base; /* start of the tensor data */
        cJSON *header;
        ss_minilm_config_t cfg;
        ss_mfile_t *mf;
        float *tmp; /* conversion buffer for F16/BF16 */
        size_t tmp_cap;
} conv_ctx_t;

static int file_exists(const char *dir, const char *name)
{
        char p[1024];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static cJSON *read_json(const char *dir, const char *name, int required, char *errstr,
                        size_t errstr_size, int *failed)
{
        char p[1024], *buf;
        size_t len;
        *failed = 0;
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        if (!file_exists(dir, name)) {
                if (required) {
                        ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: missing", p);
                        *failed = 1;
                }
                return NULL;
        }
        if (ss_file_read_all(p, &buf, &len, errstr, errstr_size) != SS_OK) {
                *failed = 1;
                return NULL;
        }
        cJSON *o = cJSON_ParseWithLength(buf, len);
        free(buf);
        if (!o) {
                ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "%s: not valid JSON", p);
                *failed = 1;
        }
        return o;
}

static int jint(const cJSON *o, const char *k, int *out)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble ||
            v->valuedouble < 1)
                return -1;
        *out = (int)v->valuedouble;
        return 0;
}

/* Shapes and options from the directory's JSON files. */
static ss_err_t read_configs(conv_ctx_t *cx, char *errstr, size_t errstr_size)
{
        int failed;
        ss_minilm_config_t *c = &cx->cfg;
        char p[1024];
        snprintf(p, sizeof(p), "%s/config.json", cx->src);
        cJSON *o = read_json(cx->src, "config.json", 1, errstr, errstr_size, &failed);
        if (!o)
                return SS_ERR_IO;
        const char *bad = NULL;
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
        const cJSON *pe = cJSON_GetObjectItemCaseSensitive(o, "position_embedding_type");
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_eps");
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
        if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "bert"))
                bad = "model_type (only \"bert\")";
        else if (jint(o, "hidden_size", &c->dim))
                bad = "hidden_size";
        else if (jint(o, "num_hidden_layers", &c->n_layers) || c->n_layers > SS_MINILM_MAX_LAYERS)
                bad = "num_hidden_layers";
        else if (jint(o, "num_attention_heads", &c->n_heads) || c->dim % c->n_heads)
                bad = "num_attention_heads";
        else if (jint(o, "intermediate_size", &c->ffn_dim))
                bad = "intermediate_size";
        else if (jint(o, "vocab_size", &c->vocab_size))
                bad = "vocab_size";
        else if (jint(o, "max_position_embeddings", &c->max_pos))
                bad = "max_position_embeddings";
        else if (jint(o, "type_vocab_size", &c->type_vocab))
                bad = "type_vocab_size";
        else if (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu"))
                bad = "hidden_act (only \"gelu\")";
        else if (pe && (!cJSON_IsString(pe) || strcmp(pe->valuestring, "absolute")))
                bad = "position_embedding_type (only \"absolute\")";
        else if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1))
                bad = "layer_norm_eps";
        if (!bad) {
                c->ln_eps = (float)eps->valuedouble;
                c->head_dim = c->dim / c->n_heads;
        }
        cJSON_Delete(o);
        if (bad)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: missing or bad \"%s\"",
                                  p, bad);

        c->max_seq_len = c->max_pos < 512 ? c->max_pos : 512;
        o = read_json(cx->src, "sentence_bert_config.json", 0, errstr, errstr_size, &failed);
        if (failed)
                return SS_ERR_PARSE;
        if (o) {
                int m;
                if (jint(o, "max_seq_length", &m) || m < 2 || m > c->max_pos) {
                        cJSON_Delete(o);
                        return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                          "%s/sentence_bert_config.json: bad max_seq_length",
                                          cx->src);
                }
                c->max_seq_len = m;
                cJSON_Delete(o);
        } else {
                ss_warn("convert", "%s: no sentence_bert_config.json, max_seq_length %d", cx->src,
                        c->max_seq_len);
        }

        o = read_json(cx->src, "1_Pooling/config.json", 0, errstr, errstr_size, &failed);
        if (failed)
                return SS_ERR_PARSE;
        if (o) {
                const cJSON *mean = cJSON_GetObjectItemCaseSensitive(o, "pooling_mode_mean_tokens");
                const char *others[] = {"pooling_mode_cls_token", "pooling_mode_max_tokens",
                                        "pooling_mode_mean_sqrt_len_tokens"};
                int ok = cJSON_IsTrue(mean);
                for (size_t i = 0; i < 3; i++)
                        ok = ok && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, others[i]));
                cJSON_Delete(o);
                if (!ok)
                        return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                          "%s/1_Pooling/config.json: only mean pooling is "
                                          "supported",
                                          cx->src);
        }
        o = read_json(cx->src, "tokenizer_config.json", 0, errstr, errstr_size, &failed);
        if (failed)
                return SS_ERR_PARSE;
        if (o) {
                const cJSON *lc = cJSON_GetObjectItemCaseSensitive(o, "do_lower_case");
                int cased = cJSON_IsFalse(lc);
                cJSON_Delete(o);
                if (cased)
                        return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                          "%s/tokenizer_config.json: do_lower_case is false; "
                                          "only uncased WordPiece is supported",
                                          cx->src);
        }
        return SS_OK;
}

static float half_to_float(uint16_t h)
{
        uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, u;
        if (exp == 0) {
                if (man == 0) {
                        u = sign;
                } else {
                        exp = 127 - 15 + 1;
                        while (!(man & 0x400)) {
                                man <<= 1;
                                exp--;
                        }
                        u = sign | (exp << 23) | ((man & 0x3FF) << 13);
                }
        } else if (exp == 31) {
                u = sign | 0x7F800000u | (man << 13);
        } else {
                u = sign | ((exp + 127 - 15) << 23) | (man << 13);
        }
        float f;
        memcpy(&f, &u, 4);
        return f;
}

/* Checks one tensor of the header and adds it as section `sec` with the wanted shape. */
static ss_err_t add_tensor(conv_ctx_t *cx, const char *tname, const char *sec, int rows, int cols,
                           char *errstr, size_t errstr_size)
{
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(cx->header, tname);
        char alt[256];
        if (!t) {
                snprintf(alt, sizeof(alt), "bert.%s", tname);
                t = cJSON_GetObjectItemCaseSensitive(cx->header, alt);
        }
        if (!t)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: tensor %s is missing",
                                  cx->st_path, tname);
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
            cJSON_GetArraySize(offs) != 2)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: tensor %s: malformed header entry", cx->st_path, tname);
        size_t esize;
        if (!strcmp(dt->valuestring, "F32"))
                esize = 4;
        else if (!strcmp(dt->valuestring, "F16") || !strcmp(dt->valuestring, "BF16"))
                esize = 2;
        else
                return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                  "%s: tensor %s has dtype %s (F32, F16 or BF16 expected)",
                                  cx->st_path, tname, dt->valuestring);
        int nd = cJSON_GetArraySize(shape);
        int want_nd = rows > 0 ? 2 : 1;
        int ok = nd == want_nd;
        if (ok && want_nd == 2)
                ok = cJSON_GetArrayItem(shape, 0)->valuedouble == rows &&
                     cJSON_GetArrayItem(shape, 1)->valuedouble == cols;
        else if (ok)
                ok = cJSON_GetArrayItem(shape, 0)->valuedouble == cols;
        if (!ok) {
                char got[128] = "";
                size_t used = 0;
                for (int i = 0; i < nd && used < sizeof(got) - 16; i++)
                        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%.0f",
                                                 i ? ", " : "",
                                                 cJSON_GetArrayItem(shape, i)->valuedouble);
                if (rows > 0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                          "%s: tensor %s has shape [%s], config.json implies "
                                          "[%d, %d]",
                                          cx->st_path, tname, got, rows, cols);
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: tensor %s has shape [%s], config.json implies [%d]",
                                  cx->st_path, tname, got, cols);
        }
        size_t count = (size_t)(rows > 0 ? rows : 1) * (size_t)cols;
        double b = cJSON_GetArrayItem(offs, 0)->valuedouble;
        double e = cJSON_GetArrayItem(offs, 1)->valuedouble;
        if (b < 0 || e < b || (size_t)e - (size_t)b != count * esize ||
            cx->base + (size_t)e > cx->size)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: tensor %s: data_offsets [%.0f, %.0f) do not hold %zu "
                                  "elements inside the file",
                                  cx->st_path, tname, b, e, count);
        const uint8_t *src = cx->data + cx->base + (size_t)b;
        const float *f32;
        if (esize == 4) {
                if (cx->tmp_cap < count) {
                        free(cx->tmp);
                        cx->tmp = malloc(count * sizeof(float));
                        cx->tmp_cap = cx->tmp ? count : 0;
                        if (!cx->tmp)
                                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                                  "out of memory");
                }
                memcpy(cx->tmp, src, count * 4); /* unaligned in the file; little-endian host */
                f32 = cx->tmp;
        } else {
                if (cx->tmp_cap < count) {
                        free(cx->tmp);
                        cx->tmp = malloc(count * sizeof(float));
                        cx->tmp_cap = cx->tmp ? count : 0;
                        if (!cx->tmp)
                                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                                  "out of memory");
                }
                int bf = !strcmp(dt->valuestring, "BF16");
                for (size_t i = 0; i < count; i++) {
                        uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
                        if (bf) {
                                uint32_t u = (uint32_t)h << 16;
                                memcpy(&cx->tmp[i], &u, 4);
                        } else {
                                cx->tmp[i] = half_to_float(h);
                        }
                }
                f32 = cx->tmp;
        }
        return ss_mfile_add(cx->mf, sec, SS_MF_F32, f32, count, errstr, errstr_size);
}

/* Every tensor name the encoder uses, mapped to its section; the rest must be skippable. */
static ss_err_t add_all(conv_ctx_t *cx, char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &cx->cfg;
        int D = c->dim, F = c->ffn_dim;
        ss_err_t err;
#define ADD(t, s, r, k)                                                                            \
        do {                                                                                       \
                if ((err = add_tensor(cx, t, s, r, k, errstr, errstr_size)) != SS_OK)              \
                        return err;                                                                \
        } while (0)
        ADD("embeddings.word_embeddings.weight", "emb.word", c->vocab_size, D);
        ADD("embeddings.position_embeddings.weight", "emb.pos", c->max_pos, D);
        ADD("embeddings.token_type_embeddings.weight", "emb.type", c->type_vocab, D);
        ADD("embeddings.LayerNorm.weight", "emb.ln.w", 0, D);
        ADD("embeddings.LayerNorm.bias", "emb.ln.b", 0, D);
        static const struct {
                const char *hf, *sec;
                int rows, cols; /* 0 = D, -1 = F */
        } map[] = {
            {"attention.self.query.weight", "q.w", 0, 0},
            {"attention.self.query.bias", "q.b", 1, 0},
            {"attention.self.key.weight", "k.w", 0, 0},
            {"attention.self.key.bias", "k.b", 1, 0},
            {"attention.self.value.weight", "v.w", 0, 0},
            {"attention.self.value.bias", "v.b", 1, 0},
            {"attention.output.dense.weight", "ao.w", 0, 0},
            {"attention.output.dense.bias", "ao.b", 1, 0},
            {"attention.output.LayerNorm.weight", "ln1.w", 1, 0},
            {"attention.output.LayerNorm.bias", "ln1.b", 1, 0},
            {"intermediate.dense.weight", "ff1.w", -1, 0},
            {"intermediate.dense.bias", "ff1.b", 1, -1},
            {"output.dense.weight", "ff2.w", 0, -1},
            {"output.dense.bias", "ff2.b", 1, 0},
            {"output.LayerNorm.weight", "ln2.w", 1, 0},
            {"output.LayerNorm.bias", "ln2.b", 1, 0},
        };
        for (int i = 0; i < c->n_layers; i++) {
                for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
                        char t[256], s[SS_MFILE_SECNAME_MAX];
                        snprintf(t, sizeof(t), "encoder.layer.%d.%s", i, map[k].hf);
                        snprintf(s, sizeof(s), "L%d.%s", i, map[k].sec);
                        int rows = map[k].rows == 1 ? 0 : (map[k].rows == -1 ? F : D);
                        int cols = map[k].cols == -1 ? F : D;
                        ADD(t, s, rows, cols);
                }
        }
#undef ADD
        /* anything else in the file must be a tensor the encoder does not need */
        const cJSON *it;
        cJSON_ArrayForEach(it, cx->header)
        {
                const char *n = it->string;
                if (!strncmp(n, "bert.", 5))
                        n += 5;
                if (!strcmp(it->string, "__metadata__") || !strcmp(n, "embeddings.position_ids") ||
                    !strncmp(n, "pooler.", 7))
                        continue;
                int known = !strncmp(n, "embeddings.", 11);
                int layer;
                char rest[200];
                /* the layer number is range-checked on the next line */
                if (sscanf(n, "encoder.layer.%d.%199s", &layer, rest) == 2) // NOLINT(cert-err34-c)
                        known = layer >= 0 && layer < c->n_layers;
                if (!known)
                        return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                          "%s: unexpected tensor %s (not a BERT encoder of %d "
                                          "layers?)",
                                          cx->st_path, it->string, c->n_layers);
        }
        return SS_OK;
}

static ss_err_t add_config(conv_ctx_t *cx, char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &cx->cfg;
        char sha[65];
        ss_sha256_hex(cx->data, cx->size, sha);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "dim", c->dim);
        cJSON_AddNumberToObject(o, "n_layers", c->n_layers);
        cJSON_AddNumberToObject(o, "n_heads", c->n_heads);
        cJSON_AddNumberToObject(o, "ffn_dim", c->ffn_dim);
        cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
        cJSON_AddNumberToObject(o, "max_pos", c->max_pos);
        cJSON_AddNumberToObject(o, "type_vocab", c->type_vocab);
        cJSON_AddNumberToObject(o, "ln_eps", c->ln_eps);
        cJSON_AddNumberToObject(o, "max_seq_len", c->max_seq_len);
        cJSON_AddStringToObject(o, "pooling", "mean");
        cJSON_AddStringToObject(o, "source", "model.safetensors");
        cJSON_AddStringToObject(o, "source_sha256", sha);
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!txt)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        ss_err_t err =
            ss_mfile_add(cx->mf, "config", SS_MF_STR, txt, strlen(txt), errstr, errstr_size);
        free(txt);
        return err;
}

ss_err_t ss_minilm_convert(const char *src_dir, const char *out_path, const char *name,
                           char *errstr, size_t errstr_size)
{
        conv_ctx_t cx;
        memset(&cx, 0, sizeof(cx));
        cx.src = src_dir;
        char *buf = NULL, *vocab = NULL;
        size_t vlen;
        ss_err_t err;
        snprintf(cx.st_path, sizeof(cx.st_path), "%s/model.safetensors", src_dir);
        if (!file_exists(src_dir, "model.safetensors")) {
                if (file_exists(src_dir, "pytorch_model.bin"))
                        return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                          "%s holds only pytorch_model.bin, a pickled PyTorch "
                                          "checkpoint, which is not read (unpickling runs "
                                          "code); save it as model.safetensors first, e.g. "
                                          "with safetensors.torch.save_file(torch.load(...))",
                                          src_dir);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: missing", cx.st_path);
        }
        if ((err = read_configs(&cx, errstr, errstr_size)) != SS_OK)
                return err;
        char vpath[1024];
        snprintf(vpath, sizeof(vpath), "%s/vocab.txt", src_dir);
        if ((err = ss_file_read_all(vpath, &vocab, &vlen, errstr, errstr_size)) != SS_OK)
                return err;
        char e2[256];
        ss_wp_t *wp = ss_wp_new(vocab, vlen, e2, sizeof(e2));
        if (!wp) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: %s", vpath, e2);
                goto done;
        }
        int vn = ss_wp_vocab_size(wp);
        ss_wp_destroy(wp);
        if (vn != cx.cfg.vocab_size) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                 "%s has %d tokens, config.json says vocab_size %d", vpath, vn,
                                 cx.cfg.vocab_size);
                goto done;
        }
        size_t size;
        if ((err = ss_file_read_all(cx.st_path, &buf, &size, errstr, errstr_size)) != SS_OK)
                goto done;
        cx.data = (const uint8_t *)buf;
        cx.size = size;
        uint64_t hlen = 0;
        for (int i = 0; i < 8 && size >= 8; i++)
                hlen |= (uint64_t)cx.data[i] << (8 * i);
        if (size < 8 || hlen > size - 8) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                 "%s: header length %llu does not fit in the file (%zu bytes)",
                                 cx.st_path, (unsigned long long)hlen, size);
                goto done;
        }
        cx.base = 8 + (size_t)hlen;
        cx.header = cJSON_ParseWithLength((const char *)cx.data + 8, (size_t)hlen);
        if (!cJSON_IsObject(cx.header)) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                 "%s: header is not a JSON object", cx.st_path);
                goto done;
        }
        cx.mf = ss_mfile_new(SS_MINILM_ENCODER_KIND, name, NULL);
        if (!cx.mf) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto done;
        }
        if ((err = add_config(&cx, errstr, errstr_size)) != SS_OK ||
            (err = ss_mfile_add(cx.mf, "vocab", SS_MF_STR, vocab, vlen, errstr, errstr_size)) !=
                SS_OK ||
            (err = add_all(&cx, errstr, errstr_size)) != SS_OK)
                goto done;
        err = ss_mfile_write(cx.mf, out_path, errstr, errstr_size);
done:
        cJSON_Delete(cx.header);
        ss_mfile_destroy(cx.mf);
        free(cx.tmp);
        free(buf);
        free(vocab);
        return err;
}
