/* keygen: a new random key passphrase in a file of mode 0600 (io/key.h;
 * docs/backup-restore.md). */
#ifndef GD_COMMAND_KEYGEN_H
#define GD_COMMAND_KEYGEN_H

#include "common/error.h"

/* Writes the passphrase to path, which must not exist. */
int gd_command_keygen(const char *path, gd_err *err);

#endif
