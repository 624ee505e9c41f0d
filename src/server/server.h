/* The state of one mcd process. */
#ifndef MC_SERVER_SERVER_H
#define MC_SERVER_SERVER_H

#include <stdbool.h>

#include <event2/event.h>
#include <event2/http.h>

#include "store/store.h"

struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    struct store *store;
    struct event *sigint, *sigterm;
    bool secure_cookies;
    bool stopping;
};

#endif
