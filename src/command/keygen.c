#include "command/keygen.h"

#include "io/key.h"

int gd_command_keygen(const char *path, gd_err *err)
{
    return gd_keygen_file(path, err);
}
