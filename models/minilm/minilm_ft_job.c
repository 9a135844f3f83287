/*
 * minilm_ft_job: the `minilm_ft` kind's trainer as the registry of model kinds calls it
 * (ss_model_train_fn, model_impl.h). Everything it reads from the configuration
 * (model.minilm_ft.*, the encoder) is read by ss_minilm_ft_train_from_config(); the
 * encoder is fine-tuned on the fit rows, with early stopping on the tune split.
 */
#include "minilm_ft_train.h"
#include "model_impl.h"

int ss_minilm_ft_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                           int *has_tune)
{
        return ss_minilm_ft_train_from_config(job->cfg, job->fit, job->tune, job->seed, mf, hyper,
                                              tune, has_tune);
}
