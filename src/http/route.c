/*
 * route.c — matching a method and path against the route table.
 *
 * Patterns are compared segment by segment; "{name}" captures one non-empty
 * segment into the request's path parameters. The table is small (tens of
 * entries), so a linear scan is both simplest and fast.
 */
#include "http/internal.h"

#include <string.h>

/* Does `path` match `pattern`? Captures go into r when r is non-NULL. */
static bool match(const char *pattern, const char *path, struct req *r)
{
    const char *p = pattern, *u = path;
    size_t n = 0;
    while (*p && *u) {
        if (*p != '/' || *u != '/')
            return false;
        p++;
        u++;
        size_t pl = strcspn(p, "/");
        size_t ul = strcspn(u, "/");
        if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
            if (ul == 0 || n >= REQ_MAX_PARAMS)
                return false;
            if (r) {
                r->param_names[n] = arena_strndup(r->arena, p + 1, pl - 2);
                r->param_values[n] = arena_strndup(r->arena, u, ul);
            }
            n++;
        } else if (pl != ul || memcmp(p, u, pl) != 0) {
            return false;
        }
        p += pl;
        u += ul;
    }
    if (*p || *u)
        return false;
    if (r)
        r->nparams = n;
    return true;
}

/* Does this listener serve the route? */
static bool visible(const struct route *rt, const struct route_view *v)
{
    return !(rt->flags & v->hide) && (!v->only || (rt->flags & v->only));
}

size_t route_match(const struct route *routes, size_t n, const struct route_view *view,
                   const char *method, const char *path, struct req *r, const char **allow,
                   const struct http_family **family)
{
    *allow = NULL;
    for (size_t i = 0; i < n; i++)
        if (visible(&routes[i], view) && strcmp(routes[i].method, method) == 0 &&
            match(routes[i].pattern, path, NULL)) {
            match(routes[i].pattern, path, r);
            return i;
        }
    /* collect the methods that the path does take, for 405 + Allow */
    char *list = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!visible(&routes[i], view) || !match(routes[i].pattern, path, NULL))
            continue;
        if (!list)
            *family = routes[i].family; /* the path's API answers its 405 */
        if (list && strstr(list, routes[i].method))
            continue;
        /* a path that takes GET takes HEAD too */
        const char *m = strcmp(routes[i].method, "GET") == 0 ? "GET, HEAD" : routes[i].method;
        list = list ? arena_printf(r->arena, "%s, %s", list, m) : arena_strdup(r->arena, m);
    }
    *allow = list;
    return SIZE_MAX;
}
