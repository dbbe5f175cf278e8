/* hyper.h: the training modes, and the defaults and ranges of the training values, shared by
 * the command line (ddp_train's options) and the model file (cfg.c). */
#ifndef TDP_HYPER_H
#define TDP_HYPER_H

typedef enum { MODE_SERIAL = 0, MODE_DP = 1, MODE_DDP = 2 } train_mode_t;

/* Built-in defaults, used where neither the command line nor the model file sets a value. */
#define OPT_DEFAULT_EPOCHS       10
#define OPT_DEFAULT_BATCH        64
#define OPT_DEFAULT_LR           0.02
#define OPT_DEFAULT_MOMENTUM     0.9
#define OPT_DEFAULT_WEIGHT_DECAY 0.0005
#define OPT_DEFAULT_SEED         42
#define OPT_DEFAULT_DATA_DIR     "/usr/share/datasets/fashion-mnist"
#define OPT_DEFAULT_MODEL        "models/fashion-mlp.cfg"
#define OPT_DEFAULT_GILCAL       "models/gil-default.cal" /* --gil-calibration */
/* The ranges of the training values, on the command line and in the model file (cfg.c). */
#define OPT_MAX_BATCH         65536
#define OPT_MAX_EPOCHS        1000000
#define OPT_MIN_LR            1e-12
#define OPT_MAX_LR            1e6
#define OPT_MAX_MOMENTUM      0.999999
#define OPT_MAX_WEIGHT_DECAY  1e6
#define OPT_MAX_WORKERS       1024
#define OPT_DEFAULT_BUCKET_KB 256

#endif
