#include "agent/driver.h"

#include <stdio.h>
#include <string.h>

struct driver *driver_new(const char *name, const struct driver_settings *s,
                          char *msg, size_t msglen)
{
    if (name && strcmp(name, "exec") == 0)
        return driver_exec_new(s, msg, msglen);
    if (name && strcmp(name, "docker") == 0)
        return driver_docker_new(s, msg, msglen);
    snprintf(msg, msglen, "unknown driver \"%s\": expected docker or exec",
             name ? name : "");
    return NULL;
}
