/* cfg.h: model description files (models/NAME.cfg), darknet-style INI text.
 *
 *     # comment (also ';'), blank lines ignored, whitespace around names and values ignored
 *     [net]
 *     input = 784          ; required, 1..CFG_MAX_UNITS
 *     output = 10          ; required, 2..CFG_MAX_UNITS: classes, must equal the last layer's units
 *     lr = 0.05            ; optional training defaults (options on the command line win),
 *                          ; in the command line's ranges (hyper.h: OPT_MIN_LR ...)
 *     momentum = 0.9
 *     weight_decay = 0.0005
 *     batch = 64
 *     epochs = 10
 *     [dense]
 *     units = 256          ; required, 1..CFG_MAX_UNITS
 *     activation = relu    ; relu | none, default relu
 *     ...
 *
 * Numbers follow the command line's rule (argnum.h: decimal, the whole value, in range). A UTF-8
 * byte order mark at the start of the file is skipped. Sizes are inferred from the previous layer.
 * The last [dense] must have activation = none and units = output. Errors (unknown section or key,
 * missing '=', duplicate key, non-numeric or out-of-range value, missing [net] or required key, no
 * layers, too many layers) are TDP_EINPUT naming "file:line: problem". */
#ifndef TDP_CFG_H
#define TDP_CFG_H

#include <stddef.h>

#include "util.h"

#define CFG_MAX_LAYERS 16
#define CFG_MAX_UNITS  65536

typedef enum { ACT_NONE = 0, ACT_RELU = 1 } activation_t;

typedef struct {
    int units;
    activation_t act;
} cfg_layer_t;

typedef struct {
    int input;   /* features in */
    int output;  /* classes */
    int nlayers; /* dense layers */
    cfg_layer_t layers[CFG_MAX_LAYERS];
    /* optional training defaults; has_* says whether the file set them */
    int has_lr, has_momentum, has_weight_decay, has_batch, has_epochs;
    double lr, momentum, weight_decay;
    int batch, epochs;
} model_cfg_t;

/* Parse the file at `path`. */
int cfg_load(const char *path, model_cfg_t *out, tdp_err_t *err);
/* Parse text of length len (need not be NUL-terminated); `name` is used in messages. */
int cfg_parse(const char *text, size_t len, const char *name, model_cfg_t *out, tdp_err_t *err);
/* "784-256-128-10" style shape string into buf. */
void cfg_shape_string(const model_cfg_t *m, char *buf, size_t len);

#endif
