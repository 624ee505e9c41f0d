/* The web dashboard's static files. */
#include "server/http.h"

const struct route routes_web[] = {
    {0, NULL, 0, 0, NULL},
};
