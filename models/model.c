/*
 * model: the registry of model kinds (kind -> inference, trainer, configuration
 * keys) and the thin layer that every caller sees (model.h). Loading reads and
 * validates the container, checks that its labels are the project's three
 * classes in order, and hands it to the kind; scoring checks its arguments and
 * forwards to the kind. The model keeps the container so that kinds can point
 * into it.
 */
#include "model_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

struct ss_model {
        const ss_model_kind_t *kind;
        void *impl;
        ss_mfile_t *mf;
        int forked;         /* mf belongs to the model this one was forked from */
        double temperature; /* applied after the kind's softmax; 1 = none */
        ss_calib_top_t top; /* applied after the temperature; identity = none */
};

/* The registry of model kinds: one line per kind (inference, trainer, configuration keys). */
static const ss_model_entry_t ss_model_registry[] = {
    {&ss_logreg_kind, ss_logreg_train_job, "model.logreg.", 1},
    {&ss_cnn_kind, ss_cnn_train_job, "model.cnn.", 0},
    {&ss_minilm_kind, ss_minilm_train_job, "model.minilm.", 1},
    {&ss_minilm_ft_kind, ss_minilm_ft_train_job, "model.minilm_ft.", 0},
};

void ss_softmax(float *row, int n)
{
        float mx = row[0];
        for (int i = 1; i < n; i++)
                if (row[i] > mx)
                        mx = row[i];
        float sum = 0;
        for (int i = 0; i < n; i++) {
                row[i] = expf(row[i] - mx);
                sum += row[i];
        }
        for (int i = 0; i < n; i++)
                row[i] /= sum;
}

const ss_model_entry_t *ss_model_entries(size_t *n)
{
        *n = sizeof(ss_model_registry) / sizeof(ss_model_registry[0]);
        return ss_model_registry;
}

const ss_model_entry_t *ss_model_entry_find(const char *kind)
{
        for (size_t i = 0; i < sizeof(ss_model_registry) / sizeof(ss_model_registry[0]); i++)
                if (!strcmp(ss_model_registry[i].ops->kind, kind))
                        return &ss_model_registry[i];
        return NULL;
}

const ss_model_kind_t *ss_model_kind_find(const char *kind)
{
        const ss_model_entry_t *e = ss_model_entry_find(kind);
        return e ? e->ops : NULL;
}

/* 1 if mf holds a section of that name. */
static int model_has_section(const ss_mfile_t *mf, const char *name)
{
        for (size_t i = 0; i < ss_mfile_nsections(mf); i++)
                if (!strcmp(ss_mfile_section_name(mf, i), name))
                        return 1;
        return 0;
}

/* The top-label map from its section, the identity without one; -1 with a message when the
 * section is malformed. */
static int model_toplabel_load(ss_model_t *m, const ss_mfile_t *mf, const char *what, char *errstr,
                               size_t errstr_size)
{
        char sub[256];
        ss_calib_top_identity(&m->top);
        if (!model_has_section(mf, SS_MODEL_TOPLABEL_SECTION))
                return 0;
        uint64_t cnt = 0;
        const float *v = ss_mfile_get(mf, SS_MODEL_TOPLABEL_SECTION, SS_MF_F32, 2 * SS_NUM_CLASSES,
                                      &cnt, sub, sizeof(sub));
        if (!v) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: %s", what, sub);
                return -1;
        }
        for (int k = 0; k < SS_NUM_CLASSES; k++) {
                m->top.a[k] = v[2 * k];
                m->top.b[k] = v[2 * k + 1];
        }
        m->top.rule = SS_CALIB_TOP_RULE_TIE; /* a file from before the rule section */
        if (model_has_section(mf, SS_MODEL_TOPLABEL_RULE_SECTION)) {
                const uint32_t *r = ss_mfile_get(mf, SS_MODEL_TOPLABEL_RULE_SECTION, SS_MF_U32, 1,
                                                 &cnt, sub, sizeof(sub));
                if (!r || *r > SS_CALIB_TOP_RULE_FLOOR) {
                        ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: section %s: %s", what,
                                   SS_MODEL_TOPLABEL_RULE_SECTION,
                                   r ? "unknown rule (want 0 or 1)" : sub);
                        return -1;
                }
                m->top.rule = (int)*r;
        }
        int bad = ss_calib_top_check(&m->top);
        if (bad >= 0) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: section %s: class %s holds a %g, b %g (want 0 < a <= 100, |b| "
                           "<= 100)",
                           what, SS_MODEL_TOPLABEL_SECTION, ss_label_name(bad), m->top.a[bad],
                           m->top.b[bad]);
                return -1;
        }
        return 0;
}

ss_model_t *ss_model_from_mfile(ss_mfile_t *mf, char *errstr, size_t errstr_size)
{
        const char *what = ss_mfile_path(mf)[0] ? ss_mfile_path(mf) : "model";
        int ok = ss_mfile_nlabels(mf) == SS_NUM_CLASSES;
        for (int i = 0; ok && i < SS_NUM_CLASSES; i++)
                ok = !strcmp(ss_mfile_label(mf, i), ss_label_name(i));
        if (!ok) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: labels are not [negative, neutral, positive]", what);
                ss_mfile_destroy(mf);
                return NULL;
        }
        const ss_model_kind_t *kind = ss_model_kind_find(ss_mfile_kind(mf));
        if (!kind) {
                ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED, "%s: unknown model kind \"%s\"",
                           what, ss_mfile_kind(mf));
                ss_mfile_destroy(mf);
                return NULL;
        }
        ss_model_t *m = calloc(1, sizeof(*m));
        if (!m) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", what);
                ss_mfile_destroy(mf);
                return NULL;
        }
        m->kind = kind;
        m->mf = mf;
        m->temperature = 1;
        uint64_t cnt = 0;
        char ignored[8];
        const float *t = ss_mfile_get(mf, SS_MODEL_TEMPERATURE_SECTION, SS_MF_F32, 1, &cnt, ignored,
                                      sizeof(ignored));
        if (t) {
                if (!(*t > 0.01f && *t < 100.0f)) {
                        ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                   "%s: section %s holds %g, not a temperature in (0.01, 100)",
                                   what, SS_MODEL_TEMPERATURE_SECTION, (double)*t);
                        ss_mfile_destroy(mf);
                        free(m);
                        return NULL;
                }
                m->temperature = *t;
        }
        if (model_toplabel_load(m, mf, what, errstr, errstr_size)) {
                ss_mfile_destroy(mf);
                free(m);
                return NULL;
        }
        m->impl = kind->load(mf, errstr, errstr_size);
        if (!m->impl) {
                ss_mfile_destroy(mf);
                free(m);
                return NULL;
        }
        return m;
}

ss_model_t *ss_model_load(const char *path, char *errstr, size_t errstr_size)
{
        ss_mfile_t *mf = ss_mfile_read(path, errstr, errstr_size);
        if (!mf)
                return NULL;
        return ss_model_from_mfile(mf, errstr, errstr_size);
}

ss_model_t *ss_model_fork(const ss_model_t *m, char *errstr, size_t errstr_size)
{
        ss_model_t *f = calloc(1, sizeof(*f));
        if (!f) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "model fork: out of memory");
                return NULL;
        }
        f->kind = m->kind;
        f->mf = m->mf;
        f->forked = 1;
        f->temperature = m->temperature;
        f->top = m->top;
        f->impl = m->kind->load(m->mf, errstr, errstr_size);
        if (!f->impl) {
                free(f);
                return NULL;
        }
        return f;
}

void ss_model_destroy(ss_model_t *m)
{
        if (!m)
                return;
        m->kind->destroy(m->impl);
        if (!m->forked)
                ss_mfile_destroy(m->mf);
        free(m);
}

ss_err_t ss_model_score_batch(ss_model_t *m, const char *const *texts, const size_t *lens, size_t n,
                              float *probs_out, ss_input_stats_t *stats_out, char *errstr,
                              size_t errstr_size)
{
        if (n == 0)
                return SS_OK;
        if (!m || !texts || !lens || !probs_out)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "ss_model_score_batch: NULL argument");
        ss_err_t err = m->kind->score_batch(m->impl, texts, lens, n, probs_out, stats_out, errstr,
                                            errstr_size);
        if (!err && m->temperature != 1)
                ss_calib_apply(probs_out, n, m->temperature);
        if (!err)
                ss_calib_top_apply(&m->top, probs_out, n);
        return err;
}

double ss_model_temperature(const ss_model_t *m)
{
        return m->temperature;
}

void ss_model_set_temperature(ss_model_t *m, double t)
{
        m->temperature = t > 0 ? t : 1;
}

void ss_model_toplabel(const ss_model_t *m, ss_calib_top_t *out)
{
        *out = m->top;
}

ss_err_t ss_model_score_raw(ss_model_t *m, const char *const *texts, const size_t *lens, size_t n,
                            size_t batch, float *probs_out, char *errstr, size_t errstr_size)
{
        double t = m->temperature;
        ss_calib_top_t top = m->top;
        m->temperature = 1;
        ss_calib_top_identity(&m->top);
        ss_err_t err = SS_OK;
        if (batch == 0)
                batch = 512;
        for (size_t lo = 0; lo < n && !err; lo += batch) {
                size_t nb = n - lo < batch ? n - lo : batch;
                err = ss_model_score_batch(m, texts + lo, lens + lo, nb,
                                           probs_out + lo * SS_NUM_CLASSES, NULL, errstr,
                                           errstr_size);
        }
        m->temperature = t;
        m->top = top;
        return err;
}

const char *ss_model_kind(const ss_model_t *m)
{
        return m->kind->kind;
}

const char *ss_model_name(const ss_model_t *m)
{
        return ss_mfile_name(m->mf);
}

const char *ss_model_version(const ss_model_t *m)
{
        return ss_mfile_version(m->mf);
}

const ss_mfile_t *ss_model_mfile(const ss_model_t *m)
{
        return m->mf;
}
