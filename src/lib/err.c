#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_message(struct err *e, const char *fmt, va_list ap)
{
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

int err_set(struct err *e, enum err_status status, const char *code,
            const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return status;
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    e->field[0] = '\0';
    va_start(ap, fmt);
    set_message(e, fmt, ap);
    va_end(ap);
    return status;
}

int err_field(struct err *e, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return ERR_INVALID;
    e->status = ERR_INVALID;
    snprintf(e->code, sizeof(e->code), "%s", "VALIDATION_ERROR");
    snprintf(e->field, sizeof(e->field), "%s", field);
    va_start(ap, fmt);
    set_message(e, fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

void err_clear(struct err *e)
{
    memset(e, 0, sizeof(*e));
}
