/* test_cmdline.c: the command-line engine every program uses (cmdline.h): --name VALUE and
 * --name=VALUE, -h as --help, repeated options, options outside the chosen mode or command,
 * the number rule, choices, the help text's defaults and the exit codes. */
#include "cmdline.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct {
    int count;
    long steps;
    uint64_t seed;
    double rate;
    char path[16];
    int mode;  /* 0 fast, 1 slow, 2 exact */
    int order; /* 0 up, 1 down */
    int quiet;
    int tags;
    int help, version;
} opts_t;

enum { FAST = 1, SLOW = 2, EXACT = 4 };
static const char *const MODES[] = {"fast", "slow", "exact", NULL};
static const char *const ORDERS[] = {"up", "down", NULL};
static const char *const IN_MODE[] = {"--mode fast", "--mode slow", "--mode exact", NULL};

static int add_tag(void *opts, const char *v, tdp_err_t *err) {
    if (strcmp(v, "bad") == 0)
        return tdp_fail(err, TDP_EINPUT, "--tag: 'bad' is a bad tag");
    ((opts_t *)opts)->tags++;
    return TDP_OK;
}

#define OFF(f) offsetof(opts_t, f)
static const cmdline_opt_t SPECS[] = {
    CMDLINE_OPT("mode", CMDLINE_CHOICE, OFF(mode), 0, 0, "fast|slow|exact", "how",
                .choices = MODES),
    CMDLINE_OPT("count", CMDLINE_INT, OFF(count), 1, 100, "N", "how many"),
    CMDLINE_OPT("steps", CMDLINE_LONG, OFF(steps), 0, 1e15, "N", "steps", .def = "no limit"),
    CMDLINE_OPT("seed", CMDLINE_U64, OFF(seed), 0, 0x1p64, "S", "seed"),
    CMDLINE_OPT("rate", CMDLINE_REAL, OFF(rate), 0.001, 10, "X", "rate", .scope = SLOW | EXACT),
    CMDLINE_OPT("path", CMDLINE_STRING, OFF(path), 0, 0, "FILE", "a file", .size = 16),
    CMDLINE_OPT("order", CMDLINE_CHOICE, OFF(order), 0, 0, "up|down", "order", .choices = ORDERS),
    CMDLINE_OPT("quiet", CMDLINE_FLAG, OFF(quiet), 0, 0, NULL, "quiet", .scope = FAST),
    CMDLINE_OPT("tag", CMDLINE_CUSTOM, 0, 0, 0, "T", "a tag (repeatable)", .set = add_tag,
                .repeatable = 1),
    CMDLINE_INFO(opts_t),
};
static const cmdline_t TABLE = CMDLINE_TABLE(SPECS);
static const opts_t DEFAULTS = {.count = 7, .steps = -1, .seed = 42, .rate = 0.5, .order = 1};

static tdp_err_t err;
static opts_t o;
static uint64_t given;

/* Parse args (NULL-terminated), the arguments after the program's name. */
static int parse_in(const cmdline_scope_t *scope, const char *const *args) {
    char *argv[32] = {"prog"};
    int argc = 1;
    while (args[argc - 1] != NULL && argc < 31) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    o = DEFAULTS;
    given = 0;
    memset(&err, 0, sizeof err);
    return cmdline_parse(&TABLE, argc, argv, 1, scope, &o, &given, &err);
}
#define PARSE(...)        parse_in(NULL, (const char *const[]){__VA_ARGS__, NULL})
#define PARSE_IN(sc, ...) parse_in((sc), (const char *const[]){__VA_ARGS__, NULL})

static void test_values(void) {
    CHECK(PARSE("--count", "5", "--rate=0.25", "--path=a.txt", "--steps", "9") == TDP_OK);
    CHECK(o.count == 5 && o.rate == 0.25 && strcmp(o.path, "a.txt") == 0 && o.steps == 9);
    CHECK(cmdline_given(&TABLE, given, "count") && cmdline_given(&TABLE, given, "rate"));
    CHECK(!cmdline_given(&TABLE, given, "seed") && !cmdline_given(&TABLE, given, "nothing"));
    CHECK(o.seed == 42); /* untouched: the default */
    CHECK(PARSE("--seed=18446744073709551615", "--mode", "exact", "--order=up") == TDP_OK);
    CHECK(o.seed == UINT64_MAX && o.mode == 2 && o.order == 0);
    CHECK(PARSE("--count=") == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "--count: '' is not an integer");
    CHECK(PARSE("--tag", "a", "--tag=b", "--tag", "c") == TDP_OK && o.tags == 3);
    CHECK(PARSE("--tag", "bad") == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "--tag: 'bad' is a bad tag");
}

static void test_refusals(void) {
    static const struct {
        const char *args[5], *msg;
    } cases[] = {
        {{"--count", "5", "--count=6"}, "--count given twice"},
        {{"--quiet", "--quiet"}, "--quiet given twice"},
        {{"-h", "--help"}, "--help given twice"},
        {{"--count", "0x10"}, "--count: '0x10' is not an integer (decimal digits only)"},
        {{"--count", "101"}, "--count: 101 is out of range [1, 100]"},
        {{"--count", " 5"}, "--count: ' 5' is not an integer"},
        {{"--seed", "-1"}, "--seed: '-1' is not a non-negative integer"},
        {{"--seed", "18446744073709551616"}, "is out of range [0, 18446744073709551615]"},
        {{"--rate", "inf"}, "--rate: 'inf' is not a finite number"},
        {{"--rate", "1e-400"}, "--rate: 1e-400 is too small"},
        {{"--mode", "quick"}, "--mode: 'quick' is not one of fast, slow, exact"},
        {{"--order", "sideways"}, "--order: 'sideways' is not up or down"},
        {{"--path", ""}, "--path: empty value"},
        {{"--path", "0123456789abcdef"}, "--path: value too long"},
        {{"--quiet=1"}, "--quiet takes no value"},
        {{"--frob=3"}, "unknown option '--frob' (see --help)"},
        {{"-x"}, "unexpected argument '-x' (see --help)"},
        {{"stray"}, "unexpected argument 'stray' (see --help)"},
        {{"--"}, "unexpected argument '--' (see --help)"},
        {{"--count=1", "--rate"}, "--rate needs a value (X)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse_in(NULL, cases[i].args);
        CHECK_MSG(rc == TDP_EINPUT, "case %zu (%s): rc %d", i, cases[i].args[0], rc);
        CHECK_CONTAINS(err.msg, cases[i].msg);
    }
}

static void test_scope(void) {
    /* chosen before the options: refused at once, with the command's name */
    const cmdline_scope_t fast = {"fast", FAST};
    CHECK(PARSE_IN(&fast, "--quiet", "--count", "3") == TDP_OK && o.quiet && o.count == 3);
    CHECK(PARSE_IN(&fast, "--rate", "abc") == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "fast: --rate does not apply to fast (see --help)");
    CHECK(PARSE_IN(&fast, "--nope") == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "fast: unknown option '--nope' (see --help)");
    CHECK(PARSE_IN(&fast, "extra") == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "fast: unexpected argument 'extra' (see --help)");
    /* chosen by an option: checked after parsing, in table order */
    CHECK(PARSE("--rate", "1", "--mode", "fast") == TDP_OK);
    CHECK(cmdline_check_scope(&TABLE, given, 1u << o.mode, IN_MODE, &err) == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "--rate applies to --mode slow and --mode exact only");
    CHECK(PARSE("--quiet", "--mode=slow") == TDP_OK);
    CHECK(cmdline_check_scope(&TABLE, given, 1u << o.mode, IN_MODE, &err) == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "--quiet applies to --mode fast only");
    CHECK(PARSE("--rate", "1", "--mode", "exact") == TDP_OK);
    CHECK(cmdline_check_scope(&TABLE, given, 1u << o.mode, IN_MODE, &err) == TDP_OK);
}

/* The text f received, NUL-terminated (the caller frees it). */
static char *read_back(FILE *f) {
    long n = ftell(f);
    char *s = calloc((size_t)n + 1, 1);
    rewind(f);
    if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    fclose(f);
    return s;
}

static void test_help(void) {
    FILE *f = tmpfile();
    cmdline_print_options(f, &TABLE, &DEFAULTS, &(cmdline_layout_t){.width = 22});
    char *h = read_back(f);
    CHECK_CONTAINS(h, "  --count N              how many [7]\n");
    CHECK_CONTAINS(h, "--steps N              steps [no limit]\n");
    CHECK_CONTAINS(h, "--seed S               seed [42]\n");
    CHECK_CONTAINS(h, "rate [0.5]\n");
    CHECK_CONTAINS(h, "--path FILE            a file [none]\n");
    CHECK_CONTAINS(h, "--mode fast|slow|exact how [fast]\n");
    CHECK_CONTAINS(h, "order [down]\n");
    CHECK_CONTAINS(h, "--quiet                quiet [off]\n");
    CHECK_CONTAINS(h, "--help                 this text (also -h) [off]\n");
    CHECK_CONTAINS(h, "--version              the version");
    size_t lines = 0; /* one line per option, each ending with its default */
    for (const char *p = h; (p = strstr(p, "]\n")) != NULL; p += 2)
        lines++;
    CHECK(lines == TABLE.n);
    free(h);
    /* a note of the scopes, wrapped */
    f = tmpfile();
    cmdline_print_options(
        f, &TABLE, &DEFAULTS,
        &(cmdline_layout_t){.width = 22, .wrap = 40, .names = MODES, .all = FAST | SLOW | EXACT});
    h = read_back(f);
    CHECK_CONTAINS(h,
                   "  --rate X               rate [0.5]\n                         (slow, exact)\n");
    CHECK_CONTAINS(h, "quiet [off]\n                         (fast)\n");
    CHECK_CONTAINS(h, "steps [no\n                         limit]\n");
    free(h);
}

static void test_program(void) {
    static const cmdline_prog_t prog = {"prog", "Usage: prog\n", CMDLINE_TABLE(SPECS), &DEFAULTS};
    char *help[] = {"prog", "-h", NULL}, *version[] = {"prog", "--version", NULL};
    char *bad[] = {"prog", "--count", "x", NULL}, *run[] = {"prog", "--count", "9", NULL};
    o = DEFAULTS;
    CHECK(cmdline_program(&prog, 2, help, &o, 0) == RUN_DONE);
    o = DEFAULTS;
    CHECK(cmdline_program(&prog, 2, version, &o, 0) == RUN_DONE);
    o = DEFAULTS;
    CHECK(cmdline_program(&prog, 3, bad, &o, 0) == TDP_EINPUT);
    o = DEFAULTS;
    CHECK(cmdline_program(&prog, 3, run, &o, 0) == TDP_OK && o.count == 9);
}

static void test_exit_codes(void) {
    CHECK(cmdline_exit_code(TDP_OK) == 0);
    CHECK(cmdline_exit_code(RUN_DONE) == 0);
    CHECK(cmdline_exit_code(TDP_ERUNTIME) == 1);
    CHECK(cmdline_exit_code(TDP_EINPUT) == 2);
    CHECK(cmdline_exit_code(RUN_STOPPED) == EXIT_STOPPED && EXIT_STOPPED == 75);
}

int main(void) {
    test_values();
    test_refusals();
    test_scope();
    test_help();
    test_program();
    test_exit_codes();
    return check_summary();
}
