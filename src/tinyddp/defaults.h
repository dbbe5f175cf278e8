/* defaults.h: where the programs find the files shipped in the models folder (the default model
 * models/fashion-mlp.cfg, the interpreter lock's calibration models/gil-default.cal). */
#ifndef TDP_DEFAULTS_H
#define TDP_DEFAULTS_H

#include <stddef.h>

/* A default file of the models folder, `rel` ("models/NAME"): `path` (holding rel) if it can be
 * read from the working directory, else where an install puts it (PREFIX/share/tinyddp/models
 * beside PREFIX/bin), else next to the program, else in the source tree the library was built
 * from. The first that exists wins and is copied into path; none: path is left as it is, so
 * that its open fails with its name. */
void defaults_find(char *path, size_t len, const char *rel);

#endif
