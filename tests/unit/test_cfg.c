/* test_cfg.c: the model description parser: shipped models, valid variants, every error case
 * (from strings and from files), and a small deterministic mutation run for robustness. */
#include "cfg.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define NAME "t.cfg"

/* A valid [net] header block and a valid single output layer, to build cases from. */
#define NET  "[net]\ninput = 784\noutput = 10\n"
#define LAST "[dense]\nunits = 10\nactivation = none\n"

/* Parse text[0..len) and expect TDP_EINPUT with a message containing `where` ("t.cfg:N:") and
 * every word in `words` (NULL-terminated). `src` is the test's line, for failure reports. */
static void bad_len(int src, const char *text, size_t len, const char *where,
                    const char *const *words) {
    model_cfg_t m;
    tdp_err_t err = {0};
    int rc = cfg_parse(text, len, NAME, &m, &err);
    CHECK_MSG(rc == TDP_EINPUT && err.code == TDP_EINPUT, "line %d: rc %d, msg \"%s\"", src, rc,
              err.msg);
    if (rc != TDP_EINPUT)
        return;
    CHECK_MSG(strncmp(err.msg, where, strlen(where)) == 0,
              "line %d: \"%s\" does not start with \"%s\"", src, err.msg, where);
    for (int i = 0; words[i] != NULL; i++)
        CHECK_MSG(strstr(err.msg, words[i]) != NULL, "line %d: \"%s\" does not contain \"%s\"", src,
                  err.msg, words[i]);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "line %d: message has a newline", src);
    CHECK_MSG(m.nlayers == 0 && m.input == 0, "line %d: out not zeroed on error", src);
}

/* For string literals (which may hold a NUL: sizeof counts it). */
#define BAD(text, where, ...)                                                                      \
    bad_len(__LINE__, (text), sizeof(text) - 1, (where), (const char *const[]){__VA_ARGS__, NULL})
#define BADN(text, len, where, ...)                                                                \
    bad_len(__LINE__, (text), (len), (where), (const char *const[]){__VA_ARGS__, NULL})

static int good_len(int src, const char *text, size_t len, model_cfg_t *m) {
    tdp_err_t err = {0};
    int rc = cfg_parse(text, len, NAME, m, &err);
    CHECK_MSG(rc == TDP_OK, "line %d: rc %d: %s", src, rc, err.msg);
    return rc;
}
#define GOOD(text, m) good_len(__LINE__, (text), sizeof(text) - 1, (m))

static const char *source_dir(void) {
    const char *d = getenv("TDP_SOURCE_DIR");
    return d != NULL && *d != '\0' ? d : ".";
}

static void test_shipped_models(void) {
    char path[1024], shape[128];
    model_cfg_t m;
    tdp_err_t err = {0};

    snprintf(path, sizeof path, "%s/models/fashion-mlp.cfg", source_dir());
    int rc = cfg_load(path, &m, &err);
    CHECK_MSG(rc == TDP_OK, "%s: %s", path, err.msg);
    if (rc == TDP_OK) {
        CHECK(m.input == 784 && m.output == 10 && m.nlayers == 3);
        CHECK(m.layers[0].units == 256 && m.layers[0].act == ACT_RELU);
        CHECK(m.layers[1].units == 128 && m.layers[1].act == ACT_RELU);
        CHECK(m.layers[2].units == 10 && m.layers[2].act == ACT_NONE);
        CHECK(m.has_lr && m.lr == 0.02);
        CHECK(m.has_momentum && m.momentum == 0.9);
        CHECK(m.has_weight_decay && m.weight_decay == 0.0005);
        CHECK(m.has_batch && m.batch == 64);
        CHECK(m.has_epochs && m.epochs == 10);
        cfg_shape_string(&m, shape, sizeof shape);
        CHECK_CONTAINS(shape, "784-256-128-10");
        CHECK(strcmp(shape, "784-256-128-10") == 0);
    }

    snprintf(path, sizeof path, "%s/models/tiny.cfg", source_dir());
    rc = cfg_load(path, &m, &err);
    CHECK_MSG(rc == TDP_OK, "%s: %s", path, err.msg);
    if (rc == TDP_OK) {
        CHECK(m.input == 784 && m.output == 10 && m.nlayers == 2);
        CHECK(m.layers[0].units == 32 && m.layers[0].act == ACT_RELU);
        CHECK(m.layers[1].units == 10 && m.layers[1].act == ACT_NONE);
        cfg_shape_string(&m, shape, sizeof shape);
        CHECK(strcmp(shape, "784-32-10") == 0);
    }

    snprintf(path, sizeof path, "%s/models/wide.cfg", source_dir());
    rc = cfg_load(path, &m, &err);
    CHECK_MSG(rc == TDP_OK, "%s: %s", path, err.msg);
    if (rc == TDP_OK) {
        CHECK(m.input == 784 && m.output == 10 && m.nlayers == 3);
        CHECK(m.layers[0].units == 1024 && m.layers[0].act == ACT_RELU);
        CHECK(m.layers[1].units == 1024 && m.layers[1].act == ACT_RELU);
        CHECK(m.layers[2].units == 10 && m.layers[2].act == ACT_NONE);
        cfg_shape_string(&m, shape, sizeof shape);
        CHECK(strcmp(shape, "784-1024-1024-10") == 0);
        long params = 0, prev = m.input;
        for (int i = 0; i < m.nlayers; i++) {
            params += prev * m.layers[i].units + m.layers[i].units;
            prev = m.layers[i].units;
        }
        CHECK_MSG(params > 1800000 && params < 2000000, "wide has %ld parameters", params);
    }
}

static void test_valid_variants(void) {
    model_cfg_t m;

    /* minimal: no optional keys, default activation relu on hidden layers */
    if (GOOD(NET "[dense]\nunits = 5\n" LAST, &m) == TDP_OK) {
        CHECK(m.input == 784 && m.output == 10 && m.nlayers == 2);
        CHECK(m.layers[0].units == 5 && m.layers[0].act == ACT_RELU);
        CHECK(m.layers[1].act == ACT_NONE);
        CHECK(!m.has_lr && !m.has_momentum && !m.has_weight_decay && !m.has_batch && !m.has_epochs);
    }

    /* comments anywhere, odd whitespace, CRLF, no final newline, keys in any order */
    static const char messy[] = "# leading comment\r\n"
                                "\n"
                                "  ; another comment\n"
                                "\t[ net ]   # net section\r\n"
                                "output=3;classes\n"
                                "   input\t=\t12   \r\n"
                                "lr=1e-2\n"
                                "momentum = 0 # no momentum\n"
                                "weight_decay = 0\n"
                                "batch = 65536\n"
                                "epochs = 0\n"
                                "\n"
                                "[dense];hidden\n"
                                "activation=relu\n"
                                "units=65536\n"
                                "[dense]\n"
                                " activation = none \n"
                                " units = 3";
    if (GOOD(messy, &m) == TDP_OK) {
        CHECK(m.input == 12 && m.output == 3 && m.nlayers == 2);
        CHECK(m.layers[0].units == 65536 && m.layers[0].act == ACT_RELU);
        CHECK(m.layers[1].units == 3 && m.layers[1].act == ACT_NONE);
        CHECK(m.has_lr && m.lr == 0.01);
        CHECK(m.has_momentum && m.momentum == 0.0);
        CHECK(m.has_weight_decay && m.weight_decay == 0.0);
        CHECK(m.has_batch && m.batch == 65536);
        CHECK(m.has_epochs && m.epochs == 0);
    }

    /* range boundaries that are allowed */
    if (GOOD("[net]\ninput=65536\noutput=2\nepochs=1000000\nbatch=1\nmomentum=0.999999\n"
             "lr=1e6\nweight_decay=1e6\n[dense]\nunits=2\nactivation=none\n",
             &m) == TDP_OK) {
        CHECK(m.input == 65536 && m.output == 2 && m.epochs == 1000000 && m.batch == 1);
        CHECK(m.momentum == 0.999999 && m.lr == 1e6 && m.weight_decay == 1e6);
    }
    if (GOOD("\xEF\xBB\xBF[net]\ninput=1\noutput=2\nbatch=65536\nlr=1e-12\nmomentum=0\n"
             "weight_decay=0\n[dense]\nunits=2\nactivation=none\n",
             &m) == TDP_OK) /* and a UTF-8 byte order mark before the first line */
        CHECK(m.input == 1 && m.batch == 65536 && m.lr == 1e-12 && m.momentum == 0);

    /* exactly CFG_MAX_LAYERS layers */
    {
        char text[2048];
        size_t n = (size_t)snprintf(text, sizeof text, "%s", NET);
        for (int i = 0; i < CFG_MAX_LAYERS - 1; i++)
            n += (size_t)snprintf(text + n, sizeof text - n, "[dense]\nunits = %d\n", i + 1);
        n += (size_t)snprintf(text + n, sizeof text - n, "%s", LAST);
        if (good_len(__LINE__, text, n, &m) == TDP_OK) {
            CHECK(m.nlayers == CFG_MAX_LAYERS);
            CHECK(m.layers[CFG_MAX_LAYERS - 1].units == 10);
            char shape[256];
            cfg_shape_string(&m, shape, sizeof shape);
            CHECK(strcmp(shape, "784-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-10") == 0);
        }
    }

    /* a line of exactly 4096 characters is fine */
    {
        static char text[8192];
        size_t n = (size_t)snprintf(text, sizeof text, "%s", NET LAST);
        text[n++] = '#';
        memset(text + n, 'x', 4095);
        n += 4095;
        text[n++] = '\n';
        good_len(__LINE__, text, n, &m);
    }

    /* the text need not be NUL-terminated: nothing past len is read */
    {
        static const char full[] = NET LAST "units = 99999999999\n[bogus";
        size_t len = sizeof(NET LAST) - 1;
        if (good_len(__LINE__, full, len, &m) == TDP_OK)
            CHECK(m.layers[0].units == 10);
        /* cut in the middle of a number: "units = 1" of "units = 10" */
        static const char cut[] = NET "[dense]\nactivation = none\nunits = 10";
        BADN(cut, sizeof cut - 2, NAME ":4:", "last layer has 1 units but [net] output = 10");
        char *heap = malloc(len);
        if (heap != NULL) {
            memcpy(heap, full, len); /* exact-size heap copy: ASan would catch an over-read */
            good_len(__LINE__, heap, len, &m);
            free(heap);
        }
    }

    /* cfg_shape_string truncates safely */
    {
        model_cfg_t s = {.input = 784, .output = 10, .nlayers = 2};
        s.layers[0].units = 256;
        s.layers[1].units = 10;
        char small[6];
        memset(small, 'z', sizeof small);
        cfg_shape_string(&s, small, sizeof small);
        CHECK(memchr(small, '\0', sizeof small) != NULL);
        CHECK(strncmp(small, "784-2", 5) == 0);
        char one = 'z';
        cfg_shape_string(&s, &one, 0);
        CHECK(one == 'z');
        char full[32];
        cfg_shape_string(&s, full, sizeof full);
        CHECK(strcmp(full, "784-256-10") == 0);
    }
}

static void test_line_errors(void) {
    /* unknown section */
    BAD(NET "[conv]\n", NAME ":4:", "unknown section", "conv");
    BAD("[NET]\n", NAME ":1:", "unknown section", "NET");
    BAD("[]\n", NAME ":1:", "unknown section");
    BAD(NET "[ dense x ]\n", NAME ":4:", "unknown section");

    /* unknown key, with the allowed keys listed */
    BAD(NET "foo = 1\n", NAME ":4:", "unknown key", "foo",
        "input, output, lr, momentum, weight_decay, batch, epochs");
    BAD("[net]\nInput = 784\n", NAME ":2:", "unknown key", "Input", "[net]");
    BAD(NET "[dense]\nunit = 10\n", NAME ":5:", "unknown key", "unit", "[dense]",
        "units, activation");
    BAD(NET "[dense]\ninput = 10\n", NAME ":5:", "unknown key", "input", "units, activation");

    /* a line without '=' */
    BAD("[net]\ninput 784\n", NAME ":2:", "'='", "key = value");
    BAD(NET "[dense]\nunits\n", NAME ":5:", "'='");

    /* empty key or value */
    BAD("[net]\n = 784\n", NAME ":2:", "empty key");
    BAD("[net]\ninput =   # nothing here\n", NAME ":2:", "empty value", "input");
    BAD(NET "[dense]\nunits=\n", NAME ":5:", "empty value", "units");

    /* duplicate key in a section */
    BAD("[net]\ninput = 784\ninput = 784\n", NAME ":3:", "duplicate key", "input", "line 2");
    BAD(NET "lr = 0.1\nlr = 0.2\n", NAME ":5:", "duplicate key", "lr");
    BAD(NET "[dense]\nunits = 10\nactivation = none\nunits = 10\n", NAME ":7:", "duplicate key",
        "units", "line 5");
    BAD(NET "[dense]\nactivation = relu\nactivation = none\n", NAME ":6:", "duplicate key",
        "activation");

    /* a key before any section */
    BAD("input = 784\n" NET LAST, NAME ":1:", "before any section", "input");
    BAD("# comment\n\nfoo = 1\n", NAME ":3:", "before any section", "foo");

    /* non-numeric values: the command line's rule and wording (argnum.h) */
    BAD("[net]\ninput = abc\n", NAME ":2:", "input: 'abc' is not an integer");
    BAD(NET "lr = fast\n", NAME ":4:", "lr: 'fast' is not a finite number");
    BAD(NET "momentum = -\n", NAME ":4:", "momentum", "not a finite number");
    BAD(NET "[dense]\nunits = ten\n", NAME ":5:", "units", "not an integer");
    /* decimal only: no hexadecimal integers or floats, no sign '+' */
    BAD(NET "batch = 0x40\n", NAME ":4:", "batch: '0x40' is not an integer (decimal digits only)");
    BAD(NET "lr = 0x1p-4\n", NAME ":4:", "lr: '0x1p-4' is not a finite number");
    BAD(NET "[dense]\nunits = +3\n", NAME ":5:", "units: '+3' is not an integer");
    BAD(NET "lr = +0.1\n", NAME ":4:", "lr: '+0.1' is not a finite number");
    /* a byte order mark is skipped at the start of the text only */
    BAD("[net]\n\xEF\xBB\xBFinput = 784\n", NAME ":2:", "unknown key '???input'");

    /* trailing garbage after a number */
    BAD(NET "[dense]\nunits = 12abc\n", NAME ":5:", "units", "not an integer", "12abc");
    BAD("[net]\ninput = 7 84\n", NAME ":2:", "input", "not an integer");
    BAD(NET "epochs = 1.5\n", NAME ":4:", "epochs", "not an integer");
    BAD(NET "lr = 0.05x\n", NAME ":4:", "lr", "not a finite number");
    BAD(NET "weight_decay = 1e-4e\n", NAME ":4:", "weight_decay", "not a finite number");

    /* integers out of range */
    BAD("[net]\ninput = 0\n", NAME ":2:", "input: 0 is out of range [1, 65536]");
    BAD("[net]\ninput = 65537\n", NAME ":2:", "input", "out of range");
    BAD("[net]\ninput = -784\n", NAME ":2:", "input", "out of range");
    BAD("[net]\ninput = 99999999999999999999999\n", NAME ":2:", "input", "out of range");
    BAD("[net]\noutput = 1\n", NAME ":2:", "output", "out of range [2, 65536]");
    BAD("[net]\noutput = 65537\n", NAME ":2:", "output", "out of range");
    BAD(NET "[dense]\nunits = 0\n", NAME ":5:", "units", "out of range [1, 65536]");
    BAD(NET "[dense]\nunits = 70000\n", NAME ":5:", "units", "out of range");
    /* the training values take the command line's ranges (hyper.h) */
    BAD(NET "batch = 0\n", NAME ":4:", "batch: 0 is out of range [1, 65536]");
    BAD(NET "batch = 65537\n", NAME ":4:", "batch", "out of range");
    BAD(NET "epochs = -1\n", NAME ":4:", "epochs: -1 is out of range [0, 1000000]");
    BAD(NET "epochs = 1000001\n", NAME ":4:", "epochs", "out of range");

    /* lr outside [1e-12, 1e6] (--lr's range), not finite, or an underflow */
    BAD(NET "lr = 0\n", NAME ":4:", "lr: 0 is out of range [1e-12, 1e+06]");
    BAD(NET "lr = -0.1\n", NAME ":4:", "lr", "out of range");
    BAD(NET "lr = 1e308\n", NAME ":4:", "lr: 1e308 is out of range [1e-12, 1e+06]");
    BAD(NET "lr = 1000001\n", NAME ":4:", "lr", "out of range");
    BAD(NET "lr = inf\n", NAME ":4:", "lr", "not a finite number");
    BAD(NET "lr = nan\n", NAME ":4:", "lr", "not a finite number");
    BAD(NET "lr = 1e999\n", NAME ":4:", "lr", "out of range");
    BAD(NET "lr = 1e-400\n", NAME ":4:", "lr: 1e-400 is too small", "underflows");

    /* momentum outside [0, 0.999999] */
    BAD(NET "momentum = 1\n", NAME ":4:", "momentum: 1 is out of range [0, 0.999999]");
    BAD(NET "momentum = -0.1\n", NAME ":4:", "momentum", "out of range");
    BAD(NET "momentum = nan\n", NAME ":4:", "momentum", "not a finite number");
    BAD(NET "momentum = 1.5\n", NAME ":4:", "momentum", "out of range");

    /* weight_decay outside [0, 1e6] or not finite */
    BAD(NET "weight_decay = -1e-9\n", NAME ":4:", "weight_decay", "out of range [0, 1e+06]");
    BAD(NET "weight_decay = 1e7\n", NAME ":4:", "weight_decay", "out of range");
    BAD(NET "weight_decay = inf\n", NAME ":4:", "weight_decay", "not a finite number");
    BAD(NET "weight_decay = -nan\n", NAME ":4:", "weight_decay", "not a finite number");

    /* activation other than relu | none */
    BAD(NET "[dense]\nunits = 10\nactivation = sigmoid\n", NAME ":6:", "activation", "sigmoid",
        "relu or none");
    BAD(NET "[dense]\nactivation = RELU\n", NAME ":5:", "activation", "relu or none");
    BAD(NET "[dense]\nactivation = 5\n", NAME ":5:", "activation", "relu or none");

    /* [net] twice, or not first */
    BAD(NET "[net]\n", NAME ":4:", "[net] appears twice", "line 1");
    BAD(NET LAST "[net]\ninput = 784\n", NAME ":7:", "[net] appears twice");
    BAD("[dense]\nunits = 10\n" NET, NAME ":1:", "[net] must be the first section");
    BAD("# header\n[dense]\n", NAME ":2:", "[net] must be the first section");

    /* unterminated or malformed section header */
    BAD(NET "[dense\nunits = 10\n", NAME ":4:", "unterminated section header", "[dense");
    BAD("[net", NAME ":1:", "unterminated section header");
    BAD("[net] input = 784\n", NAME ":1:", "trailing characters", "section header");

    /* NUL byte */
    BAD("[net]\ninput = 7\0"
        "84\noutput = 10\n",
        NAME ":2:", "NUL byte");
    BAD("\0", NAME ":1:", "NUL byte");
    BAD(NET LAST "# comment \0 hidden\n", NAME ":7:", "NUL byte");

    /* a hostile key shows up sanitized and on one line */
    BAD("[net]\n\x01\x7f\r\x1b[31mkey = 1\n", NAME ":2:", "unknown key", "?");
}

static void test_structure_errors(void) {
    char text[4096];
    size_t n;

    /* too many layers */
    n = (size_t)snprintf(text, sizeof text, "%s", NET); /* 3 lines */
    for (int i = 0; i < CFG_MAX_LAYERS; i++)            /* 2 lines each */
        n += (size_t)snprintf(text + n, sizeof text - n, "[dense]\nunits = 10\n");
    n += (size_t)snprintf(text + n, sizeof text - n, "[dense]\nunits = 10\nactivation = none\n");
    char where[32];
    snprintf(where, sizeof where, NAME ":%d:", 3 + 2 * CFG_MAX_LAYERS + 1);
    BADN(text, n, where, "too many layers", "16");

    /* a line longer than 4096 characters, comment or not */
    {
        static char big[8192];
        n = (size_t)snprintf(big, sizeof big, "%s", NET);
        big[n++] = '#';
        memset(big + n, 'x', 4096);
        n += 4096;
        big[n++] = '\n';
        BADN(big, n, NAME ":4:", "line longer than 4096");
        /* the same without a final newline, and as a value */
        n = (size_t)snprintf(big, sizeof big, "%s", NET);
        memcpy(big + n, "lr = ", 5);
        n += 5;
        memset(big + n, '1', 5000);
        n += 5000;
        BADN(big, n, NAME ":4:", "line longer than 4096");
    }

    /* end-of-file checks */
    BAD("", NAME ":1:", "missing [net]");
    BADN(NULL, 0, NAME ":1:", "missing [net]");
    BAD("# only a comment\n\n; and another\n", NAME ":3:", "missing [net]");
    BAD("[net]\noutput = 10\n" LAST, NAME ":1:", "missing", "'input'");
    BAD("# c\n[net]\ninput = 784\n" LAST, NAME ":2:", "missing", "'output'");
    BAD(NET, NAME ":3:", "no [dense] layer");
    BAD(NET "\n\n# end\n", NAME ":6:", "no [dense] layer");
    BAD(NET "[dense]\nactivation = relu\n" LAST, NAME ":4:", "[dense]", "missing", "'units'");
    BAD(NET "[dense]\nunits = 5\n[dense]\nactivation = none\n", NAME ":6:", "layer 2", "missing",
        "'units'");
    BAD(NET "[dense]\nunits = 12\nactivation = none\n",
        NAME ":4:", "last layer has 12 units but [net] output = 10");
    BAD(NET "[dense]\nunits = 64\n[dense]\nunits = 9\nactivation = none\n",
        NAME ":6:", "last layer has 9 units but [net] output = 10");
    /* last activation: defaulted (line of the section) or explicit (line of the key) */
    BAD(NET "[dense]\nunits = 10\n", NAME ":4:", "last layer", "activation = none");
    BAD(NET "[dense]\nunits = 10\nactivation = relu\n", NAME ":6:", "last layer",
        "activation = none", "softmax");

    /* the name given is the one in messages */
    model_cfg_t m;
    tdp_err_t err = {0};
    CHECK(cfg_parse("[net]\nbogus = 1\n", 17, "models/x.cfg", &m, &err) == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "models/x.cfg:2: unknown key 'bogus'");
}

static int write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(text, 1, len, f);
    int rc = fclose(f);
    return w == len && rc == 0 ? 0 : -1;
}

static void test_files(void) {
    char dir[] = "/tmp/test_cfg.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], want[320];
    model_cfg_t m;
    tdp_err_t err = {0};

    /* missing file */
    snprintf(path, sizeof path, "%s/nope.cfg", dir);
    CHECK(cfg_load(path, &m, &err) == TDP_EINPUT && err.code == TDP_EINPUT);
    snprintf(want, sizeof want, "cannot open %s: %s", path, strerror(ENOENT));
    CHECK_CONTAINS(err.msg, want);

    /* a directory */
    CHECK(cfg_load(dir, &m, &err) == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, dir);
    CHECK_CONTAINS(err.msg, "directory");

    /* a malformed file: the path is the name in messages */
    static const char bad_text[] = NET "[dense]\nunits = 12abc\n";
    snprintf(path, sizeof path, "%s/bad.cfg", dir);
    CHECK(write_file(path, bad_text, sizeof bad_text - 1) == 0);
    CHECK(cfg_load(path, &m, &err) == TDP_EINPUT);
    snprintf(want, sizeof want, "%s:5:", path);
    CHECK_CONTAINS(err.msg, want);
    CHECK_CONTAINS(err.msg, "not an integer");
    unlink(path);

    /* end-of-file check from a file */
    static const char short_text[] = "[net]\ninput = 784\noutput = 10\n\n";
    snprintf(path, sizeof path, "%s/short.cfg", dir);
    CHECK(write_file(path, short_text, sizeof short_text - 1) == 0);
    CHECK(cfg_load(path, &m, &err) == TDP_EINPUT);
    snprintf(want, sizeof want, "%s:4: no [dense] layer", path);
    CHECK_CONTAINS(err.msg, want);
    unlink(path);

    /* a NUL byte in a file */
    static const char nul_text[] = "[net]\ninput\0 = 784\n";
    snprintf(path, sizeof path, "%s/nul.cfg", dir);
    CHECK(write_file(path, nul_text, sizeof nul_text - 1) == 0);
    CHECK(cfg_load(path, &m, &err) == TDP_EINPUT);
    snprintf(want, sizeof want, "%s:2: NUL byte", path);
    CHECK_CONTAINS(err.msg, want);
    unlink(path);

    /* an empty file */
    snprintf(path, sizeof path, "%s/empty.cfg", dir);
    CHECK(write_file(path, "", 0) == 0);
    CHECK(cfg_load(path, &m, &err) == TDP_EINPUT);
    snprintf(want, sizeof want, "%s:1: missing [net]", path);
    CHECK_CONTAINS(err.msg, want);
    unlink(path);

    /* a file over 1 MiB (all comments: valid text, refused for its size) */
    size_t big_len = ((size_t)1 << 20) + 100;
    char *big = malloc(big_len);
    CHECK(big != NULL);
    if (big != NULL) {
        static const char head[] = NET LAST;
        memcpy(big, head, sizeof head - 1);
        for (size_t i = sizeof head - 1; i < big_len; i++)
            big[i] = (i % 64 == 63) ? '\n' : '#';
        snprintf(path, sizeof path, "%s/big.cfg", dir);
        CHECK(write_file(path, big, big_len) == 0);
        CHECK(cfg_load(path, &m, &err) == TDP_EINPUT);
        CHECK_CONTAINS(err.msg, path);
        CHECK_CONTAINS(err.msg, "larger than 1 MiB");
        unlink(path);
        /* exactly 1 MiB is accepted */
        CHECK(write_file(path, big, (size_t)1 << 20) == 0);
        CHECK_MSG(cfg_load(path, &m, &err) == TDP_OK, "%s", err.msg);
        unlink(path);
        free(big);
    }

    /* a valid file without a final newline */
    static const char ok_text[] = NET "[dense]\nunits = 7\n" LAST "# end";
    snprintf(path, sizeof path, "%s/ok.cfg", dir);
    CHECK(write_file(path, ok_text, sizeof ok_text - 1) == 0);
    CHECK_MSG(cfg_load(path, &m, &err) == TDP_OK, "%s", err.msg);
    CHECK(m.nlayers == 2 && m.layers[0].units == 7);
    unlink(path);

    CHECK(rmdir(dir) == 0);
}

/* Deterministic mutations of a valid file: every result must be OK or a well-formed EINPUT, and
 * (under ASan) nothing may read past the exact-size heap copy. */
static void test_mutations(void) {
    static const char base[] = NET "lr = 0.05\nmomentum = 0.9\nweight_decay = 0.0005\n"
                                   "batch = 64\nepochs = 10\n[dense]\nunits = 256\n"
                                   "activation = relu\n" LAST;
    static const char alphabet[] = "[]=#;\n\r\t 0123456789.-+eE\0xnet dense";
    size_t blen = sizeof base - 1;
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    int ok = 0, bad = 0, malformed = 0;
    char *buf = malloc(blen + 8);
    if (buf == NULL) {
        CHECK(buf != NULL);
        return;
    }
    /* every prefix */
    for (size_t len = 0; len <= blen; len++) {
        char *exact = malloc(len ? len : 1);
        if (exact == NULL)
            continue;
        memcpy(exact, base, len);
        model_cfg_t m;
        tdp_err_t err = {0};
        int rc = cfg_parse(exact, len, NAME, &m, &err);
        if (rc == TDP_OK)
            ok++;
        else if (rc == TDP_EINPUT && strncmp(err.msg, NAME ":", 6) == 0)
            bad++;
        else
            malformed++;
        free(exact);
    }
    /* random byte edits */
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = blen;
        memcpy(buf, base, blen);
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int edits = 1 + (int)((s >> 60) & 3);
        for (int e = 0; e < edits; e++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(s >> 33) % len;
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            char c = (s >> 62) == 0 ? (char)(s >> 40) : alphabet[(s >> 33) % (sizeof alphabet - 1)];
            buf[at] = c;
        }
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        if ((s >> 63) != 0)
            len = (size_t)(s >> 33) % (len + 1);
        char *exact = malloc(len ? len : 1);
        if (exact == NULL)
            continue;
        memcpy(exact, buf, len);
        model_cfg_t m;
        tdp_err_t err = {0};
        int rc = cfg_parse(exact, len, NAME, &m, &err);
        if (rc == TDP_OK) {
            ok++;
            int valid = m.nlayers >= 1 && m.nlayers <= CFG_MAX_LAYERS &&
                        m.layers[m.nlayers - 1].units == m.output &&
                        m.layers[m.nlayers - 1].act == ACT_NONE && m.input >= 1;
            if (!valid)
                malformed++;
        } else if (rc == TDP_EINPUT && strncmp(err.msg, NAME ":", 6) == 0 &&
                   strchr(err.msg, '\n') == NULL) {
            bad++;
        } else {
            malformed++;
        }
        free(exact);
    }
    free(buf);
    CHECK_MSG(malformed == 0, "%d malformed results", malformed);
    CHECK(ok > 0 && bad > 0);
}

int main(void) {
    test_shipped_models();
    test_valid_variants();
    test_line_errors();
    test_structure_errors();
    test_files();
    test_mutations();
    return check_summary();
}
