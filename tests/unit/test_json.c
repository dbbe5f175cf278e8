/* test_json.c: the JSON writer (json.h): its three layouts, escaping, numbers, the top-level
 * sequence a trace's events use, misuse reported, and the exact text of a trace (trace.h) and
 * of ddp_train's summary (summary.h). */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "summary.h"
#include "trace.h"

/* Finish j and compare its text with want. */
static void expect(json_t *j, const char *want, int line) {
    tdp_err_t err = {0};
    int rc = json_finish(j, "test", &err);
    CHECK_MSG(rc == TDP_OK, "line %d: %s", line, err.msg);
    CHECK_MSG(j->buf != NULL && strcmp(j->buf, want) == 0, "line %d: got\n%s\nwant\n%s", line,
              j->buf ? j->buf : "(null)", want);
    json_free(j);
}

static void expect_failure(json_t *j, const char *why, int line) {
    tdp_err_t err = {0};
    CHECK_MSG(json_finish(j, "test", &err) == TDP_ERUNTIME, "line %d: no failure", line);
    CHECK_MSG(strstr(err.msg, why) != NULL, "line %d: \"%s\" lacks \"%s\"", line, err.msg, why);
    json_free(j);
}

static void test_layouts(void) {
    json_t j;
    json_init(&j);
    json_object(&j, NULL, JSON_LINES);
    json_string(&j, "s", "a\"b\\c\n\x01");
    json_int(&j, "i", -9223372036854775807LL - 1);
    json_array(&j, "a", JSON_INLINE);
    json_fixed(&j, NULL, 2.5, 3);
    json_real(&j, NULL, 0.1 + 0.2, 9);
    json_real(&j, NULL, NAN, 9);
    json_fixed(&j, NULL, -INFINITY, 0);
    json_null(&j, NULL);
    json_end(&j);
    json_array(&j, "e", JSON_INLINE);
    json_end(&j);
    json_object(&j, "o", JSON_LINES);
    json_fixed(&j, "f", 1234.5, 0);
    json_end(&j);
    json_end(&j);
    expect(&j,
           "{\n  \"s\": \"a\\\"b\\\\c\\u000a\\u0001\",\n  \"i\": -9223372036854775808,\n"
           "  \"a\": [2.500, 0.3, null, null, null],\n  \"e\": [],\n  \"o\": {\n    \"f\": 1234\n"
           "  }\n}\n",
           __LINE__);

    /* a top-level sequence, then rows holding raw values */
    json_init(&j);
    json_object(&j, NULL, JSON_INLINE);
    json_int(&j, "x", 1);
    json_end(&j);
    json_object(&j, NULL, JSON_INLINE);
    json_object(&j, "y", JSON_INLINE);
    json_end(&j);
    json_end(&j);
    CHECK(j.len == strlen("{\"x\": 1},\n{\"y\": {}}") &&
          strcmp(j.buf, "{\"x\": 1},\n{\"y\": {}}") == 0);
    json_t r;
    json_init(&r);
    json_object(&r, NULL, JSON_INLINE);
    json_array(&r, "rows", JSON_ROWS);
    json_raw(&r, j.buf, j.len);
    json_raw(&r, "7", 1);
    json_end(&r);
    json_end(&r);
    json_free(&j);
    expect(&r, "{\"rows\": [\n{\"x\": 1},\n{\"y\": {}},\n7\n]}\n", __LINE__);
}

static void test_misuse(void) {
    json_t j;
    json_init(&j);
    json_object(&j, NULL, JSON_INLINE);
    json_int(&j, NULL, 1);
    json_end(&j);
    expect_failure(&j, "without a name", __LINE__);
    json_init(&j);
    json_array(&j, NULL, JSON_INLINE);
    json_int(&j, "k", 1);
    json_end(&j);
    expect_failure(&j, "outside an object", __LINE__);
    json_init(&j);
    json_array(&j, NULL, JSON_INLINE);
    expect_failure(&j, "left open", __LINE__);
    json_init(&j);
    json_end(&j);
    expect_failure(&j, "nothing open", __LINE__);
    json_init(&j);
    for (int i = 0; i <= JSON_DEPTH; i++)
        json_array(&j, NULL, JSON_INLINE);
    expect_failure(&j, "too deep", __LINE__);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_trace(const char *path) {
    tdp_err_t err = {0};
    trace_t t;
    CHECK(trace_init(&t, 2, 10.0, &err) == TDP_OK);
    trace_add(&t, "forward", -1, 0, 10.0, 10.5);
    trace_add(&t, "bucket", 3, 1, 10.25, 10.000001);
    trace_add(&t, "sgd", -1, 0, 11.0, 11.0); /* past the capacity: counted */
    char *part = NULL;
    size_t len = 0;
    CHECK(trace_format(&t, 2, &part, &len, &err) == TDP_OK);
    trace_free(&t);
    char *parts[2] = {part, part};
    size_t lens[2] = {len, len};
    CHECK(trace_write(path, parts, lens, 2, &err) == TDP_OK);
    free(part);
    const char *ev =
        "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 2, \"args\": {\"name\": \"rank "
        "2\"}},\n"
        "{\"name\": \"forward\", \"ph\": \"X\", \"pid\": 2, \"tid\": 0, \"ts\": 0.000, \"dur\": "
        "500000.000},\n"
        "{\"name\": \"bucket 3\", \"ph\": \"X\", \"pid\": 2, \"tid\": 1, \"ts\": 250000.000, "
        "\"dur\": -249999.000},\n"
        "{\"name\": \"1 events not recorded (buffer full)\", \"ph\": \"i\", \"s\": \"p\", \"pid\": "
        "2, \"tid\": 0, \"ts\": 0}";
    char want[4096];
    snprintf(want, sizeof want, "{\"traceEvents\": [\n%s,\n%s\n]}\n", ev, ev);
    char *got = slurp(path);
    CHECK_MSG(got != NULL && strcmp(got, want) == 0, "got\n%s\nwant\n%s", got ? got : "", want);
}

static void test_summary(const char *path) {
    run_summary_t s = {
        .mode = "ddp",
        .world_size = 2,
        .workers = 4,
        .hosts = 1,
        .model = "m \"x\".cfg",
        .params = 25450,
        .epochs = 1,
        .steps = 40,
        .batch = 64,
        .global_batch = 256,
        .train_samples_per_s = 12345.6789,
        .test_accuracy = 0.5,
        .final_loss = 0.123456789,
        .seconds = 1.5,
        .train_seconds = 1.25,
        .replicated_bytes_total = 0.4,
        .broadcast_bytes = 101800,
        .allreduce_bytes_per_step = 101808,
        .grad_compress = "bf16",
        .bucket_kb = 64,
        .overlap = 1,
        .comm_seconds = 0.001,
        .gil_wait_seconds = 0,
        .replicate_seconds = 0,
        .scatter_seconds = 0,
        .compute_seconds = 1e-7,
        .gather_seconds = 0,
        .optimizer_seconds = 0.25,
        .optimizer_state_bytes = 101800,
        .blas = "B\t1",
        .ranks = 2,
        .rank_compute = (const double[]){1.5, 0.25},
        .rank_comm = (const double[]){0.001, 0.002},
        .rank_wait = (const double[]){0.0005, 0},
    };
    tdp_err_t err = {0};
    CHECK(summary_write(path, &s, &err) == TDP_OK);
    const char *want =
        "{\n  \"mode\": \"ddp\",\n  \"world_size\": 2,\n  \"workers\": 4,\n  \"hosts\": 1,\n"
        "  \"model\": \"m \\\"x\\\".cfg\",\n  \"params\": 25450,\n  \"epochs\": 1,\n"
        "  \"steps\": 40,\n  \"batch\": 64,\n  \"global_batch\": 256,\n"
        "  \"train_samples_per_s\": 12345.679,\n  \"test_accuracy\": 0.500000,\n"
        "  \"final_loss\": 0.12345679,\n  \"seconds\": 1.500000,\n"
        "  \"train_seconds\": 1.250000000,\n  \"replicated_bytes_total\": 0,\n"
        "  \"broadcast_bytes\": 101800,\n  \"allreduce_bytes_per_step\": 101808,\n"
        "  \"grad_compress\": \"bf16\",\n  \"bucket_kb\": 64,\n  \"overlap\": 1,\n"
        "  \"comm_seconds\": 0.001000,\n  \"gil_wait_seconds\": 0.000000,\n"
        "  \"gil_held_seconds\": 0.000000,\n"
        "  \"replicate_seconds\": 0.000000,\n  \"scatter_seconds\": 0.000000,\n"
        "  \"compute_seconds\": 0.000000,\n  \"gather_seconds\": 0.000000,\n"
        "  \"optimizer_seconds\": 0.250000,\n  \"optimizer_state_bytes\": 101800,\n"
        "  \"blas\": \"B\\u00091\",\n"
        "  \"rank_compute_seconds\": [1.500000, 0.250000],\n"
        "  \"rank_comm_seconds\": [0.001000, 0.002000],\n"
        "  \"rank_wait_seconds\": [0.000500, 0.000000]\n}\n";
    char *got = slurp(path);
    CHECK_MSG(got != NULL && strcmp(got, want) == 0, "got\n%s\nwant\n%s", got ? got : "", want);
}

int main(void) {
    char dir[] = "/tmp/tdp-test-json-XXXXXX", path[64];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/out.json", dir);
    test_layouts();
    test_misuse();
    test_trace(path);
    test_summary(path);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
