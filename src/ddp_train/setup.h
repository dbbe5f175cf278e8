/* setup.h: what ddp_train's ranks check and load before training (setup.c) and the stop requests
 * it honours. */
#ifndef TDP_TRAIN_SETUP_H
#define TDP_TRAIN_SETUP_H

#include <signal.h>

#include "cfg.h"
#include "data.h"
#include "gilcal.h"
#include "model.h"
#include "options.h"
#include "util.h"

/* The program's name, the start of every message. */
extern const char *const prog;

/* How a run ends (RUN_DONE, RUN_STOPPED) and its exit status (EXIT_STOPPED, cmdline_exit_code):
 * cmdline.h. */

/* The stop request this process received (0: none); set by the handlers. */
extern volatile sig_atomic_t stop_signal;

int install_stop_handlers(tdp_err_t *err);
/* The name of the stop request that stopped this process. */
const char *stop_name(void);
/* A stop request during set-up ends the run before training: nothing trained, nothing saved. */
void stopped_in_setup(void);

/* The number of processes mpirun started, from its environment (1 when not under mpirun). */
int launcher_world_size(void);

typedef struct {
    options_t o;
    char model_path[4096];
    model_cfg_t cfg;
    model_t model;
    int epochs, batch;
    double lr, mom, wd;
    dataset_t train, test;
    int synthetic;
    char gilcal_path[4096]; /* --gil: the calibration file read */
    gilcal_t gilcal;
} setup_t;

/* Everything a rank checks and loads before training. */
int setup(int argc, char **argv, setup_t *s, tdp_err_t *err);
/* --help or --version: what the user asked to see instead of a run. */
void print_info(const options_t *o);

#endif
