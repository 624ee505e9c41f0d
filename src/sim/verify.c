/*
 * Signature checks off the loop. The simulator plays thousands of agents on
 * the server's own machine: a real agent checks its one command on its own
 * CPU, but here ten thousand checks (about 50 µs each) would take a core
 * from the server while the fleet is still reading its commands. They run
 * on a thread at idle priority instead, in the order the commands came, so
 * every command is still checked before it is acted on.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/sign.h"
#include "lib/xalloc.h"
#include "sim/sim.h"

struct verify_item {
    struct sim_agent *agent;
    char *data;
    int64_t at;
    json_t *cmd; /* parsed, or NULL when the data is not JSON */
    bool signed_ok;
    struct verify_item *next;
};

struct verify_list {
    struct verify_item *head, *tail;
};

struct verifier {
    struct sim *sim;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct verify_list todo, done; /* guarded by mu */
    bool stop;                     /* guarded by mu */
    int wake_fd;                   /* eventfd: done has items */
    struct event *wake;
    verify_cb cb;
};

static void list_push(struct verify_list *l, struct verify_item *it)
{
    it->next = NULL;
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
}

static struct verify_item *list_take(struct verify_list *l)
{
    struct verify_item *all = l->head;

    l->head = l->tail = NULL;
    return all;
}

static void item_free(struct verify_item *it)
{
    json_decref(it->cmd);
    free(it->data);
    free(it);
}

static void check(struct verify_item *it)
{
    const char *sig;
    json_t *payload;

    it->cmd = json_loads(it->data, 0, NULL);
    if (!json_is_object(it->cmd))
        return;
    sig = json_string_value(json_object_get(it->cmd, "signature"));
    payload = json_copy(it->cmd);
    json_object_del(payload, "signature");
    it->signed_ok = sign_verify(it->agent->server_key, payload, sig);
    json_decref(payload);
}

static void *verify_main(void *arg)
{
    struct verifier *v = arg;
    struct sched_param idle = {0};
    const uint64_t one = 1;

    /* Best effort: without it the checks merely compete as before. */
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    pthread_mutex_lock(&v->mu);
    while (!v->stop) {
        struct verify_item *it = list_take(&v->todo);

        if (!it) {
            pthread_cond_wait(&v->cv, &v->mu);
            continue;
        }
        pthread_mutex_unlock(&v->mu);
        for (struct verify_item *next; it; it = next) {
            next = it->next;
            check(it);
            pthread_mutex_lock(&v->mu);
            if (!v->done.head &&
                write(v->wake_fd, &one, sizeof(one)) != sizeof(one))
                abort();
            list_push(&v->done, it);
            pthread_mutex_unlock(&v->mu);
        }
        pthread_mutex_lock(&v->mu);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

/* On the loop: hands the checked commands on, oldest first. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct verifier *v = arg;
    struct verify_item *it;
    uint64_t n;

    (void)what;
    pthread_mutex_lock(&v->mu);
    if (read(fd, &n, sizeof(n)) < 0)
        n = 0; /* nothing to read: another wake-up took it */
    it = list_take(&v->done);
    pthread_mutex_unlock(&v->mu);
    for (struct verify_item *next; it; it = next) {
        next = it->next;
        v->cb(it->agent, it->cmd, it->signed_ok, it->at);
        item_free(it);
    }
}

struct verifier *verifier_new(struct sim *s, verify_cb cb)
{
    struct verifier *v = xcalloc(1, sizeof(*v));

    v->sim = s;
    v->cb = cb;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    v->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (v->wake_fd < 0 || pthread_create(&v->thread, NULL, verify_main, v))
        abort();
    v->wake = event_new(s->base, v->wake_fd, EV_READ | EV_PERSIST, on_wake, v);
    event_priority_set(v->wake, SIM_PRIORITY_WORK);
    event_add(v->wake, NULL);
    return v;
}

void verifier_submit(struct verifier *v, struct sim_agent *a, const char *data,
                     int64_t at)
{
    struct verify_item *it = xcalloc(1, sizeof(*it));

    it->agent = a;
    it->data = xstrdup(data);
    it->at = at;
    pthread_mutex_lock(&v->mu);
    list_push(&v->todo, it);
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
}

void verifier_free(struct verifier *v)
{
    struct verify_item *it, *next;

    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    v->stop = true;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    pthread_join(v->thread, NULL);
    for (it = list_take(&v->todo); it; it = next) {
        next = it->next;
        item_free(it);
    }
    for (it = list_take(&v->done); it; it = next) {
        next = it->next;
        item_free(it);
    }
    event_free(v->wake);
    close(v->wake_fd);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v);
}
