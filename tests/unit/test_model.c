/*
 * test_model: the registry of model kinds agrees with the key table: model.kind
 * lists exactly the registered kinds, every registered kind has its keys
 * (model.<kind>.*) in the table, and every model.<x>.* key belongs to a
 * registered kind. Also the label vocabulary (ss_types.h).
 */
#include <string.h>

#include "model_impl.h"
#include "ss_config.h"
#include "ss_test.h"

static const ss_conf_def_t *find_key(const char *name)
{
        for (const ss_conf_def_t *d = ss_conf_table; d->name; d++)
                if (!strcmp(d->name, name))
                        return d;
        return NULL;
}

static void test_kinds_match_key_table(void)
{
        size_t n;
        const ss_model_entry_t *e = ss_model_entries(&n);
        CHECK(n >= 3);
        const ss_conf_def_t *kind = find_key("model.kind");
        CHECK(kind && kind->type == SS_CONF_ENUM);
        if (!kind)
                return;
        /* model.kind's values, in order, are the registry's kinds */
        char want[256] = "";
        for (size_t i = 0; i < n; i++) {
                CHECK(e[i].ops && e[i].train && e[i].config_prefix);
                CHECK(ss_model_entry_find(e[i].ops->kind) == &e[i]);
                CHECK(ss_model_kind_find(e[i].ops->kind) == e[i].ops);
                if (i)
                        strcat(want, "|");
                strcat(want, e[i].ops->kind);
                int keys = 0;
                for (const ss_conf_def_t *d = ss_conf_table; d->name; d++)
                        keys += !strncmp(d->name, e[i].config_prefix, strlen(e[i].config_prefix));
                if (!keys)
                        fprintf(stderr, "kind %s: no %s* key in the table\n", e[i].ops->kind,
                                e[i].config_prefix);
                CHECK(keys > 0);
        }
        if (strcmp(kind->enums, want))
                fprintf(stderr, "model.kind lists \"%s\", the registry \"%s\"\n", kind->enums,
                        want);
        CHECK_STR_EQ(kind->enums, want);
        CHECK(ss_model_entry_find("svm") == NULL);
        /* every model.<x>.<key> belongs to a registered kind */
        for (const ss_conf_def_t *d = ss_conf_table; d->name; d++) {
                if (strncmp(d->name, "model.", 6) || !strchr(d->name + 6, '.'))
                        continue;
                int owned = 0;
                for (size_t i = 0; i < n; i++)
                        owned |= !strncmp(d->name, e[i].config_prefix, strlen(e[i].config_prefix));
                if (!owned)
                        fprintf(stderr, "key %s belongs to no registered kind\n", d->name);
                CHECK(owned);
        }
}

static void test_labels(void)
{
        CHECK_STR_EQ(ss_label_name(SS_LABEL_NEUTRAL), "neutral");
        CHECK(ss_label_name(SS_NUM_CLASSES) == NULL && ss_label_name(-1) == NULL);
        CHECK(ss_label_parse("positive", 8) == SS_LABEL_POSITIVE);
        CHECK(ss_label_parse("positiv", 7) == -1);
        CHECK(ss_probs_argmax((const float[]){0.2f, 0.3f, 0.5f}) == 2);
        CHECK(ss_probs_argmax((const float[]){0.4f, 0.4f, 0.2f}) == 0); /* ties: first */
}

int main(void)
{
        test_kinds_match_key_table();
        test_labels();
        return ss_test_finish();
}
