/* resume.h: the run's configuration as canonical text (what the ranks of a DDP run agree on and a
 * checkpoint records), the checkpoint settings of the trainer, and the resume from a checkpoint
 * (resume.c). */
#ifndef TDP_TRAIN_RESUME_H
#define TDP_TRAIN_RESUME_H

#include "checkpoint.h"
#include "runconfig.h"
#include "setup.h"
#include "train.h"

/* What a checkpoint of this run must match (world: every worker of the run), its record
 * included once described. When describe is set (every DDP run, and a run that resumes or writes
 * checkpoints), describe the run (run_config_all, the checkpoint record) and read the header of
 * the checkpoint --resume names into resumed. */
int run_config_make(const setup_t *s, int world, int describe, ckpt_expect_t *want,
                    ckpt_header_t *resumed, tdp_err_t *err);
/* The whole configuration the ranks of a DDP run agree on (empty until described). */
const runconfig_t *run_config_all(void);
/* The trainer's checkpoint settings (want: run_config_make's) and its stop requests. */
void run_config_attach(trainer_t *t, const ckpt_expect_t *want, const options_t *o, int rank);
/* Load the checkpoint whose header every rank read and agreed on (h0) into the trainer: the
 * weights, the momentum, the position and the epoch's running sums. */
int resume_from(const setup_t *s, trainer_t *t, const ckpt_expect_t *want, const ckpt_header_t *h0,
                int rank, tdp_err_t *err);
void run_config_free(void);

#endif
