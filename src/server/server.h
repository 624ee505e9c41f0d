/* The state of one mcd process. */
#ifndef MC_SERVER_SERVER_H
#define MC_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "core/fleet.h"
#include "lib/id.h"
#include "lib/sign.h"
#include "store/store.h"

struct hub;
struct worker;
struct cluster;

struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    struct store *store;
    struct event *sigint, *sigterm;
    struct event *sweeper;
    struct hub *hub;
    struct worker *worker;
    struct cluster *cluster;
    char instance_id[ID_LEN + 1];
    struct event *stopper;
    struct sign_key *key;
    struct fleet_config fleet;
    bool secure_cookies;
    bool stopping;
    int deferred; /* follow-ups of answered requests not yet run */
    int64_t started_ms;
    /* Counters for /metrics: written on the loop, read on the worker. */
    _Atomic uint64_t requests[6]; /* by status class 1xx..5xx; [0] other */
    _Atomic uint64_t deploys;
    _Atomic uint64_t commands_pushed;
    _Atomic uint64_t streams_open;
};

#endif
