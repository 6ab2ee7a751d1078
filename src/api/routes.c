/*
 * routes.c — every endpoint chatpay serves, as data.
 */
#include "api/api.h"

const struct route api_routes[] = {
    /* Chat 2 Pay API v2 */
    {"GET", "/api/v2/config", api_config_get, AUTH_API_KEY, 0, 0},
    {"PUT", "/api/v2/integration", api_integration_put, AUTH_API_KEY, ROUTE_JSON_BODY, 0},

    /* operations */
    {"GET", "/livez", api_livez, AUTH_NONE, 0, 0},
    {"GET", "/readyz", api_readyz, AUTH_NONE, 0, 0},
    {"GET", "/metrics", api_metrics, AUTH_NONE, 0, 0},
    {"GET", "/openapi.json", api_openapi, AUTH_NONE, 0, 0},
    {"GET", "/", api_index, AUTH_NONE, 0, 0},
};

const size_t api_route_count = sizeof api_routes / sizeof api_routes[0];
