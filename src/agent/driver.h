/*
 * How mc-agent applies an update: a driver replaces what runs on the node
 * (the docker driver: the POS container; the exec driver: a command) and
 * puts the previous state back when the new one fails.
 */
#ifndef MC_AGENT_DRIVER_H
#define MC_AGENT_DRIVER_H

#include <stddef.h>

struct agent_update {
    const char *command_id;
    const char *version;      /* the release's SemVer */
    const char *image_tag;    /* as in the command: bare tag or reference */
    const char *image_ref;    /* the full reference to pull (tag joined) */
    const char *image_digest; /* "sha256:..." or NULL */
};

struct driver_settings {
    const char *state_dir;     /* where a driver keeps its half-done marker */
    const char *docker_socket; /* docker: Engine API unix socket */
    const char *container;     /* docker: the POS container's name */
    const char *image_repo;    /* docker: joined to bare tags */
    const char *health_url;    /* docker: optional HTTP probe */
    int health_timeout_s;      /* docker: how long to wait for healthy */
    int settle_s;              /* docker: "still running" after this long */
    const char *exec_command;  /* exec: run through /bin/sh -c */
    int exec_timeout_s;        /* exec: killed after this long */
};

struct driver;

struct driver_ops {
    const char *name;
    /* Applies u. 0 when the new version runs and is healthy; otherwise the
     * previous state is back and msg says why (one line). */
    int (*apply)(struct driver *d, const struct agent_update *u, char *msg,
                 size_t msglen);
    /* At start: finishes or rolls back an update that a crash interrupted.
     * Returns 0 when nothing was pending or the node is whole again; writes
     * into *command_id (when one was pending) the id to report on, and
     * *succeeded whether the interrupted update ended applied. */
    int (*recover)(struct driver *d, char *command_id, size_t idlen,
                   int *succeeded, char *msg, size_t msglen);
    void (*free)(struct driver *d);
};

struct driver {
    const struct driver_ops *ops;
    const struct driver_settings *settings;
};

/* The driver named name ("docker" or "exec"), or NULL with msg set. */
struct driver *driver_new(const char *name, const struct driver_settings *s,
                          char *msg, size_t msglen);

struct driver *driver_exec_new(const struct driver_settings *s, char *msg,
                               size_t msglen);
struct driver *driver_docker_new(const struct driver_settings *s, char *msg,
                                 size_t msglen);

#endif
