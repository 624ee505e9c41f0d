/*
 * Status reports to the server: POST /api/fleet/commands/{id}/status.
 * A network error or a 5xx is retried a few times with back-off; a 4xx is
 * the server's final word.
 */
#ifndef MC_AGENT_REPORT_H
#define MC_AGENT_REPORT_H

#include <curl/curl.h>

enum report_result {
    REPORT_OK,          /* 200: the command has that status now */
    REPORT_CONFLICT,    /* 409: the command moved on without us */
    REPORT_REFUSED,     /* another 4xx: not ours, or not a valid report */
    REPORT_UNREACHABLE, /* no answer, or 5xx, after every attempt */
    REPORT_STOPPED,     /* the agent is stopping */
};

struct report_client {
    const char *server;         /* base URL, no trailing slash */
    struct curl_slist *headers; /* Authorization and Content-Type */
    const char *ca_file;        /* or NULL for the system's */
    int stop_fd;
    int attempts;
    CURL *curl; /* owned, or NULL; the reports of a command share it */
};

/* Sends status (and message, may be NULL) for command_id. */
enum report_result report_send(struct report_client *r, const char *command_id,
                               const char *status, const char *message);

/* Closes the connection and frees the handle; the next report makes new
 * ones. The client stays usable. */
void report_client_release(struct report_client *r);

#endif
