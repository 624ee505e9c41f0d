/*
 * The error convention of the server's layers: a status (an HTTP status, so
 * the edge needs no mapping table), a stable UPPER_SNAKE code, a message for
 * humans and, for validation errors, the body field at fault.
 */
#ifndef MC_ERR_H
#define MC_ERR_H

enum err_status {
    ERR_OK = 0,
    ERR_INVALID = 400,
    ERR_UNAUTHORIZED = 401,
    ERR_FORBIDDEN = 403,
    ERR_NOT_FOUND = 404,
    ERR_CONFLICT = 409,
    ERR_UNPROCESSABLE = 422,
    ERR_INTERNAL = 500,
    ERR_UNAVAILABLE = 503,
};

struct err {
    enum err_status status;
    char code[40];
    char field[64];
    char message[256];
};

/* Fills e (when not NULL) and returns status, so `return err_set(...)`. */
int err_set(struct err *e, enum err_status status, const char *code,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Like err_set, naming the body field at fault. */
int err_field(struct err *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void err_clear(struct err *e);

#endif
