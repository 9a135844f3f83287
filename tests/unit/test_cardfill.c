/* cardfill: a card from a real (small) model with every distribution present and counts
 * summing to n. */
#include <unistd.h>

#include "cardfill.h"
#include "logreg.h"
#include "model_impl.h"
#include "ss_test.h"
#include "ss_util.h"

/* First n rows of a real data file. */
static ss_dataset_t *head_of(const char *rel, size_t n)
{
        char path[512], err[512];
        ss_dataset_t *all =
            ss_dataset_load(ss_test_src_path(rel, path, sizeof(path)), err, sizeof(err));
        if (!all) {
                fprintf(stderr, "%s\n", err);
                return NULL;
        }
        ss_dataset_t *ds = ss_dataset_new();
        for (size_t i = 0; i < n && i < all->n; i++)
                ss_dataset_add(ds, all->ids[i], all->texts[i], all->lens[i], all->labels[i],
                               all->lines[i]);
        snprintf(ds->path, sizeof(ds->path), "%s", all->path);
        memcpy(ds->sha256, all->sha256, sizeof(ds->sha256));
        ss_dataset_destroy(all);
        return ds;
}

static int64_t sum_counts(const cJSON *arr)
{
        int64_t s = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) s += (int64_t)it->valuedouble;
        return s;
}

static void test_card_from_model(void)
{
        char err[512], mpath[128], cpath[160];
        ss_dataset_t *train = head_of("data/semeval-train.tsv", 600);
        ss_dataset_t *val = head_of("data/semeval-2016test.tsv", 300);
        CHECK(train && val);
        if (!train || !val)
                return;
        ss_logreg_train_config_t tc;
        ss_logreg_train_config_default(&tc);
        tc.model.feat.dim_bits = 14;
        tc.model.vocab_bits = 14;
        tc.max_iter = 20;
        ss_logreg_t *lr;
        CHECK(ss_logreg_train(&tc, train, &lr, NULL, NULL, err, sizeof(err)) == SS_OK);
        ss_mfile_t *mf = ss_mfile_new("logreg", "card-test", NULL);
        CHECK(ss_logreg_save(&lr->cfg, &lr->w, mf, err, sizeof(err)) == SS_OK);
        ss_logreg_destroy(lr);
        snprintf(mpath, sizeof(mpath), "/tmp/ss_test_card_%d.ssm", (int)getpid());
        CHECK(ss_mfile_write(mf, mpath, err, sizeof(err)) == SS_OK);
        ss_mfile_destroy(mf);
        ss_model_t *m = ss_model_load(mpath, err, sizeof(err));
        CHECK(m != NULL);
        if (!m)
                return;

        ss_card_t card;
        ss_card_init(&card);
        card.hyperparameters = cJSON_CreateObject();
        cJSON_AddNumberToObject(card.hyperparameters, "l2", tc.l2);
        /* batch 7 does not divide 300: the last batch is partial */
        CHECK(ss_cardfill_evaluate(m, val, 7, &card.validation_eval, &card.ref, NULL, err,
                                   sizeof(err)) == SS_OK);
        CHECK(ss_cardfill_model(&card, m, mpath, err, sizeof(err)) == SS_OK);
        ss_cardfill_data(&card.training, train);
        ss_cardfill_data(&card.validation, val);
        card.created_at_ms = 1764056400123LL;
        ss_card_git_commit(NULL, card.git_commit, sizeof(card.git_commit));
        CHECK(card.ref.n == 300 && card.validation_eval.n == 300);
        ss_card_path(mpath, cpath, sizeof(cpath));
        CHECK(ss_card_write(&card, cpath, err, sizeof(err)) == SS_OK);

        char *text = NULL;
        CHECK(ss_file_read_all(cpath, &text, NULL, err, sizeof(err)) == SS_OK);
        cJSON *root = text ? cJSON_Parse(text) : NULL;
        free(text);
        CHECK(root != NULL);
        if (!root)
                return;
        CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(root, "format")),
                     "sentistream-model-card/1");
        const cJSON *mo = cJSON_GetObjectItem(root, "model");
        CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(mo, "kind")), "logreg");
        CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(mo, "version")), ss_model_version(m));
        char sha[65];
        ss_sha256_file_hex(mpath, sha, NULL, 0);
        CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(mo, "file_sha256")), sha);
        CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(root, "created_at")),
                     "2025-11-25T07:40:00.123Z");
        CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(root, "git_commit")) != NULL);
        CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "hyperparameters"), "l2") != NULL);
        const cJSON *td = cJSON_GetObjectItem(root, "training_data");
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(td, "n")) == 600);
        CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(td, "sha256"))) == 64);
        /* validation metrics consistent with the confusion matrix */
        const cJSON *vm = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "metrics"), "validation");
        const cJSON *conf = cJSON_GetObjectItem(vm, "confusion");
        CHECK(cJSON_GetArraySize(conf) == 3);
        int64_t total = 0, diag = 0;
        for (int t = 0; t < 3; t++) {
                const cJSON *row = cJSON_GetArrayItem(conf, t);
                total += sum_counts(row);
                diag += (int64_t)cJSON_GetArrayItem(row, t)->valuedouble;
        }
        CHECK(total == 300);
        CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(vm, "accuracy")), (double)diag / 300,
                   1e-12);
        CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(vm, "per_class"), "neutral") != NULL);
        /* labels */
        const cJSON *labels = cJSON_GetObjectItem(root, "labels");
        CHECK(cJSON_GetArraySize(labels) == 3);
        CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetArrayItem(labels, 0)), "negative");
        /* every distribution, counts summing to n */
        const cJSON *ref = cJSON_GetObjectItem(root, "reference");
        CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(ref, "split")), "validation");
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(ref, "n")) == 300);
        static const char *const want[] = {
            "predicted_class", "prob.negative",     "prob.neutral",
            "prob.positive",   "input.n_tokens",    "input.unk_share",
            "input.has_url",   "input.has_mention", "input.has_emoji"};
        const cJSON *dists = cJSON_GetObjectItem(ref, "distributions");
        CHECK(cJSON_GetArraySize(dists) == 9);
        for (int i = 0; i < 9; i++) {
                const cJSON *d = cJSON_GetArrayItem(dists, i);
                CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(d, "name")), want[i]);
                const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(d, "kind"));
                const cJSON *counts = cJSON_GetObjectItem(d, "counts");
                CHECK(sum_counts(counts) == 300);
                if (kind && !strcmp(kind, "histogram")) {
                        const cJSON *edges = cJSON_GetObjectItem(d, "edges");
                        CHECK(cJSON_GetArraySize(edges) == cJSON_GetArraySize(counts) + 1);
                        double prev = -1e300;
                        const cJSON *e;
                        cJSON_ArrayForEach(e, edges)
                        {
                                CHECK(e->valuedouble > prev);
                                prev = e->valuedouble;
                        }
                } else {
                        CHECK_STR_EQ(kind, "categorical");
                        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(d, "categories")) ==
                              cJSON_GetArraySize(counts));
                }
        }
        /* predicted_class counts = column sums of the confusion matrix */
        const cJSON *pc = cJSON_GetObjectItem(cJSON_GetArrayItem(dists, 0), "counts");
        for (int c = 0; c < 3; c++) {
                int64_t col = 0;
                for (int t = 0; t < 3; t++)
                        col += (int64_t)cJSON_GetArrayItem(cJSON_GetArrayItem(conf, t), c)
                                   ->valuedouble;
                CHECK((int64_t)cJSON_GetArrayItem(pc, c)->valuedouble == col);
        }
        /* prob.unk_share edges as in the contract */
        const cJSON *ue = cJSON_GetObjectItem(cJSON_GetArrayItem(dists, 5), "edges");
        CHECK_NEAR(cJSON_GetArrayItem(ue, 6)->valuedouble, 1.0001, 1e-12);
        /* some of the first 300 validation tweets hold a URL and a mention */
        const cJSON *url = cJSON_GetObjectItem(cJSON_GetArrayItem(dists, 6), "counts");
        CHECK(cJSON_GetArrayItem(url, 1)->valuedouble > 0);
        cJSON_Delete(root);
        ss_card_clear(&card);
        ss_model_destroy(m);
        unlink(mpath);
        unlink(cpath);
        ss_dataset_destroy(train);
        ss_dataset_destroy(val);
}

int main(void)
{
        test_card_from_model();
        return ss_test_finish();
}
