/* cmdline.h: the one command-line engine of every program (ddp_train, kernels, the benchmarks).
 *
 * A program describes its options in a table (cmdline_opt_t: the long name, the kind of value,
 * where it goes, the placeholder, help and default shown by --help, the modes or commands it
 * applies to) and calls cmdline_parse. The rules, the same for every program:
 *   - options are long: --name VALUE or --name=VALUE; -h is --help (when the table has one);
 *   - numbers follow argnum.h's one rule, within each option's inclusive range [lo, hi];
 *   - an option given twice is refused ("--lr given twice") unless it is repeatable;
 *   - an option outside the chosen command's scope is refused: at once when the command comes
 *     before the options ("primes: --n does not apply to primes (see --help)", cmdline_parse's
 *     scope), or after parsing when an option chooses it ("--bucket-kb applies to --mode ddp
 *     only", cmdline_check_scope);
 *   - every refusal is TDP_EINPUT with one line; cmdline_exit_code maps statuses to exit codes.
 * --help's option lines come from the table, each with its default (cmdline_print_options). */
#ifndef TDP_CMDLINE_H
#define TDP_CMDLINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* A macro's value as a string literal, for default texts: CMDLINE_STR(OPT_DEFAULT_BATCH). */
#define CMDLINE_STR_(x) #x
#define CMDLINE_STR(x)  CMDLINE_STR_(x)

/* How a run ends besides the library's statuses (TDP_OK, TDP_ERUNTIME, TDP_EINPUT): RUN_DONE,
 * what was asked is done without a run (--help, --version); RUN_STOPPED, a stop request. */
enum { RUN_DONE = 0x100, RUN_STOPPED };

/* Exit status of a run stopped by SIGUSR1, SIGTERM or SIGINT after writing its checkpoint:
 * EX_TEMPFAIL, "try again" (a job script requeues on it). */
#define EXIT_STOPPED 75

/* The one mapping of a status to an exit code: 0 for TDP_OK and RUN_DONE, EXIT_STOPPED for
 * RUN_STOPPED, 2 for TDP_EINPUT (bad option or unusable input), 1 for anything else. */
int cmdline_exit_code(int status);

typedef enum {
    CMDLINE_FLAG,   /* int set to 1; takes no value */
    CMDLINE_INT,    /* int */
    CMDLINE_LONG,   /* long */
    CMDLINE_U64,    /* uint64_t */
    CMDLINE_REAL,   /* double */
    CMDLINE_STRING, /* char[size], not empty */
    CMDLINE_CHOICE, /* int (or an enum of int's size): the index of the value in choices */
    CMDLINE_CUSTOM, /* set() parses and stores the value */
} cmdline_kind_t;

/* One row of a table; CMDLINE_OPT below writes it. */
typedef struct {
    const char *name; /* without the leading "--" */
    cmdline_kind_t kind;
    size_t off;                 /* where the value goes: offset in the program's options */
    double lo, hi;              /* numbers: the inclusive range */
    const char *arg;            /* the value's placeholder in --help; NULL for flags */
    const char *help;           /* the description */
    const char *def;            /* the default shown; NULL: the value in the defaults */
    unsigned scope;             /* the modes or commands it applies to (bits); 0: all */
    size_t size;                /* CMDLINE_STRING: the destination's size */
    const char *const *choices; /* CMDLINE_CHOICE: the accepted values, NULL-terminated */
    int (*set)(void *opts, const char *value, tdp_err_t *err); /* CMDLINE_CUSTOM */
    int repeatable;                                            /* may be given more than once */
} cmdline_opt_t;

/* A row: the first seven members in order, then any others by name, as in
 * CMDLINE_OPT("lr", CMDLINE_REAL, OFF(lr), 1e-12, 1e6, "X", "learning rate", .def = "0.02"). */
#define CMDLINE_OPT(name_, kind_, off_, lo_, hi_, arg_, help_, ...)                                \
    {                                                                                              \
        .name = (name_), .kind = (kind_), .off = (off_), .lo = (lo_), .hi = (hi_), .arg = (arg_),  \
        .help = (help_), __VA_ARGS__                                                               \
    }

typedef struct {
    const cmdline_opt_t *opts;
    size_t n; /* at most 64 */
} cmdline_t;
/* The table of an array of rows. */
#define CMDLINE_TABLE(rows)                                                                        \
    { (rows), sizeof(rows) / sizeof((rows)[0]) }

/* The last rows of every table: --help (also -h) and --version, int flags named help and version
 * in the program's options struct TYPE. */
#define CMDLINE_INFO(type)                                                                         \
    CMDLINE_OPT("help", CMDLINE_FLAG, offsetof(type, help), 0, 0, NULL, "this text (also -h)"),    \
        CMDLINE_OPT("version", CMDLINE_FLAG, offsetof(type, version), 0, 0, NULL,                  \
                    "the version, the commit and the BLAS library")

/* The command chosen before the options (kernels' subcommand): its name starts the messages of
 * unknown options and stray arguments, and options outside its scope bit are refused at once. */
typedef struct {
    const char *name;
    unsigned bit;
} cmdline_scope_t;

/* Parse argv[first..argc-1] into opts (a struct holding the destinations), setting bit k of
 * *given for the table's k-th option given. scope may be NULL. */
int cmdline_parse(const cmdline_t *t, int argc, char **argv, int first,
                  const cmdline_scope_t *scope, void *opts, uint64_t *given, tdp_err_t *err);

/* The index of option NAME in the table, or -1. */
int cmdline_index(const cmdline_t *t, const char *name);
/* Whether --NAME was given. */
int cmdline_given(const cmdline_t *t, uint64_t given, const char *name);

/* Refuse the first option given (in table order) outside scope bit `chosen`: "--NAME applies to
 * WHERE only", WHERE the names[] of the option's scope bits joined by " and ". */
int cmdline_check_scope(const cmdline_t *t, uint64_t given, unsigned chosen,
                        const char *const *names, tdp_err_t *err);

typedef struct {
    int width;                /* of the "--name ARG" column */
    int wrap;                 /* wrap the text at this column (0: never) */
    const char *const *names; /* when set: append " (A, B)", the names of a scope's bits */
    unsigned all;             /* the scope that takes no such note */
} cmdline_layout_t;

/* One line per option: "  --name ARG  help [default]"; the default is the option's def, else
 * its value in `defaults` (a struct like opts, as before parsing). */
void cmdline_print_options(FILE *f, const cmdline_t *t, const void *defaults,
                           const cmdline_layout_t *layout);
/* A program whose command line is its table alone (the benchmarks). */
typedef struct {
    const char *name;     /* the program's: it starts every message */
    const char *intro;    /* --help's lines before "Options (default in brackets):" */
    cmdline_t table;      /* with CMDLINE_INFO's rows */
    const void *defaults; /* the options before parsing */
} cmdline_prog_t;

/* Parse argv into opts (which hold the defaults): TDP_OK to run; a refusal: its line on stderr
 * and TDP_EINPUT; --help or --version: the text on stdout and RUN_DONE. Nothing is printed when
 * speak is 0 (an MPI rank other than 0). */
int cmdline_program(const cmdline_prog_t *p, int argc, char **argv, void *opts, int speak);

/* Print text from column `indent` on, wrapped at spaces before column `width`; a newline ends it.
 */
void cmdline_print_wrapped(FILE *f, const char *text, int indent, int width);
/* The help's last paragraph: what the exit statuses mean. */
void cmdline_print_exit_status(FILE *f);

#endif
