/* options.h: the kernels program's command line: a subcommand, then options from one table
 * (--name VALUE or --name=VALUE), each given once and only where it applies, numbers by
 * argnum.h's rule: the rules of cmdline.h, whose engine parses it. */
#ifndef TDP_KERNELS_OPTIONS_H
#define TDP_KERNELS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cmdline.h"
#include "modes.h"
#include "util.h"

enum { SUB_PRIMES = 1, SUB_SUM = 2, SUB_IO = 4, SUB_SHARE = 8, SUB_ALL = 15 };

#define MAX_WORKERS       1024
#define MAX_TASKS         1024
#define MAX_LATENCY_MS    60000
#define MAX_URLS          1024
#define MAX_URL_LEN       2048
#define IO_TIMEOUT_MS     30000 /* on top of the latency: bound on one transfer */
#define SHARE_N1          10    /* the notebook's thread_func1(10) and thread_func2(5) */
#define SHARE_N2          5
#define DEFAULT_LIMIT     10000000ULL  /* count_primes(10000000) */
#define DEFAULT_N         100000000ULL /* NUM1 = NUM2 = 100000000 */
#define DEFAULT_TASKS     2
#define DEFAULT_REQUESTS  3   /* the notebook's three URLs */
#define DEFAULT_LATENCY   750 /* ms: three fetches took 2.24 s serially in the notebook */
#define DEFAULT_SLEEP_MS  100 /* time.sleep(0.1) */
#define DEFAULT_SWITCH_MS 5.0 /* sys.getswitchinterval() */

typedef struct {
    int sub; /* SUB_* */
    kern_mode_t mode;
    int workers;
    int gil;
    double switch_ms;
    char gil_calibration[4096]; /* the lock's calibration file (default: the shipped one) */
    char json[4096];
    uint64_t limit, n;
    int tasks, requests, latency_ms, sleep_ms;
    const char *urls[MAX_URLS];
    size_t nurls;
    int help;
    int version;
    uint64_t given; /* bit per option of the table: given on the command line */
} kopts_t;

/* Parse argv (a subcommand, then its options) into o. --help / -h and --version set o->help /
 * o->version and return TDP_OK. Bad input: TDP_EINPUT with a one-line message. */
int kopts_parse(int argc, char **argv, kopts_t *o, tdp_err_t *err);
/* The options' consistency with the subcommand and the mode, and the defaults that depend on
 * them (the mpi world size is checked later, once MPI is up); the --json path is checked. */
int kopts_resolve(kopts_t *o, tdp_err_t *err);
/* Was option --name given on the command line? */
int kopts_given(const kopts_t *o, const char *name);
/* The usage text, with every option's default. */
void kopts_usage(FILE *f);

#endif
