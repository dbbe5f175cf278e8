/* gilcal.h: the costs the emulated interpreter lock (gil.h) holds it for, calibrated on a machine
 * against real CPython threads (scripts/gil-calibrate, which runs scripts/py/gil_probe.py), and
 * the busy work that spends them.
 *
 * File format (models/gil-default.cal is the shipped one): one `KEY = VALUE` per line, VALUE a
 * real in microseconds (the project's number rule, argnum.h) within [0, 1e6], the two factors
 * (contended_factor, loop_contended_factor, the last two keys) within [1, 100]; `#` starts a
 * comment; blank lines are ignored. Every key below must appear exactly once; an unknown key, a
 * missing `=`, a repeated or missing key, or a bad number is refused as "FILE:LINE: ..." (a missing
 * key as "FILE: KEY missing"). */
#ifndef TDP_GILCAL_H
#define TDP_GILCAL_H

#include <stddef.h>

#include "util.h"

typedef struct {
    double forward_held_us;         /* per layer: the module's forward call, under the lock */
    double backward_held_us;        /* per layer: its autograd node, under the lock */
    double loss_held_us;            /* per step and worker: the loss, under the lock */
    double free_per_layer_us;       /* per layer: interpreter work run without the lock */
    double replicate_us_per_tensor; /* master: replicate one parameter tensor */
    double kept_copy_us_per_tensor; /* master: copy one tensor into a kept replica */
    double gather_us_per_tensor;    /* master: sum one tensor's gradients over the replicas */
    double optim_us_per_tensor;     /* master: the optimizer's Python side per tensor */
    /* per MB of parameters (4 bytes each): what PyTorch's kernels in those four steps cost beyond
     * tinyddp's own C loops for the same bytes (measured against a ddp_train run) */
    double replicate_us_per_mb;
    double kept_copy_us_per_mb;
    double gather_us_per_mb;
    double optim_us_per_mb;
    double thread_start_us;       /* start and join one worker thread: half on the master
                                     before it creates the thread, half on the new thread's
                                     bootstrap, both under the lock (threading.Thread.start) */
    double contended_factor;      /* holds taken while another thread waits last this much
                                     longer (>= 1; a number, not microseconds) */
    double loop_contended_factor; /* a pure-Python loop (the notebook's kernels) run by a
                                     thread while another waits for the lock is this many
                                     times slower (>= 1; a number): the kernels' holds */
} gilcal_t;

#define GILCAL_NKEYS 15

/* The key names in file order, and the address of each key's value in c. */
const char *gilcal_key(int i);
double *gilcal_slot(gilcal_t *c, int i);

/* Read a calibration file (see above). */
int gilcal_load(const char *path, gilcal_t *c, tdp_err_t *err);

/* "key=value ..." in file order, for the run's printout and the run configuration. */
void gilcal_format(const gilcal_t *c, char *buf, size_t len);

/* Busy work for `us` microseconds (the interpreter running; nothing is released). */
void gilcal_spin(double us);

#endif
